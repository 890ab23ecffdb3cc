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
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Device::Cpu => write!(f, "cpu"),
        }
    }
}
