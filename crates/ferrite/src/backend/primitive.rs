//! The primitive operations every backend implements: moving data to and from the host,
//! fills, pointwise maps with broadcasting, strided copies and in-place accumulation. Each
//! `Storage` method dispatches to the backend that holds the data.

use super::{on_device, on_new_device, BackendResult, Storage};
use crate::core::{BinaryOp, DType, Device, Layout, UnaryOp};

/// Data movement and pointwise work. Results are row-major buffers of the output's shape.
pub trait PrimitiveOps: Sized {
    /// The device holding the data.
    fn device(&self) -> Device;
    /// The buffer's length in elements.
    fn len(&self) -> usize;
    /// True for an empty buffer.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The element type.
    fn dtype(&self) -> DType;
    /// A float buffer holding `data`, copied from the host.
    fn from_host(device: Device, data: Vec<f32>) -> BackendResult<Self>;
    /// An index buffer holding `data`, copied from the host.
    fn from_host_i64(device: Device, data: Vec<i64>) -> BackendResult<Self>;
    /// What `layout` sees of a float buffer, row-major, copied to the host.
    fn to_host(&self, layout: &Layout) -> BackendResult<Vec<f32>>;
    /// What `layout` sees, row-major, converted to i64, copied to the host.
    fn to_host_i64(&self, layout: &Layout) -> BackendResult<Vec<i64>>;
    /// An f64 buffer holding `data`, copied from the host.
    fn from_host_f64(device: Device, data: Vec<f64>) -> BackendResult<Self>;
    /// What `layout` sees, row-major, converted to f64 (exact for every float type),
    /// copied to the host.
    fn to_host_f64(&self, layout: &Layout) -> BackendResult<Vec<f64>>;
    /// A boolean buffer holding `data`, copied from the host.
    fn from_host_bool(device: Device, data: Vec<bool>) -> BackendResult<Self>;
    /// What `layout` sees, row-major, as little-endian bytes of its own type (what a
    /// safetensors file holds).
    fn to_host_bits(&self, layout: &Layout) -> BackendResult<Vec<u8>>;
    /// A buffer of `dtype` from little-endian bytes (whole elements; the caller checks the
    /// length).
    fn from_host_bits(device: Device, bytes: &[u8], dtype: DType) -> BackendResult<Self>;
    /// `numel` copies of `value`, as `dtype` (converted as [`PrimitiveOps::to_dtype`]
    /// converts: an f32 value is exact in every float type).
    fn full(device: Device, numel: usize, value: f64, dtype: DType) -> BackendResult<Self>;
    /// `op(x)` of each element `layout` sees.
    fn unary(&self, layout: &Layout, op: UnaryOp) -> BackendResult<Self>;
    /// `op(a, b)` over the broadcast shape `out_dims`.
    fn binary(
        &self,
        la: &Layout,
        rhs: &Self,
        lb: &Layout,
        out_dims: &[usize],
        op: BinaryOp,
    ) -> BackendResult<Self>;
    /// A row-major copy of what `layout` sees.
    fn contiguous(&self, layout: &Layout) -> BackendResult<Self>;
    /// A row-major copy of what `layout` sees, converted to `dtype` (floats to integers
    /// truncate toward zero, as PyTorch's `.long()`).
    fn to_dtype(&self, layout: &Layout, dtype: DType) -> BackendResult<Self>;
    /// `cond ≠ 0 ? a : b` over `out_dims` (all three broadcast).
    fn where_cond(
        cond: (&Self, &Layout),
        a: (&Self, &Layout),
        b: (&Self, &Layout),
        out_dims: &[usize],
    ) -> BackendResult<Self>;
    /// `mask ≠ 0 ? value : x`, with `mask_view` already broadcast to `layout`'s shape.
    fn masked_fill(
        &self,
        layout: &Layout,
        mask: &Self,
        mask_view: &Layout,
        value: f32,
    ) -> BackendResult<Self>;
    /// Rows `rows` of a row-major `(N, row)` float buffer seen through `layout`, appended to
    /// the host buffer `out` (cleared first): how a data loader fills a batch buffer it reuses.
    fn copy_rows_to_host(
        &self,
        layout: &Layout,
        rows: &[usize],
        out: &mut Vec<f32>,
    ) -> BackendResult<()>;
    /// Takes the buffer when it is a host float buffer (leaving an empty one), for reuse.
    fn take_host_buffer(&mut self) -> Option<Vec<f32>>;
    /// The address of the first element (PyTorch's `data_ptr()`): tells whether two
    /// storages are one buffer.
    fn data_ptr(&self) -> usize;
    /// In place: the elements `view` addresses become `src` (seen through `src_layout`, same
    /// shape).
    fn assign(&mut self, view: &Layout, src: &Self, src_layout: &Layout) -> BackendResult<()>;
    /// In place: the elements `view` addresses gain `src` (same shape).
    fn add_assign(&mut self, view: &Layout, src: &Self, src_layout: &Layout) -> BackendResult<()>;
}

impl Storage {
    /// A buffer holding `data` on `device`.
    pub fn from_host(data: Vec<f32>, device: Device) -> Storage {
        on_new_device!(device, |S, wrap| S::from_host(device, data).map(wrap))
    }

    /// An index buffer holding `data` on `device`.
    pub fn from_host_i64(data: Vec<i64>, device: Device) -> Storage {
        on_new_device!(device, |S, wrap| S::from_host_i64(device, data).map(wrap))
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        let s = self;
        on_device!("dtype", |_wrap| [s] => Ok(s.dtype()))
    }

    /// What `layout` sees of an index buffer, row-major, on the host.
    pub fn to_host_i64(&self, layout: &Layout) -> Vec<i64> {
        let s = self;
        on_device!("to_host_i64", |_wrap| [s] => s.to_host_i64(layout))
    }

    /// `numel` copies of `value`, as `dtype`, on `device`.
    pub fn full(numel: usize, value: f64, dtype: DType, device: Device) -> Storage {
        on_new_device!(device, |S, wrap| S::full(device, numel, value, dtype)
            .map(wrap))
    }

    /// An f64 buffer holding `data` on `device`.
    pub fn from_host_f64(data: Vec<f64>, device: Device) -> Storage {
        on_new_device!(device, |S, wrap| S::from_host_f64(device, data).map(wrap))
    }

    /// A boolean buffer holding `data` on `device`.
    pub fn from_host_bool(data: Vec<bool>, device: Device) -> Storage {
        on_new_device!(device, |S, wrap| S::from_host_bool(device, data).map(wrap))
    }

    /// A buffer of `dtype` on `device` from little-endian bytes.
    pub fn from_host_bits(bytes: &[u8], dtype: DType, device: Device) -> Storage {
        on_new_device!(device, |S, wrap| S::from_host_bits(device, bytes, dtype)
            .map(wrap))
    }

    /// What `layout` sees, row-major, as f64 on the host.
    pub fn to_host_f64(&self, layout: &Layout) -> Vec<f64> {
        let s = self;
        on_device!("to_host_f64", |_wrap| [s] => s.to_host_f64(layout))
    }

    /// What `layout` sees, row-major, as little-endian bytes of its own type.
    pub fn to_host_bits(&self, layout: &Layout) -> Vec<u8> {
        let s = self;
        on_device!("to_host_bits", |_wrap| [s] => s.to_host_bits(layout))
    }

    /// What `layout` sees, row-major, on the host as f32.
    pub fn to_host(&self, layout: &Layout) -> Vec<f32> {
        let s = self;
        on_device!("to_host", |_wrap| [s] => s.to_host(layout))
    }

    /// Applies a pointwise function; the result is row-major.
    pub fn unary(&self, layout: &Layout, op: UnaryOp) -> Storage {
        let s = self;
        on_device!("unary", |wrap| [s] => s.unary(layout, op).map(wrap))
    }

    /// Applies a broadcasting pointwise function of two operands; the result is row-major.
    pub fn binary(
        &self,
        la: &Layout,
        rhs: &Storage,
        lb: &Layout,
        out_dims: &[usize],
        op: BinaryOp,
    ) -> Storage {
        let s = self;
        on_device!("binary", |wrap| [s, rhs] => s.binary(la, rhs, lb, out_dims, op).map(wrap))
    }

    /// A row-major copy of what `layout` sees.
    pub fn contiguous(&self, layout: &Layout) -> Storage {
        let s = self;
        on_device!("contiguous", |wrap| [s] => s.contiguous(layout).map(wrap))
    }

    /// A row-major copy converted to `dtype`.
    pub fn to_dtype(&self, layout: &Layout, dtype: DType) -> Storage {
        let s = self;
        on_device!("to_dtype", |wrap| [s] => s.to_dtype(layout, dtype).map(wrap))
    }

    /// `cond ≠ 0 ? a : b` over `out_dims`.
    pub fn where_cond(
        cond: (&Storage, &Layout),
        a: (&Storage, &Layout),
        b: (&Storage, &Layout),
        out_dims: &[usize],
    ) -> Storage {
        let (c, sa, sb) = (cond.0, a.0, b.0);
        on_device!("where", |wrap| [c, sa, sb] => {
            super::PrimitiveOps::where_cond((c, cond.1), (sa, a.1), (sb, b.1), out_dims).map(wrap)
        })
    }

    /// `mask ≠ 0 ? value : x`, with `mask_view` already broadcast to `layout`'s shape.
    pub fn masked_fill(
        &self,
        layout: &Layout,
        mask: &Storage,
        mask_view: &Layout,
        value: f32,
    ) -> Storage {
        let s = self;
        on_device!("masked_fill", |wrap| [s, mask] => s.masked_fill(layout, mask, mask_view, value).map(wrap))
    }

    /// Rows `rows` of a `(N, row)` buffer appended to the cleared host buffer `out`.
    pub fn copy_rows_to_host(&self, layout: &Layout, rows: &[usize], out: &mut Vec<f32>) {
        let s = self;
        on_device!("copy_rows_to_host", |_wrap| [s] => s.copy_rows_to_host(layout, rows, out))
    }

    /// Takes a host float buffer for reuse (`None` for device memory or other types).
    pub fn take_host_buffer(&mut self) -> Option<Vec<f32>> {
        let s = self;
        on_device!("take_host_buffer", |_wrap| [s] => Ok(s.take_host_buffer()))
    }

    /// The address of the first element.
    pub fn data_ptr(&self) -> usize {
        let s = self;
        on_device!("data_ptr", |_wrap| [s] => Ok(s.data_ptr()))
    }

    /// What `layout` sees, row-major, in a new buffer on `device` (the same dtype, every bit
    /// kept): how tensors and models move between devices.
    pub fn to_device(&self, layout: &Layout, device: Device) -> Storage {
        let bits = self.to_host_bits(layout);
        Storage::from_host_bits(&bits, self.dtype(), device)
    }

    /// In place: the elements `view` addresses become `src`.
    pub fn assign(&mut self, view: &Layout, src: &Storage, src_layout: &Layout) {
        let s = self;
        on_device!("copy_", |_wrap| [s, src] => s.assign(view, src, src_layout))
    }

    /// In place: the elements `view` addresses gain `src`.
    pub fn add_assign(&mut self, view: &Layout, src: &Storage, src_layout: &Layout) {
        let s = self;
        on_device!("add_", |_wrap| [s, src] => s.add_assign(view, src, src_layout))
    }
}
