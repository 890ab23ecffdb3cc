//! The backward pass: the input gradient (`Wᵀ · g` folded back by `col2im`) and the weight
//! and bias gradients, summed over batch pieces cut by the batch size alone and added in
//! order, so that they have the same bits on any number of threads.

use super::super::matmul::{gemm_into, gemm_into_strided};
use super::super::parallel;
use super::super::storage::CpuFloat;
#[cfg(target_arch = "x86_64")]
use super::direct;
use super::unfold::{col2im_add, im2col};
use super::{mat, FastPath};
use crate::core::ConvGeometry;

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

/// One run of images' shares of the weight and bias gradients (the bias sums in f64).
type Partial<T> = (Option<Vec<T>>, Option<Vec<f64>>);

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

/// The gradients of [`conv2d_forward`](super::conv2d_forward) for an output gradient
/// `gout (N, cout, oh, ow)`: `(dx, dw, db)`, each computed only when asked for.
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
pub(super) fn backward_impl<T: FastPath>(
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
            unsafe { super::super::conv_direct::weight_grad(plain, images, xs, gs, dw) };
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
}
