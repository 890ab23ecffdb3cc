//! Unfolding: `im2col` lays the input pixels each kernel tap meets out as the columns of one
//! matrix, and `col2im_add` (its adjoint) folds such columns back onto the input.

use super::super::storage::CpuFloat;
use crate::core::ConvGeometry;

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
pub(super) fn is_plain(geo: &ConvGeometry) -> bool {
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

#[cfg(test)]
mod tests {
    use super::super::conv2d_forward;
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
