//! The wgpu implementation of [`crate::backend::RandomOps`]. The samples come from the
//! shared host [`Generator`] and are uploaded, so a seed gives the same numbers on every
//! device: a model initialised on the GPU starts exactly where the same model on the CPU
//! does, and the two train side by side to the same values.

use super::{ctx_for, WgpuStorage};
use crate::backend::{BackendResult, Generator, RandomOps};
use crate::core::{DType, Device};

impl RandomOps for WgpuStorage {
    fn uniform(
        device: Device,
        numel: usize,
        low: f32,
        high: f32,
        gen: &mut Generator,
    ) -> BackendResult<Self> {
        let data: Vec<f32> = (0..numel)
            .map(|_| low + (high - low) * gen.uniform())
            .collect();
        WgpuStorage::upload(
            ctx_for(device),
            bytemuck::cast_slice(&data),
            numel,
            DType::F32,
        )
    }

    fn normal(
        device: Device,
        numel: usize,
        mean: f32,
        std: f32,
        gen: &mut Generator,
    ) -> BackendResult<Self> {
        let data: Vec<f32> = (0..numel).map(|_| mean + std * gen.normal()).collect();
        WgpuStorage::upload(
            ctx_for(device),
            bytemuck::cast_slice(&data),
            numel,
            DType::F32,
        )
    }
}
