//! Reductions: folds over chosen dimensions, extrema with their indices, scans along one
//! dimension, and softmax / log-softmax along one dimension.

use super::{on_device, BackendResult, Storage};
use crate::core::{Layout, ReduceKind, ScanKind};

/// Reductions. Results are row-major.
pub trait ReduceOps: Sized {
    /// The fold `kind` over the dimensions flagged in `mask`, in the keepdim shape (sums
    /// accumulate in f64 where the backend can).
    fn reduce(&self, layout: &Layout, mask: &[bool], kind: ReduceKind) -> BackendResult<Self>;
    /// The largest (or smallest) value of each lane along `dim` and its index (an index
    /// storage): the first extreme wins, and NaN counts as the extreme, as in PyTorch.
    fn arg_reduce(&self, layout: &Layout, dim: usize, largest: bool)
        -> BackendResult<(Self, Self)>;
    /// The scan `kind` along `dim`, same shape.
    fn scan(&self, layout: &Layout, dim: usize, kind: ScanKind) -> BackendResult<Self>;
    /// `e^(x − m) / Σ e^(x − m)` along `dim` (or its log, `x − m − log Σ e^(x − m)`), with
    /// `m` the lane's finite max.
    fn softmax(&self, layout: &Layout, dim: usize, log: bool) -> BackendResult<Self>;
}

impl Storage {
    /// The fold `kind` over the dimensions in `mask`, in the keepdim shape.
    pub fn reduce(&self, layout: &Layout, mask: &[bool], kind: ReduceKind) -> Storage {
        let s = self;
        on_device!("reduce", |wrap| [s] => s.reduce(layout, mask, kind).map(wrap))
    }

    /// The extreme of each lane along `dim` and its index.
    pub fn arg_reduce(&self, layout: &Layout, dim: usize, largest: bool) -> (Storage, Storage) {
        let s = self;
        on_device!("max", |wrap| [s] => {
            s.arg_reduce(layout, dim, largest).map(|(v, i)| (wrap(v), wrap(i)))
        })
    }

    /// The scan `kind` along `dim`.
    pub fn scan(&self, layout: &Layout, dim: usize, kind: ScanKind) -> Storage {
        let s = self;
        on_device!("scan", |wrap| [s] => s.scan(layout, dim, kind).map(wrap))
    }

    /// Softmax (or log-softmax) along `dim`.
    pub fn softmax(&self, layout: &Layout, dim: usize, log: bool) -> Storage {
        let s = self;
        on_device!("softmax", |wrap| [s] => s.softmax(layout, dim, log).map(wrap))
    }
}
