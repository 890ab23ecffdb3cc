//! Recurrent layers with PyTorch's names, shapes and defaults: [`RNN`] (tanh or relu),
//! [`LSTM`] and [`GRU`] over whole sequences (stacked layers, bidirectional, dropout between
//! layers, optional initial states), and the single-step cells [`RNNCell`], [`LSTMCell`],
//! [`GRUCell`].
//!
//! Every layer direction runs as: the input projection of all time steps as one product
//! (`x·W_ihᵀ + b`), then one fused recurrent op (`Tensor::lstm_sequence` and friends) that does
//! one `h·W_hhᵀ` product per step and the gate arithmetic in one kernel, forward and backward.

mod cells;
mod layers;

pub use crate::tensor::CellActivation;
pub use cells::{GRUCell, GRUCellOptions, LSTMCell, LSTMCellOptions, RNNCell, RNNCellOptions};
pub use layers::{GRU, LSTM, RNN};

use super::init;
use crate::error::{FerriteError, Result};
use crate::Tensor;

/// The kind of recurrence a layer runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CellKind {
    /// `h' = act(W_ih x + b_ih + W_hh h + b_hh)`.
    Rnn(CellActivation),
    /// Gates `i, f, g, o`; the activation of `g` and of the cell output is selectable.
    Lstm(CellActivation),
    /// Gates `r, z, n`.
    Gru,
}

impl CellKind {
    /// Rows of `W_ih` per hidden unit.
    pub(crate) fn gates(self) -> usize {
        match self {
            CellKind::Rnn(_) => 1,
            CellKind::Lstm(_) => 4,
            CellKind::Gru => 3,
        }
    }
}

/// The options shared by [`RNN`], [`LSTM`] and [`GRU`], with PyTorch's defaults: one layer,
/// biases, time-major input `(T, N, features)`, no dropout, one direction.
///
/// ```
/// use ferrite::nn::RecurrentConfig;
/// let c = RecurrentConfig::new(1, 50).batch_first(true).num_layers(2);
/// assert_eq!((c.input_size, c.hidden_size, c.num_layers, c.batch_first), (1, 50, 2, true));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct RecurrentConfig {
    /// Features of each input time step.
    pub input_size: usize,
    /// Features of the hidden state.
    pub hidden_size: usize,
    /// Stacked layers; layer `k > 0` reads the output of layer `k − 1`.
    pub num_layers: usize,
    /// Whether the layers have `bias_ih` and `bias_hh`.
    pub bias: bool,
    /// Input and output are `(N, T, features)` instead of `(T, N, features)`; states are never
    /// batch-first.
    pub batch_first: bool,
    /// Dropout probability on the outputs of every layer but the last, in training mode only.
    pub dropout: f32,
    /// Run a second direction over the reversed sequence and concatenate the features.
    pub bidirectional: bool,
}

impl RecurrentConfig {
    /// PyTorch's defaults for the given sizes.
    pub fn new(input_size: usize, hidden_size: usize) -> Self {
        RecurrentConfig {
            input_size,
            hidden_size,
            num_layers: 1,
            bias: true,
            batch_first: false,
            dropout: 0.0,
            bidirectional: false,
        }
    }
    /// Sets the number of stacked layers.
    pub fn num_layers(mut self, n: usize) -> Self {
        self.num_layers = n;
        self
    }
    /// Sets whether the layers have biases.
    pub fn bias(mut self, on: bool) -> Self {
        self.bias = on;
        self
    }
    /// Sets batch-first input and output.
    pub fn batch_first(mut self, on: bool) -> Self {
        self.batch_first = on;
        self
    }
    /// Sets the dropout between layers.
    pub fn dropout(mut self, p: f32) -> Self {
        self.dropout = p;
        self
    }
    /// Sets bidirectional.
    pub fn bidirectional(mut self, on: bool) -> Self {
        self.bidirectional = on;
        self
    }
    /// Directions: 2 when bidirectional, else 1.
    pub fn directions(&self) -> usize {
        if self.bidirectional {
            2
        } else {
            1
        }
    }

    /// Checks the options, an error naming the layer (`name`), the parameter and its value.
    fn validate(&self, name: &str) -> Result<()> {
        let bad = |param: &str, message: String| {
            Err(FerriteError::invalid(format!("{name} {param}"), message))
        };
        if self.input_size == 0 {
            return bad("input_size", "must be at least 1, got 0".into());
        }
        if self.hidden_size == 0 {
            return bad("hidden_size", "must be at least 1, got 0".into());
        }
        if self.num_layers == 0 {
            return bad("num_layers", "must be at least 1, got 0".into());
        }
        // PyTorch's range: p = 1 is allowed (it zeroes what reaches the upper layers), as in
        // `Dropout`; NaN is not in the range.
        if !(0.0..=1.0).contains(&self.dropout) {
            return bad(
                "dropout",
                format!(
                    "should be a number in range [0, 1] representing the probability of an element being zeroed, got {}",
                    self.dropout
                ),
            );
        }
        Ok(())
    }
}

/// The weights of one direction of one layer.
pub(crate) struct DirectionWeights {
    pub(crate) weight_ih: Tensor,
    pub(crate) weight_hh: Tensor,
    pub(crate) bias_ih: Option<Tensor>,
    pub(crate) bias_hh: Option<Tensor>,
    /// `l{k}` or `l{k}_reverse`, appended to the parameter names.
    pub(crate) suffix: String,
}

impl DirectionWeights {
    /// Fresh weights `U(±1/√H)`, as PyTorch initialises every recurrent parameter.
    pub(crate) fn new(
        input: usize,
        hidden: usize,
        gates: usize,
        bias: bool,
        suffix: String,
    ) -> Self {
        let bound = 1.0 / (hidden as f32).sqrt();
        let param = |dims: Vec<usize>| {
            let t = Tensor::zeros(dims);
            init::uniform(&t, -bound, bound);
            t.requires_grad()
        };
        DirectionWeights {
            weight_ih: param(vec![gates * hidden, input]),
            weight_hh: param(vec![gates * hidden, hidden]),
            bias_ih: bias.then(|| param(vec![gates * hidden])),
            bias_hh: bias.then(|| param(vec![gates * hidden])),
            suffix,
        }
    }

    /// `(name, tensor)` in PyTorch's order: `weight_ih, weight_hh, bias_ih, bias_hh`.
    pub(crate) fn named(&self) -> Vec<(String, Tensor)> {
        let mut v = vec![
            (format!("weight_ih_{}", self.suffix), self.weight_ih.clone()),
            (format!("weight_hh_{}", self.suffix), self.weight_hh.clone()),
        ];
        if let (Some(bi), Some(bh)) = (&self.bias_ih, &self.bias_hh) {
            v.push((format!("bias_ih_{}", self.suffix), bi.clone()));
            v.push((format!("bias_hh_{}", self.suffix), bh.clone()));
        }
        v
    }

    /// `x·W_ihᵀ + b` for every time step at once (`x`: `(*, input)`), with `b = b_ih + b_hh`
    /// except for the GRU, whose `b_hh` enters inside the reset gate.
    pub(crate) fn input_projection(&self, x: &Tensor, kind: CellKind) -> Tensor {
        let bias = match (&self.bias_ih, &self.bias_hh, kind) {
            (Some(bi), _, CellKind::Gru) => Some(bi.clone()),
            (Some(bi), Some(bh), _) => Some(bi + bh),
            _ => None,
        };
        super::linear(x, &self.weight_ih, bias.as_ref())
    }

    /// One direction over a sequence from state `h0` (and `c0` for the LSTM), both `(N, H)`.
    pub(crate) fn run(
        &self,
        x: &Tensor,
        kind: CellKind,
        h0: &Tensor,
        c0: Option<&Tensor>,
        batch_first: bool,
        reverse: bool,
    ) -> crate::tensor::RecurrentOutput {
        let xproj = self.input_projection(x, kind);
        match kind {
            CellKind::Lstm(act) => {
                let c0 = c0.expect("lstm: the cell state is required");
                Tensor::lstm_sequence(&xproj, &self.weight_hh, h0, c0, batch_first, reverse, act)
            }
            CellKind::Gru => {
                let b_hh = match &self.bias_hh {
                    Some(b) => b.clone(),
                    None => Tensor::zeros([self.weight_hh.dims()[0]]),
                };
                Tensor::gru_sequence(&xproj, &self.weight_hh, &b_hh, h0, batch_first, reverse)
            }
            CellKind::Rnn(act) => {
                Tensor::rnn_sequence(&xproj, &self.weight_hh, h0, batch_first, reverse, act)
            }
        }
    }
}

/// A stack of recurrent layers: the shared engine of [`RNN`], [`LSTM`] and [`GRU`].
pub(crate) struct RecurrentStack {
    pub(crate) config: RecurrentConfig,
    pub(crate) kind: CellKind,
    /// Layer-major, then direction: `[l0, l0_reverse, l1, ...]`.
    pub(crate) weights: Vec<DirectionWeights>,
    pub(crate) training: bool,
}

/// The outputs of a recurrent stack.
pub(crate) struct StackOutput {
    pub(crate) output: Tensor,
    pub(crate) h_n: Tensor,
    pub(crate) c_n: Option<Tensor>,
}

impl RecurrentStack {
    pub(crate) fn new(config: RecurrentConfig, kind: CellKind, name: &str) -> Result<Self> {
        config.validate(name)?;
        let d = config.directions();
        let mut weights = Vec::new();
        for layer in 0..config.num_layers {
            let input = if layer == 0 {
                config.input_size
            } else {
                config.hidden_size * d
            };
            for dir in 0..d {
                let suffix = if dir == 0 {
                    format!("l{layer}")
                } else {
                    format!("l{layer}_reverse")
                };
                weights.push(DirectionWeights::new(
                    input,
                    config.hidden_size,
                    kind.gates(),
                    config.bias,
                    suffix,
                ));
            }
        }
        Ok(RecurrentStack {
            config,
            kind,
            weights,
            training: true,
        })
    }

    pub(crate) fn named_parameters(&self) -> Vec<(String, Tensor)> {
        self.weights.iter().flat_map(|w| w.named()).collect()
    }

    /// Runs all layers. `x`: `(N, T, I)` batch-first, `(T, N, I)` otherwise, or unbatched
    /// `(T, I)`; `h0`, `c0`: `(D·num_layers, N, H)` (or `(D·num_layers, H)` unbatched).
    pub(crate) fn forward(
        &self,
        name: &str,
        x: &Tensor,
        h0: Option<&Tensor>,
        c0: Option<&Tensor>,
    ) -> StackOutput {
        let cfg = &self.config;
        assert!(
            x.rank() == 2 || x.rank() == 3,
            "{name}: Expected input to be 2D or 3D, got {}D tensor of shape {:?}",
            x.rank(),
            x.dims()
        );
        let unbatched = x.rank() == 2;
        let batch_dim = if cfg.batch_first { 0 } else { 1 };
        let x = if unbatched {
            x.unsqueeze(batch_dim as isize)
        } else {
            x.clone()
        };
        let state =
            |s: Option<&Tensor>| s.map(|t| if unbatched { t.unsqueeze(1) } else { t.clone() });
        let (h0, c0) = (state(h0), state(c0));
        assert_eq!(
            x.dims()[2],
            cfg.input_size,
            "{name}: input.size(-1) must be equal to input_size. Expected {}, got {} (input shape {:?})",
            cfg.input_size,
            x.dims()[2],
            x.dims()
        );
        let batch = x.dims()[batch_dim];
        let d = cfg.directions();
        let state_dims = [d * cfg.num_layers, batch, cfg.hidden_size];
        for (s, what) in [(&h0, "hidden"), (&c0, "cell")] {
            if let Some(s) = s {
                assert_eq!(
                    s.dims(),
                    &state_dims,
                    "{name}: Expected {what} size {state_dims:?}, got {:?}",
                    s.dims()
                );
            }
        }
        let zeros = Tensor::zeros([batch, cfg.hidden_size]);
        let is_lstm = matches!(self.kind, CellKind::Lstm(_));
        let mut input = x;
        let (mut h_n, mut c_n) = (Vec::new(), Vec::new());
        for layer in 0..cfg.num_layers {
            let mut outs = Vec::with_capacity(d);
            for dir in 0..d {
                let k = layer * d + dir;
                let h_init = h0.as_ref().map_or_else(|| zeros.clone(), |h| h.get(k));
                let c_init =
                    is_lstm.then(|| c0.as_ref().map_or_else(|| zeros.clone(), |c| c.get(k)));
                let r = self.weights[k].run(
                    &input,
                    self.kind,
                    &h_init,
                    c_init.as_ref(),
                    cfg.batch_first,
                    dir == 1,
                );
                outs.push(r.output);
                h_n.push(r.h_n);
                c_n.extend(r.c_n);
            }
            let mut out = if d == 1 {
                outs.pop().expect("one direction")
            } else {
                Tensor::cat(&outs, 2)
            };
            if self.training && cfg.dropout > 0.0 && layer + 1 < cfg.num_layers {
                // Inverted dropout: keep with probability 1 − p and scale by 1/(1 − p).
                let p = cfg.dropout;
                let mask = if p >= 1.0 {
                    out.zeros_like()
                } else {
                    Tensor::rand(out.dims().to_vec())
                        .to(&out.device())
                        .ge_scalar(p)
                        * (1.0 / (1.0 - p))
                };
                out = &out * &mask;
            }
            input = out;
        }
        let stack = |v: Vec<Tensor>| {
            // One layer and direction: a view instead of a copy.
            let s = if v.len() == 1 {
                v[0].unsqueeze(0)
            } else {
                Tensor::stack(&v, 0)
            };
            if unbatched {
                s.squeeze(1)
            } else {
                s
            }
        };
        let output = if unbatched {
            input.squeeze(batch_dim as isize)
        } else {
            input
        };
        StackOutput {
            output,
            h_n: stack(h_n),
            c_n: is_lstm.then(|| stack(c_n)),
        }
    }

    pub(crate) fn describe(&self, name: &str) -> String {
        let c = &self.config;
        let mut s = format!("{name}({}, {}", c.input_size, c.hidden_size);
        if c.num_layers != 1 {
            s += &format!(", num_layers={}", c.num_layers);
        }
        if !c.bias {
            s += ", bias=False";
        }
        if c.batch_first {
            s += ", batch_first=True";
        }
        if c.dropout != 0.0 {
            s += &format!(", dropout={}", c.dropout);
        }
        if c.bidirectional {
            s += ", bidirectional=True";
        }
        s + ")"
    }
}
