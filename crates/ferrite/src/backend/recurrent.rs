//! Recurrent sequences: one direction of an LSTM, GRU or Elman RNN layer over a whole
//! sequence, forward and backward (through time). Each `Storage` method dispatches to the
//! backend that holds the data.
//!
//! Sequence buffers hold one row per (time, batch) pair in the order [`SeqDims`] gives;
//! operands are seen through their layouts; results are row-major buffers.

use super::{on_device, BackendResult, Storage};
use crate::core::{CellActivation, Layout, SeqDims};

/// What an LSTM forward pass returns and keeps for its backward pass.
pub struct LstmBuffers<S> {
    /// The hidden state of every time position (`T·N` rows of `H`), then the final cell
    /// state (`N×H`).
    pub out: S,
    /// The activated gates `i, f, g, o` of every step, step-major `[T][N][4H]`.
    pub gates: S,
    /// The cell states `c_0 … c_T`, step-major `[T+1][N][H]`.
    pub cells: S,
}

/// One recurrent direction over a sequence, forward and backward. `self` is the input
/// projection `xproj` (forward) or the output gradient (backward).
pub trait RecurrentOps: Sized {
    /// LSTM, gates fused: per step `i, f, g, o = σ, σ, act, σ (xproj_t + h·W_hhᵀ)`,
    /// `c' = f·c + i·g`, `h' = o·act(c')`. `xproj`: `T·N` rows of `4H`; `w_hh (4H, H)`;
    /// `h0`, `c0`: `(N, H)`.
    fn lstm_forward(
        &self,
        layout: &Layout,
        w_hh: (&Self, &Layout),
        h0: (&Self, &Layout),
        c0: (&Self, &Layout),
        d: SeqDims,
        activation: CellActivation,
    ) -> BackendResult<LstmBuffers<Self>>;

    /// Backpropagation through time of [`RecurrentOps::lstm_forward`] for the output
    /// gradient `self` (laid out as `out`): `[dxproj, dw_hh, dh0, dc0]`.
    #[allow(clippy::too_many_arguments)]
    fn lstm_backward(
        &self,
        layout: &Layout,
        w_hh: (&Self, &Layout),
        h0: (&Self, &Layout),
        out: (&Self, &Layout),
        gates: &Self,
        cells: &Self,
        d: SeqDims,
        activation: CellActivation,
    ) -> BackendResult<[Self; 4]>;

    /// GRU (PyTorch's form): per step `hg = h·W_hhᵀ + b_hh`, `r = σ(x_r + hg_r)`,
    /// `z = σ(x_z + hg_z)`, `n = tanh(x_n + r·hg_n)`, `h' = (1 − z)·n + z·h`. `xproj`: `T·N`
    /// rows of `3H`. Returns the hidden states and, step-major `[T][N][4H]`, the saved
    /// `r, z, n, hg_n`.
    fn gru_forward(
        &self,
        layout: &Layout,
        w_hh: (&Self, &Layout),
        b_hh: (&Self, &Layout),
        h0: (&Self, &Layout),
        d: SeqDims,
    ) -> BackendResult<(Self, Self)>;

    /// Backpropagation through time of [`RecurrentOps::gru_forward`] for the output
    /// gradient `self`: `[dxproj, dw_hh, db_hh, dh0]`.
    fn gru_backward(
        &self,
        layout: &Layout,
        w_hh: (&Self, &Layout),
        h0: (&Self, &Layout),
        out: (&Self, &Layout),
        gates: &Self,
        d: SeqDims,
    ) -> BackendResult<[Self; 4]>;

    /// Elman RNN: per step `h' = act(xproj_t + h·W_hhᵀ)`. `xproj`: `T·N` rows of `H`.
    /// Returns the hidden states.
    fn rnn_forward(
        &self,
        layout: &Layout,
        w_hh: (&Self, &Layout),
        h0: (&Self, &Layout),
        d: SeqDims,
        activation: CellActivation,
    ) -> BackendResult<Self>;

    /// Backpropagation through time of [`RecurrentOps::rnn_forward`] for the output gradient
    /// `self`: `[dxproj, dw_hh, dh0]`.
    fn rnn_backward(
        &self,
        layout: &Layout,
        w_hh: (&Self, &Layout),
        h0: (&Self, &Layout),
        out: (&Self, &Layout),
        d: SeqDims,
        activation: CellActivation,
    ) -> BackendResult<[Self; 3]>;
}

impl Storage {
    /// One LSTM direction over the sequence `self` (the input projection).
    pub fn lstm_forward(
        &self,
        layout: &Layout,
        w_hh: (&Storage, &Layout),
        h0: (&Storage, &Layout),
        c0: (&Storage, &Layout),
        d: SeqDims,
        activation: CellActivation,
    ) -> LstmBuffers<Storage> {
        let (s, w, h, c) = (self, w_hh.0, h0.0, c0.0);
        on_device!("lstm", |wrap| [s, w, h, c] => {
            s.lstm_forward(layout, (w, w_hh.1), (h, h0.1), (c, c0.1), d, activation)
                .map(|b| LstmBuffers {
                    out: wrap(b.out),
                    gates: wrap(b.gates),
                    cells: wrap(b.cells),
                })
        })
    }

    /// The LSTM's gradients `[dxproj, dw_hh, dh0, dc0]` for the output gradient `self`.
    #[allow(clippy::too_many_arguments)]
    pub fn lstm_backward(
        &self,
        layout: &Layout,
        w_hh: (&Storage, &Layout),
        h0: (&Storage, &Layout),
        out: (&Storage, &Layout),
        gates: &Storage,
        cells: &Storage,
        d: SeqDims,
        activation: CellActivation,
    ) -> [Storage; 4] {
        let (s, w, h, o) = (self, w_hh.0, h0.0, out.0);
        on_device!("lstm_backward", |wrap| [s, w, h, o, gates, cells] => {
            s.lstm_backward(layout, (w, w_hh.1), (h, h0.1), (o, out.1), gates, cells, d, activation)
                .map(|grads| grads.map(wrap))
        })
    }

    /// One GRU direction over the sequence `self` (the input projection): the hidden states
    /// and the gates its backward pass needs.
    pub fn gru_forward(
        &self,
        layout: &Layout,
        w_hh: (&Storage, &Layout),
        b_hh: (&Storage, &Layout),
        h0: (&Storage, &Layout),
        d: SeqDims,
    ) -> (Storage, Storage) {
        let (s, w, b, h) = (self, w_hh.0, b_hh.0, h0.0);
        on_device!("gru", |wrap| [s, w, b, h] => {
            s.gru_forward(layout, (w, w_hh.1), (b, b_hh.1), (h, h0.1), d)
                .map(|(out, gates)| (wrap(out), wrap(gates)))
        })
    }

    /// The GRU's gradients `[dxproj, dw_hh, db_hh, dh0]` for the output gradient `self`.
    pub fn gru_backward(
        &self,
        layout: &Layout,
        w_hh: (&Storage, &Layout),
        h0: (&Storage, &Layout),
        out: (&Storage, &Layout),
        gates: &Storage,
        d: SeqDims,
    ) -> [Storage; 4] {
        let (s, w, h, o) = (self, w_hh.0, h0.0, out.0);
        on_device!("gru_backward", |wrap| [s, w, h, o, gates] => {
            s.gru_backward(layout, (w, w_hh.1), (h, h0.1), (o, out.1), gates, d)
                .map(|grads| grads.map(wrap))
        })
    }

    /// One Elman RNN direction over the sequence `self` (the input projection).
    pub fn rnn_forward(
        &self,
        layout: &Layout,
        w_hh: (&Storage, &Layout),
        h0: (&Storage, &Layout),
        d: SeqDims,
        activation: CellActivation,
    ) -> Storage {
        let (s, w, h) = (self, w_hh.0, h0.0);
        on_device!("rnn", |wrap| [s, w, h] => {
            s.rnn_forward(layout, (w, w_hh.1), (h, h0.1), d, activation).map(wrap)
        })
    }

    /// The Elman RNN's gradients `[dxproj, dw_hh, dh0]` for the output gradient `self`.
    pub fn rnn_backward(
        &self,
        layout: &Layout,
        w_hh: (&Storage, &Layout),
        h0: (&Storage, &Layout),
        out: (&Storage, &Layout),
        d: SeqDims,
        activation: CellActivation,
    ) -> [Storage; 3] {
        let (s, w, h, o) = (self, w_hh.0, h0.0, out.0);
        on_device!("rnn_backward", |wrap| [s, w, h, o] => {
            s.rnn_backward(layout, (w, w_hh.1), (h, h0.1), (o, out.1), d, activation)
                .map(|grads| grads.map(wrap))
        })
    }
}
