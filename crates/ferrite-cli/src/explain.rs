//! Worked explanations (`ferrite explain`): the course's backpropagation example, step by step.
//!
//! [`backprop`] trains a 2-2-2 sigmoid network for one step on `E_total = Σ ½(target − out)²`
//! and writes the walkthrough a textbook gives: the forward pass, every partial derivative of
//! the chain rule with its value, and the updated weights. Every gradient is computed twice,
//! by the explicit chain rule (in f64) and by Ferrite's autograd, and the two must agree.
//!
//! It lives beside the built-in examples rather than in the library: it is course material
//! that uses only the library's public API (tensors and autograd), not a building block.
//!
//! ```text
//! let walk = backprop(&BackpropConfig::default())?;
//! walk.total_error          // 0.298371109
//! walk.updated_weights[4]   // w5 after the step: 0.35891648
//! walk.to_string()          // the walkthrough, with "∂E_total/∂w5" and every other factor
//! ```

use ferrite::{FerriteError, Result, Tensor};
use std::fmt::{self, Write};

/// The network and training step to explain. The default is the course's example: inputs
/// 0.05, 0.10; targets 0.01, 0.99; w1..w8 = 0.15, 0.20, 0.25, 0.30, 0.40, 0.45, 0.50, 0.55;
/// biases 0.35 (hidden) and 0.60 (output); learning rate 0.5.
///
/// Weights are numbered as in the course: `w1, w2` feed `h1` from `i1, i2`; `w3, w4` feed
/// `h2`; `w5, w6` feed `o1` from `h1, h2`; `w7, w8` feed `o2`. Each layer has one bias shared
/// by its neurons.
#[derive(Clone, Debug, PartialEq)]
pub struct BackpropConfig {
    /// `i1, i2`.
    pub inputs: [f64; 2],
    /// `target_o1, target_o2`.
    pub targets: [f64; 2],
    /// `w1 ..= w8`.
    pub weights: [f64; 8],
    /// `b1` (hidden layer), `b2` (output layer).
    pub biases: [f64; 2],
    /// Learning rate η.
    pub lr: f64,
    /// Also update the biases (the course keeps them fixed).
    pub update_biases: bool,
}

impl Default for BackpropConfig {
    fn default() -> Self {
        BackpropConfig {
            inputs: [0.05, 0.10],
            targets: [0.01, 0.99],
            weights: [0.15, 0.20, 0.25, 0.30, 0.40, 0.45, 0.50, 0.55],
            biases: [0.35, 0.60],
            lr: 0.5,
            update_biases: false,
        }
    }
}

/// The numbers of one explained training step; `Display` prints the walkthrough.
// The command line prints only the text; the numbers are what the tests check the text against.
#[cfg_attr(not(test), allow(dead_code))]
#[derive(Clone, Debug)]
pub struct BackpropWalkthrough {
    /// The configuration explained.
    pub config: BackpropConfig,
    /// `out_h1, out_h2`.
    pub hidden_outputs: [f64; 2],
    /// `out_o1, out_o2`.
    pub outputs: [f64; 2],
    /// `E_total` before the update.
    pub total_error: f64,
    /// `∂E_total/∂w1 ..= ∂E_total/∂w8`.
    pub weight_gradients: [f64; 8],
    /// `∂E_total/∂b1, ∂E_total/∂b2`.
    pub bias_gradients: [f64; 2],
    /// `w1 ..= w8` after the step.
    pub updated_weights: [f64; 8],
    /// `b1, b2` after the step (unchanged unless `update_biases`).
    pub updated_biases: [f64; 2],
    /// `E_total` of the updated network on the same example.
    pub total_error_after: f64,
    /// The largest difference between a chain-rule gradient and Ferrite's autograd.
    pub autograd_max_difference: f64,
    text: String,
}

impl fmt::Display for BackpropWalkthrough {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// The forward pass in f64: `(net_h, out_h, net_o, out_o)`.
fn forward(i: &[f64; 2], w: &[f64; 8], b: &[f64; 2]) -> ([f64; 2], [f64; 2], [f64; 2], [f64; 2]) {
    let net_h = [
        w[0] * i[0] + w[1] * i[1] + b[0],
        w[2] * i[0] + w[3] * i[1] + b[0],
    ];
    let out_h = net_h.map(sigmoid);
    let net_o = [
        w[4] * out_h[0] + w[5] * out_h[1] + b[1],
        w[6] * out_h[0] + w[7] * out_h[1] + b[1],
    ];
    (net_h, out_h, net_o, net_o.map(sigmoid))
}

fn total_error(out: &[f64; 2], t: &[f64; 2]) -> f64 {
    (0..2).map(|k| 0.5 * (t[k] - out[k]).powi(2)).sum()
}

/// The same gradients from Ferrite's autograd (f32): `[∂w1..∂w8, ∂b1, ∂b2]`.
fn autograd_gradients(c: &BackpropConfig) -> [f64; 10] {
    // In f64, the precision of the chain-rule walkthrough, so that any finite input agrees.
    let x = Tensor::from_f64(c.inputs.to_vec(), [2]);
    let target = Tensor::from_f64(c.targets.to_vec(), [2]);
    let w1 = Tensor::from_f64(c.weights[..4].to_vec(), [2, 2]).requires_grad();
    let w2 = Tensor::from_f64(c.weights[4..].to_vec(), [2, 2]).requires_grad();
    let b1 = Tensor::from_f64(vec![c.biases[0]], ()).requires_grad();
    let b2 = Tensor::from_f64(vec![c.biases[1]], ()).requires_grad();
    let out_h = (&w1.matmul(&x) + &b1).sigmoid();
    let out_o = (&w2.matmul(&out_h) + &b2).sigmoid();
    let e_total = ((&target - &out_o).square() * 0.5).sum();
    e_total.backward();
    let mut g = [0.0; 10];
    let grads: Vec<f64> = [&w1, &w2, &b1, &b2]
        .iter()
        .flat_map(|t| t.grad().expect("gradient").to_vec_f64())
        .collect();
    g.copy_from_slice(&grads);
    g
}

/// Explains one training step of the 2-2-2 sigmoid network. Non-finite numbers or a
/// negative learning rate are an error.
// Neurons are numbered j (hidden), k (output), m (input) as in the text; index loops read
// like the formulas they print.
#[allow(clippy::needless_range_loop)]
pub fn backprop(config: &BackpropConfig) -> Result<BackpropWalkthrough> {
    let c = config;
    let all = c
        .inputs
        .iter()
        .chain(&c.targets)
        .chain(&c.weights)
        .chain(&c.biases)
        .chain([&c.lr]);
    if let Some(bad) = all.clone().find(|v| !v.is_finite()) {
        return Err(FerriteError::invalid(
            "backprop example",
            format!("every number must be finite, got {bad}"),
        ));
    }
    if c.lr < 0.0 {
        return Err(FerriteError::invalid(
            "learning rate",
            format!("must be at least 0, got {}", c.lr),
        ));
    }
    let (i, t, w, b) = (&c.inputs, &c.targets, &c.weights, &c.biases);
    let (net_h, out_h, net_o, out_o) = forward(i, w, b);
    let e = [
        0.5 * (t[0] - out_o[0]).powi(2),
        0.5 * (t[1] - out_o[1]).powi(2),
    ];
    let e_total = e[0] + e[1];

    // Output layer: δ_o = ∂E/∂out_o · ∂out_o/∂net_o
    let de_dout_o = [-(t[0] - out_o[0]), -(t[1] - out_o[1])];
    let dout_dnet_o = out_o.map(|o| o * (1.0 - o));
    let delta_o = [de_dout_o[0] * dout_dnet_o[0], de_dout_o[1] * dout_dnet_o[1]];
    let mut grads = [0.0; 8];
    for k in 0..2 {
        for j in 0..2 {
            grads[4 + 2 * k + j] = delta_o[k] * out_h[j];
        }
    }
    // Hidden layer: ∂E/∂out_h_j = Σ_k δ_o_k · w(h_j → o_k)
    let de_dout_h = [
        delta_o[0] * w[4] + delta_o[1] * w[6],
        delta_o[0] * w[5] + delta_o[1] * w[7],
    ];
    let dout_dnet_h = out_h.map(|h| h * (1.0 - h));
    let delta_h = [de_dout_h[0] * dout_dnet_h[0], de_dout_h[1] * dout_dnet_h[1]];
    for j in 0..2 {
        for m in 0..2 {
            grads[2 * j + m] = delta_h[j] * i[m];
        }
    }
    let bias_grads = [delta_h[0] + delta_h[1], delta_o[0] + delta_o[1]];
    let updated: [f64; 8] = std::array::from_fn(|n| w[n] - c.lr * grads[n]);
    let updated_b = if c.update_biases {
        [b[0] - c.lr * bias_grads[0], b[1] - c.lr * bias_grads[1]]
    } else {
        *b
    };
    let e_after = total_error(&forward(i, &updated, &updated_b).3, t);

    let explicit: Vec<f64> = grads.iter().chain(&bias_grads).copied().collect();
    // Finite inputs can still overflow f64 on the way (1e308 · 2): say so, not NaN.
    if let Some(n) = [net_h[0], net_h[1], net_o[0], net_o[1], e_total]
        .iter()
        .chain(&explicit)
        .chain(&updated)
        .position(|v| !v.is_finite())
    {
        return Err(FerriteError::invalid(
            "backprop example",
            format!(
                "the numbers overflow double precision on the way (intermediate value {n} is not finite): use inputs, weights and targets of moderate size"
            ),
        ));
    }
    // The same gradients by Ferrite's autograd (in f64) must agree.
    let auto = autograd_gradients(c);
    let mut max_diff = 0.0f64;
    for (n, (a, x)) in auto.iter().zip(&explicit).enumerate() {
        let diff = (a - x).abs();
        assert!(
            diff <= 1e-6 + 1e-4 * x.abs(),
            "explain::backprop: autograd and the chain rule disagree on gradient {n}: {a} vs {x}"
        );
        max_diff = max_diff.max(diff);
    }

    let mut s = String::new();
    let v = |x: f64| format!("{x:.9}");
    let _ = writeln!(
        s,
        "Backpropagation, one step, on a 2-2-2 network with logistic (sigmoid) neurons"
    );
    let _ = writeln!(
        s,
        "  inputs  i1 = {}, i2 = {}; targets {}, {}",
        i[0], i[1], t[0], t[1]
    );
    let _ = writeln!(
        s,
        "  input → hidden  w1 = {}, w2 = {}, w3 = {}, w4 = {}, b1 = {}",
        w[0], w[1], w[2], w[3], b[0]
    );
    let _ = writeln!(
        s,
        "  hidden → output w5 = {}, w6 = {}, w7 = {}, w8 = {}, b2 = {}",
        w[4], w[5], w[6], w[7], b[1]
    );
    let _ = writeln!(
        s,
        "  learning rate η = {}; error E_total = Σ ½(target − out)²",
        c.lr
    );
    let _ = writeln!(s, "\n1. Forward pass");
    for j in 0..2 {
        let h = j + 1;
        let (wa, wb) = (2 * j + 1, 2 * j + 2);
        let _ = writeln!(s, "  net_h{h} = w{wa}·i1 + w{wb}·i2 + b1 = {}", v(net_h[j]));
        let _ = writeln!(s, "  out_h{h} = 1 / (1 + e^−net_h{h}) = {}", v(out_h[j]));
    }
    for k in 0..2 {
        let o = k + 1;
        let (wa, wb) = (2 * k + 5, 2 * k + 6);
        let _ = writeln!(
            s,
            "  net_o{o} = w{wa}·out_h1 + w{wb}·out_h2 + b2 = {}",
            v(net_o[k])
        );
        let _ = writeln!(s, "  out_o{o} = 1 / (1 + e^−net_o{o}) = {}", v(out_o[k]));
    }
    for k in 0..2 {
        let o = k + 1;
        let _ = writeln!(s, "  E_o{o} = ½(target_o{o} − out_o{o})² = {}", v(e[k]));
    }
    let _ = writeln!(s, "  E_total = E_o1 + E_o2 = {}", v(e_total));

    let _ = writeln!(s, "\n2. Backward pass, output layer (w5 … w8)");
    for k in 0..2 {
        for j in 0..2 {
            let (n, o, h) = (4 + 2 * k + j, k + 1, j + 1);
            let wn = n + 1;
            let _ = writeln!(
                s,
                "  ∂E_total/∂w{wn} = ∂E_total/∂out_o{o} · ∂out_o{o}/∂net_o{o} · ∂net_o{o}/∂w{wn}"
            );
            let _ = writeln!(
                s,
                "    ∂E_total/∂out_o{o} = −(target_o{o} − out_o{o}) = {}",
                v(de_dout_o[k])
            );
            let _ = writeln!(
                s,
                "    ∂out_o{o}/∂net_o{o} = out_o{o}(1 − out_o{o}) = {}",
                v(dout_dnet_o[k])
            );
            let _ = writeln!(s, "    ∂net_o{o}/∂w{wn} = out_h{h} = {}", v(out_h[j]));
            let _ = writeln!(s, "    ∂E_total/∂w{wn} = {}", v(grads[n]));
            let _ = writeln!(
                s,
                "    w{wn}⁺ = w{wn} − η·∂E_total/∂w{wn} = {}",
                v(updated[n])
            );
        }
    }

    let _ = writeln!(
        s,
        "\n3. Backward pass, hidden layer (w1 … w4), with the old w5 … w8"
    );
    for k in 0..2 {
        let o = k + 1;
        let _ = writeln!(
            s,
            "  δ_o{o} = ∂E_o{o}/∂net_o{o} = ∂E_o{o}/∂out_o{o} · ∂out_o{o}/∂net_o{o} = {}",
            v(delta_o[k])
        );
    }
    for j in 0..2 {
        let h = j + 1;
        let (w_o1, w_o2) = (5 + j, 7 + j);
        let _ = writeln!(s, "  ∂E_total/∂out_h{h} = ∂E_o1/∂out_h{h} + ∂E_o2/∂out_h{h} = δ_o1·w{w_o1} + δ_o2·w{w_o2}");
        let _ = writeln!(s, "    ∂E_o1/∂out_h{h} = {}", v(delta_o[0] * w[4 + j]));
        let _ = writeln!(s, "    ∂E_o2/∂out_h{h} = {}", v(delta_o[1] * w[6 + j]));
        let _ = writeln!(s, "    ∂E_total/∂out_h{h} = {}", v(de_dout_h[j]));
        let _ = writeln!(
            s,
            "  ∂out_h{h}/∂net_h{h} = out_h{h}(1 − out_h{h}) = {}",
            v(dout_dnet_h[j])
        );
        for m in 0..2 {
            let n = 2 * j + m;
            let wn = n + 1;
            let _ = writeln!(
                s,
                "  ∂E_total/∂w{wn} = ∂E_total/∂out_h{h} · ∂out_h{h}/∂net_h{h} · ∂net_h{h}/∂w{wn}"
            );
            let _ = writeln!(s, "    ∂net_h{h}/∂w{wn} = i{} = {}", m + 1, i[m]);
            let _ = writeln!(s, "    ∂E_total/∂w{wn} = {}", v(grads[n]));
            let _ = writeln!(
                s,
                "    w{wn}⁺ = w{wn} − η·∂E_total/∂w{wn} = {}",
                v(updated[n])
            );
        }
    }

    let _ = writeln!(s, "\n4. Biases");
    let _ = writeln!(s, "  ∂E_total/∂b1 = δ_h1 + δ_h2 = {}", v(bias_grads[0]));
    let _ = writeln!(s, "  ∂E_total/∂b2 = δ_o1 + δ_o2 = {}", v(bias_grads[1]));
    if c.update_biases {
        let _ = writeln!(s, "  b1⁺ = {}, b2⁺ = {}", v(updated_b[0]), v(updated_b[1]));
    } else {
        let _ = writeln!(s, "  (kept fixed, as in the course's example)");
    }

    let _ = writeln!(s, "\n5. Updated weights");
    for (n, (old, new)) in w.iter().zip(&updated).enumerate() {
        let _ = writeln!(s, "  w{} = {} → {}", n + 1, old, v(*new));
    }
    let _ = writeln!(
        s,
        "  E_total before: {}, after one step: {}",
        v(e_total),
        v(e_after)
    );
    let _ = writeln!(
        s,
        "\nCheck: Ferrite's autograd gives the same 10 gradients (largest difference {max_diff:.1e})."
    );

    Ok(BackpropWalkthrough {
        config: c.clone(),
        hidden_outputs: out_h,
        outputs: out_o,
        total_error: e_total,
        weight_gradients: grads,
        bias_gradients: bias_grads,
        updated_weights: updated,
        updated_biases: updated_b,
        total_error_after: e_after,
        autograd_max_difference: max_diff,
        text: s,
    })
}

#[cfg(test)]
mod tests;
