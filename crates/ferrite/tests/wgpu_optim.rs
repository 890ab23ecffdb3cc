//! The wgpu backend's optimizer updates and gradient clipping against the CPU backend (itself
//! golden-tested against PyTorch): several steps of every optimizer and option on the same
//! parameters and gradients, in f32 and f64, with a parameter that is an offset view and
//! gradients that are transposed views; and `clip_grad_norm` / `clip_grad_value` over every
//! norm type, NaN and infinity, and a gradient large enough to span many workgroups.

use ferrite::optim::*;
use ferrite::{DType, Device, Tensor};

const GPU: Device = Device::Wgpu(0);
const STEPS: usize = 5;

/// The tolerance of a dtype: f32 to 1e-5, f64 to 1e-10 (relative above 1).
fn tol(dtype: DType) -> f64 {
    if dtype == DType::F64 {
        1e-10
    } else {
        1e-5
    }
}

fn host(t: &Tensor) -> Vec<f64> {
    t.to(&Device::Cpu).to_vec_f64()
}

/// Elementwise closeness, NaN matching NaN and infinities matching exactly.
fn assert_close(got: &[f64], want: &[f64], tol: f64, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let ok = if w.is_nan() {
            g.is_nan()
        } else if w.is_infinite() {
            g == w
        } else {
            (g - w).abs() <= tol * w.abs().max(1.0)
        };
        assert!(ok, "{what}[{i}]: wgpu {g}, cpu {w}");
    }
}

/// A tensor of `dtype` from f64 values (rounded to f32 for f32, exact for f64, so that f64
/// runs are not f32 runs in disguise).
fn tensor(values: &[f64], dims: &[usize], dtype: DType) -> Tensor {
    if dtype == DType::F64 {
        return Tensor::from_f64(values.to_vec(), dims.to_vec());
    }
    Tensor::from_vec(values.iter().map(|&v| v as f32).collect(), dims.to_vec()).to_dtype(dtype)
}

/// The parameters' gradients at step `t`: mixed signs and magnitudes, some exact zeros.
fn grad_values(n: usize, t: usize, salt: f64) -> Vec<f64> {
    (0..n)
        .map(|i| {
            if (i + t).is_multiple_of(5) {
                0.0
            } else {
                (0.53 * i as f64 + 1.7 * t as f64 + salt).cos() * (1.0 + 0.4 * t as f64)
            }
        })
        .collect()
}

/// A gradient of shape `[r, c]` holding `values` row-major; when `transposed`, it is the
/// transpose of a `[c, r]` tensor (a strided view).
fn grad_tensor(
    values: &[f64],
    r: usize,
    c: usize,
    dtype: DType,
    transposed: bool,
    device: &Device,
) -> Tensor {
    if !transposed {
        return tensor(values, &[r, c], dtype).to(device);
    }
    let mut data = vec![0.0; r * c];
    for i in 0..r {
        for j in 0..c {
            data[j * r + i] = values[i * c + j];
        }
    }
    let g = tensor(&data, &[c, r], dtype).to(device).t();
    assert!(!g.is_contiguous());
    g
}

/// Runs `STEPS` steps of the optimizer `make` builds on `device` and returns each step's
/// parameters: `w` `[3, 4]`, and `b` `[2, 3]`, rows 1..3 of a `[4, 3]` buffer (an offset
/// view). Odd steps give `w` a transposed gradient.
fn trajectory(
    device: &Device,
    dtype: DType,
    make: &dyn Fn(Vec<Tensor>) -> Box<dyn Optimizer>,
) -> Vec<(Vec<f64>, Vec<f64>)> {
    let w0: Vec<f64> = (0..12)
        .map(|i| 1.5 * (0.9 * i as f64).sin() + 0.1)
        .collect();
    let base: Vec<f64> = (0..12).map(|i| (0.41 * i as f64).cos() - 0.3).collect();
    let w = tensor(&w0, &[3, 4], dtype).to(device);
    let b = tensor(&base, &[4, 3], dtype).to(device).narrow(0, 1, 2);
    assert!(b.is_contiguous());
    let mut opt = make(vec![w.clone(), b.clone()]);
    let mut out = Vec::new();
    for t in 0..STEPS {
        opt.zero_grad();
        let gw = grad_tensor(&grad_values(12, t, 0.0), 3, 4, dtype, t % 2 == 1, device);
        w.set_grad(Some(gw));
        b.set_grad(Some(
            tensor(&grad_values(6, t, 0.8), &[2, 3], dtype).to(device),
        ));
        opt.step();
        out.push((host(&w), host(&b)));
    }
    out
}

/// The same optimizer on the CPU and the GPU, in f32 and f64, step by step.
fn check_optimizer(name: &str, make: &dyn Fn(Vec<Tensor>) -> Box<dyn Optimizer>) {
    for dtype in [DType::F32, DType::F64] {
        let want = trajectory(&Device::Cpu, dtype, make);
        let got = trajectory(&GPU, dtype, make);
        let w0 = host(&tensor(
            &(0..12)
                .map(|i| 1.5 * (0.9 * i as f64).sin() + 0.1)
                .collect::<Vec<_>>(),
            &[3, 4],
            dtype,
        ));
        assert!(
            want.last()
                .unwrap()
                .0
                .iter()
                .zip(&w0)
                .any(|(a, b)| (a - b).abs() > 1e-3),
            "{name}: the parameters should move"
        );
        for (t, ((gw, gb), (ww, wb))) in got.iter().zip(&want).enumerate() {
            assert_close(gw, ww, tol(dtype), &format!("{name} {dtype:?} step {t} w"));
            assert_close(gb, wb, tol(dtype), &format!("{name} {dtype:?} step {t} b"));
        }
    }
}

#[test]
fn sgd_matches_the_cpu() {
    let configs = [
        (
            "plain",
            SGDConfig {
                lr: 0.1,
                ..Default::default()
            },
        ),
        (
            "weight decay",
            SGDConfig {
                lr: 0.1,
                weight_decay: 0.05,
                ..Default::default()
            },
        ),
        (
            "momentum",
            SGDConfig {
                lr: 0.05,
                momentum: 0.9,
                ..Default::default()
            },
        ),
        (
            "momentum, dampening, decay",
            SGDConfig {
                lr: 0.05,
                momentum: 0.9,
                dampening: 0.3,
                weight_decay: 0.01,
                nesterov: false,
            },
        ),
        (
            "nesterov",
            SGDConfig {
                lr: 0.05,
                momentum: 0.8,
                dampening: 0.0,
                weight_decay: 0.02,
                nesterov: true,
            },
        ),
    ];
    for (name, c) in configs {
        check_optimizer(&format!("sgd {name}"), &|ps| {
            Box::new(SGD::new(ps, c).unwrap())
        });
    }
}

#[test]
fn adam_and_adamw_match_the_cpu() {
    let adam = [
        (
            "default",
            AdamConfig {
                lr: 0.05,
                ..Default::default()
            },
        ),
        (
            "l2",
            AdamConfig {
                lr: 0.05,
                weight_decay: 0.1,
                ..Default::default()
            },
        ),
        (
            "amsgrad",
            AdamConfig {
                lr: 0.05,
                amsgrad: true,
                betas: (0.8, 0.95),
                ..Default::default()
            },
        ),
        (
            "amsgrad l2",
            AdamConfig {
                lr: 0.02,
                betas: (0.85, 0.9),
                eps: 1e-3,
                weight_decay: 0.05,
                amsgrad: true,
            },
        ),
    ];
    for (name, c) in adam {
        check_optimizer(&format!("adam {name}"), &|ps| {
            Box::new(Adam::new(ps, c).unwrap())
        });
    }
    let adamw = [
        (
            "default",
            AdamWConfig {
                lr: 0.05,
                ..Default::default()
            },
        ),
        (
            "amsgrad",
            AdamWConfig {
                lr: 0.05,
                weight_decay: 0.2,
                amsgrad: true,
                ..Default::default()
            },
        ),
    ];
    for (name, c) in adamw {
        check_optimizer(&format!("adamw {name}"), &|ps| {
            Box::new(AdamW::new(ps, c).unwrap())
        });
    }
}

#[test]
fn rmsprop_matches_the_cpu() {
    let d = RMSpropConfig::default();
    let configs = [
        ("default", d),
        (
            "centered",
            RMSpropConfig {
                centered: true,
                alpha: 0.9,
                ..d
            },
        ),
        (
            "momentum",
            RMSpropConfig {
                momentum: 0.7,
                weight_decay: 0.03,
                ..d
            },
        ),
        (
            "centered momentum decay",
            RMSpropConfig {
                lr: 0.005,
                alpha: 0.8,
                eps: 1e-4,
                weight_decay: 0.05,
                momentum: 0.9,
                centered: true,
            },
        ),
    ];
    for (name, c) in configs {
        check_optimizer(&format!("rmsprop {name}"), &|ps| {
            Box::new(RMSprop::new(ps, c).unwrap())
        });
    }
}

#[test]
fn adagrad_matches_the_cpu() {
    let configs = [
        (
            "default",
            AdagradConfig {
                lr: 0.1,
                ..Default::default()
            },
        ),
        (
            "decay, accumulator",
            AdagradConfig {
                lr: 0.1,
                lr_decay: 0.1,
                weight_decay: 0.05,
                initial_accumulator_value: 0.1,
                eps: 1e-6,
            },
        ),
    ];
    for (name, c) in configs {
        check_optimizer(&format!("adagrad {name}"), &|ps| {
            Box::new(Adagrad::new(ps, c).unwrap())
        });
    }
}

/// Two parameters with gradients on `device`: one `[3, 5]` transposed view, one given.
fn clip_params(device: &Device, dtype: DType, second: &[f64]) -> Vec<Tensor> {
    let a = Tensor::zeros([3, 5]).to_dtype(dtype).to(device);
    a.set_grad(Some(grad_tensor(
        &grad_values(15, 3, 0.2),
        3,
        5,
        dtype,
        true,
        device,
    )));
    let b = Tensor::zeros([second.len()]).to_dtype(dtype).to(device);
    b.set_grad(Some(tensor(second, &[second.len()], dtype).to(device)));
    vec![a, b]
}

fn grads(ps: &[Tensor]) -> Vec<Vec<f64>> {
    ps.iter().map(|p| host(&p.grad().unwrap())).collect()
}

/// `clip_grad_norm` on the CPU and the GPU: the total norm and the scaled gradients.
fn check_norm(second: &[f64], max_norm: f32, norm_type: f32, what: &str) {
    for dtype in [DType::F32, DType::F64] {
        let (cpu, gpu) = (
            clip_params(&Device::Cpu, dtype, second),
            clip_params(&GPU, dtype, second),
        );
        let want = clip_grad_norm_with(&cpu, max_norm, norm_type).item() as f64;
        let got = clip_grad_norm_with(&gpu, max_norm, norm_type).item() as f64;
        let what = format!("{what} p={norm_type} max={max_norm} {dtype:?}");
        // The total comes back as f32 either way; the GPU sums in another order.
        assert_close(&[got], &[want], 2e-6, &format!("{what}: total"));
        for (k, (g, w)) in grads(&gpu).iter().zip(&grads(&cpu)).enumerate() {
            assert_close(g, w, tol(dtype).max(2e-6), &format!("{what}: grad {k}"));
        }
    }
}

#[test]
fn clip_grad_norm_matches_the_cpu() {
    let second: Vec<f64> = (0..7).map(|i| 0.7 * i as f64 - 2.0).collect();
    for norm_type in [2.0, 1.0, 3.5, 0.5, f32::INFINITY] {
        // Clipping (small max_norm) and not (large: the gradients are scaled by 1).
        check_norm(&second, 0.5, norm_type, "small");
        check_norm(&second, 1e4, norm_type, "small");
    }
    // Many workgroups, each summing several elements per thread.
    let large: Vec<f64> = (0..70_001)
        .map(|i| ((i as f64) * 0.0137).sin() * 0.01)
        .collect();
    for norm_type in [2.0, 1.5, f32::INFINITY] {
        check_norm(&large, 1.0, norm_type, "large");
    }
    // The infinity norm skips NaN (as the CPU's max does); sums take it and infinities.
    let odd = [1.0, f64::NAN, -3.0, 0.25];
    for norm_type in [f32::INFINITY, 2.0, 1.0] {
        check_norm(&odd, 0.5, norm_type, "nan");
    }
    check_norm(&[1.0, f64::NEG_INFINITY, 2.0], 0.5, 2.0, "inf");
    check_norm(&[1.0, f64::INFINITY, 2.0], 0.5, f32::INFINITY, "inf");
    // All-zero gradients: total 0, nothing scaled.
    check_norm(&[0.0; 9], 1.0, 2.0, "zeros");
}

#[test]
fn clip_grad_value_matches_the_cpu() {
    let second = [
        -3.0,
        0.2,
        5.0,
        -0.3,
        0.3,
        f64::NAN,
        f64::INFINITY,
        f64::NEG_INFINITY,
        -0.0,
        1e-9,
        0.30001,
        -1.00001,
    ];
    for dtype in [DType::F32, DType::F64] {
        for limit in [0.3f32, 1.0, 0.0] {
            let (cpu, gpu) = (
                clip_params(&Device::Cpu, dtype, &second),
                clip_params(&GPU, dtype, &second),
            );
            clip_grad_value(&cpu, limit);
            clip_grad_value(&gpu, limit);
            let (want, got) = (grads(&cpu), grads(&gpu));
            for (k, (g, w)) in got.iter().zip(&want).enumerate() {
                assert_close(
                    g,
                    w,
                    tol(dtype),
                    &format!("clip value {limit} {dtype:?} grad {k}"),
                );
                assert!(g.iter().all(|v| v.is_nan() || v.abs() <= limit as f64));
            }
        }
    }
}
