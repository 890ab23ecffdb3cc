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
#[cfg(feature = "wgpu")]
pub(crate) mod wgpu;

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

#[cfg(feature = "wgpu")]
use self::wgpu::WgpuStorage;
use cpu::CpuStorage;

/// A tensor's data on one device: a flat buffer that layouts look into.
#[derive(Clone, Debug)]
pub enum Storage {
    /// A buffer in main memory, computed by the CPU backend.
    Cpu(CpuStorage),
    /// A buffer on a wgpu adapter, computed by its WGSL kernels.
    #[cfg(feature = "wgpu")]
    Wgpu(WgpuStorage),
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
                $crate::backend::on_device!(@arm Cpu, $op, |$wrap| [$lead $(, $other)*] $(? [$($opt),*])? => $body)
            }
            #[cfg(feature = "wgpu")]
            $crate::backend::Storage::Wgpu($lead) => {
                $crate::backend::on_device!(@arm Wgpu, $op, |$wrap| [$lead $(, $other)*] $(? [$($opt),*])? => $body)
            }
        }
    }};
    (@arm $variant:ident, $op:expr, |$wrap:ident| [$lead:ident $(, $other:ident)*] $(? [$($opt:ident),*])? => $body:expr) => {{
        #[allow(unused_variables)]
        let $wrap = $crate::backend::Storage::$variant;
        #[allow(unused_variables)]
        let here = $crate::backend::PrimitiveOps::device(&*$lead);
        $(
            #[allow(unreachable_patterns)]
            let $other = {
                let there = $other.device();
                match $other {
                    $crate::backend::Storage::$variant(s) if there == here => s,
                    _ => $crate::backend::device_mismatch($op, here, there),
                }
            };
        )*
        $($(
            #[allow(unreachable_patterns)]
            let $opt = $opt.map(|o| {
                let there = o.device();
                match o {
                    $crate::backend::Storage::$variant(s) if there == here => s,
                    _ => $crate::backend::device_mismatch($op, here, there),
                }
            });
        )*)?
        $crate::backend::expect_device($body)
    }};
}
pub(crate) use on_device;

/// Runs `$body` with the type `$t` bound to the storage type of the backend for `$device`,
/// and `$wrap` to the constructor that turns it into a [`Storage`]: how data is made on a
/// device.
macro_rules! on_new_device {
    ($device:expr, |$t:ident, $wrap:ident| $body:expr) => {{
        match $device {
            $crate::core::Device::Cpu => {
                type $t = $crate::backend::cpu::CpuStorage;
                let $wrap = $crate::backend::Storage::Cpu;
                $crate::backend::expect_device($body)
            }
            #[cfg(feature = "wgpu")]
            $crate::core::Device::Wgpu(_) => {
                type $t = $crate::backend::wgpu::WgpuStorage;
                let $wrap = $crate::backend::Storage::Wgpu;
                $crate::backend::expect_device($body)
            }
            #[cfg(not(feature = "wgpu"))]
            $crate::core::Device::Wgpu(_) => $crate::backend::no_wgpu(),
        }
    }};
}
pub(crate) use on_new_device;

/// The error for a wgpu device in a build without the `wgpu` feature.
#[cfg(not(feature = "wgpu"))]
#[cold]
#[track_caller]
pub(crate) fn no_wgpu() -> ! {
    panic!(
        "this build of ferrite has no wgpu backend: build with the `wgpu` feature (on by default)"
    )
}

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
            #[cfg(feature = "wgpu")]
            Storage::Wgpu(s) => s.device(),
        }
    }

    /// The buffer's length in elements.
    pub fn len(&self) -> usize {
        match self {
            Storage::Cpu(s) => s.len(),
            #[cfg(feature = "wgpu")]
            Storage::Wgpu(s) => s.len(),
        }
    }

    /// True for an empty buffer.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Device {
    /// Whether this device can be used on this machine: always for the CPU; for a wgpu
    /// adapter, when wgpu lists it and it opens. The error says what is missing and how to
    /// get it (a GPU driver, or Mesa's software Vulkan).
    ///
    /// ```
    /// assert!(ferrite::Device::Cpu.check_available().is_ok());
    /// ```
    pub fn check_available(&self) -> Result<(), String> {
        match self {
            Device::Cpu => Ok(()),
            #[cfg(feature = "wgpu")]
            Device::Wgpu(index) => self::wgpu::context(*index).map(|_| ()),
            #[cfg(not(feature = "wgpu"))]
            Device::Wgpu(_) => Err(
                "this build of ferrite has no wgpu backend: build with the `wgpu` feature (on by default)"
                    .to_string(),
            ),
        }
    }

    /// Waits until the device has finished every operation issued so far (PyTorch's
    /// `torch.cuda.synchronize`): GPU work is queued and runs asynchronously, so a timing
    /// must wait for it. A no-op on the CPU, which computes as ops are called.
    pub fn synchronize(&self) {
        match self {
            Device::Cpu => {}
            #[cfg(feature = "wgpu")]
            Device::Wgpu(index) => {
                if let Ok(ctx) = self::wgpu::context(*index) {
                    expect_device(ctx.synchronize());
                }
            }
            #[cfg(not(feature = "wgpu"))]
            Device::Wgpu(_) => {}
        }
    }

    /// The hardware behind the device, for reports: the CPU's, or the adapter's name and the
    /// graphics API wgpu reaches it through.
    pub fn description(&self) -> String {
        match self {
            Device::Cpu => "cpu".to_string(),
            #[cfg(feature = "wgpu")]
            Device::Wgpu(index) => match self::wgpu::context(*index) {
                Ok(ctx) => format!(
                    "{} ({:?}, {:?})",
                    ctx.info.name, ctx.info.backend, ctx.info.device_type
                ),
                Err(e) => e,
            },
            #[cfg(not(feature = "wgpu"))]
            Device::Wgpu(index) => format!("wgpu:{index} (not built)"),
        }
    }
}
