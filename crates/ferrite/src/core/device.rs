//! Where a tensor's data lives.

use std::fmt;

/// The device that holds a tensor's data and runs the operations on it.
///
/// Creation functions use [`Device::Cpu`] unless told otherwise; `tensor.to(&device)` moves
/// data. An operation whose inputs live on different devices is an error naming both.
///
/// ```
/// use ferrite::{Device, Tensor};
/// let t = Tensor::zeros([2, 3]);
/// assert_eq!(t.device(), Device::Cpu);
/// assert_eq!(Device::Cpu.to_string(), "cpu");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Device {
    /// Main memory, computed by the CPU backend.
    #[default]
    Cpu,
    /// GPU adapter number `n` as wgpu lists it ([`crate::wgpu_adapters`]), computed by the
    /// wgpu backend's WGSL kernels. Written `wgpu:n` (`wgpu` alone is `wgpu:0`).
    Wgpu(usize),
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Device::Cpu => write!(f, "cpu"),
            Device::Wgpu(n) => write!(f, "wgpu:{n}"),
        }
    }
}

impl std::str::FromStr for Device {
    type Err = String;

    /// `cpu`, `wgpu` (adapter 0) or `wgpu:N`.
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        match s {
            "cpu" => return Ok(Device::Cpu),
            "wgpu" | "gpu" => return Ok(Device::Wgpu(0)),
            _ => {}
        }
        if let Some(n) = s.strip_prefix("wgpu:") {
            return n.parse().map(Device::Wgpu).map_err(|_| {
                format!("device `{s}`: the adapter number after `wgpu:` must be a whole number, as in wgpu:0")
            });
        }
        Err(format!(
            "unknown device `{s}`: expected cpu, wgpu or wgpu:N"
        ))
    }
}
