//! The sequence layers [`RNN`], [`LSTM`] and [`GRU`].

use super::{CellActivation, CellKind, RecurrentConfig, RecurrentStack};
use crate::error::Result;
use crate::nn::Module;
use crate::Tensor;

/// A multi-layer Elman RNN: `h_t = act(x_t·W_ihᵀ + b_ih + h_{t−1}·W_hhᵀ + b_hh)`, with
/// `act` tanh (default) or relu (PyTorch's `nonlinearity`).
///
/// # Shape
///
/// With `L` the sequence length, `N` the batch, `H_in = input_size`, `H = hidden_size` and
/// `D` = 2 if bidirectional else 1:
/// - Input: `(L, N, H_in)`, `(N, L, H_in)` with `batch_first`, or unbatched `(L, H_in)`.
/// - Initial state `h0`: `(D·num_layers, N, H)` (never batch-first), or `(D·num_layers, H)`
///   unbatched; zeros when not given.
/// - Output: `(L, N, D·H)`, `(N, L, D·H)` with `batch_first`, or `(L, D·H)`: the last layer's
///   state at every step, both directions concatenated.
/// - Final state `h_n`: the shape of the initial state, the last step of every layer and
///   direction.
///
/// ```
/// use ferrite::nn::{Module, RecurrentConfig, RNN};
/// use ferrite::Tensor;
/// let rnn = RNN::new(RecurrentConfig::new(3, 5).batch_first(true)).unwrap();
/// let (out, h_n) = rnn.forward_with_state(&Tensor::randn([2, 7, 3]), None);
/// assert_eq!((out.dims(), h_n.dims()), (&[2, 7, 5][..], &[1, 2, 5][..]));
/// ```
pub struct RNN {
    stack: RecurrentStack,
}

impl RNN {
    /// A tanh RNN with fresh weights `U(±1/√H)`; zero sizes or layers, or a dropout outside
    /// `[0, 1]`, are errors naming the parameter.
    pub fn new(config: RecurrentConfig) -> Result<RNN> {
        RNN::with_nonlinearity(config, CellActivation::Tanh)
    }

    /// An RNN with the given nonlinearity (PyTorch's `nonlinearity='tanh' | 'relu'`).
    pub fn with_nonlinearity(config: RecurrentConfig, nonlinearity: CellActivation) -> Result<RNN> {
        Ok(RNN {
            stack: RecurrentStack::new(config, CellKind::Rnn(nonlinearity), "RNN")?,
        })
    }

    /// The options.
    pub fn config(&self) -> &RecurrentConfig {
        &self.stack.config
    }

    /// `(output, h_n)`: output `(N, T, D·H)` batch-first, else `(T, N, D·H)`; `h_n`
    /// `(D·num_layers, N, H)`. `h0` defaults to zeros.
    pub fn forward_with_state(&self, x: &Tensor, h0: Option<&Tensor>) -> (Tensor, Tensor) {
        let r = self.stack.forward("RNN", x, h0, None);
        (r.output, r.h_n)
    }
}

/// A multi-layer LSTM (gate order `i, f, g, o`, as PyTorch):
/// `c_t = σ(f)·c_{t−1} + σ(i)·act(g)`, `h_t = σ(o)·act(c_t)`, `act` tanh by default or relu
/// (Keras' `LSTM(50, activation='relu')`).
///
/// # Shape
///
/// With `L` the sequence length, `N` the batch, `H_in = input_size`, `H = hidden_size` and
/// `D` = 2 if bidirectional else 1:
/// - Input: `(L, N, H_in)`, `(N, L, H_in)` with `batch_first`, or unbatched `(L, H_in)`.
/// - Initial states `h0` and `c0`: `(D·num_layers, N, H)` (never batch-first), or `(D·num_layers, H)`
///   unbatched; zeros when not given.
/// - Output: `(L, N, D·H)`, `(N, L, D·H)` with `batch_first`, or `(L, D·H)`: the last layer's
///   state at every step, both directions concatenated.
/// - Final states `h_n` and `c_n`: the shape of the initial state, the last step of every layer and
///   direction.
///
/// ```
/// use ferrite::nn::{LSTM, Module, RecurrentConfig};
/// use ferrite::Tensor;
/// let lstm = LSTM::new(RecurrentConfig::new(1, 50).batch_first(true)).unwrap();
/// let (out, (h_n, c_n)) = lstm.forward_with_state(&Tensor::randn([32, 5, 1]), None);
/// assert_eq!(out.dims(), &[32, 5, 50]);
/// assert_eq!((h_n.dims(), c_n.dims()), (&[1, 32, 50][..], &[1, 32, 50][..]));
/// assert_eq!(lstm.named_parameters()[0].0, "weight_ih_l0");
/// assert_eq!(lstm.named_parameters()[0].1.dims(), &[200, 1]);
/// ```
pub struct LSTM {
    stack: RecurrentStack,
}

impl LSTM {
    /// An LSTM with tanh activations and fresh weights `U(±1/√H)`; zero sizes or layers, or
    /// a dropout outside `[0, 1]`, are errors naming the parameter.
    pub fn new(config: RecurrentConfig) -> Result<LSTM> {
        LSTM::with_activation(config, CellActivation::Tanh)
    }

    /// An LSTM whose candidate and cell-output activation is `activation` (gates stay σ).
    pub fn with_activation(config: RecurrentConfig, activation: CellActivation) -> Result<LSTM> {
        Ok(LSTM {
            stack: RecurrentStack::new(config, CellKind::Lstm(activation), "LSTM")?,
        })
    }

    /// The options.
    pub fn config(&self) -> &RecurrentConfig {
        &self.stack.config
    }

    /// `(output, (h_n, c_n))`: output `(N, T, D·H)` batch-first, else `(T, N, D·H)`; `h_n`,
    /// `c_n` `(D·num_layers, N, H)`. The initial state `(h0, c0)` defaults to zeros.
    pub fn forward_with_state(
        &self,
        x: &Tensor,
        state: Option<(&Tensor, &Tensor)>,
    ) -> (Tensor, (Tensor, Tensor)) {
        let r = self
            .stack
            .forward("LSTM", x, state.map(|s| s.0), state.map(|s| s.1));
        (r.output, (r.h_n, r.c_n.expect("an LSTM has a cell state")))
    }
}

/// A multi-layer GRU (gate order `r, z, n`, as PyTorch): `r = σ(W_ir x + b_ir + W_hr h + b_hr)`,
/// `z = σ(W_iz x + b_iz + W_hz h + b_hz)`, `n = tanh(W_in x + b_in + r·(W_hn h + b_hn))`,
/// `h' = (1 − z)·n + z·h`.
///
/// # Shape
///
/// With `L` the sequence length, `N` the batch, `H_in = input_size`, `H = hidden_size` and
/// `D` = 2 if bidirectional else 1:
/// - Input: `(L, N, H_in)`, `(N, L, H_in)` with `batch_first`, or unbatched `(L, H_in)`.
/// - Initial state `h0`: `(D·num_layers, N, H)` (never batch-first), or `(D·num_layers, H)`
///   unbatched; zeros when not given.
/// - Output: `(L, N, D·H)`, `(N, L, D·H)` with `batch_first`, or `(L, D·H)`: the last layer's
///   state at every step, both directions concatenated.
/// - Final state `h_n`: the shape of the initial state, the last step of every layer and
///   direction.
///
/// ```
/// use ferrite::nn::{GRU, Module, RecurrentConfig};
/// use ferrite::Tensor;
/// let gru = GRU::new(RecurrentConfig::new(4, 6).bidirectional(true)).unwrap();
/// let (out, h_n) = gru.forward_with_state(&Tensor::randn([9, 2, 4]), None);
/// assert_eq!((out.dims(), h_n.dims()), (&[9, 2, 12][..], &[2, 2, 6][..]));
/// ```
pub struct GRU {
    stack: RecurrentStack,
}

impl GRU {
    /// A GRU with fresh weights `U(±1/√H)`; zero sizes or layers, or a dropout outside
    /// `[0, 1]`, are errors naming the parameter.
    pub fn new(config: RecurrentConfig) -> Result<GRU> {
        Ok(GRU {
            stack: RecurrentStack::new(config, CellKind::Gru, "GRU")?,
        })
    }

    /// The options.
    pub fn config(&self) -> &RecurrentConfig {
        &self.stack.config
    }

    /// `(output, h_n)` as [`RNN::forward_with_state`].
    pub fn forward_with_state(&self, x: &Tensor, h0: Option<&Tensor>) -> (Tensor, Tensor) {
        let r = self.stack.forward("GRU", x, h0, None);
        (r.output, r.h_n)
    }
}

macro_rules! recurrent_module {
    ($t:ty, $name:literal) => {
        impl Module for $t {
            /// The output sequence (all time steps of the last layer), zero initial state.
            fn forward(&self, x: &Tensor) -> Tensor {
                self.stack.forward($name, x, None, None).output
            }
            fn named_parameters(&self) -> Vec<(String, Tensor)> {
                self.stack.named_parameters()
            }
            fn set_training(&mut self, training: bool) {
                self.stack.training = training;
            }
            fn is_training(&self) -> bool {
                self.stack.training
            }
            fn describe(&self) -> String {
                self.stack.describe($name)
            }
        }
    };
}
recurrent_module!(RNN, "RNN");
recurrent_module!(LSTM, "LSTM");
recurrent_module!(GRU, "GRU");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_names_and_shapes_follow_pytorch() {
        crate::manual_seed(0);
        let lstm = LSTM::new(RecurrentConfig::new(3, 4).num_layers(2).bidirectional(true)).unwrap();
        let got: Vec<(String, Vec<usize>)> = lstm
            .named_parameters()
            .into_iter()
            .map(|(n, t)| (n, t.dims().to_vec()))
            .collect();
        let want = [
            ("weight_ih_l0", vec![16, 3]),
            ("weight_hh_l0", vec![16, 4]),
            ("bias_ih_l0", vec![16]),
            ("bias_hh_l0", vec![16]),
            ("weight_ih_l0_reverse", vec![16, 3]),
            ("weight_hh_l0_reverse", vec![16, 4]),
            ("bias_ih_l0_reverse", vec![16]),
            ("bias_hh_l0_reverse", vec![16]),
            ("weight_ih_l1", vec![16, 8]),
            ("weight_hh_l1", vec![16, 4]),
            ("bias_ih_l1", vec![16]),
            ("bias_hh_l1", vec![16]),
            ("weight_ih_l1_reverse", vec![16, 8]),
            ("weight_hh_l1_reverse", vec![16, 4]),
            ("bias_ih_l1_reverse", vec![16]),
            ("bias_hh_l1_reverse", vec![16]),
        ];
        assert_eq!(got.len(), want.len());
        for ((n, d), (wn, wd)) in got.iter().zip(want.iter()) {
            assert_eq!((n.as_str(), d), (*wn, wd));
        }
        // U(±1/√H) = U(±0.5)
        assert!(lstm
            .parameters()
            .iter()
            .all(|p| p.to_vec().iter().all(|v| v.abs() <= 0.5)));
        let gru = GRU::new(RecurrentConfig::new(3, 4).bias(false)).unwrap();
        let names: Vec<String> = gru.named_parameters().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["weight_ih_l0", "weight_hh_l0"]);
        assert_eq!(gru.named_parameters()[0].1.dims(), &[12, 3]);
        assert_eq!(
            lstm.describe(),
            "LSTM(3, 4, num_layers=2, bidirectional=True)"
        );
    }

    /// Unbatched input gives the batched result without the batch dimension.
    #[test]
    fn unbatched_input_matches_a_batch_of_one() {
        crate::manual_seed(1);
        let lstm = LSTM::new(RecurrentConfig::new(2, 3).num_layers(2)).unwrap();
        let x = Tensor::randn([5, 2]);
        let (o1, (h1, c1)) = lstm.forward_with_state(&x, None);
        let (o2, (h2, c2)) = lstm.forward_with_state(&x.unsqueeze(1), None);
        assert_eq!(o1.dims(), &[5, 3]);
        assert_eq!(h1.dims(), &[2, 3]);
        assert_eq!(o1.to_vec(), o2.to_vec());
        assert_eq!(h1.to_vec(), h2.to_vec());
        assert_eq!(c1.to_vec(), c2.to_vec());
    }

    /// Dropout between layers acts in training only; with one layer it never acts.
    #[test]
    fn dropout_between_layers_only_in_training() {
        crate::manual_seed(2);
        let mut gru = GRU::new(RecurrentConfig::new(2, 8).num_layers(2).dropout(0.5)).unwrap();
        let x = Tensor::randn([4, 3, 2]);
        let a = gru.forward(&x).to_vec();
        let b = gru.forward(&x).to_vec();
        assert_ne!(a, b, "training-mode dropout should draw new masks");
        gru.eval();
        assert_eq!(gru.forward(&x).to_vec(), gru.forward(&x).to_vec());
        let single = RNN::new(RecurrentConfig::new(2, 8).dropout(0.5)).unwrap();
        assert_eq!(single.forward(&x).to_vec(), single.forward(&x).to_vec());
    }

    #[test]
    #[should_panic(expected = "input.size(-1) must be equal to input_size. Expected 3, got 2")]
    fn wrong_feature_count_panics_like_pytorch() {
        let rnn = RNN::new(RecurrentConfig::new(3, 4)).unwrap();
        rnn.forward(&Tensor::zeros([5, 1, 2]));
    }

    #[test]
    fn bad_configs_are_errors_naming_the_layer_the_parameter_and_the_value() {
        let msg = |e: Option<crate::FerriteError>| e.expect("an error").to_string();
        let e = msg(LSTM::new(RecurrentConfig::new(3, 0)).err());
        assert_eq!(e, "invalid LSTM hidden_size: must be at least 1, got 0");
        let e = msg(GRU::new(RecurrentConfig::new(3, 4).num_layers(0)).err());
        assert_eq!(e, "invalid GRU num_layers: must be at least 1, got 0");
        let e = msg(RNN::new(RecurrentConfig::new(0, 4)).err());
        assert_eq!(e, "invalid RNN input_size: must be at least 1, got 0");
        let e = msg(RNN::with_nonlinearity(
            RecurrentConfig::new(3, 4).dropout(1.5),
            CellActivation::Relu,
        )
        .err());
        assert!(
            e.starts_with("invalid RNN dropout: should be a number in range [0, 1]"),
            "{e}"
        );
        assert!(e.ends_with("got 1.5"), "{e}");
        assert!(LSTM::new(RecurrentConfig::new(3, 4).dropout(f32::NAN)).is_err());
        assert!(LSTM::new(RecurrentConfig::new(3, 4).num_layers(2).dropout(1.0)).is_ok());
    }
}
