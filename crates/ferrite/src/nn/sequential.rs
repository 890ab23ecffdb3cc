//! `Sequential`: layers applied one after another, named `0`, `1`, ... as in PyTorch.

use super::summary::{summary, Summary};
use super::Module;
use crate::Tensor;

/// A chain of layers. Children are named by position, so parameters are `0.weight`,
/// `0.bias`, `2.weight`, ... exactly as PyTorch names them, and state dicts interchange.
///
/// ```
/// use ferrite::nn::{Linear, Module, ReLU, Sequential};
/// use ferrite::Tensor;
/// ferrite::manual_seed(0);
/// let mlp = Sequential::new()
///     .add(Linear::new(30, 64).unwrap())
///     .add(ReLU)
///     .add(Linear::new(64, 1).unwrap());
/// assert_eq!(mlp.forward(&Tensor::zeros([8, 30])).dims(), &[8, 1]);
/// assert_eq!(mlp.num_parameters(), 30 * 64 + 64 + 64 + 1);
/// assert_eq!(mlp.named_parameters()[2].0, "2.weight");
/// ```
///
/// A custom model is a plain struct implementing [`Module`]; its fields give the names:
///
/// ```
/// use ferrite::nn::{Linear, Module};
/// use ferrite::Tensor;
///
/// struct Net {
///     fc1: Linear,
///     fc2: Linear,
/// }
///
/// impl Module for Net {
///     fn forward(&self, x: &Tensor) -> Tensor {
///         self.fc2.forward(&self.fc1.forward(x).relu())
///     }
///     fn named_parameters(&self) -> Vec<(String, Tensor)> {
///         let mut p = Vec::new();
///         for (prefix, layer) in [("fc1", &self.fc1), ("fc2", &self.fc2)] {
///             for (name, t) in layer.named_parameters() {
///                 p.push((format!("{prefix}.{name}"), t));
///             }
///         }
///         p
///     }
///     fn named_children(&self) -> Vec<(String, &dyn Module)> {
///         vec![("fc1".into(), &self.fc1 as &dyn Module), ("fc2".into(), &self.fc2 as &dyn Module)]
///     }
/// }
///
/// let net = Net { fc1: Linear::new(4, 8).unwrap(), fc2: Linear::new(8, 2).unwrap() };
/// let names: Vec<String> = net.named_parameters().into_iter().map(|(n, _)| n).collect();
/// assert_eq!(names, ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]);
/// assert_eq!(net.forward(&Tensor::ones([3, 4])).dims(), &[3, 2]);
/// ```
pub struct Sequential {
    layers: Vec<Box<dyn Module>>,
    training: bool,
}

impl Sequential {
    /// An empty chain (the identity).
    pub fn new() -> Sequential {
        Sequential {
            layers: Vec::new(),
            training: true,
        }
    }

    /// Appends a layer (builder style).
    #[allow(clippy::should_implement_trait)]
    pub fn add(mut self, layer: impl Module + 'static) -> Sequential {
        self.push(Box::new(layer));
        self
    }

    /// Appends a boxed layer, which takes the chain's current mode.
    pub fn push(&mut self, mut layer: Box<dyn Module>) {
        layer.set_training(self.training);
        self.layers.push(layer);
    }

    /// The number of layers.
    pub fn len(&self) -> usize {
        self.layers.len()
    }

    /// True when there are no layers.
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }

    /// The layer at position `i`.
    pub fn layer(&self, i: usize) -> Option<&dyn Module> {
        self.layers.get(i).map(|l| l.as_ref())
    }

    /// Runs `x` through every layer, returning each layer's output in turn.
    pub fn forward_each(&self, x: &Tensor) -> Vec<Tensor> {
        let mut outs: Vec<Tensor> = Vec::with_capacity(self.layers.len());
        for layer in &self.layers {
            let out = layer.forward(outs.last().unwrap_or(x));
            outs.push(out);
        }
        outs
    }

    /// A Keras-style summary: each layer's output shape for an input of `input_dims`
    /// (batch included) and its parameter count, with totals.
    pub fn summary(&self, input_dims: &[usize]) -> Summary {
        summary(self, input_dims)
    }

    fn prefixed(
        &self,
        each: impl Fn(&dyn Module) -> Vec<(String, Tensor)>,
    ) -> Vec<(String, Tensor)> {
        self.layers
            .iter()
            .enumerate()
            .flat_map(|(i, l)| {
                each(l.as_ref())
                    .into_iter()
                    .map(move |(n, t)| (format!("{i}.{n}"), t))
            })
            .collect()
    }
}

impl Default for Sequential {
    fn default() -> Self {
        Sequential::new()
    }
}

impl Module for Sequential {
    fn forward(&self, x: &Tensor) -> Tensor {
        let mut out = x.clone();
        for layer in &self.layers {
            out = layer.forward(&out);
        }
        out
    }

    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        self.prefixed(|l| l.named_parameters())
    }

    fn named_buffers(&self) -> Vec<(String, Tensor)> {
        self.prefixed(|l| l.named_buffers())
    }

    fn state_dict(&self) -> super::StateDict {
        // Child by child, so each child's own ordering of parameters and buffers is kept.
        self.layers
            .iter()
            .enumerate()
            .flat_map(|(i, l)| {
                l.state_dict()
                    .into_iter()
                    .map(move |(n, t)| (format!("{i}.{n}"), t))
            })
            .collect()
    }

    fn set_training(&mut self, training: bool) {
        self.training = training;
        for layer in &mut self.layers {
            layer.set_training(training);
        }
    }

    fn is_training(&self) -> bool {
        self.training
    }

    fn named_children(&self) -> Vec<(String, &dyn Module)> {
        self.layers
            .iter()
            .enumerate()
            .map(|(i, l)| (i.to_string(), l.as_ref()))
            .collect()
    }

    fn runs_children_in_order(&self) -> bool {
        true
    }

    fn describe(&self) -> String {
        let mut s = String::from("Sequential(\n");
        for (i, l) in self.layers.iter().enumerate() {
            let inner = l.describe().replace('\n', "\n  ");
            s.push_str(&format!("  ({i}): {inner}\n"));
        }
        s.push(')');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::{Dropout, Linear, ReLU};

    #[test]
    fn forward_chains_layers_and_mode_propagates() {
        crate::manual_seed(5);
        let mut model = Sequential::new()
            .add(Linear::new(3, 4).unwrap())
            .add(ReLU)
            .add(Dropout::new(0.5).unwrap());
        let x = Tensor::randn([2, 3]);
        model.eval();
        assert!(!model.layer(2).unwrap().is_training());
        let manual = model
            .layer(1)
            .unwrap()
            .forward(&model.layer(0).unwrap().forward(&x));
        assert_eq!(model.forward(&x).to_vec(), manual.to_vec());
        model.train();
        assert!(model.layer(2).unwrap().is_training());
        assert_eq!(model.forward_each(&x).len(), 3);
    }

    #[test]
    fn names_and_repr_follow_pytorch() {
        let model = Sequential::new()
            .add(Linear::new(2, 2).unwrap())
            .add(ReLU)
            .add(Linear::new(2, 1).unwrap());
        let names: Vec<String> = model
            .named_parameters()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(names, ["0.weight", "0.bias", "2.weight", "2.bias"]);
        assert_eq!(
            model.describe(),
            "Sequential(\n  (0): Linear(in_features=2, out_features=2, bias=True)\n  (1): ReLU()\n  \
             (2): Linear(in_features=2, out_features=1, bias=True)\n)"
        );
    }
}
