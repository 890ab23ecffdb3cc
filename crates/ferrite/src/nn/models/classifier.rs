//! The course's image classifier: blocks of Conv → BatchNorm → ReLU → MaxPool stacked, then a
//! fully connected head, described by a builder.

use super::{trunk_module, Trunk};
use crate::error::{FerriteError, Result};
use crate::nn::{
    BatchNorm2d, Conv2d, Conv2dOptions, Dropout, Flatten, Linear, MaxPool2d, Padding, ReLU,
    Sequential,
};
use crate::Tensor;

/// One convolutional block: a `kernel`x`kernel` convolution with `'same'` padding to
/// `out_channels`, optional batch norm, ReLU, then optional 2x2 max pooling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvBlock {
    /// Output channels of the convolution.
    pub out_channels: usize,
    /// Square kernel size.
    pub kernel: usize,
    /// Insert `BatchNorm2d` after the convolution (the convolution then has no bias).
    pub batch_norm: bool,
    /// Halve the image with 2x2 max pooling at the end of the block.
    pub pool: bool,
}

/// Describes an [`ImageClassifier`] block by block.
///
/// ```
/// use ferrite::nn::models::ImageClassifier;
/// use ferrite::nn::Module;
/// use ferrite::Tensor;
/// ferrite::manual_seed(0);
/// let net = ImageClassifier::builder(3, (32, 32))
///     .conv_block(16, 3) // Conv 3x3 → BN → ReLU → MaxPool 2: 16x16x16
///     .conv_block(32, 3) // → 32x8x8
///     .hidden(64)
///     .dropout(0.5)
///     .build(10)
///     .unwrap();
/// assert_eq!(net.forward(&Tensor::randn([4, 3, 32, 32])).dims(), &[4, 10]);
/// assert_eq!(net.flat_features(), 32 * 8 * 8);
/// assert!(ImageClassifier::builder(3, (32, 32)).build(10).is_err());
/// ```
#[derive(Clone, Debug)]
pub struct ImageClassifierBuilder {
    in_channels: usize,
    image_size: [usize; 2],
    blocks: Vec<ConvBlock>,
    hidden: Vec<usize>,
    dropout: Option<f32>,
}

impl ImageClassifierBuilder {
    /// Adds a Conv(`kernel`, same) → BatchNorm → ReLU → MaxPool(2) block.
    pub fn conv_block(self, out_channels: usize, kernel: usize) -> Self {
        self.block(ConvBlock {
            out_channels,
            kernel,
            batch_norm: true,
            pool: true,
        })
    }

    /// Adds a block with every choice spelled out.
    pub fn block(mut self, block: ConvBlock) -> Self {
        self.blocks.push(block);
        self
    }

    /// Adds a hidden Linear → ReLU layer of `units` to the head (in order).
    pub fn hidden(mut self, units: usize) -> Self {
        self.hidden.push(units);
        self
    }

    /// Dropout with probability `p` before every linear layer of the head.
    pub fn dropout(mut self, p: f32) -> Self {
        self.dropout = Some(p);
        self
    }

    /// Builds the model with `num_classes` outputs. An empty list of blocks, zero sizes, a
    /// pooling that would shrink the image below 1 pixel, or a bad dropout are errors.
    pub fn build(self, num_classes: usize) -> Result<ImageClassifier> {
        if self.blocks.is_empty() {
            return Err(FerriteError::invalid(
                "blocks",
                "an image classifier needs at least one convolutional block",
            ));
        }
        if num_classes == 0 || self.hidden.contains(&0) {
            return Err(FerriteError::invalid(
                "units",
                "classes and hidden layers need at least one unit",
            ));
        }
        let [mut h, mut w] = self.image_size;
        let mut channels = self.in_channels;
        let mut features = Sequential::new();
        for (i, b) in self.blocks.iter().enumerate() {
            // Batch norm's shift makes a bias before it redundant.
            let options = Conv2dOptions::new()
                .padding(Padding::Same)
                .bias(!b.batch_norm);
            features = features.add(Conv2d::with_options(
                channels,
                b.out_channels,
                b.kernel,
                options,
            )?);
            if b.batch_norm {
                features = features.add(BatchNorm2d::new(b.out_channels)?);
            }
            features = features.add(ReLU);
            if b.pool {
                if h < 2 || w < 2 {
                    return Err(FerriteError::invalid(
                        "blocks",
                        format!("block {i} pools a {h}x{w} image; use fewer pooling blocks or larger images"),
                    ));
                }
                features = features.add(MaxPool2d::new(2)?);
                (h, w) = (h / 2, w / 2);
            }
            channels = b.out_channels;
        }
        let flat = channels * h * w;
        let mut classifier = Sequential::new().add(Flatten::new());
        let mut width = flat;
        // Hidden layers are Linear → ReLU; the last layer gives the class scores (logits).
        let layers = self
            .hidden
            .iter()
            .map(|&u| (u, true))
            .chain(std::iter::once((num_classes, false)));
        for (units, relu) in layers {
            if let Some(p) = self.dropout {
                classifier = classifier.add(Dropout::new(p)?);
            }
            classifier = classifier.add(Linear::new(width, units)?);
            if relu {
                classifier = classifier.add(ReLU);
            }
            width = units;
        }
        Ok(ImageClassifier {
            trunk: Trunk {
                features,
                classifier,
            },
            flat_features: flat,
        })
    }
}

/// Convolutional blocks, then a fully connected head (see [`ImageClassifierBuilder`]).
///
/// # Shape
///
/// - Input: `(N, in_channels, H, W)` with `(H, W)` the builder's `image_size` (the head's
///   width is fixed by it).
/// - Output: `(N, num_classes)`, the class scores (logits).
pub struct ImageClassifier {
    pub(crate) trunk: Trunk,
    flat_features: usize,
}

impl ImageClassifier {
    /// Starts describing a classifier of `in_channels` x `image_size` images.
    pub fn builder(in_channels: usize, image_size: (usize, usize)) -> ImageClassifierBuilder {
        ImageClassifierBuilder {
            in_channels,
            image_size: [image_size.0, image_size.1],
            blocks: Vec::new(),
            hidden: Vec::new(),
            dropout: None,
        }
    }

    /// The number of features the head receives (channels × height × width after the blocks).
    pub fn flat_features(&self) -> usize {
        self.flat_features
    }

    /// The convolutional blocks as one chain.
    pub fn features(&self) -> &Sequential {
        &self.trunk.features
    }

    /// The fully connected head.
    pub fn classifier(&self) -> &Sequential {
        &self.trunk.classifier
    }

    /// Every layer's output for `x`, named `features.i` / `classifier.j` (for feature maps).
    pub fn activations(&self, x: &Tensor) -> Vec<(String, Tensor)> {
        self.trunk.activations(x)
    }
}

trunk_module!(ImageClassifier);
