//! The CPU implementation of [`crate::backend::LinearOps`].

use super::CpuStorage;
use crate::backend::cpu::linear::{linear_forward, sum_rows};
use crate::backend::cpu::matmul::MatRef;
use crate::backend::{BackendResult, LinearOps};
use crate::core::Layout;

/// The 2-D matrix `layout` sees inside `data`, read through its strides.
fn mat<'a>(data: &'a [f32], layout: &Layout) -> MatRef<'a> {
    MatRef {
        data,
        offset: layout.offset,
        row_stride: layout.strides[0],
        col_stride: layout.strides[1],
    }
}

impl LinearOps for CpuStorage {
    fn linear(
        &self,
        layout: &Layout,
        weight: &Self,
        weight_layout: &Layout,
        bias: Option<(&Self, &Layout)>,
    ) -> BackendResult<Self> {
        let (m, k) = (layout.dims()[0], layout.dims()[1]);
        let n = weight_layout.dims()[0];
        let bias = bias.map(|(b, l)| b.view(l));
        Ok(CpuStorage::from_vec(linear_forward(
            m,
            k,
            n,
            mat(self.f32(), layout),
            mat(weight.f32(), weight_layout),
            bias.as_deref(),
        )))
    }

    fn linear_bias_grad(&self, layout: &Layout) -> BackendResult<Self> {
        let (m, n) = (layout.dims()[0], layout.dims()[1]);
        Ok(CpuStorage::from_vec(sum_rows(&self.view(layout), m, n)))
    }
}
