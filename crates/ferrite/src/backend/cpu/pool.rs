//! Pooling kernels over planes `(N·C, H, W)`: max (with the arg-max kept for the gradient),
//! average (with or without the padding in the divisor) and adaptive average.
//!
//! Generic over the float type (f32 and f64); the AVX-512 2×2 max-pooling kernel runs for f32
//! only, reached through [`FastPath`].

use super::conv::FastPath;
use super::parallel;
use crate::core::{AvgDivisor, Float, PoolGeometry};

/// Planes per job when splitting across threads (a plane is small; a job should not be).
const PARALLEL_MIN_ELEMENTS: usize = 1 << 15;

/// Planes per parallel job.
fn planes_per_job(geo: &PoolGeometry) -> usize {
    (PARALLEL_MIN_ELEMENTS / geo.in_plane().max(1)).max(1)
}

/// Runs `f(plane_index, out_chunk)` over chunks of `per` output planes, in parallel when the
/// work is large enough.
fn for_planes<T: Float>(
    out: &mut [T],
    plane_len: usize,
    per: usize,
    f: impl Fn(usize, &mut [T]) + Sync + Send,
) {
    if plane_len == 0 {
        return;
    }
    let chunk = per * plane_len;
    if out.len() > chunk {
        parallel::for_each_chunk_mut(out, chunk, |c, o| f(c * per, o));
    } else {
        f(0, out);
    }
}

/// The taps `k` in `0..kernel` whose input position `start + k·dilation` lies in `0..size`.
#[inline]
fn taps(start: isize, kernel: usize, dilation: usize, size: usize) -> std::ops::Range<usize> {
    let d = dilation as isize;
    let lo = if start >= 0 {
        0
    } else {
        ((-start + d - 1) / d) as usize
    };
    let room = size as isize - start;
    let hi = if room <= 0 {
        0
    } else {
        (((room + d - 1) / d) as usize).min(kernel)
    };
    lo.min(hi)..hi
}

/// Max pooling: `(out, argmax)`, where `argmax[i]` is the index `y·W + x` inside its plane of
/// the winning input. As in PyTorch, a NaN wins, and of equal values the first one wins.
pub fn max_pool2d_forward<T: FastPath>(x: &[T], geo: &PoolGeometry) -> (Vec<T>, Vec<i64>) {
    let (ip, op) = (geo.in_plane(), geo.out_plane());
    let [h, w] = geo.in_size;
    let [kh, kw] = geo.kernel;
    let [sh, sw] = geo.stride;
    let [ph, pw] = geo.pad;
    let [dh, dw] = geo.dilation;
    let [oh, ow] = geo.out_size;
    // The valid taps of every output column, computed once.
    let cols: Vec<(usize, std::ops::Range<usize>)> = (0..ow)
        .map(|ox| {
            let x0 = (ox * sw) as isize - pw as isize;
            let t = taps(x0, kw, dw, w);
            ((x0 + (t.start * dw) as isize).max(0) as usize, t)
        })
        .collect();
    // Output columns whose whole window lies inside the input (consecutive).
    let full: Vec<usize> = (0..ow)
        .filter(|&ox| cols[ox].1.len() == kw && (ox * sw) >= pw)
        .collect();
    let inner = match (full.first(), full.last()) {
        (Some(&lo), Some(&hi)) => lo..hi + 1,
        _ => 0..0,
    };
    let mut out = vec![T::zero(); geo.planes * op];
    let mut arg = vec![0i64; geo.planes * op];
    let per = planes_per_job(geo);
    // The common 2x2 window at stride 2 inside the input gets a kernel of its own.
    let two_by_two = geo.kernel == [2, 2]
        && geo.stride == [2, 2]
        && geo.pad == [0, 0]
        && geo.dilation == [1, 1]
        && 2 * oh <= h
        && 2 * ow <= w;
    let job = |first: usize, out: &mut [T], arg: &mut [i64]| {
        for (p, (o, a)) in out
            .chunks_exact_mut(op)
            .zip(arg.chunks_exact_mut(op))
            .enumerate()
        {
            let plane = &x[(first + p) * ip..(first + p + 1) * ip];
            if two_by_two {
                #[cfg(target_arch = "x86_64")]
                if super::avx512::available() {
                    // f32 only: the vector kernel compares f32 lanes.
                    if let (Some(plane), Some(o)) = (T::as_f32(plane), T::as_f32_mut(o)) {
                        // SAFETY: the processor was checked; the window fits the plane
                        // (2·oh ≤ h, 2·ow ≤ w) and the output holds oh·ow values.
                        unsafe { max_pool_2x2_avx512(plane, w, oh, ow, o, a) };
                        continue;
                    }
                }
                max_pool_2x2(plane, w, oh, ow, o, a);
                continue;
            }
            for oy in 0..oh {
                let y0 = (oy * sh) as isize - ph as isize;
                let ty = taps(y0, kh, dh, h);
                let first_row = (y0 + (ty.start * dh) as isize).max(0) as usize;
                // Columns whose window lies inside the input: taps outermost, columns innermost,
                // so each column's running max is an independent chain.
                let (orow, arow) = (
                    &mut o[oy * ow..(oy + 1) * ow],
                    &mut a[oy * ow..(oy + 1) * ow],
                );
                for ox in inner.clone() {
                    orow[ox] = T::neg_infinity();
                    arow[ox] = (first_row * w + ox * sw - pw) as i64;
                }
                for ki in ty.clone() {
                    let row = (y0 + (ki * dh) as isize) as usize * w;
                    for kj in 0..kw {
                        // inner columns start at or right of the padding: no underflow
                        let start = row + inner.start * sw - pw + kj * dw;
                        let taps_row = plane[start..].iter().step_by(sw);
                        for (i, ((o, a), &v)) in orow[inner.clone()]
                            .iter_mut()
                            .zip(&mut arow[inner.clone()])
                            .zip(taps_row)
                            .enumerate()
                        {
                            // Selects, not branches: which tap wins is data-dependent.
                            let better = v > *o || v.is_nan();
                            *o = if better { v } else { *o };
                            *a = if better { (start + i * sw) as i64 } else { *a };
                        }
                    }
                }
                for (ox, (first_col, tx)) in cols.iter().enumerate() {
                    if inner.contains(&ox) {
                        continue;
                    }
                    let mut best = T::neg_infinity();
                    let mut best_at = first_row * w + first_col;
                    for ki in ty.clone() {
                        let row = (y0 + (ki * dh) as isize) as usize * w;
                        for kj in tx.clone() {
                            let at = row + first_col + (kj - tx.start) * dw;
                            let v = plane[at];
                            if v > best || v.is_nan() {
                                best = v;
                                best_at = at;
                            }
                        }
                    }
                    o[oy * ow + ox] = best;
                    a[oy * ow + ox] = best_at as i64;
                }
            }
        }
    };
    if op > 0 && geo.planes > per {
        let mut pairs: Vec<(&mut [T], &mut [i64])> = out
            .chunks_mut(per * op)
            .zip(arg.chunks_mut(per * op))
            .collect();
        parallel::for_each_chunk_mut(&mut pairs, 1, |c, pair| {
            let (o, a) = &mut pair[0];
            job(c * per, o, a);
        });
    } else {
        job(0, &mut out, &mut arg);
    }
    (out, arg)
}

/// [`max_pool_2x2`] sixteen outputs at a time: the two input rows are split into even and
/// odd columns in registers, and the four taps are compared in the same order (a later tap
/// wins when larger or NaN).
///
/// # Safety
/// The processor must have AVX-512F ([`super::avx512::available`]); the sizes are asserted.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn max_pool_2x2_avx512(
    plane: &[f32],
    w: usize,
    oh: usize,
    ow: usize,
    o: &mut [f32],
    a: &mut [i64],
) {
    use super::avx512::lanes;
    use std::arch::x86_64::*;
    assert!(2 * oh * w <= plane.len() + w - 2 * ow && o.len() >= oh * ow && a.len() >= oh * ow);
    // Lane j takes input column 2j (the window's left tap) or 2j + 1 (its right one).
    let even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    let odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    let p = plane.as_ptr();
    for oy in 0..oh {
        let top = 2 * oy * w;
        for ox in (0..ow).step_by(16) {
            let n = (ow - ox).min(16);
            let (m0, m1) = (lanes(2 * n), lanes((2 * n).saturating_sub(16)));
            let at = top + 2 * ox;
            let load = |off: usize| {
                // SAFETY: the masks cover input columns 2·ox .. 2·(ox + n) ≤ 2·ow ≤ w of rows
                // 2·oy and 2·oy + 1 < h (asserted above): inside the plane. wrapping_add:
                // the second half's address may lie past the plane when its mask is empty.
                let (lo, hi) = unsafe {
                    (
                        _mm512_maskz_loadu_ps(m0, p.add(off)),
                        _mm512_maskz_loadu_ps(m1, p.wrapping_add(off + 16)),
                    )
                };
                (
                    _mm512_permutex2var_ps(lo, even, hi),
                    _mm512_permutex2var_ps(lo, odd, hi),
                )
            };
            let (e0, o0) = load(at);
            let (e1, o1) = load(at + w);
            let first = _mm512_add_epi32(_mm512_set1_epi32(at as i32), even);
            let (mut m, mut i) = (e0, first);
            for (v, shift) in [(o0, 1), (e1, w as i32), (o1, w as i32 + 1)] {
                let better = _mm512_cmp_ps_mask::<_CMP_GT_OQ>(v, m)
                    | _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(v, v);
                m = _mm512_mask_blend_ps(better, m, v);
                let j = _mm512_add_epi32(first, _mm512_set1_epi32(shift));
                i = _mm512_mask_blend_epi32(better, i, j);
            }
            let k = lanes(n);
            // The 16 positions, widened to the i64 of index storages as they are stored.
            let mut at32 = [0i32; 16];
            // SAFETY: outputs oy·ow + ox .. + n < oh·ow, which `o` holds (asserted); `at32`
            // holds 16 lanes.
            unsafe {
                _mm512_mask_storeu_ps(o.as_mut_ptr().add(oy * ow + ox), k, m);
                _mm512_storeu_epi32(at32.as_mut_ptr(), i);
            }
            for (dst, &src) in a[oy * ow + ox..oy * ow + ox + n].iter_mut().zip(&at32) {
                *dst = src as i64;
            }
        }
    }
}

/// Max pooling of one plane (row width `w`) with 2x2 windows at stride 2, the windows inside
/// the plane: four loads and three selects per output, no branches.
fn max_pool_2x2<T: Float>(plane: &[T], w: usize, oh: usize, ow: usize, o: &mut [T], a: &mut [i64]) {
    for oy in 0..oh {
        let top = 2 * oy * w;
        let (r0, r1) = (&plane[top..top + 2 * ow], &plane[top + w..top + w + 2 * ow]);
        let (orow, arow) = (
            &mut o[oy * ow..(oy + 1) * ow],
            &mut a[oy * ow..(oy + 1) * ow],
        );
        for (ox, ((ov, av), (p0, p1))) in orow
            .iter_mut()
            .zip(arow.iter_mut())
            .zip(r0.chunks_exact(2).zip(r1.chunks_exact(2)))
            .enumerate()
        {
            let at = (top + 2 * ox) as i64;
            let (mut m, mut i) = (p0[0], at);
            // a later tap wins when larger or NaN (PyTorch's rule; the first of equals stays)
            for (v, j) in [
                (p0[1], at + 1),
                (p1[0], at + w as i64),
                (p1[1], at + w as i64 + 1),
            ] {
                let better = v > m || v.is_nan();
                m = if better { v } else { m };
                i = if better { j } else { i };
            }
            *ov = m;
            *av = i;
        }
    }
}

/// The gradient of max pooling: each output gradient added to its arg-max input.
pub fn max_pool2d_backward<T: Float>(gout: &[T], argmax: &[i64], geo: &PoolGeometry) -> Vec<T> {
    let (ip, op) = (geo.in_plane(), geo.out_plane());
    let len = geo.planes * ip;
    if ip == 0 {
        return vec![T::zero(); len];
    }
    // Each job zeroes its own planes and scatters into them while they are in cache (a zero
    // fill of the whole gradient first would be one more pass, on one thread).
    let per = planes_per_job(geo);
    // SAFETY: each piece is zero-filled before anything else touches it.
    unsafe {
        parallel::collect_chunks(len, per * ip, |c, d| {
            d.fill(std::mem::MaybeUninit::new(T::zero()));
            // SAFETY: every element was just initialised.
            let d = std::slice::from_raw_parts_mut(d.as_mut_ptr() as *mut T, d.len());
            let first = c * per;
            for (p, dplane) in d.chunks_exact_mut(ip).enumerate() {
                let range = (first + p) * op..(first + p + 1) * op;
                for (&g, &a) in gout[range.clone()].iter().zip(&argmax[range]) {
                    dplane[a as usize] += g;
                }
            }
        })
    }
}

/// For output `o`: the input range `[lo, hi)` its window covers and its divisor extent.
#[inline]
fn window(
    o: usize,
    stride: usize,
    pad: usize,
    kernel: usize,
    size: usize,
) -> (usize, usize, usize) {
    let start = (o * stride) as isize - pad as isize;
    let end_padded = (start + kernel as isize).min((size + pad) as isize);
    let padded_extent = (end_padded - start) as usize;
    let lo = start.max(0) as usize;
    let hi = (end_padded.min(size as isize)).max(lo as isize) as usize;
    (lo, hi, padded_extent)
}

/// A count as a float (exact below 2⁵³, so f32 rounds it once, as `n as f32` does).
#[inline]
fn count<T: Float>(n: usize) -> T {
    T::of_f64(n as f64)
}

fn divisor<T: Float>(kind: AvgDivisor, ry: (usize, usize, usize), rx: (usize, usize, usize)) -> T {
    count(match kind {
        AvgDivisor::IncludePad => ry.2 * rx.2,
        AvgDivisor::ExcludePad => (ry.1 - ry.0) * (rx.1 - rx.0),
        AvgDivisor::Fixed(d) => d,
    })
}

/// Average pooling: each output is its window's sum over the divisor `kind` chooses.
pub fn avg_pool2d_forward<T: Float>(x: &[T], geo: &PoolGeometry, kind: AvgDivisor) -> Vec<T> {
    let (ip, op) = (geo.in_plane(), geo.out_plane());
    let [h, w] = geo.in_size;
    let [oh, ow] = geo.out_size;
    let mut out = vec![T::zero(); geo.planes * op];
    for_planes(&mut out, op, planes_per_job(geo), |first, o| {
        for (p, oplane) in o.chunks_exact_mut(op).enumerate() {
            let plane = &x[(first + p) * ip..(first + p + 1) * ip];
            for oy in 0..oh {
                let ry = window(oy, geo.stride[0], geo.pad[0], geo.kernel[0], h);
                for ox in 0..ow {
                    let rx = window(ox, geo.stride[1], geo.pad[1], geo.kernel[1], w);
                    let mut sum = T::zero();
                    for iy in ry.0..ry.1 {
                        sum += plane[iy * w + rx.0..iy * w + rx.1]
                            .iter()
                            .copied()
                            .sum::<T>();
                    }
                    oplane[oy * ow + ox] = sum / divisor::<T>(kind, ry, rx);
                }
            }
        }
    });
    out
}

/// The gradient of average pooling: each output gradient over its divisor, spread over its
/// window.
pub fn avg_pool2d_backward<T: Float>(gout: &[T], geo: &PoolGeometry, kind: AvgDivisor) -> Vec<T> {
    let (ip, op) = (geo.in_plane(), geo.out_plane());
    let [h, w] = geo.in_size;
    let [oh, ow] = geo.out_size;
    let mut dx = vec![T::zero(); geo.planes * ip];
    for_planes(&mut dx, ip, planes_per_job(geo), |first, d| {
        for (p, dplane) in d.chunks_exact_mut(ip).enumerate() {
            let gplane = &gout[(first + p) * op..(first + p + 1) * op];
            for oy in 0..oh {
                let ry = window(oy, geo.stride[0], geo.pad[0], geo.kernel[0], h);
                for ox in 0..ow {
                    let rx = window(ox, geo.stride[1], geo.pad[1], geo.kernel[1], w);
                    let share = gplane[oy * ow + ox] / divisor::<T>(kind, ry, rx);
                    for iy in ry.0..ry.1 {
                        for v in &mut dplane[iy * w + rx.0..iy * w + rx.1] {
                            *v += share;
                        }
                    }
                }
            }
        }
    });
    dx
}

/// The input range of adaptive pooling's output `o` of `out`: `[⌊o·n/out⌋, ⌈(o+1)·n/out⌉)`.
#[inline]
fn adaptive_range(o: usize, n: usize, out: usize) -> (usize, usize) {
    (o * n / out, ((o + 1) * n).div_ceil(out))
}

/// Adaptive average pooling of `planes` planes `in_size` to `out_size` (PyTorch's windows).
pub fn adaptive_avg_pool2d_forward<T: Float>(
    x: &[T],
    planes: usize,
    in_size: [usize; 2],
    out_size: [usize; 2],
) -> Vec<T> {
    let [h, w] = in_size;
    let [oh, ow] = out_size;
    let (ip, op) = (h * w, oh * ow);
    let mut out = vec![T::zero(); planes * op];
    let per = (PARALLEL_MIN_ELEMENTS / ip.max(1)).max(1);
    for_planes(&mut out, op, per, |first, o| {
        for (p, oplane) in o.chunks_exact_mut(op).enumerate() {
            let plane = &x[(first + p) * ip..(first + p + 1) * ip];
            for oy in 0..oh {
                let (y0, y1) = adaptive_range(oy, h, oh);
                for ox in 0..ow {
                    let (x0, x1) = adaptive_range(ox, w, ow);
                    let mut sum = T::zero();
                    for iy in y0..y1 {
                        sum += plane[iy * w + x0..iy * w + x1].iter().copied().sum::<T>();
                    }
                    oplane[oy * ow + ox] = sum / count::<T>((y1 - y0) * (x1 - x0));
                }
            }
        }
    });
    out
}

/// The gradient of adaptive average pooling: each output gradient shared evenly by its window.
pub fn adaptive_avg_pool2d_backward<T: Float>(
    gout: &[T],
    planes: usize,
    in_size: [usize; 2],
    out_size: [usize; 2],
) -> Vec<T> {
    let [h, w] = in_size;
    let [oh, ow] = out_size;
    let (ip, op) = (h * w, oh * ow);
    let mut dx = vec![T::zero(); planes * ip];
    let per = (PARALLEL_MIN_ELEMENTS / ip.max(1)).max(1);
    for_planes(&mut dx, ip, per, |first, d| {
        for (p, dplane) in d.chunks_exact_mut(ip).enumerate() {
            let gplane = &gout[(first + p) * op..(first + p + 1) * op];
            for oy in 0..oh {
                let (y0, y1) = adaptive_range(oy, h, oh);
                for ox in 0..ow {
                    let (x0, x1) = adaptive_range(ox, w, ow);
                    let share = gplane[oy * ow + ox] / count::<T>((y1 - y0) * (x1 - x0));
                    for iy in y0..y1 {
                        for v in &mut dplane[iy * w + x0..iy * w + x1] {
                            *v += share;
                        }
                    }
                }
            }
        }
    });
    dx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dilated_2x2_windows_skip_a_column_and_a_row() {
        // 6x6 input 0..36, window 2x2 at stride 2 with dilation 2: output (0, 0) is the max of
        // positions (0,0), (0,2), (2,0), (2,2) = 14 there.
        let x: Vec<f32> = (0..36).map(|v| v as f32).collect();
        let geo = PoolGeometry {
            planes: 1,
            in_size: [6, 6],
            kernel: [2, 2],
            stride: [2, 2],
            pad: [0, 0],
            dilation: [2, 2],
            out_size: [2, 2],
        };
        let (out, arg) = max_pool2d_forward(&x, &geo);
        assert_eq!(out, vec![14.0, 16.0, 26.0, 28.0]);
        assert_eq!(arg, vec![14, 16, 26, 28]);
    }

    /// 2×2 max pooling at stride 2 by its definition: the taps in row-major order, a later
    /// one winning when larger or NaN.
    #[cfg(target_arch = "x86_64")]
    fn reference_2x2(plane: &[f32], w: usize, oh: usize, ow: usize) -> (Vec<f32>, Vec<i64>) {
        let mut out = (Vec::new(), Vec::new());
        for oy in 0..oh {
            for ox in 0..ow {
                let taps = [0, 1, w, w + 1].map(|d| 2 * oy * w + 2 * ox + d);
                let best = taps[1..].iter().fold(taps[0], |best, &t| {
                    let (v, m) = (plane[t], plane[best]);
                    if v > m || v.is_nan() {
                        t
                    } else {
                        best
                    }
                });
                out.0.push(plane[best]);
                out.1.push(best as i64);
            }
        }
        out
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn vector_2x2_kernel_agrees_with_the_scalar_one_on_ties_and_nan() {
        let vector = crate::backend::cpu::avx512::available();
        if !vector {
            // Only the scalar kernel runs: it is checked against the definition instead.
            use crate::backend::cpu::isa::{isa, Isa};
            assert!(
                isa() < Isa::Avx512,
                "the vector kernel is off, so isa() must say so"
            );
        }
        for &(h, w) in &[(4, 10), (28, 28), (10, 35), (6, 66), (3, 3)] {
            let (oh, ow) = (h / 2, w / 2);
            // Few distinct values, so windows hold ties; a few NaNs.
            let plane: Vec<f32> = (0..h * w)
                .map(|i| match (i * 7919) % 23 {
                    0 => f32::NAN,
                    r => (r % 5) as f32,
                })
                .collect();
            let (mut o1, mut a1) = (vec![0.0; oh * ow], vec![0i64; oh * ow]);
            let (mut o2, mut a2) = (vec![0.0; oh * ow], vec![0i64; oh * ow]);
            max_pool_2x2(&plane, w, oh, ow, &mut o1, &mut a1);
            if vector {
                // SAFETY: `available()` says the processor has AVX-512F; the window fits.
                unsafe { max_pool_2x2_avx512(&plane, w, oh, ow, &mut o2, &mut a2) };
            } else {
                (o2, a2) = reference_2x2(&plane, w, oh, ow);
            }
            assert_eq!(a1, reference_2x2(&plane, w, oh, ow).1, "{h}x{w} scalar");
            assert_eq!(a1, a2, "{h}x{w}");
            for (x, y) in o1.iter().zip(&o2) {
                assert!(x == y || (x.is_nan() && y.is_nan()), "{h}x{w}: {x} vs {y}");
            }
        }
    }

    /// The f64 kernels give the f32 ones' numbers (and the same arg-max) on a padded,
    /// strided geometry and on the 2×2 one, forward and backward.
    #[test]
    fn f64_path_matches_the_f32_path() {
        let padded = PoolGeometry {
            planes: 3,
            in_size: [5, 7],
            kernel: [3, 2],
            stride: [2, 2],
            pad: [1, 1],
            dilation: [1, 1],
            out_size: [3, 4],
        };
        let two = PoolGeometry {
            kernel: [2, 2],
            pad: [0, 0],
            out_size: [2, 3],
            ..padded
        };
        let x: Vec<f64> = (0..3 * 35).map(|i| (i as f64 * 0.37).sin()).collect();
        let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
        let close = |a: &[f64], b: &[f32]| {
            assert_eq!(a.len(), b.len());
            for (p, q) in a.iter().zip(b) {
                assert!((p - *q as f64).abs() < 1e-6, "{p} vs {q}");
            }
        };
        for geo in [padded, two] {
            let (out, arg) = max_pool2d_forward(&x, &geo);
            let (out32, arg32) = max_pool2d_forward(&x32, &geo);
            close(&out, &out32);
            assert_eq!(arg, arg32);
            let g: Vec<f64> = (0..out.len()).map(|i| i as f64 * 0.5 - 3.0).collect();
            let g32: Vec<f32> = g.iter().map(|&v| v as f32).collect();
            close(
                &max_pool2d_backward(&g, &arg, &geo),
                &max_pool2d_backward(&g32, &arg32, &geo),
            );
            for kind in [
                AvgDivisor::IncludePad,
                AvgDivisor::ExcludePad,
                AvgDivisor::Fixed(4),
            ] {
                close(
                    &avg_pool2d_forward(&x, &geo, kind),
                    &avg_pool2d_forward(&x32, &geo, kind),
                );
                close(
                    &avg_pool2d_backward(&g, &geo, kind),
                    &avg_pool2d_backward(&g32, &geo, kind),
                );
            }
        }
        let a = adaptive_avg_pool2d_forward(&x, 3, [5, 7], [3, 2]);
        close(&a, &adaptive_avg_pool2d_forward(&x32, 3, [5, 7], [3, 2]));
        // Window (0, 0) of 5 → 3 rows and 7 → 2 columns: rows [0, 2), columns [0, 4).
        let want: f64 = (0..2)
            .flat_map(|y| (0..4).map(move |c| y * 7 + c))
            .map(|i| x[i])
            .sum();
        assert!((a[0] - want / 8.0).abs() < 1e-15);
        let g: Vec<f64> = (0..a.len()).map(|i| i as f64 - 2.5).collect();
        let g32: Vec<f32> = g.iter().map(|&v| v as f32).collect();
        close(
            &adaptive_avg_pool2d_backward(&g, 3, [5, 7], [3, 2]),
            &adaptive_avg_pool2d_backward(&g32, 3, [5, 7], [3, 2]),
        );
    }

    #[test]
    fn adaptive_windows_overlap_like_pytorch() {
        // 5 inputs to 3 outputs: [0,2), [1,4), [3,5)
        assert_eq!(
            (0..3).map(|o| adaptive_range(o, 5, 3)).collect::<Vec<_>>(),
            vec![(0, 2), (1, 4), (3, 5)]
        );
    }

    #[test]
    fn padded_window_extents() {
        // size 4, kernel 3, pad 1, stride 2: windows [-1,2) and [1,4); clipped [0,2) and [1,4)
        assert_eq!(window(0, 2, 1, 3, 4), (0, 2, 3));
        assert_eq!(window(1, 2, 1, 3, 4), (1, 4, 3));
        // a ceil-mode window hanging past the padding: start 3, end min(6, 5) = 5
        assert_eq!(window(1, 3, 1, 3, 4), (2, 4, 3));
    }
}
