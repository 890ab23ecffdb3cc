//! Convolution and pooling on the wgpu backend against the CPU backend (itself golden-tested
//! against PyTorch): forward passes, arg-max indices and gradients through autograd, in f32
//! and f64, over strided, padded, dilated, grouped and 'same'-padded geometries, with
//! non-contiguous and offset inputs and gradients, ties, NaN and -inf in max pooling.

use ferrite::nn::{
    AdaptiveAvgPool2d, AvgPool2d, Conv2d, Conv2dOptions, MaxPool2d, Module, Pool2dOptions,
};
use ferrite::tensor::{Conv1dParams, Conv2dParams, Padding, Pool2dParams, Size};
use ferrite::{DType, Device, Tensor};

const GPU: Device = Device::Wgpu(0);

const DTYPES: [DType; 2] = [DType::F32, DType::F64];

fn tol(dtype: DType) -> f64 {
    if dtype == DType::F64 {
        1e-10
    } else {
        1e-5
    }
}

/// Deterministic pseudo-random values in [-2, 2) (a small LCG), as `dtype`.
fn data(shape: &[usize], seed: u64, dtype: DType) -> Tensor {
    let n: usize = shape.iter().product();
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let v: Vec<f64> = (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 11) as f64 / (1u64 << 53) as f64) * 4.0 - 2.0
        })
        .collect();
    Tensor::from_f64(v, shape.to_vec()).to_dtype(dtype)
}

/// A leaf on the GPU holding `t`'s values.
fn gpu_leaf(t: &Tensor) -> Tensor {
    t.to(&GPU).detach().requires_grad()
}

#[track_caller]
fn assert_close(what: &str, gpu: &Tensor, cpu: &Tensor, tol: f64) {
    assert_eq!(gpu.device(), GPU, "{what}: computed on the GPU");
    assert_eq!(gpu.dims(), cpu.dims(), "{what}: shape");
    assert_eq!(gpu.dtype(), cpu.dtype(), "{what}: dtype");
    let got = gpu.to(&Device::Cpu).to_vec_f64();
    let want = cpu.to_vec_f64();
    for (i, (a, b)) in got.iter().zip(&want).enumerate() {
        let same = (a.is_nan() && b.is_nan()) || a == b || (a - b).abs() <= tol * b.abs().max(1.0);
        assert!(same, "{what}[{i}]: wgpu {a}, cpu {b}");
    }
}

/// One convolution case: input and weight shapes, options, bias or not.
struct ConvCase {
    name: &'static str,
    x: [usize; 4],
    w: [usize; 4],
    options: Conv2dParams,
    bias: bool,
}

fn conv_cases() -> Vec<ConvCase> {
    let o = Conv2dParams::new;
    vec![
        ConvCase {
            name: "plain 3x3",
            x: [2, 3, 8, 8],
            w: [4, 3, 3, 3],
            options: o(),
            bias: true,
        },
        ConvCase {
            name: "stride 2 padding 1",
            x: [2, 3, 8, 8],
            w: [5, 3, 3, 3],
            options: o().stride(2).padding(1),
            bias: true,
        },
        ConvCase {
            name: "dilation 2 padding 2",
            x: [2, 3, 8, 8],
            w: [4, 3, 3, 3],
            options: o().dilation(2).padding(2),
            bias: false,
        },
        ConvCase {
            name: "groups 3, 3x2 kernel, stride (2, 1), padding (1, 0)",
            x: [2, 3, 8, 8],
            w: [6, 1, 3, 2],
            options: o().groups(3).stride([2, 1]).padding([1, 0]),
            bias: true,
        },
        ConvCase {
            name: "groups 2 with dilation and stride",
            x: [2, 4, 8, 7],
            w: [6, 2, 2, 3],
            options: o().groups(2).stride(2).dilation([2, 1]).padding(1),
            bias: true,
        },
        ConvCase {
            name: "'same' padding of an even kernel",
            x: [2, 3, 8, 8],
            w: [4, 3, 2, 4],
            options: o().padding(Padding::Same),
            bias: true,
        },
        ConvCase {
            name: "pointwise",
            x: [2, 3, 8, 8],
            w: [7, 3, 1, 1],
            options: o(),
            bias: true,
        },
        ConvCase {
            name: "20 channels (the large tile)",
            x: [2, 3, 8, 8],
            w: [20, 3, 3, 3],
            options: o().padding(1),
            bias: true,
        },
        ConvCase {
            name: "20 input channels (the large tile in the input gradient)",
            x: [2, 20, 6, 6],
            w: [4, 20, 3, 3],
            options: o().padding(1).stride(2),
            bias: false,
        },
        ConvCase {
            // 5 · 16 · 16 = 1280 positions: the weight gradient's reduction is split.
            name: "long weight-gradient reduction",
            x: [5, 2, 18, 18],
            w: [3, 2, 3, 3],
            options: o(),
            bias: true,
        },
    ]
}

/// Forward and all three gradients of `case`, on both devices, from the CPU tensors
/// `x`, `w`, `b` (any layout: the GPU sees the same layout, moved).
fn check_conv(what: &str, x: &Tensor, w: &Tensor, b: Option<&Tensor>, options: &Conv2dParams) {
    let dtype = x.dtype();
    let t = tol(dtype);
    let (xc, wc) = (x.detach().requires_grad(), w.detach().requires_grad());
    let bc = b.map(|b| b.detach().requires_grad());
    let y = xc.conv2d(&wc, bc.as_ref(), options);
    let r = data(y.dims(), 99, dtype);
    y.backward_with(&r);

    let (xg, wg) = (gpu_leaf(x), gpu_leaf(w));
    let bg = b.map(gpu_leaf);
    // The same (possibly strided) views on the GPU as on the CPU.
    let yg = xg.conv2d(&wg, bg.as_ref(), options);
    assert_close(&format!("{what} y"), &yg, &y, t);
    yg.backward_with(&r.to(&GPU));
    assert_close(
        &format!("{what} dx"),
        &xg.grad().unwrap(),
        &xc.grad().unwrap(),
        t,
    );
    assert_close(
        &format!("{what} dw"),
        &wg.grad().unwrap(),
        &wc.grad().unwrap(),
        t,
    );
    if let (Some(bg), Some(bc)) = (bg, bc) {
        assert_close(
            &format!("{what} db"),
            &bg.grad().unwrap(),
            &bc.grad().unwrap(),
            t,
        );
    }
}

#[test]
fn conv2d_forward_and_gradients_match_the_cpu() {
    for dtype in DTYPES {
        for (i, c) in conv_cases().iter().enumerate() {
            let x = data(&c.x, 3 * i as u64 + 1, dtype);
            let w = data(&c.w, 3 * i as u64 + 2, dtype);
            let b = c.bias.then(|| data(&[c.w[0]], 3 * i as u64 + 3, dtype));
            check_conv(
                &format!("{} {dtype:?}", c.name),
                &x,
                &w,
                b.as_ref(),
                &c.options,
            );
        }
    }
}

#[test]
fn conv2d_reads_strided_and_offset_views() {
    for dtype in DTYPES {
        let options = Conv2dParams::new().stride(2).padding(1);
        // x (2, 3, 8, 8) as a permutation of (2, 8, 8, 3); w transposed in its kernel
        // dimensions; b a strided slice.
        let x = data(&[2, 8, 8, 3], 11, dtype).permute(&[0, 3, 1, 2]);
        let w = data(&[4, 3, 3, 3], 12, dtype).transpose(2, 3);
        let b = data(&[4, 2], 13, dtype).t().narrow(0, 1, 1).squeeze(0);
        check_conv(&format!("permuted {dtype:?}"), &x, &w, Some(&b), &options);
        // Contiguous views that start inside their buffers.
        let x = data(&[3, 3, 8, 8], 14, dtype).narrow(0, 1, 2);
        let w = data(&[5, 3, 3, 3], 15, dtype).narrow(0, 1, 4);
        let b = data(&[6], 16, dtype).narrow(0, 2, 4);
        check_conv(&format!("offset {dtype:?}"), &x, &w, Some(&b), &options);
    }
}

#[test]
fn conv2d_takes_a_strided_output_gradient() {
    for dtype in DTYPES {
        let t = tol(dtype);
        let x = data(&[2, 3, 8, 8], 21, dtype);
        let w = data(&[4, 3, 3, 3], 22, dtype);
        let options = Conv2dParams::new().padding(1);
        let (xc, wc) = (x.detach().requires_grad(), w.detach().requires_grad());
        let y = xc.conv2d(&wc, None, &options);
        // The output gradient as the transpose of a (2, 4, 8, 8) tensor.
        let r = data(&[2, 4, 8, 8], 23, dtype).transpose(2, 3);
        y.backward_with(&r);
        let (xg, wg) = (gpu_leaf(&x), gpu_leaf(&w));
        let yg = xg.conv2d(&wg, None, &options);
        yg.backward_with(&r.to(&GPU).transpose(2, 3).contiguous().transpose(2, 3));
        assert_close("strided g dx", &xg.grad().unwrap(), &xc.grad().unwrap(), t);
        assert_close("strided g dw", &wg.grad().unwrap(), &wc.grad().unwrap(), t);
    }
}

#[test]
fn conv1d_and_the_conv2d_layer_run_on_the_gpu() {
    for dtype in DTYPES {
        let t = tol(dtype);
        // conv1d with 'same' padding and dilation: a 2-D convolution of height 1.
        let x = data(&[2, 3, 11], 31, dtype);
        let w = data(&[4, 3, 3], 32, dtype);
        let o = Conv1dParams::new().padding(Padding::Same).dilation(2);
        let (xc, wc) = (x.detach().requires_grad(), w.detach().requires_grad());
        let y = xc.conv1d(&wc, None, &o);
        let r = data(y.dims(), 33, dtype);
        y.backward_with(&r);
        let (xg, wg) = (gpu_leaf(&x), gpu_leaf(&w));
        let yg = xg.conv1d(&wg, None, &o);
        assert_close("conv1d y", &yg, &y, t);
        yg.backward_with(&r.to(&GPU));
        assert_close("conv1d dx", &xg.grad().unwrap(), &xc.grad().unwrap(), t);
        assert_close("conv1d dw", &wg.grad().unwrap(), &wc.grad().unwrap(), t);

        // nn::Conv2d over the same tensors on both devices.
        let weight = data(&[6, 3, 5, 5], 34, dtype);
        let bias = data(&[6], 35, dtype);
        let options = Conv2dOptions::new().padding(2);
        let cpu = Conv2d::from_tensors(weight.clone(), Some(bias.clone()), options).unwrap();
        let gpu = Conv2d::from_tensors(weight.to(&GPU), Some(bias.to(&GPU)), options).unwrap();
        let x = data(&[2, 3, 8, 8], 36, dtype);
        let y = cpu.forward(&x);
        let yg = gpu.forward(&x.to(&GPU));
        assert_close("Conv2d y", &yg, &y, t);
        let r = data(y.dims(), 37, dtype);
        y.backward_with(&r);
        yg.backward_with(&r.to(&GPU));
        let (gw, cw) = (gpu.weight.grad().unwrap(), cpu.weight.grad().unwrap());
        assert_close("Conv2d dw", &gw, &cw, t);
        let (gb, cb) = (
            gpu.bias.as_ref().unwrap().grad().unwrap(),
            cpu.bias.as_ref().unwrap().grad().unwrap(),
        );
        assert_close("Conv2d db", &gb, &cb, t);
    }
}

#[test]
fn conv2d_gradients_asked_for_one_at_a_time() {
    // Only the weight, then only the input requires grad: `needs` skips the others.
    for dtype in DTYPES {
        let t = tol(dtype);
        let x = data(&[2, 3, 8, 8], 41, dtype);
        let w = data(&[4, 3, 3, 3], 42, dtype);
        let options = Conv2dParams::new().stride(2);
        let r = data(&[2, 4, 3, 3], 43, dtype);
        for want_x in [false, true] {
            let (xc, wc) = (x.detach(), w.detach());
            let (xg, wg) = (x.to(&GPU).detach(), w.to(&GPU).detach());
            if want_x {
                xc.set_requires_grad(true);
                xg.set_requires_grad(true);
            } else {
                wc.set_requires_grad(true);
                wg.set_requires_grad(true);
            }
            xc.conv2d(&wc, None, &options).backward_with(&r);
            xg.conv2d(&wg, None, &options).backward_with(&r.to(&GPU));
            let (leaf_g, leaf_c, other) = if want_x {
                (&xg, &xc, &wg)
            } else {
                (&wg, &wc, &xg)
            };
            assert_close(
                "only gradient",
                &leaf_g.grad().unwrap(),
                &leaf_c.grad().unwrap(),
                t,
            );
            assert!(other.grad().is_none());
        }
    }
}

/// Pooling options over a `kernel` window.
fn window(kernel: impl Into<Size<2>>) -> Pool2dParams {
    Pool2dParams::new(kernel)
}

/// Max-pooling options exercised: window, stride, padding, dilation, ceil mode.
fn max_options() -> Vec<(&'static str, Pool2dParams)> {
    vec![
        ("2x2", window(2)),
        ("3x3 stride 2 padding 1", window(3).stride(2).padding(1)),
        (
            "3x3 stride 2 padding 1 ceil",
            window(3).stride(2).padding(1).ceil_mode(true),
        ),
        (
            "3x2 stride (2, 1) dilation (2, 1) padding (1, 0)",
            window([3, 2])
                .stride([2, 1])
                .dilation([2, 1])
                .padding([1, 0]),
        ),
        (
            "2x2 stride 1 dilation 2 padding 1",
            window(2).stride(1).dilation(2).padding(1),
        ),
        ("overlapping 3x3 stride 1", window(3).stride(1)),
    ]
}

/// Max pooling of `x` (CPU, any layout) on both devices: values, indices, input gradient.
fn check_max(what: &str, x: &Tensor, o: &Pool2dParams) {
    let dtype = x.dtype();
    let t = tol(dtype);
    let xc = x.detach().requires_grad();
    let (y, idx) = xc.max_pool2d_with_indices(o);
    let xg = gpu_leaf(x);
    let (yg, idxg) = xg.max_pool2d_with_indices(o);
    assert_close(&format!("{what} y"), &yg, &y, t);
    assert_eq!(
        idxg.to(&Device::Cpu).to_vec(),
        idx.to_vec(),
        "{what}: indices"
    );
    let r = data(y.dims(), 51, dtype);
    y.backward_with(&r);
    yg.backward_with(&r.to(&GPU));
    assert_close(
        &format!("{what} dx"),
        &xg.grad().unwrap(),
        &xc.grad().unwrap(),
        t,
    );
}

#[test]
fn max_pool2d_matches_the_cpu() {
    for dtype in DTYPES {
        for (i, (name, o)) in max_options().iter().enumerate() {
            let x = data(&[2, 3, 8, 8], 60 + i as u64, dtype);
            check_max(&format!("{name} {dtype:?}"), &x, o);
            // Odd, non-square planes.
            let x = data(&[2, 3, 7, 9], 70 + i as u64, dtype);
            check_max(&format!("{name} 7x9 {dtype:?}"), &x, o);
        }
        // A transposed (non-contiguous) input.
        let x = data(&[2, 3, 9, 7], 80, dtype).transpose(2, 3);
        check_max(
            &format!("transposed {dtype:?}"),
            &x,
            &Pool2dParams::new(3).stride(2).padding(1),
        );
    }
}

#[test]
fn max_pool2d_ties_nan_and_infinity_as_on_the_cpu() {
    for dtype in DTYPES {
        // Values in {-1, 0, 1}: windows full of ties (the first one wins); overlapping
        // windows share arg-maxes, whose gradients add up.
        let v = data(&[2, 3, 8, 8], 90, dtype).to_vec_f64();
        let v = v.into_iter().map(|e| (e * 0.75).round()).collect();
        let x = Tensor::from_f64(v, [2, 3, 8, 8]).to_dtype(dtype);
        for (name, o) in max_options() {
            check_max(&format!("ties {name} {dtype:?}"), &x, &o);
        }
        // NaN wins its window (the last NaN of a window, as on the CPU); -inf everywhere in
        // a window keeps the first tap.
        let mut v = data(&[2, 3, 8, 8], 91, dtype).to_vec_f64();
        for (k, e) in v.iter_mut().enumerate() {
            if k % 13 == 5 || k % 29 == 3 {
                *e = f64::NAN;
            }
            if (64..80).contains(&k) {
                *e = f64::NEG_INFINITY;
            }
        }
        let x = Tensor::from_f64(v, [2, 3, 8, 8]).to_dtype(dtype);
        for (name, o) in max_options() {
            let what = format!("nan {name} {dtype:?}");
            let (y, idx) = x.max_pool2d_with_indices(&o);
            let (yg, idxg) = x.to(&GPU).max_pool2d_with_indices(&o);
            assert_close(&what, &yg, &y, tol(dtype));
            assert_eq!(
                idxg.to(&Device::Cpu).to_vec(),
                idx.to_vec(),
                "{what}: indices"
            );
        }
    }
}

/// Average pooling of `x` (CPU, any layout) on both devices, forward and input gradient.
fn check_avg(what: &str, x: &Tensor, o: &Pool2dParams) {
    let dtype = x.dtype();
    let t = tol(dtype);
    let xc = x.detach().requires_grad();
    let y = xc.avg_pool2d(o);
    let xg = gpu_leaf(x);
    let yg = xg.avg_pool2d(o);
    assert_close(&format!("{what} y"), &yg, &y, t);
    let r = data(y.dims(), 52, dtype);
    y.backward_with(&r);
    yg.backward_with(&r.to(&GPU));
    assert_close(
        &format!("{what} dx"),
        &xg.grad().unwrap(),
        &xc.grad().unwrap(),
        t,
    );
}

#[test]
fn avg_pool2d_matches_the_cpu_for_every_divisor() {
    let cases = [
        ("2x2", window(2)),
        (
            "3x3 stride 2 padding 1 (padding counted)",
            window(3).stride(2).padding(1),
        ),
        (
            "3x3 stride 2 padding 1 (padding not counted)",
            window(3).stride(2).padding(1).count_include_pad(false),
        ),
        (
            "3x3 stride 2 padding 1 divisor 5",
            window(3).stride(2).padding(1).divisor_override(5),
        ),
        (
            "3x3 stride 2 padding 1 ceil, padding counted",
            window(3).stride(2).padding(1).ceil_mode(true),
        ),
        (
            "3x3 stride 2 padding 1 ceil, not counted",
            window(3)
                .stride(2)
                .padding(1)
                .ceil_mode(true)
                .count_include_pad(false),
        ),
        (
            "3x2 stride (2, 1) padding (1, 1)",
            window([3, 2]).stride([2, 1]).padding([1, 1]),
        ),
        ("overlapping 3x3 stride 1", window(3).stride(1)),
    ];
    for dtype in DTYPES {
        for (i, (name, o)) in cases.iter().enumerate() {
            check_avg(
                &format!("{name} {dtype:?}"),
                &data(&[2, 3, 8, 8], 100 + i as u64, dtype),
                o,
            );
            check_avg(
                &format!("{name} 7x9 {dtype:?}"),
                &data(&[2, 3, 7, 9], 110 + i as u64, dtype),
                o,
            );
        }
        let x = data(&[2, 3, 9, 7], 120, dtype).transpose(2, 3);
        check_avg(
            &format!("transposed {dtype:?}"),
            &x,
            &window(3).stride(2).padding(1),
        );
    }
}

#[test]
fn adaptive_avg_pool2d_matches_the_cpu() {
    for dtype in DTYPES {
        let t = tol(dtype);
        for (i, (input, out)) in [
            ([2, 3, 8, 8], [3, 3]),
            ([2, 3, 8, 8], [5, 3]),
            ([2, 3, 8, 8], [1, 1]),
            ([2, 3, 8, 8], [8, 8]),
            ([2, 3, 7, 5], [3, 2]),
            ([2, 3, 5, 4], [7, 9]),
        ]
        .into_iter()
        .enumerate()
        {
            let what = format!("{input:?} -> {out:?} {dtype:?}");
            let x = data(&input, 130 + i as u64, dtype);
            let xc = x.detach().requires_grad();
            let y = xc.adaptive_avg_pool2d((out[0], out[1]));
            let xg = gpu_leaf(&x);
            let yg = xg.adaptive_avg_pool2d((out[0], out[1]));
            assert_close(&format!("{what} y"), &yg, &y, t);
            let r = data(y.dims(), 53, dtype);
            y.backward_with(&r);
            yg.backward_with(&r.to(&GPU));
            assert_close(
                &format!("{what} dx"),
                &xg.grad().unwrap(),
                &xc.grad().unwrap(),
                t,
            );
        }
    }
}

#[test]
fn pooling_layers_and_strided_gradients_on_the_gpu() {
    for dtype in DTYPES {
        let t = tol(dtype);
        let x = data(&[2, 3, 8, 8], 140, dtype);
        let layers: Vec<Box<dyn Module>> = vec![
            Box::new(MaxPool2d::with_options(Pool2dOptions::new(3).stride(2).padding(1)).unwrap()),
            Box::new(AvgPool2d::with_options(Pool2dOptions::new(2).stride(2)).unwrap()),
            Box::new(AdaptiveAvgPool2d::new((3, 3)).unwrap()),
        ];
        for (k, layer) in layers.iter().enumerate() {
            let xc = x.detach().requires_grad();
            let xg = gpu_leaf(&x);
            let y = layer.forward(&xc);
            let yg = layer.forward(&xg);
            assert_close(&format!("layer {k} y"), &yg, &y, t);
            // The output gradient as a transposed view (outputs are square).
            let d = y.dims().to_vec();
            let r = data(&[d[0], d[1], d[3], d[2]], 141, dtype).transpose(2, 3);
            y.backward_with(&r);
            let rg = r
                .contiguous()
                .to(&GPU)
                .transpose(2, 3)
                .contiguous()
                .transpose(2, 3);
            yg.backward_with(&rg);
            assert_close(
                &format!("layer {k} dx"),
                &xg.grad().unwrap(),
                &xc.grad().unwrap(),
                t,
            );
        }
        // Unbatched (C, H, W) input.
        let x3 = data(&[3, 8, 8], 142, dtype);
        let o = Pool2dParams::new(2);
        assert_close(
            "unbatched max",
            &x3.to(&GPU).max_pool2d(&o),
            &x3.max_pool2d(&o),
            t,
        );
    }
}
