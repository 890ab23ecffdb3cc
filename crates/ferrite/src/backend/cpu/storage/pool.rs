//! The CPU implementation of [`crate::backend::PoolOps`] on the kernels of `cpu/pool.rs`,
//! in the input's float type.

use super::{float_dispatch, CpuStorage, Element};
use crate::backend::cpu::pool;
use crate::backend::{BackendResult, PoolOps};
use crate::core::{AvgDivisor, Layout, PoolGeometry};

impl PoolOps for CpuStorage {
    fn max_pool2d(&self, layout: &Layout, geo: &PoolGeometry) -> BackendResult<(Self, Self)> {
        float_dispatch!("max_pool2d", self.dtype(), |T| {
            // The kernel writes the plane positions straight into the i64 index storage.
            let (out, argmax) = pool::max_pool2d_forward(&self.view_as::<T>(layout), geo);
            Ok((T::wrap(out), CpuStorage::from_indices(argmax)))
        })
    }

    fn max_pool2d_backward(
        &self,
        layout: &Layout,
        argmax: (&Self, &Layout),
        geo: &PoolGeometry,
    ) -> BackendResult<Self> {
        let argmax = argmax.0.index_view(argmax.1);
        float_dispatch!("max_pool2d_backward", self.dtype(), |T| {
            Ok(T::wrap(pool::max_pool2d_backward(
                &self.view_as::<T>(layout),
                &argmax,
                geo,
            )))
        })
    }

    fn avg_pool2d(
        &self,
        layout: &Layout,
        geo: &PoolGeometry,
        divisor: AvgDivisor,
    ) -> BackendResult<Self> {
        float_dispatch!("avg_pool2d", self.dtype(), |T| {
            Ok(T::wrap(pool::avg_pool2d_forward(
                &self.view_as::<T>(layout),
                geo,
                divisor,
            )))
        })
    }

    fn avg_pool2d_backward(
        &self,
        layout: &Layout,
        geo: &PoolGeometry,
        divisor: AvgDivisor,
    ) -> BackendResult<Self> {
        float_dispatch!("avg_pool2d_backward", self.dtype(), |T| {
            Ok(T::wrap(pool::avg_pool2d_backward(
                &self.view_as::<T>(layout),
                geo,
                divisor,
            )))
        })
    }

    fn adaptive_avg_pool2d(
        &self,
        layout: &Layout,
        planes: usize,
        in_size: [usize; 2],
        out_size: [usize; 2],
    ) -> BackendResult<Self> {
        float_dispatch!("adaptive_avg_pool2d", self.dtype(), |T| {
            Ok(T::wrap(pool::adaptive_avg_pool2d_forward(
                &self.view_as::<T>(layout),
                planes,
                in_size,
                out_size,
            )))
        })
    }

    fn adaptive_avg_pool2d_backward(
        &self,
        layout: &Layout,
        planes: usize,
        in_size: [usize; 2],
        out_size: [usize; 2],
    ) -> BackendResult<Self> {
        float_dispatch!("adaptive_avg_pool2d_backward", self.dtype(), |T| {
            Ok(T::wrap(pool::adaptive_avg_pool2d_backward(
                &self.view_as::<T>(layout),
                planes,
                in_size,
                out_size,
            )))
        })
    }
}
