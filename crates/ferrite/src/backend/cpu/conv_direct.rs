//! Direct convolution for AVX-512 processors, for the plain geometry (stride 1, dilation 1,
//! no padding, one group) of small networks such as LeNet-5. Output rows are vectors along
//! x, and each kernel tap is a shifted load of an input row, so no unfolded `col` buffer is
//! written or read: for a handful of channels the unfolding costs more than the arithmetic.
//!
//! Forward: `out[o][y][x] = b[o] + Σ_{c,i,j} W[o][c][i][j] · x[c][y+i][x+j]`.
//! Weight gradient: `dW[o][c][i][j] = Σ_{n,y,x} g[n][o][y][x] · x[n][c][y+i][x+j]`.

pub(crate) use super::avx512::available;
use super::avx512::lanes;
use std::arch::x86_64::*;
use std::mem::MaybeUninit;

/// The sizes of one plain convolution.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PlainConv {
    /// Input channels.
    pub(crate) cin: usize,
    /// Output channels.
    pub(crate) cout: usize,
    /// Input height and width.
    pub(crate) in_size: [usize; 2],
    /// Kernel height and width.
    pub(crate) kernel: [usize; 2],
}

impl PlainConv {
    fn out_size(&self) -> [usize; 2] {
        [
            self.in_size[0] + 1 - self.kernel[0],
            self.in_size[1] + 1 - self.kernel[1],
        ]
    }
    fn taps(&self) -> usize {
        self.cin * self.kernel[0] * self.kernel[1]
    }
    /// Input offset of tap `t = (c, i, j)` relative to the output position.
    fn tap_offset(&self, t: usize) -> usize {
        let [kh, kw] = self.kernel;
        let (c, i, j) = (t / (kh * kw), t / kw % kh, t % kw);
        (c * self.in_size[0] + i) * self.in_size[1] + j
    }
}

/// A forward convolution prepared once for a batch: the input offset of every tap, and the
/// weights reordered from `(cout, taps)` to `(taps, cout)` so that the output channels of one
/// tap are adjacent for the kernel's broadcasts.
pub(crate) struct Forward {
    geo: PlainConv,
    offsets: Vec<usize>,
    w_taps: Vec<f32>,
}

impl Forward {
    /// Prepares `geo` with weights `w (cout, cin, kh, kw)`.
    pub(crate) fn new(geo: PlainConv, w: &[f32]) -> Self {
        let (cout, taps) = (geo.cout, geo.taps());
        assert!(w.len() >= cout * taps, "conv Forward: weights too small");
        let mut w_taps = vec![0.0; cout * taps];
        for o in 0..cout {
            for t in 0..taps {
                w_taps[t * cout + o] = w[o * taps + t];
            }
        }
        Forward {
            geo,
            offsets: (0..taps).map(|t| geo.tap_offset(t)).collect(),
            w_taps,
        }
    }

    /// One image: `out (cout, oh, ow) = bias + W ⋆ x (cin, H, W)`. Every element of `out` is
    /// written, so it may start uninitialised.
    ///
    /// # Safety
    /// `available()` must be true (the buffer sizes are asserted).
    pub(crate) unsafe fn image(
        &self,
        x: &[f32],
        bias: Option<&[f32]>,
        out: &mut [MaybeUninit<f32>],
    ) {
        let geo = &self.geo;
        let [oh, ow] = geo.out_size();
        assert!(
            x.len() >= geo.cin * geo.in_size[0] * geo.in_size[1]
                && out.len() >= geo.cout * oh * ow
                && bias.is_none_or(|b| b.len() >= geo.cout),
            "conv Forward::image: buffers too small"
        );
        let out = out.as_mut_ptr() as *mut f32;
        let (w_taps, offsets) = (&self.w_taps[..], &self.offsets[..]);
        // The block shape (channels, vectors per row, rows) with the fewest blocks; each keeps
        // 24 accumulators.
        let blocks = |cob: usize, ry: usize| geo.cout.div_ceil(cob) * oh.div_ceil(ry);
        let args = (geo, x, w_taps, bias, out, offsets);
        // SAFETY: the caller promises AVX-512F; the sizes `forward_rows` needs were asserted
        // above, and `offsets`/`w_taps` were built for `geo` by `new`.
        unsafe {
            if ow > 16 {
                if blocks(6, 2) < blocks(12, 1) {
                    forward_rows::<6, 2, 2>(args)
                } else {
                    forward_rows::<12, 2, 1>(args)
                }
            } else {
                let (b12, b8, b6) = (blocks(12, 2), blocks(8, 3), blocks(6, 4));
                if b8 <= b12 && b8 <= b6 {
                    forward_rows::<8, 1, 3>(args)
                } else if b12 <= b6 {
                    forward_rows::<12, 1, 2>(args)
                } else {
                    forward_rows::<6, 1, 4>(args)
                }
            }
        }
    }
}

/// The arguments of [`forward_rows`].
type ForwardArgs<'a> = (
    &'a PlainConv,
    &'a [f32],
    &'a [f32],
    Option<&'a [f32]>,
    *mut f32,
    &'a [usize],
);

/// Output blocks of `COB` channels × `RY` rows × `16·NV` columns.
///
/// # Safety
/// The processor must have AVX-512F; `x` must hold one image of `geo`, `out` be valid for
/// its `cout·oh·ow` outputs, `bias` (if any) hold `cout` values, and `w_taps`/`offsets` be
/// those [`Forward::new`] made for `geo`.
#[target_feature(enable = "avx512f")]
#[allow(clippy::needless_range_loop)]
unsafe fn forward_rows<const COB: usize, const NV: usize, const RY: usize>(
    (geo, x, w_taps, bias, out, offsets): ForwardArgs,
) {
    let [oh, ow] = geo.out_size();
    let w_in = geo.in_size[1];
    let cout = geo.cout;
    let (xp, wp, op) = (x.as_ptr(), w_taps.as_ptr(), out);
    // SAFETY: every input load is at row y0 + r ≤ oh - 1 plus a tap offset, masked to the
    // real columns x0.. < ow, so it reads x[c][y + i][x + j] with y + i < H and x + j < W:
    // inside the image; weight reads are at t·cout + o < taps·cout; stores are masked to
    // real channels, rows and columns of `out`.
    unsafe {
        for o0 in (0..cout).step_by(COB) {
            let cob = COB.min(cout - o0);
            for x0 in (0..ow).step_by(16 * NV) {
                let mut masks = [0 as __mmask16; NV];
                for (v, m) in masks.iter_mut().enumerate() {
                    *m = lanes((ow - x0).saturating_sub(16 * v));
                }
                for y0 in (0..oh).step_by(RY) {
                    let ry = RY.min(oh - y0);
                    let mut acc = [[[_mm512_setzero_ps(); NV]; RY]; COB];
                    if let Some(b) = bias {
                        for c in 0..cob {
                            acc[c] = [[_mm512_set1_ps(b[o0 + c]); NV]; RY];
                        }
                    }
                    // Rows past `ry` repeat the last one; they are never stored.
                    let mut rows = [xp; RY];
                    for (r, row) in rows.iter_mut().enumerate() {
                        *row = xp.add((y0 + r.min(ry - 1)) * w_in + x0);
                    }
                    for (t, &off) in offsets.iter().enumerate() {
                        let mut xv = [[_mm512_setzero_ps(); NV]; RY];
                        for r in 0..RY {
                            for v in 0..NV {
                                xv[r][v] =
                                    _mm512_maskz_loadu_ps(masks[v], rows[r].add(off + 16 * v));
                            }
                        }
                        let wt = wp.add(t * cout + o0);
                        for c in 0..COB {
                            // Channels past `cob` repeat the last one; they are never stored.
                            let wv = _mm512_set1_ps(*wt.add(c.min(cob - 1)));
                            for r in 0..RY {
                                for v in 0..NV {
                                    acc[c][r][v] = _mm512_fmadd_ps(wv, xv[r][v], acc[c][r][v]);
                                }
                            }
                        }
                    }
                    for c in 0..cob {
                        for r in 0..ry {
                            let dst = op.add(((o0 + c) * oh + y0 + r) * ow + x0);
                            for v in 0..NV {
                                _mm512_mask_storeu_ps(dst.add(16 * v), masks[v], acc[c][r][v]);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Adds the weight gradient of `images` images to `dw (cout, taps)`: `x` holds the images'
/// inputs `(n, cin, H, W)`, `g` their output gradients `(n, cout, oh, ow)`.
///
/// # Safety
/// `available()` must be true (the buffer sizes are asserted).
pub(crate) unsafe fn weight_grad(
    geo: &PlainConv,
    images: usize,
    x: &[f32],
    g: &[f32],
    dw: &mut [f32],
) {
    let [oh, ow] = geo.out_size();
    let in_img = geo.cin * geo.in_size[0] * geo.in_size[1];
    let out_img = geo.cout * oh * ow;
    assert!(
        x.len() >= images * in_img
            && g.len() >= images * out_img
            && dw.len() >= geo.cout * geo.taps(),
        "conv weight_grad: buffers too small"
    );
    let offsets: Vec<usize> = (0..geo.taps()).map(|t| geo.tap_offset(t)).collect();
    // The block shape with the fewest blocks: (channels, taps) of 6×4 or 4×6.
    let blocks = |cob: usize, tb: usize| geo.cout.div_ceil(cob) * geo.taps().div_ceil(tb);
    // SAFETY: the caller promises AVX-512F; the buffer sizes were asserted above and the
    // offsets are those of `geo`'s taps.
    unsafe {
        if blocks(6, 4) <= blocks(4, 6) {
            weight_grad_blocks::<6, 4>(geo, images, x, g, dw, &offsets);
        } else {
            weight_grad_blocks::<4, 6>(geo, images, x, g, dw, &offsets);
        }
    }
}

/// `COB` output channels × `TB` taps per block: 24 vector accumulators summed over every
/// image, row and column of the block, then reduced to scalars once.
///
/// # Safety
/// The processor must have AVX-512F; `x` and `g` must hold `images` inputs and output
/// gradients of `geo`, and `offsets` be the input offsets of `geo`'s taps.
#[target_feature(enable = "avx512f")]
#[allow(clippy::needless_range_loop)]
unsafe fn weight_grad_blocks<const COB: usize, const TB: usize>(
    geo: &PlainConv,
    images: usize,
    x: &[f32],
    g: &[f32],
    dw: &mut [f32],
    offsets: &[usize],
) {
    let [oh, ow] = geo.out_size();
    let w_in = geo.in_size[1];
    let in_img = geo.cin * geo.in_size[0] * w_in;
    let out_img = geo.cout * oh * ow;
    let (cout, taps) = (geo.cout, geo.taps());
    let (xp, gp) = (x.as_ptr(), g.as_ptr());
    // SAFETY: loads are masked to the real columns x0.. < ow of real rows y < oh, of real
    // channels and taps, of images n < images: inside g, and (adding a tap offset) at
    // x[n][c][y + i][x + j] with y + i < H and x + j < W, inside x.
    unsafe {
        for o0 in (0..cout).step_by(COB) {
            let cob = COB.min(cout - o0);
            for t0 in (0..taps).step_by(TB) {
                let tb = TB.min(taps - t0);
                let mut acc = [[_mm512_setzero_ps(); TB]; COB];
                for n in 0..images {
                    let xi = xp.add(n * in_img);
                    let gi = gp.add(n * out_img);
                    for y in 0..oh {
                        for x0 in (0..ow).step_by(16) {
                            let mask = lanes(ow - x0);
                            let mut gv = [_mm512_setzero_ps(); COB];
                            for c in 0..COB {
                                // Channels past `cob` repeat the last one; they are never stored.
                                let o = o0 + c.min(cob - 1);
                                gv[c] = _mm512_maskz_loadu_ps(mask, gi.add((o * oh + y) * ow + x0));
                            }
                            let base = xi.add(y * w_in + x0);
                            for t in 0..TB {
                                let off = offsets[t0 + t.min(tb - 1)];
                                let xv = _mm512_maskz_loadu_ps(mask, base.add(off));
                                for c in 0..COB {
                                    acc[c][t] = _mm512_fmadd_ps(gv[c], xv, acc[c][t]);
                                }
                            }
                        }
                    }
                }
                for c in 0..cob {
                    for t in 0..tb {
                        dw[(o0 + c) * taps + t0 + t] += _mm512_reduce_add_ps(acc[c][t]);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::isa::{isa, Isa};
    use super::*;
    use crate::core::ConvGeometry;

    fn values(len: usize, seed: usize) -> Vec<f32> {
        (0..len)
            .map(|i| ((i * 7919 + seed * 104729) % 1999) as f32 / 1999.0 - 0.5)
            .collect()
    }

    /// The forward output of every image and the weight gradient, on the direct kernels
    /// where [`isa`] allows them, else on the unfolding path that `conv` then takes.
    fn run(
        geo: PlainConv,
        images: usize,
        (x, w, bias, g): (&[f32], &[f32], &[f32], &[f32]),
    ) -> (Vec<f32>, Vec<f32>) {
        let [h, wd] = geo.in_size;
        let [oh, ow] = geo.out_size();
        if !available() {
            assert!(
                isa() < Isa::Avx512,
                "the kernels are off, so isa() must say so"
            );
            let conv = ConvGeometry {
                batch: images,
                in_channels: geo.cin,
                out_channels: geo.cout,
                groups: 1,
                in_size: geo.in_size,
                kernel: geo.kernel,
                stride: [1, 1],
                pad: [0, 0],
                dilation: [1, 1],
                out_size: [oh, ow],
            };
            let out = super::super::conv::conv2d_forward(x, w, Some(bias), &conv);
            let (_, dw, _) =
                super::super::conv::conv2d_backward(x, w, g, &conv, [false, true, false]);
            return (out, dw.expect("the weight gradient was asked for"));
        }
        let forward = Forward::new(geo, w);
        let in_img = geo.cin * h * wd;
        let mut out = Vec::new();
        for n in 0..images {
            let mut o = vec![MaybeUninit::new(f32::NAN); geo.cout * oh * ow];
            // SAFETY: `available()` says the processor has AVX-512F.
            unsafe { forward.image(&x[n * in_img..], Some(bias), &mut o) };
            // SAFETY: `image` writes every output (and they started initialised anyway).
            out.extend(o.iter().map(|v| unsafe { v.assume_init() }));
        }
        let mut dw = vec![0.0; geo.cout * geo.taps()];
        // SAFETY: as above.
        unsafe { weight_grad(&geo, images, x, g, &mut dw) };
        (out, dw)
    }

    /// Both kernels against the definition, in f64, for shapes that cover both vector
    /// widths, channel blocks with remainders, and more than one column block (or, where
    /// the kernels are off, the unfolding path against the same definition).
    #[test]
    fn kernels_match_the_definition() {
        for &(cin, cout, h, w, kh, kw, images) in &[
            (1, 6, 32, 32, 5, 5, 3),
            (6, 16, 14, 14, 5, 5, 2),
            (2, 13, 9, 40, 3, 2, 2),
            (3, 5, 6, 7, 1, 1, 1),
        ] {
            let geo = PlainConv {
                cin,
                cout,
                in_size: [h, w],
                kernel: [kh, kw],
            };
            let [oh, ow] = geo.out_size();
            let taps = geo.taps();
            let x = values(images * cin * h * w, 1);
            let wt = values(cout * taps, 2);
            let bias = values(cout, 3);
            let g = values(images * cout * oh * ow, 4);
            let (out, dw) = run(geo, images, (&x, &wt, &bias, &g));
            let at = |n: usize, c: usize, y: usize, xx: usize| x[((n * cin + c) * h + y) * w + xx];
            let mut want_dw = vec![0.0f64; cout * taps];
            for n in 0..images {
                for o in 0..cout {
                    for y in 0..oh {
                        for xx in 0..ow {
                            let mut s = bias[o] as f64;
                            for t in 0..taps {
                                let (c, i, j) = (t / (kh * kw), t / kw % kh, t % kw);
                                s += wt[o * taps + t] as f64 * at(n, c, y + i, xx + j) as f64;
                                want_dw[o * taps + t] += g[((n * cout + o) * oh + y) * ow + xx]
                                    as f64
                                    * at(n, c, y + i, xx + j) as f64;
                            }
                            let got = out[((n * cout + o) * oh + y) * ow + xx] as f64;
                            assert!(
                                (got - s).abs() < 1e-4,
                                "forward {n},{o},{y},{xx}: {got} vs {s}"
                            );
                        }
                    }
                }
            }
            for (i, (&got, &want)) in dw.iter().zip(&want_dw).enumerate() {
                assert!(
                    (got as f64 - want).abs() < 1e-3,
                    "dW[{i}] {got} vs {want} for {cin}->{cout}"
                );
            }
        }
    }
}
