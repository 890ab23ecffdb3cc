//! The CPU implementation of [`crate::backend::PoolOps`] on the kernels of `cpu/pool.rs`.

use super::CpuStorage;
use crate::backend::cpu::pool;
use crate::backend::{BackendResult, PoolOps};
use crate::core::{AvgDivisor, Layout, PoolGeometry};

impl PoolOps for CpuStorage {
    fn max_pool2d(&self, layout: &Layout, geo: &PoolGeometry) -> BackendResult<(Self, Self)> {
        let (out, argmax) = pool::max_pool2d_forward(&self.view(layout), geo);
        // The kernel keeps plane positions in u32 (half the memory traffic); the index
        // storage every backend shares is i64.
        let argmax = argmax.into_iter().map(i64::from).collect();
        Ok((CpuStorage::from_vec(out), CpuStorage::from_indices(argmax)))
    }

    fn max_pool2d_backward(
        &self,
        layout: &Layout,
        argmax: (&Self, &Layout),
        geo: &PoolGeometry,
    ) -> BackendResult<Self> {
        // Every position fits: `max_pool2d` made them from u32.
        let argmax: Vec<u32> = argmax
            .0
            .index_view(argmax.1)
            .iter()
            .map(|&a| a as u32)
            .collect();
        Ok(CpuStorage::from_vec(pool::max_pool2d_backward(
            &self.view(layout),
            &argmax,
            geo,
        )))
    }

    fn avg_pool2d(
        &self,
        layout: &Layout,
        geo: &PoolGeometry,
        divisor: AvgDivisor,
    ) -> BackendResult<Self> {
        Ok(CpuStorage::from_vec(pool::avg_pool2d_forward(
            &self.view(layout),
            geo,
            divisor,
        )))
    }

    fn avg_pool2d_backward(
        &self,
        layout: &Layout,
        geo: &PoolGeometry,
        divisor: AvgDivisor,
    ) -> BackendResult<Self> {
        Ok(CpuStorage::from_vec(pool::avg_pool2d_backward(
            &self.view(layout),
            geo,
            divisor,
        )))
    }

    fn adaptive_avg_pool2d(
        &self,
        layout: &Layout,
        planes: usize,
        in_size: [usize; 2],
        out_size: [usize; 2],
    ) -> BackendResult<Self> {
        Ok(CpuStorage::from_vec(pool::adaptive_avg_pool2d_forward(
            &self.view(layout),
            planes,
            in_size,
            out_size,
        )))
    }

    fn adaptive_avg_pool2d_backward(
        &self,
        layout: &Layout,
        planes: usize,
        in_size: [usize; 2],
        out_size: [usize; 2],
    ) -> BackendResult<Self> {
        Ok(CpuStorage::from_vec(pool::adaptive_avg_pool2d_backward(
            &self.view(layout),
            planes,
            in_size,
            out_size,
        )))
    }
}
