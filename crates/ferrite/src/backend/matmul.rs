//! Batched matrix products with broadcast batch dimensions.

use super::{on_device, BackendResult, Storage};
use crate::core::Layout;

/// Matrix products.
pub trait MatmulOps: Sized {
    /// `out[b] = a[b] · b[b]` over the broadcast batch shape `batch`: the last two dimensions
    /// of each layout are the matrix (any strides), the leading ones broadcast to `batch`.
    /// The result is row-major `(batch…, m, n)`.
    fn matmul(&self, la: &Layout, rhs: &Self, lb: &Layout, batch: &[usize]) -> BackendResult<Self>;
}

impl Storage {
    /// The batched product of `self` (seen through `la`) and `rhs` (through `lb`).
    pub fn matmul(&self, la: &Layout, rhs: &Storage, lb: &Layout, batch: &[usize]) -> Storage {
        let s = self;
        on_device!("matmul", |wrap| [s, rhs] => s.matmul(la, rhs, lb, batch).map(wrap))
    }
}
