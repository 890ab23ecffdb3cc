//! Checking gradients against central finite differences.

use crate::backend::Storage;
use crate::core::{DType, Layout, Shape};
use crate::{Generator, Tensor};
use std::fmt;

/// A gradient that disagrees with its finite-difference estimate.
#[derive(Debug, Clone)]
pub struct GradcheckError {
    /// Which input (position in the list).
    pub input: usize,
    /// Which element of that input (row-major).
    pub element: usize,
    /// The gradient from `backward`.
    pub analytic: f64,
    /// The finite-difference estimate.
    pub numeric: f64,
}

impl fmt::Display for GradcheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "gradcheck: input {} element {}: backward gives {:.6e}, finite differences give {:.6e}",
            self.input, self.element, self.analytic, self.numeric
        )
    }
}

impl std::error::Error for GradcheckError {}

/// Storage offsets of every logical element of `t`, row-major.
fn element_offsets(t: &Tensor) -> Vec<usize> {
    t.layout().element_offsets()
}

/// The output reduced to one number with fixed random weights, in f64.
fn weighted(out: &Tensor, weights: &[f64]) -> f64 {
    out.to_vec_f64()
        .iter()
        .zip(weights)
        .map(|(&o, &w)| o * w)
        .sum()
}

/// Compares the gradients `backward` gives for every input that requires grad with central
/// differences `(f(x + ε) − f(x − ε)) / 2ε`, wholly in f64 as PyTorch's `gradcheck`:
/// ε = 1e-6 and `|a − n| ≤ atol + rtol·|n|` with atol = 1e-5 and rtol = 1e-3.
///
/// Float inputs are copied to float64 (the caller's tensors are left as they are; integer
/// inputs such as class targets stay integers), `f` runs on the copies, and its output is
/// reduced with fixed random weights. Float32 constants that `f` makes or captures take part
/// exactly, promoted as in PyTorch. An `f` whose output is not float64 has an op that
/// computed in float32, and is reported as such (a panic naming the type).
///
/// ```
/// use ferrite::{gradcheck, Tensor};
/// let x = Tensor::from_vec(vec![0.3, -1.2, 2.0], [3]).requires_grad();
/// gradcheck(|v| v[0].tanh().sum(), &[x]).unwrap();
/// ```
pub fn gradcheck(f: impl Fn(&[Tensor]) -> Tensor, inputs: &[Tensor]) -> Result<(), GradcheckError> {
    gradcheck_with(f, inputs, 1e-6, 1e-5, 1e-3)
}

/// [`gradcheck`] with explicit step and tolerances.
pub fn gradcheck_with(
    f: impl Fn(&[Tensor]) -> Tensor,
    inputs: &[Tensor],
    eps: f64,
    atol: f64,
    rtol: f64,
) -> Result<(), GradcheckError> {
    let inputs: Vec<Tensor> = inputs
        .iter()
        .map(|t| {
            let copy = if t.dtype().is_float() {
                t.detach().to_dtype(DType::F64).detach_copy()
            } else {
                t.detach()
            };
            if t.requires_grad_flag() {
                copy.requires_grad()
            } else {
                copy
            }
        })
        .collect();
    let inputs = &inputs[..];
    let out = f(inputs);
    assert_eq!(
        out.dtype(),
        DType::F64,
        "gradcheck: f returned a {} tensor from float64 inputs: an op in it computed in {}",
        out.dtype(),
        out.dtype()
    );
    let mut gen = Generator::new(12345);
    // Weights in [0.5, 1.5): every output element matters, none cancels another.
    let weights: Vec<f64> = (0..out.numel())
        .map(|_| 0.5 + gen.uniform() as f64)
        .collect();
    out.backward_with(&Tensor::from_f64(weights.clone(), out.dims()).to(&out.device()));
    for (k, t) in inputs.iter().enumerate() {
        if !t.requires_grad_flag() {
            continue;
        }
        let analytic = t
            .grad()
            .map(|g| g.to_vec_f64())
            .unwrap_or_else(|| vec![0.0; t.numel()]);
        for (e, off) in element_offsets(t).into_iter().enumerate() {
            // The one element at storage offset `off`, read and written through the backend.
            let element = Layout {
                shape: Shape(vec![]),
                strides: vec![],
                offset: off,
            };
            let scalar = Layout::contiguous(Shape(vec![]));
            let set = |v: f64| {
                let value = Storage::from_host_f64(vec![v], t.device());
                t.storage_mut().assign(&element, &value, &scalar);
            };
            let original = t.storage().to_host_f64(&element)[0];
            let eval = |v: f64| {
                set(v);
                let _g = crate::no_grad();
                weighted(&f(inputs), &weights)
            };
            let (up, down) = (original + eps, original - eps);
            let plus = eval(up);
            let minus = eval(down);
            set(original);
            // The step actually taken: x ± ε rounds, so it is not exactly 2ε.
            let numeric = (plus - minus) / (up - down);
            let a = analytic[e];
            if (a - numeric).abs() > atol + rtol * numeric.abs() || a.is_nan() != numeric.is_nan() {
                return Err(GradcheckError {
                    input: k,
                    element: e,
                    analytic: a,
                    numeric,
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `x²` whose recorded gradient is off by `error` (relative): the value is `y`, and the
    /// detached difference adds `error·dy` to the gradient only.
    fn square_with_wrong_grad(x: &Tensor, error: f32) -> Tensor {
        let y = x.square();
        &y + &(&(&y - &y.detach()) * error)
    }

    #[test]
    fn a_gradient_wrong_by_one_percent_is_caught() {
        let x = Tensor::from_vec(vec![0.7, -1.3, 2.1], [3]).requires_grad();
        let err = gradcheck(
            |v| square_with_wrong_grad(&v[0], 0.01).sum(),
            std::slice::from_ref(&x),
        )
        .expect_err("1% off must fail at rtol 1e-3");
        // d x² = 2x, reported 1.01·2x.
        assert!((err.analytic / err.numeric - 1.01).abs() < 1e-6, "{err}");
        // Within the tolerance (0.01%), the check passes: the threshold is where PyTorch's is.
        gradcheck(
            |v| square_with_wrong_grad(&v[0], 1e-4).sum(),
            std::slice::from_ref(&x),
        )
        .unwrap();
        gradcheck(|v| square_with_wrong_grad(&v[0], 0.0).sum(), &[x]).unwrap();
    }

    #[test]
    fn runs_in_f64_and_leaves_the_inputs_alone() {
        let x = Tensor::from_vec(vec![0.5, 1.5], [2]).requires_grad();
        gradcheck(
            |v| {
                assert_eq!(v[0].dtype(), DType::F64);
                // sin has curvature: an f32 evaluation at ε = 1e-6 would be noise.
                v[0].sin().sum()
            },
            std::slice::from_ref(&x),
        )
        .unwrap();
        assert_eq!(x.dtype(), DType::F32);
        assert!(x.grad().is_none());
    }
}
