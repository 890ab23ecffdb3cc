//! The forward pass: per image and group, one product of the weights with the unfolded input
//! (or the direct kernels on the plain geometry), parallel over the batch.

use super::super::matmul::{gemm_into, gemm_into_strided};
use super::super::parallel;
#[cfg(target_arch = "x86_64")]
use super::direct;
use super::unfold::im2col;
use super::{mat, FastPath};
use crate::core::ConvGeometry;

/// Images per parallel job: a few jobs per thread, so that a thread slowed by other work on
/// the machine is helped by the others (jobs are claimed one at a time). For the forward
/// pass only: each image's output is its own, so how the batch is split changes no bit of it.
fn images_per_worker(batch: usize) -> usize {
    let jobs = parallel::PIECES_PER_THREAD * parallel::threads();
    batch.div_ceil(jobs).max(1)
}

/// Below this many output channels per group, the forward product is computed transposed
/// (`outᵀ = colᵀ·Wᵀ`), so the long output-position dimension runs along the micro-kernel's
/// rows instead of a handful of channels padding it out.
const FEW_CHANNELS: usize = 16;

/// `out (N, cout, oh, ow) = conv(x (N, cin, H, W), w (cout, cin/groups, kh, kw)) + bias`,
/// all row-major.
pub fn conv2d_forward<T: FastPath>(
    x: &[T],
    w: &[T],
    bias: Option<&[T]>,
    geo: &ConvGeometry,
) -> Vec<T> {
    forward_impl(x, w, bias, geo, true)
}

/// [`conv2d_forward`], with the direct kernels allowed or not (tests compare both paths).
pub(super) fn forward_impl<T: FastPath>(
    x: &[T],
    w: &[T],
    bias: Option<&[T]>,
    geo: &ConvGeometry,
    allow_direct: bool,
) -> Vec<T> {
    let (cig, cog, k, ohw) = (
        geo.group_in(),
        geo.group_out(),
        geo.col_rows(),
        geo.out_plane(),
    );
    let in_img = geo.in_channels * geo.in_plane();
    let out_img = geo.out_channels * ohw;
    #[cfg(target_arch = "x86_64")]
    if let (Some(plain), Some(x), Some(w)) = (
        direct(geo).filter(|_| allow_direct),
        T::as_f32(x),
        T::as_f32(w),
    ) {
        // f32 only (the `as_f32`s): the bias is then f32 as well.
        let bias = bias.and_then(T::as_f32);
        let forward = super::super::conv_direct::Forward::new(plain, w);
        let per = images_per_worker(geo.batch);
        // SAFETY: `Forward::image` writes all of its output; the processor was checked by
        // `direct`; buffer sizes are asserted.
        return T::from_f32_vec(unsafe {
            parallel::collect_chunks(geo.batch * out_img, per * out_img, |chunk, dst| {
                for (i, d) in dst.chunks_exact_mut(out_img).enumerate() {
                    let img = chunk * per + i;
                    forward.image(&x[img * in_img..(img + 1) * in_img], bias, d);
                }
            })
        });
    }
    let mut out = vec![T::zero(); geo.batch * out_img];
    if out.is_empty() {
        return out;
    }
    // One image: bias first, then each group's product accumulated onto it.
    let one_image = |img: usize, dst: &mut [T], col: &mut [T], parallel: bool| {
        if let Some(b) = bias {
            for (plane, &bv) in dst.chunks_exact_mut(ohw).zip(b) {
                plane.fill(bv);
            }
        }
        let xi = &x[img * in_img..(img + 1) * in_img];
        for g in 0..geo.groups {
            let xg = &xi[g * cig * geo.in_plane()..(g + 1) * cig * geo.in_plane()];
            let rhs = if geo.is_pointwise() {
                xg
            } else {
                im2col(xg, cig, geo, col);
                &*col
            };
            let out_g = &mut dst[g * cog * ohw..(g + 1) * cog * ohw];
            if cog < FEW_CHANNELS && !parallel {
                // outᵀ (ohw×cog) = colᵀ (ohw×k) · Wᵀ (k×cog), written back as (cog×ohw)
                let (col_t, w_t) = (mat(rhs, 0, 1, ohw), mat(w, g * cog * k, 1, k));
                gemm_into_strided(
                    out_g,
                    (1, ohw),
                    bias.is_some(),
                    ohw,
                    cog,
                    k,
                    col_t,
                    w_t,
                    false,
                );
            } else {
                gemm_into(
                    out_g,
                    bias.is_some(),
                    cog,
                    ohw,
                    k,
                    mat(w, g * cog * k, k, 1),
                    mat(rhs, 0, ohw, 1),
                    parallel,
                );
            }
        }
    };
    let col_len = if geo.is_pointwise() { 0 } else { k * ohw };
    if geo.batch == 1 {
        let mut col = vec![T::zero(); col_len];
        one_image(0, &mut out, &mut col, true);
        return out;
    }
    let per = images_per_worker(geo.batch);
    parallel::for_each_chunk_mut(&mut out, per * out_img, |chunk, dst| {
        let mut col = vec![T::zero(); col_len];
        for (i, d) in dst.chunks_exact_mut(out_img).enumerate() {
            one_image(chunk * per + i, d, &mut col, false);
        }
    });
    out
}
