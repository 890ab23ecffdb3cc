//! Failures of a device, as opposed to mistakes in the program: the backend reports them and
//! the boundary surfaces them with the device's name and the size asked for.

use crate::core::Device;

/// A device could not do what was asked.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BackendError {
    /// An allocation did not fit in the device's memory.
    #[error("{device}: out of memory: tried to allocate {bytes} bytes")]
    OutOfMemory {
        /// The device asked.
        device: Device,
        /// The size asked for.
        bytes: usize,
    },
    /// The device stopped answering (a driver reset, an unplugged GPU).
    #[error("{device}: device lost: {message}")]
    DeviceLost {
        /// The device lost.
        device: Device,
        /// What the driver said.
        message: String,
    },
}

/// The result of a backend operation.
pub type BackendResult<T> = Result<T, BackendError>;
