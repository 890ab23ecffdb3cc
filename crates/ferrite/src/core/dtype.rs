//! Element types.

use std::fmt;

/// The type of a tensor's elements.
///
/// Float tensors compute in `F32`; integer tensors (`I64`) hold class targets and the indices
/// that reductions and pooling save for their gradients, as in PyTorch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DType {
    /// 32-bit IEEE float (PyTorch's `torch.float32`), the default.
    F32,
    /// 64-bit signed integer (`torch.int64`, PyTorch's type for class indices).
    I64,
}

impl DType {
    /// Bytes per element.
    pub fn size_in_bytes(self) -> usize {
        match self {
            DType::F32 => 4,
            DType::I64 => 8,
        }
    }

    /// True for floating-point types.
    pub fn is_float(self) -> bool {
        matches!(self, DType::F32)
    }
}

impl fmt::Display for DType {
    /// PyTorch's short names: `float32`, `int64`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DType::F32 => "float32",
            DType::I64 => "int64",
        })
    }
}
