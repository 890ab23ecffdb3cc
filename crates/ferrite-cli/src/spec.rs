//! Model architectures the command line can build, described in the model card's JSON so that
//! `evaluate` and `predict` rebuild exactly the model that was trained.

use ferrite::nn::models::{ImageClassifier, LeNet5, LeNetVariant};
use ferrite::nn::{CellActivation, Linear, Module, ReLU, RecurrentConfig, Sequential, LSTM};
use ferrite::Tensor;
use serde::{Deserialize, Serialize};

/// An architecture, serialised under `"architecture"` in `model.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ModelSpec {
    /// Linear layers with ReLU between them (no hidden layer: a linear or logistic model).
    Mlp {
        /// Input features.
        inputs: usize,
        /// Hidden layer widths.
        hidden: Vec<usize>,
        /// Output units.
        outputs: usize,
    },
    /// LeNet-5 on 1×32×32 images.
    LeNet5 {
        /// Output classes.
        classes: usize,
    },
    /// Conv-BN-ReLU-Pool blocks then a Linear head.
    ConvBlocks {
        /// Input channels.
        in_channels: usize,
        /// Image height and width.
        image: usize,
        /// Output channels of each block (3×3 kernels).
        channels: Vec<usize>,
        /// Width of the hidden Linear layer of the head.
        hidden: usize,
        /// Output classes.
        classes: usize,
        /// Dropout probability before each Linear layer of the head (none in runs saved
        /// before it existed).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dropout: Option<f32>,
    },
    /// An LSTM over a window of a series, then Linear(hidden, 1) on the last hidden state.
    LstmForecaster {
        /// Features per time step.
        inputs: usize,
        /// Hidden units.
        hidden: usize,
        /// `tanh` (PyTorch's) or `relu` (the course's Keras model).
        activation: String,
    },
}

/// LSTM then a Linear head on the last time step: the course's `LSTM(50) + Dense(1)`.
pub struct LstmForecaster {
    lstm: LSTM,
    head: Linear,
}

impl Module for LstmForecaster {
    fn forward(&self, x: &Tensor) -> Tensor {
        let (output, _) = self.lstm.forward_with_state(x, None);
        let steps = output.dims()[1];
        self.head
            .forward(&output.narrow(1, steps - 1, 1).squeeze(1))
    }
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        let mut p: Vec<(String, Tensor)> = self
            .lstm
            .named_parameters()
            .into_iter()
            .map(|(n, t)| (format!("lstm.{n}"), t))
            .collect();
        p.extend(
            self.head
                .named_parameters()
                .into_iter()
                .map(|(n, t)| (format!("head.{n}"), t)),
        );
        p
    }
    fn set_training(&mut self, training: bool) {
        self.lstm.set_training(training);
        self.head.set_training(training);
    }
    fn is_training(&self) -> bool {
        self.lstm.is_training()
    }
}

impl ModelSpec {
    /// Builds the model with freshly initialised parameters (from the global seed).
    /// The model itself, with fresh weights. A network whose training would not fit in this
    /// machine's memory is refused before anything is allocated.
    pub fn build(&self) -> anyhow::Result<Box<dyn Module>> {
        Ok(match self {
            ModelSpec::Mlp {
                inputs,
                hidden,
                outputs,
            } => {
                check_mlp_fits(*inputs, hidden, *outputs, ferrite::data::available_memory())?;
                let mut net = Sequential::new();
                let mut width = *inputs;
                for &h in hidden {
                    net = net.add(Linear::new(width, h)?).add(ReLU);
                    width = h;
                }
                Box::new(net.add(Linear::new(width, *outputs)?))
            }
            ModelSpec::LeNet5 { classes } => {
                Box::new(LeNet5::with_variant(*classes, LeNetVariant::default())?)
            }
            ModelSpec::ConvBlocks {
                in_channels,
                image,
                channels,
                hidden,
                classes,
                dropout,
            } => {
                let mut b = ImageClassifier::builder(*in_channels, (*image, *image));
                for &c in channels {
                    b = b.conv_block(c, 3);
                }
                if let Some(p) = dropout {
                    b = b.dropout(*p);
                }
                Box::new(b.hidden(*hidden).build(*classes)?)
            }
            ModelSpec::LstmForecaster {
                inputs,
                hidden,
                activation,
            } => {
                let act = match activation.as_str() {
                    "tanh" => CellActivation::Tanh,
                    "relu" => CellActivation::Relu,
                    other => anyhow::bail!("unknown LSTM activation '{other}' (use tanh or relu)"),
                };
                let config = RecurrentConfig::new(*inputs, *hidden).batch_first(true);
                Box::new(LstmForecaster {
                    lstm: LSTM::with_activation(config, act)?,
                    head: Linear::new(*hidden, 1)?,
                })
            }
        })
    }

    /// The JSON form stored in the model card.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    /// Reads the architecture back from a model card.
    pub fn from_json(value: &serde_json::Value) -> anyhow::Result<ModelSpec> {
        serde_json::from_value(value.clone()).map_err(|e| {
            anyhow::anyhow!("model.json: the architecture is not one this ferrite knows: {e}")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_round_trip_and_build_with_pytorch_names() {
        let spec = ModelSpec::Mlp {
            inputs: 4,
            hidden: vec![8],
            outputs: 3,
        };
        let back = ModelSpec::from_json(&spec.to_json()).unwrap();
        assert_eq!(back, spec);
        let model = back.build().unwrap();
        let names: Vec<String> = model
            .named_parameters()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(names, ["0.weight", "0.bias", "2.weight", "2.bias"]);
        assert_eq!(model.forward(&Tensor::zeros([5, 4])).dims(), &[5, 3]);
        let lstm = ModelSpec::LstmForecaster {
            inputs: 1,
            hidden: 6,
            activation: "tanh".into(),
        }
        .build()
        .unwrap();
        assert_eq!(lstm.forward(&Tensor::zeros([2, 5, 1])).dims(), &[2, 1]);
        assert!(lstm
            .named_parameters()
            .iter()
            .any(|(n, _)| n == "lstm.weight_ih_l0"));
    }
}

/// Refuses an MLP whose training needs more memory than `available` bytes: its parameters
/// live four times over (weights, gradients and two Adam moments), in f32.
fn check_mlp_fits(
    inputs: usize,
    hidden: &[usize],
    outputs: usize,
    available: Option<u64>,
) -> anyhow::Result<()> {
    let widths: Vec<usize> = std::iter::once(inputs)
        .chain(hidden.iter().copied())
        .chain(std::iter::once(outputs))
        .collect();
    let params = widths.windows(2).try_fold(0u64, |acc, w| {
        let layer = (w[0] as u64)
            .checked_mul(w[1] as u64)?
            .checked_add(w[1] as u64)?;
        acc.checked_add(layer)
    });
    let bytes = params.and_then(|p| p.checked_mul(4 * 4));
    let layers = hidden
        .iter()
        .map(|h| h.to_string())
        .collect::<Vec<_>>()
        .join(",");
    match (bytes, available) {
        (None, _) => anyhow::bail!(
            "--model mlp:{layers}: the network has more parameters than can be counted; use smaller layer widths"
        ),
        (Some(b), Some(free)) if b > free => anyhow::bail!(
            "--model mlp:{layers}: training needs about {:.1} GiB ({} parameters, four f32 copies each) but {:.1} GiB of memory is free; use smaller layer widths",
            b as f64 / (1u64 << 30) as f64,
            b / 16,
            free as f64 / (1u64 << 30) as f64
        ),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod memory_tests {
    use super::check_mlp_fits;

    #[test]
    fn networks_that_cannot_fit_are_refused_before_allocating() {
        // Once a panic deep in an allocation (mlp:18446744073709551615).
        let err = check_mlp_fits(6, &[usize::MAX], 1, Some(1 << 34)).unwrap_err();
        assert!(
            err.to_string()
                .contains("more parameters than can be counted"),
            "{err}"
        );
        // 1e9 hidden units on 6 inputs: 8e9 parameters, 128 GB, on a 16 GiB machine.
        let err = check_mlp_fits(6, &[1_000_000_000], 1, Some(1 << 34)).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("GiB") && text.contains("mlp:1000000000"),
            "{text}"
        );
        // The default network fits anywhere.
        check_mlp_fits(6, &[64, 32], 1, Some(1 << 30)).unwrap();
        check_mlp_fits(6, &[64, 32], 1, None).unwrap();
    }
}
