//! Storage of tensor data, one variant per device, and the dispatch from device-independent
//! operations to each backend's kernels. Only `Cpu` exists today; a `Cuda` variant slots in
//! beside it without changes to autograd or the layers.

pub mod cpu;
pub mod ops;

pub use ops::{BinaryOp, UnaryOp};

use crate::tensor::Layout;

/// Where a tensor's data lives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Device {
    /// Main memory, computed by the CPU backend.
    #[default]
    Cpu,
}

/// A flat buffer of f32 on one device.
#[derive(Clone, Debug)]
pub enum Storage {
    /// A buffer in main memory.
    Cpu(Vec<f32>),
}

impl Storage {
    /// The device holding the data.
    pub fn device(&self) -> Device {
        match self {
            Storage::Cpu(_) => Device::Cpu,
        }
    }

    /// The buffer's length in elements.
    pub fn len(&self) -> usize {
        match self {
            Storage::Cpu(v) => v.len(),
        }
    }

    /// True for an empty buffer.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Host-side view of the data.
    pub fn as_slice(&self) -> &[f32] {
        match self {
            Storage::Cpu(v) => v,
        }
    }

    /// Mutable host-side view of the data.
    pub fn as_mut_slice(&mut self) -> &mut [f32] {
        match self {
            Storage::Cpu(v) => v,
        }
    }

    /// Applies a pointwise function; the result is row-major.
    pub fn unary(&self, layout: &Layout, op: UnaryOp) -> Storage {
        match self {
            Storage::Cpu(v) => Storage::Cpu(cpu::elementwise::unary_map(v, layout, |x| op.apply(x))),
        }
    }

    /// Applies a broadcasting pointwise function of two operands; the result is row-major.
    pub fn binary(&self, la: &Layout, rhs: &Storage, lb: &Layout, out_dims: &[usize], op: BinaryOp) -> Storage {
        match (self, rhs) {
            (Storage::Cpu(a), Storage::Cpu(b)) => {
                Storage::Cpu(cpu::elementwise::binary_map(a, la, b, lb, out_dims, |x, y| op.apply(x, y)))
            }
        }
    }

    /// A row-major copy of what `layout` sees.
    pub fn contiguous(&self, layout: &Layout) -> Storage {
        match self {
            Storage::Cpu(v) => Storage::Cpu(cpu::strided::to_contiguous(v, layout)),
        }
    }
}
