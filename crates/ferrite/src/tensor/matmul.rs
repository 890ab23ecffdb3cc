//! Matrix products: 1-D, 2-D and batched operands with broadcast batch dimensions.

use super::{broadcast_shapes, Layout, Tensor};
use crate::autograd::Op;

impl Tensor {
    /// The matrix product with PyTorch's `matmul` rules: a 1-D operand is treated as a row
    /// (left) or column (right) vector and its dimension removed from the result; leading
    /// batch dimensions broadcast.
    ///
    /// ```
    /// use ferrite::Tensor;
    /// let a = Tensor::from_vec(vec![1., 2., 3., 4.], [2, 2]);
    /// let b = Tensor::from_vec(vec![5., 6., 7., 8.], [2, 2]);
    /// assert_eq!(a.matmul(&b).to_vec(), vec![19., 22., 43., 50.]);
    /// ```
    pub fn matmul(&self, rhs: &Tensor) -> Tensor {
        assert!(
            self.rank() >= 1 && rhs.rank() >= 1,
            "matmul: both arguments need at least 1 dimension, got shapes {:?} and {:?}",
            self.dims(),
            rhs.dims()
        );
        match (self.rank(), rhs.rank()) {
            (1, 1) => self.unsqueeze(0).matmul_nd(&rhs.unsqueeze(1)).reshape(()),
            (1, _) => self.unsqueeze(0).matmul_nd(rhs).squeeze(-2),
            (_, 1) => self.matmul_nd(&rhs.unsqueeze(1)).squeeze(-1),
            _ => self.matmul_nd(rhs),
        }
    }

    /// Product of operands with at least 2 dimensions each.
    fn matmul_nd(&self, rhs: &Tensor) -> Tensor {
        let (ad, bd) = (self.dims(), rhs.dims());
        let (m, k) = (ad[ad.len() - 2], ad[ad.len() - 1]);
        let (k2, n) = (bd[bd.len() - 2], bd[bd.len() - 1]);
        assert_eq!(
            k, k2,
            "matmul: shapes {ad:?} and {bd:?} cannot be multiplied ({m}x{k} and {k2}x{n})"
        );
        let batch = broadcast_shapes(&ad[..ad.len() - 2], &bd[..bd.len() - 2], "matmul");
        if self.dtype() != rhs.dtype() {
            // PyTorch refuses mixed types here; promoting is the one answer that loses nothing.
            let common = crate::core::DType::promote(self.dtype(), rhs.dtype());
            return self.to_dtype(common).matmul_nd(&rhs.to_dtype(common));
        }
        let storage = {
            let (sa, sb) = (self.storage(), rhs.storage());
            sa.matmul(self.layout(), &sb, rhs.layout(), &batch)
        };
        let mut dims = batch;
        dims.extend([m, n]);
        Tensor::from_op(
            storage,
            Layout::contiguous(dims),
            Op::MatMul,
            vec![self.clone(), rhs.clone()],
        )
    }

    /// Matrix product of 2-D tensors (PyTorch's `mm`).
    pub fn mm(&self, rhs: &Tensor) -> Tensor {
        assert!(
            self.rank() == 2 && rhs.rank() == 2,
            "mm: expected 2-D tensors, got {:?} and {:?}",
            self.dims(),
            rhs.dims()
        );
        self.matmul_nd(rhs)
    }

    /// Dot product of two vectors.
    pub fn dot(&self, rhs: &Tensor) -> Tensor {
        assert!(
            self.rank() == 1 && rhs.rank() == 1 && self.numel() == rhs.numel(),
            "dot: expected 1-D tensors of equal size, got {:?} and {:?}",
            self.dims(),
            rhs.dims()
        );
        self.matmul(rhs)
    }
}
