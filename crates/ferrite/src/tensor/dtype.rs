//! Element types on tensors: conversion with `to_dtype`, data in and out at each type, and
//! PyTorch's promotion when an op mixes types.

use super::{Layout, Shape, Tensor};
use crate::autograd::Op;
use crate::backend::Storage;
use crate::core::DType;

/// The type an op on `dtype` computes in on the CPU: f32 and f64 as they are; f16, bf16 and
/// booleans in f32; integers in f64 (exact below 2⁵³).
pub(crate) fn compute_dtype(dtype: DType) -> DType {
    match dtype {
        DType::F32 | DType::F16 | DType::BF16 | DType::Bool => DType::F32,
        DType::F64 | DType::I64 => DType::F64,
    }
}

/// The type that the float operands of a fused op (those present) compute in together, when
/// they do not all hold it already: `None` when they agree on f32 or f64. Mixed operands are
/// promoted as PyTorch promotes (an f64 input with f32 weights computes in f64).
pub(crate) fn mixed_float_dtype(tensors: &[Option<&Tensor>]) -> Option<DType> {
    let mut present = tensors.iter().flatten().map(|t| t.dtype());
    let first = present.next()?;
    // The common case, every operand f32 (or every one f64), decides without promoting.
    if matches!(first, DType::F32 | DType::F64) && present.clone().all(|d| d == first) {
        return None;
    }
    let common = compute_dtype(present.fold(first, DType::promote));
    Some(common)
}

impl Tensor {
    /// This tensor converted to `dtype` (itself when it already is). Float-to-float
    /// conversions keep the history, so gradients flow back in the source type; conversions
    /// to integers truncate toward zero, as PyTorch's `.long()`, and to booleans test `≠ 0`.
    ///
    /// ```
    /// use ferrite::{DType, Tensor};
    /// let x = Tensor::from_vec(vec![1.5, -2.7, 0.0], [3]);
    /// assert_eq!(x.to_dtype(DType::I64).to_vec_i64(), vec![1, -2, 0]);
    /// let h = x.to_dtype(DType::F16);
    /// assert_eq!(h.dtype(), DType::F16);
    /// assert_eq!(h.to_vec(), vec![1.5, -2.69921875, 0.0]); // f16 keeps 11 bits
    /// ```
    pub fn to_dtype(&self, dtype: DType) -> Tensor {
        if self.dtype() == dtype {
            return self.clone();
        }
        let source = self.dtype();
        let storage = self.storage().to_dtype(self.layout(), dtype);
        let out = Tensor::from_storage(storage, Layout::contiguous(self.shape().clone()));
        if source.is_float() && dtype.is_float() {
            out.attach(Op::ToDtype(source), vec![self.clone()])
        } else {
            out
        }
    }

    /// A float64 tensor of `shape` from row-major `data`.
    ///
    /// ```
    /// use ferrite::{DType, Tensor};
    /// let t = Tensor::from_f64(vec![0.1, 0.2], [2]);
    /// assert_eq!(t.dtype(), DType::F64);
    /// assert_eq!(t.to_vec_f64(), vec![0.1, 0.2]);
    /// ```
    pub fn from_f64(data: Vec<f64>, shape: impl Into<Shape>) -> Tensor {
        let shape = shape.into();
        assert_eq!(
            data.len(),
            shape.numel(),
            "from_f64: {} values do not fill shape {:?}",
            data.len(),
            shape
        );
        Tensor::from_storage(
            Storage::from_host_f64(data, super::default_device()),
            Layout::contiguous(shape),
        )
    }

    /// An int64 tensor of `shape` from row-major `data` (class targets, indices).
    pub fn from_i64(data: Vec<i64>, shape: impl Into<Shape>) -> Tensor {
        let shape = shape.into();
        assert_eq!(
            data.len(),
            shape.numel(),
            "from_i64: {} values do not fill shape {:?}",
            data.len(),
            shape
        );
        Tensor::from_storage(
            Storage::from_host_i64(data, super::default_device()),
            Layout::contiguous(shape),
        )
    }

    /// A boolean tensor of `shape` from row-major `data` (masks).
    pub fn from_bool(data: Vec<bool>, shape: impl Into<Shape>) -> Tensor {
        let shape = shape.into();
        assert_eq!(
            data.len(),
            shape.numel(),
            "from_bool: {} values do not fill shape {:?}",
            data.len(),
            shape
        );
        Tensor::from_storage(
            Storage::from_host_bool(data, super::default_device()),
            Layout::contiguous(shape),
        )
    }

    /// A tensor of `dtype` and `shape` from row-major little-endian bytes of that type (what
    /// a safetensors file holds), or `None` when the byte count does not fill the shape.
    pub fn from_bits(bytes: &[u8], dtype: DType, shape: impl Into<Shape>) -> Option<Tensor> {
        let shape = shape.into();
        if bytes.len() != shape.numel().checked_mul(dtype.size_in_bytes())? {
            return None;
        }
        Some(Tensor::from_storage(
            Storage::from_host_bits(bytes, dtype, super::default_device()),
            Layout::contiguous(shape),
        ))
    }

    /// The elements in row-major order as little-endian bytes of this tensor's type.
    pub fn to_bits(&self) -> Vec<u8> {
        self.storage().to_host_bits(self.layout())
    }

    /// The elements in row-major order as f64 (exact for every float type).
    pub fn to_vec_f64(&self) -> Vec<f64> {
        self.storage().to_host_f64(self.layout())
    }

    /// The elements in row-major order as i64 (floats truncate toward zero).
    pub fn to_vec_i64(&self) -> Vec<i64> {
        self.storage().to_host_i64(self.layout())
    }

    /// The value of a one-element tensor as f64.
    pub fn item_f64(&self) -> f64 {
        assert_eq!(
            self.numel(),
            1,
            "item: a Tensor with {} elements cannot be converted to a scalar",
            self.numel()
        );
        self.to_vec_f64()[0]
    }

    /// `self` in the type it computes in (see [`compute_dtype`]), for ops that have kernels
    /// only for f32 and f64.
    pub(crate) fn in_compute_dtype(&self) -> Tensor {
        self.to_dtype(compute_dtype(self.dtype()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_dtype_round_trips_through_f64_and_bytes() {
        let values = [0.0, 1.0, -2.5, 1024.0, 65504.0];
        let x = Tensor::from_f64(values.to_vec(), [5]);
        for dtype in DType::ALL {
            let t = x.to_dtype(dtype);
            assert_eq!(t.dtype(), dtype);
            let back = Tensor::from_bits(&t.to_bits(), dtype, [5]).expect("bytes fill the shape");
            assert_eq!(back.to_vec_f64(), t.to_vec_f64(), "{dtype}");
        }
        // These values are exact in every float type and integral: they survive each type.
        assert_eq!(x.to_dtype(DType::F16).to_vec_f64(), values);
        assert_eq!(x.to_dtype(DType::BF16).to_vec_f64()[..4], values[..4]);
        assert_eq!(
            x.to_dtype(DType::I64).to_vec_i64(),
            vec![0, 1, -2, 1024, 65504]
        );
        assert_eq!(
            x.to_dtype(DType::Bool).to_vec(),
            vec![0.0, 1.0, 1.0, 1.0, 1.0]
        );
    }

    #[test]
    fn half_types_round_to_their_precision() {
        // 1 + 2⁻¹¹ is halfway between two f16 values and rounds to even; bf16 keeps 8 bits.
        let x = Tensor::from_f64(
            vec![1.0 + 2f64.powi(-11), 1.0 + 2f64.powi(-10), 3.140625],
            [3],
        );
        assert_eq!(
            x.to_dtype(DType::F16).to_vec_f64(),
            vec![1.0, 1.0 + 2f64.powi(-10), 3.140625]
        );
        assert_eq!(
            x.to_dtype(DType::BF16).to_vec_f64(),
            vec![1.0, 1.0, 3.140625]
        );
        // f16 overflows to infinity past 65504; bf16 has f32's range.
        let big = Tensor::from_vec(vec![70000.0], [1]);
        assert!(big.to_dtype(DType::F16).to_vec()[0].is_infinite());
        assert_eq!(big.to_dtype(DType::BF16).to_vec(), vec![70144.0]);
    }

    #[test]
    fn gradients_flow_back_through_conversions_in_the_source_type() {
        // y = Σ 3·f32(x): the gradient of a float-to-float conversion is the identity.
        let x = Tensor::from_f64(vec![0.25, -1.5, 2.0], [3]).requires_grad();
        let y = (&x.to_dtype(DType::F32) * 3.0).sum();
        y.backward();
        let g = x.grad().expect("gradient reaches the f64 leaf");
        assert_eq!(g.dtype(), DType::F64);
        assert_eq!(g.to_vec_f64(), vec![3.0; 3]);
        // The same by finite differences, through an f32 round trip (a step of 1e-2 keeps
        // f32's rounding far below the tolerance).
        crate::gradcheck_with(
            |v| (&v[0].to_dtype(DType::F32).to_dtype(DType::F64) * 3.0).sum(),
            std::slice::from_ref(&x),
            1e-2,
            1e-5,
            1e-3,
        )
        .unwrap();
        // Conversions to integers and booleans record no history (they have no gradient).
        assert!(!x.to_dtype(DType::I64).requires_grad_flag());
    }

    #[test]
    #[should_panic(expected = "cpu: out of memory: tried to allocate 4503599627370496 bytes")]
    fn an_allocation_that_cannot_fit_names_the_device_and_the_size() {
        // 2⁵⁰ f32 values: 4 PiB, more than any machine's address space.
        let _ = Tensor::zeros([1 << 20, 1 << 20, 1 << 10]);
    }

    #[test]
    fn byte_counts_that_do_not_fill_the_shape_are_refused() {
        assert!(Tensor::from_bits(&[0u8; 6], DType::F32, [2]).is_none());
        assert!(Tensor::from_bits(&[0u8; 8], DType::F32, [2]).is_some());
    }
}
