//! Memory: nothing of a graph outlives its backward. Counted with `live_tensors()`, which is
//! process-wide, so this binary holds a single test (tests of one binary run in parallel).
//!
//! The loop is the `tanh_mlp_sgd` case of `tools/golden_training.py`: its data, initial
//! parameters and the losses PyTorch computes along the way come from the fixture, so the
//! loop must also train exactly as PyTorch does.

use ferrite::tensor::live_tensors;
use ferrite::{no_grad, Tensor};

mod fixture_support;
use fixture_support::{fixture, tensor};

#[test]
fn thousands_of_training_steps_keep_the_tensor_count_flat() {
    let golden = fixture("training_golden.json");
    let case = &golden["tanh_mlp_sgd"];
    let (x, y) = (tensor(&case["x"]), tensor(&case["y"]));
    let params = ["w1", "b1", "w2", "b2"].map(|p| tensor(&case["params"][p]).requires_grad());
    let steps = case["steps"].as_u64().unwrap() as usize;
    assert_eq!((steps, case["lr"].as_f64()), (3000, Some(0.01)));
    // PyTorch's loss (in float64) of each recorded step, computed before the step's update.
    let mut expected: Vec<(usize, f64)> = case["losses"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(step, loss)| (step.parse().unwrap(), loss.as_f64().unwrap()))
        .collect();
    expected.sort_by_key(|&(step, _)| step);
    let step = || -> Tensor {
        let h = (&x.matmul(&params[0].t()) + &params[1]).tanh();
        let pred = &h.matmul(&params[2].t()) + &params[3];
        let loss = (&pred - &y).square().mean();
        loss.backward();
        let _g = no_grad();
        for p in &params {
            let g = p.grad().expect("every parameter gets a gradient");
            p.copy_(&(p - &(&g * 0.01)));
            p.zero_grad();
        }
        loss
    };
    let baseline = live_tensors();
    let first = {
        let loss = step();
        // Holding the loss after its backward keeps the loss alone alive: every intermediate
        // (activations, the graph's nodes, gradient buffers) is already gone.
        assert_eq!(
            live_tensors(),
            baseline + 1,
            "tensors alive beside the loss after backward"
        );
        loss.item()
    };
    let mut losses = vec![(1, first)];
    for i in 2..=steps {
        let loss = step().item();
        if expected.iter().any(|&(s, _)| s == i) {
            losses.push((i, loss));
        }
        if i % 500 == 0 {
            assert_eq!(live_tensors(), baseline, "tensor count grew by step {i}");
        }
    }
    assert_eq!(live_tensors(), baseline, "tensor count after {steps} steps");
    // The loop trained as PyTorch's does: 1.889 at step 1 down to 0.0187 at step 3000 (f32
    // rounding alone moves PyTorch's own float32 run by under 1e-6 of these).
    assert_eq!(losses.len(), expected.len(), "{losses:?}");
    for (&(step, got), &(_, want)) in losses.iter().zip(expected.iter()) {
        assert!(
            (got as f64 - want).abs() <= 1e-4 * want,
            "loss at step {step}: ferrite {got}, PyTorch {want}"
        );
    }
}
