//! The wgpu backend's matrix products (`matmul`, `linear` and its bias gradient) against the
//! CPU backend, in f32 and f64: 2-D products of odd sizes, batched products with broadcast
//! batch dimensions, transposed, sliced and expanded operands read through their strides,
//! both tile sizes of the kernel, and the gradients of `matmul` and `nn::Linear` through
//! autograd.

use ferrite::nn::{Linear, Module};
use ferrite::{DType, Device, Tensor};

const GPU: Device = Device::Wgpu(0);

/// Deterministic values in (-1, 1) that f32 does not hold exactly (so that the f64 path is
/// really tested in f64).
fn values(len: usize, seed: u64) -> Vec<f64> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 11) as f64 / (1u64 << 53) as f64) * 2.0 - 1.0 + 1e-9
        })
        .collect()
}

/// A CPU tensor of `dims` in `dtype`, filled from `seed`.
fn host(dims: &[usize], dtype: DType, seed: u64) -> Tensor {
    let n = dims.iter().product();
    Tensor::from_f64(values(n, seed), dims.to_vec())
        .to(&Device::Cpu)
        .to_dtype(dtype)
}

/// The tolerance of a result computed in `dtype` (sums of at most 128 products here).
fn tol(dtype: DType) -> f64 {
    match dtype {
        DType::F64 => 1e-10,
        _ => 1e-5,
    }
}

/// `got` (read back from any device) matches `want` (computed on the CPU) within `tol`,
/// relative to the size of the values.
fn assert_close(got: &Tensor, want: &Tensor, tol: f64, what: &str) {
    assert_eq!(got.dims(), want.dims(), "{what}: shape");
    assert_eq!(got.dtype(), want.dtype(), "{what}: dtype");
    let (g, w) = (got.to(&Device::Cpu).to_vec_f64(), want.to_vec_f64());
    for (i, (a, b)) in g.iter().zip(&w).enumerate() {
        assert!(
            (a - b).abs() <= tol * b.abs().max(1.0),
            "{what}[{i}]: wgpu {a}, cpu {b}"
        );
    }
}

/// `f(a, b)` on the GPU matches it on the CPU, for CPU operands `a` and `b` that `f` may view
/// (transpose, slice, expand) before multiplying.
fn check_product(a: &Tensor, b: &Tensor, f: impl Fn(&Tensor, &Tensor) -> Tensor, what: &str) {
    let want = f(a, b);
    let got = f(&a.to(&GPU), &b.to(&GPU));
    assert_eq!(got.device(), GPU, "{what}: the product ran on the gpu");
    assert_close(&got, &want, tol(a.dtype()), what);
}

const DTYPES: [DType; 2] = [DType::F32, DType::F64];

#[test]
fn products_of_odd_sizes() {
    let sizes = [
        (1, 1, 1),
        (1, 7, 33),
        (7, 33, 1),
        (33, 65, 7),
        (65, 7, 65),
        (65, 128, 33),
        (64, 16, 64),
        (128, 128, 128),
        (3, 0, 4),
    ];
    for dtype in DTYPES {
        for (i, &(m, k, n)) in sizes.iter().enumerate() {
            let a = host(&[m, k], dtype, 2 * i as u64);
            let b = host(&[k, n], dtype, 2 * i as u64 + 1);
            check_product(
                &a,
                &b,
                |a, b| a.matmul(b),
                &format!("{dtype:?} {m}x{k}x{n}"),
            );
        }
    }
}

#[test]
fn vector_operands() {
    for dtype in DTYPES {
        let (v, m) = (host(&[33], dtype, 1), host(&[33, 7], dtype, 2));
        check_product(&v, &m, |v, m| v.matmul(m), "vector · matrix");
        check_product(
            &m,
            &v.narrow(0, 0, 7),
            |m, v| m.matmul(v),
            "matrix · vector",
        );
        check_product(&v, &v, |a, b| a.dot(b), "dot");
    }
}

#[test]
fn transposed_sliced_and_expanded_operands() {
    for dtype in DTYPES {
        let (m, k, n) = (33, 65, 7);
        let at = host(&[k, m], dtype, 10);
        let bt = host(&[n, k], dtype, 11);
        let a = host(&[m, k], dtype, 12);
        let b = host(&[k, n], dtype, 13);
        check_product(&at, &b, |a, b| a.t().matmul(b), "aᵀ·b");
        check_product(&a, &bt, |a, b| a.matmul(&b.t()), "a·bᵀ");
        check_product(&at, &bt, |a, b| a.t().matmul(&b.t()), "aᵀ·bᵀ");
        // Offsets and row strides wider than the rows: a window of a larger matrix.
        let big = host(&[70, 72], dtype, 14);
        check_product(
            &big,
            &b,
            |big, b| big.narrow(0, 3, m).narrow(1, 5, k).matmul(b),
            "window · b",
        );
        check_product(
            &big,
            &a,
            |big, a| a.matmul(&big.narrow(0, 2, k).narrow(1, 1, 9)),
            "a · window",
        );
        // Every other column: a column stride of 2.
        let wide = host(&[m, 2 * k], dtype, 17);
        check_product(
            &wide,
            &b,
            |w, b| {
                let every_other = w.reshape([m, k, 2]).narrow(2, 0, 1).squeeze(-1);
                assert!(!every_other.is_contiguous());
                every_other.matmul(b)
            },
            "strided columns",
        );
        // A column broadcast along the rows: stride 0.
        let col = host(&[k, 1], dtype, 15);
        check_product(&a, &col, |a, c| a.matmul(&c.expand([k, n])), "a · expanded");
        let row = host(&[1, k], dtype, 16);
        check_product(&row, &b, |r, b| r.expand([m, k]).matmul(b), "expanded · b");
    }
}

#[test]
fn batched_products_with_broadcasting() {
    for dtype in DTYPES {
        let a3 = host(&[4, 7, 9], dtype, 20);
        let b3 = host(&[4, 9, 5], dtype, 21);
        check_product(&a3, &b3, |a, b| a.matmul(b), "(4,7,9)·(4,9,5)");
        let a4 = host(&[2, 3, 7, 33], dtype, 22);
        let b2 = host(&[33, 5], dtype, 23);
        check_product(&a4, &b2, |a, b| a.matmul(b), "(2,3,7,33)·(33,5)");
        let l = host(&[2, 1, 7, 9], dtype, 24);
        let r = host(&[1, 3, 9, 5], dtype, 25);
        check_product(&l, &r, |a, b| a.matmul(b), "(2,1,7,9)·(1,3,9,5)");
        let r3 = host(&[3, 9, 5], dtype, 26);
        check_product(&l, &r3, |a, b| a.matmul(b), "(2,1,7,9)·(3,9,5)");
        // Transposed matrices and permuted batch dimensions inside a batch.
        let at = host(&[3, 9, 7], dtype, 27);
        check_product(
            &at,
            &r3,
            |a, b| a.transpose(-1, -2).matmul(b),
            "batched aᵀ·b",
        );
        let p = host(&[7, 3, 9], dtype, 28);
        check_product(
            &p,
            &r3,
            |a, b| a.permute(&[1, 0, 2]).matmul(b),
            "permuted batch",
        );
        let bt = host(&[2, 3, 5, 9], dtype, 29);
        check_product(
            &l,
            &bt,
            |a, b| a.matmul(&b.transpose(-1, -2)),
            "broadcast a·bᵀ",
        );
        // An empty batch.
        let e = host(&[0, 7, 9], dtype, 30);
        check_product(&e, &r3.narrow(0, 0, 1), |a, b| a.matmul(b), "empty batch");
    }
}

/// Enough products of more than 64 rows and columns for the kernel's 128×128 tile, with
/// edges in M, N and K.
#[test]
fn many_products_on_the_large_tile() {
    for dtype in DTYPES {
        let a = host(&[256, 65, 17], dtype, 40);
        let bt = host(&[70, 17], dtype, 41);
        check_product(
            &a,
            &bt,
            |a, b| a.matmul(&b.t()),
            &format!("{dtype:?} large tile"),
        );
    }
    let at = host(&[256, 9, 66], DType::F32, 42);
    let b = host(&[256, 9, 67], DType::F32, 43);
    check_product(
        &at,
        &b,
        |a, b| a.transpose(-1, -2).matmul(b),
        "large tile, transposed",
    );
}

/// A layer wide enough for the large tile, so that its bias epilogue runs too (K is tiny to
/// keep the software adapter quick).
#[test]
fn linear_on_the_large_tile() {
    for dtype in DTYPES {
        let (m, k, n) = (2049, 3, 2047);
        let w = host(&[n, k], dtype, 45);
        let b = host(&[n], dtype, 46);
        let x = host(&[m, k], dtype, 47);
        let y = layer(&w, Some(&b), &GPU).forward(&x.to(&GPU));
        let want = layer(&w, Some(&b), &Device::Cpu).forward(&x);
        assert_close(&y, &want, tol(dtype), &format!("{dtype:?} wide layer"));
    }
}

#[test]
fn matmul_gradients() {
    for dtype in DTYPES {
        let cases: [(Vec<usize>, Vec<usize>); 3] = [
            (vec![7, 33], vec![33, 5]),
            (vec![3, 7, 9], vec![3, 9, 65]),
            (vec![2, 3, 7, 9], vec![9, 5]),
        ];
        for (i, (da, db)) in cases.iter().enumerate() {
            let a = host(da, dtype, 50 + 3 * i as u64);
            let b = host(db, dtype, 51 + 3 * i as u64);
            let run = |dev: &Device| {
                let (a, b) = (a.to(dev).requires_grad(), b.to(dev).requires_grad());
                let y = a.matmul(&b);
                let g = host(y.dims(), dtype, 52 + 3 * i as u64).to(dev);
                y.backward_with(&g);
                (
                    y,
                    a.grad().expect("grad of a"),
                    b.grad().expect("grad of b"),
                )
            };
            let (y, ga, gb) = run(&GPU);
            let (y0, ga0, gb0) = run(&Device::Cpu);
            let what = format!("{dtype:?} {da:?}·{db:?}");
            assert_close(&y, &y0, tol(dtype), &format!("{what}: y"));
            assert_close(&ga, &ga0, tol(dtype), &format!("{what}: da"));
            assert_close(&gb, &gb0, tol(dtype), &format!("{what}: db"));
        }
    }
}

/// A `Linear` layer on `dev` with the given weight and bias.
fn layer(w: &Tensor, b: Option<&Tensor>, dev: &Device) -> Linear {
    Linear::from_tensors(w.to(dev), b.map(|b| b.to(dev))).unwrap()
}

#[test]
fn linear_forward() {
    for dtype in DTYPES {
        for (i, &(m, k, n)) in [(1, 7, 33), (33, 65, 7), (65, 33, 65), (5, 1, 1), (4, 0, 3)]
            .iter()
            .enumerate()
        {
            let seed = 60 + 4 * i as u64;
            let w = host(&[n, k], dtype, seed);
            let b = host(&[n], dtype, seed + 1);
            let x = host(&[m, k], dtype, seed + 2);
            let xt = host(&[k, m], dtype, seed + 3);
            for bias in [Some(&b), None] {
                let what = format!("{dtype:?} {m}x{k}→{n}, bias {}", bias.is_some());
                let (gpu, cpu) = (layer(&w, bias, &GPU), layer(&w, bias, &Device::Cpu));
                let y = gpu.forward(&x.to(&GPU));
                assert_eq!(y.device(), GPU);
                assert_close(&y, &cpu.forward(&x), tol(dtype), &what);
                // A transposed input is read in place.
                let y = gpu.forward(&xt.to(&GPU).t());
                assert_close(
                    &y,
                    &cpu.forward(&xt.t()),
                    tol(dtype),
                    &format!("{what}, xᵀ"),
                );
            }
            // A transposed weight and a strided bias, through the functional form.
            let wt = host(&[k, n], dtype, seed + 4);
            let bb = host(&[n, 2], dtype, seed + 5);
            let f = |x: &Tensor, wt: &Tensor, bb: &Tensor| {
                ferrite::nn::linear(x, &wt.t(), Some(&bb.narrow(1, 1, 1).squeeze(-1)))
            };
            let want = f(&x, &wt, &bb);
            let got = f(&x.to(&GPU), &wt.to(&GPU), &bb.to(&GPU));
            assert_close(
                &got,
                &want,
                tol(dtype),
                &format!("{dtype:?} {m}x{k}→{n}, Wᵀ"),
            );
        }
    }
}

#[test]
fn linear_gradients() {
    for dtype in DTYPES {
        for (i, dims) in [vec![33, 65], vec![2, 7, 33], vec![1, 9]]
            .iter()
            .enumerate()
        {
            let k = *dims.last().unwrap();
            let n = 7 + 26 * i;
            let seed = 80 + 5 * i as u64;
            let w = host(&[n, k], dtype, seed);
            let b = host(&[n], dtype, seed + 1);
            let x = host(dims, dtype, seed + 2);
            let mut gdims = dims.clone();
            *gdims.last_mut().unwrap() = n;
            let g = host(&gdims, dtype, seed + 3);
            let run = |dev: &Device| {
                let fc = layer(&w, Some(&b), dev);
                let x = x.to(dev).requires_grad();
                let y = fc.forward(&x);
                y.backward_with(&g.to(dev));
                let bias = fc.bias.as_ref().expect("a bias");
                (
                    y,
                    x.grad().expect("dx"),
                    fc.weight.grad().expect("dW"),
                    bias.grad().expect("db"),
                )
            };
            let got = run(&GPU);
            let want = run(&Device::Cpu);
            let what = format!("{dtype:?} {dims:?}→{n}");
            assert_close(&got.0, &want.0, tol(dtype), &format!("{what}: y"));
            assert_close(&got.1, &want.1, tol(dtype), &format!("{what}: dx"));
            assert_close(&got.2, &want.2, tol(dtype), &format!("{what}: dW"));
            assert_close(&got.3, &want.3, tol(dtype), &format!("{what}: db"));
        }
    }
}

/// The bias gradient of a transposed output gradient (read through its strides), and of
/// more rows than one workgroup sums (a second pass adds the partial sums).
#[test]
fn bias_gradient_strided_and_multi_pass() {
    for dtype in DTYPES {
        for (m, n) in [(33, 65), (2500, 3), (1, 1)] {
            let w = host(&[n, 2], dtype, 90);
            let b = host(&[n], dtype, 91);
            let x = host(&[m, 2], dtype, 92);
            let gt = host(&[n, m], dtype, 93);
            let run = |dev: &Device| {
                let fc = layer(&w, Some(&b), dev);
                let y = fc.forward(&x.to(dev));
                // backward_with keeps the gradient's (transposed) layout.
                y.backward_with(&gt.to(dev).t());
                let bias = fc.bias.as_ref().expect("a bias");
                (fc.weight.grad().expect("dW"), bias.grad().expect("db"))
            };
            let (gw, gb) = run(&GPU);
            let (gw0, gb0) = run(&Device::Cpu);
            let what = format!("{dtype:?} {m}x{n}");
            // Sums of up to 2500 terms: a looser bound in f32.
            let t = if dtype == DType::F32 { 1e-4 } else { 1e-10 };
            assert_close(&gb, &gb0, t, &format!("{what}: db"));
            assert_close(&gw, &gw0, t, &format!("{what}: dW"));
        }
    }
}

#[test]
fn a_module_moved_to_the_gpu_runs_there() {
    ferrite::manual_seed(3);
    let cpu = Linear::new(9, 5).unwrap();
    let gpu = Linear::from_tensors(cpu.weight.clone(), cpu.bias.clone()).unwrap();
    gpu.to(&GPU);
    let x = host(&[4, 9], DType::F32, 99);
    let y = gpu.forward(&x.to(&GPU));
    assert_eq!(y.device(), GPU);
    assert_close(&y, &cpu.forward(&x), 1e-5, "moved module");
}
