//! LeNet-5 (LeCun et al., 1998) for 1x32x32 images: conv 6@5x5, pool, conv 16@5x5, pool,
//! 120, 84, classes.

use super::{trunk_module, Trunk};
use crate::error::{FerriteError, Result};
use crate::nn::{AvgPool2d, Conv2d, Flatten, Linear, MaxPool2d, ReLU, Sequential, Tanh};
use crate::Tensor;

/// The activation and pooling of a [`LeNet5`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LeNetVariant {
    /// ReLU and max pooling (what courses train today).
    #[default]
    ReluMaxPool,
    /// The 1998 original: tanh and average pooling.
    TanhAvgPool,
}

/// LeNet-5: `features` = conv(1→6, 5x5), act, pool 2, conv(6→16, 5x5), act, pool 2;
/// `classifier` = flatten, 400→120, act, 120→84, act, 84→classes.
///
/// # Shape
///
/// - Input: `(N, 1, 32, 32)`.
/// - Output: `(N, num_classes)`, the class scores (logits).
///
/// ```
/// use ferrite::nn::models::{LeNet5, LeNetVariant};
/// use ferrite::nn::Module;
/// use ferrite::Tensor;
/// ferrite::manual_seed(0);
/// let net = LeNet5::new(10).unwrap();
/// assert_eq!(net.forward(&Tensor::randn([2, 1, 32, 32])).dims(), &[2, 10]);
/// assert_eq!(net.num_parameters(), 61_706);
/// assert_eq!(net.named_parameters()[0].0, "features.0.weight");
/// let classic = LeNet5::with_variant(10, LeNetVariant::TanhAvgPool).unwrap();
/// assert!(LeNet5::new(0).is_err());
/// assert!(classic.describe().contains("AvgPool2d"));
/// ```
pub struct LeNet5 {
    pub(crate) trunk: Trunk,
    variant: LeNetVariant,
}

impl LeNet5 {
    /// The ReLU/max-pool LeNet-5 with `num_classes` outputs; zero classes is an error.
    pub fn new(num_classes: usize) -> Result<LeNet5> {
        Self::with_variant(num_classes, LeNetVariant::ReluMaxPool)
    }

    /// LeNet-5 with the chosen activation and pooling; zero classes is an error.
    pub fn with_variant(num_classes: usize, variant: LeNetVariant) -> Result<LeNet5> {
        if num_classes == 0 {
            return Err(FerriteError::invalid(
                "LeNet5 num_classes",
                "must be at least 1, got 0",
            ));
        }
        let (mut features, mut classifier) =
            (Sequential::new(), Sequential::new().add(Flatten::new()));
        for (i, o) in [(1, 6), (6, 16)] {
            features = features.add(Conv2d::new(i, o, 5)?);
            features = match variant {
                LeNetVariant::ReluMaxPool => features.add(ReLU).add(MaxPool2d::new(2)?),
                LeNetVariant::TanhAvgPool => features.add(Tanh).add(AvgPool2d::new(2)?),
            };
        }
        for (i, o) in [(400, 120), (120, 84)] {
            classifier = classifier.add(Linear::new(i, o)?);
            classifier = match variant {
                LeNetVariant::ReluMaxPool => classifier.add(ReLU),
                LeNetVariant::TanhAvgPool => classifier.add(Tanh),
            };
        }
        classifier = classifier.add(Linear::new(84, num_classes)?);
        Ok(LeNet5 {
            trunk: Trunk {
                features,
                classifier,
            },
            variant,
        })
    }

    /// The activation/pooling variant.
    pub fn variant(&self) -> LeNetVariant {
        self.variant
    }

    /// The convolutional part (layers `features.0` .. `features.5`).
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

trunk_module!(LeNet5);
