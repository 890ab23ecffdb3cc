//! Convolution: the fused 2-D forward pass and its backward pass. Each `Storage` method
//! dispatches to the backend that holds the data.

use super::{on_device, BackendResult, Storage};
use crate::core::{ConvGeometry, Layout};

/// The gradients of a convolution: `(dx, dw, db)`, each present only when it was asked for.
pub type ConvGrads<S> = (Option<S>, Option<S>, Option<S>);

/// Convolution: the fused 2-D forward pass and its backward pass. Inputs are seen through
/// their layouts (`x (N, C, H, W)`, `w (O, C/groups, kH, kW)`, `b (O)`); results are
/// row-major buffers.
pub trait ConvOps: Sized {
    /// `conv(x, w) + b` over `geo`: a row-major `(N, O, oH, oW)` buffer.
    fn conv2d(
        &self,
        layout: &Layout,
        weight: (&Self, &Layout),
        bias: Option<(&Self, &Layout)>,
        geo: &ConvGeometry,
    ) -> BackendResult<Self>;

    /// The gradients of [`ConvOps::conv2d`] for the output gradient `self (N, O, oH, oW)`:
    /// `(dx, dw, db)` shaped like `x`, `w` and `b`, each computed only where `needs` says.
    fn conv2d_backward(
        &self,
        layout: &Layout,
        input: (&Self, &Layout),
        weight: (&Self, &Layout),
        geo: &ConvGeometry,
        needs: [bool; 3],
    ) -> BackendResult<ConvGrads<Self>>;
}

impl Storage {
    /// `conv(x, w) + b` of `self` (the input `x`) over `geo`, row-major `(N, O, oH, oW)`.
    pub fn conv2d(
        &self,
        layout: &Layout,
        weight: (&Storage, &Layout),
        bias: Option<(&Storage, &Layout)>,
        geo: &ConvGeometry,
    ) -> Storage {
        let (s, w) = (self, weight.0);
        let (b, b_layout) = (bias.map(|b| b.0), bias.map(|b| b.1));
        on_device!("conv2d", |wrap| [s, w] ? [b] => {
            let bias = b.zip(b_layout);
            s.conv2d(layout, (w, weight.1), bias, geo).map(wrap)
        })
    }

    /// The gradients `(dx, dw, db)` of a convolution for the output gradient `self`, each
    /// computed only where `needs` says.
    pub fn conv2d_backward(
        &self,
        layout: &Layout,
        input: (&Storage, &Layout),
        weight: (&Storage, &Layout),
        geo: &ConvGeometry,
        needs: [bool; 3],
    ) -> ConvGrads<Storage> {
        let (s, x, w) = (self, input.0, weight.0);
        on_device!("conv2d_backward", |wrap| [s, x, w] => {
            s.conv2d_backward(layout, (x, input.1), (w, weight.1), geo, needs)
                .map(|(dx, dw, db)| (dx.map(wrap), dw.map(wrap), db.map(wrap)))
        })
    }
}
