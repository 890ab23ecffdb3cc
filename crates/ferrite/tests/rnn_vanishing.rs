//! Vanishing gradients, the course's point about plain RNNs: on a long-dependency toy task
//! (the target is the sign of the *first* input of a 60-step sequence, read off the last
//! hidden state) the gradient that reaches early time steps shrinks far faster through a
//! tanh RNN than through an LSTM, whose cell state carries it along the forget gate.
//!
//! Both networks have PyTorch's initialisation `U(±1/√H)`; the LSTM's forget-gate bias is
//! set to 1 (Keras' `unit_forget_bias`, Jozefowicz et al. 2015), the usual LSTM practice.
//! Run with `--nocapture` to see the per-step gradient norms.

use ferrite::nn::{Module, RecurrentConfig, LSTM, RNN};
use ferrite::{manual_seed, Generator, Tensor};

const STEPS: usize = 60;
const HIDDEN: usize = 32;
const BATCH: usize = 16;

/// The toy batch: `x_0 = ±1` carries the label, later steps are small noise.
fn toy_batch() -> (Tensor, Tensor) {
    let mut g = Generator::new(11);
    let mut x = Vec::with_capacity(BATCH * STEPS);
    let mut y = Vec::with_capacity(BATCH);
    for _ in 0..BATCH {
        let label = if g.uniform() < 0.5 { -1.0 } else { 1.0 };
        y.push(label);
        x.push(label);
        x.extend((1..STEPS).map(|_| 0.1 * g.normal()));
    }
    (
        Tensor::from_vec(x, [BATCH, STEPS, 1]),
        Tensor::from_vec(y, [BATCH, 1]),
    )
}

/// `‖∂L/∂x_t‖` for every time step `t`, where `L` is the squared error of a fixed linear
/// read-out of the last hidden state.
fn input_gradient_norms(output: impl Fn(&Tensor) -> Tensor) -> Vec<f32> {
    let (x, y) = toy_batch();
    let x = x.requires_grad();
    let out = output(&x); // (N, T, H)
    let last = out.narrow(1, STEPS - 1, 1).squeeze(1);
    let readout =
        Tensor::randn_with([HIDDEN, 1], &mut Generator::new(12)) * (1.0 / (HIDDEN as f32).sqrt());
    let loss = (&last.matmul(&readout) - &y).square().mean();
    loss.backward();
    let g = x
        .grad()
        .expect("input gradient")
        .reshape([BATCH, STEPS])
        .to_vec2();
    (0..STEPS)
        .map(|t| g.iter().map(|row| row[t] * row[t]).sum::<f32>().sqrt())
        .collect()
}

#[test]
fn tanh_rnn_gradient_vanishes_far_faster_than_lstm() {
    manual_seed(0);
    let rnn = RNN::new(RecurrentConfig::new(1, HIDDEN).batch_first(true)).unwrap();
    let lstm = LSTM::new(RecurrentConfig::new(1, HIDDEN).batch_first(true)).unwrap();
    // Forget-gate bias (rows H..2H of bias_ih) set to 1.
    let bias_ih = lstm
        .named_parameters()
        .into_iter()
        .find(|(n, _)| n == "bias_ih_l0")
        .unwrap()
        .1;
    bias_ih
        .narrow(0, HIDDEN, HIDDEN)
        .copy_(&ferrite::Tensor::ones([HIDDEN]));
    let rnn_norms = input_gradient_norms(|x| rnn.forward(x));
    let lstm_norms = input_gradient_norms(|x| lstm.forward(x));
    println!("step  |dL/dx_t| tanh RNN   |dL/dx_t| LSTM");
    for t in (0..STEPS).rev().step_by(5) {
        println!("{t:>4}  {:>16.3e}  {:>16.3e}", rnn_norms[t], lstm_norms[t]);
    }
    // How much of the last step's gradient survives back to step 0.
    let rnn_kept = rnn_norms[0] / rnn_norms[STEPS - 1];
    let lstm_kept = lstm_norms[0] / lstm_norms[STEPS - 1];
    println!(
        "kept from step {} to step 0: tanh RNN {rnn_kept:.3e}, LSTM {lstm_kept:.3e}",
        STEPS - 1
    );
    assert!(
        rnn_kept < 1e-6,
        "the tanh RNN's gradient should vanish over {STEPS} steps, kept {rnn_kept:e}"
    );
    assert!(
        lstm_kept > 1e3 * rnn_kept,
        "LSTM kept {lstm_kept:e}, RNN {rnn_kept:e}"
    );
    // The decay is steady for the RNN: every 10 steps back lose a large factor.
    for t in [10, 20, 30] {
        assert!(
            rnn_norms[t] < 0.2 * rnn_norms[t + 10],
            "RNN step {t}: {} vs {}",
            rnn_norms[t],
            rnn_norms[t + 10]
        );
    }
}
