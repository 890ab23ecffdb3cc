//! The wgpu backend's storage: a buffer on one adapter, and its implementation of the
//! primitive operations. The implementations of the other interface traits sit beside this
//! file, one per family of operations, each with its kernels in WGSL.

mod conv;
mod index;
mod linear;
mod loss;
mod matmul;
mod norm;
mod optim;
mod pool;
mod random;
mod recurrent;
mod reduce;

use super::context::{expect_context, Context, GpuBuffer, Launch};
use super::kernel::{self, array_type, bytes_for, load_as, source, Meta, ENTRY};
use crate::backend::{BackendResult, PrimitiveOps};
use crate::core::{BinaryOp, DType, Device, Layout, UnaryOp};
use std::sync::Arc;

/// Tensor data on a wgpu adapter.
///
/// The buffer may be larger than the data (the pool rounds sizes up); `len` elements of
/// `dtype` are the data, laid out as [`kernel::bytes_for`] says.
pub struct WgpuStorage {
    pub(crate) buffer: Arc<GpuBuffer>,
    pub(crate) len: usize,
    pub(crate) dtype: DType,
}

impl std::fmt::Debug for WgpuStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "WgpuStorage({} x {} on {})",
            self.len,
            self.dtype,
            self.device()
        )
    }
}

impl Clone for WgpuStorage {
    /// A copy in a new buffer, as cloning a host buffer copies it.
    fn clone(&self) -> Self {
        let bytes = bytes_for(self.dtype, self.len);
        let buffer = crate::backend::expect_device(self.ctx().alloc(bytes));
        self.ctx()
            .copy(&self.buffer, 0, &buffer, 0, bytes.next_multiple_of(4));
        WgpuStorage {
            buffer,
            len: self.len,
            dtype: self.dtype,
        }
    }
}

/// The opened adapter of `device` (a `Device::Wgpu`), for storages made there.
pub(crate) fn ctx_for(device: Device) -> &'static Context {
    match device {
        Device::Wgpu(index) => expect_context(index),
        other => unreachable!("a wgpu storage made for {other}"),
    }
}

impl WgpuStorage {
    /// The opened adapter that holds the buffer.
    pub(crate) fn ctx(&self) -> &'static Context {
        self.buffer.ctx
    }

    /// A new storage of `len` elements of `dtype` on `ctx`, contents unset.
    pub(crate) fn empty(ctx: &'static Context, len: usize, dtype: DType) -> BackendResult<Self> {
        Self::check_dtype(ctx, dtype);
        Ok(WgpuStorage {
            buffer: ctx.alloc(bytes_for(dtype, len))?,
            len,
            dtype,
        })
    }

    /// f64 needs the adapter's `SHADER_F64`.
    fn check_dtype(ctx: &Context, dtype: DType) {
        if dtype == DType::F64 && !ctx.has_f64() {
            panic!(
                "{}: float64 tensors need an adapter with SHADER_F64, which {} lacks (compute in float32, or on the cpu)",
                ctx.device(),
                ctx.info.name
            );
        }
    }

    /// Uploads host bytes laid out as this backend holds `dtype`.
    pub(crate) fn upload(
        ctx: &'static Context,
        bytes: &[u8],
        len: usize,
        dtype: DType,
    ) -> BackendResult<Self> {
        Self::check_dtype(ctx, dtype);
        Ok(WgpuStorage {
            buffer: ctx.upload(bytes)?,
            len,
            dtype,
        })
    }

    /// The float type kernels compute this storage's data in.
    pub(crate) fn compute_dtype(&self, op: &str) -> DType {
        match self.dtype {
            DType::F32 | DType::F64 => self.dtype,
            other => panic!(
                "{op}: not implemented for {other} tensors on {} (compute in float32: .to_dtype(DType::F32))",
                self.device()
            ),
        }
    }

    /// Records one launch of a one-dimensional kernel over `threads` threads.
    pub(crate) fn run(
        ctx: &'static Context,
        key: &str,
        source: &dyn Fn() -> String,
        buffers: &[&Arc<GpuBuffer>],
        meta: Meta,
        threads: usize,
    ) {
        ctx.launch(Launch {
            key,
            source,
            buffers,
            meta: &meta.0,
            threads: kernel::to_u32(threads),
        });
    }

    /// What `layout` sees, row-major, in a new buffer of the same dtype (this storage when
    /// the view already is the whole buffer from its start).
    pub(crate) fn contiguous_view(&self, layout: &Layout) -> BackendResult<WgpuStorage> {
        let n = layout.numel();
        let ctx = self.ctx();
        let out = WgpuStorage::empty(ctx, n, self.dtype)?;
        if layout.is_contiguous() {
            // A straight copy, when its byte range is word-aligned.
            let start = bytes_for(self.dtype, layout.offset);
            let bytes = bytes_for(self.dtype, n);
            if start.is_multiple_of(4)
                && (bytes.is_multiple_of(4)
                    || start + bytes.next_multiple_of(4) <= self.buffer.size)
            {
                ctx.copy(
                    &self.buffer,
                    start,
                    &out.buffer,
                    0,
                    bytes.next_multiple_of(4),
                );
                return Ok(out);
            }
        }
        let meta = Meta::new().u(n).view(layout);
        match self.dtype {
            DType::F32 | DType::Bool => {
                let src = || {
                    source(DType::F32, &format!("{COPY_BINDINGS}{ENTRY}\n    dst[i] = src[strided_offset(1u, i)];\n}}\n"))
                };
                Self::run(ctx, "copy32", &src, &[&self.buffer, &out.buffer], meta, n);
            }
            DType::F64 | DType::I64 => {
                let src = || {
                    source(DType::F32, &format!("{COPY_BINDINGS}{ENTRY}\n    let o = strided_offset(1u, i);\n    dst[2u * i] = src[2u * o];\n    dst[2u * i + 1u] = src[2u * o + 1u];\n}}\n"))
                };
                Self::run(ctx, "copy64", &src, &[&self.buffer, &out.buffer], meta, n);
            }
            DType::F16 | DType::BF16 => {
                // One thread per output word, two elements each.
                let src = || {
                    source(
                        DType::F32,
                        &format!(
                            "{COPY_BINDINGS}{ENTRY_WORDS}
    var word = 0u;
    for (var j = 0u; j < 2u; j = j + 1u) {{
        let e = 2u * i + j;
        if (e < params[0]) {{
            let o = strided_offset(1u, e);
            let half = (src[o >> 1u] >> ((o & 1u) * 16u)) & 0xffffu;
            word = word | (half << (16u * j));
        }}
    }}
    dst[i] = word;
}}
"
                        ),
                    )
                };
                Self::run(
                    ctx,
                    "copy16",
                    &src,
                    &[&self.buffer, &out.buffer],
                    meta,
                    n.div_ceil(2),
                );
            }
        }
        Ok(out)
    }

    /// The host bytes of what `layout` sees, laid out as this backend holds the dtype.
    pub(crate) fn read_bytes(&self, layout: &Layout) -> BackendResult<Vec<u8>> {
        let flat = self.contiguous_view(layout)?;
        flat.ctx()
            .read(&flat.buffer, bytes_for(flat.dtype, flat.len))
    }

    /// This data as `dtype`, converted on the device.
    fn convert(&self, layout: &Layout, dtype: DType) -> BackendResult<WgpuStorage> {
        if dtype == self.dtype {
            return self.contiguous_view(layout);
        }
        let ctx = self.ctx();
        let n = layout.numel();
        let out = WgpuStorage::empty(ctx, n, dtype)?;
        // Through f64 when either side is f64, otherwise through f32 (which holds f16, bf16
        // and bool exactly, and integers up to 2^24).
        let via = if dtype == DType::F64 || self.dtype == DType::F64 {
            "f64"
        } else {
            "f32"
        };
        let compute = if via == "f64" { DType::F64 } else { DType::F32 };
        let from = self.dtype;
        let key = format!("convert_{}_{}", from.name(), dtype.name());
        let store = |v: &str, i: &str| -> String {
            match dtype {
                DType::F32 => format!("dst[{i}] = f32({v});"),
                DType::F64 => format!("dst[{i}] = f64({v});"),
                // NaN converts to true, as in PyTorch.
                DType::Bool => format!("dst[{i}] = select(0u, 1u, {v} != 0.0);"),
                DType::I64 => format!(
                    "let t = trunc({v});\n    // Saturating, NaN to 0, as Rust's `as i64` (what the cpu backend does).\n    if (t != t) {{\n        dst[2u * {i}] = 0u;\n        dst[2u * {i} + 1u] = 0u;\n    }} else if (t >= 9.2233720368547758e18) {{\n        dst[2u * {i}] = 0xffffffffu;\n        dst[2u * {i} + 1u] = 0x7fffffffu;\n    }} else if (t <= -9.2233720368547758e18) {{\n        dst[2u * {i}] = 0u;\n        dst[2u * {i} + 1u] = 0x80000000u;\n    }} else if (abs(t) < 2147483648.0) {{\n        dst[2u * {i}] = bitcast<u32>(i32(t));\n        dst[2u * {i} + 1u] = select(0u, 0xffffffffu, t < 0.0);\n    }} else {{\n        let hi = floor(t / 4294967296.0);\n        dst[2u * {i}] = u32(t - hi * 4294967296.0);\n        dst[2u * {i} + 1u] = bitcast<u32>(i32(hi));\n    }}"
                ),
                DType::F16 | DType::BF16 => unreachable!("packed stores are written below"),
            }
        };
        let body = match dtype {
            DType::F16 | DType::BF16 => {
                let pack = if dtype == DType::F16 {
                    "f32_to_f16_bits(lo) | (f32_to_f16_bits(hi) << 16u)"
                } else {
                    "bf16_bits(lo) | (bf16_bits(hi) << 16u)"
                };
                format!(
                    "{ENTRY_WORDS}
    let e = 2u * i;
    let lo = f32({lo});
    var hi = 0.0;
    if (e + 1u < params[0]) {{
        hi = f32({hi});
    }}
    dst[i] = {pack};
}}
",
                    lo = load_as(from, "src", "strided_offset(1u, e)", via),
                    hi = load_as(from, "src", "strided_offset(1u, e + 1u)", via),
                )
            }
            _ => format!(
                "{ENTRY}\n    let v = {};\n    {}\n}}\n",
                load_as(from, "src", "strided_offset(1u, i)", via),
                store("v", "i")
            ),
        };
        let text = format!(
            "@group(0) @binding(1) var<storage, read> src: {};\n@group(0) @binding(2) var<storage, read_write> dst: {};\n{}{BF16_BITS}{}{body}",
            array_type(from),
            array_type(dtype),
            kernel::i64_helpers(via),
            kernel::F16_BITS,
        );
        let threads = match dtype {
            DType::F16 | DType::BF16 => n.div_ceil(2),
            _ => n,
        };
        let src = || source(compute, &text);
        Self::run(
            ctx,
            &key,
            &src,
            &[&self.buffer, &out.buffer],
            Meta::new().u(n).view(layout),
            threads,
        );
        Ok(out)
    }

    /// A same-dtype source for an in-place write into `self`: `src` itself, or a copy when it
    /// shares `self`'s buffer (a kernel cannot read and write one buffer through two
    /// bindings), converted when its dtype differs.
    fn source_for_write(
        &self,
        src: &WgpuStorage,
        src_layout: &Layout,
    ) -> BackendResult<(WgpuStorage, Layout)> {
        if src.dtype != self.dtype {
            let c = src.convert(src_layout, self.dtype)?;
            return Ok((c, Layout::contiguous(src_layout.dims())));
        }
        if Arc::ptr_eq(&src.buffer, &self.buffer) {
            let c = src.contiguous_view(src_layout)?;
            return Ok((c, Layout::contiguous(src_layout.dims())));
        }
        Ok((src.shallow(), src_layout.clone()))
    }

    /// Another handle on the same buffer (no copy): for reading only.
    pub(crate) fn shallow(&self) -> WgpuStorage {
        WgpuStorage {
            buffer: self.buffer.clone(),
            len: self.len,
            dtype: self.dtype,
        }
    }
}

/// The two bindings of a copy: a source and a destination, as u32 words.
const COPY_BINDINGS: &str = "@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<storage, read_write> dst: array<u32>;
";

/// The entry point of a kernel with one thread per output word of a 16-bit type: `params[0]`
/// counts elements, and threads past its words stop.
pub(crate) const ENTRY_WORDS: &str = "@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>, @builtin(local_invocation_index) local: u32) {
    let i = thread_index(group, groups, local);
    if (2u * i >= params[0]) {
        return;
    }";

/// f32 to bfloat16 bits, rounding to nearest even, NaN kept quiet.
const BF16_BITS: &str = "fn bf16_bits(x: f32) -> u32 {
    let bits = bitcast<u32>(x);
    if ((bits & 0x7fffffffu) > 0x7f800000u) {
        return 0x7fc0u;
    }
    return (bits + 0x7fffu + ((bits >> 16u) & 1u)) >> 16u;
}
";

/// The kernel's number for a unary op, and its two scalars.
fn unary_code(op: UnaryOp) -> (u32, f32, f32) {
    use UnaryOp::*;
    match op {
        Neg => (0, 0.0, 0.0),
        Exp => (1, 0.0, 0.0),
        Log => (2, 0.0, 0.0),
        Log1p => (3, 0.0, 0.0),
        Sqrt => (4, 0.0, 0.0),
        Abs => (5, 0.0, 0.0),
        Sign => (6, 0.0, 0.0),
        Sigmoid => (7, 0.0, 0.0),
        Tanh => (8, 0.0, 0.0),
        Relu => (9, 0.0, 0.0),
        LeakyRelu(s) => (10, s, 0.0),
        Elu(a) => (11, a, 0.0),
        Gelu => (12, 0.0, 0.0),
        GeluTanh => (13, 0.0, 0.0),
        Softplus { beta, threshold } => (14, beta, threshold),
        Clamp(lo, hi) => (15, lo, hi),
        AddScalar(c) => (16, c, 0.0),
        MulScalar(c) => (17, c, 0.0),
        PowScalar(c) => (18, c, 0.0),
        ScalarPow(c) => (19, c, 0.0),
        ScalarDiv(c) => (20, c, 0.0),
        EqScalar(c) => (21, c, 0.0),
        GtScalar(c) => (22, c, 0.0),
        LtScalar(c) => (23, c, 0.0),
        Sin => (24, 0.0, 0.0),
        Cos => (25, 0.0, 0.0),
        Erf => (26, 0.0, 0.0),
        FiniteOrZero => (27, 0.0, 0.0),
    }
}

/// The kernel's number for a binary op, and its two scalars.
fn binary_code(op: BinaryOp) -> (u32, f32, f32) {
    use BinaryOp::*;
    match op {
        Add => (0, 0.0, 0.0),
        Sub => (1, 0.0, 0.0),
        Mul => (2, 0.0, 0.0),
        Div => (3, 0.0, 0.0),
        Pow => (4, 0.0, 0.0),
        Maximum => (5, 0.0, 0.0),
        Minimum => (6, 0.0, 0.0),
        Eq => (7, 0.0, 0.0),
        Ne => (8, 0.0, 0.0),
        Gt => (9, 0.0, 0.0),
        Ge => (10, 0.0, 0.0),
        Lt => (11, 0.0, 0.0),
        Le => (12, 0.0, 0.0),
        ReluBackward => (13, 0.0, 0.0),
        SigmoidBackward => (14, 0.0, 0.0),
        TanhBackward => (15, 0.0, 0.0),
        LeakyReluBackward(s) => (16, s, 0.0),
        EluBackward(a) => (17, a, 0.0),
        GeluBackward => (18, 0.0, 0.0),
        GeluTanhBackward => (19, 0.0, 0.0),
        SoftplusBackward { beta, threshold } => (20, beta, threshold),
        ClampBackward(lo, hi) => (21, lo, hi),
    }
}

const ELEMENTWISE: &str = include_str!("../shaders/elementwise.wgsl");

/// The bits of `value` as `dtype` holds it, for fills: (low word, high word) — equal for
/// 32-bit types, the two halves of a 64-bit value, or the 16-bit value twice.
fn fill_words(value: f64, dtype: DType) -> (u32, u32) {
    use crate::backend::cpu::CpuStorage;
    let one = CpuStorage::full(Device::Cpu, 1, value, dtype)
        .and_then(|c| c.to_host_bits(&Layout::contiguous([1])));
    let mut host = crate::backend::expect_device(one);
    if dtype == DType::Bool {
        // A bool is one byte on the host, one word here.
        host.resize(4, 0);
    }
    match host.len() {
        2 => {
            let h = u16::from_le_bytes([host[0], host[1]]) as u32;
            (h | (h << 16), h | (h << 16))
        }
        4 => {
            let w = u32::from_le_bytes([host[0], host[1], host[2], host[3]]);
            (w, w)
        }
        _ => (
            u32::from_le_bytes([host[0], host[1], host[2], host[3]]),
            u32::from_le_bytes([host[4], host[5], host[6], host[7]]),
        ),
    }
}

impl PrimitiveOps for WgpuStorage {
    fn device(&self) -> Device {
        self.ctx().device()
    }

    fn len(&self) -> usize {
        self.len
    }

    fn dtype(&self) -> DType {
        self.dtype
    }

    fn from_host(device: Device, data: Vec<f32>) -> BackendResult<Self> {
        Self::upload(
            ctx_for(device),
            bytemuck::cast_slice(&data),
            data.len(),
            DType::F32,
        )
    }

    fn from_host_i64(device: Device, data: Vec<i64>) -> BackendResult<Self> {
        Self::upload(
            ctx_for(device),
            bytemuck::cast_slice(&data),
            data.len(),
            DType::I64,
        )
    }

    fn to_host(&self, layout: &Layout) -> BackendResult<Vec<f32>> {
        let flat = if self.dtype == DType::F32 {
            self.contiguous_view(layout)?
        } else {
            self.convert(layout, DType::F32)?
        };
        let bytes = flat
            .ctx()
            .read(&flat.buffer, bytes_for(DType::F32, flat.len))?;
        Ok(bytemuck::pod_collect_to_vec(&bytes))
    }

    fn to_host_i64(&self, layout: &Layout) -> BackendResult<Vec<i64>> {
        let flat = self.convert(layout, DType::I64)?;
        let bytes = flat
            .ctx()
            .read(&flat.buffer, bytes_for(DType::I64, flat.len))?;
        Ok(bytemuck::pod_collect_to_vec(&bytes))
    }

    fn from_host_f64(device: Device, data: Vec<f64>) -> BackendResult<Self> {
        Self::upload(
            ctx_for(device),
            bytemuck::cast_slice(&data),
            data.len(),
            DType::F64,
        )
    }

    fn to_host_f64(&self, layout: &Layout) -> BackendResult<Vec<f64>> {
        if self.dtype == DType::F64 {
            let bytes = self.read_bytes(layout)?;
            return Ok(bytemuck::pod_collect_to_vec(&bytes));
        }
        // Every other type is exact in f32 except i64, which goes through the host.
        if self.dtype == DType::I64 {
            return Ok(self
                .to_host_i64(layout)?
                .into_iter()
                .map(|v| v as f64)
                .collect());
        }
        Ok(self.to_host(layout)?.into_iter().map(f64::from).collect())
    }

    fn from_host_bool(device: Device, data: Vec<bool>) -> BackendResult<Self> {
        let words: Vec<u32> = data.iter().map(|&b| b as u32).collect();
        Self::upload(
            ctx_for(device),
            bytemuck::cast_slice(&words),
            data.len(),
            DType::Bool,
        )
    }

    fn to_host_bits(&self, layout: &Layout) -> BackendResult<Vec<u8>> {
        let bytes = self.read_bytes(layout)?;
        Ok(match self.dtype {
            // A bool is one byte on the host, one word here.
            DType::Bool => bytes.chunks_exact(4).map(|w| (w[0] != 0) as u8).collect(),
            _ => bytes,
        })
    }

    fn from_host_bits(device: Device, bytes: &[u8], dtype: DType) -> BackendResult<Self> {
        let len = bytes.len() / dtype.size_in_bytes();
        let ctx = ctx_for(device);
        if dtype == DType::Bool {
            let words: Vec<u32> = bytes.iter().map(|&b| (b != 0) as u32).collect();
            return Self::upload(ctx, bytemuck::cast_slice(&words), len, dtype);
        }
        Self::upload(ctx, bytes, len, dtype)
    }

    fn full(device: Device, numel: usize, value: f64, dtype: DType) -> BackendResult<Self> {
        let ctx = ctx_for(device);
        let out = WgpuStorage::empty(ctx, numel, dtype)?;
        let words = bytes_for(dtype, numel).div_ceil(4) as usize;
        let (lo, hi) = fill_words(value, dtype);
        let text = format!(
            "@group(0) @binding(1) var<storage, read_write> dst: array<u32>;
{ENTRY}
    dst[i] = select(params[1], params[2], (i & 1u) == 1u);
}}
"
        );
        let s = || source(DType::F32, &text);
        let meta = Meta::new().u(words).u(lo as usize).u(hi as usize);
        WgpuStorage::run(ctx, "fill", &s, &[&out.buffer], meta, words);
        Ok(out)
    }

    fn unary(&self, layout: &Layout, op: UnaryOp) -> BackendResult<Self> {
        let t = self.compute_dtype("unary");
        let n = layout.numel();
        let out = WgpuStorage::empty(self.ctx(), n, t)?;
        let (code, a, b) = unary_code(op);
        let src = || {
            source(
                t,
                &format!(
                    "{ELEMENTWISE}
@group(0) @binding(1) var<storage, read> x: array<T>;
@group(0) @binding(2) var<storage, read_write> y: array<T>;
{ENTRY}
    y[i] = unary(params[1], x[strided_offset(4u, i)], scalar(2u), scalar(3u));
}}
"
                ),
            )
        };
        let meta = Meta::new().u(n).u(code as usize).f(a).f(b).view(layout);
        Self::run(
            self.ctx(),
            &format!("unary_{}", t.name()),
            &src,
            &[&self.buffer, &out.buffer],
            meta,
            n,
        );
        Ok(out)
    }

    fn binary(
        &self,
        la: &Layout,
        rhs: &Self,
        lb: &Layout,
        out_dims: &[usize],
        op: BinaryOp,
    ) -> BackendResult<Self> {
        let t = self.compute_dtype("binary");
        assert_eq!(rhs.dtype, t, "binary: operands of one dtype");
        let n: usize = out_dims.iter().product();
        let out = WgpuStorage::empty(self.ctx(), n, t)?;
        let (code, p, q) = binary_code(op);
        let sa = la.broadcast_strides(out_dims, "binary");
        let sb = lb.broadcast_strides(out_dims, "binary");
        let src = || {
            source(t, &format!("{ELEMENTWISE}
@group(0) @binding(1) var<storage, read> a: array<T>;
@group(0) @binding(2) var<storage, read> b: array<T>;
@group(0) @binding(3) var<storage, read_write> y: array<T>;
{ENTRY}
    let second = 4u + view_words(4u);
    y[i] = binary(params[1], a[strided_offset(4u, i)], b[strided_offset(second, i)], scalar(2u), scalar(3u));
}}
"))
        };
        let meta = Meta::new()
            .u(n)
            .u(code as usize)
            .f(p)
            .f(q)
            .view_with(out_dims, &sa, la.offset)
            .view_with(out_dims, &sb, lb.offset);
        Self::run(
            self.ctx(),
            &format!("binary_{}", t.name()),
            &src,
            &[&self.buffer, &rhs.buffer, &out.buffer],
            meta,
            n,
        );
        Ok(out)
    }

    fn contiguous(&self, layout: &Layout) -> BackendResult<Self> {
        self.contiguous_view(layout)
    }

    fn to_dtype(&self, layout: &Layout, dtype: DType) -> BackendResult<Self> {
        WgpuStorage::check_dtype(self.ctx(), dtype);
        self.convert(layout, dtype)
    }

    fn where_cond(
        cond: (&Self, &Layout),
        a: (&Self, &Layout),
        b: (&Self, &Layout),
        out_dims: &[usize],
    ) -> BackendResult<Self> {
        let t = a.0.compute_dtype("where");
        assert_eq!(b.0.dtype, t, "where: branches of one dtype");
        let n: usize = out_dims.iter().product();
        let ctx = a.0.ctx();
        let out = WgpuStorage::empty(ctx, n, t)?;
        let cd = cond.0.dtype;
        let text = format!(
            "{}{}
@group(0) @binding(1) var<storage, read> c: {};
@group(0) @binding(2) var<storage, read> a: array<T>;
@group(0) @binding(3) var<storage, read> b: array<T>;
@group(0) @binding(4) var<storage, read_write> y: array<T>;
{ENTRY}
    let va = 1u + view_words(1u);
    let vb = va + view_words(va);
    let keep = {} != 0.0;
    y[i] = select(b[strided_offset(vb, i)], a[strided_offset(va, i)], keep);
}}
",
            kernel::i64_helpers("f32"),
            kernel::F16_BITS,
            array_type(cd),
            load_as(cd, "c", "strided_offset(1u, i)", "f32"),
        );
        let src = || source(t, &text);
        let view = |l: &Layout| (l.broadcast_strides(out_dims, "where"), l.offset);
        let (sc, oc) = view(cond.1);
        let (sa, oa) = view(a.1);
        let (sb, ob) = view(b.1);
        let meta = Meta::new()
            .u(n)
            .view_with(out_dims, &sc, oc)
            .view_with(out_dims, &sa, oa)
            .view_with(out_dims, &sb, ob);
        Self::run(
            ctx,
            &format!("where_{}_{}", cd.name(), t.name()),
            &src,
            &[&cond.0.buffer, &a.0.buffer, &b.0.buffer, &out.buffer],
            meta,
            n,
        );
        Ok(out)
    }

    fn masked_fill(
        &self,
        layout: &Layout,
        mask: &Self,
        mask_view: &Layout,
        value: f32,
    ) -> BackendResult<Self> {
        let t = self.compute_dtype("masked_fill");
        let n = layout.numel();
        let ctx = self.ctx();
        let out = WgpuStorage::empty(ctx, n, t)?;
        let md = mask.dtype;
        let text = format!(
            "{}{}
@group(0) @binding(1) var<storage, read> x: array<T>;
@group(0) @binding(2) var<storage, read> m: {};
@group(0) @binding(3) var<storage, read_write> y: array<T>;
{ENTRY}
    let vm = 2u + view_words(2u);
    let hit = {} != 0.0;
    y[i] = select(x[strided_offset(2u, i)], scalar(1u), hit);
}}
",
            kernel::i64_helpers("f32"),
            kernel::F16_BITS,
            array_type(md),
            load_as(md, "m", "strided_offset(vm, i)", "f32"),
        );
        let src = || source(t, &text);
        let meta = Meta::new().u(n).f(value).view(layout).view(mask_view);
        Self::run(
            ctx,
            &format!("masked_fill_{}_{}", md.name(), t.name()),
            &src,
            &[&self.buffer, &mask.buffer, &out.buffer],
            meta,
            n,
        );
        Ok(out)
    }

    fn copy_rows_to_host(
        &self,
        layout: &Layout,
        rows: &[usize],
        out: &mut Vec<f32>,
    ) -> BackendResult<()> {
        // Reads the whole view back once; a data loader keeps its data on the host, so this
        // is the rare case of a dataset that lives on the GPU.
        let dims = layout.dims();
        let row = dims.iter().skip(1).product::<usize>();
        let data = self.to_host(layout)?;
        out.clear();
        for &r in rows {
            out.extend_from_slice(&data[r * row..(r + 1) * row]);
        }
        Ok(())
    }

    fn take_host_buffer(&mut self) -> Option<Vec<f32>> {
        None
    }

    fn data_ptr(&self) -> usize {
        Arc::as_ptr(&self.buffer) as usize
    }

    fn assign(&mut self, view: &Layout, src: &Self, src_layout: &Layout) -> BackendResult<()> {
        let (src, src_layout) = self.source_for_write(src, src_layout)?;
        let n = view.numel();
        let meta = Meta::new().u(n).view(view).view(&src_layout);
        let ctx = self.ctx();
        let body = match self.dtype {
            DType::F32 | DType::Bool => "    dst[strided_offset(1u, i)] = src[strided_offset(1u + view_words(1u), i)];",
            DType::F64 | DType::I64 => "    let d = strided_offset(1u, i);\n    let s = strided_offset(1u + view_words(1u), i);\n    dst[2u * d] = src[2u * s];\n    dst[2u * d + 1u] = src[2u * s + 1u];",
            DType::F16 | DType::BF16 => "    let d = strided_offset(1u, i);\n    let s = strided_offset(1u + view_words(1u), i);\n    let half = (src[s >> 1u] >> ((s & 1u) * 16u)) & 0xffffu;\n    let shift = (d & 1u) * 16u;\n    // Two threads may write the two halves of one word.\n    atomicAnd(&dst[d >> 1u], ~(0xffffu << shift));\n    atomicOr(&dst[d >> 1u], half << shift);",
        };
        let dst_type = match self.dtype {
            DType::F16 | DType::BF16 => "array<atomic<u32>>",
            _ => "array<u32>",
        };
        let key = format!("assign_{}", kernel::bytes_for(self.dtype, 2));
        let text = format!(
            "@group(0) @binding(1) var<storage, read> src: array<u32>;\n@group(0) @binding(2) var<storage, read_write> dst: {dst_type};\n{ENTRY}\n{body}\n}}\n"
        );
        let s = || source(DType::F32, &text);
        Self::run(ctx, &key, &s, &[&src.buffer, &self.buffer], meta, n);
        Ok(())
    }

    fn add_assign(&mut self, view: &Layout, src: &Self, src_layout: &Layout) -> BackendResult<()> {
        let t = self.compute_dtype("add_assign");
        let (src, src_layout) = self.source_for_write(src, src_layout)?;
        let n = view.numel();
        let meta = Meta::new().u(n).view(view).view(&src_layout);
        let text = format!(
            "@group(0) @binding(1) var<storage, read> src: array<T>;\n@group(0) @binding(2) var<storage, read_write> dst: array<T>;\n{ENTRY}\n    let d = strided_offset(1u, i);\n    dst[d] = dst[d] + src[strided_offset(1u + view_words(1u), i)];\n}}\n"
        );
        let s = || source(t, &text);
        Self::run(
            self.ctx(),
            &format!("add_assign_{}", t.name()),
            &s,
            &[&src.buffer, &self.buffer],
            meta,
            n,
        );
        Ok(())
    }
}
