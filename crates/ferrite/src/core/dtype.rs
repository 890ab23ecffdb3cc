//! Element types, and PyTorch's rules for the type of an op that mixes them.

use std::fmt;

/// The type of a tensor's elements.
///
/// Float tensors compute in `F32` (the default) or `F64` (every CPU op; `gradcheck` works in
/// it). `F16` and `BF16` are storage types on the CPU: convert to f32 to compute (GPU
/// backends compute in them). `I64` holds class targets and the indices that reductions and
/// pooling save for their gradients; `Bool` holds masks.
///
/// ```
/// use ferrite::DType;
/// assert_eq!(DType::promote(DType::I64, DType::F32), DType::F32);
/// assert_eq!(DType::promote(DType::F16, DType::BF16), DType::F32);
/// assert_eq!(DType::F64.to_string(), "float64");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum DType {
    /// 32-bit IEEE float (`torch.float32`), the default.
    #[default]
    F32,
    /// 64-bit IEEE float (`torch.float64`).
    F64,
    /// 16-bit IEEE float (`torch.float16`).
    F16,
    /// bfloat16 (`torch.bfloat16`): f32's exponent range with 8 bits of precision.
    BF16,
    /// 64-bit signed integer (`torch.int64`, PyTorch's type for class indices).
    I64,
    /// Boolean (`torch.bool`), for masks.
    Bool,
}

/// The three kinds PyTorch's promotion orders types by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Category {
    Bool,
    Integer,
    Float,
}

impl DType {
    /// Every dtype, in declaration order.
    pub const ALL: [DType; 6] = [
        DType::F32,
        DType::F64,
        DType::F16,
        DType::BF16,
        DType::I64,
        DType::Bool,
    ];

    /// Bytes per element.
    pub fn size_in_bytes(self) -> usize {
        match self {
            DType::F32 => 4,
            DType::F64 | DType::I64 => 8,
            DType::F16 | DType::BF16 => 2,
            DType::Bool => 1,
        }
    }

    /// True for floating-point types.
    pub fn is_float(self) -> bool {
        self.category() == Category::Float
    }

    fn category(self) -> Category {
        match self {
            DType::Bool => Category::Bool,
            DType::I64 => Category::Integer,
            _ => Category::Float,
        }
    }

    /// The type two tensors of these types combine to (PyTorch's `promote_types`): the
    /// higher category (bool < integer < float) wins, and within floats the wider type;
    /// f16 with bf16 gives f32, which holds both.
    pub fn promote(a: DType, b: DType) -> DType {
        use DType::*;
        if a == b {
            return a;
        }
        match (a.category(), b.category()) {
            (x, y) if x > y => a,
            (x, y) if x < y => b,
            // Two different floats.
            _ => match (a, b) {
                (F64, _) | (_, F64) => F64,
                _ => F32,
            },
        }
    }

    /// The type of an op on operands `(dtype, is_zero_dim)` (PyTorch's `result_type` for
    /// tensors): dimensioned operands decide; a zero-dimensional operand counts only when its
    /// category is higher than theirs (`int64 tensor + float64 scalar tensor` is float64,
    /// `float16 tensor + float64 scalar tensor` stays float16).
    pub fn result_type(a: (DType, bool), b: (DType, bool)) -> DType {
        match (a.1, b.1) {
            (false, true) if b.0.category() <= a.0.category() => a.0,
            (true, false) if a.0.category() <= b.0.category() => b.0,
            _ => DType::promote(a.0, b.0),
        }
    }

    /// PyTorch's name without the `torch.` prefix.
    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "float32",
            DType::F64 => "float64",
            DType::F16 => "float16",
            DType::BF16 => "bfloat16",
            DType::I64 => "int64",
            DType::Bool => "bool",
        }
    }
}

impl fmt::Display for DType {
    /// PyTorch's short names: `float32`, `int64`, ...
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
