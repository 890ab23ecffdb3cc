//! The CPU backend's storage: a buffer in main memory, and its implementation of the primitive
//! operations on today's kernels. The implementations of the other interface traits sit
//! beside this file, one per family of operations.

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

use super::{elementwise, index as index_kernels, strided};
use crate::backend::{BackendError, BackendResult, PrimitiveOps};
use crate::core::{BinaryOp, DType, Device, Layout, UnaryOp};
use std::borrow::Cow;

/// Tensor data in main memory, one variant per element type.
#[derive(Clone, Debug)]
pub enum CpuStorage {
    /// 32-bit floats: the default, and what f16 and bf16 data compute in.
    F32(Vec<f32>),
    /// 64-bit floats: every op runs in them (gradcheck works in f64).
    F64(Vec<f64>),
    /// IEEE half precision, a storage type (smaller model files, GPU compute).
    F16(Vec<half::f16>),
    /// bfloat16, a storage type.
    BF16(Vec<half::bf16>),
    /// 64-bit integers: class targets and saved indices.
    I64(Vec<i64>),
    /// Booleans: masks.
    Bool(Vec<bool>),
}

/// Runs `$body` with `$v` bound to the buffer of whatever element type `$s` holds, and
/// `$wrap` to that variant's constructor.
macro_rules! each_dtype {
    ($s:expr, |$v:ident, $wrap:ident| $body:expr) => {
        match $s {
            CpuStorage::F32($v) => {
                #[allow(unused_variables)]
                let $wrap = CpuStorage::F32;
                $body
            }
            CpuStorage::F64($v) => {
                #[allow(unused_variables)]
                let $wrap = CpuStorage::F64;
                $body
            }
            CpuStorage::F16($v) => {
                #[allow(unused_variables)]
                let $wrap = CpuStorage::F16;
                $body
            }
            CpuStorage::BF16($v) => {
                #[allow(unused_variables)]
                let $wrap = CpuStorage::BF16;
                $body
            }
            CpuStorage::I64($v) => {
                #[allow(unused_variables)]
                let $wrap = CpuStorage::I64;
                $body
            }
            CpuStorage::Bool($v) => {
                #[allow(unused_variables)]
                let $wrap = CpuStorage::Bool;
                $body
            }
        }
    };
}

/// Runs `$body` with the type `$t` bound to the float type `$dtype` computes in (`f32` or
/// `f64`), so that a generic kernel is written once. Other types are a bug in the caller,
/// reported naming the op: the tensor layer converts f16 and bf16 to f32 before computing.
macro_rules! float_dispatch {
    ($op:expr, $dtype:expr, |$t:ident| $body:expr) => {
        match $dtype {
            $crate::core::DType::F32 => {
                type $t = f32;
                $body
            }
            $crate::core::DType::F64 => {
                type $t = f64;
                $body
            }
            other => panic!(
                "{}: not implemented for {other} tensors on the cpu (compute in float32 or float64: .to_dtype(DType::F32))",
                $op
            ),
        }
    };
}
pub(crate) use float_dispatch;

/// An element type a CPU buffer can hold: how to find its buffer in a [`CpuStorage`], and
/// how to convert it (through f64, which holds every value of the other types exactly,
/// except integers beyond 2⁵³).
pub(crate) trait Element: Copy + Default + Send + Sync + std::fmt::Debug + 'static {
    /// The dtype of a buffer of this type.
    const DTYPE: DType;
    /// This value as an f64 (`true` is 1).
    fn to_f64(self) -> f64;
    /// An f64 converted to this type: rounding for floats, truncation toward zero for
    /// integers (as PyTorch's `.long()`), `x ≠ 0` for booleans.
    fn from_f64(v: f64) -> Self;
    /// The buffer, when `s` holds this type.
    fn slice(s: &CpuStorage) -> Option<&[Self]>;
    /// The buffer, writable, when `s` holds this type.
    fn slice_mut(s: &mut CpuStorage) -> Option<&mut [Self]>;
    /// A storage holding `v`.
    fn wrap(v: Vec<Self>) -> CpuStorage;
}

macro_rules! element {
    ($t:ty, $variant:ident, $dtype:ident, |$x:ident| $to:expr, |$y:ident| $from:expr) => {
        impl Element for $t {
            const DTYPE: DType = DType::$dtype;
            #[inline(always)]
            fn to_f64(self) -> f64 {
                let $x = self;
                $to
            }
            #[inline(always)]
            fn from_f64($y: f64) -> Self {
                $from
            }
            fn slice(s: &CpuStorage) -> Option<&[Self]> {
                match s {
                    CpuStorage::$variant(v) => Some(v),
                    _ => None,
                }
            }
            fn slice_mut(s: &mut CpuStorage) -> Option<&mut [Self]> {
                match s {
                    CpuStorage::$variant(v) => Some(v),
                    _ => None,
                }
            }
            fn wrap(v: Vec<Self>) -> CpuStorage {
                CpuStorage::$variant(v)
            }
        }
    };
}

element!(f32, F32, F32, |x| x as f64, |y| y as f32);
element!(f64, F64, F64, |x| x, |y| y);
element!(
    half::f16,
    F16,
    F16,
    |x| x.to_f64(),
    |y| half::f16::from_f64(y)
);
element!(half::bf16, BF16, BF16, |x| x.to_f64(), |y| {
    half::bf16::from_f64(y)
});
element!(i64, I64, I64, |x| x as f64, |y| y as i64);
element!(bool, Bool, Bool, |x| x as u8 as f64, |y| y != 0.0);

/// The float types kernels compute in, with their buffers.
pub(crate) trait CpuFloat: Element + crate::core::Float {}
impl CpuFloat for f32 {}
impl CpuFloat for f64 {}

/// `src` seen through `layout`, row-major, converted to `D` through f64.
fn convert<S: Element, D: Element>(src: &[S], layout: &Layout) -> Vec<D> {
    strided::contiguous_cow(src, layout)
        .iter()
        .map(|&x| D::from_f64(x.to_f64()))
        .collect()
}

/// What `layout` sees of `s`, row-major, as `D`: a plain copy for the same type.
fn convert_storage<D: Element>(s: &CpuStorage, layout: &Layout) -> Vec<D> {
    if let Some(v) = D::slice(s) {
        return strided::to_contiguous(v, layout);
    }
    each_dtype!(s, |v, _wrap| convert(v, layout))
}

impl CpuStorage {
    /// Wraps a host buffer of floats.
    pub(crate) fn from_vec(data: Vec<f32>) -> CpuStorage {
        CpuStorage::F32(data)
    }

    /// Wraps a host buffer of indices.
    pub(crate) fn from_indices(data: Vec<i64>) -> CpuStorage {
        CpuStorage::I64(data)
    }

    /// The element type.
    pub(crate) fn dtype(&self) -> DType {
        match self {
            CpuStorage::F32(_) => DType::F32,
            CpuStorage::F64(_) => DType::F64,
            CpuStorage::F16(_) => DType::F16,
            CpuStorage::BF16(_) => DType::BF16,
            CpuStorage::I64(_) => DType::I64,
            CpuStorage::Bool(_) => DType::Bool,
        }
    }

    /// The whole buffer as `T`. Another type here is a bug in the caller (the tensor layer
    /// checks dtypes before it dispatches).
    #[track_caller]
    pub(crate) fn data<T: Element>(&self) -> &[T] {
        T::slice(self)
            .unwrap_or_else(|| panic!("expected {} data, found {}", T::DTYPE, self.dtype()))
    }

    /// The whole buffer as `T`, writable.
    #[track_caller]
    pub(crate) fn data_mut<T: Element>(&mut self) -> &mut [T] {
        let found = self.dtype();
        T::slice_mut(self).unwrap_or_else(|| panic!("expected {} data, found {found}", T::DTYPE))
    }

    /// What `layout` sees as `T`, row-major: borrowed when the buffer holds `T` row-major,
    /// copied otherwise. A buffer of another type is converted when `T` holds every value of
    /// it exactly (f32, f16, bf16, integers and booleans read as f64; f16, bf16 and booleans
    /// as f32): so a float64 op can take float32 constants, as PyTorch promotes them. A
    /// narrowing read is a bug in the caller and panics naming both types.
    #[track_caller]
    pub(crate) fn view_as<T: Element>(&self, layout: &Layout) -> Cow<'_, [T]> {
        if let Some(v) = T::slice(self) {
            return strided::contiguous_cow(v, layout);
        }
        let from = self.dtype();
        let widens = match T::DTYPE {
            DType::F64 => from != DType::F64,
            DType::F32 => matches!(from, DType::F16 | DType::BF16 | DType::Bool),
            _ => false,
        };
        assert!(
            widens,
            "expected {} data, found {from}: convert with to_dtype first",
            T::DTYPE
        );
        Cow::Owned(convert_storage(self, layout))
    }

    /// The whole buffer of f32.
    #[track_caller]
    pub(crate) fn f32(&self) -> &[f32] {
        self.data::<f32>()
    }

    /// The whole buffer of indices.
    #[track_caller]
    pub(crate) fn i64(&self) -> &[i64] {
        self.data::<i64>()
    }

    /// What `layout` sees of a float buffer, row-major: borrowed when it already is, copied
    /// otherwise.
    #[track_caller]
    pub(crate) fn view(&self, layout: &Layout) -> Cow<'_, [f32]> {
        strided::contiguous_cow(self.f32(), layout)
    }

    /// What `layout` sees of an index buffer, row-major.
    #[track_caller]
    pub(crate) fn index_view(&self, layout: &Layout) -> Cow<'_, [i64]> {
        strided::contiguous_cow(self.i64(), layout)
    }
}

/// A zero-filled host buffer, or the out-of-memory error that names its size.
pub(crate) fn try_zeroed(numel: usize) -> BackendResult<Vec<f32>> {
    try_filled(numel, 0.0)
}

/// `numel` copies of `value`, or the out-of-memory error that names the size.
pub(crate) fn try_filled(numel: usize, value: f32) -> BackendResult<Vec<f32>> {
    let oom = || BackendError::OutOfMemory {
        device: Device::Cpu,
        bytes: numel.saturating_mul(std::mem::size_of::<f32>()),
    };
    numel
        .checked_mul(std::mem::size_of::<f32>())
        .filter(|&b| b <= isize::MAX as usize)
        .ok_or_else(oom)?;
    let mut v = Vec::new();
    v.try_reserve_exact(numel).map_err(|_| oom())?;
    v.resize(numel, value);
    Ok(v)
}

/// Evaluates `$body` with `$f` bound to the scalar function of the unary op `$op`, as a closure
/// whose variant is fixed at compile time: each kernel loop is then compiled for one function
/// (vectorised, no `match` per element). Variants not listed run through the generic closure.
macro_rules! with_unary_fn {
    ($op:expr, |$f:ident| $body:expr) => {{
        use $crate::core::UnaryOp as U;
        match $op {
            U::Neg => {
                let $f = |x: f32| -x;
                $body
            }
            U::Exp => {
                let $f = |x: f32| x.exp();
                $body
            }
            U::Log => {
                let $f = |x: f32| x.ln();
                $body
            }
            U::Sqrt => {
                let $f = |x: f32| x.sqrt();
                $body
            }
            U::Abs => {
                let $f = |x: f32| x.abs();
                $body
            }
            U::Sigmoid => {
                let $f = |x: f32| U::Sigmoid.apply(x);
                $body
            }
            U::Tanh => {
                let $f = |x: f32| x.tanh();
                $body
            }
            U::Relu => {
                let $f = |x: f32| U::Relu.apply(x);
                $body
            }
            U::LeakyRelu(s) => {
                let $f = move |x: f32| U::LeakyRelu(s).apply(x);
                $body
            }
            U::AddScalar(c) => {
                let $f = move |x: f32| x + c;
                $body
            }
            U::MulScalar(c) => {
                let $f = move |x: f32| x * c;
                $body
            }
            U::PowScalar(c) if c == 2.0 => {
                let $f = |x: f32| x * x;
                $body
            }
            U::ScalarDiv(c) => {
                let $f = move |x: f32| c / x;
                $body
            }
            U::Clamp(lo, hi) => {
                let $f = move |x: f32| U::Clamp(lo, hi).apply(x);
                $body
            }
            U::EqScalar(c) => {
                let $f = move |x: f32| (x == c) as u8 as f32;
                $body
            }
            U::GtScalar(c) => {
                let $f = move |x: f32| (x > c) as u8 as f32;
                $body
            }
            U::LtScalar(c) => {
                let $f = move |x: f32| (x < c) as u8 as f32;
                $body
            }
            other => {
                let $f = move |x: f32| other.apply(x);
                $body
            }
        }
    }};
}

/// Like [`with_unary_fn`] for the binary ops.
macro_rules! with_binary_fn {
    ($op:expr, |$f:ident| $body:expr) => {{
        use $crate::core::BinaryOp as B;
        match $op {
            B::Add => {
                let $f = |a: f32, b: f32| a + b;
                $body
            }
            B::Sub => {
                let $f = |a: f32, b: f32| a - b;
                $body
            }
            B::Mul => {
                let $f = |a: f32, b: f32| a * b;
                $body
            }
            B::Div => {
                let $f = |a: f32, b: f32| a / b;
                $body
            }
            B::Maximum => {
                let $f = |a: f32, b: f32| B::Maximum.apply(a, b);
                $body
            }
            B::Minimum => {
                let $f = |a: f32, b: f32| B::Minimum.apply(a, b);
                $body
            }
            B::Eq => {
                let $f = |a: f32, b: f32| (a == b) as u8 as f32;
                $body
            }
            B::Gt => {
                let $f = |a: f32, b: f32| (a > b) as u8 as f32;
                $body
            }
            B::Lt => {
                let $f = |a: f32, b: f32| (a < b) as u8 as f32;
                $body
            }
            B::ReluBackward => {
                let $f = |a: f32, b: f32| B::ReluBackward.apply(a, b);
                $body
            }
            B::SigmoidBackward => {
                let $f = |a: f32, b: f32| a * b * (1.0 - b);
                $body
            }
            B::TanhBackward => {
                let $f = |a: f32, b: f32| a * (1.0 - b * b);
                $body
            }
            B::LeakyReluBackward(s) => {
                let $f = move |a: f32, b: f32| B::LeakyReluBackward(s).apply(a, b);
                $body
            }
            other => {
                let $f = move |a: f32, b: f32| other.apply(a, b);
                $body
            }
        }
    }};
}

impl PrimitiveOps for CpuStorage {
    fn device(&self) -> Device {
        Device::Cpu
    }

    fn len(&self) -> usize {
        each_dtype!(self, |v, _wrap| v.len())
    }

    fn dtype(&self) -> DType {
        CpuStorage::dtype(self)
    }

    fn from_host(_device: Device, data: Vec<f32>) -> BackendResult<Self> {
        Ok(CpuStorage::F32(data))
    }

    fn from_host_i64(_device: Device, data: Vec<i64>) -> BackendResult<Self> {
        Ok(CpuStorage::I64(data))
    }

    fn to_host_i64(&self, layout: &Layout) -> BackendResult<Vec<i64>> {
        Ok(convert_storage(self, layout))
    }

    fn to_host(&self, layout: &Layout) -> BackendResult<Vec<f32>> {
        Ok(convert_storage(self, layout))
    }

    fn from_host_f64(_device: Device, data: Vec<f64>) -> BackendResult<Self> {
        Ok(CpuStorage::F64(data))
    }

    fn to_host_f64(&self, layout: &Layout) -> BackendResult<Vec<f64>> {
        Ok(convert_storage(self, layout))
    }

    fn from_host_bool(_device: Device, data: Vec<bool>) -> BackendResult<Self> {
        Ok(CpuStorage::Bool(data))
    }

    fn to_host_bits(&self, layout: &Layout) -> BackendResult<Vec<u8>> {
        fn bytes<T: Element>(
            v: &[T],
            layout: &Layout,
            width: usize,
            f: impl Fn(T, &mut Vec<u8>),
        ) -> Vec<u8> {
            let view = strided::contiguous_cow(v, layout);
            let mut out = Vec::with_capacity(view.len() * width);
            view.iter().for_each(|&x| f(x, &mut out));
            out
        }
        Ok(match self {
            CpuStorage::F32(v) => bytes(v, layout, 4, |x, o| o.extend(x.to_le_bytes())),
            CpuStorage::F64(v) => bytes(v, layout, 8, |x, o| o.extend(x.to_le_bytes())),
            CpuStorage::F16(v) => bytes(v, layout, 2, |x, o| o.extend(x.to_le_bytes())),
            CpuStorage::BF16(v) => bytes(v, layout, 2, |x, o| o.extend(x.to_le_bytes())),
            CpuStorage::I64(v) => bytes(v, layout, 8, |x, o| o.extend(x.to_le_bytes())),
            CpuStorage::Bool(v) => bytes(v, layout, 1, |x, o| o.push(x as u8)),
        })
    }

    fn from_host_bits(_device: Device, bytes: &[u8], dtype: DType) -> BackendResult<Self> {
        fn read<T, const N: usize>(bytes: &[u8], f: impl Fn([u8; N]) -> T) -> Vec<T> {
            bytes
                .chunks_exact(N)
                .map(|c| {
                    let mut a = [0u8; N];
                    a.copy_from_slice(c);
                    f(a)
                })
                .collect()
        }
        Ok(match dtype {
            DType::F32 => CpuStorage::F32(read(bytes, f32::from_le_bytes)),
            DType::F64 => CpuStorage::F64(read(bytes, f64::from_le_bytes)),
            DType::F16 => CpuStorage::F16(read(bytes, half::f16::from_le_bytes)),
            DType::BF16 => CpuStorage::BF16(read(bytes, half::bf16::from_le_bytes)),
            DType::I64 => CpuStorage::I64(read(bytes, i64::from_le_bytes)),
            DType::Bool => CpuStorage::Bool(bytes.iter().map(|&b| b != 0).collect()),
        })
    }

    fn full(_device: Device, numel: usize, value: f64, dtype: DType) -> BackendResult<Self> {
        /// `numel` copies of `value` as `T`, or the out-of-memory error that names the size.
        fn filled<T: Element>(numel: usize, value: f64) -> BackendResult<CpuStorage> {
            let width = std::mem::size_of::<T>();
            let oom = || BackendError::OutOfMemory {
                device: Device::Cpu,
                bytes: numel.saturating_mul(width),
            };
            numel
                .checked_mul(width)
                .filter(|&b| b <= isize::MAX as usize)
                .ok_or_else(oom)?;
            let mut v = Vec::new();
            v.try_reserve_exact(numel).map_err(|_| oom())?;
            // Converted once, as `to_dtype` converts (an f32 value round-trips exactly).
            v.resize(numel, T::from_f64(value));
            Ok(T::wrap(v))
        }
        match dtype {
            DType::F32 => filled::<f32>(numel, value),
            DType::F64 => filled::<f64>(numel, value),
            DType::F16 => filled::<half::f16>(numel, value),
            DType::BF16 => filled::<half::bf16>(numel, value),
            DType::I64 => filled::<i64>(numel, value),
            DType::Bool => filled::<bool>(numel, value),
        }
    }

    fn unary(&self, layout: &Layout, op: UnaryOp) -> BackendResult<Self> {
        // f32 runs a loop compiled for each op (with_unary_fn!); f64 the generic scalar math.
        if let CpuStorage::F32(v) = self {
            let v: &[f32] = v;
            return Ok(CpuStorage::F32(with_unary_fn!(op, |f| {
                elementwise::unary_map(v, layout, f)
            })));
        }
        float_dispatch!(format!("{op:?}"), self.dtype(), |T| Ok(T::wrap(
            elementwise::unary_map(self.data::<T>(), layout, |x: T| op.apply(x))
        )))
    }

    fn binary(
        &self,
        la: &Layout,
        rhs: &Self,
        lb: &Layout,
        out_dims: &[usize],
        op: BinaryOp,
    ) -> BackendResult<Self> {
        // f32 runs a loop compiled for each op (with_binary_fn!); f64 the generic scalar math.
        if let (CpuStorage::F32(a), CpuStorage::F32(b)) = (self, rhs) {
            let (a, b): (&[f32], &[f32]) = (a, b);
            return Ok(CpuStorage::F32(with_binary_fn!(op, |f| {
                elementwise::binary_map(a, la, b, lb, out_dims, f)
            })));
        }
        // Mixed dtypes are the tensor layer's to promote; name the op when they arrive here.
        assert_eq!(
            self.dtype(),
            rhs.dtype(),
            "{op:?}: operands of different dtypes"
        );
        float_dispatch!(format!("{op:?}"), self.dtype(), |T| Ok(T::wrap(
            elementwise::binary_map(
                self.data::<T>(),
                la,
                rhs.data::<T>(),
                lb,
                out_dims,
                |x: T, y: T| op.apply(x, y)
            )
        )))
    }

    fn contiguous(&self, layout: &Layout) -> BackendResult<Self> {
        Ok(each_dtype!(self, |v, wrap| wrap(strided::to_contiguous(
            v, layout
        ))))
    }

    fn to_dtype(&self, layout: &Layout, dtype: DType) -> BackendResult<Self> {
        Ok(match dtype {
            DType::F32 => CpuStorage::F32(convert_storage(self, layout)),
            DType::F64 => CpuStorage::F64(convert_storage(self, layout)),
            DType::F16 => CpuStorage::F16(convert_storage(self, layout)),
            DType::BF16 => CpuStorage::BF16(convert_storage(self, layout)),
            DType::I64 => CpuStorage::I64(convert_storage(self, layout)),
            DType::Bool => CpuStorage::Bool(convert_storage(self, layout)),
        })
    }

    fn where_cond(
        cond: (&Self, &Layout),
        a: (&Self, &Layout),
        b: (&Self, &Layout),
        out_dims: &[usize],
    ) -> BackendResult<Self> {
        /// `cond ≠ 0 ? a : b` for a condition of type `C` and values of type `T`.
        fn select<C: Element, T: CpuFloat>(
            cond: (&[C], &Layout),
            a: (&[T], &Layout),
            b: (&[T], &Layout),
            out_dims: &[usize],
        ) -> CpuStorage {
            let pick = |k: C, x, y| if k.to_f64() != 0.0 { x } else { y };
            T::wrap(elementwise::ternary_map((cond, a, b), out_dims, pick))
        }
        assert_eq!(
            a.0.dtype(),
            b.0.dtype(),
            "where: values of different dtypes"
        );
        float_dispatch!("where", a.0.dtype(), |T| {
            let (va, vb) = ((a.0.data::<T>(), a.1), (b.0.data::<T>(), b.1));
            Ok(match cond.0 {
                CpuStorage::Bool(c) => select((&c[..], cond.1), va, vb, out_dims),
                CpuStorage::F32(c) => select((&c[..], cond.1), va, vb, out_dims),
                CpuStorage::F64(c) => select((&c[..], cond.1), va, vb, out_dims),
                CpuStorage::I64(c) => select((&c[..], cond.1), va, vb, out_dims),
                other => panic!(
                    "where: the condition must be bool, int64 or float, not {}",
                    other.dtype()
                ),
            })
        })
    }

    fn masked_fill(
        &self,
        layout: &Layout,
        mask: &Self,
        mask_view: &Layout,
        value: f32,
    ) -> BackendResult<Self> {
        /// `mask ≠ 0 ? value : x` for a mask of type `M` and values of type `T`.
        fn fill<M: Element, T: CpuFloat>(
            x: (&[T], &Layout),
            mask: (&[M], &Layout),
            value: T,
        ) -> CpuStorage {
            let (x, layout) = x;
            T::wrap(elementwise::binary_map(
                x,
                layout,
                mask.0,
                mask.1,
                layout.dims(),
                |x, k| if k.to_f64() != 0.0 { value } else { x },
            ))
        }
        float_dispatch!("masked_fill", self.dtype(), |T| {
            let x = (self.data::<T>(), layout);
            let value = <T as crate::core::Float>::of(value);
            Ok(match mask {
                CpuStorage::Bool(m) => fill(x, (&m[..], mask_view), value),
                CpuStorage::F32(m) => fill(x, (&m[..], mask_view), value),
                CpuStorage::F64(m) => fill(x, (&m[..], mask_view), value),
                CpuStorage::I64(m) => fill(x, (&m[..], mask_view), value),
                other => panic!(
                    "masked_fill: the mask must be bool, int64 or float, not {}",
                    other.dtype()
                ),
            })
        })
    }

    fn copy_rows_to_host(
        &self,
        layout: &Layout,
        rows: &[usize],
        out: &mut Vec<f32>,
    ) -> BackendResult<()> {
        let dims = layout.dims();
        let n = dims.first().copied().unwrap_or(1);
        let row = dims.iter().skip(1).product::<usize>();
        let data = self.view(layout);
        out.clear();
        out.try_reserve(rows.len() * row)
            .map_err(|_| BackendError::OutOfMemory {
                device: Device::Cpu,
                bytes: rows.len() * row * std::mem::size_of::<f32>(),
            })?;
        for &i in rows {
            assert!(i < n, "copy_rows: row {i} is out of range for {n} rows");
            out.extend_from_slice(&data[i * row..(i + 1) * row]);
        }
        Ok(())
    }

    fn take_host_buffer(&mut self) -> Option<Vec<f32>> {
        match self {
            CpuStorage::F32(v) => Some(std::mem::take(v)),
            _ => None,
        }
    }

    fn data_ptr(&self) -> usize {
        each_dtype!(self, |v, _wrap| v.as_ptr() as usize)
    }

    fn assign(&mut self, view: &Layout, src: &Self, src_layout: &Layout) -> BackendResult<()> {
        // copy_ converts, as PyTorch's does.
        let dtype = self.dtype();
        each_dtype!(self, |d, _wrap| {
            let converted;
            let src: &[_] = match Element::slice(src) {
                Some(s) => s,
                None => {
                    converted = src.to_dtype(src_layout, dtype)?;
                    let contiguous = Layout::contiguous(src_layout.shape.clone());
                    return {
                        index_kernels::assign_strided(
                            d,
                            view,
                            &strided::contiguous_cow(
                                Element::slice(&converted).unwrap_or_default(),
                                &contiguous,
                            ),
                        );
                        Ok(())
                    };
                }
            };
            index_kernels::assign_strided(d, view, &strided::contiguous_cow(src, src_layout));
        });
        Ok(())
    }

    fn add_assign(&mut self, view: &Layout, src: &Self, src_layout: &Layout) -> BackendResult<()> {
        float_dispatch!("add_", self.dtype(), |T| {
            if let Some(r) = view.contiguous_range() {
                let dst = &mut self.data_mut::<T>()[r];
                elementwise::zip_assign(dst, src.data::<T>(), src_layout, |a, b| a + b);
                return Ok(());
            }
            let src = src.view_as::<T>(src_layout);
            index_kernels::add_strided(self.data_mut::<T>(), view, &src);
            Ok(())
        })
    }
}
