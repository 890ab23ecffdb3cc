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

use super::matmul::{gemm_into, gemm_into_strided, MatRef};
use super::parallel;
use super::storage::CpuFloat;
use crate::core::ConvGeometry;

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

/// Σ x in f64, eight running sums (as `reduce::sum_slice` adds f32 data): a bias gradient.
fn sum_f64<T: CpuFloat>(x: &[T]) -> f64 {
    let mut lanes = [0.0f64; 8];
    let mut pieces = x.chunks_exact(8);
    for piece in &mut pieces {
        for (l, &v) in lanes.iter_mut().zip(piece) {
            *l += v.f64();
        }
    }
    let tail: f64 = pieces.remainder().iter().map(|&v| v.f64()).sum();
    lanes.iter().sum::<f64>() + tail
}

/// The output positions `o` in `0..out` whose input position `o·stride + offset` lies in
/// `0..size`, as a range (they are consecutive).
#[inline]
fn valid_outputs(offset: isize, stride: usize, size: usize, out: usize) -> (usize, usize) {
    let s = stride as isize;
    let lo = if offset >= 0 {
        0
    } else {
        ((-offset + s - 1) / s) as usize
    };
    let room = size as isize - offset;
    let hi = if room <= 0 {
        0
    } else {
        ((room + s - 1) / s) as usize
    };
    let hi = hi.min(out);
    (lo.min(hi), hi)
}

/// Unfolds `channels` input planes `x (channels, H, W)` into `col (channels·kh·kw, oh·ow)`.
#[inline(never)]
pub fn im2col<T: CpuFloat>(x: &[T], channels: usize, geo: &ConvGeometry, col: &mut [T]) {
    let [h, w] = geo.in_size;
    let [kh, kw] = geo.kernel;
    let [sh, sw] = geo.stride;
    let [ph, pw] = geo.pad;
    let [dh, dw] = geo.dilation;
    let [oh, ow] = geo.out_size;
    let ohw = oh * ow;
    if is_plain(geo) {
        for (r, dst) in col
            .chunks_exact_mut(ohw)
            .take(channels * kh * kw)
            .enumerate()
        {
            let (c, ki, kj) = (r / (kh * kw), r / kw % kh, r % kw);
            let plane = &x[c * h * w..(c + 1) * h * w];
            for (oy, d) in dst.chunks_exact_mut(ow).enumerate() {
                copy_short(d, &plane[(oy + ki) * w + kj..]);
            }
        }
        return;
    }
    let mut row = 0;
    for c in 0..channels {
        let plane = &x[c * h * w..(c + 1) * h * w];
        for ki in 0..kh {
            for kj in 0..kw {
                let dst = &mut col[row * ohw..(row + 1) * ohw];
                row += 1;
                let x_off = (kj * dw) as isize - pw as isize;
                let (lo, hi) = valid_outputs(x_off, sw, w, ow);
                for (oy, d) in dst.chunks_exact_mut(ow).enumerate() {
                    let iy = (oy * sh + ki * dh) as isize - ph as isize;
                    if iy < 0 || iy >= h as isize || lo == hi {
                        d.fill(T::zero());
                        continue;
                    }
                    let src = &plane[iy as usize * w..(iy as usize + 1) * w];
                    // (guarded: most rows have no padding, and a fill is a call)
                    if lo > 0 {
                        d[..lo].fill(T::zero());
                    }
                    if hi < ow {
                        d[hi..].fill(T::zero());
                    }
                    let start = (lo as isize * sw as isize + x_off) as usize;
                    if sw == 1 {
                        copy_short(&mut d[lo..hi], &src[start..start + hi - lo]);
                    } else {
                        for (v, s) in d[lo..hi].iter_mut().zip(src[start..].iter().step_by(sw)) {
                            *v = *s;
                        }
                    }
                }
            }
        }
    }
}

/// `dst = src` for the short rows of an unfolding, in 8-element pieces (the last one
/// overlapping): a plain loop becomes a `memcpy` call, which costs more than copying 10 or
/// 28 floats.
#[inline(always)]
fn copy_short<T: Copy>(dst: &mut [T], src: &[T]) {
    let n = dst.len();
    let src = &src[..n];
    if n < 8 {
        for (v, x) in dst.iter_mut().zip(src) {
            *v = *x;
        }
        return;
    }
    let mut i = 0;
    loop {
        let at = i.min(n - 8);
        let piece: &[T; 8] = src[at..at + 8].try_into().expect("8 elements");
        dst[at..at + 8].copy_from_slice(piece);
        if at == n - 8 {
            return;
        }
        i += 8;
    }
}

/// `dst += src` for the short rows of a fold, eight lanes at a time.
#[inline(always)]
fn add_short<T: CpuFloat>(dst: &mut [T], src: &[T]) {
    let n = dst.len();
    let src = &src[..n];
    let mut d = dst.chunks_exact_mut(8);
    let mut s = src.chunks_exact(8);
    for (dp, sp) in (&mut d).zip(&mut s) {
        for (v, x) in dp.iter_mut().zip(sp) {
            *v += *x;
        }
    }
    for (v, x) in d.into_remainder().iter_mut().zip(s.remainder()) {
        *v += *x;
    }
}

/// True for the plain geometry (stride 1, dilation 1, no padding on any side) whose
/// unfolding is a copy of whole row segments, with none of the general case's bookkeeping
/// per row. (`'same'` padding of an even kernel has no padding on the top and left but one
/// more row and column of it at the bottom and right, seen only in `out_size`.)
fn is_plain(geo: &ConvGeometry) -> bool {
    let fits = |i: usize| geo.in_size[i] + 1 == geo.kernel[i] + geo.out_size[i];
    geo.stride == [1, 1] && geo.dilation == [1, 1] && geo.pad == [0, 0] && fits(0) && fits(1)
}

/// Folds `col (channels·kh·kw, oh·ow)` back onto `dx (channels, H, W)`, adding every entry to
/// the input position it was read from (the adjoint of [`im2col`]).
#[inline(never)]
pub fn col2im_add<T: CpuFloat>(col: &[T], channels: usize, geo: &ConvGeometry, dx: &mut [T]) {
    let [h, w] = geo.in_size;
    let [kh, kw] = geo.kernel;
    let [sh, sw] = geo.stride;
    let [ph, pw] = geo.pad;
    let [dh, dw] = geo.dilation;
    let [oh, ow] = geo.out_size;
    let ohw = oh * ow;
    if is_plain(geo) {
        for (r, src) in col.chunks_exact(ohw).take(channels * kh * kw).enumerate() {
            let (c, ki, kj) = (r / (kh * kw), r / kw % kh, r % kw);
            let plane = &mut dx[c * h * w..(c + 1) * h * w];
            for (oy, s) in src.chunks_exact(ow).enumerate() {
                let start = (oy + ki) * w + kj;
                add_short(&mut plane[start..start + ow], s);
            }
        }
        return;
    }
    let mut row = 0;
    for c in 0..channels {
        let plane = &mut dx[c * h * w..(c + 1) * h * w];
        for ki in 0..kh {
            for kj in 0..kw {
                let src = &col[row * ohw..(row + 1) * ohw];
                row += 1;
                let x_off = (kj * dw) as isize - pw as isize;
                let (lo, hi) = valid_outputs(x_off, sw, w, ow);
                if lo == hi {
                    continue;
                }
                for (oy, s) in src.chunks_exact(ow).enumerate() {
                    let iy = (oy * sh + ki * dh) as isize - ph as isize;
                    if iy < 0 || iy >= h as isize {
                        continue;
                    }
                    let d = &mut plane[iy as usize * w..(iy as usize + 1) * w];
                    let start = (lo as isize * sw as isize + x_off) as usize;
                    if sw == 1 {
                        for (dv, sv) in d[start..start + hi - lo].iter_mut().zip(&s[lo..hi]) {
                            *dv += *sv;
                        }
                    } else {
                        for (dv, sv) in d[start..].iter_mut().step_by(sw).zip(&s[lo..hi]) {
                            *dv += *sv;
                        }
                    }
                }
            }
        }
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

/// One run of images' shares of the weight and bias gradients (the bias sums in f64).
type Partial<T> = (Option<Vec<T>>, Option<Vec<f64>>);

/// Images per parallel job: a few jobs per thread, so that a thread slowed by other work on
/// the machine is helped by the others (jobs are claimed one at a time). For the forward
/// pass only: each image's output is its own, so how the batch is split changes no bit of it.
fn images_per_worker(batch: usize) -> usize {
    let jobs = parallel::PIECES_PER_THREAD * parallel::threads();
    batch.div_ceil(jobs).max(1)
}

/// Most pieces the batch is cut into for the weight and bias gradients. Each piece sums its
/// images' shares, and the pieces' sums are added in piece order: the cut depends on the
/// batch size alone, never on the number of threads, so the gradients have the same bits on
/// 1 thread or 64 (see [`parallel`]). Sixteen keeps two to sixteen threads busy with pieces
/// claimed one at a time, while the pieces' buffers and their final sum stay small.
const GRADIENT_PIECES: usize = 16;

/// Images per piece of the weight and bias gradients: a function of the batch size alone.
fn images_per_gradient_piece(batch: usize) -> usize {
    batch.div_ceil(GRADIENT_PIECES).max(1)
}

/// Elements (pieces × weights) from which the pieces' weight gradients are summed across
/// threads; below, one thread does it faster than the hand-over costs.
const PARALLEL_SUM_MIN: usize = 1 << 16;

/// `Σ parts`, element by element, adding the parts in their order: each element's sum is
/// the same sequence of roundings however the elements are shared among threads.
fn sum_in_order<T: CpuFloat>(parts: Vec<Vec<T>>, len: usize) -> Vec<T> {
    let mut parts = parts.into_iter();
    let Some(mut total) = parts.next() else {
        return vec![T::zero(); len];
    };
    let rest: Vec<Vec<T>> = parts.collect();
    let add = |start: usize, piece: &mut [T]| {
        for p in &rest {
            for (t, &v) in piece.iter_mut().zip(&p[start..]) {
                *t += v;
            }
        }
    };
    if rest.len() * len >= PARALLEL_SUM_MIN {
        let chunk = len.div_ceil(parallel::threads()).max(1);
        parallel::for_each_chunk_mut(&mut total, chunk, |i, piece| add(i * chunk, piece));
    } else {
        add(0, &mut total);
    }
    total
}

fn mat<T>(data: &[T], offset: usize, row_stride: usize, col_stride: usize) -> MatRef<'_, T> {
    MatRef {
        data,
        offset,
        row_stride,
        col_stride,
    }
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
fn forward_impl<T: FastPath>(
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
        let forward = super::conv_direct::Forward::new(plain, w);
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

/// The gradients of [`conv2d_forward`] for an output gradient `gout (N, cout, oh, ow)`:
/// `(dx, dw, db)`, each computed only when asked for.
///
/// `d col = W_gᵀ · g_g` folded by `col2im` gives `dx`; `dW_g = Σ_n g_g · col_gᵀ`;
/// `db = Σ_{n, y, x} g`.
#[allow(clippy::type_complexity)]
pub fn conv2d_backward<T: FastPath>(
    x: &[T],
    w: &[T],
    gout: &[T],
    geo: &ConvGeometry,
    needs: [bool; 3],
) -> (Option<Vec<T>>, Option<Vec<T>>, Option<Vec<T>>) {
    backward_impl(x, w, gout, geo, needs, true)
}

/// [`conv2d_backward`], with the direct kernels allowed or not (tests compare both paths).
#[allow(clippy::type_complexity)]
fn backward_impl<T: FastPath>(
    x: &[T],
    w: &[T],
    gout: &[T],
    geo: &ConvGeometry,
    needs: [bool; 3],
    allow_direct: bool,
) -> (Option<Vec<T>>, Option<Vec<T>>, Option<Vec<T>>) {
    let [need_x, need_w, need_b] = needs;
    let (cig, cog, k, ohw) = (
        geo.group_in(),
        geo.group_out(),
        geo.col_rows(),
        geo.out_plane(),
    );
    let in_img = geo.in_channels * geo.in_plane();
    let out_img = geo.out_channels * ohw;
    let w_len = geo.out_channels * k;
    let pointwise = geo.is_pointwise();
    let mut dx = need_x.then(|| vec![T::zero(); geo.batch * in_img]);
    #[cfg(target_arch = "x86_64")]
    let direct_dw = direct(geo).filter(|_| allow_direct && need_w);

    // One run of images: writes their dx, returns their shares of dW and db.
    let run = |first: usize, dx_run: Option<&mut [T]>, images: usize| -> Partial<T> {
        let db = need_b.then(|| {
            let g_run = &gout[first * out_img..(first + images) * out_img];
            let mut db = vec![0.0f64; geo.out_channels];
            for img in g_run.chunks_exact(out_img) {
                for (d, plane) in db.iter_mut().zip(img.chunks_exact(ohw)) {
                    *d += sum_f64(plane);
                }
            }
            db
        });
        let mut dw = need_w.then(|| vec![T::zero(); w_len]);
        let mut dx_run = dx_run;
        // The weight gradient straight from the inputs, without unfolding them, when it can.
        let mut dw_done = false;
        #[cfg(target_arch = "x86_64")]
        if let (Some(plain), Some(dw), Some(xs), Some(gs)) = (
            &direct_dw,
            dw.as_deref_mut().and_then(T::as_f32_mut),
            T::as_f32(&x[first * in_img..]),
            T::as_f32(&gout[first * out_img..]),
        ) {
            // SAFETY: the processor was checked by `direct`; buffer sizes are asserted.
            unsafe { super::conv_direct::weight_grad(plain, images, xs, gs, dw) };
            dw_done = true;
        }
        // The unfolded columns, needed by the unfolded weight gradient and by dx.
        let unfolds = !pointwise && ((dw.is_some() && !dw_done) || dx_run.is_some());
        let mut col = vec![T::zero(); if unfolds { k * ohw } else { 0 }];
        for i in 0..images {
            let img = first + i;
            let gi = &gout[img * out_img..(img + 1) * out_img];
            let xi = &x[img * in_img..(img + 1) * in_img];
            for g in 0..geo.groups {
                let gg = mat(gi, g * cog * ohw, ohw, 1);
                let xg_range = g * cig * geo.in_plane()..(g + 1) * cig * geo.in_plane();
                if let Some(dw) = dw.as_mut().filter(|_| !dw_done) {
                    let rhs = if pointwise {
                        &xi[xg_range.clone()]
                    } else {
                        im2col(&xi[xg_range.clone()], cig, geo, &mut col);
                        &col[..]
                    };
                    // dW_gᵀ (k×cog) += col (k×ohw) · g_gᵀ (ohw×cog), written into dW_g (cog×k)
                    let g_t = mat(gi, g * cog * ohw, 1, ohw);
                    gemm_into_strided(
                        &mut dw[g * cog * k..(g + 1) * cog * k],
                        (1, k),
                        true,
                        k,
                        cog,
                        ohw,
                        mat(rhs, 0, ohw, 1),
                        g_t,
                        false,
                    );
                }
                if let Some(dxr) = dx_run.as_deref_mut() {
                    let dxg = &mut dxr[i * in_img..(i + 1) * in_img][xg_range];
                    // Wᵀ (k×cog) read through swapped strides of W_g (cog×k).
                    let wt = mat(w, g * cog * k, 1, k);
                    if pointwise {
                        gemm_into(dxg, false, k, ohw, cog, wt, gg, false);
                    } else {
                        gemm_into(&mut col, false, k, ohw, cog, wt, gg, false);
                        col2im_add(&col, cig, geo, dxg);
                    }
                }
            }
        }
        (dw, db)
    };

    // Pieces fixed by the batch size (not the thread count), summed in order below.
    let per = images_per_gradient_piece(geo.batch);
    let chunks = geo.batch.div_ceil(per);
    let partials: Vec<Partial<T>> = match dx.as_mut() {
        Some(dx) => parallel::map_chunks_mut(dx, per * in_img, |c, d| {
            let images = d.len() / in_img;
            run(c * per, Some(d), images)
        }),
        None => parallel::map(chunks, |c| run(c * per, None, per.min(geo.batch - c * per))),
    };
    let (dw_parts, db_parts): (Vec<_>, Vec<_>) = partials.into_iter().unzip();
    let dw = need_w.then(|| sum_in_order(dw_parts.into_iter().flatten().collect(), w_len));
    let db = need_b.then(|| {
        let mut db = vec![0.0f64; geo.out_channels];
        for part in db_parts.into_iter().flatten() {
            for (t, v) in db.iter_mut().zip(&part) {
                *t += v;
            }
        }
        db.into_iter().map(T::of_f64).collect()
    });
    (dx, dw, db)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn geometry(h: usize, w: usize, k: usize, stride: usize, pad: usize) -> ConvGeometry {
        let out = |n: usize| (n + 2 * pad - k) / stride + 1;
        ConvGeometry {
            batch: 1,
            in_channels: 1,
            out_channels: 1,
            groups: 1,
            in_size: [h, w],
            kernel: [k, k],
            stride: [stride, stride],
            pad: [pad, pad],
            dilation: [1, 1],
            out_size: [out(h), out(w)],
        }
    }

    #[test]
    fn im2col_of_padded_3x3_at_stride_2() {
        // x = 1..9 in 3x3, padded by 1, 3x3 kernel, stride 2 → 2x2 outputs; tap (0,0) reads
        // the padded positions (−1,−1), (−1,1), (1,−1), (1,1) = 0, 0, 0, 5.
        let x: Vec<f32> = (1..=9).map(|v| v as f32).collect();
        let geo = geometry(3, 3, 3, 2, 1);
        let mut col = vec![f32::NAN; 9 * 4];
        im2col(&x, 1, &geo, &mut col);
        assert_eq!(&col[0..4], &[0.0, 0.0, 0.0, 5.0]);
        // centre tap (1,1) reads (0,0), (0,2), (2,0), (2,2)
        assert_eq!(&col[16..20], &[1.0, 3.0, 7.0, 9.0]);
    }

    #[test]
    fn col2im_is_the_adjoint_of_im2col() {
        // <im2col(x), c> = <x, col2im(c)> for any x, c.
        let geo = ConvGeometry {
            dilation: [2, 1],
            stride: [1, 2],
            ..geometry(5, 6, 3, 1, 1)
        };
        let geo = ConvGeometry {
            out_size: [(5 + 2 - 4 - 1) + 1, (6 + 2 - 2 - 1) / 2 + 1],
            ..geo
        };
        let x: Vec<f32> = (0..30).map(|v| (v as f32 * 0.37).sin()).collect();
        let rows = 9 * geo.out_plane();
        let c: Vec<f32> = (0..rows).map(|v| (v as f32 * 0.11).cos()).collect();
        let mut col = vec![0.0; rows];
        im2col(&x, 1, &geo, &mut col);
        let mut back = vec![0.0; 30];
        col2im_add(&c, 1, &geo, &mut back);
        let lhs: f32 = col.iter().zip(&c).map(|(a, b)| a * b).sum();
        let rhs: f32 = x.iter().zip(&back).map(|(a, b)| a * b).sum();
        assert!((lhs - rhs).abs() < 1e-4, "{lhs} vs {rhs}");
    }

    /// The plain geometry runs on the direct kernels where the processor has them and on the
    /// unfolding elsewhere: both must give the same numbers (and match the definition).
    #[test]
    fn direct_and_unfolded_paths_agree_on_the_plain_geometry() {
        for &(cin, cout, h, w, kh, kw, batch) in &[(1, 6, 12, 20, 5, 5, 3), (3, 4, 7, 9, 3, 2, 2)] {
            let (oh, ow) = (h + 1 - kh, w + 1 - kw);
            let geo = ConvGeometry {
                batch,
                in_channels: cin,
                out_channels: cout,
                groups: 1,
                in_size: [h, w],
                kernel: [kh, kw],
                stride: [1, 1],
                pad: [0, 0],
                dilation: [1, 1],
                out_size: [oh, ow],
            };
            let wave =
                |n: usize, f: f32| -> Vec<f32> { (0..n).map(|i| (i as f32 * f).sin()).collect() };
            let x = wave(batch * cin * h * w, 0.37);
            let wt = wave(cout * cin * kh * kw, 0.71);
            let bias = wave(cout, 1.3);
            let g = wave(batch * cout * oh * ow, 0.23);
            let plain = forward_impl(&x, &wt, Some(&bias), &geo, false);
            // The definition, for one output of every image and channel.
            for n in 0..batch {
                for o in 0..cout {
                    let (y, xx) = (oh - 1, ow / 2);
                    let mut want = bias[o];
                    for c in 0..cin {
                        for i in 0..kh {
                            for j in 0..kw {
                                want += wt[((o * cin + c) * kh + i) * kw + j]
                                    * x[((n * cin + c) * h + y + i) * w + xx + j];
                            }
                        }
                    }
                    let got = plain[((n * cout + o) * oh + y) * ow + xx];
                    assert!((got - want).abs() < 1e-4, "{got} vs {want}");
                }
            }
            let fast = forward_impl(&x, &wt, Some(&bias), &geo, true);
            let close = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(p, q)| (p - q).abs() < 1e-4);
            assert!(close(&plain, &fast));
            let (dx0, dw0, db0) = backward_impl(&x, &wt, &g, &geo, [true, true, true], false);
            let (dx1, dw1, db1) = backward_impl(&x, &wt, &g, &geo, [true, true, true], true);
            for (a, b) in [(dx0, dx1), (dw0, dw1), (db0, db1)] {
                let (a, b) = (a.expect("asked for"), b.expect("asked for"));
                assert!(close(&a, &b));
            }
        }
    }

    /// The f64 path (generic loops, the `gemm` crate) gives the f32 path's numbers on a
    /// padded, strided, grouped geometry, forward and backward.
    #[test]
    fn f64_path_matches_the_f32_path() {
        let geo = ConvGeometry {
            batch: 2,
            in_channels: 4,
            out_channels: 6,
            groups: 2,
            in_size: [5, 6],
            kernel: [3, 2],
            stride: [2, 1],
            pad: [1, 1],
            dilation: [1, 2],
            out_size: [3, 6],
        };
        let wave =
            |n: usize, f: f64| -> Vec<f64> { (0..n).map(|i| (i as f64 * f).sin()).collect() };
        let x = wave(2 * 4 * 5 * 6, 0.37);
        let w = wave(6 * 2 * 3 * 2, 0.71);
        let b = wave(6, 1.3);
        let g = wave(2 * 6 * 3 * 6, 0.23);
        let single = |v: &[f64]| -> Vec<f32> { v.iter().map(|&x| x as f32).collect() };
        let close = |a: &[f64], b: &[f32]| {
            assert_eq!(a.len(), b.len());
            for (p, q) in a.iter().zip(b) {
                assert!((p - *q as f64).abs() < 1e-5, "{p} vs {q}");
            }
        };
        let out64 = conv2d_forward(&x, &w, Some(&b), &geo);
        let out32 = conv2d_forward(&single(&x), &single(&w), Some(&single(&b)), &geo);
        close(&out64, &out32);
        let (dx, dw, db) = conv2d_backward(&x, &w, &g, &geo, [true; 3]);
        let (dx32, dw32, db32) =
            conv2d_backward(&single(&x), &single(&w), &single(&g), &geo, [true; 3]);
        for (a, b) in [(dx, dx32), (dw, dw32), (db, db32)] {
            close(&a.expect("asked for"), &b.expect("asked for"));
        }
        // One output by the definition, in f64: image 1, channel 4 (group 1), position (1, 2).
        let (n, o, oy, ox) = (1, 4, 1, 2);
        let mut want = b[o];
        for c in 0..2 {
            for i in 0..3 {
                for j in 0..2 {
                    let (iy, ix) = (oy * 2 + i, ox + 2 * j);
                    if iy < 1 || ix < 1 || iy > 5 || ix > 6 {
                        continue;
                    }
                    let xv = x[((n * 4 + 2 + c) * 5 + iy - 1) * 6 + ix - 1];
                    want += w[((o * 2 + c) * 3 + i) * 2 + j] * xv;
                }
            }
        }
        let got = out64[((n * 6 + o) * 3 + oy) * 6 + ox];
        assert!((got - want).abs() < 1e-12, "{got} vs {want}");
    }

    /// The weight and bias gradients have the same bits however many threads the batch is
    /// split over (issue #13): on the direct kernels and the unfolding, for a batch that
    /// divides evenly into pieces and one that does not, and in f64.
    #[test]
    fn gradients_do_not_depend_on_the_thread_count() {
        // (batch, cin, cout, side, kernel, direct): LeNet-5's two layers, odd sizes.
        for &(batch, cin, cout, side, kernel, allow_direct) in &[
            (32, 1, 6, 32, 5, true),
            (32, 6, 16, 14, 5, true),
            (37, 3, 8, 10, 3, true),
            (37, 3, 8, 10, 3, false),
            (5, 3, 8, 10, 3, false),
        ] {
            let o = side + 1 - kernel;
            let geo = ConvGeometry {
                batch,
                in_channels: cin,
                out_channels: cout,
                groups: 1,
                in_size: [side, side],
                kernel: [kernel, kernel],
                stride: [1, 1],
                pad: [0, 0],
                dilation: [1, 1],
                out_size: [o, o],
            };
            let wave =
                |n: usize, f: f32| -> Vec<f32> { (0..n).map(|i| (i as f32 * f).sin()).collect() };
            let x = wave(batch * cin * side * side, 0.37);
            let w = wave(cout * cin * kernel * kernel, 0.71);
            let g = wave(batch * cout * o * o, 0.23);
            let on = |threads: usize| {
                parallel::with_threads(threads, || {
                    backward_impl(&x, &w, &g, &geo, [true; 3], allow_direct)
                })
            };
            let bits = |v: Option<Vec<f32>>| -> Vec<u32> {
                v.expect("asked for").iter().map(|x| x.to_bits()).collect()
            };
            let (dx1, dw1, db1) = on(1);
            let (dx1, dw1, db1) = (bits(dx1), bits(dw1), bits(db1));
            for threads in [2, 3, 7, 64] {
                let (dx, dw, db) = on(threads);
                let what = format!("batch {batch}, direct {allow_direct}, {threads} threads");
                assert_eq!(bits(dw), dw1, "dW, {what}");
                assert_eq!(bits(db), db1, "db, {what}");
                assert_eq!(bits(dx), dx1, "dx, {what}");
            }
        }
        // f64 on a grouped, padded geometry (the generic loops and the `gemm` crate).
        let geo = ConvGeometry {
            batch: 19,
            in_channels: 4,
            out_channels: 6,
            groups: 2,
            in_size: [5, 6],
            kernel: [3, 2],
            stride: [2, 1],
            pad: [1, 1],
            dilation: [1, 2],
            out_size: [3, 6],
        };
        let wave =
            |n: usize, f: f64| -> Vec<f64> { (0..n).map(|i| (i as f64 * f).sin()).collect() };
        let (x, w, g) = (
            wave(19 * 4 * 5 * 6, 0.37),
            wave(6 * 2 * 3 * 2, 0.71),
            wave(19 * 6 * 3 * 6, 0.23),
        );
        let on = |threads| {
            parallel::with_threads(threads, || {
                conv2d_backward(&x, &w, &g, &geo, [false, true, true])
            })
        };
        let (_, dw1, db1) = on(1);
        for threads in [2, 5] {
            let (_, dw, db) = on(threads);
            assert_eq!(dw, dw1, "f64 dW, {threads} threads");
            assert_eq!(db, db1, "f64 db, {threads} threads");
        }
    }

    /// The pieces' weight gradients are added in piece order on any split of the elements.
    #[test]
    fn pieces_are_summed_in_order() {
        // (1e8 − 1e8) + 1 is 1 in f32, left to right; any other order gives 0 (1e8 + 1 and
        // 1 − 1e8 round back to ±1e8).
        let parts = vec![vec![1e8f32; 70_000], vec![-1e8; 70_000], vec![1.0; 70_000]];
        for threads in [1, 2, 3] {
            let total = parallel::with_threads(threads, || sum_in_order(parts.clone(), 70_000));
            assert!(total.iter().all(|&t| t == 1.0), "{threads} threads");
        }
        assert_eq!(sum_in_order::<f32>(Vec::new(), 3), vec![0.0; 3]);
    }

    #[test]
    fn same_padding_of_an_even_kernel_is_not_plain() {
        // 4 inputs, kernel 2, 'same': no padding on the left, one zero on the right.
        let geo = ConvGeometry {
            out_size: [1, 4],
            ..geometry(1, 4, 1, 1, 0)
        };
        let geo = ConvGeometry {
            kernel: [1, 2],
            ..geo
        };
        assert!(!is_plain(&geo));
        let x = [1.0, 2.0, 3.0, 4.0];
        let w = [1.0, -1.0];
        assert_eq!(
            conv2d_forward(&x, &w, None, &geo),
            vec![-1.0, -1.0, -1.0, 4.0]
        );
        let tight = ConvGeometry {
            out_size: [1, 3],
            ..geo
        };
        assert!(is_plain(&tight));
        assert_eq!(conv2d_forward(&x, &w, None, &tight), vec![-1.0, -1.0, -1.0]);
    }
}
