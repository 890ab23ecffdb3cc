//! Optimizers, gradient clipping and schedulers against PyTorch: several steps of each
//! optimizer and option on a fixed least-squares problem follow PyTorch's parameter
//! trajectory to 1e-5, and learning-rate schedules match PyTorch's sequences.
//! Fixtures: `tools/golden_optim.py`.

use ferrite::nn::linear;
use ferrite::optim::*;
use ferrite::Tensor;
use serde_json::Value;

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).expect("fixture")).expect("json")
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number") as f32)
        .collect()
}

fn dims(v: &Value) -> Vec<usize> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap() as usize)
        .collect()
}

fn opt_f32(o: &Value, key: &str) -> Option<f32> {
    o.get(key).and_then(|v| v.as_f64()).map(|v| v as f32)
}

fn groups_of(case: &Value, w: &Tensor, b: &Tensor) -> Vec<ParamGroup> {
    match case["groups"].as_array() {
        None => vec![ParamGroup::new(vec![w.clone(), b.clone()])],
        Some(gs) => [w, b]
            .iter()
            .zip(gs)
            .map(|(p, g)| {
                let mut group = ParamGroup::new(vec![(*p).clone()]);
                if let Some(lr) = opt_f32(g, "lr") {
                    group = group.lr(lr);
                }
                if let Some(wd) = opt_f32(g, "weight_decay") {
                    group = group.weight_decay(wd);
                }
                group
            })
            .collect(),
    }
}

fn build(case: &Value, w: &Tensor, b: &Tensor) -> Box<dyn Optimizer> {
    let o = &case["options"];
    let groups = groups_of(case, w, b);
    let f = |k: &str, d: f32| opt_f32(o, k).unwrap_or(d);
    let flag = |k: &str| o.get(k).and_then(|v| v.as_bool()).unwrap_or(false);
    let betas = o.get("betas").map(floats).map(|b| (b[0], b[1]));
    match case["optimizer"].as_str().unwrap() {
        "SGD" => {
            let c = SGDConfig {
                lr: f("lr", 1e-3),
                momentum: f("momentum", 0.0),
                dampening: f("dampening", 0.0),
                weight_decay: f("weight_decay", 0.0),
                nesterov: flag("nesterov"),
            };
            Box::new(SGD::with_groups(groups, c).unwrap())
        }
        "Adam" => {
            let d = AdamConfig::default();
            let c = AdamConfig {
                lr: f("lr", d.lr),
                betas: betas.unwrap_or(d.betas),
                eps: f("eps", d.eps),
                weight_decay: f("weight_decay", 0.0),
                amsgrad: flag("amsgrad"),
            };
            Box::new(Adam::with_groups(groups, c).unwrap())
        }
        "AdamW" => {
            let d = AdamWConfig::default();
            let c = AdamWConfig {
                lr: f("lr", d.lr),
                betas: betas.unwrap_or(d.betas),
                eps: f("eps", d.eps),
                weight_decay: f("weight_decay", d.weight_decay),
                amsgrad: flag("amsgrad"),
            };
            Box::new(AdamW::with_groups(groups, c).unwrap())
        }
        "RMSprop" => {
            let d = RMSpropConfig::default();
            let c = RMSpropConfig {
                lr: f("lr", d.lr),
                alpha: f("alpha", d.alpha),
                eps: f("eps", d.eps),
                weight_decay: f("weight_decay", 0.0),
                momentum: f("momentum", 0.0),
                centered: flag("centered"),
            };
            Box::new(RMSprop::with_groups(groups, c).unwrap())
        }
        "Adagrad" => {
            let d = AdagradConfig::default();
            let c = AdagradConfig {
                lr: f("lr", d.lr),
                lr_decay: f("lr_decay", 0.0),
                weight_decay: f("weight_decay", 0.0),
                initial_accumulator_value: f("initial_accumulator_value", 0.0),
                eps: f("eps", d.eps),
            };
            Box::new(Adagrad::with_groups(groups, c).unwrap())
        }
        other => panic!("unknown optimizer {other}"),
    }
}

fn assert_close(got: &[f32], want: &[f32], tol: f32, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= tol,
            "{what}[{i}]: ferrite {g}, pytorch {w}"
        );
    }
}

#[test]
fn every_optimizer_follows_pytorch_trajectory() {
    let fx = fixture("optim_trajectories.json");
    let p = &fx["problem"];
    let x = Tensor::from_vec(floats(&p["x"]), dims(&p["x_shape"]));
    let y = Tensor::from_vec(floats(&p["y"]), dims(&p["y_shape"]));
    let cases = fx["cases"].as_array().unwrap();
    assert!(cases.len() >= 20);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let w = Tensor::from_vec(floats(&p["w0"]), dims(&p["w_shape"])).requires_grad();
        let b = Tensor::from_vec(floats(&p["b0"]), [w.dims()[0]]).requires_grad();
        let mut opt = build(case, &w, &b);
        for (t, step) in case["steps"].as_array().unwrap().iter().enumerate() {
            opt.zero_grad();
            let loss = (&linear(&x, &w, Some(&b)) - &y).square().mean();
            assert!(
                (loss.item() - step["loss"].as_f64().unwrap() as f32).abs() < 1e-5,
                "{name} step {t}: loss"
            );
            loss.backward();
            let clip = &case["clip"];
            if clip.is_object() {
                let max = clip["max"].as_f64().unwrap() as f32;
                if clip["kind"] == "norm" {
                    let norm_type = match &clip["norm_type"] {
                        Value::String(s) if s == "inf" => f32::INFINITY,
                        v => v.as_f64().unwrap() as f32,
                    };
                    let total = clip_grad_norm_with(&[w.clone(), b.clone()], max, norm_type).item();
                    let want = step["total_norm"].as_f64().unwrap() as f32;
                    assert!(
                        (total - want).abs() < 1e-5,
                        "{name} step {t}: total norm {total} vs {want}"
                    );
                } else {
                    clip_grad_value(&[w.clone(), b.clone()], max);
                }
            }
            opt.step();
            assert_close(
                &w.to_vec(),
                &floats(&step["w"]),
                1e-5,
                &format!("{name} step {t} w"),
            );
            assert_close(
                &b.to_vec(),
                &floats(&step["b"]),
                1e-5,
                &format!("{name} step {t} b"),
            );
        }
    }
}

fn check_lrs(name: &str, got: Vec<Vec<f32>>, want: &Value) {
    let want: Vec<Vec<f32>> = want.as_array().unwrap().iter().map(floats).collect();
    assert_eq!(got.len(), want.len(), "{name}: epochs");
    for (e, (g, w)) in got.iter().zip(&want).enumerate() {
        for (a, b) in g.iter().zip(w) {
            assert!(
                (a - b).abs() <= 1e-6 * b.abs().max(1e-3),
                "{name} epoch {e}: ferrite {g:?}, pytorch {w:?}"
            );
        }
    }
}

fn two_group_sgd(base: &[f32]) -> SGD {
    let groups = base
        .iter()
        .map(|&lr| ParamGroup::new(vec![Tensor::zeros([1]).requires_grad()]).lr(lr))
        .collect();
    SGD::with_groups(
        groups,
        SGDConfig {
            lr: base[0],
            ..Default::default()
        },
    )
    .unwrap()
}

fn run_schedule(
    base: &[f32],
    epochs: usize,
    make: impl Fn(&SGD) -> Box<dyn LrScheduler>,
) -> Vec<Vec<f32>> {
    let mut opt = two_group_sgd(base);
    let mut sched = make(&opt);
    (0..epochs)
        .map(|_| {
            let lrs = opt.group_lrs();
            sched.step(&mut opt);
            lrs
        })
        .collect()
}

#[test]
fn schedules_match_pytorch() {
    let fx = fixture("optim_schedulers.json");
    let base = floats(&fx["base_lrs"]);
    let s = &fx["schedulers"];
    let n = |k: &str| s[k]["lrs"].as_array().unwrap().len();
    let g = |k: &str, f: &str| s[k][f].as_f64().unwrap() as f32;
    let u = |k: &str, f: &str| s[k][f].as_u64().unwrap() as usize;

    let got = run_schedule(&base, n("step"), |o| {
        Box::new(StepLR::new(o, u("step", "step_size"), g("step", "gamma")).unwrap())
    });
    check_lrs("StepLR", got, &s["step"]["lrs"]);
    let milestones = dims(&s["multistep"]["milestones"]);
    let got = run_schedule(&base, n("multistep"), |o| {
        Box::new(MultiStepLR::new(o, &milestones, g("multistep", "gamma")).unwrap())
    });
    check_lrs("MultiStepLR", got, &s["multistep"]["lrs"]);
    let got = run_schedule(&base, n("exponential"), |o| {
        Box::new(ExponentialLR::new(o, g("exponential", "gamma")).unwrap())
    });
    check_lrs("ExponentialLR", got, &s["exponential"]["lrs"]);
    let got = run_schedule(&base, n("cosine"), |o| {
        Box::new(CosineAnnealingLR::new(o, u("cosine", "t_max"), g("cosine", "eta_min")).unwrap())
    });
    check_lrs("CosineAnnealingLR", got, &s["cosine"]["lrs"]);

    // ReduceLROnPlateau, minimising with cooldown and a floor.
    let pm = &s["plateau_min"];
    let mut opt = two_group_sgd(&base);
    let mut sched = ReduceLROnPlateau::new(&opt)
        .unwrap()
        .factor(g("plateau_min", "factor"))
        .unwrap()
        .patience(u("plateau_min", "patience"))
        .cooldown(u("plateau_min", "cooldown"))
        .min_lr(g("plateau_min", "min_lr"));
    let got = floats(&pm["metrics"])
        .into_iter()
        .map(|m| {
            let lrs = opt.group_lrs();
            sched.step(m, &mut opt);
            lrs
        })
        .collect();
    check_lrs("ReduceLROnPlateau(min)", got, &pm["lrs"]);

    // Maximising with an absolute threshold.
    let pa = &s["plateau_max_abs"];
    let mut opt = two_group_sgd(&base);
    let mut sched = ReduceLROnPlateau::new(&opt)
        .unwrap()
        .mode(PlateauMode::Max)
        .factor(g("plateau_max_abs", "factor"))
        .unwrap()
        .patience(u("plateau_max_abs", "patience"))
        .threshold(g("plateau_max_abs", "threshold"), ThresholdMode::Abs);
    let got = floats(&pa["metrics"])
        .into_iter()
        .map(|m| {
            let lrs = opt.group_lrs();
            sched.step(m, &mut opt);
            lrs
        })
        .collect();
    check_lrs("ReduceLROnPlateau(max, abs)", got, &pa["lrs"]);
}

#[test]
fn invalid_hyper_parameters_are_errors() {
    let p = || vec![Tensor::zeros([2]).requires_grad()];
    let msg = |r: ferrite::Result<()>| r.unwrap_err().to_string();
    assert!(msg(SGD::new(
        p(),
        SGDConfig {
            lr: -0.1,
            ..Default::default()
        }
    )
    .map(|_| ()))
    .contains("Invalid learning rate: -0.1"));
    let nesterov = SGDConfig {
        lr: 0.1,
        nesterov: true,
        ..Default::default()
    };
    assert!(msg(SGD::new(p(), nesterov).map(|_| ()))
        .contains("Nesterov momentum requires a momentum and zero dampening"));
    let damp = SGDConfig {
        lr: 0.1,
        nesterov: true,
        momentum: 0.9,
        dampening: 0.1,
        ..Default::default()
    };
    assert!(SGD::new(p(), damp).is_err());
    assert!(SGD::new(
        p(),
        SGDConfig {
            momentum: -0.5,
            ..Default::default()
        }
    )
    .is_err());
    assert!(SGD::new(
        p(),
        SGDConfig {
            weight_decay: -1.0,
            ..Default::default()
        }
    )
    .is_err());
    assert!(msg(SGD::new(
        vec![],
        SGDConfig {
            lr: 0.1,
            ..Default::default()
        }
    )
    .map(|_| ()))
    .contains("empty parameter list"));
    let groups = vec![ParamGroup::new(p()).lr(-1.0)];
    assert!(SGD::with_groups(groups, SGDConfig::default()).is_err());
    let bad_beta = AdamConfig {
        betas: (1.0, 0.999),
        ..Default::default()
    };
    assert!(msg(Adam::new(p(), bad_beta).map(|_| ())).contains("Invalid beta parameter at index 0"));
    assert!(Adam::new(
        p(),
        AdamConfig {
            eps: -1e-8,
            ..Default::default()
        }
    )
    .is_err());
    assert!(AdamW::new(
        p(),
        AdamWConfig {
            lr: -1.0,
            ..Default::default()
        }
    )
    .is_err());
    assert!(RMSprop::new(
        p(),
        RMSpropConfig {
            alpha: -0.1,
            ..Default::default()
        }
    )
    .is_err());
    assert!(Adagrad::new(
        p(),
        AdagradConfig {
            lr_decay: -0.1,
            ..Default::default()
        }
    )
    .is_err());
    let opt = SGD::new(
        p(),
        SGDConfig {
            lr: 0.1,
            ..Default::default()
        },
    )
    .unwrap();
    assert!(StepLR::new(&opt, 0, 0.5).is_err());
    assert!(CosineAnnealingLR::new(&opt, 0, 0.0).is_err());
    assert!(ReduceLROnPlateau::new(&opt).unwrap().factor(1.0).is_err());
}

#[test]
fn zero_grad_clears_and_parameters_without_grad_are_left_alone() {
    let (a, b) = (
        Tensor::ones([2]).requires_grad(),
        Tensor::ones([2]).requires_grad(),
    );
    let mut opt = Adam::new(vec![a.clone(), b.clone()], AdamConfig::default()).unwrap();
    a.sum().backward();
    opt.step();
    assert_eq!(b.to_vec(), vec![1.0, 1.0]);
    assert!(a.to_vec()[0] < 1.0);
    opt.zero_grad();
    assert!(a.grad().is_none());
    let mut opt = SGD::new(
        vec![a.clone()],
        SGDConfig {
            lr: 0.1,
            ..Default::default()
        },
    )
    .unwrap();
    opt.set_lr(0.5);
    assert_eq!(opt.lr(), 0.5);
}
