//! Activation functions and (log-)softmax, all stable for inputs of any finite magnitude.

use super::{normalize_dim, Layout, Tensor};
use crate::autograd::Op;
use crate::backend::UnaryOp;

impl Tensor {
    /// `1 / (1 + e^-x)`.
    pub fn sigmoid(&self) -> Tensor {
        self.unary_op(UnaryOp::Sigmoid)
    }
    /// Hyperbolic tangent.
    pub fn tanh(&self) -> Tensor {
        self.unary_op(UnaryOp::Tanh)
    }
    /// `max(x, 0)`; the gradient at 0 is 0, as in PyTorch.
    pub fn relu(&self) -> Tensor {
        self.unary_op(UnaryOp::Relu)
    }
    /// `x` for x > 0, else `negative_slope · x` (PyTorch's default slope is 0.01).
    pub fn leaky_relu(&self, negative_slope: f32) -> Tensor {
        self.unary_op(UnaryOp::LeakyRelu(negative_slope))
    }
    /// `x` for x > 0, else `α(eˣ − 1)`.
    pub fn elu(&self, alpha: f32) -> Tensor {
        self.unary_op(UnaryOp::Elu(alpha))
    }
    /// GELU, exact form `x·Φ(x)`.
    pub fn gelu(&self) -> Tensor {
        self.unary_op(UnaryOp::Gelu)
    }
    /// GELU, tanh approximation (PyTorch's `approximate='tanh'`).
    pub fn gelu_tanh(&self) -> Tensor {
        self.unary_op(UnaryOp::GeluTanh)
    }
    /// `ln(1 + e^(βx)) / β`, linear where `βx > threshold` (PyTorch defaults: β 1, threshold 20).
    pub fn softplus(&self, beta: f32, threshold: f32) -> Tensor {
        self.unary_op(UnaryOp::Softplus { beta, threshold })
    }
    /// `log σ(x) = min(x, 0) − ln(1 + e^−|x|)`, stable for large |x|.
    pub fn log_sigmoid(&self) -> Tensor {
        -(self.neg().softplus(1.0, 20.0))
    }

    fn lane_softmax(&self, dim: isize, log: bool) -> Tensor {
        let d = normalize_dim(
            dim,
            self.rank(),
            if log { "log_softmax" } else { "softmax" },
        );
        let storage = self.storage().softmax(self.layout(), d, log);
        let op = if log {
            Op::LogSoftmax { dim: d }
        } else {
            Op::Softmax { dim: d }
        };
        Tensor::from_op(
            storage,
            Layout::contiguous(self.shape().clone()),
            op,
            vec![self.clone()],
        )
    }

    /// `e^x / Σ e^x` along `dim`.
    pub fn softmax(&self, dim: isize) -> Tensor {
        self.lane_softmax(dim, false)
    }
    /// `x − log Σ e^x` along `dim`; `log_softmax([1000, 0]) = [0, −1000]`.
    pub fn log_softmax(&self, dim: isize) -> Tensor {
        self.lane_softmax(dim, true)
    }
}
