//! Forward and backward together: the direct kernels against the unfolding, f64 against f32.

use super::backward::backward_impl;
use super::forward::forward_impl;
use super::*;

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
    let wave = |n: usize, f: f64| -> Vec<f64> { (0..n).map(|i| (i as f64 * f).sin()).collect() };
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
