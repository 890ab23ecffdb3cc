//! RNN, LSTM and GRU against PyTorch (fixtures from `tools/golden_rnn.py`): with PyTorch's
//! parameters, input and initial states loaded, the output, the final states and the
//! gradients of every parameter, of the input and of the initial states must agree.

use ferrite::nn::{CellActivation, Module, RecurrentConfig, GRU, LSTM, RNN};
use ferrite::Tensor;
use serde_json::Value;

mod fixture_support;
use fixture_support::{fixture, tensor};

fn assert_close(what: &str, got: &Tensor, want: &Value) {
    let want = tensor(want);
    assert_eq!(got.dims(), want.dims(), "{what}: shape");
    let scale = want.to_vec().iter().fold(1.0f32, |m, v| m.max(v.abs()));
    for (i, (a, b)) in got.to_vec().iter().zip(want.to_vec()).enumerate() {
        assert!(
            (a - b).abs() <= 2e-5 * scale,
            "{what}[{i}]: ferrite {a} vs torch {b}"
        );
    }
}

enum Layer {
    Rnn(RNN),
    Lstm(LSTM),
    Gru(GRU),
}

fn run_case(name: &str, case: &Value) {
    let cfg = &case["config"];
    let flag = |k: &str| cfg[k].as_bool().unwrap();
    let size = |k: &str| cfg[k].as_u64().unwrap() as usize;
    let config = RecurrentConfig::new(size("input_size"), size("hidden_size"))
        .num_layers(size("num_layers"))
        .batch_first(flag("batch_first"))
        .bidirectional(flag("bidirectional"));
    let layer = match cfg["kind"].as_str().unwrap() {
        "lstm" => Layer::Lstm(LSTM::new(config).unwrap()),
        "gru" => Layer::Gru(GRU::new(config).unwrap()),
        _ => {
            let act = if cfg["nonlinearity"] == "relu" {
                CellActivation::Relu
            } else {
                CellActivation::Tanh
            };
            Layer::Rnn(RNN::with_nonlinearity(config, act).unwrap())
        }
    };
    let module: &dyn Module = match &layer {
        Layer::Rnn(m) => m,
        Layer::Lstm(m) => m,
        Layer::Gru(m) => m,
    };
    let params = module.named_parameters();
    assert_eq!(
        params.len(),
        case["params"].as_object().unwrap().len(),
        "{name}: parameter count"
    );
    for (pname, p) in &params {
        p.copy_(&tensor(&case["params"][pname]));
    }
    let x = tensor(&case["input"]).requires_grad();
    let with_state = flag("with_state");
    let h0 = with_state.then(|| tensor(&case["h0"]).requires_grad());
    let c0 = case.get("c0").map(|c| tensor(c).requires_grad());
    let (out, h_n, c_n) = match &layer {
        Layer::Lstm(m) => {
            let state = h0.as_ref().map(|h| (h, c0.as_ref().unwrap()));
            let (o, (h, c)) = m.forward_with_state(&x, state);
            (o, h, Some(c))
        }
        Layer::Gru(m) => {
            let (o, h) = m.forward_with_state(&x, h0.as_ref());
            (o, h, None)
        }
        Layer::Rnn(m) => {
            let (o, h) = m.forward_with_state(&x, h0.as_ref());
            (o, h, None)
        }
    };
    assert_close(&format!("{name} output"), &out, &case["output"]);
    assert_close(&format!("{name} h_n"), &h_n, &case["h_n"]);
    let mut loss = (&out * &tensor(&case["w_out"])).sum() + (&h_n * &tensor(&case["w_h"])).sum();
    if let Some(c) = &c_n {
        assert_close(&format!("{name} c_n"), c, &case["c_n"]);
        loss = loss + (c * &tensor(&case["w_c"])).sum();
    }
    loss.backward();
    for (pname, p) in &params {
        assert_close(
            &format!("{name} grad {pname}"),
            &p.grad().expect("parameter gradient"),
            &case["grads"][pname],
        );
    }
    assert_close(
        &format!("{name} grad input"),
        &x.grad().unwrap(),
        &case["grad_input"],
    );
    if let Some(h) = &h0 {
        assert_close(
            &format!("{name} grad h0"),
            &h.grad().unwrap(),
            &case["grad_h0"],
        );
    }
    if let Some(c) = &c0 {
        assert_close(
            &format!("{name} grad c0"),
            &c.grad().unwrap(),
            &case["grad_c0"],
        );
    }
}

fn run(prefix: &str) {
    let fx = fixture("rnn_golden.json");
    let cases = fx["cases"].as_object().unwrap();
    let mut n = 0;
    for (name, case) in cases.iter().filter(|(k, _)| k.starts_with(prefix)) {
        run_case(name, case);
        n += 1;
    }
    assert!(
        n >= 2,
        "expected at least two {prefix} cases in the fixture"
    );
}

#[test]
fn lstm_matches_pytorch() {
    run("lstm");
}

#[test]
fn gru_matches_pytorch() {
    run("gru");
}

#[test]
fn rnn_matches_pytorch() {
    run("rnn");
}
