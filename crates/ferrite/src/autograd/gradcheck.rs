//! Checking gradients against central finite differences.

use crate::backend::Storage;
use crate::core::{Layout, Shape};
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
fn weighted(out: &Tensor, weights: &[f32]) -> f64 {
    out.to_vec()
        .iter()
        .zip(weights)
        .map(|(&o, &w)| o as f64 * w as f64)
        .sum()
}

/// Compares the gradients `backward` gives for every input that requires grad with central
/// differences `(f(x + ε) − f(x − ε)) / 2ε`, using ε = 1e-3, and tolerance
/// `|a − n| ≤ atol + rtol·|n|` with atol = 1e-3 and rtol = 1e-2.
///
/// The output is reduced with fixed random weights, and that sum, the difference and the
/// quotient are computed in f64, dividing by the step as actually taken (`x ± ε` rounded
/// to f32, measured exactly in f64). `f` itself runs in f32, Ferrite's one element type,
/// so its rounding (about 1e-7 of the output, magnified by 1/2ε) sets the tolerances:
/// they are looser than PyTorch's f64 gradcheck, which evaluates `f` in f64.
///
/// ```
/// use ferrite::{gradcheck, Tensor};
/// let x = Tensor::from_vec(vec![0.3, -1.2, 2.0], [3]).requires_grad();
/// gradcheck(|v| v[0].tanh().sum(), &[x]).unwrap();
/// ```
pub fn gradcheck(f: impl Fn(&[Tensor]) -> Tensor, inputs: &[Tensor]) -> Result<(), GradcheckError> {
    gradcheck_with(f, inputs, 1e-3, 1e-3, 1e-2)
}

/// [`gradcheck`] with explicit step and tolerances.
pub fn gradcheck_with(
    f: impl Fn(&[Tensor]) -> Tensor,
    inputs: &[Tensor],
    eps: f32,
    atol: f64,
    rtol: f64,
) -> Result<(), GradcheckError> {
    for t in inputs {
        t.zero_grad();
    }
    let out = f(inputs);
    let mut gen = Generator::new(12345);
    // Weights in [0.5, 1.5): every output element matters, none cancels another.
    let weights: Vec<f32> = (0..out.numel()).map(|_| 0.5 + gen.uniform()).collect();
    out.backward_with(&Tensor::from_vec(weights.clone(), out.dims()));
    for (k, t) in inputs.iter().enumerate() {
        if !t.requires_grad_flag() {
            continue;
        }
        let analytic = t
            .grad()
            .map(|g| g.to_vec())
            .unwrap_or_else(|| vec![0.0; t.numel()]);
        for (e, off) in element_offsets(t).into_iter().enumerate() {
            // The one element at storage offset `off`, read and written through the backend.
            let element = Layout {
                shape: Shape(vec![]),
                strides: vec![],
                offset: off,
            };
            let scalar = Layout::contiguous(Shape(vec![]));
            let set = |v: f32| {
                let value = Storage::from_host(vec![v], t.device());
                t.storage_mut().assign(&element, &value, &scalar);
            };
            let original = t.storage().to_host(&element)[0];
            let eval = |v: f32| {
                set(v);
                let _g = crate::no_grad();
                weighted(&f(inputs), &weights)
            };
            let (up, down) = (original + eps, original - eps);
            let plus = eval(up);
            let minus = eval(down);
            set(original);
            // The step actually taken, exact in f64: x ± ε rounds to f32, so it is not 2ε.
            let numeric = (plus - minus) / (up as f64 - down as f64);
            let a = analytic[e] as f64;
            if (a - numeric).abs() > atol + rtol * numeric.abs() || a.is_nan() != numeric.is_nan() {
                return Err(GradcheckError {
                    input: k,
                    element: e,
                    analytic: a,
                    numeric,
                });
            }
        }
        t.zero_grad();
    }
    Ok(())
}
