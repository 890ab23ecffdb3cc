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
    /// 32-bit floats: every float kernel computes in them.
    F32(Vec<f32>),
    /// 64-bit integers: class targets and saved indices.
    I64(Vec<i64>),
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
            CpuStorage::I64(_) => DType::I64,
        }
    }

    /// The whole buffer of floats. An integer buffer here is a bug in the caller (the tensor
    /// layer checks dtypes before it dispatches).
    #[track_caller]
    pub(crate) fn f32(&self) -> &[f32] {
        match self {
            CpuStorage::F32(v) => v,
            other => panic!("expected f32 data, found {}", other.dtype()),
        }
    }

    /// The whole buffer of floats, writable.
    #[track_caller]
    pub(crate) fn f32_mut(&mut self) -> &mut [f32] {
        match self {
            CpuStorage::F32(v) => v,
            other => panic!("expected f32 data, found {}", other.dtype()),
        }
    }

    /// The whole buffer of indices.
    #[track_caller]
    pub(crate) fn i64(&self) -> &[i64] {
        match self {
            CpuStorage::I64(v) => v,
            other => panic!("expected i64 data, found {}", other.dtype()),
        }
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
        match self {
            CpuStorage::F32(v) => v.len(),
            CpuStorage::I64(v) => v.len(),
        }
    }

    fn dtype(&self) -> DType {
        CpuStorage::dtype(self)
    }

    fn from_host(data: Vec<f32>) -> BackendResult<Self> {
        Ok(CpuStorage::F32(data))
    }

    fn from_host_i64(data: Vec<i64>) -> BackendResult<Self> {
        Ok(CpuStorage::I64(data))
    }

    fn to_host_i64(&self, layout: &Layout) -> BackendResult<Vec<i64>> {
        Ok(strided::to_contiguous(self.i64(), layout))
    }

    fn to_host(&self, layout: &Layout) -> BackendResult<Vec<f32>> {
        Ok(strided::to_contiguous(self.f32(), layout))
    }

    fn full(numel: usize, value: f32) -> BackendResult<Self> {
        try_filled(numel, value).map(CpuStorage::from_vec)
    }

    fn unary(&self, layout: &Layout, op: UnaryOp) -> BackendResult<Self> {
        let v = self.f32();
        Ok(CpuStorage::from_vec(with_unary_fn!(op, |f| {
            elementwise::unary_map(v, layout, f)
        })))
    }

    fn binary(
        &self,
        la: &Layout,
        rhs: &Self,
        lb: &Layout,
        out_dims: &[usize],
        op: BinaryOp,
    ) -> BackendResult<Self> {
        let (a, b) = (self.f32(), rhs.f32());
        Ok(CpuStorage::from_vec(with_binary_fn!(op, |f| {
            elementwise::binary_map(a, la, b, lb, out_dims, f)
        })))
    }

    fn contiguous(&self, layout: &Layout) -> BackendResult<Self> {
        Ok(match self {
            CpuStorage::F32(v) => CpuStorage::F32(strided::to_contiguous(v, layout)),
            CpuStorage::I64(v) => CpuStorage::I64(strided::to_contiguous(v, layout)),
        })
    }

    fn to_dtype(&self, layout: &Layout, dtype: DType) -> BackendResult<Self> {
        Ok(match (self, dtype) {
            (CpuStorage::F32(v), DType::F32) => CpuStorage::F32(strided::to_contiguous(v, layout)),
            (CpuStorage::I64(v), DType::I64) => CpuStorage::I64(strided::to_contiguous(v, layout)),
            (CpuStorage::F32(v), DType::I64) => CpuStorage::I64(
                strided::contiguous_cow(v, layout)
                    .iter()
                    .map(|&x| x as i64)
                    .collect(),
            ),
            (CpuStorage::I64(v), DType::F32) => CpuStorage::F32(
                strided::contiguous_cow(v, layout)
                    .iter()
                    .map(|&x| x as f32)
                    .collect(),
            ),
        })
    }

    fn where_cond(
        cond: (&Self, &Layout),
        a: (&Self, &Layout),
        b: (&Self, &Layout),
        out_dims: &[usize],
    ) -> BackendResult<Self> {
        Ok(CpuStorage::from_vec(elementwise::ternary_map(
            [(cond.0.f32(), cond.1), (a.0.f32(), a.1), (b.0.f32(), b.1)],
            out_dims,
            |k, x, y| if k != 0.0 { x } else { y },
        )))
    }

    fn masked_fill(
        &self,
        layout: &Layout,
        mask: &Self,
        mask_view: &Layout,
        value: f32,
    ) -> BackendResult<Self> {
        Ok(CpuStorage::from_vec(elementwise::binary_map(
            self.f32(),
            layout,
            mask.f32(),
            mask_view,
            layout.dims(),
            |x, k| if k != 0.0 { value } else { x },
        )))
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
            CpuStorage::I64(_) => None,
        }
    }

    fn data_ptr(&self) -> usize {
        match self {
            CpuStorage::F32(v) => v.as_ptr() as usize,
            CpuStorage::I64(v) => v.as_ptr() as usize,
        }
    }

    fn assign(&mut self, view: &Layout, src: &Self, src_layout: &Layout) -> BackendResult<()> {
        match (self, src) {
            (CpuStorage::F32(d), CpuStorage::F32(s)) => {
                index_kernels::assign_strided(d, view, &strided::contiguous_cow(s, src_layout))
            }
            (CpuStorage::I64(d), CpuStorage::I64(s)) => {
                index_kernels::assign_strided(d, view, &strided::contiguous_cow(s, src_layout))
            }
            (d, s) => panic!("copy_: expected {} data, found {}", d.dtype(), s.dtype()),
        }
        Ok(())
    }

    fn add_assign(&mut self, view: &Layout, src: &Self, src_layout: &Layout) -> BackendResult<()> {
        if let Some(r) = view.contiguous_range() {
            elementwise::zip_assign(&mut self.f32_mut()[r], src.f32(), src_layout, |a, b| a + b);
            return Ok(());
        }
        let src = src.view(src_layout);
        index_kernels::add_strided(self.f32_mut(), view, &src);
        Ok(())
    }
}
