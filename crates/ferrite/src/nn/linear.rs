//! The fully connected layer `y = x·Wᵀ + b`, with PyTorch's weight shape `(out, in)` and its
//! default initialisation `U(−1/√in, 1/√in)` for weight and bias.

use super::init;
use super::Module;
use crate::autograd::Op;
use crate::error::{FerriteError, Result};
use crate::tensor::dtype::mixed_float_dtype;
use crate::tensor::Layout;
use crate::Tensor;

/// `x·Wᵀ + b` for `x` of shape `(*, in)`, `weight` `(out, in)` and `bias` `(out)`: one fused
/// product-and-bias op, one graph node (PyTorch's `F.linear`).
///
/// ```
/// use ferrite::{nn::linear, Tensor};
/// let x = Tensor::from_vec(vec![1.0, 2.0], [1, 2]);
/// let w = Tensor::from_vec(vec![1.0, 0.0, 1.0, 1.0], [2, 2]);
/// let b = Tensor::from_vec(vec![0.5, -1.0], [2]);
/// assert_eq!(linear(&x, &w, Some(&b)).to_vec(), vec![1.5, 2.0]);
/// ```
pub fn linear(x: &Tensor, weight: &Tensor, bias: Option<&Tensor>) -> Tensor {
    if let Some(d) = mixed_float_dtype(&[Some(x), Some(weight), bias]) {
        let bias = bias.map(|b| b.to_dtype(d));
        return linear(&x.to_dtype(d), &weight.to_dtype(d), bias.as_ref());
    }
    assert_eq!(
        weight.rank(),
        2,
        "linear: weight must be 2-D (out, in), got shape {:?}",
        weight.dims()
    );
    let (n, k) = (weight.dims()[0], weight.dims()[1]);
    let in_features = x.dims().last().copied().unwrap_or(1);
    assert!(
        x.rank() >= 1 && in_features == k,
        "linear: input shape {:?} and weight shape {:?} cannot be multiplied ({}x{} and {}x{})",
        x.dims(),
        weight.dims(),
        x.numel() / in_features.max(1),
        in_features,
        k,
        n
    );
    if let Some(b) = bias {
        assert_eq!(
            b.dims(),
            &[n],
            "linear: bias shape {:?} does not match out_features {n}",
            b.dims()
        );
    }
    if x.rank() != 2 {
        // (*, in) → (rows, in) → (rows, out) → (*, out)
        let mut out_dims = x.dims()[..x.rank() - 1].to_vec();
        out_dims.push(n);
        let rows = x.numel() / k.max(1);
        return linear(&x.reshape([rows, k]), weight, bias).reshape(out_dims);
    }
    let m = x.dims()[0];
    let data = {
        let (xs, ws) = (x.storage(), weight.storage());
        let bs = bias.map(|b| b.storage());
        let bias = bs.as_deref().zip(bias.map(Tensor::layout));
        xs.linear(x.layout(), &ws, weight.layout(), bias)
    };
    let mut inputs = vec![x.clone(), weight.clone()];
    inputs.extend(bias.cloned());
    Tensor::from_op(data, Layout::contiguous([m, n]), Op::Linear, inputs)
}

/// The hyper-parameters of a [`Linear`] layer beyond its sizes (PyTorch's default: with bias).
///
/// ```
/// use ferrite::nn::LinearOptions;
/// assert!(LinearOptions::default().bias);
/// assert!(!LinearOptions::new().bias(false).bias);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinearOptions {
    /// Whether the layer learns an additive bias `b`.
    pub bias: bool,
}

impl Default for LinearOptions {
    fn default() -> Self {
        LinearOptions { bias: true }
    }
}

impl LinearOptions {
    /// PyTorch's defaults: with bias.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets whether the layer has a bias (PyTorch's `bias=False` is `.bias(false)`).
    pub fn bias(mut self, bias: bool) -> Self {
        self.bias = bias;
        self
    }
}

/// A fully connected layer: `y = x·Wᵀ + b`, weight `(out_features, in_features)`.
///
/// # Shape
///
/// - Input: `(*, in_features)`: any number of leading dimensions, including none.
/// - Output: `(*, out_features)`, the leading dimensions unchanged.
///
/// ```
/// use ferrite::nn::{Linear, LinearOptions, Module};
/// use ferrite::Tensor;
/// ferrite::manual_seed(0);
/// let fc = Linear::new(30, 64).unwrap();
/// assert_eq!(fc.weight.dims(), &[64, 30]);
/// let y = fc.forward(&Tensor::randn([8, 30]));
/// assert_eq!(y.dims(), &[8, 64]);
/// let names: Vec<String> = fc.named_parameters().into_iter().map(|(n, _)| n).collect();
/// assert_eq!(names, ["weight", "bias"]);
/// let no_bias = Linear::with_options(30, 64, LinearOptions::new().bias(false)).unwrap();
/// assert!(no_bias.bias.is_none());
/// assert!(Linear::new(0, 64).is_err());
/// ```
pub struct Linear {
    /// `(out_features, in_features)`, requires grad.
    pub weight: Tensor,
    /// `(out_features)`, requires grad; `None` for a layer built without bias.
    pub bias: Option<Tensor>,
}

impl Linear {
    /// A layer with bias, initialised like PyTorch: weight and bias `U(−1/√in, 1/√in)`.
    /// Zero features are an error.
    pub fn new(in_features: usize, out_features: usize) -> Result<Linear> {
        Linear::with_options(in_features, out_features, LinearOptions::default())
    }

    /// A layer with the given options (e.g. without bias, PyTorch's `bias=False`), default
    /// initialisation. Zero features are an error naming the parameter.
    pub fn with_options(
        in_features: usize,
        out_features: usize,
        options: LinearOptions,
    ) -> Result<Linear> {
        for (name, value) in [("in_features", in_features), ("out_features", out_features)] {
            if value == 0 {
                return Err(FerriteError::invalid(
                    format!("Linear {name}"),
                    "must be at least 1, got 0",
                ));
            }
        }
        let weight = Tensor::zeros([out_features, in_features]);
        let bias = options.bias.then(|| Tensor::zeros([out_features]));
        init::linear_default(&weight, bias.as_ref());
        Ok(Linear {
            weight: weight.requires_grad(),
            bias: bias.map(|b| b.requires_grad()),
        })
    }

    /// A layer over given tensors (made leaves that require grad), e.g. weights read from a
    /// file. Shapes that do not fit (weight `(out, in)`, bias `(out)`) are errors.
    pub fn from_tensors(weight: Tensor, bias: Option<Tensor>) -> Result<Linear> {
        if weight.rank() != 2 {
            return Err(FerriteError::Shape {
                op: "Linear".into(),
                message: format!("weight must be 2-D (out, in), got {:?}", weight.dims()),
            });
        }
        if let Some(b) = &bias {
            if b.dims() != &weight.dims()[..1] {
                return Err(FerriteError::Shape {
                    op: "Linear".into(),
                    message: format!(
                        "bias shape {:?} does not match weight {:?}",
                        b.dims(),
                        weight.dims()
                    ),
                });
            }
        }
        let leaf = |t: Tensor| t.detach_copy().requires_grad();
        Ok(Linear {
            weight: leaf(weight),
            bias: bias.map(leaf),
        })
    }

    /// The size of each input sample.
    pub fn in_features(&self) -> usize {
        self.weight.dims()[1]
    }

    /// The size of each output sample.
    pub fn out_features(&self) -> usize {
        self.weight.dims()[0]
    }
}

impl Module for Linear {
    fn forward(&self, x: &Tensor) -> Tensor {
        linear(x, &self.weight, self.bias.as_ref())
    }

    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        let mut p = vec![("weight".to_string(), self.weight.clone())];
        if let Some(b) = &self.bias {
            p.push(("bias".to_string(), b.clone()));
        }
        p
    }

    fn describe(&self) -> String {
        format!(
            "Linear(in_features={}, out_features={}, bias={})",
            self.in_features(),
            self.out_features(),
            if self.bias.is_some() { "True" } else { "False" }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck;

    #[test]
    fn forward_matches_matmul_plus_bias_for_batched_input() {
        crate::manual_seed(1);
        let fc = Linear::new(3, 4).unwrap();
        let x = Tensor::randn([2, 5, 3]);
        let expected = &x.matmul(&fc.weight.t()) + fc.bias.as_ref().unwrap();
        let got = fc.forward(&x);
        assert_eq!(got.dims(), &[2, 5, 4]);
        for (a, b) in got.to_vec().iter().zip(expected.to_vec()) {
            assert!((a - b).abs() < 1e-5);
        }
        // A 1-D input gives a 1-D output.
        assert_eq!(fc.forward(&Tensor::ones([3])).dims(), &[4]);
    }

    #[test]
    fn gradients_match_finite_differences() {
        crate::manual_seed(2);
        let x = Tensor::randn([3, 4]).requires_grad();
        let w = Tensor::randn([2, 4]).requires_grad();
        let b = Tensor::randn([2]).requires_grad();
        gradcheck(
            |t| linear(&t[0], &t[1], Some(&t[2])).square().sum(),
            &[x.clone(), w.clone(), b],
        )
        .unwrap();
        // Transposed (strided) input and no bias.
        let xt = Tensor::randn([4, 3]).requires_grad();
        gradcheck(|t| linear(&t[0].t(), &t[1], None).square().sum(), &[xt, w]).unwrap();
    }

    #[test]
    fn default_init_is_within_one_over_sqrt_fan_in() {
        crate::manual_seed(3);
        let fc = Linear::new(100, 200).unwrap();
        let bound = 1.0 / 10.0;
        let w = fc.weight.to_vec();
        assert!(w.iter().all(|v| v.abs() <= bound));
        // U(−a, a) has standard deviation a/√3.
        let mean = w.iter().sum::<f32>() / w.len() as f32;
        let std = (w.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / w.len() as f32).sqrt();
        assert!((std - bound / 3f32.sqrt()).abs() < 0.002, "std {std}");
        assert!(fc.bias.unwrap().to_vec().iter().all(|v| v.abs() <= bound));
    }

    #[test]
    #[should_panic(expected = "cannot be multiplied (2x3 and 4x5)")]
    fn wrong_input_width_panics_like_pytorch() {
        let fc = Linear::new(4, 5).unwrap();
        fc.forward(&Tensor::ones([2, 3]));
    }

    #[test]
    fn bad_sizes_and_tensors_are_errors_naming_the_parameter() {
        let e = Linear::new(0, 5).err().expect("an error").to_string();
        assert_eq!(e, "invalid Linear in_features: must be at least 1, got 0");
        let e = Linear::with_options(3, 0, LinearOptions::new().bias(false))
            .err()
            .expect("an error")
            .to_string();
        assert_eq!(e, "invalid Linear out_features: must be at least 1, got 0");
        let e = Linear::from_tensors(Tensor::zeros([2, 3]), Some(Tensor::zeros([3])))
            .err()
            .expect("an error")
            .to_string();
        assert_eq!(e, "Linear: bias shape [3] does not match weight [2, 3]");
        let fc = Linear::from_tensors(Tensor::ones([2, 3]), None).unwrap();
        assert_eq!(fc.forward(&Tensor::ones([3])).to_vec(), vec![3.0, 3.0]);
        assert_eq!(
            fc.describe(),
            "Linear(in_features=3, out_features=2, bias=False)"
        );
    }
}
