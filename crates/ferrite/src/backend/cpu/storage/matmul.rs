//! The CPU implementation of [`crate::backend::MatmulOps`].

use super::CpuStorage;
use crate::backend::cpu::matmul::batched_gemm;
use crate::backend::cpu::strided::for_each_strided;
use crate::backend::{BackendResult, MatmulOps};
use crate::core::Layout;

/// The storage offset of each matrix of `l` over the broadcast batch shape `batch`.
fn batch_offsets(l: &Layout, batch: &[usize]) -> Vec<usize> {
    let r = l.dims().len();
    let batch_layout = Layout {
        shape: l.dims()[..r - 2].to_vec().into(),
        strides: l.strides[..r - 2].to_vec(),
        offset: l.offset,
    };
    let strides = batch_layout.broadcast_strides(batch, "matmul");
    let mut offs = Vec::new();
    for_each_strided(batch, [&strides], [l.offset], |[o]| offs.push(o));
    offs
}

/// The (row, column) strides of the matrices of `l`.
fn mat_strides(l: &Layout) -> (usize, usize) {
    let r = l.strides.len();
    (l.strides[r - 2], l.strides[r - 1])
}

impl MatmulOps for CpuStorage {
    fn matmul(&self, la: &Layout, rhs: &Self, lb: &Layout, batch: &[usize]) -> BackendResult<Self> {
        let (ad, bd) = (la.dims(), lb.dims());
        let (m, k) = (ad[ad.len() - 2], ad[ad.len() - 1]);
        let n = bd[bd.len() - 1];
        Ok(CpuStorage::from_vec(batched_gemm(
            m,
            n,
            k,
            self.f32(),
            &batch_offsets(la, batch),
            mat_strides(la),
            rhs.f32(),
            &batch_offsets(lb, batch),
            mat_strides(lb),
        )))
    }
}
