//! The fully connected layer `x·Wᵀ + b` and its bias gradient.

use super::{on_device, BackendResult, Storage};
use crate::core::Layout;

/// The fully connected layer `x·Wᵀ + b` and its bias gradient. Results are row-major.
pub trait LinearOps: Sized {
    /// `x (m×k) · Wᵀ + b` as a row-major `(m×n)` buffer, for 2-D `x` and weight `W (n×k)`
    /// read through their layouts' strides (a transposed input or weight is not copied), and
    /// `bias` of shape `(n)` added to every row.
    fn linear(
        &self,
        layout: &Layout,
        weight: &Self,
        weight_layout: &Layout,
        bias: Option<(&Self, &Layout)>,
    ) -> BackendResult<Self>;
    /// The bias gradient of [`LinearOps::linear`]: a 2-D `(m×n)` output gradient summed over
    /// its rows, shape `(n)`.
    fn linear_bias_grad(&self, layout: &Layout) -> BackendResult<Self>;
}

impl Storage {
    /// `x·Wᵀ + b` for 2-D `x` (`self` seen through `layout`) and weight `(n×k)`; the result is
    /// row-major `(m×n)`.
    pub fn linear(
        &self,
        layout: &Layout,
        weight: &Storage,
        weight_layout: &Layout,
        bias: Option<(&Storage, &Layout)>,
    ) -> Storage {
        let (s, b) = (self, bias.map(|(b, _)| b));
        let bias_layout = bias.map(|(_, l)| l);
        on_device!("linear", |wrap| [s, weight] ? [b] => {
            s.linear(layout, weight, weight_layout, b.zip(bias_layout)).map(wrap)
        })
    }

    /// The rows of a 2-D gradient summed: the bias gradient of [`Storage::linear`], shape
    /// `(n)`.
    pub fn linear_bias_grad(&self, layout: &Layout) -> Storage {
        let s = self;
        on_device!("linear_backward", |wrap| [s] => s.linear_bias_grad(layout).map(wrap))
    }
}
