//! Every loss, option and reduction against PyTorch: values and the gradients of the input
//! (and of the target where PyTorch has one), from `tools/golden_losses.py`. Cases PyTorch
//! rejects must be rejected here too.

use ferrite::nn::functional as F;
use ferrite::nn::loss::{KLDivReduction, Reduction};
use ferrite::{Result, Tensor};
use serde_json::Value;
use std::collections::HashMap;

fn fixture() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/losses.json");
    let text =
        std::fs::read_to_string(path).expect("run tools/golden_losses.py to create the fixture");
    serde_json::from_str(&text).expect("valid JSON")
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number") as f32)
        .collect()
}

fn tensor(v: &Value) -> Tensor {
    let shape: Vec<usize> = v["shape"]
        .as_array()
        .expect("shape")
        .iter()
        .map(|d| d.as_u64().expect("dim") as usize)
        .collect();
    Tensor::from_vec(floats(&v["data"]), shape)
}

fn assert_close(what: &str, got: &Tensor, want: &Value, rtol: f32, atol: f32) {
    let want_t = tensor(want);
    assert_eq!(got.dims(), want_t.dims(), "{what}: shape");
    for (i, (g, w)) in got.to_vec().iter().zip(want_t.to_vec()).enumerate() {
        let ok = (g - w).abs() <= atol + rtol * w.abs() || (g.is_nan() && w.is_nan());
        assert!(ok, "{what}: element {i}: got {g}, PyTorch {w}");
    }
}

/// Runs the case's loss through Ferrite's function forms.
fn run(case: &Value, t: &HashMap<String, Tensor>) -> Result<Tensor> {
    let opts = &case["options"];
    let reduction_name = case["reduction"].as_str().expect("reduction");
    let weight = opts.get("weight").map(tensor);
    let f32_opt = |k: &str, default: f32| {
        opts.get(k)
            .and_then(Value::as_f64)
            .map_or(default, |v| v as f32)
    };
    let ignore_index = opts
        .get("ignore_index")
        .and_then(Value::as_i64)
        .unwrap_or(-100);
    let loss = case["loss"].as_str().expect("loss");
    if loss == "kl_div" {
        let reduction: KLDivReduction = reduction_name.parse()?;
        let log_target = opts["log_target"].as_bool().expect("log_target");
        return if log_target {
            F::kl_div_log_target(&t["input"], &t["target"], reduction)
        } else {
            F::kl_div(&t["input"], &t["target"], reduction)
        };
    }
    let r: Reduction = reduction_name.parse()?;
    match loss {
        "cross_entropy" => F::cross_entropy(
            &t["input"],
            &t["target"],
            weight.as_ref(),
            ignore_index,
            r,
            f32_opt("label_smoothing", 0.0),
        ),
        "nll_loss" => F::nll_loss(&t["input"], &t["target"], weight.as_ref(), ignore_index, r),
        "binary_cross_entropy" => {
            F::binary_cross_entropy(&t["input"], &t["target"], weight.as_ref(), r)
        }
        "binary_cross_entropy_with_logits" => {
            let pos_weight = opts.get("pos_weight").map(tensor);
            F::binary_cross_entropy_with_logits(
                &t["input"],
                &t["target"],
                weight.as_ref(),
                r,
                pos_weight.as_ref(),
            )
        }
        "soft_margin_loss" => F::soft_margin_loss(&t["input"], &t["target"], r),
        "l1_loss" => F::l1_loss(&t["input"], &t["target"], r),
        "mse_loss" => F::mse_loss(&t["input"], &t["target"], r),
        "smooth_l1_loss" => F::smooth_l1_loss(&t["input"], &t["target"], r, f32_opt("beta", 1.0)),
        "huber_loss" => F::huber_loss(&t["input"], &t["target"], r, f32_opt("delta", 1.0)),
        "cosine_embedding_loss" => {
            F::cosine_embedding_loss(&t["x1"], &t["x2"], &t["target"], f32_opt("margin", 0.0), r)
        }
        "margin_ranking_loss" => {
            F::margin_ranking_loss(&t["x1"], &t["x2"], &t["target"], f32_opt("margin", 0.0), r)
        }
        other => panic!("unknown loss {other} in the fixture"),
    }
}

#[test]
fn losses_match_pytorch() {
    let fx = fixture();
    let cases = fx["cases"].as_array().expect("cases");
    assert!(
        cases.len() > 100,
        "the fixture covers every loss, option and reduction"
    );
    let mut checked = HashMap::<String, usize>::new();
    for case in cases {
        let name = case["name"].as_str().expect("name");
        let grads = case.get("grads").and_then(Value::as_object);
        let tensors: HashMap<String, Tensor> = case["tensors"]
            .as_object()
            .expect("tensors")
            .iter()
            .map(|(k, v)| {
                let t = tensor(v);
                let t = if grads.is_some_and(|g| g.contains_key(k)) {
                    t.requires_grad()
                } else {
                    t
                };
                (k.clone(), t)
            })
            .collect();
        let result = run(case, &tensors);
        if let Some(err) = case.get("error") {
            assert!(
                result.is_err(),
                "{name}: PyTorch raises {err:?}, Ferrite returned {:?}",
                result.ok()
            );
            continue;
        }
        let out = result.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_close(&format!("{name}: value"), &out, &case["output"], 1e-4, 1e-5);
        if let Some(grads) = grads {
            match case.get("grad_output") {
                Some(g) => out.backward_with(&tensor(g)),
                None => out.backward(),
            }
            for (input, want) in grads {
                let got = tensors[input]
                    .grad()
                    .unwrap_or_else(|| panic!("{name}: no gradient for {input}"));
                assert_close(&format!("{name}: d/d{input}"), &got, want, 1e-4, 1e-5);
            }
        }
        *checked
            .entry(case["loss"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    for loss in [
        "cross_entropy",
        "nll_loss",
        "binary_cross_entropy",
        "binary_cross_entropy_with_logits",
        "soft_margin_loss",
        "l1_loss",
        "mse_loss",
        "smooth_l1_loss",
        "huber_loss",
        "cosine_embedding_loss",
        "margin_ranking_loss",
        "kl_div",
    ] {
        assert!(
            checked.get(loss).copied().unwrap_or(0) >= 3,
            "{loss} has golden cases"
        );
    }
}
