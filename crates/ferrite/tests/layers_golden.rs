//! Layers against PyTorch: Linear values and gradients, activation modules (values, input
//! gradients, reprs), a Sequential MLP (names, state-dict order, parameter count, loading a
//! PyTorch state dict and matching its output), Flatten shapes and init gains.
//! Fixture: `tools/golden_layers.py`.

use ferrite::nn::init::{calculate_gain, Nonlinearity};
use ferrite::nn::*;
use ferrite::Tensor;
use serde_json::Value;

fn fixture() -> Value {
    let path = format!(
        "{}/tests/fixtures/layers_modules.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("json")
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

fn assert_close(got: &[f32], want: &[f32], tol: f32, what: &str) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= tol * (1.0 + w.abs()),
            "{what}[{i}]: ferrite {g}, pytorch {w}"
        );
    }
}

#[test]
fn linear_values_and_gradients() {
    let fx = fixture();
    let l = &fx["linear"];
    let fc = Linear::from_tensors(
        Tensor::from_vec(floats(&l["weight"]), [2, 3]),
        Some(Tensor::from_vec(floats(&l["bias"]), [2])),
    )
    .unwrap();
    let x = Tensor::from_vec(floats(&l["x"]), [4, 3]).requires_grad();
    let y = fc.forward(&x);
    assert_close(&y.to_vec(), &floats(&l["y"]), 1e-6, "y");
    (&y * &Tensor::from_vec(floats(&l["g"]), [4, 2]))
        .sum()
        .backward();
    assert_close(
        &x.grad().unwrap().to_vec(),
        &floats(&l["grad_x"]),
        1e-6,
        "grad x",
    );
    assert_close(
        &fc.weight.grad().unwrap().to_vec(),
        &floats(&l["grad_weight"]),
        1e-6,
        "grad weight",
    );
    assert_close(
        &fc.bias.as_ref().unwrap().grad().unwrap().to_vec(),
        &floats(&l["grad_bias"]),
        1e-6,
        "grad bias",
    );
}

#[test]
fn activation_modules_values_gradients_and_reprs() {
    let fx = fixture();
    let input = floats(&fx["input"]);
    let upstream = Tensor::from_vec(floats(&fx["upstream"]), [2, 5]);
    let modules: Vec<(&str, Box<dyn Module>)> = vec![
        ("Sigmoid", Box::new(Sigmoid)),
        ("Tanh", Box::new(Tanh)),
        ("ReLU", Box::new(ReLU)),
        ("LeakyReLU(0.2)", Box::new(LeakyReLU::new(0.2))),
        ("ELU(0.5)", Box::new(ELU::new(0.5))),
        ("GELU", Box::new(GELU::new())),
        ("GELU(tanh)", Box::new(GELU::tanh())),
        ("Softplus(2,5)", Box::new(Softplus::new(2.0, 5.0))),
        ("Softmax(1)", Box::new(Softmax::new(1))),
        ("LogSoftmax(0)", Box::new(LogSoftmax::new(0))),
    ];
    for (name, m) in modules {
        let want = &fx["activations"][name];
        let x = Tensor::from_vec(input.clone(), [2, 5]).requires_grad();
        let y = m.forward(&x);
        assert_close(
            &y.to_vec(),
            &floats(&want["y"]),
            1e-6,
            &format!("{name} value"),
        );
        (&y * &upstream).sum().backward();
        assert_close(
            &x.grad().unwrap().to_vec(),
            &floats(&want["grad"]),
            1e-5,
            &format!("{name} gradient"),
        );
        assert_eq!(m.describe(), want["repr"].as_str().unwrap(), "{name} repr");
    }
}

fn course_mlp(p: f32) -> Sequential {
    Sequential::new()
        .add(Flatten::new())
        .add(Linear::new(6, 5).unwrap())
        .add(ReLU)
        .add(Dropout::new(p).unwrap())
        .add(Linear::new(5, 4).unwrap())
        .add(Tanh)
        .add(Linear::new(4, 2).unwrap())
}

#[test]
fn sequential_names_counts_and_a_loaded_pytorch_state_dict() {
    let fx = fixture();
    let s = &fx["sequential"];
    let mut model = course_mlp(0.3);
    let entries = s["state_dict"].as_array().unwrap();
    let sd = model.state_dict();
    let names: Vec<&str> = entries.iter().map(|e| e[0].as_str().unwrap()).collect();
    assert_eq!(sd.keys(), names, "state-dict keys and order");
    assert_eq!(
        model.num_parameters() as u64,
        s["num_parameters"].as_u64().unwrap()
    );
    for (e, (_, t)) in entries.iter().zip(sd.iter()) {
        assert_eq!(t.dims(), dims(&e[1]).as_slice(), "{} shape", e[0]);
    }
    // Load PyTorch's weights and reproduce its eval-mode output.
    let torch_sd: StateDict = entries
        .iter()
        .map(|e| {
            (
                e[0].as_str().unwrap().to_string(),
                Tensor::from_vec(floats(&e[2]), dims(&e[1])),
            )
        })
        .collect();
    model.load_state_dict(&torch_sd).unwrap();
    model.eval();
    let x = Tensor::from_vec(floats(&s["x"]), dims(&s["x_shape"]));
    assert_close(
        &model.forward(&x).to_vec(),
        &floats(&s["y_eval"]),
        1e-5,
        "eval output",
    );
    // The state dict round-trips into a fresh model.
    let fresh = course_mlp(0.3);
    fresh.load_state_dict(&model.state_dict()).unwrap();
    let mut fresh = fresh;
    fresh.eval();
    assert_eq!(fresh.forward(&x).to_vec(), model.forward(&x).to_vec());
}

#[test]
fn load_state_dict_lists_missing_unexpected_and_mismatched_keys() {
    let model = course_mlp(0.0);
    let mut sd = model.state_dict();
    sd.insert("1.weight", Tensor::zeros([5, 7]));
    sd.insert("9.bias", Tensor::zeros([1]));
    let partial: StateDict = sd.into_iter().filter(|(n, _)| n != "6.bias").collect();
    let err = model.load_state_dict(&partial).unwrap_err();
    match &err {
        ferrite::FerriteError::StateDict {
            missing,
            unexpected,
            mismatched,
        } => {
            assert_eq!(missing, &["6.bias".to_string()]);
            assert_eq!(unexpected, &["9.bias".to_string()]);
            assert_eq!(
                mismatched,
                &[("1.weight".to_string(), vec![5, 7], vec![5, 6])]
            );
        }
        other => panic!("expected a state-dict error, got {other}"),
    }
    let text = err.to_string();
    assert!(
        text.contains("missing keys: 6.bias") && text.contains("unexpected keys: 9.bias"),
        "{text}"
    );
    assert!(
        text.contains("1.weight: [5, 7] in the state dict, [5, 6] in the model"),
        "{text}"
    );
    // Not strict: a wrong shape is still refused, missing and unexpected keys are skipped.
    assert!(model.load_state_dict_non_strict(&partial).is_err());
    let source = course_mlp(0.0);
    let first = &source.named_parameters()[0].1;
    first.copy_(&Tensor::full(first.dims(), 0.25));
    let mut loose: StateDict = source
        .state_dict()
        .into_iter()
        .filter(|(n, _)| n != "6.bias")
        .collect();
    loose.insert("9.bias", Tensor::zeros([1]));
    model.load_state_dict_non_strict(&loose).unwrap();
    assert!(model.named_parameters()[0]
        .1
        .to_vec()
        .iter()
        .all(|&v| v == 0.25));
}

#[test]
fn flatten_shapes_and_gains() {
    let fx = fixture();
    let input = dims(&fx["flatten"]["input"]);
    for case in fx["flatten"]["cases"].as_array().unwrap() {
        let (s, e) = (
            case[0].as_i64().unwrap() as isize,
            case[1].as_i64().unwrap() as isize,
        );
        let got = Flatten::with_dims(s, e).forward(&Tensor::zeros(input.clone()));
        assert_eq!(got.dims(), dims(&case[2]).as_slice(), "Flatten({s}, {e})");
    }
    let g = &fx["gains"];
    let want = |k: &str| g[k].as_f64().unwrap() as f32;
    assert_eq!(calculate_gain(Nonlinearity::Linear), want("linear"));
    assert_eq!(calculate_gain(Nonlinearity::Sigmoid), want("sigmoid"));
    assert!((calculate_gain(Nonlinearity::Tanh) - want("tanh")).abs() < 1e-7);
    assert!((calculate_gain(Nonlinearity::Relu) - want("relu")).abs() < 1e-7);
    assert!((calculate_gain(Nonlinearity::LeakyRelu(0.01)) - want("leaky_relu_0.01")).abs() < 1e-7);
    assert!((calculate_gain(Nonlinearity::LeakyRelu(0.2)) - want("leaky_relu_0.2")).abs() < 1e-7);
    assert_eq!(calculate_gain(Nonlinearity::Selu), want("selu"));
}

#[test]
fn dropout_in_a_model_trains_randomly_and_evaluates_deterministically() {
    ferrite::manual_seed(9);
    let mut model = Sequential::new()
        .add(Linear::new(8, 64).unwrap())
        .add(Dropout::new(0.5).unwrap());
    let x = Tensor::randn([4, 8]);
    let zeros = |t: &Tensor| t.to_vec().iter().filter(|&&v| v == 0.0).count();
    let train_out = model.forward(&x);
    assert!(
        zeros(&train_out) > 64,
        "about half of 256 outputs are dropped in training"
    );
    model.eval();
    let a = model.forward(&x).to_vec();
    assert_eq!(a, model.forward(&x).to_vec());
    assert_eq!(zeros(&model.forward(&x)), 0);
}
