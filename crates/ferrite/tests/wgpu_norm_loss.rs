//! Batch normalisation and the fused losses on the wgpu backend against the CPU backend
//! (itself golden-tested against PyTorch), through the public API: `BatchNorm1d/2d` in
//! training and evaluation with running statistics, the functional `batch_norm` in f64, and
//! `CrossEntropyLoss`, `NLLLoss`, `BCELoss`, `BCEWithLogitsLoss` with their options, values
//! and gradients, in f32 and f64, on contiguous and strided inputs.

use ferrite::nn::loss::{BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, Loss, NLLLoss, Reduction};
use ferrite::nn::{BatchNorm1d, BatchNorm2d, BatchNormOptions, BatchNormState, Module};
use ferrite::{DType, Device, Tensor};

fn gpu() -> Device {
    Device::Wgpu(0)
}

/// Deterministic values in about [-2, 2]: `k` picks the sequence.
fn wave(n: usize, k: usize) -> Vec<f64> {
    (0..n)
        .map(|i| ((i as f64) * 0.731 + (k as f64) * 1.37).sin() * 2.0 + 0.1 * (k as f64 % 3.0))
        .collect()
}

/// A CPU tensor of `dtype` holding `data`.
fn make(data: Vec<f64>, shape: &[usize], dtype: DType) -> Tensor {
    match dtype {
        DType::F64 => Tensor::from_f64(data, shape.to_vec()).to(&Device::Cpu),
        _ => Tensor::from_vec(data.iter().map(|&v| v as f32).collect(), shape.to_vec())
            .to(&Device::Cpu),
    }
}

/// Asserts that `got` (from the GPU) matches `want` (from the CPU) elementwise: 1e-5 for
/// f32, 1e-10 for f64, relative to the larger of 1 and the value.
fn assert_close(what: &str, got: &Tensor, want: &Tensor) {
    assert_eq!(got.dims(), want.dims(), "{what}: shape");
    assert_eq!(got.dtype(), want.dtype(), "{what}: dtype");
    let tol = if want.dtype() == DType::F64 {
        1e-10
    } else {
        1e-5
    };
    let (g, w) = (
        got.to(&Device::Cpu).to_vec_f64(),
        want.to(&Device::Cpu).to_vec_f64(),
    );
    for (i, (a, b)) in g.iter().zip(&w).enumerate() {
        let ok = (a - b).abs() <= tol * b.abs().max(1.0) || (a.is_nan() && b.is_nan());
        assert!(ok, "{what}[{i}]: wgpu {a}, cpu {b} (tolerance {tol})");
    }
}

fn grad(t: &Tensor, what: &str) -> Tensor {
    t.grad().unwrap_or_else(|| panic!("{what}: no gradient"))
}

// ---------------------------------------------------------------- batch normalisation ----

/// The layer's state, whichever of the two layers it is.
trait Bn: Module {
    fn st(&self) -> &BatchNormState;
}
impl Bn for BatchNorm1d {
    fn st(&self) -> &BatchNormState {
        &self.state
    }
}
impl Bn for BatchNorm2d {
    fn st(&self) -> &BatchNormState {
        &self.state
    }
}

/// An input for a step: `dims` row-major, or (with `strided`) the same shape seen through a
/// transpose of the first two dimensions of a tensor laid out the other way round.
fn bn_input(dims: &[usize], k: usize, strided: bool) -> Tensor {
    let n: usize = dims.iter().product();
    if strided {
        let mut swapped = dims.to_vec();
        swapped.swap(0, 1);
        make(wave(n, k), &swapped, DType::F32)
    } else {
        make(wave(n, k), dims, DType::F32)
    }
}

/// Runs the same layer on both devices: training steps (outputs, gradients of the input and
/// the affine parameters, running statistics) then evaluation.
fn check_layer<M: Bn>(name: &str, dims: &[usize], make_layer: impl Fn() -> M) {
    let cpu = make_layer();
    let dev = make_layer();
    let c = dims[1];
    if let (Some(w), Some(b)) = (&cpu.st().weight, &cpu.st().bias) {
        let (gw, gb) = (
            make(wave(c, 40), &[c], DType::F32),
            make(wave(c, 41), &[c], DType::F32),
        );
        w.copy_(&gw);
        b.copy_(&gb);
        let (dw, db) = (dev.st().weight.as_ref(), dev.st().bias.as_ref());
        dw.unwrap().copy_(&gw);
        db.unwrap().copy_(&gb);
    }
    dev.to(&gpu());
    let mut cpu = cpu;
    let mut dev = dev;
    for step in 0..4 {
        for training in [true, false] {
            if training {
                cpu.train();
                dev.train();
            } else {
                cpu.eval();
                dev.eval();
            }
            let what = format!("{name} step {step} training {training}");
            cpu.zero_grad();
            dev.zero_grad();
            let strided = step % 2 == 1;
            let base = bn_input(dims, step, strided);
            // (detached: each device's input is a leaf of its own)
            let view = |t: &Tensor| {
                if strided {
                    t.detach().transpose(0, 1)
                } else {
                    t.detach()
                }
            };
            let xc = view(&base).requires_grad();
            let xg = view(&base.to(&gpu())).requires_grad();
            let yc = cpu.forward(&xc);
            let yg = dev.forward(&xg);
            assert_eq!(yg.device(), gpu());
            assert_close(&format!("{what}: y"), &yg, &yc);
            let r = make(wave(yc.numel(), 50 + step), yc.dims(), DType::F32);
            yc.backward_with(&r);
            yg.backward_with(&r.to(&gpu()));
            assert_close(&format!("{what}: dx"), &grad(&xg, &what), &grad(&xc, &what));
            let (sc, sg) = (cpu.st(), dev.st());
            if let (Some(wc), Some(wg)) = (&sc.weight, &sg.weight) {
                assert_close(
                    &format!("{what}: dweight"),
                    &grad(wg, &what),
                    &grad(wc, &what),
                );
                let (bc, bg) = (sc.bias.as_ref().unwrap(), sg.bias.as_ref().unwrap());
                assert_close(
                    &format!("{what}: dbias"),
                    &grad(bg, &what),
                    &grad(bc, &what),
                );
            }
            if let (Some(mc), Some(mg)) = (&sc.running_mean, &sg.running_mean) {
                assert_close(&format!("{what}: running_mean"), mg, mc);
                let (vc, vg) = (
                    sc.running_var.as_ref().unwrap(),
                    sg.running_var.as_ref().unwrap(),
                );
                assert_close(&format!("{what}: running_var"), vg, vc);
            }
        }
    }
}

#[test]
fn batch_norm_layers_match_the_cpu() {
    let variants: [(&str, BatchNormOptions); 4] = [
        ("default", BatchNormOptions::default()),
        (
            "no affine",
            BatchNormOptions {
                affine: false,
                ..Default::default()
            },
        ),
        (
            "cumulative",
            BatchNormOptions {
                momentum: None,
                ..Default::default()
            },
        ),
        (
            "untracked",
            BatchNormOptions {
                track_running_stats: false,
                eps: 1e-3,
                ..Default::default()
            },
        ),
    ];
    for (label, options) in variants {
        check_layer(&format!("bn1d (N, C) {label}"), &[5, 3], || {
            BatchNorm1d::with_options(3, options).unwrap()
        });
        check_layer(&format!("bn1d (N, C, L) {label}"), &[3, 2, 5], || {
            BatchNorm1d::with_options(2, options).unwrap()
        });
        check_layer(&format!("bn2d {label}"), &[2, 3, 3, 4], || {
            BatchNorm2d::with_options(3, options).unwrap()
        });
    }
}

/// The functional form in f64 and f32, with running statistics seen through a strided view
/// (updated in place through it) and affine parameters present or absent.
#[test]
fn functional_batch_norm_matches_the_cpu_in_f64_and_f32() {
    for dtype in [DType::F64, DType::F32] {
        let dims = [4usize, 3, 2, 3];
        let c = dims[1];
        let n: usize = dims.iter().product();
        for affine in [true, false] {
            for training in [true, false] {
                let what = format!("{dtype:?} affine {affine} training {training}");
                // Running statistics: every other element of a (C, 2) tensor.
                let big_m = make(wave(2 * c, 7), &[c, 2], dtype);
                let big_v = make(
                    wave(2 * c, 8).iter().map(|v| v.abs() + 0.5).collect(),
                    &[c, 2],
                    dtype,
                );
                let on = |d: &Device| {
                    // Copies: the update happens in place.
                    let (bm, bv) = (big_m.deep_clone().to(d), big_v.deep_clone().to(d));
                    let (rm, rv) = (bm.narrow(1, 1, 1), bv.narrow(1, 1, 1));
                    let w = affine.then(|| make(wave(c, 9), &[c], dtype).to(d).requires_grad());
                    let b = affine.then(|| make(wave(c, 10), &[c], dtype).to(d).requires_grad());
                    // A permuted input: (N, H, C, W) seen as (N, C, H, W).
                    let base = make(wave(n, 11), &[4, 2, 3, 3], dtype).to(d);
                    let x = base.permute(&[0, 2, 1, 3]).requires_grad();
                    let y = x.batch_norm(
                        Some(&rm),
                        Some(&rv),
                        w.as_ref(),
                        b.as_ref(),
                        training,
                        0.1,
                        1e-5,
                    );
                    let r = make(wave(n, 12), &dims, dtype).to(d);
                    y.backward_with(&r);
                    (y, x, w, b, bm, bv)
                };
                let (yc, xc, wc, bc, mc, vc) = on(&Device::Cpu);
                let (yg, xg, wg, bg, mg, vg) = on(&gpu());
                assert_eq!(yg.device(), gpu());
                assert_close(&format!("{what}: y"), &yg, &yc);
                assert_close(&format!("{what}: dx"), &grad(&xg, &what), &grad(&xc, &what));
                if affine {
                    let (wc, wg) = (wc.unwrap(), wg.unwrap());
                    let (bc, bg) = (bc.unwrap(), bg.unwrap());
                    assert_close(&format!("{what}: dw"), &grad(&wg, &what), &grad(&wc, &what));
                    assert_close(&format!("{what}: db"), &grad(&bg, &what), &grad(&bc, &what));
                }
                assert_close(&format!("{what}: running mean"), &mg, &mc);
                assert_close(&format!("{what}: running var"), &vg, &vc);
            }
        }
    }
}

// ---------------------------------------------------------------------------- losses ----

/// What a loss case runs: the loss (built for a device, so its weights live there), the
/// input, the target, and whether the target takes a gradient.
struct Case<'a> {
    name: String,
    loss: &'a dyn Fn(&Device) -> Box<dyn Loss>,
    input: Tensor,
    target: Tensor,
    target_grad: bool,
    /// Transpose the input's first two dimensions of a tensor laid out the other way round.
    strided: bool,
}

/// The loss on both devices: values, and the gradients of the input (and target).
fn check_loss(case: Case<'_>) {
    let what = &case.name;
    let on = |d: &Device| {
        // Detached copies: each device's operands are leaves of their own.
        let input = if case.strided {
            case.input
                .transpose(0, 1)
                .contiguous()
                .to(d)
                .transpose(0, 1)
        } else {
            case.input.detach().to(d)
        };
        let input = input.requires_grad();
        let target = case.target.detach().to(d);
        let target = if case.target_grad {
            target.requires_grad()
        } else {
            target
        };
        let out = (case.loss)(d)
            .forward(&input, &target)
            .unwrap_or_else(|e| panic!("{what} on {d}: {e}"));
        if out.rank() == 0 {
            out.backward();
        } else {
            let r = make(wave(out.numel(), 60), out.dims(), out.dtype()).to(d);
            out.backward_with(&r);
        }
        (out, input, target)
    };
    let (oc, ic, tc) = on(&Device::Cpu);
    let (og, ig, tg) = on(&gpu());
    assert_eq!(og.device(), gpu(), "{what}: computed on the GPU");
    assert_close(&format!("{what}: value"), &og, &oc);
    assert_close(
        &format!("{what}: d input"),
        &grad(&ig, what),
        &grad(&ic, what),
    );
    if case.target_grad {
        assert_close(
            &format!("{what}: d target"),
            &grad(&tg, what),
            &grad(&tc, what),
        );
    }
}

const REDUCTIONS: [Reduction; 3] = [Reduction::None, Reduction::Mean, Reduction::Sum];

/// A float tensor of class indices (whole numbers), some equal to `ignore`.
fn classes_of(n: usize, classes: usize, ignore: Option<i64>) -> Vec<i64> {
    (0..n)
        .map(|i| match ignore {
            Some(ig) if i % 4 == 1 => ig,
            _ => ((i * 7 + 3) % classes) as i64,
        })
        .collect()
}

#[test]
fn cross_entropy_and_nll_match_the_cpu() {
    for dtype in [DType::F32, DType::F64] {
        let weight = make(vec![0.5, 2.0, 1.0, 1.5], &[4], dtype);
        for (shape, tshape) in [(vec![6usize, 4], vec![6usize]), (vec![2, 4, 3], vec![2, 3])] {
            let npos: usize = tshape.iter().product();
            let input = make(wave(shape.iter().product(), 1), &shape, dtype);
            for reduction in REDUCTIONS {
                for weighted in [false, true] {
                    for (ignore, smoothing) in [(None, 0.0), (Some(2i64), 0.0), (Some(-100), 0.2)] {
                        let ignore_index = ignore.unwrap_or(-100);
                        let idx = classes_of(npos, 4, ignore);
                        // Targets as int64, and as whole-number floats.
                        for float_target in [false, true] {
                            let target = if float_target {
                                make(idx.iter().map(|&v| v as f64).collect(), &tshape, dtype)
                            } else {
                                Tensor::from_i64(idx.clone(), tshape.clone()).to(&Device::Cpu)
                            };
                            let w = weighted.then(|| weight.clone());
                            let ce = |d: &Device| -> Box<dyn Loss> {
                                Box::new(CrossEntropyLoss {
                                    weight: w.as_ref().map(|w| w.to(d)),
                                    ignore_index,
                                    reduction,
                                    label_smoothing: smoothing,
                                })
                            };
                            let label = format!(
                                "{dtype:?} {shape:?} {reduction} weighted {weighted} ignore {ignore:?} ε {smoothing} float target {float_target}"
                            );
                            check_loss(Case {
                                name: format!("cross_entropy {label}"),
                                loss: &ce,
                                input: input.clone(),
                                target: target.clone(),
                                target_grad: false,
                                strided: shape.len() == 2,
                            });
                            let nll = |d: &Device| -> Box<dyn Loss> {
                                Box::new(NLLLoss {
                                    weight: w.as_ref().map(|w| w.to(d)),
                                    ignore_index,
                                    reduction,
                                })
                            };
                            check_loss(Case {
                                name: format!("nll {label}"),
                                loss: &nll,
                                input: input.clone(),
                                target,
                                target_grad: false,
                                strided: false,
                            });
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn cross_entropy_with_probabilities_matches_the_cpu() {
    for dtype in [DType::F32, DType::F64] {
        for shape in [vec![5usize, 3], vec![2, 3, 4], vec![3]] {
            let n: usize = shape.iter().product();
            let input = make(wave(n, 2), &shape, dtype);
            let target = make(
                wave(n, 3)
                    .iter()
                    .map(|v| (v.abs() / 2.2).min(1.0))
                    .collect(),
                &shape,
                dtype,
            );
            let c = if shape.len() == 1 { shape[0] } else { shape[1] };
            let weight = make(
                wave(c, 4).iter().map(|v| v.abs() + 0.25).collect(),
                &[c],
                dtype,
            );
            for reduction in REDUCTIONS {
                for weighted in [false, true] {
                    for smoothing in [0.0f32, 0.3] {
                        let w = weighted.then(|| weight.clone());
                        let ce = |d: &Device| -> Box<dyn Loss> {
                            Box::new(CrossEntropyLoss {
                                weight: w.as_ref().map(|w| w.to(d)),
                                ignore_index: -100,
                                reduction,
                                label_smoothing: smoothing,
                            })
                        };
                        check_loss(Case {
                            name: format!(
                                "soft cross_entropy {dtype:?} {shape:?} {reduction} weighted {weighted} ε {smoothing}"
                            ),
                            loss: &ce,
                            input: input.clone(),
                            target: target.clone(),
                            target_grad: true,
                            strided: shape.len() == 2,
                        });
                    }
                }
            }
        }
    }
}

#[test]
fn binary_cross_entropy_matches_the_cpu() {
    for dtype in [DType::F32, DType::F64] {
        let shape = [4usize, 5];
        let n = 20;
        // Probabilities including exact 0 and 1 (the clamped logs).
        let mut p: Vec<f64> = wave(n, 5).iter().map(|v| (v + 2.2) / 4.6).collect();
        p[3] = 0.0;
        p[7] = 1.0;
        let input = make(p, &shape, dtype);
        let target = make(
            wave(n, 6)
                .iter()
                .map(|v| (v.abs() / 2.2).min(1.0))
                .collect(),
            &shape,
            dtype,
        );
        let weight = make(
            wave(5, 7).iter().map(|v| v.abs() + 0.1).collect(),
            &[5],
            dtype,
        );
        for reduction in REDUCTIONS {
            for weighted in [false, true] {
                let w = weighted.then(|| weight.clone());
                let bce = |d: &Device| -> Box<dyn Loss> {
                    let l = BCELoss::new().reduction(reduction);
                    Box::new(match &w {
                        Some(w) => l.weight(w.to(d)),
                        None => l,
                    })
                };
                for strided in [false, true] {
                    check_loss(Case {
                        name: format!(
                            "bce {dtype:?} {reduction} weighted {weighted} strided {strided}"
                        ),
                        loss: &bce,
                        input: input.clone(),
                        target: target.clone(),
                        target_grad: true,
                        strided,
                    });
                }
            }
        }
    }
}

#[test]
fn binary_cross_entropy_rejects_values_outside_the_unit_interval() {
    for dtype in [DType::F32, DType::F64] {
        for (bad_at, bad) in [(0usize, 1.5f64), (9, -0.25), (5000, 2.0), (4097, f64::NAN)] {
            let n = 6000;
            let mut p = vec![0.5; n];
            p[bad_at] = bad;
            // A second offender later on: the first must be reported.
            p[n - 1] = 3.0;
            let ok = make(vec![0.25; n], &[n], dtype);
            let bad_t = make(p, &[n], dtype);
            for (input, target, side) in [(&bad_t, &ok, "input"), (&ok, &bad_t, "target")] {
                let run = |d: &Device| {
                    BCELoss::new()
                        .forward(&input.to(d), &target.to(d))
                        .map(|t| t.to(&Device::Cpu).to_vec_f64())
                        .map_err(|e| e.to_string())
                };
                let (c, g) = (run(&Device::Cpu), run(&gpu()));
                assert!(c.is_err(), "{dtype:?} {side}: cpu accepted {bad}");
                assert_eq!(g, c, "{dtype:?} {side} bad {bad} at {bad_at}");
            }
        }
    }
}

#[test]
fn class_targets_are_checked_like_the_cpu() {
    for dtype in [DType::F32, DType::F64] {
        let input = make(wave(5000 * 3, 1), &[5000, 3], dtype);
        for (at, bad) in [
            (0usize, 3.0f64),
            (4500, 0.5),
            (4100, -1.0),
            (17, 7.0),
            (4200, f64::NAN),
        ] {
            let mut t: Vec<f64> = (0..5000).map(|i| (i % 3) as f64).collect();
            t[at] = bad;
            t[4999] = 9.0;
            let target = make(t.clone(), &[5000], dtype);
            let idx =
                Tensor::from_i64(t.iter().map(|&v| v as i64).collect(), [5000]).to(&Device::Cpu);
            for (label, target) in [("float", target), ("int64", idx)] {
                let run = |d: &Device| {
                    CrossEntropyLoss::new()
                        .forward(&input.to(d), &target.to(d))
                        .map(|t| t.to(&Device::Cpu).to_vec_f64())
                        .map_err(|e| e.to_string())
                };
                let (c, g) = (run(&Device::Cpu), run(&gpu()));
                if label == "float" {
                    assert!(c.is_err(), "{dtype:?}: cpu accepted {bad}");
                }
                assert_eq!(g.is_err(), c.is_err(), "{dtype:?} {label} {bad} at {at}");
                match (&g, &c) {
                    (Err(a), Err(b)) => assert_eq!(a, b, "{dtype:?} {label}"),
                    (Ok(a), Ok(b)) => {
                        assert_close(
                            &format!("{dtype:?} {label}"),
                            &Tensor::from_f64(a.clone(), [a.len()]),
                            &Tensor::from_f64(b.clone(), [b.len()]),
                        );
                    }
                    _ => unreachable!(),
                }
            }
        }
        // Every target ignored: the weighted mean is 0/0, NaN on both.
        let all_ignored = Tensor::from_i64(vec![-100; 4], [4]).to(&Device::Cpu);
        let x = make(wave(12, 2), &[4, 3], dtype);
        let run = |d: &Device| {
            CrossEntropyLoss::new()
                .forward(&x.to(d), &all_ignored.to(d))
                .unwrap()
        };
        assert_close("all ignored", &run(&gpu()), &run(&Device::Cpu));
    }
}

#[test]
fn binary_cross_entropy_with_logits_matches_the_cpu() {
    for dtype in [DType::F32, DType::F64] {
        let shape = [3usize, 4];
        let mut x = wave(12, 8).iter().map(|v| v * 3.0).collect::<Vec<_>>();
        // Logits far out on both sides stay finite.
        x[0] = 100.0;
        x[5] = -100.0;
        let input = make(x, &shape, dtype);
        let target = make(
            wave(12, 9)
                .iter()
                .map(|v| (v.abs() / 2.2).min(1.0))
                .collect(),
            &shape,
            dtype,
        );
        let weight = make(
            wave(12, 10).iter().map(|v| v.abs() + 0.1).collect(),
            &shape,
            dtype,
        );
        let pos_weight = make(vec![0.5, 1.0, 2.0, 3.5], &[4], dtype);
        for reduction in REDUCTIONS {
            for (weighted, positive) in [(false, false), (true, false), (false, true), (true, true)]
            {
                let w = weighted.then(|| weight.clone());
                let pw = positive.then(|| pos_weight.clone());
                let bce = |d: &Device| -> Box<dyn Loss> {
                    let mut l = BCEWithLogitsLoss::new().reduction(reduction);
                    if let Some(w) = &w {
                        l = l.weight(w.to(d));
                    }
                    if let Some(p) = &pw {
                        l = l.pos_weight(p.to(d));
                    }
                    Box::new(l)
                };
                for strided in [false, true] {
                    check_loss(Case {
                        name: format!(
                            "bce logits {dtype:?} {reduction} weight {weighted} pos_weight {positive} strided {strided}"
                        ),
                        loss: &bce,
                        input: input.clone(),
                        target: target.clone(),
                        target_grad: true,
                        strided,
                    });
                }
            }
        }
    }
}

/// Totals over more values than one workgroup of the reduction folds (several partials).
#[test]
fn large_reductions_match_the_cpu() {
    for dtype in [DType::F32, DType::F64] {
        let n = 10_000;
        let input = make(wave(n, 3).iter().map(|v| v * 2.0).collect(), &[n], dtype);
        let target = make(
            wave(n, 4)
                .iter()
                .map(|v| (v.abs() / 2.2).min(1.0))
                .collect(),
            &[n],
            dtype,
        );
        let bce = |_: &Device| -> Box<dyn Loss> { Box::new(BCEWithLogitsLoss::new()) };
        check_loss(Case {
            name: format!("large bce logits {dtype:?}"),
            loss: &bce,
            input,
            target,
            target_grad: true,
            strided: false,
        });
        let x = make(wave(3000 * 5, 5), &[3000, 5], dtype);
        let t = Tensor::from_i64(classes_of(3000, 5, Some(-100)), [3000]).to(&Device::Cpu);
        for reduction in [Reduction::Mean, Reduction::Sum] {
            let ce = |_: &Device| -> Box<dyn Loss> {
                Box::new(
                    CrossEntropyLoss::new()
                        .reduction(reduction)
                        .label_smoothing(0.1),
                )
            };
            check_loss(Case {
                name: format!("large cross_entropy {dtype:?} {reduction}"),
                loss: &ce,
                input: x.clone(),
                target: t.clone(),
                target_grad: false,
                strided: false,
            });
        }
        // A batch norm over channels larger than one workgroup's stride.
        let on = |d: &Device| {
            let x = make(wave(2 * 3 * 700, 6), &[2, 3, 700], dtype)
                .to(d)
                .requires_grad();
            let y = x.batch_norm(None, None, None, None, true, 0.1, 1e-5);
            y.backward_with(&make(wave(4200, 7), &[2, 3, 700], dtype).to(d));
            (y, grad(&x, "large bn"))
        };
        let ((yc, gc), (yg, gg)) = (on(&Device::Cpu), on(&gpu()));
        assert_close(&format!("large bn {dtype:?} y"), &yg, &yc);
        assert_close(&format!("large bn {dtype:?} dx"), &gg, &gc);
    }
}
