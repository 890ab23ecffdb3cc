//! Convolution kernels: `im2col` / `col2im` and `gemm`, parallel over the batch.
//!
//! A 2-D convolution of one image and one group is one matrix product:
//! `out (cout/g, oh·ow) = W (cout/g, cin/g·kh·kw) · col (cin/g·kh·kw, oh·ow)`, where row
//! `(c, ki, kj)` of `col` holds the input pixels that kernel tap `(ki, kj)` of channel `c`
//! meets at every output position (zero where it falls in the padding). A 1-D convolution is a
//! 2-D one of height 1. The gradients are products of the same matrices:
//! `d col = Wᵀ · g` folded back by `col2im`, and `dW = Σ_images g · colᵀ`. That sum over
//! the images runs in pieces cut by the batch size alone and added in order, so the
//! gradients have the same bits whatever the number of threads (see [`super::parallel`]).

//!
//! Every kernel is generic over the float type (f32 and f64). The direct kernels of
//! [`super::conv_direct`] are f32 only: generic code reaches them through [`FastPath`], which
//! hands out a buffer as f32 exactly when it is one.
//!
//! Files, by idea: [`unfold`] (`im2col` and its adjoint `col2im`), [`forward`] (the forward
//! pass), [`backward`] (the input, weight and bias gradients, in batch pieces summed in
//! order); this file holds what they share: [`FastPath`] and the choice of the direct kernels.

mod backward;
mod forward;
#[cfg(test)]
mod tests;
mod unfold;

pub use backward::conv2d_backward;
pub use forward::conv2d_forward;

use super::matmul::MatRef;
use super::storage::CpuFloat;
use crate::core::ConvGeometry;
#[cfg(target_arch = "x86_64")]
use unfold::is_plain;

/// A float type the kernels compute in, with the way to the f32-only fast kernels (direct
/// convolution, AVX-512 pooling): its buffers seen as f32 when it is f32, `None` otherwise, so
/// that generic code keeps the fast path for f32 and monomorphises it away for f64.
pub(crate) trait FastPath: CpuFloat {
    /// The buffer as f32, when `Self` is f32.
    fn as_f32(x: &[Self]) -> Option<&[f32]>;
    /// The buffer as f32, writable, when `Self` is f32.
    fn as_f32_mut(x: &mut [Self]) -> Option<&mut [f32]>;
    /// A buffer of f32 (a fast kernel's result) as `Self`: the same buffer for f32.
    fn from_f32_vec(v: Vec<f32>) -> Vec<Self>;
}

impl FastPath for f32 {
    #[inline(always)]
    fn as_f32(x: &[f32]) -> Option<&[f32]> {
        Some(x)
    }
    #[inline(always)]
    fn as_f32_mut(x: &mut [f32]) -> Option<&mut [f32]> {
        Some(x)
    }
    #[inline(always)]
    fn from_f32_vec(v: Vec<f32>) -> Vec<f32> {
        v
    }
}

impl FastPath for f64 {
    #[inline(always)]
    fn as_f32(_: &[f64]) -> Option<&[f32]> {
        None
    }
    #[inline(always)]
    fn as_f32_mut(_: &mut [f64]) -> Option<&mut [f32]> {
        None
    }
    fn from_f32_vec(v: Vec<f32>) -> Vec<f64> {
        v.into_iter().map(f64::from).collect()
    }
}

/// The direct kernels' description of `geo`, when they can run it on this processor.
#[cfg(target_arch = "x86_64")]
fn direct(geo: &ConvGeometry) -> Option<super::conv_direct::PlainConv> {
    let nonempty = geo.batch > 0 && geo.in_channels > 0 && geo.out_channels > 0;
    let usable = nonempty && geo.out_plane() > 0 && is_plain(geo) && geo.groups == 1;
    (usable && super::conv_direct::available()).then_some(super::conv_direct::PlainConv {
        cin: geo.in_channels,
        cout: geo.out_channels,
        in_size: geo.in_size,
        kernel: geo.kernel,
    })
}

fn mat<T>(data: &[T], offset: usize, row_stride: usize, col_stride: usize) -> MatRef<'_, T> {
    MatRef {
        data,
        offset,
        row_stride,
        col_stride,
    }
}
