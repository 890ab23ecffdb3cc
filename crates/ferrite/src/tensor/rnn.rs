//! Fused recurrent ops: one direction of an LSTM, GRU or Elman RNN layer over a whole sequence
//! as a single autograd node, with the gate kernels of `backend/cpu/rnn.rs` forward and
//! backward (backpropagation through time with the gates saved by the forward pass).
//!
//! Each op takes the input projection `xproj = x·W_ihᵀ + b` of all time steps, computed by the
//! caller as one matrix product, so the op itself only runs the recurrence: one fused product
//! `h·W_hhᵀ` for all gates per step and the gate arithmetic in one pass.

use super::dtype::mixed_float_dtype;
use super::{Layout, Tensor};
use crate::autograd::Op;
use crate::backend::Storage;
use crate::core::SeqDims;
use std::sync::Arc;

pub use crate::core::CellActivation;

/// What the LSTM op's backward needs: the activated gates and every cell state, on the
/// device that computed them (row-major buffers only the backend reads).
pub struct LstmSaved {
    dims: SeqDims,
    activation: CellActivation,
    gates: Storage,
    cells: Storage,
}

/// What the GRU op's backward needs: `r, z, n` and the recurrent part of `n` of every step,
/// on the device that computed them.
pub struct GruSaved {
    dims: SeqDims,
    gates: Storage,
}

/// What the Elman RNN op's backward needs (its output holds the rest).
pub struct RnnSaved {
    dims: SeqDims,
    activation: CellActivation,
}

macro_rules! debug_dims {
    ($t:ty, $name:literal) => {
        impl std::fmt::Debug for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, concat!($name, "({:?})"), self.dims)
            }
        }
    };
}
debug_dims!(LstmSaved, "LstmSaved");
debug_dims!(GruSaved, "GruSaved");
debug_dims!(RnnSaved, "RnnSaved");

/// The results of one recurrent direction over a sequence, as views of the op's output.
#[derive(Clone, Debug)]
pub struct RecurrentOutput {
    /// Hidden state of every time position: `(N, T, H)` batch-first, else `(T, N, H)`.
    pub output: Tensor,
    /// The hidden state after the last processed step `(N, H)` (position 0 when reversed).
    pub h_n: Tensor,
    /// The final cell state `(N, H)` (LSTM only).
    pub c_n: Option<Tensor>,
}

/// Checks the operands of a recurrent op and returns the sequence dimensions.
fn seq_dims(
    op: &str,
    xproj: &Tensor,
    gates: usize,
    w_hh: &Tensor,
    h0: &Tensor,
    batch_first: bool,
    reverse: bool,
) -> SeqDims {
    assert!(
        xproj.rank() == 3 && w_hh.rank() == 2 && h0.rank() == 2,
        "{op}: expected xproj of rank 3, w_hh and h0 of rank 2, got shapes {:?}, {:?} and {:?}",
        xproj.dims(),
        w_hh.dims(),
        h0.dims()
    );
    let hidden = w_hh.dims()[1];
    let (steps, batch) = if batch_first {
        (xproj.dims()[1], xproj.dims()[0])
    } else {
        (xproj.dims()[0], xproj.dims()[1])
    };
    assert!(
        w_hh.dims()[0] == gates * hidden && xproj.dims()[2] == gates * hidden,
        "{op}: w_hh {:?} and xproj {:?} must have {gates}·hidden rows/features",
        w_hh.dims(),
        xproj.dims()
    );
    assert_eq!(
        h0.dims(),
        &[batch, hidden],
        "{op}: expected hidden state of shape [{batch}, {hidden}], got {:?} (xproj {:?})",
        h0.dims(),
        xproj.dims()
    );
    assert!(
        steps > 0,
        "{op}: the sequence needs at least one time step, got xproj {:?}",
        xproj.dims()
    );
    SeqDims {
        steps,
        batch,
        hidden,
        batch_first,
        reverse,
    }
}

/// The dims of a sequence of `width` features in the layout of `d`.
fn seq_shape(d: &SeqDims, width: usize) -> Vec<usize> {
    if d.batch_first {
        vec![d.batch, d.steps, width]
    } else {
        vec![d.steps, d.batch, width]
    }
}

/// The hidden-state sequence's view of the last processed time position: `(N, H)`.
fn last_state(output: &Tensor, d: &SeqDims) -> Tensor {
    let time_dim = if d.batch_first { 1 } else { 0 };
    let last = if d.reverse { 0 } else { d.steps - 1 };
    output.narrow(time_dim, last, 1).squeeze(time_dim)
}

impl Tensor {
    /// One LSTM direction over a sequence, gates fused: per step
    /// `i, f, g, o = σ, σ, act, σ (xproj_t + h·W_hhᵀ)`, `c' = f·c + i·g`, `h' = o·act(c')`.
    ///
    /// `xproj`: `(N, T, 4H)` when `batch_first`, else `(T, N, 4H)`: `x·W_ihᵀ + b_ih + b_hh` for
    /// every step, gate order `i, f, g, o`. `w_hh`: `(4H, H)`; `h0`, `c0`: `(N, H)`. With
    /// `reverse`, time runs from the last position to the first.
    ///
    /// ```
    /// use ferrite::Tensor;
    /// use ferrite::tensor::CellActivation;
    /// let xproj = Tensor::zeros([2, 3, 8]); // N = 2, T = 3, H = 2
    /// let w_hh = Tensor::zeros([8, 2]);
    /// let h0 = Tensor::zeros([2, 2]);
    /// let r = Tensor::lstm_sequence(&xproj, &w_hh, &h0, &h0, true, false, CellActivation::Tanh);
    /// assert_eq!(r.output.dims(), &[2, 3, 2]);
    /// // All pre-activations 0: every gate is σ(0) = ½, g = 0, so the state stays 0.
    /// assert!(r.output.to_vec().iter().all(|&v| v == 0.0));
    /// ```
    pub fn lstm_sequence(
        xproj: &Tensor,
        w_hh: &Tensor,
        h0: &Tensor,
        c0: &Tensor,
        batch_first: bool,
        reverse: bool,
        activation: CellActivation,
    ) -> RecurrentOutput {
        if let Some(t) = mixed_float_dtype(&[Some(xproj), Some(w_hh), Some(h0), Some(c0)]) {
            let c = |x: &Tensor| x.to_dtype(t);
            return Tensor::lstm_sequence(
                &c(xproj),
                &c(w_hh),
                &c(h0),
                &c(c0),
                batch_first,
                reverse,
                activation,
            );
        }
        let d = seq_dims("lstm", xproj, 4, w_hh, h0, batch_first, reverse);
        assert_eq!(
            c0.dims(),
            h0.dims(),
            "lstm: cell state shape {:?} must equal hidden state shape {:?}",
            c0.dims(),
            h0.dims()
        );
        let fwd = {
            let (x, w, h, c) = (xproj.storage(), w_hh.storage(), h0.storage(), c0.storage());
            x.lstm_forward(
                xproj.layout(),
                (&w, w_hh.layout()),
                (&h, h0.layout()),
                (&c, c0.layout()),
                d,
                activation,
            )
        };
        let len = fwd.out.len();
        let saved = LstmSaved {
            dims: d,
            activation,
            gates: fwd.gates,
            cells: fwd.cells,
        };
        let packed = Tensor::from_op(
            fwd.out,
            Layout::contiguous([len]),
            Op::Lstm(Arc::new(saved)),
            vec![xproj.clone(), w_hh.clone(), h0.clone(), c0.clone()],
        );
        let nh = d.batch * d.hidden;
        let output = packed
            .narrow(0, 0, len - nh)
            .reshape(seq_shape(&d, d.hidden));
        let h_n = last_state(&output, &d);
        let c_n = packed.narrow(0, len - nh, nh).reshape([d.batch, d.hidden]);
        RecurrentOutput {
            output,
            h_n,
            c_n: Some(c_n),
        }
    }

    /// One GRU direction over a sequence (PyTorch's form): per step
    /// `r = σ(x_r + h·W_hrᵀ + b_hr)`, `z = σ(x_z + h·W_hzᵀ + b_hz)`,
    /// `n = tanh(x_n + r·(h·W_hnᵀ + b_hn))`, `h' = (1 − z)·n + z·h`.
    ///
    /// `xproj`: `(N, T, 3H)` when `batch_first`, else `(T, N, 3H)`: `x·W_ihᵀ + b_ih`, gate
    /// order `r, z, n`. `w_hh`: `(3H, H)`; `b_hh`: `(3H)` (kept apart because `b_hn` sits
    /// inside the reset gate); `h0`: `(N, H)`.
    pub fn gru_sequence(
        xproj: &Tensor,
        w_hh: &Tensor,
        b_hh: &Tensor,
        h0: &Tensor,
        batch_first: bool,
        reverse: bool,
    ) -> RecurrentOutput {
        if let Some(t) = mixed_float_dtype(&[Some(xproj), Some(w_hh), Some(b_hh), Some(h0)]) {
            let c = |x: &Tensor| x.to_dtype(t);
            return Tensor::gru_sequence(
                &c(xproj),
                &c(w_hh),
                &c(b_hh),
                &c(h0),
                batch_first,
                reverse,
            );
        }
        let d = seq_dims("gru", xproj, 3, w_hh, h0, batch_first, reverse);
        assert_eq!(
            b_hh.dims(),
            &[3 * d.hidden],
            "gru: expected b_hh of shape [{}], got {:?}",
            3 * d.hidden,
            b_hh.dims()
        );
        let (out, gates) = {
            let (x, w, b, h) = (
                xproj.storage(),
                w_hh.storage(),
                b_hh.storage(),
                h0.storage(),
            );
            x.gru_forward(
                xproj.layout(),
                (&w, w_hh.layout()),
                (&b, b_hh.layout()),
                (&h, h0.layout()),
                d,
            )
        };
        let output = Tensor::from_op(
            out,
            Layout::contiguous(seq_shape(&d, d.hidden)),
            Op::Gru(Arc::new(GruSaved { dims: d, gates })),
            vec![xproj.clone(), w_hh.clone(), b_hh.clone(), h0.clone()],
        );
        let h_n = last_state(&output, &d);
        RecurrentOutput {
            output,
            h_n,
            c_n: None,
        }
    }

    /// One Elman RNN direction over a sequence: per step `h' = act(xproj_t + h·W_hhᵀ)`.
    ///
    /// `xproj`: `(N, T, H)` when `batch_first`, else `(T, N, H)`: `x·W_ihᵀ + b_ih + b_hh`.
    /// `w_hh`: `(H, H)`; `h0`: `(N, H)`.
    pub fn rnn_sequence(
        xproj: &Tensor,
        w_hh: &Tensor,
        h0: &Tensor,
        batch_first: bool,
        reverse: bool,
        activation: CellActivation,
    ) -> RecurrentOutput {
        if let Some(t) = mixed_float_dtype(&[Some(xproj), Some(w_hh), Some(h0)]) {
            let c = |x: &Tensor| x.to_dtype(t);
            return Tensor::rnn_sequence(
                &c(xproj),
                &c(w_hh),
                &c(h0),
                batch_first,
                reverse,
                activation,
            );
        }
        let d = seq_dims("rnn", xproj, 1, w_hh, h0, batch_first, reverse);
        let out = {
            let (x, w, h) = (xproj.storage(), w_hh.storage(), h0.storage());
            x.rnn_forward(
                xproj.layout(),
                (&w, w_hh.layout()),
                (&h, h0.layout()),
                d,
                activation,
            )
        };
        let output = Tensor::from_op(
            out,
            Layout::contiguous(seq_shape(&d, d.hidden)),
            Op::Rnn(Arc::new(RnnSaved {
                dims: d,
                activation,
            })),
            vec![xproj.clone(), w_hh.clone(), h0.clone()],
        );
        let h_n = last_state(&output, &d);
        RecurrentOutput {
            output,
            h_n,
            c_n: None,
        }
    }
}

/// Wraps the backend's gradients as tensors shaped like the op's inputs, where wanted.
fn wrap<const K: usize>(
    grads: [Storage; K],
    inputs: &[Tensor],
    needs: &[bool],
) -> Vec<Option<Tensor>> {
    grads
        .into_iter()
        .zip(inputs)
        .zip(needs)
        .map(|((data, input), &need)| {
            need.then(|| Tensor::from_storage(data, Layout::contiguous(input.dims())))
        })
        .collect()
}

/// Backward of [`Tensor::lstm_sequence`]: gradients for `[xproj, w_hh, h0, c0]`.
pub(crate) fn lstm_sequence_backward(
    saved: &LstmSaved,
    inputs: &[Tensor],
    y: &Tensor,
    g: &Tensor,
    needs: &[bool],
) -> Vec<Option<Tensor>> {
    let (w_hh, h0) = (&inputs[1], &inputs[2]);
    let grads = {
        let (gs, ws, hs, ys) = (g.storage(), w_hh.storage(), h0.storage(), y.storage());
        gs.lstm_backward(
            g.layout(),
            (&ws, w_hh.layout()),
            (&hs, h0.layout()),
            (&ys, y.layout()),
            &saved.gates,
            &saved.cells,
            saved.dims,
            saved.activation,
        )
    };
    wrap(grads, inputs, needs)
}

/// Backward of [`Tensor::gru_sequence`]: gradients for `[xproj, w_hh, b_hh, h0]`.
pub(crate) fn gru_sequence_backward(
    saved: &GruSaved,
    inputs: &[Tensor],
    y: &Tensor,
    g: &Tensor,
    needs: &[bool],
) -> Vec<Option<Tensor>> {
    let (w_hh, h0) = (&inputs[1], &inputs[3]);
    let grads = {
        let (gs, ws, hs, ys) = (g.storage(), w_hh.storage(), h0.storage(), y.storage());
        gs.gru_backward(
            g.layout(),
            (&ws, w_hh.layout()),
            (&hs, h0.layout()),
            (&ys, y.layout()),
            &saved.gates,
            saved.dims,
        )
    };
    wrap(grads, inputs, needs)
}

/// Backward of [`Tensor::rnn_sequence`]: gradients for `[xproj, w_hh, h0]`.
pub(crate) fn rnn_sequence_backward(
    saved: &RnnSaved,
    inputs: &[Tensor],
    y: &Tensor,
    g: &Tensor,
    needs: &[bool],
) -> Vec<Option<Tensor>> {
    let (w_hh, h0) = (&inputs[1], &inputs[2]);
    let grads = {
        let (gs, ws, hs, ys) = (g.storage(), w_hh.storage(), h0.storage(), y.storage());
        gs.rnn_backward(
            g.layout(),
            (&ws, w_hh.layout()),
            (&hs, h0.layout()),
            (&ys, y.layout()),
            saved.dims,
            saved.activation,
        )
    };
    wrap(grads, inputs, needs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{gradcheck, Generator};

    fn rand(dims: &[usize], g: &mut Generator) -> Tensor {
        (Tensor::randn_with(dims.to_vec(), g) * 0.6).requires_grad()
    }

    /// Finite differences through every input of the fused LSTM, both row orders and
    /// directions, both activations, using h, c and the whole output.
    #[test]
    fn lstm_sequence_gradcheck() {
        // Seed chosen so that no relu input lies within the finite-difference step of its kink.
        let mut g = Generator::new(4);
        for (batch_first, reverse, act) in [
            (true, false, CellActivation::Tanh),
            (false, true, CellActivation::Tanh),
            (true, true, CellActivation::Relu),
            (false, false, CellActivation::Relu),
            (true, false, CellActivation::Relu),
        ] {
            let (n, t, h) = (2, 3, 2);
            let xdims = if batch_first {
                [n, t, 4 * h]
            } else {
                [t, n, 4 * h]
            };
            let inputs = [
                rand(&xdims, &mut g),
                rand(&[4 * h, h], &mut g),
                rand(&[n, h], &mut g),
                rand(&[n, h], &mut g),
            ];
            let r = gradcheck(
                |xs| {
                    let o = Tensor::lstm_sequence(
                        &xs[0],
                        &xs[1],
                        &xs[2],
                        &xs[3],
                        batch_first,
                        reverse,
                        act,
                    );
                    Tensor::cat(
                        &[
                            o.output.reshape([n * t * h]),
                            o.h_n.reshape([n * h]),
                            o.c_n.unwrap().reshape([n * h]),
                        ],
                        0,
                    )
                },
                &inputs,
            );
            assert!(
                r.is_ok(),
                "{batch_first} {reverse} {act:?}: {}",
                r.unwrap_err()
            );
        }
    }

    #[test]
    fn gru_sequence_gradcheck() {
        let mut g = Generator::new(4);
        for (batch_first, reverse) in [(true, false), (false, true)] {
            let (n, t, h) = (2, 3, 2);
            let xdims = if batch_first {
                [n, t, 3 * h]
            } else {
                [t, n, 3 * h]
            };
            let inputs = [
                rand(&xdims, &mut g),
                rand(&[3 * h, h], &mut g),
                rand(&[3 * h], &mut g),
                rand(&[n, h], &mut g),
            ];
            let r = gradcheck(
                |xs| {
                    let o =
                        Tensor::gru_sequence(&xs[0], &xs[1], &xs[2], &xs[3], batch_first, reverse);
                    Tensor::cat(&[o.output.reshape([n * t * h]), o.h_n.reshape([n * h])], 0)
                },
                &inputs,
            );
            assert!(r.is_ok(), "{batch_first} {reverse}: {}", r.unwrap_err());
        }
    }

    #[test]
    fn rnn_sequence_gradcheck() {
        let mut g = Generator::new(5);
        for (batch_first, reverse, act) in [
            (true, false, CellActivation::Tanh),
            (false, true, CellActivation::Relu),
        ] {
            let (n, t, h) = (2, 3, 3);
            let xdims = if batch_first { [n, t, h] } else { [t, n, h] };
            let inputs = [
                rand(&xdims, &mut g),
                rand(&[h, h], &mut g),
                rand(&[n, h], &mut g),
            ];
            let r = gradcheck(
                |xs| Tensor::rnn_sequence(&xs[0], &xs[1], &xs[2], batch_first, reverse, act).output,
                &inputs,
            );
            assert!(
                r.is_ok(),
                "{batch_first} {reverse} {act:?}: {}",
                r.unwrap_err()
            );
        }
    }
}
