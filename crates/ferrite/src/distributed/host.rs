//! Tensors copied to host memory and back, for communicators that move host buffers (MPI,
//! threads). f16 and bf16 travel as f32, integers and booleans as i64.

use crate::{DType, Tensor};

/// A tensor's elements in row-major order, in the host type that carries its dtype exactly.
pub(crate) enum HostData {
    /// f32, f16 and bf16 tensors.
    F32(Vec<f32>),
    /// f64 tensors.
    F64(Vec<f64>),
    /// i64 and bool tensors.
    I64(Vec<i64>),
}

impl HostData {
    /// The elements of `t`.
    pub(crate) fn of(t: &Tensor) -> HostData {
        match t.dtype() {
            DType::F64 => HostData::F64(t.to_vec_f64()),
            DType::I64 | DType::Bool => HostData::I64(t.to_vec_i64()),
            DType::F32 | DType::F16 | DType::BF16 => HostData::F32(t.to_vec()),
        }
    }

    /// Writes these elements into `t` in place (same element count), on `t`'s device and in
    /// its dtype.
    pub(crate) fn write_into(self, t: &Tensor) {
        let dims = t.dims().to_vec();
        let src = match self {
            HostData::F32(v) => Tensor::from_vec(v, dims),
            HostData::F64(v) => Tensor::from_f64(v, dims),
            HostData::I64(v) => Tensor::from_i64(v, dims),
        };
        let src = src.to_dtype(t.dtype()).to(&t.device());
        let _no_grad = crate::no_grad();
        t.copy_(&src);
    }

    /// The elements widened to f64 (exact for every dtype but i64 beyond 2^53).
    pub(crate) fn to_f64(&self) -> Vec<f64> {
        match self {
            HostData::F32(v) => v.iter().map(|&x| x as f64).collect(),
            HostData::F64(v) => v.clone(),
            HostData::I64(v) => v.iter().map(|&x| x as f64).collect(),
        }
    }

    /// `values` in the host type of `like`.
    pub(crate) fn from_f64_like(values: &[f64], like: &HostData) -> HostData {
        match like {
            HostData::F32(_) => HostData::F32(values.iter().map(|&x| x as f32).collect()),
            HostData::F64(_) => HostData::F64(values.to_vec()),
            HostData::I64(_) => HostData::I64(values.iter().map(|&x| x as i64).collect()),
        }
    }
}
