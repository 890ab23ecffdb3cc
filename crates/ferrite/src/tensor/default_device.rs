//! The device new tensors are made on when none is named (PyTorch's
//! `torch.set_default_device`): the CPU, unless `FERRITE_DEVICE` (`cpu`, `wgpu`, `wgpu:N`)
//! or [`set_default_device`] says otherwise. Running a program (or a test suite) with
//! `FERRITE_DEVICE=wgpu` runs it on the GPU without changing its code.

use crate::core::Device;
use std::sync::{Mutex, OnceLock};

fn slot() -> &'static Mutex<Device> {
    static DEFAULT: OnceLock<Mutex<Device>> = OnceLock::new();
    DEFAULT.get_or_init(|| {
        let device = match std::env::var("FERRITE_DEVICE") {
            Ok(name) if !name.trim().is_empty() => match name.parse::<Device>() {
                Ok(d) => d,
                Err(e) => panic!("FERRITE_DEVICE: {e}"),
            },
            _ => Device::Cpu,
        };
        Mutex::new(device)
    })
}

/// The device creation functions use when none is named.
///
/// ```
/// // The CPU unless FERRITE_DEVICE or set_default_device changed it.
/// let d = ferrite::default_device();
/// assert_eq!(ferrite::Tensor::zeros([2]).device(), d);
/// ```
pub fn default_device() -> Device {
    *slot().lock().unwrap_or_else(|e| e.into_inner())
}

/// Makes `device` the one creation functions use when none is named, for the whole process.
pub fn set_default_device(device: Device) {
    *slot().lock().unwrap_or_else(|e| e.into_inner()) = device;
}
