//! Pooling: max, average and adaptive average pooling over 2-D planes, forward and backward.
//! Each `Storage` method dispatches to the backend that holds the data.

use super::{on_device, BackendResult, Storage};
use crate::core::{AvgDivisor, Layout, PoolGeometry};

/// Pooling over `geo.planes` planes of `in_size`, input seen through its layout (row-major
/// `(N·C, H, W)`); results are row-major buffers.
pub trait PoolOps: Sized {
    /// Max pooling: the pooled values and, as an index buffer, the position `y·W + x` inside
    /// its plane of each window's maximum (a NaN wins; of equal values the first one).
    fn max_pool2d(&self, layout: &Layout, geo: &PoolGeometry) -> BackendResult<(Self, Self)>;

    /// The input gradient of max pooling: each output gradient of `self` added to its
    /// arg-max input (`argmax` as [`PoolOps::max_pool2d`] returned it).
    fn max_pool2d_backward(
        &self,
        layout: &Layout,
        argmax: (&Self, &Layout),
        geo: &PoolGeometry,
    ) -> BackendResult<Self>;

    /// Average pooling: each window's sum over the divisor `divisor` chooses.
    fn avg_pool2d(
        &self,
        layout: &Layout,
        geo: &PoolGeometry,
        divisor: AvgDivisor,
    ) -> BackendResult<Self>;

    /// The input gradient of average pooling for the output gradient `self`.
    fn avg_pool2d_backward(
        &self,
        layout: &Layout,
        geo: &PoolGeometry,
        divisor: AvgDivisor,
    ) -> BackendResult<Self>;

    /// Adaptive average pooling of `planes` planes of `in_size` to `out_size` (PyTorch's
    /// windows `⌊i·H/out⌋ .. ⌈(i+1)·H/out⌉`).
    fn adaptive_avg_pool2d(
        &self,
        layout: &Layout,
        planes: usize,
        in_size: [usize; 2],
        out_size: [usize; 2],
    ) -> BackendResult<Self>;

    /// The input gradient of adaptive average pooling for the output gradient `self`.
    fn adaptive_avg_pool2d_backward(
        &self,
        layout: &Layout,
        planes: usize,
        in_size: [usize; 2],
        out_size: [usize; 2],
    ) -> BackendResult<Self>;
}

impl Storage {
    /// Max pooling of `self`: the pooled values and the index storage of each window's
    /// arg-max (its position inside its plane).
    pub fn max_pool2d(&self, layout: &Layout, geo: &PoolGeometry) -> (Storage, Storage) {
        let s = self;
        on_device!("max_pool2d", |wrap| [s] => {
            s.max_pool2d(layout, geo).map(|(out, argmax)| (wrap(out), wrap(argmax)))
        })
    }

    /// The input gradient of max pooling for the output gradient `self`.
    pub fn max_pool2d_backward(
        &self,
        layout: &Layout,
        argmax: (&Storage, &Layout),
        geo: &PoolGeometry,
    ) -> Storage {
        let (s, a) = (self, argmax.0);
        on_device!("max_pool2d_backward", |wrap| [s, a] => {
            s.max_pool2d_backward(layout, (a, argmax.1), geo).map(wrap)
        })
    }

    /// Average pooling of `self` with the divisor rule `divisor`.
    pub fn avg_pool2d(&self, layout: &Layout, geo: &PoolGeometry, divisor: AvgDivisor) -> Storage {
        let s = self;
        on_device!("avg_pool2d", |wrap| [s] => s.avg_pool2d(layout, geo, divisor).map(wrap))
    }

    /// The input gradient of average pooling for the output gradient `self`.
    pub fn avg_pool2d_backward(
        &self,
        layout: &Layout,
        geo: &PoolGeometry,
        divisor: AvgDivisor,
    ) -> Storage {
        let s = self;
        on_device!("avg_pool2d_backward", |wrap| [s] => {
            s.avg_pool2d_backward(layout, geo, divisor).map(wrap)
        })
    }

    /// Adaptive average pooling of `self` from `in_size` to `out_size`.
    pub fn adaptive_avg_pool2d(
        &self,
        layout: &Layout,
        planes: usize,
        in_size: [usize; 2],
        out_size: [usize; 2],
    ) -> Storage {
        let s = self;
        on_device!("adaptive_avg_pool2d", |wrap| [s] => {
            s.adaptive_avg_pool2d(layout, planes, in_size, out_size).map(wrap)
        })
    }

    /// The input gradient of adaptive average pooling for the output gradient `self`.
    pub fn adaptive_avg_pool2d_backward(
        &self,
        layout: &Layout,
        planes: usize,
        in_size: [usize; 2],
        out_size: [usize; 2],
    ) -> Storage {
        let s = self;
        on_device!("adaptive_avg_pool2d_backward", |wrap| [s] => {
            s.adaptive_avg_pool2d_backward(layout, planes, in_size, out_size).map(wrap)
        })
    }
}
