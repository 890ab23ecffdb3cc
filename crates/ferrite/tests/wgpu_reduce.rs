//! The reductions on the wgpu backend (`ReduceOps`: folds, extremes with indices, scans and
//! (log-)softmax) against the same computations on the CPU, which is golden-tested against
//! PyTorch: values and gradients, in f32 (to 1e-5) and f64 (to 1e-10), on contiguous and
//! strided views, short lanes (one thread each) and long ones (one workgroup each, or
//! several), NaN, infinities, ties and empty reductions.

use ferrite::{DType, Device, Tensor};
use serde_json::Value;

const GPU: Device = Device::Wgpu(0);

/// Reproducible data in [-1, 1) (a linear congruential generator, so that the test needs no
/// random kernels on either device).
fn data(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

/// A CPU tensor of `dims` from [`data`], in `dtype`.
fn input(dims: &[usize], seed: u64, dtype: DType) -> Tensor {
    let n = dims.iter().product();
    Tensor::from_vec(data(n, seed), dims.to_vec())
        .to(&Device::Cpu)
        .to_dtype(dtype)
}

/// A CPU tensor of `dims` holding `values`, in `dtype`.
fn tensor(values: Vec<f32>, dims: &[usize], dtype: DType) -> Tensor {
    Tensor::from_vec(values, dims.to_vec())
        .to(&Device::Cpu)
        .to_dtype(dtype)
}

/// The tolerance of a dtype: 1e-5 for f32, 1e-10 for f64 (relative, with the same floor).
fn tol(dtype: DType) -> f64 {
    if dtype == DType::F64 {
        1e-10
    } else {
        1e-5
    }
}

/// Asserts equal shapes and elements within `tol · (1 + |want|)`; NaN must meet NaN and an
/// infinity the same infinity.
fn assert_close(what: &str, got: &Tensor, want: &Tensor, tol: f64) {
    assert_eq!(got.dims(), want.dims(), "{what}: shape");
    let (g, w) = (
        got.to(&Device::Cpu).to_vec_f64(),
        want.to(&Device::Cpu).to_vec_f64(),
    );
    for (i, (g, w)) in g.iter().zip(&w).enumerate() {
        let ok = if w.is_nan() {
            g.is_nan()
        } else if w.is_infinite() {
            g == w
        } else {
            (g - w).abs() <= tol * (1.0 + w.abs())
        };
        assert!(ok, "{what}[{i}]: wgpu gives {g}, the cpu {w}");
    }
}

/// Runs `f` on the CPU tensor `x` and on its copy on the GPU, and compares the results
/// (which must live on the GPU).
fn check(what: &str, x: &Tensor, f: impl Fn(&Tensor) -> Tensor) {
    let want = f(x);
    let got = f(&x.to(&GPU));
    assert_eq!(got.device(), GPU, "{what}: result device");
    assert_eq!(got.dtype(), want.dtype(), "{what}: dtype");
    assert_close(what, &got, &want, tol(x.dtype()));
}

/// Like [`check`], and compares the gradients of `Σ w ⊙ f(x)` for a fixed `w`, with the
/// whole backward pass on each device.
fn check_grad(what: &str, x: &Tensor, f: impl Fn(&Tensor) -> Tensor) {
    let cpu = x.detach().requires_grad();
    let want = f(&cpu);
    let w = input(want.dims(), 99, want.dtype());
    want.backward_with(&w);
    let gpu = x.to(&GPU).detach().requires_grad();
    let got = f(&gpu);
    assert_eq!(got.device(), GPU, "{what}: result device");
    assert_close(what, &got, &want, tol(x.dtype()));
    got.backward_with(&w.to(&GPU));
    let (gw, gg) = (
        cpu.grad()
            .unwrap_or_else(|| panic!("{what}: no cpu gradient")),
        gpu.grad()
            .unwrap_or_else(|| panic!("{what}: no wgpu gradient")),
    );
    assert_eq!(gg.device(), GPU, "{what}: gradient device");
    assert_close(&format!("{what} (gradient)"), &gg, &gw, tol(x.dtype()));
}

/// Each dtype under test.
const DTYPES: [DType; 2] = [DType::F32, DType::F64];

/// Rank-3 views of a [4, 5, 6] tensor: itself, permuted, transposed, sliced (with an
/// offset and gaps) and with the first and last dimensions swapped.
fn views(x: &Tensor) -> Vec<(&'static str, Tensor)> {
    vec![
        ("contiguous", x.clone()),
        ("permuted", x.reshape([5, 6, 4]).permute(&[2, 0, 1])),
        ("transposed", x.transpose(1, 2)),
        ("sliced", x.slice(0, 1..4).slice(2, 1..5)),
        ("swapped", x.reshape([6, 5, 4]).transpose(0, 2)),
    ]
}

#[test]
fn folds_over_every_set_of_dimensions() {
    for dtype in DTYPES {
        let x = input(&[4, 5, 6], 1, dtype);
        for (name, v) in views(&x) {
            let v = &v;
            let dim_sets: [&[isize]; 7] =
                [&[0], &[1], &[2], &[0, 1], &[0, 2], &[1, 2], &[-1, 0, 1]];
            for dims in dim_sets {
                for keepdim in [false, true] {
                    let tag = format!("{dtype} {name} dims {dims:?} keepdim {keepdim}");
                    check(&format!("sum {tag}"), v, |t| t.sum_dims(dims, keepdim));
                    check(&format!("mean {tag}"), v, |t| t.mean_dims(dims, keepdim));
                }
            }
            for d in 0..3 {
                check(&format!("prod {dtype} {name} {d}"), v, |t| {
                    t.prod_dim(d, false)
                });
                check(&format!("norm {dtype} {name} {d}"), v, |t| {
                    t.norm_dim(3.0, d, true)
                });
                check(&format!("logsumexp {dtype} {name} {d}"), v, |t| {
                    t.logsumexp(d, false)
                });
            }
            check(&format!("sum {dtype} {name}"), v, |t| t.sum());
            check(&format!("mean {dtype} {name}"), v, |t| t.mean());
            check(&format!("max {dtype} {name}"), v, |t| t.max());
            check(&format!("min {dtype} {name}"), v, |t| t.min());
            check(&format!("prod {dtype} {name}"), v, |t| t.prod());
            check(&format!("norm {dtype} {name}"), v, |t| t.norm(2.0));
            check(&format!("logsumexp_all {dtype} {name}"), v, |t| {
                t.logsumexp_all()
            });
        }
    }
}

#[test]
fn folds_over_long_lanes() {
    for dtype in DTYPES {
        // Multiples of 1/8 small enough that every order of summation is exact, so that the
        // sums must agree to the bit: a lost or doubled element shows.
        let exact = |n: usize, seed: u64| -> Vec<f32> {
            data(n, seed)
                .iter()
                .map(|v| (v * 64.0).round() / 8.0)
                .collect()
        };
        // 10^5 elements: a lane split over several workgroups, then folded again.
        let big = tensor(exact(100_000, 2), &[100_000], dtype);
        for (name, t) in [("flat", big.clone()), ("2d", big.reshape([250, 400]))] {
            let t = &t;
            check(&format!("sum 1e5 {dtype} {name}"), t, |t| t.sum());
            check(&format!("max 1e5 {dtype} {name}"), t, |t| t.max());
            check(&format!("min 1e5 {dtype} {name}"), t, |t| t.min());
            check(&format!("mean 1e5 {dtype} {name}"), t, |t| t.mean());
        }
        let got = big.to(&GPU).sum().to(&Device::Cpu).to_vec_f64()[0];
        let want: f64 = exact(100_000, 2).iter().map(|&v| v as f64).sum();
        assert_eq!(got, want, "sum of 1e5 exact values, {dtype}");
        // A strided view of a long lane: every other element of 2 × 40000 columns.
        let wide = tensor(exact(160_000, 3), &[2, 80_000], dtype).slice(1, 0..80_000);
        let stepped = wide.reshape([2, 40_000, 2]).slice(2, 1..2);
        check(&format!("sum strided long {dtype}"), &stepped, |t| {
            t.sum_dims(&[1, 2], false)
        });
        check(&format!("max strided long {dtype}"), &stepped, |t| t.max());
        // Lanes of 1000 across rows and down columns (one workgroup per lane).
        let m = tensor(exact(6000, 4), &[1000, 6], dtype);
        check(&format!("sum columns {dtype}"), &m, |t| t.sum_dim(0, false));
        check(&format!("sum rows {dtype}"), &m.t(), |t| t.sum_dim(1, true));
        check(&format!("max columns {dtype}"), &m, |t| {
            t.max_dim(0, false).0
        });
        check(&format!("mean rows {dtype}"), &m.t(), |t| {
            t.mean_dim(-1, false)
        });
        // More lanes than one grid dimension holds (65535 workgroups; every kernel with a
        // workgroup per lane finds its lane from the grid the same way).
        let many = tensor(exact(65_600 * 65, 23), &[65_600, 65], dtype);
        check(&format!("sum many lanes {dtype}"), &many, |t| {
            t.sum_dim(1, false)
        });
        // Products of 300 values near one.
        let p: Vec<f32> = data(1200, 5).iter().map(|v| 1.0 + 0.01 * v).collect();
        let p = tensor(p, &[4, 300], dtype);
        check(&format!("prod long {dtype}"), &p, |t| t.prod_dim(1, false));
        check(&format!("prod long all {dtype}"), &p.slice(0, 0..2), |t| {
            t.prod()
        });
        // Random values over long lanes: agreement to rounding.
        let r = input(&[3, 2000], 6, dtype);
        check(&format!("sum random rows {dtype}"), &r, |t| {
            t.sum_dim(1, false)
        });
        check(&format!("logsumexp random rows {dtype}"), &r, |t| {
            t.logsumexp(1, true)
        });
    }
}

#[test]
fn folds_propagate_nan_and_handle_infinities() {
    for dtype in DTYPES {
        for n in [7usize, 1000, 50_000] {
            let mut v = data(3 * n, 7);
            v[n / 2] = f32::NAN;
            v[n + n / 3] = f32::INFINITY;
            v[2 * n + 1] = f32::NEG_INFINITY;
            let t = tensor(v, &[3, n], dtype);
            for keepdim in [false, true] {
                check(&format!("sum nan {dtype} {n}"), &t, |t| {
                    t.sum_dim(1, keepdim)
                });
                check(&format!("max nan {dtype} {n}"), &t, |t| {
                    t.max_dim(1, keepdim).0
                });
                check(&format!("min nan {dtype} {n}"), &t, |t| {
                    t.min_dim(1, keepdim).0
                });
            }
            // Products of values near 1, so that no partial product underflows: where an
            // infinity meets a product that underflowed to 0 (NaN, or the infinity) depends
            // on the order of the multiplications, which a parallel product cannot keep.
            let mut p: Vec<f32> = data(3 * n, 7).iter().map(|v| 1.0 + 0.01 * v).collect();
            p[n / 2] = f32::NAN;
            p[n + n / 3] = f32::INFINITY;
            p[2 * n + 1] = f32::NEG_INFINITY;
            p[2 * n + 2] = -0.5;
            let p = tensor(p, &[3, n], dtype);
            check(&format!("prod nan {dtype} {n}"), &p, |t| {
                t.prod_dim(1, false)
            });
            check(&format!("prod nan t {dtype} {n}"), &p.t(), |t| {
                t.prod_dim(0, true)
            });
            check(&format!("max all nan {dtype} {n}"), &t, |t| t.max());
            check(&format!("min all nan {dtype} {n}"), &t, |t| t.min());
            check(&format!("sum all nan {dtype} {n}"), &t, |t| t.sum());
            check(&format!("max rows {dtype} {n}"), &t.slice(0, 1..3), |t| {
                t.max()
            });
            check(&format!("min rows {dtype} {n}"), &t.slice(0, 1..3), |t| {
                t.min()
            });
            // The raw fold over several dimensions (logsumexp's shift).
            check(&format!("logsumexp nan {dtype} {n}"), &t, |t| {
                t.logsumexp(1, false)
            });
        }
        // A NaN only in the last of several pieces of a long lane, and the largest value
        // being -inf in one lane.
        let mut v = vec![f32::NEG_INFINITY; 40_000];
        v[39_999] = f32::NAN;
        let t = tensor(v, &[40_000], dtype);
        check(&format!("max late nan {dtype}"), &t, |t| t.max());
        check(&format!("max -inf {dtype}"), &t.slice(0, 0..39_999), |t| {
            t.max()
        });
    }
}

#[test]
fn empty_and_scalar_reductions() {
    for dtype in DTYPES {
        let e = tensor(vec![], &[0, 3], dtype);
        check(&format!("sum empty {dtype}"), &e, |t| t.sum());
        check(&format!("sum empty dim {dtype}"), &e, |t| {
            t.sum_dim(0, false)
        });
        check(&format!("sum empty keep {dtype}"), &e, |t| {
            t.sum_dim(0, true)
        });
        check(&format!("sum of nothing {dtype}"), &e, |t| {
            t.sum_dim(1, false)
        });
        check(&format!("mean empty {dtype}"), &e, |t| t.mean_dim(0, false));
        check(&format!("prod empty {dtype}"), &e, |t| t.prod_dim(0, false));
        check(&format!("logsumexp empty {dtype}"), &e, |t| {
            t.logsumexp(0, false)
        });
        check(&format!("cumsum empty {dtype}"), &e, |t| t.cumsum(0));
        check(&format!("softmax empty {dtype}"), &e, |t| t.softmax(1));
        let long_empty = tensor(vec![], &[0, 500], dtype);
        check(&format!("sum empty long {dtype}"), &long_empty, |t| {
            t.sum_dim(0, false)
        });
        check(&format!("max empty long {dtype}"), &long_empty, |t| {
            t.logsumexp(0, true)
        });
        let s = tensor(vec![-2.5], &[], dtype);
        check(&format!("sum scalar {dtype}"), &s, |t| t.sum());
        check(&format!("max scalar {dtype}"), &s, |t| t.max());
        check(&format!("max_dim scalar {dtype}"), &s, |t| {
            t.max_dim(0, false).0
        });
        check(&format!("argmax scalar {dtype}"), &s, |t| t.argmax(0, true));
        check(&format!("cumsum scalar {dtype}"), &s, |t| t.cumsum(0));
        check(&format!("softmax scalar {dtype}"), &s, |t| t.softmax(0));
        check(&format!("log_softmax scalar {dtype}"), &s, |t| {
            t.log_softmax(-1)
        });
        check(&format!("prod scalar {dtype}"), &s, |t| t.prod());
    }
}

#[test]
fn extremes_and_their_indices() {
    for dtype in DTYPES {
        let x = input(&[4, 5, 6], 8, dtype);
        for (name, v) in views(&x) {
            for d in [0isize, 1, 2, -1] {
                for keepdim in [false, true] {
                    let tag = format!("{dtype} {name} dim {d} keepdim {keepdim}");
                    check(&format!("max_dim {tag}"), &v, |t| t.max_dim(d, keepdim).0);
                    check(&format!("argmax {tag}"), &v, |t| t.max_dim(d, keepdim).1);
                    check(&format!("min_dim {tag}"), &v, |t| t.min_dim(d, keepdim).0);
                    check(&format!("argmin {tag}"), &v, |t| t.argmin(d, keepdim));
                }
            }
        }
        // Ties, NaN and infinities, in short lanes (one thread each) and long ones (one
        // workgroup each, where the candidates of different threads meet in a tree).
        for n in [9usize, 65, 300, 5000] {
            let mut v = vec![0.25f32; 6 * n];
            // Lane 0: the max twice, late then early in thread order.
            v[n - 1] = 3.0;
            v[n / 3] = 3.0;
            v[n / 2] = -3.0;
            v[1] = -3.0;
            // Lane 1: two NaN (the first wins) and an infinity.
            v[n + n / 2] = f32::NAN;
            v[n + n - 2] = f32::NAN;
            v[n + 1] = f32::INFINITY;
            // Lane 2: all equal (the first wins). Lane 3: all -inf but one.
            for k in 0..n {
                v[3 * n + k] = f32::NEG_INFINITY;
            }
            v[3 * n + n - 1] = -1e30;
            // Lane 4: all -inf. Lane 5: random.
            for k in 0..n {
                v[4 * n + k] = f32::NEG_INFINITY;
            }
            v[5 * n..].copy_from_slice(&data(n, 9));
            let t = tensor(v, &[6, n], dtype);
            for (name, t) in [("rows", t.clone()), ("columns", t.t().contiguous().t())] {
                let tag = format!("{dtype} {name} n {n}");
                check(&format!("max_dim {tag}"), &t, |t| t.max_dim(1, false).0);
                check(&format!("argmax {tag}"), &t, |t| t.argmax(1, false));
                check(&format!("min_dim {tag}"), &t, |t| t.min_dim(1, true).0);
                check(&format!("argmin {tag}"), &t, |t| t.argmin(1, true));
            }
            let idx = t.to(&GPU).argmax(1, false).to(&Device::Cpu).to_vec();
            assert_eq!(
                idx[..5],
                [(n / 3) as f32, (n / 2) as f32, 0.0, (n - 1) as f32, 0.0]
            );
            let idx = t.to(&GPU).argmin(1, false).to(&Device::Cpu).to_vec();
            assert_eq!(idx[..5], [1.0, (n / 2) as f32, 0.0, 0.0, 0.0]);
        }
        let flat = input(&[3000], 10, dtype);
        assert_eq!(flat.to(&GPU).argmax_all(), flat.argmax_all());
    }
}

#[test]
fn running_sums_and_exclusive_products() {
    for dtype in DTYPES {
        let x = input(&[4, 5, 6], 11, dtype);
        for (name, v) in views(&x) {
            for d in [0isize, 1, 2] {
                check(&format!("cumsum {dtype} {name} {d}"), &v, |t| t.cumsum(d));
                // The exclusive products are the product's gradient.
                check_grad(&format!("prod grad {dtype} {name} {d}"), &v, |t| {
                    t.prod_dim(d, false)
                });
            }
            check_grad(&format!("prod all grad {dtype} {name}"), &v, |t| t.prod());
        }
        // Long lanes: 1000 exact values (every partial sum is exact), one workgroup per
        // lane with four elements per thread, across rows and down columns; and lanes
        // shorter than the workgroup (some threads without elements).
        let exact: Vec<f32> = data(4000, 12)
            .iter()
            .map(|v| (v * 64.0).round() / 8.0)
            .collect();
        let m = tensor(exact, &[4, 1000], dtype);
        check(&format!("cumsum rows {dtype}"), &m, |t| t.cumsum(1));
        check(&format!("cumsum columns {dtype}"), &m.t(), |t| t.cumsum(0));
        check(&format!("cumsum short {dtype}"), &m.slice(1, 0..100), |t| {
            t.cumsum(1)
        });
        check(&format!("cumsum odd {dtype}"), &m.slice(1, 3..780), |t| {
            t.cumsum(-1)
        });
        let flat = m.reshape([4000]);
        check(&format!("cumsum flat {dtype}"), &flat, |t| t.cumsum(0));
        // Random values: agreement to rounding (in f32 the CPU's running sum of 3000 values
        // is itself only that accurate, so its lanes are shorter).
        let long = if dtype == DType::F64 { 3000 } else { 300 };
        let random = input(&[3, long], 13, dtype);
        check(&format!("cumsum random {dtype}"), &random, |t| t.cumsum(1));
        // Exclusive products along long lanes, with zeros: none, one, two in a lane.
        let mut p: Vec<f32> = data(4 * 300, 14).iter().map(|v| 1.0 + 0.01 * v).collect();
        p[300 + 17] = 0.0;
        p[600 + 5] = 0.0;
        p[600 + 290] = 0.0;
        p[900 + 299] = 0.0;
        let p = tensor(p, &[4, 300], dtype);
        check_grad(&format!("prod grad long {dtype}"), &p, |t| {
            t.prod_dim(1, false)
        });
        check_grad(&format!("prod grad long columns {dtype}"), &p.t(), |t| {
            t.prod_dim(0, true)
        });
        check_grad(&format!("prod grad all {dtype}"), &p.slice(0, 1..2), |t| {
            t.prod()
        });
        check_grad(
            &format!("prod grad short zeros {dtype}"),
            &p.slice(1, 0..20),
            |t| t.prod_dim(1, false),
        );
        // NaN and infinities run through the scans as on the CPU.
        let mut q = data(2 * 200, 15);
        q[10] = f32::NAN;
        q[250] = f32::INFINITY;
        q[251] = f32::NEG_INFINITY;
        let q = tensor(q, &[2, 200], dtype);
        check(&format!("cumsum nan {dtype}"), &q, |t| t.cumsum(1));
        check(
            &format!("cumsum nan short {dtype}"),
            &q.slice(1, 0..30),
            |t| t.cumsum(1),
        );
    }
}

#[test]
fn softmax_and_log_softmax() {
    for dtype in DTYPES {
        let x = input(&[4, 5, 6], 16, dtype) * 5.0;
        for (name, v) in views(&x) {
            for d in [0isize, 1, 2, -1] {
                check_grad(&format!("softmax {dtype} {name} {d}"), &v, |t| t.softmax(d));
                check_grad(&format!("log_softmax {dtype} {name} {d}"), &v, |t| {
                    t.log_softmax(d)
                });
            }
            check_grad(&format!("logsumexp {dtype} {name}"), &v, |t| {
                t.logsumexp(1, false)
            });
        }
        // Long lanes (one workgroup each) across rows and down columns, and large values.
        for n in [65usize, 300, 3000] {
            let t = input(&[3, n], 17, dtype) * 20.0 + 1000.0;
            for (name, t) in [("rows", t.clone()), ("columns", t.t().contiguous().t())] {
                let tag = format!("{dtype} {name} n {n}");
                check_grad(&format!("softmax {tag}"), &t, |t| t.softmax(1));
                check_grad(&format!("log_softmax {tag}"), &t, |t| t.log_softmax(1));
                check_grad(&format!("softmax dim 0 {tag}"), &t.t(), |t| t.softmax(0));
            }
        }
        // Lanes with NaN, +inf, all -inf, a -inf among finite values, and huge values.
        for n in [5usize, 400] {
            let mut v = data(5 * n, 18);
            v[1] = f32::NAN;
            v[n + 2] = f32::INFINITY;
            for k in 0..n {
                v[2 * n + k] = f32::NEG_INFINITY;
            }
            v[3 * n + n - 1] = f32::NEG_INFINITY;
            v[4 * n] = 1e30;
            v[4 * n + 1] = -1e30;
            let t = tensor(v, &[5, n], dtype);
            check(&format!("softmax special {dtype} {n}"), &t, |t| {
                t.softmax(1)
            });
            check(&format!("log_softmax special {dtype} {n}"), &t, |t| {
                t.log_softmax(1)
            });
            check(&format!("softmax special t {dtype} {n}"), &t.t(), |t| {
                t.softmax(0)
            });
        }
        let big = tensor(vec![1000.0, 0.0], &[2], dtype);
        check(&format!("log_softmax [1000, 0] {dtype}"), &big, |t| {
            t.log_softmax(0)
        });
    }
}

#[test]
fn reduction_gradients() {
    for dtype in DTYPES {
        let x = input(&[4, 5, 6], 19, dtype);
        for (name, v) in views(&x) {
            let tag = format!("{dtype} {name}");
            check_grad(&format!("sum_dims {tag}"), &v, |t| {
                t.sum_dims(&[0, 2], true)
            });
            check_grad(&format!("sum {tag}"), &v, |t| t.sum());
            check_grad(&format!("mean_dims {tag}"), &v, |t| {
                t.mean_dims(&[1], false)
            });
            check_grad(&format!("norm {tag}"), &v, |t| t.norm_dim(2.0, 2, false));
            check_grad(&format!("max {tag}"), &v, |t| t.max());
            check_grad(&format!("min {tag}"), &v, |t| t.min());
        }
        let long = input(&[2, 3000], 20, dtype);
        check_grad(&format!("sum long {dtype}"), &long, |t| t.sum_dim(1, false));
        check_grad(&format!("mean long {dtype}"), &long, |t| t.mean());
        check_grad(&format!("logsumexp long {dtype}"), &long, |t| {
            t.logsumexp(1, true)
        });
    }
}

/// The gradient of max_dim and min_dim scatters into the arg-extreme (the index family's
/// scatter_add on the GPU).
#[test]
fn extreme_gradients() {
    for dtype in DTYPES {
        let x = input(&[4, 5, 6], 21, dtype);
        for (name, v) in views(&x) {
            for d in [0isize, 2] {
                check_grad(&format!("max_dim grad {dtype} {name} {d}"), &v, |t| {
                    t.max_dim(d, false).0
                });
                check_grad(&format!("min_dim grad {dtype} {name} {d}"), &v, |t| {
                    t.min_dim(d, true).0
                });
            }
        }
        let long = input(&[3, 700], 22, dtype);
        check_grad(&format!("max_dim grad long {dtype}"), &long, |t| {
            t.max_dim(1, false).0
        });
    }
}

/// The reduction cases of `tensor_golden` (outputs and gradients from PyTorch), run on the
/// GPU explicitly, to the golden test's 1e-5 relative and 1e-6 absolute. (Not var and std:
/// `var_mask` divides by a `Tensor::scalar` made on the default device, so they run on the
/// GPU only with `FERRITE_DEVICE=wgpu`, as in `tensor_golden` itself.)
#[test]
fn golden_reduction_cases_on_wgpu() {
    let text = include_str!("fixtures/tensor_golden.json");
    let fixture: Value = serde_json::from_str(text).expect("fixture parses");
    let of = |v: &Value| -> Tensor {
        let shape: Vec<usize> = v["shape"]
            .as_array()
            .expect("a shape")
            .iter()
            .map(|d| d.as_u64().expect("a size") as usize)
            .collect();
        let data: Vec<f32> = v["data"]
            .as_array()
            .expect("data")
            .iter()
            .map(|x| x.as_f64().expect("a number") as f32)
            .collect();
        Tensor::from_vec(data, shape).to(&GPU)
    };
    let close = |case: &str, what: &str, got: &Tensor, want: &Tensor| {
        assert_eq!(got.device(), GPU, "{case}: {what} device");
        assert_eq!(got.dims(), want.dims(), "{case}: {what} shape");
        let (g, w) = (
            got.to(&Device::Cpu).to_vec(),
            want.to(&Device::Cpu).to_vec(),
        );
        for (i, (g, w)) in g.iter().zip(&w).enumerate() {
            assert!(
                (g - w).abs() <= 1e-6 + 1e-5 * w.abs(),
                "{case}: {what}[{i}] is {g} on wgpu, PyTorch gives {w}"
            );
        }
    };
    let mut ran = 0;
    for case in fixture["cases"].as_array().expect("cases") {
        let name = case["name"].as_str().expect("a name");
        let op: fn(&[Tensor]) -> Tensor = match name {
            "softmax_dim1" => |x| x[0].softmax(1),
            "softmax_dim0_transposed" => |x| x[0].t().softmax(0),
            "log_softmax_dim1" => |x| x[0].log_softmax(1),
            "logsumexp_dim0" => |x| x[0].logsumexp(0, false),
            "sum_all" => |x| x[0].sum(),
            "sum_dim_keepdim" => |x| x[0].sum_dim(1, true),
            "mean_dims" => |x| x[0].mean_dims(&[0, 2], false),
            "min_all" => |x| x[0].min(),
            "prod_dim" => |x| x[0].prod_dim(1, false),
            "norm_2" => |x| x[0].norm(2.0),
            "norm_3_dim" => |x| x[0].norm_dim(3.0, 1, false),
            _ => continue,
        };
        let inputs: Vec<Tensor> = case["inputs"]
            .as_array()
            .expect("inputs")
            .iter()
            .map(|i| {
                let t = of(i);
                if i["requires_grad"].as_bool().expect("a flag") {
                    t.requires_grad()
                } else {
                    t
                }
            })
            .collect();
        let out = op(&inputs);
        close(name, "output", &out, &of(&case["output"]));
        out.backward_with(&of(&case["grad_out"]));
        for (k, (input, want)) in inputs
            .iter()
            .zip(case["grads"].as_array().expect("grads"))
            .enumerate()
        {
            if want.is_null() {
                continue;
            }
            let got = input
                .grad()
                .unwrap_or_else(|| panic!("{name}: input {k} got no gradient"));
            close(name, &format!("grad of input {k}"), &got, &of(want));
        }
        ran += 1;
    }
    assert_eq!(ran, 11, "every reduction case of the fixture ran");
}
