//! The CPU implementation of [`crate::backend::ConvOps`] on the kernels of `cpu/conv.rs`,
//! in the input's float type.

use super::{float_dispatch, CpuStorage, Element};
use crate::backend::cpu::conv;
use crate::backend::{conv::ConvGrads, BackendResult, ConvOps};
use crate::core::{ConvGeometry, Layout};

impl ConvOps for CpuStorage {
    fn conv2d(
        &self,
        layout: &Layout,
        weight: (&Self, &Layout),
        bias: Option<(&Self, &Layout)>,
        geo: &ConvGeometry,
    ) -> BackendResult<Self> {
        float_dispatch!("conv2d", self.dtype(), |T| {
            // Row-major operands are borrowed, not copied.
            let (x, w) = (self.view_as::<T>(layout), weight.0.view_as::<T>(weight.1));
            let b = bias.map(|(b, l)| b.view_as::<T>(l));
            Ok(T::wrap(conv::conv2d_forward(&x, &w, b.as_deref(), geo)))
        })
    }

    fn conv2d_backward(
        &self,
        layout: &Layout,
        input: (&Self, &Layout),
        weight: (&Self, &Layout),
        geo: &ConvGeometry,
        needs: [bool; 3],
    ) -> BackendResult<ConvGrads<Self>> {
        float_dispatch!("conv2d_backward", self.dtype(), |T| {
            let (g, x, w) = (
                self.view_as::<T>(layout),
                input.0.view_as::<T>(input.1),
                weight.0.view_as::<T>(weight.1),
            );
            let (dx, dw, db) = conv::conv2d_backward(&x, &w, &g, geo, needs);
            Ok((dx.map(T::wrap), dw.map(T::wrap), db.map(T::wrap)))
        })
    }
}
