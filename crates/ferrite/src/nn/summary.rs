//! A Keras-style model summary: each layer, its output shape and its parameter count.

use super::Module;
use crate::Tensor;
use std::fmt;

/// One layer of a [`Summary`].
#[derive(Clone, Debug, PartialEq)]
pub struct SummaryRow {
    /// The child's name (`0`, `fc1`).
    pub name: String,
    /// The layer type (`Linear`, `ReLU`).
    pub layer: String,
    /// The output shape, when the model applies its children in order (otherwise unknown).
    pub output_shape: Option<Vec<usize>>,
    /// Parameters of this layer (all of its own and its children's).
    pub params: usize,
}

/// What Keras's `model.summary()` prints. `Display` renders the table.
///
/// ```
/// use ferrite::nn::{Linear, ReLU, Sequential};
/// ferrite::manual_seed(0);
/// let model = Sequential::new().add(Linear::new(30, 64).unwrap()).add(ReLU).add(Linear::new(64, 1).unwrap());
/// let s = model.summary(&[32, 30]);
/// assert_eq!(s.rows[0].output_shape, Some(vec![32, 64]));
/// assert_eq!(s.rows[2].params, 65);
/// assert_eq!(s.total_params, 2049);
/// assert!(s.to_string().contains("Total params: 2,049"));
/// ```
#[derive(Clone, Debug)]
pub struct Summary {
    /// The model's type.
    pub model: String,
    /// The input shape used.
    pub input_shape: Vec<usize>,
    /// One row per child (or one for a model without children).
    pub rows: Vec<SummaryRow>,
    /// The model's output shape for the input.
    pub output_shape: Vec<usize>,
    /// Every parameter and buffer scalar.
    pub total_params: usize,
    /// Scalars of parameters that require grad.
    pub trainable_params: usize,
    /// Buffers and frozen parameters.
    pub non_trainable_params: usize,
}

fn layer_type(m: &dyn Module) -> String {
    let d = m.describe();
    d.split('(').next().unwrap_or(&d).to_string()
}

/// Summarises `model` for an input of shape `input_dims` (batch included), running one
/// forward pass on zeros without recording a graph.
pub fn summary(model: &dyn Module, input_dims: &[usize]) -> Summary {
    let _guard = crate::no_grad();
    let x = Tensor::zeros(input_dims.to_vec());
    let children = model.named_children();
    let mut rows = Vec::new();
    let output_shape;
    if children.is_empty() {
        let y = model.forward(&x);
        output_shape = y.dims().to_vec();
        rows.push(SummaryRow {
            name: String::new(),
            layer: layer_type(model),
            output_shape: Some(output_shape.clone()),
            params: model.num_parameters(),
        });
    } else {
        let in_order = model.runs_children_in_order();
        let mut h = x.clone();
        for (name, child) in &children {
            let shape = in_order.then(|| {
                h = child.forward(&h);
                h.dims().to_vec()
            });
            rows.push(SummaryRow {
                name: name.clone(),
                layer: layer_type(*child),
                output_shape: shape,
                params: child.num_parameters(),
            });
        }
        output_shape = if in_order {
            h.dims().to_vec()
        } else {
            model.forward(&x).dims().to_vec()
        };
    }
    let params = model.parameters();
    let trainable_params = params
        .iter()
        .filter(|p| p.requires_grad_flag())
        .map(|p| p.numel())
        .sum();
    let frozen: usize = params
        .iter()
        .filter(|p| !p.requires_grad_flag())
        .map(|p| p.numel())
        .sum();
    let buffers: usize = model.named_buffers().iter().map(|(_, b)| b.numel()).sum();
    Summary {
        model: layer_type(model),
        input_shape: input_dims.to_vec(),
        rows,
        output_shape,
        total_params: trainable_params + frozen + buffers,
        trainable_params,
        non_trainable_params: frozen + buffers,
    }
}

/// `1234567` → `1,234,567`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rule = |c: char| c.to_string().repeat(66);
        writeln!(
            f,
            "Model: \"{}\" (input {:?})",
            self.model, self.input_shape
        )?;
        writeln!(f, "{}", rule('_'))?;
        writeln!(
            f,
            " {:<28}{:<26}{:>10}",
            "Layer (type)", "Output Shape", "Param #"
        )?;
        writeln!(f, "{}", rule('='))?;
        for (i, r) in self.rows.iter().enumerate() {
            let label = if r.name.is_empty() {
                r.layer.clone()
            } else {
                format!("{} ({})", r.name, r.layer)
            };
            let shape = r
                .output_shape
                .as_ref()
                .map_or("?".to_string(), |s| format!("{s:?}"));
            writeln!(f, " {:<28}{:<26}{:>10}", label, shape, thousands(r.params))?;
            if i + 1 < self.rows.len() {
                writeln!(f, "{}", rule('_'))?;
            }
        }
        writeln!(f, "{}", rule('='))?;
        writeln!(f, "Output shape: {:?}", self.output_shape)?;
        writeln!(f, "Total params: {}", thousands(self.total_params))?;
        writeln!(f, "Trainable params: {}", thousands(self.trainable_params))?;
        writeln!(
            f,
            "Non-trainable params: {}",
            thousands(self.non_trainable_params)
        )?;
        write!(f, "{}", rule('_'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::{Flatten, Linear, LinearOptions, ReLU, Sequential};

    #[test]
    fn shapes_counts_and_table() {
        crate::manual_seed(0);
        let model = Sequential::new()
            .add(Flatten::new())
            .add(Linear::new(784, 512).unwrap())
            .add(ReLU)
            .add(Linear::with_options(512, 10, LinearOptions::new().bias(false)).unwrap());
        let s = model.summary(&[4, 1, 28, 28]);
        let shapes: Vec<Vec<usize>> = s
            .rows
            .iter()
            .map(|r| r.output_shape.clone().unwrap())
            .collect();
        assert_eq!(
            shapes,
            vec![vec![4, 784], vec![4, 512], vec![4, 512], vec![4, 10]]
        );
        assert_eq!(s.total_params, 784 * 512 + 512 + 5120);
        assert_eq!(s.non_trainable_params, 0);
        let text = s.to_string();
        assert!(
            text.contains(" 1 (Linear)                  [4, 512]                     401,920"),
            "{text}"
        );
        assert!(text.contains("Total params: 407,040"), "{text}");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
    }

    #[test]
    fn a_frozen_parameter_is_not_trainable() {
        let fc = Linear::with_options(3, 2, LinearOptions::new().bias(false)).unwrap();
        fc.weight.set_requires_grad(false);
        let s = summary(&fc, &[1, 3]);
        assert_eq!((s.trainable_params, s.non_trainable_params), (0, 6));
        assert_eq!(s.rows[0].layer, "Linear");
    }
}
