//! Batch normalisation against PyTorch (fixture `fixtures/conv_batchnorm_golden.json` from
//! `tools/golden_conv.py`): several training steps (outputs, gradients of input, weight and
//! bias, running statistics after each step, momentum 0.1 and the cumulative `None`), then
//! evaluation with the running statistics.

use ferrite::nn::{BatchNorm1d, BatchNorm2d, BatchNormOptions, BatchNormState, Module};
use ferrite::Tensor;
use serde_json::Value;

mod fixture_support;
use fixture_support::{fixture, tensor};

fn assert_close(what: &str, got: &Tensor, want: &Value) {
    let want = tensor(want);
    assert_eq!(got.numel(), want.numel(), "{what}: size");
    for (i, (a, b)) in got.to_vec().iter().zip(want.to_vec()).enumerate() {
        assert!(
            (a - b).abs() <= 2e-5 + 1e-4 * b.abs(),
            "{what}[{i}]: ferrite {a}, pytorch {b}"
        );
    }
}

fn state(m: &dyn Module, name: &str) -> Tensor {
    m.state_dict()
        .get(name)
        .unwrap_or_else(|| panic!("no {name}"))
        .clone()
}

fn check<M: Module>(name: &str, c: &Value, mut layer: M, st: fn(&M) -> &BatchNormState) {
    let affine = c["affine"].as_bool().unwrap();
    if affine {
        let s = st(&layer);
        s.weight.as_ref().unwrap().copy_(&tensor(&c["weight"]));
        s.bias.as_ref().unwrap().copy_(&tensor(&c["bias"]));
    }
    for (i, step) in c["train_steps"].as_array().unwrap().iter().enumerate() {
        layer.zero_grad();
        let x = tensor(&step["x"]).requires_grad();
        let y = layer.forward(&x);
        assert_close(&format!("{name} step {i} y"), &y, &step["y"]);
        (&y * &tensor(&step["r"])).sum().backward();
        assert_close(
            &format!("{name} step {i} dx"),
            &x.grad().unwrap(),
            &step["gx"],
        );
        assert_close(
            &format!("{name} step {i} running_mean"),
            &state(&layer, "running_mean"),
            &step["running_mean"],
        );
        assert_close(
            &format!("{name} step {i} running_var"),
            &state(&layer, "running_var"),
            &step["running_var"],
        );
        if affine {
            let s = st(&layer);
            assert_close(
                &format!("{name} step {i} dweight"),
                &s.weight.as_ref().unwrap().grad().unwrap(),
                &step["gw"],
            );
            assert_close(
                &format!("{name} step {i} dbias"),
                &s.bias.as_ref().unwrap().grad().unwrap(),
                &step["gb"],
            );
        }
    }
    layer.eval();
    let e = &c["eval"];
    let x = tensor(&e["x"]).requires_grad();
    let y = layer.forward(&x);
    assert_close(&format!("{name} eval y"), &y, &e["y"]);
    (&y * &tensor(&e["r"])).sum().backward();
    assert_close(&format!("{name} eval dx"), &x.grad().unwrap(), &e["gx"]);
}

fn options(c: &Value) -> BatchNormOptions {
    BatchNormOptions {
        momentum: c["momentum"].as_f64().map(|m| m as f32),
        affine: c["affine"].as_bool().unwrap(),
        ..Default::default()
    }
}

#[test]
fn batch_norm_training_steps_and_evaluation_match_pytorch() {
    let cases = fixture("conv_batchnorm_golden.json");
    for (name, c) in cases.as_object().unwrap() {
        let features = c["features"].as_u64().unwrap() as usize;
        if name.starts_with("bn2d") {
            check(
                name,
                c,
                BatchNorm2d::with_options(features, options(c)).unwrap(),
                |m| &m.state,
            );
        } else {
            check(
                name,
                c,
                BatchNorm1d::with_options(features, options(c)).unwrap(),
                |m| &m.state,
            );
        }
    }
}
