//! The backend boundary. [`Storage`] holds a tensor's data on one device and dispatches every
//! operation the crate runs to the backend that holds it; each backend implements the
//! interface traits below (one file per family of operations). Nothing outside `backend/`
//! sees a raw buffer: `tensor`, `nn`, `optim`, `train` and `data` reach data only through
//! `Storage`'s methods, which take and return storages and [`Layout`]s.
//!
//! A new device is one new variant of [`Storage`] (and of [`Device`]), one arm in
//! [`on_device!`], and one implementation of the traits.

mod conv;
pub(crate) mod cpu;
mod error;
mod index;
mod linear;
mod loss;
mod matmul;
mod norm;
mod optim;
mod pool;
mod primitive;
mod random;
mod recurrent;
mod reduce;

pub use crate::core::{BinaryOp, Device, UnaryOp};
pub use conv::ConvOps;
pub use error::{BackendError, BackendResult};
pub use index::IndexOps;
pub use linear::LinearOps;
pub use loss::{ClassDims, ClassIndexOptions, LossOps, LossOutput, LossRequest};
pub use matmul::MatmulOps;
pub use norm::NormOps;
pub use optim::{AdagradStep, AdamStep, OptimOps, RmspropStep, SgdStep};
pub use pool::PoolOps;
pub use primitive::PrimitiveOps;
pub use random::{Generator, RandomOps};
pub use recurrent::RecurrentOps;
pub use reduce::ReduceOps;

use cpu::CpuStorage;

/// A tensor's data on one device: a flat buffer that layouts look into.
#[derive(Clone, Debug)]
pub enum Storage {
    /// A buffer in main memory, computed by the CPU backend.
    Cpu(CpuStorage),
}

/// Every interface a backend implements: the whole set of operations the crate runs.
pub trait BackendStorage:
    PrimitiveOps
    + ConvOps
    + IndexOps
    + LinearOps
    + LossOps
    + MatmulOps
    + NormOps
    + OptimOps
    + PoolOps
    + RandomOps
    + RecurrentOps
    + ReduceOps
{
}

impl<T> BackendStorage for T where
    T: PrimitiveOps
        + ConvOps
        + IndexOps
        + LinearOps
        + LossOps
        + MatmulOps
        + NormOps
        + OptimOps
        + PoolOps
        + RandomOps
        + RecurrentOps
        + ReduceOps
{
}

/// Runs `$body` on the backend that holds `$lead`, with the other named storages (and the
/// optional ones after `?`) rebound to that backend's type, and `$wrap` bound to the
/// constructor that turns that backend's storage back into a [`Storage`]. Inputs on another
/// device are an error naming both devices, as in PyTorch.
macro_rules! on_device {
    ($op:expr, |$wrap:ident| [$lead:ident $(, $other:ident)*] $(? [$($opt:ident),*])? => $body:expr) => {{
        match $lead {
            $crate::backend::Storage::Cpu($lead) => {
                #[allow(unused_variables)]
                let $wrap = $crate::backend::Storage::Cpu;
                $(
                    #[allow(unreachable_patterns)]
                    let $other = match $other {
                        $crate::backend::Storage::Cpu(s) => s,
                        s => $crate::backend::device_mismatch($op, $crate::core::Device::Cpu, s.device()),
                    };
                )*
                $($(
                    #[allow(unreachable_patterns)]
                    let $opt = $opt.map(|o| match o {
                        $crate::backend::Storage::Cpu(s) => s,
                        s => $crate::backend::device_mismatch($op, $crate::core::Device::Cpu, s.device()),
                    });
                )*)?
                $crate::backend::expect_device($body)
            }
        }
    }};
}
pub(crate) use on_device;

/// The error for inputs on two devices (a programming error, as PyTorch raises).
#[cold]
#[track_caller]
pub(crate) fn device_mismatch(op: &str, a: Device, b: Device) -> ! {
    panic!("{op}: expected all tensors to be on the same device, but found at least two devices, {a} and {b}")
}

/// Surfaces a device failure (out of memory, a lost device) at the boundary, with the
/// message that names the device and what was asked for.
#[track_caller]
pub(crate) fn expect_device<T>(result: BackendResult<T>) -> T {
    match result {
        Ok(v) => v,
        Err(e) => panic!("{e}"),
    }
}

impl Storage {
    /// The device holding the data.
    pub fn device(&self) -> Device {
        match self {
            Storage::Cpu(s) => s.device(),
        }
    }

    /// The buffer's length in elements.
    pub fn len(&self) -> usize {
        match self {
            Storage::Cpu(s) => s.len(),
        }
    }

    /// True for an empty buffer.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
