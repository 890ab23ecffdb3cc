//! The CPU implementation of [`crate::backend::RandomOps`]: the samples are written straight
//! into the new buffer.

use super::{try_zeroed, CpuStorage};
use crate::backend::cpu::optim::fill_with;
use crate::backend::{BackendResult, Generator, RandomOps};
use crate::core::Device;

impl RandomOps for CpuStorage {
    fn uniform(
        _device: Device,
        numel: usize,
        low: f32,
        high: f32,
        gen: &mut Generator,
    ) -> BackendResult<Self> {
        let mut data = try_zeroed(numel)?;
        fill_with(&mut data, || low + (high - low) * gen.uniform());
        Ok(CpuStorage::from_vec(data))
    }

    fn normal(
        _device: Device,
        numel: usize,
        mean: f32,
        std: f32,
        gen: &mut Generator,
    ) -> BackendResult<Self> {
        let mut data = try_zeroed(numel)?;
        fill_with(&mut data, || mean + std * gen.normal());
        Ok(CpuStorage::from_vec(data))
    }
}
