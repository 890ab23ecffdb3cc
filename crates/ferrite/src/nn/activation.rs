//! Activation functions as layers, for use inside [`Sequential`](super::Sequential), with
//! PyTorch's names, defaults and reprs.

use super::Module;
use crate::Tensor;

/// A float as Python prints it in a repr (`2.0`, `0.01`).
pub(crate) fn py_float(x: f32) -> String {
    if x.fract() == 0.0 && x.is_finite() {
        format!("{x:.1}")
    } else {
        format!("{x}")
    }
}

macro_rules! parameterless_activation {
    ($(#[$doc:meta])* $name:ident, $repr:literal, |$x:ident| $body:expr) => {
        $(#[$doc])*
        ///
        /// # Shape
        ///
        /// - Input: `(*)`, any shape.
        /// - Output: `(*)`, the input's shape (elementwise).
        #[derive(Clone, Copy, Debug, Default)]
        pub struct $name;

        impl Module for $name {
            fn forward(&self, $x: &Tensor) -> Tensor {
                $body
            }
            fn named_parameters(&self) -> Vec<(String, Tensor)> {
                Vec::new()
            }
            fn describe(&self) -> String {
                $repr.to_string()
            }
        }
    };
}

parameterless_activation!(
    /// `1 / (1 + e^−x)`.
    Sigmoid, "Sigmoid()", |x| x.sigmoid()
);
parameterless_activation!(
    /// Hyperbolic tangent.
    Tanh, "Tanh()", |x| x.tanh()
);
parameterless_activation!(
    /// `max(x, 0)`.
    ReLU, "ReLU()", |x| x.relu()
);

/// `x` for x > 0, else `negative_slope·x` (PyTorch's default slope 0.01).
///
/// # Shape
///
/// - Input: `(*)`, any shape.
/// - Output: `(*)`, the input's shape (elementwise).
#[derive(Clone, Copy, Debug)]
pub struct LeakyReLU {
    /// Slope for negative inputs.
    pub negative_slope: f32,
}

impl LeakyReLU {
    /// Leaky ReLU with the given negative slope.
    pub fn new(negative_slope: f32) -> Self {
        LeakyReLU { negative_slope }
    }
}

impl Default for LeakyReLU {
    fn default() -> Self {
        LeakyReLU::new(0.01)
    }
}

impl Module for LeakyReLU {
    fn forward(&self, x: &Tensor) -> Tensor {
        x.leaky_relu(self.negative_slope)
    }
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        Vec::new()
    }
    fn describe(&self) -> String {
        format!(
            "LeakyReLU(negative_slope={})",
            py_float(self.negative_slope)
        )
    }
}

/// `x` for x > 0, else `α(eˣ − 1)` (default α = 1).
///
/// # Shape
///
/// - Input: `(*)`, any shape.
/// - Output: `(*)`, the input's shape (elementwise).
#[derive(Clone, Copy, Debug)]
pub struct ELU {
    /// Scale of the negative branch.
    pub alpha: f32,
}

impl ELU {
    /// ELU with the given α.
    pub fn new(alpha: f32) -> Self {
        ELU { alpha }
    }
}

impl Default for ELU {
    fn default() -> Self {
        ELU::new(1.0)
    }
}

impl Module for ELU {
    fn forward(&self, x: &Tensor) -> Tensor {
        x.elu(self.alpha)
    }
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        Vec::new()
    }
    fn describe(&self) -> String {
        format!("ELU(alpha={})", py_float(self.alpha))
    }
}

/// GELU: exact `x·Φ(x)` by default, or the tanh approximation (PyTorch's `approximate='tanh'`).
///
/// # Shape
///
/// - Input: `(*)`, any shape.
/// - Output: `(*)`, the input's shape (elementwise).
#[derive(Clone, Copy, Debug, Default)]
pub struct GELU {
    /// Use `0.5x(1 + tanh(√(2/π)(x + 0.044715x³)))`.
    pub tanh_approximation: bool,
}

impl GELU {
    /// The exact form.
    pub fn new() -> Self {
        GELU {
            tanh_approximation: false,
        }
    }
    /// The tanh approximation.
    pub fn tanh() -> Self {
        GELU {
            tanh_approximation: true,
        }
    }
}

impl Module for GELU {
    fn forward(&self, x: &Tensor) -> Tensor {
        if self.tanh_approximation {
            x.gelu_tanh()
        } else {
            x.gelu()
        }
    }
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        Vec::new()
    }
    fn describe(&self) -> String {
        let approximate = if self.tanh_approximation {
            "tanh"
        } else {
            "none"
        };
        format!("GELU(approximate='{approximate}')")
    }
}

/// `ln(1 + e^(βx))/β`, linear where `βx > threshold` (defaults β = 1, threshold = 20).
///
/// # Shape
///
/// - Input: `(*)`, any shape.
/// - Output: `(*)`, the input's shape (elementwise).
#[derive(Clone, Copy, Debug)]
pub struct Softplus {
    /// Sharpness.
    pub beta: f32,
    /// Above `βx > threshold` the function is the identity (for stability).
    pub threshold: f32,
}

impl Softplus {
    /// Softplus with the given β and threshold.
    pub fn new(beta: f32, threshold: f32) -> Self {
        Softplus { beta, threshold }
    }
}

impl Default for Softplus {
    fn default() -> Self {
        Softplus::new(1.0, 20.0)
    }
}

impl Module for Softplus {
    fn forward(&self, x: &Tensor) -> Tensor {
        x.softplus(self.beta, self.threshold)
    }
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        Vec::new()
    }
    fn describe(&self) -> String {
        format!(
            "Softplus(beta={}, threshold={})",
            py_float(self.beta),
            py_float(self.threshold)
        )
    }
}

/// `e^x / Σ e^x` along `dim`.
///
/// # Shape
///
/// - Input: `(*)`, any shape with dimension `dim`.
/// - Output: `(*)`, the input's shape, each slice along `dim` summing to 1.
#[derive(Clone, Copy, Debug)]
pub struct Softmax {
    /// The dimension that sums to 1.
    pub dim: isize,
}

impl Softmax {
    /// Softmax along `dim`.
    pub fn new(dim: isize) -> Self {
        Softmax { dim }
    }
}

impl Module for Softmax {
    fn forward(&self, x: &Tensor) -> Tensor {
        x.softmax(self.dim)
    }
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        Vec::new()
    }
    fn describe(&self) -> String {
        format!("Softmax(dim={})", self.dim)
    }
}

/// `x − log Σ e^x` along `dim`.
///
/// # Shape
///
/// - Input: `(*)`, any shape with dimension `dim`.
/// - Output: `(*)`, the input's shape.
#[derive(Clone, Copy, Debug)]
pub struct LogSoftmax {
    /// The dimension normalised.
    pub dim: isize,
}

impl LogSoftmax {
    /// Log-softmax along `dim`.
    pub fn new(dim: isize) -> Self {
        LogSoftmax { dim }
    }
}

impl Module for LogSoftmax {
    fn forward(&self, x: &Tensor) -> Tensor {
        x.log_softmax(self.dim)
    }
    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        Vec::new()
    }
    fn describe(&self) -> String {
        format!("LogSoftmax(dim={})", self.dim)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: &[f32], b: &[f32]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-5)
    }

    #[test]
    fn modules_apply_their_functions_with_pytorch_values() {
        let x = Tensor::from_vec(vec![-2.0, -0.5, 0.0, 1.5], [1, 4]);
        // Values from torch 2.x for x = [-2, -0.5, 0, 1.5].
        assert!(close(&ReLU.forward(&x).to_vec(), &[0.0, 0.0, 0.0, 1.5]));
        assert!(close(
            &Sigmoid.forward(&x).to_vec(),
            &[0.119_202_92, 0.377_540_67, 0.5, 0.817_574_5]
        ));
        assert!(close(
            &Tanh.forward(&x).to_vec(),
            &[-0.964_027_6, -0.462_117_16, 0.0, 0.905_148_25]
        ));
        assert!(close(
            &LeakyReLU::new(0.2).forward(&x).to_vec(),
            &[-0.4, -0.1, 0.0, 1.5]
        ));
        assert!(close(
            &ELU::default().forward(&x).to_vec(),
            &[-0.864_664_7, -0.393_469_34, 0.0, 1.5]
        ));
        assert!(close(
            &GELU::new().forward(&x).to_vec(),
            &[-0.045_500_26, -0.154_268_5, 0.0, 1.399_789_4]
        ));
        assert!(close(
            &Softplus::default().forward(&x).to_vec(),
            &[0.126_928, 0.474_077, std::f32::consts::LN_2, 1.701_413]
        ));
        let s = Softmax::new(1).forward(&x).to_vec();
        assert!((s.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        let ls = LogSoftmax::new(-1).forward(&x).to_vec();
        assert!(close(&ls.iter().map(|v| v.exp()).collect::<Vec<_>>(), &s));
    }

    #[test]
    fn reprs_follow_pytorch() {
        assert_eq!(ReLU.describe(), "ReLU()");
        assert_eq!(
            LeakyReLU::default().describe(),
            "LeakyReLU(negative_slope=0.01)"
        );
        assert_eq!(Softmax::new(1).describe(), "Softmax(dim=1)");
        assert_eq!(GELU::tanh().describe(), "GELU(approximate='tanh')");
    }
}
