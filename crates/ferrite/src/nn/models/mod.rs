//! Ready-made convolutional models: [`LeNet5`], the course's [`ImageClassifier`] blocks, and
//! feature-map images of what their layers see.

mod classifier;
mod feature_maps;
mod lenet;

pub use classifier::{ConvBlock, ImageClassifier, ImageClassifierBuilder};
pub use feature_maps::{channel_sum_image, feature_map_grid, save_feature_maps, FeatureMapFiles};
pub use lenet::{LeNet5, LeNetVariant};

use super::Sequential;
use crate::Tensor;

/// A convolutional trunk `features` followed by a `classifier` head, both [`Sequential`], so
/// parameter names are `features.0.weight`, `classifier.1.bias`, ... as in torchvision.
pub(crate) struct Trunk {
    pub(crate) features: Sequential,
    pub(crate) classifier: Sequential,
}

impl Trunk {
    fn parts(&self) -> [(&str, &Sequential); 2] {
        [
            ("features", &self.features),
            ("classifier", &self.classifier),
        ]
    }

    fn prefixed(
        &self,
        each: impl Fn(&Sequential) -> Vec<(String, Tensor)>,
    ) -> Vec<(String, Tensor)> {
        self.parts()
            .into_iter()
            .flat_map(|(p, s)| {
                each(s)
                    .into_iter()
                    .map(move |(n, t)| (format!("{p}.{n}"), t))
            })
            .collect()
    }

    /// Every layer's output for `x`, named `features.i` / `classifier.j`, in order.
    fn activations(&self, x: &Tensor) -> Vec<(String, Tensor)> {
        let feats = self.features.forward_each(x);
        let head_in = feats.last().cloned().unwrap_or_else(|| x.clone());
        let head = self.classifier.forward_each(&head_in);
        let name = |p: &str, i: usize| format!("{p}.{i}");
        feats
            .into_iter()
            .enumerate()
            .map(|(i, t)| (name("features", i), t))
            .chain(
                head.into_iter()
                    .enumerate()
                    .map(|(i, t)| (name("classifier", i), t)),
            )
            .collect()
    }
}

/// Implements [`Module`] for a model holding a [`Trunk`] in field `trunk`.
macro_rules! trunk_module {
    ($ty:ty) => {
        impl $crate::nn::Module for $ty {
            fn forward(&self, x: &$crate::Tensor) -> $crate::Tensor {
                self.trunk
                    .classifier
                    .forward(&self.trunk.features.forward(x))
            }
            fn named_parameters(&self) -> Vec<(String, $crate::Tensor)> {
                self.trunk.prefixed(|s| s.named_parameters())
            }
            fn named_buffers(&self) -> Vec<(String, $crate::Tensor)> {
                self.trunk.prefixed(|s| s.named_buffers())
            }
            fn state_dict(&self) -> $crate::nn::StateDict {
                self.trunk
                    .prefixed(|s| s.state_dict().into_iter().collect())
                    .into_iter()
                    .collect::<$crate::nn::StateDict>()
            }
            fn set_training(&mut self, training: bool) {
                self.trunk.features.set_training(training);
                self.trunk.classifier.set_training(training);
            }
            fn is_training(&self) -> bool {
                self.trunk.features.is_training()
            }
            fn named_children(&self) -> Vec<(String, &dyn $crate::nn::Module)> {
                vec![
                    (
                        "features".to_string(),
                        &self.trunk.features as &dyn $crate::nn::Module,
                    ),
                    (
                        "classifier".to_string(),
                        &self.trunk.classifier as &dyn $crate::nn::Module,
                    ),
                ]
            }
            fn runs_children_in_order(&self) -> bool {
                true
            }
            fn describe(&self) -> String {
                let indent = |s: String| s.replace('\n', "\n  ");
                format!(
                    "{}(\n  (features): {}\n  (classifier): {}\n)",
                    stringify!($ty),
                    indent(self.trunk.features.describe()),
                    indent(self.trunk.classifier.describe())
                )
            }
        }
    };
}
pub(crate) use trunk_module;
