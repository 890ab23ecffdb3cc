//! The wgpu backend's primitive operations (transfers, fills, conversions, pointwise maps,
//! broadcasting, strided views, in-place writes) agree with the CPU backend, which is
//! golden-tested against PyTorch. Runs on the first wgpu adapter: in CI, Mesa's software
//! Vulkan (llvmpipe), which `.ci/run` installs.

use ferrite::{DType, Device, Tensor};

const GPU: Device = Device::Wgpu(0);

fn cpu_f64(t: &Tensor) -> Vec<f64> {
    t.to(&Device::Cpu).to_vec_f64()
}

/// Elementwise closeness, with NaN equal to NaN and infinities equal by sign.
fn assert_close(got: &[f64], want: &[f64], tol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: lengths");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let same = (g.is_nan() && w.is_nan()) || g == w || (g - w).abs() <= tol * (1.0 + w.abs());
        assert!(same, "{what}[{i}]: wgpu {g} vs cpu {w}");
    }
}

/// Values that exercise signs, zero, tiny and large magnitudes.
fn sample(n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| {
            let x = (i as f32 * 0.7371).sin() * 3.0;
            if i % 11 == 0 {
                0.0
            } else if i % 13 == 0 {
                1e-6 * x
            } else {
                x
            }
        })
        .collect()
}

/// A named pointwise map.
type Map = fn(&Tensor) -> Tensor;

fn unary_ops() -> Vec<(&'static str, Map)> {
    vec![
        ("neg", |t| t.neg()),
        ("exp", |t| t.exp()),
        ("log_abs", |t| t.abs().add_scalar(0.1).log()),
        ("log1p", |t| t.abs().log1p()),
        ("sqrt", |t| t.abs().sqrt()),
        ("abs", |t| t.abs()),
        ("sign", |t| t.sign()),
        ("sigmoid", |t| t.sigmoid()),
        ("tanh", |t| t.tanh()),
        ("relu", |t| t.relu()),
        ("leaky_relu", |t| t.leaky_relu(0.1)),
        ("elu", |t| t.elu(1.3)),
        ("gelu", |t| t.gelu()),
        ("gelu_tanh", |t| t.gelu_tanh()),
        ("softplus", |t| t.softplus(2.0, 3.0)),
        ("clamp", |t| t.clamp(-1.0, 0.5)),
        ("add_scalar", |t| t.add_scalar(2.5)),
        ("mul_scalar", |t| t.mul_scalar(-0.3)),
        ("pow_scalar", |t| t.abs().pow_scalar(1.7)),
        ("pow_scalar_int_negative_base", |t| t.pow_scalar(3.0)),
        ("scalar_pow", |t| t.scalar_pow(1.5)),
        ("recip", |t| t.add_scalar(10.0).recip()),
        ("eq_scalar", |t| t.eq_scalar(0.0)),
        ("gt_scalar", |t| t.gt_scalar(0.2)),
        ("lt_scalar", |t| t.lt_scalar(0.2)),
        ("sin", |t| t.mul_scalar(10.0).sin()),
        ("cos", |t| t.mul_scalar(10.0).cos()),
        ("erf", |t| t.erf()),
        ("square", |t| t.square()),
    ]
}

#[test]
fn every_unary_op_matches_the_cpu_in_f32_and_f64() {
    let x = Tensor::from_vec(sample(60), [6, 10]);
    for dtype in [DType::F32, DType::F64] {
        let tol = if dtype == DType::F32 { 2e-6 } else { 1e-13 };
        let xc = x.to_dtype(dtype);
        let xg = xc.to(&GPU);
        for (name, op) in unary_ops() {
            let want = cpu_f64(&op(&xc));
            // Through a transposed (strided) view as well as the contiguous one.
            let got = cpu_f64(&op(&xg));
            assert_close(&got, &want, tol, &format!("{name} {dtype}"));
            let want_t = cpu_f64(&op(&xc.t()));
            let got_t = cpu_f64(&op(&xg.t()));
            assert_close(&got_t, &want_t, tol, &format!("{name} {dtype} transposed"));
        }
    }
}

#[test]
fn binary_ops_broadcast_like_the_cpu() {
    let a = Tensor::from_vec(sample(24), [2, 3, 4]);
    let b = Tensor::from_vec(sample(12).iter().map(|v| v * 0.5 + 0.25).collect(), [3, 4]);
    let c = Tensor::from_vec(vec![0.5, -1.0, 2.0], [3, 1]);
    type Binary = fn(&Tensor, &Tensor) -> Tensor;
    let ops: Vec<(&str, Binary)> = vec![
        ("add", |x, y| x.add(y)),
        ("sub", |x, y| x.sub(y)),
        ("mul", |x, y| x.mul(y)),
        ("div", |x, y| x.div(y)),
        ("pow", |x, y| x.abs().add_scalar(0.5).pow(y)),
        ("maximum", |x, y| x.maximum(y)),
        ("minimum", |x, y| x.minimum(y)),
        ("eq", |x, y| x.eq(y)),
        ("ne", |x, y| x.ne(y)),
        ("gt", |x, y| x.gt(y)),
        ("ge", |x, y| x.ge(y)),
        ("lt", |x, y| x.lt(y)),
        ("le", |x, y| x.le(y)),
    ];
    for dtype in [DType::F32, DType::F64] {
        let tol = if dtype == DType::F32 { 2e-6 } else { 1e-13 };
        let (a, b, c) = (a.to_dtype(dtype), b.to_dtype(dtype), c.to_dtype(dtype));
        let (ag, bg, cg) = (a.to(&GPU), b.to(&GPU), c.to(&GPU));
        for (name, op) in &ops {
            assert_close(&cpu_f64(&op(&ag, &bg)), &cpu_f64(&op(&a, &b)), tol, name);
            assert_close(&cpu_f64(&op(&ag, &cg)), &cpu_f64(&op(&a, &c)), tol, name);
            // A permuted left operand.
            let ap = a.permute(&[2, 1, 0]);
            let apg = ag.permute(&[2, 1, 0]);
            assert_close(&cpu_f64(&op(&apg, &cg)), &cpu_f64(&op(&ap, &c)), tol, name);
        }
    }
}

#[test]
fn gradients_of_pointwise_maps_match_the_cpu() {
    let x = Tensor::from_vec(sample(20), [4, 5]).to_dtype(DType::F64);
    let maps: Vec<(&str, Map)> = vec![
        ("relu", |t| t.relu()),
        ("sigmoid", |t| t.sigmoid()),
        ("tanh", |t| t.tanh()),
        ("leaky_relu", |t| t.leaky_relu(0.2)),
        ("elu", |t| t.elu(0.7)),
        ("gelu", |t| t.gelu()),
        ("gelu_tanh", |t| t.gelu_tanh()),
        ("softplus", |t| t.softplus(1.5, 2.0)),
        ("clamp", |t| t.clamp(-0.5, 0.5)),
        ("exp_mul", |t| t.exp().mul(t)),
    ];
    for (name, map) in maps {
        let grad_on = |device: &Device| {
            let leaf = x.to(device).detach().requires_grad();
            map(&leaf).mul_scalar(0.5).sum().backward();
            cpu_f64(&leaf.grad().expect("a gradient"))
        };
        assert_close(&grad_on(&GPU), &grad_on(&Device::Cpu), 1e-12, name);
    }
}

#[test]
fn conversions_between_every_dtype_match_the_cpu() {
    let values = vec![
        0.0,
        -0.0,
        1.0,
        -2.5,
        3.75,
        65504.0,
        1e-5,
        -7.0e6,
        2.0e9,
        -3.0e9,
        0.333_333_34,
        1e-8,
    ];
    let x = Tensor::from_vec(values.clone(), [values.len()]);
    for from in DType::ALL {
        for to in DType::ALL {
            let src = x.to_dtype(from);
            let want = src.to_dtype(to).to_bits();
            let got = src.to(&GPU).to_dtype(to).to(&Device::Cpu).to_bits();
            assert_eq!(got, want, "{from} -> {to}");
        }
    }
}

#[test]
fn transfers_keep_every_bit_of_every_dtype() {
    let x = Tensor::from_vec(sample(15), [3, 5]);
    for dtype in DType::ALL {
        let t = x.to_dtype(dtype);
        let back = t.to(&GPU).to(&Device::Cpu);
        assert_eq!(back.dtype(), dtype);
        assert_eq!(back.to_bits(), t.to_bits(), "{dtype}");
        // Strided views of every width (16-bit types share words on the device).
        let view = t.t().slice(0, 1..4);
        let back = view.to(&GPU).contiguous().to(&Device::Cpu);
        assert_eq!(back.to_bits(), view.contiguous().to_bits(), "{dtype} view");
    }
}

#[test]
fn fills_on_the_device_hold_the_value_in_each_dtype() {
    use ferrite::TensorOptions;
    for dtype in DType::ALL {
        for value in [0.0f64, 1.0, -3.5] {
            let options = TensorOptions::new().dtype(dtype);
            let cpu = Tensor::full_with([3, 3], value, options.device(Device::Cpu));
            let gpu = Tensor::full_with([3, 3], value, options.device(GPU));
            assert_eq!(gpu.device(), GPU);
            assert_eq!(
                gpu.to(&Device::Cpu).to_bits(),
                cpu.to_bits(),
                "{dtype} {value}"
            );
        }
    }
}

#[test]
fn where_masked_fill_and_in_place_writes_match_the_cpu() {
    let a = Tensor::from_vec(sample(12), [3, 4]);
    let b = Tensor::from_vec(sample(4), [4]);
    let mask = Tensor::from_bool((0..12).map(|i| i % 3 == 0).collect(), [3, 4]);
    let want = Tensor::where_cond(&mask, &a, &b);
    let got = Tensor::where_cond(&mask.to(&GPU), &a.to(&GPU), &b.to(&GPU));
    assert_close(&cpu_f64(&got), &cpu_f64(&want), 0.0, "where");
    let filled = a.to(&GPU).masked_fill(&mask.to(&GPU), -9.0);
    assert_close(
        &cpu_f64(&filled),
        &cpu_f64(&a.masked_fill(&mask, -9.0)),
        0.0,
        "masked_fill",
    );

    // copy_ into a column of a device tensor, from a CPU-made source moved there.
    let dst_cpu = Tensor::zeros([3, 4]);
    let dst_gpu = Tensor::zeros([3, 4]).to(&GPU);
    let col = Tensor::from_vec(vec![1.0, 2.0, 3.0], [3]);
    dst_cpu.narrow(1, 2, 1).squeeze(1).copy_(&col);
    dst_gpu.narrow(1, 2, 1).squeeze(1).copy_(&col.to(&GPU));
    assert_close(&cpu_f64(&dst_gpu), &cpu_f64(&dst_cpu), 0.0, "copy_");
}

#[test]
fn ops_mixing_devices_are_an_error_naming_both() {
    let a = Tensor::ones([2, 2]);
    let b = Tensor::ones([2, 2]).to(&GPU);
    let err = std::panic::catch_unwind(|| a.add(&b)).expect_err("mixed devices must fail");
    let message = err
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default();
    assert!(
        message.contains("cpu") && message.contains("wgpu:0"),
        "message: {message}"
    );
}

#[test]
fn a_model_moves_to_the_device_and_back() {
    use ferrite::nn::{Linear, Module};
    ferrite::manual_seed(3);
    let model = Linear::new(3, 2).unwrap();
    let x = Tensor::from_vec(sample(6), [2, 3]);
    let want = cpu_f64(&model.forward(&x));
    model.to(&GPU);
    assert!(model.parameters().iter().all(|p| p.device() == GPU));
    let got = cpu_f64(&model.forward(&x.to(&GPU)));
    assert_close(&got, &want, 1e-6, "linear on the device");
    model.to(&Device::Cpu);
    assert_close(
        &cpu_f64(&model.forward(&x)),
        &want,
        0.0,
        "linear back on the cpu",
    );
}

#[test]
fn the_device_lists_and_names_its_adapter() {
    let adapters = ferrite::wgpu_adapters();
    assert!(
        !adapters.is_empty(),
        "no wgpu adapter: install mesa-vulkan-drivers"
    );
    assert!(GPU.check_available().is_ok());
    assert!(GPU.description().contains(&adapters[0].name));
    let missing = Device::Wgpu(adapters.len());
    let err = missing.check_available().expect_err("no such adapter");
    assert!(err.contains("no such adapter"), "{err}");
    assert_eq!("wgpu:1".parse::<Device>(), Ok(Device::Wgpu(1)));
    assert_eq!("wgpu".parse::<Device>(), Ok(Device::Wgpu(0)));
    assert!("wgpu:x".parse::<Device>().is_err());
    assert_eq!(Device::Wgpu(2).to_string(), "wgpu:2");
}

#[test]
fn nan_and_infinity_survive_f64_kernels() {
    let x = Tensor::from_f64(vec![f64::NAN, f64::INFINITY, -f64::INFINITY, 1.0], [4]);
    let g = x.to(&GPU);
    let relu = cpu_f64(&g.relu());
    assert!(relu[0].is_nan() && relu[1] == f64::INFINITY && relu[2] == 0.0);
    let clamp = cpu_f64(&g.clamp(-1.0, 1.0));
    assert!(clamp[0].is_nan() && clamp[1] == 1.0 && clamp[2] == -1.0);
    let max = cpu_f64(&g.maximum(&Tensor::from_f64(vec![0.0; 4], [4]).to(&GPU)));
    assert!(max[0].is_nan() && max[3] == 1.0);
    let exp = cpu_f64(&g.exp());
    assert!(exp[0].is_nan() && exp[1] == f64::INFINITY && exp[2] == 0.0);
}
