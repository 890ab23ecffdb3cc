//! The CPU implementation of [`crate::backend::ConvOps`] on the kernels of `cpu/conv.rs`.

use super::CpuStorage;
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
        // Row-major operands are borrowed, not copied.
        let (x, w) = (self.view(layout), weight.0.view(weight.1));
        let b = bias.map(|(b, l)| b.view(l));
        Ok(CpuStorage::from_vec(conv::conv2d_forward(
            &x,
            &w,
            b.as_deref(),
            geo,
        )))
    }

    fn conv2d_backward(
        &self,
        layout: &Layout,
        input: (&Self, &Layout),
        weight: (&Self, &Layout),
        geo: &ConvGeometry,
        needs: [bool; 3],
    ) -> BackendResult<ConvGrads<Self>> {
        let (g, x, w) = (
            self.view(layout),
            input.0.view(input.1),
            weight.0.view(weight.1),
        );
        let (dx, dw, db) = conv::conv2d_backward(&x, &w, &g, geo, needs);
        Ok((
            dx.map(CpuStorage::from_vec),
            dw.map(CpuStorage::from_vec),
            db.map(CpuStorage::from_vec),
        ))
    }
}
