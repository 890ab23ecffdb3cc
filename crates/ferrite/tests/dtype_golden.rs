//! Element types against PyTorch (`tools/golden_dtype.py`): the result type of every mixed
//! pair (with zero-dimensional operands), conversions between types, mixed-type arithmetic,
//! and the class-index losses with int64 targets.

use ferrite::nn::functional as F;
use ferrite::nn::loss::Reduction;
use ferrite::{DType, Tensor};
use serde_json::Value;

fn fixture() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/dtype_golden.json"
    );
    let text =
        std::fs::read_to_string(path).expect("run tools/golden_dtype.py to create the fixture");
    serde_json::from_str(&text).expect("valid JSON")
}

fn dtype(name: &Value) -> DType {
    let name = name.as_str().expect("dtype name");
    DType::ALL
        .into_iter()
        .find(|d| d.name() == name)
        .unwrap_or_else(|| panic!("unknown dtype {name}"))
}

fn numbers(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().unwrap_or(f64::INFINITY))
        .collect()
}

/// A tensor of `dtype` holding `values` (exact in that type), 0-dimensional if asked.
fn tensor(values: &[f64], dtype: DType, zero_dim: bool) -> Tensor {
    let t = Tensor::from_f64(values.to_vec(), [values.len()]).to_dtype(dtype);
    if zero_dim {
        t.reshape(())
    } else {
        t
    }
}

#[test]
fn promotion_matches_torch_result_type_for_every_pair() {
    let f = fixture();
    let cases = f["promotion"].as_array().expect("cases");
    assert_eq!(cases.len(), 6 * 6 * 4);
    for c in cases {
        let a = (dtype(&c["a"]), c["a_zero_dim"].as_bool().unwrap());
        let b = (dtype(&c["b"]), c["b_zero_dim"].as_bool().unwrap());
        let want = dtype(&c["result"]);
        assert_eq!(DType::result_type(a, b), want, "{a:?} with {b:?}");
        // And an op on tensors of those types produces it (booleans added are PyTorch's
        // logical or, computed here in f32 and converted back).
        let x = tensor(&[1.0], a.0, a.1);
        let y = tensor(&[1.0], b.0, b.1);
        assert_eq!((&x + &y).dtype(), want, "{a:?} + {b:?}");
    }
}

#[test]
fn conversions_round_and_truncate_as_torch() {
    let f = fixture();
    let c = &f["conversions"];
    let x = Tensor::from_f64(
        numbers(&c["values"]),
        [c["values"].as_array().unwrap().len()],
    );
    for (name, d) in [
        ("float32", DType::F32),
        ("float16", DType::F16),
        ("bfloat16", DType::BF16),
    ] {
        let got = x.to_dtype(d).to_vec_f64();
        let want = numbers(&c[name]);
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            // serde_json parses decimals to within an ulp of f64: far below any f16/bf16/f32
            // spacing, so this still tells every rounding apart.
            assert!(
                (g - w).abs() <= w.abs() * 1e-15 || (w.is_infinite() && g.is_infinite()),
                "{name}[{i}]: {g} vs {w}"
            );
        }
    }
    let from = numbers(&c["int64_from"]);
    let small = Tensor::from_f64(from.clone(), [from.len()]).to_dtype(DType::F32);
    let want: Vec<i64> = c["int64"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    assert_eq!(small.to_dtype(DType::I64).to_vec_i64(), want);
    let want_bool: Vec<f32> = c["bool"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_bool().unwrap() as u8 as f32)
        .collect();
    assert_eq!(small.to_dtype(DType::Bool).to_vec(), want_bool);
}

#[test]
fn mixed_arithmetic_has_torch_types_and_values() {
    let f = fixture();
    for c in f["arithmetic"].as_array().unwrap() {
        let a = tensor(
            &numbers(&c["a"]),
            dtype(&c["a_dtype"]),
            c["a_zero_dim"].as_bool().unwrap(),
        );
        let b = tensor(
            &numbers(&c["b"]),
            dtype(&c["b_dtype"]),
            c["b_zero_dim"].as_bool().unwrap(),
        );
        let r = if c["op"] == "mul" { &a * &b } else { &a + &b };
        let label = c["label"].as_str().unwrap();
        assert_eq!(r.dtype(), dtype(&c["result_dtype"]), "{label}");
        assert_eq!(r.to_vec_f64(), numbers(&c["result"]), "{label}");
    }
}

#[test]
fn class_losses_take_int64_targets_with_torch_values_and_gradients() {
    let f = fixture();
    let cases = f["int64_targets"].as_array().unwrap();
    assert_eq!(cases.len(), 6);
    for c in cases {
        let shape: Vec<usize> = c["input_shape"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        let input: Vec<f32> = numbers(&c["input"]).iter().map(|&v| v as f32).collect();
        let x = Tensor::from_vec(input, shape).requires_grad();
        let targets: Vec<i64> = c["target"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_i64().unwrap())
            .collect();
        let n = targets.len();
        let t = Tensor::from_i64(targets, [n]);
        assert_eq!(t.dtype(), DType::I64);
        let reduction = match c["reduction"].as_str().unwrap() {
            "mean" => Reduction::Mean,
            "sum" => Reduction::Sum,
            _ => Reduction::None,
        };
        let out = if c["loss"] == "cross_entropy" {
            F::cross_entropy(&x, &t, None, -100, reduction, 0.0)
        } else {
            F::nll_loss(&x, &t, None, -100, reduction)
        }
        .expect("int64 targets are class indices");
        let label = format!("{} {:?}", c["loss"], reduction);
        let close = |got: Vec<f32>, want: Vec<f64>, what: &str| {
            assert_eq!(got.len(), want.len(), "{label} {what}");
            for (g, w) in got.iter().zip(&want) {
                assert!((*g as f64 - w).abs() < 1e-6, "{label} {what}: {g} vs {w}");
            }
        };
        close(out.to_vec(), numbers(&c["output"]), "output");
        out.backward_with(&out.ones_like());
        close(
            x.grad().unwrap().to_vec(),
            numbers(&c["grad_input"]),
            "grad",
        );
    }
}

#[test]
fn int64_probability_targets_are_refused() {
    let x = Tensor::zeros([2, 3]);
    let t = Tensor::from_i64(vec![0; 6], [2, 3]);
    let err = F::cross_entropy(&x, &t, None, -100, Reduction::Mean, 0.0)
        .expect_err("int64 probabilities");
    assert!(err.to_string().contains("must be floating point"), "{err}");
}
