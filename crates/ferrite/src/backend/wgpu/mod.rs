//! The GPU backend on wgpu: one implementation of the backend interface in WGSL compute
//! shaders, which wgpu runs on NVIDIA, AMD and Intel GPUs through Vulkan, on Apple GPUs
//! through Metal and on Windows through DX12 (and, in CI, on Mesa's software Vulkan).
//!
//! Data layout on the device: f32 and f64 as themselves (f64 needs `SHADER_F64`), i64 as
//! pairs of u32 words (low, high), bool as one u32 word, f16 and bf16 packed two to a word.
//! Kernels compute in f32 or f64; f16 and bf16 are storage types converted on the device.
//! Transcendental functions in f64 are computed in software (see `shaders/math_f64.wgsl`),
//! since Vulkan's built-ins take 32-bit floats only.

mod context;
mod kernel;
mod storage;

pub(crate) use context::context;
pub use context::{adapters, GpuAdapter};
pub use storage::WgpuStorage;
