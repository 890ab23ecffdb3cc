//! The course's worked backpropagation example (2-2-2 sigmoid network, E_total = Σ ½(t − o)²):
//! the published numbers, Ferrite's autograd on the same network, and the walkthrough text.
//! (Until #19 these were the library's tests/backprop_example.rs and explain.rs's unit tests.)

use super::*;
use ferrite::nn::{Linear, Module, Sigmoid};
use ferrite::optim::{Optimizer, SGDConfig, SGD};
use ferrite::Tensor;

#[test]
fn course_numbers_before_and_after_one_step() {
    let walk = backprop(&BackpropConfig::default()).unwrap();
    assert!(
        (walk.total_error - 0.298371109).abs() < 1e-9,
        "E_total {}",
        walk.total_error
    );
    assert!(
        (walk.updated_weights[4] - 0.35891648).abs() < 1e-8,
        "w5 {}",
        walk.updated_weights[4]
    );
    assert!(
        (walk.updated_weights[0] - 0.149780716).abs() < 1e-9,
        "w1 {}",
        walk.updated_weights[0]
    );
    // The rest of the course's table.
    let want = [
        0.149780716,
        0.19956143,
        0.24975114,
        0.29950229,
        0.35891648,
        0.408666186,
        0.511301270,
        0.561370121,
    ];
    for (n, (got, w)) in walk.updated_weights.iter().zip(want).enumerate() {
        assert!((got - w).abs() < 1e-8, "w{}: {got} vs {w}", n + 1);
    }
    assert!(
        (walk.outputs[0] - 0.75136507).abs() < 1e-8 && (walk.outputs[1] - 0.772928465).abs() < 1e-8
    );
    // The error after the step, recomputed independently from the course's rounded updated
    // weights: 0.2910277737. (The course's text prints 0.291027924, which neither its own
    // weights nor exact arithmetic reproduce.)
    assert!(
        (walk.total_error_after - 0.2910277737).abs() < 1e-9,
        "after {}",
        walk.total_error_after
    );
    assert!(walk.autograd_max_difference < 1e-6);
}

#[test]
fn the_walkthrough_shows_each_partial_derivative_in_textbook_order() {
    let text = backprop(&BackpropConfig::default()).unwrap().to_string();
    let order = [
        "net_h1 = w1·i1 + w2·i2 + b1 = 0.377500000",
        "out_h1 = 1 / (1 + e^−net_h1) = 0.593269992",
        "out_o1 = 1 / (1 + e^−net_o1) = 0.751365070",
        "E_total = E_o1 + E_o2 = 0.298371109",
        "∂E_total/∂out_o1 = −(target_o1 − out_o1) = 0.741365070",
        "∂out_o1/∂net_o1 = out_o1(1 − out_o1) = 0.186815602",
        "∂E_total/∂w5 = 0.082167041",
        "w5⁺ = w5 − η·∂E_total/∂w5 = 0.358916480",
        "∂E_o1/∂out_h1 = 0.055399425",
        // The course rounds this one to −0.019049119; exact arithmetic gives −0.0190491180.
        "∂E_o2/∂out_h1 = -0.019049118",
        "∂E_total/∂out_h1 = 0.036350306",
        "∂out_h1/∂net_h1 = out_h1(1 − out_h1) = 0.241300709",
        "∂E_total/∂w1 = 0.000438568",
        "w1⁺ = w1 − η·∂E_total/∂w1 = 0.149780716",
        "w8 = 0.55 → 0.561370121",
    ];
    let mut at = 0;
    for line in order {
        let found = text[at..]
            .find(line)
            .unwrap_or_else(|| panic!("missing or out of order: {line}\n{text}"));
        at += found + line.len();
    }
}

#[test]
fn the_same_step_with_layers_and_sgd_matches() {
    // Linear layers with the course's weights; the course keeps biases fixed, so they are
    // frozen here and only the weights are optimised.
    let hidden = Linear::from_tensors(
        Tensor::from_vec(vec![0.15, 0.20, 0.25, 0.30], [2, 2]),
        Some(Tensor::full([2], 0.35)),
    )
    .unwrap();
    let output = Linear::from_tensors(
        Tensor::from_vec(vec![0.40, 0.45, 0.50, 0.55], [2, 2]),
        Some(Tensor::full([2], 0.60)),
    )
    .unwrap();
    let mut opt = SGD::new(
        vec![hidden.weight.clone(), output.weight.clone()],
        SGDConfig {
            lr: 0.5,
            ..Default::default()
        },
    )
    .unwrap();
    let x = Tensor::from_vec(vec![0.05, 0.10], [1, 2]);
    let target = Tensor::from_vec(vec![0.01, 0.99], [1, 2]);
    let out = Sigmoid.forward(&output.forward(&Sigmoid.forward(&hidden.forward(&x))));
    let e_total = ((&target - &out).square() * 0.5).sum();
    assert!((e_total.item() as f64 - 0.298371109).abs() < 1e-6);
    e_total.backward();
    opt.step();
    assert!((output.weight.to_vec()[0] as f64 - 0.35891648).abs() < 1e-6);
    assert!((hidden.weight.to_vec()[0] as f64 - 0.149780716).abs() < 1e-6);
}

#[test]
fn other_numbers_and_bias_updates_agree_with_autograd() {
    let config = BackpropConfig {
        inputs: [1.0, -2.0],
        targets: [0.9, 0.1],
        weights: [0.3, -0.1, 0.8, 0.2, -0.5, 0.7, 0.05, -0.3],
        biases: [0.1, -0.2],
        lr: 0.1,
        update_biases: true,
    };
    let walk = backprop(&config).unwrap();
    assert!(walk.autograd_max_difference < 1e-6);
    assert!(
        walk.total_error_after < walk.total_error,
        "one step of gradient descent lowers the error"
    );
    assert_ne!(walk.updated_biases, config.biases);
    let bad = BackpropConfig {
        lr: f64::NAN,
        ..BackpropConfig::default()
    };
    assert!(backprop(&bad).unwrap_err().to_string().contains("finite"));
    let negative = BackpropConfig {
        lr: -1.0,
        ..BackpropConfig::default()
    };
    assert!(backprop(&negative).is_err());
}

#[test]
fn huge_finite_inputs_are_explained_in_double_precision() {
    // Once a panic: f32 autograd overflowed where the f64 chain rule did not.
    let config = BackpropConfig {
        inputs: [1e308, 1e308],
        ..BackpropConfig::default()
    };
    backprop(&config).expect("finite inputs that fit in f64 are explained");
}

#[test]
fn values_that_overflow_on_the_way_are_an_error_not_nan() {
    let config = BackpropConfig {
        inputs: [1e308, 1e308],
        weights: [1e308; 8],
        ..BackpropConfig::default()
    };
    let err = backprop(&config).expect_err("overflow is refused");
    assert!(err.to_string().contains("overflow"), "{err}");
}

#[test]
fn the_numbers_are_those_the_walkthrough_prints() {
    let walk = backprop(&BackpropConfig::default()).unwrap();
    assert_eq!(walk.config, BackpropConfig::default());
    // The course's values.
    assert!((walk.hidden_outputs[0] - 0.593269992).abs() < 1e-9);
    assert!((walk.weight_gradients[4] - 0.082167041).abs() < 1e-9);
    assert!((walk.weight_gradients[0] - 0.000438568).abs() < 1e-9);
    // Every other number as the text prints it.
    let text = walk.to_string();
    let printed = |line: &str, value: f64| {
        let want = format!("{line} = {value:.9}");
        assert!(text.contains(&want), "missing {want}\n{text}");
    };
    printed("out_h2 = 1 / (1 + e^−net_h2)", walk.hidden_outputs[1]);
    for (n, g) in walk.weight_gradients.iter().enumerate() {
        printed(&format!("    ∂E_total/∂w{}", n + 1), *g);
    }
    printed("∂E_total/∂b1 = δ_h1 + δ_h2", walk.bias_gradients[0]);
    printed("∂E_total/∂b2 = δ_o1 + δ_o2", walk.bias_gradients[1]);
}
