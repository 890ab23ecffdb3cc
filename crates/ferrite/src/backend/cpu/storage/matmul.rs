//! The CPU implementation of [`crate::backend::MatmulOps`]: f32 on the packed kernels, f64
//! on the `gemm` crate (the choice is made inside `batched_gemm`).

use super::{float_dispatch, CpuStorage, Element};
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
        assert_eq!(
            self.dtype(),
            rhs.dtype(),
            "matmul: operands of different dtypes"
        );
        float_dispatch!("matmul", self.dtype(), |T| Ok(T::wrap(batched_gemm(
            m,
            n,
            k,
            self.data::<T>(),
            &batch_offsets(la, batch),
            mat_strides(la),
            rhs.data::<T>(),
            &batch_offsets(lb, batch),
            mat_strides(lb),
        ))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A batched f64 product with a broadcast batch and a transposed operand, by hand.
    #[test]
    fn f64_batched_product() {
        // a: (2, 2, 2) batches [[1,2],[3,4]] and [[0.5,0],[0,0.5]]; b: (2, 2) = [[5,6],[7,8]]ᵀ
        // read transposed, broadcast over the batch.
        let a = CpuStorage::F64(vec![1., 2., 3., 4., 0.5, 0., 0., 0.5]);
        let b = CpuStorage::F64(vec![5., 7., 6., 8.]);
        let la = Layout::contiguous([2, 2, 2]);
        let lb = Layout {
            shape: vec![1, 2, 2].into(),
            strides: vec![0, 1, 2],
            offset: 0,
        };
        let c = a.matmul(&la, &b, &lb, &[2]).unwrap();
        assert_eq!(c.data::<f64>(), &[19., 22., 43., 50., 2.5, 3., 3.5, 4.]);
    }
}
