//! Building kernels: the WGSL text of a kernel (prelude, scalar math for its float type, then
//! the kernel's own code) and its parameter block.

use crate::core::{DType, Layout};

const PRELUDE: &str = include_str!("shaders/prelude.wgsl");
const MATH_F32: &str = include_str!("shaders/math_f32.wgsl");
const MATH_F64: &str = include_str!("shaders/math_f64.wgsl");
const MATH_COMMON: &str = include_str!("shaders/math_common.wgsl");

/// The full WGSL source of a kernel that computes in `compute` (f32 or f64): `T` is that
/// type, and the prelude's helpers and the scalar math (`t_exp`, `t_log`, …) come first.
pub(crate) fn source(compute: DType, body: &str) -> String {
    let (alias, math) = match compute {
        DType::F64 => ("alias T = f64;\n", MATH_F64),
        _ => ("alias T = f32;\n", MATH_F32),
    };
    format!("{alias}{PRELUDE}\n{math}\n{MATH_COMMON}\n{body}")
}

/// The entry point every one-dimensional kernel opens with: `i` is the thread's element, and
/// threads past `params[0]` stop.
pub(crate) const ENTRY: &str = "@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>, @builtin(local_invocation_index) local: u32) {
    let i = thread_index(group, groups, local);
    if (i >= params[0]) {
        return;
    }";

/// A kernel's parameter block, as u32 words.
#[derive(Default, Debug, Clone)]
pub(crate) struct Meta(pub Vec<u32>);

impl Meta {
    /// An empty block.
    pub(crate) fn new() -> Self {
        Meta(Vec::new())
    }
    /// Appends a count or an index (which must fit in 32 bits: buffers are far smaller).
    pub(crate) fn u(mut self, v: usize) -> Self {
        self.0.push(to_u32(v));
        self
    }
    /// Appends a float scalar, as its f32 bits.
    pub(crate) fn f(mut self, v: f32) -> Self {
        self.0.push(v.to_bits());
        self
    }
    /// Appends a view: rank, offset, sizes, strides (what `strided_offset` reads).
    pub(crate) fn view(mut self, layout: &Layout) -> Self {
        self.0.push(to_u32(layout.dims().len()));
        self.0.push(to_u32(layout.offset));
        self.0.extend(layout.dims().iter().map(|&d| to_u32(d)));
        self.0.extend(layout.strides.iter().map(|&s| to_u32(s)));
        self
    }
    /// Appends a view of `dims` with explicit strides (broadcast operands).
    pub(crate) fn view_with(mut self, dims: &[usize], strides: &[usize], offset: usize) -> Self {
        self.0.push(to_u32(dims.len()));
        self.0.push(to_u32(offset));
        self.0.extend(dims.iter().map(|&d| to_u32(d)));
        self.0.extend(strides.iter().map(|&s| to_u32(s)));
        self
    }
}

/// A size or index as a kernel word. Buffers are bounded by the device's binding limit (at
/// most a few GiB), so element positions fit in 32 bits.
pub(crate) fn to_u32(v: usize) -> u32 {
    u32::try_from(v).unwrap_or_else(|_| panic!("wgpu: index {v} does not fit in 32 bits"))
}

/// How a buffer of `dtype` holds its elements, in u32 words: `F32` as f32, `F64` as f64,
/// `I64` as (low, high) u32 pairs, `Bool` as one u32 (0 or 1), and `F16`/`BF16` packed two
/// to a word.
pub(crate) fn bytes_for(dtype: DType, len: usize) -> u64 {
    let bytes = match dtype {
        DType::F32 | DType::Bool => 4 * len,
        DType::F64 | DType::I64 => 8 * len,
        DType::F16 | DType::BF16 => 2 * len,
    };
    bytes as u64
}

/// The WGSL array type a kernel declares for a buffer of `dtype`.
pub(crate) fn array_type(dtype: DType) -> &'static str {
    match dtype {
        DType::F32 => "array<f32>",
        DType::F64 => "array<f64>",
        _ => "array<u32>",
    }
}

/// A WGSL expression reading element `offset` of buffer `name` of `dtype` as the float type
/// `to` (`"f32"`, `"f64"` or `"T"`).
pub(crate) fn load_as(dtype: DType, name: &str, offset: &str, to: &str) -> String {
    match dtype {
        DType::F32 | DType::F64 | DType::Bool => format!("{to}({name}[{offset}])"),
        DType::I64 => format!("i64_to_float_{to}({name}[2u * ({offset})], {name}[2u * ({offset}) + 1u])"),
        DType::F16 => format!(
            "{to}(f16_bits_to_f32(({name}[({offset}) >> 1u] >> ((({offset}) & 1u) * 16u)) & 0xffffu))"
        ),
        DType::BF16 => format!(
            "{to}(bitcast<f32>((({name}[({offset}) >> 1u] >> ((({offset}) & 1u) * 16u)) & 0xffffu) << 16u))"
        ),
    }
}

/// WGSL helpers that `load_as` for I64 uses, for the float type `to`.
pub(crate) fn i64_helpers(to: &str) -> String {
    format!(
        "fn i64_to_float_{to}(lo: u32, hi: u32) -> {to} {{
    // Values that fit in 32 bits convert exactly through i32.
    if ((hi == 0u && lo < 0x80000000u) || (hi == 0xffffffffu && lo >= 0x80000000u)) {{
        return {to}(bitcast<i32>(lo));
    }}
    return {to}(bitcast<i32>(hi)) * {to}(4294967296.0) + {to}(lo);
}}
"
    )
}

/// WGSL conversions between f32 and IEEE half-precision bits, written out because WGSL's
/// `pack2x16float` needs a capability not every adapter has. Rounding is to nearest even,
/// as the `half` crate rounds on the CPU.
pub(crate) const F16_BITS: &str = "fn f16_bits_to_f32(h: u32) -> f32 {
    let s = (h >> 15u) & 1u;
    let e = (h >> 10u) & 0x1fu;
    let m = h & 0x3ffu;
    if (e == 0u) {
        let v = f32(m) * 5.9604644775390625e-8;
        return select(v, -v, s == 1u);
    }
    if (e == 31u) {
        return bitcast<f32>((s << 31u) | 0x7f800000u | (m << 13u));
    }
    return bitcast<f32>((s << 31u) | ((e + 112u) << 23u) | (m << 13u));
}
fn f32_to_f16_bits(x: f32) -> u32 {
    let b = bitcast<u32>(x);
    let s = (b >> 16u) & 0x8000u;
    let a = b & 0x7fffffffu;
    if (a > 0x7f800000u) {
        return s | 0x7e00u;
    }
    if (a >= 0x477ff000u) {
        return s | 0x7c00u;
    }
    if (a < 0x38800000u) {
        // Subnormal: the value in units of 2^-24, rounded half to even.
        return s | u32(round(bitcast<f32>(a) * 16777216.0));
    }
    let e = a - (112u << 23u);
    return s | ((e + 0xfffu + ((e >> 13u) & 1u)) >> 13u);
}
";
