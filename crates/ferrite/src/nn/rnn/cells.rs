//! Single-step recurrent cells [`RNNCell`], [`LSTMCell`] and [`GRUCell`] (PyTorch's
//! `RNNCell`, `LSTMCell`, `GRUCell`): the same fused ops as the layers, over one time step.

use super::{CellActivation, CellKind, DirectionWeights};
use crate::nn::Module;
use crate::Tensor;

/// The shared state of a cell: its kind and weights (named without a layer suffix).
struct Cell {
    kind: CellKind,
    weights: DirectionWeights,
    input_size: usize,
    hidden_size: usize,
}

impl Cell {
    fn new(input_size: usize, hidden_size: usize, bias: bool, kind: CellKind) -> Cell {
        assert!(
            hidden_size > 0,
            "cell: hidden_size must be greater than zero"
        );
        let weights =
            DirectionWeights::new(input_size, hidden_size, kind.gates(), bias, String::new());
        Cell {
            kind,
            weights,
            input_size,
            hidden_size,
        }
    }

    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        // PyTorch's cells name their parameters without the `_l0` suffix.
        self.weights
            .named()
            .into_iter()
            .map(|(n, t)| (n.trim_end_matches('_').to_string(), t))
            .collect()
    }

    /// One step: `x` `(N, I)` or `(I)`, states `(N, H)` or `(H)` (zeros when absent).
    fn step(
        &self,
        name: &str,
        x: &Tensor,
        h: Option<&Tensor>,
        c: Option<&Tensor>,
    ) -> (Tensor, Option<Tensor>) {
        assert!(
            x.rank() == 1 || x.rank() == 2,
            "{name}: Expected input to be 1D or 2D, got {}D instead (shape {:?})",
            x.rank(),
            x.dims()
        );
        let unbatched = x.rank() == 1;
        let x = if unbatched { x.unsqueeze(0) } else { x.clone() };
        assert_eq!(
            x.dims()[1],
            self.input_size,
            "{name}: input has inconsistent input_size: got {} expected {} (input shape {:?})",
            x.dims()[1],
            self.input_size,
            x.dims()
        );
        let batch = x.dims()[0];
        let state = |s: Option<&Tensor>| match s {
            Some(t) if unbatched => t.unsqueeze(0),
            Some(t) => t.clone(),
            None => Tensor::zeros([batch, self.hidden_size]),
        };
        let h0 = state(h);
        let c0 = matches!(self.kind, CellKind::Lstm(_)).then(|| state(c));
        // One time step, time-major: (1, N, I).
        let r = self
            .weights
            .run(&x.unsqueeze(0), self.kind, &h0, c0.as_ref(), false, false);
        let fix = |t: Tensor| if unbatched { t.squeeze(0) } else { t };
        (fix(r.h_n), r.c_n.map(fix))
    }
}

macro_rules! cell_module {
    ($t:ident, $name:literal) => {
        impl $t {
            /// The size of each input sample.
            pub fn input_size(&self) -> usize {
                self.cell.input_size
            }
            /// The size of the hidden state.
            pub fn hidden_size(&self) -> usize {
                self.cell.hidden_size
            }
        }

        impl Module for $t {
            /// The next hidden state from a zero state.
            fn forward(&self, x: &Tensor) -> Tensor {
                self.cell.step($name, x, None, None).0
            }
            fn named_parameters(&self) -> Vec<(String, Tensor)> {
                self.cell.named_parameters()
            }
            fn describe(&self) -> String {
                format!(
                    "{}({}, {})",
                    $name, self.cell.input_size, self.cell.hidden_size
                )
            }
        }
    };
}

/// An Elman RNN cell: `h' = act(x·W_ihᵀ + b_ih + h·W_hhᵀ + b_hh)`.
///
/// ```
/// use ferrite::nn::{CellActivation, RNNCell};
/// use ferrite::Tensor;
/// let cell = RNNCell::new(3, 4, true, CellActivation::Tanh);
/// let h = cell.step(&Tensor::randn([2, 3]), None);
/// let h = cell.step(&Tensor::randn([2, 3]), Some(&h));
/// assert_eq!(h.dims(), &[2, 4]);
/// ```
pub struct RNNCell {
    cell: Cell,
}

impl RNNCell {
    /// A cell with fresh weights `U(±1/√H)`; `nonlinearity` tanh or relu.
    pub fn new(
        input_size: usize,
        hidden_size: usize,
        bias: bool,
        nonlinearity: CellActivation,
    ) -> RNNCell {
        RNNCell {
            cell: Cell::new(input_size, hidden_size, bias, CellKind::Rnn(nonlinearity)),
        }
    }

    /// The next hidden state; `h` defaults to zeros.
    pub fn step(&self, x: &Tensor, h: Option<&Tensor>) -> Tensor {
        self.cell.step("RNNCell", x, h, None).0
    }
}
cell_module!(RNNCell, "RNNCell");

/// An LSTM cell (gates `i, f, g, o`): `c' = σ(f)·c + σ(i)·act(g)`, `h' = σ(o)·act(c')`.
///
/// ```
/// use ferrite::nn::{CellActivation, LSTMCell};
/// use ferrite::Tensor;
/// let cell = LSTMCell::new(3, 4, true, CellActivation::Tanh);
/// let (h, c) = cell.step(&Tensor::randn([2, 3]), None);
/// let (h, c) = cell.step(&Tensor::randn([2, 3]), Some((&h, &c)));
/// assert_eq!((h.dims(), c.dims()), (&[2, 4][..], &[2, 4][..]));
/// ```
pub struct LSTMCell {
    cell: Cell,
}

impl LSTMCell {
    /// A cell with fresh weights `U(±1/√H)`; `activation` for the candidate and cell output.
    pub fn new(
        input_size: usize,
        hidden_size: usize,
        bias: bool,
        activation: CellActivation,
    ) -> LSTMCell {
        LSTMCell {
            cell: Cell::new(input_size, hidden_size, bias, CellKind::Lstm(activation)),
        }
    }

    /// The next `(h, c)`; the state defaults to zeros.
    pub fn step(&self, x: &Tensor, state: Option<(&Tensor, &Tensor)>) -> (Tensor, Tensor) {
        let (h, c) = self
            .cell
            .step("LSTMCell", x, state.map(|s| s.0), state.map(|s| s.1));
        (h, c.expect("an LSTM cell has a cell state"))
    }
}
cell_module!(LSTMCell, "LSTMCell");

/// A GRU cell (gates `r, z, n`): `n = tanh(W_in x + b_in + r·(W_hn h + b_hn))`,
/// `h' = (1 − z)·n + z·h`.
///
/// ```
/// use ferrite::nn::GRUCell;
/// use ferrite::Tensor;
/// let cell = GRUCell::new(3, 4, true);
/// let h = cell.step(&Tensor::randn([3]), None);
/// assert_eq!(h.dims(), &[4]);
/// ```
pub struct GRUCell {
    cell: Cell,
}

impl GRUCell {
    /// A cell with fresh weights `U(±1/√H)`.
    pub fn new(input_size: usize, hidden_size: usize, bias: bool) -> GRUCell {
        GRUCell {
            cell: Cell::new(input_size, hidden_size, bias, CellKind::Gru),
        }
    }

    /// The next hidden state; `h` defaults to zeros.
    pub fn step(&self, x: &Tensor, h: Option<&Tensor>) -> Tensor {
        self.cell.step("GRUCell", x, h, None).0
    }
}
cell_module!(GRUCell, "GRUCell");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck;

    /// The LSTM cell equals its formula written with plain tensor ops.
    #[test]
    fn lstm_cell_matches_formula() {
        crate::manual_seed(5);
        let cell = LSTMCell::new(3, 2, true, CellActivation::Tanh);
        let p = cell.named_parameters();
        let names: Vec<&str> = p.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]);
        let (x, h, c) = (
            Tensor::randn([4, 3]),
            Tensor::randn([4, 2]),
            Tensor::randn([4, 2]),
        );
        let (h1, c1) = cell.step(&x, Some((&h, &c)));
        let pre = &(&(&x.matmul(&p[0].1.t()) + &p[2].1) + &h.matmul(&p[1].1.t())) + &p[3].1;
        let gate = |k: usize| pre.narrow(1, 2 * k, 2);
        let c_ref = &(&gate(1).sigmoid() * &c) + &(&gate(0).sigmoid() * &gate(2).tanh());
        let h_ref = &gate(3).sigmoid() * &c_ref.tanh();
        for (a, b) in h1
            .to_vec()
            .iter()
            .zip(h_ref.to_vec())
            .chain(c1.to_vec().iter().zip(c_ref.to_vec()))
        {
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        }
    }

    /// Finite differences through each tiny cell, for input, state and every parameter.
    #[test]
    fn cells_gradcheck() {
        crate::manual_seed(6);
        let x = (Tensor::randn([2, 3]) * 0.5).requires_grad();
        let h = (Tensor::randn([2, 2]) * 0.5).requires_grad();
        let c = (Tensor::randn([2, 2]) * 0.5).requires_grad();
        let lstm = LSTMCell::new(3, 2, true, CellActivation::Tanh);
        let mut inputs = vec![x.clone(), h.clone(), c.clone()];
        inputs.extend(lstm.parameters());
        gradcheck(
            |v| {
                let (h1, c1) = lstm.step(&v[0], Some((&v[1], &v[2])));
                &h1 + &(&c1 * 0.5)
            },
            &inputs,
        )
        .unwrap();
        let gru = GRUCell::new(3, 2, true);
        let mut inputs = vec![x.clone(), h.clone()];
        inputs.extend(gru.parameters());
        gradcheck(|v| gru.step(&v[0], Some(&v[1])), &inputs).unwrap();
        let rnn = RNNCell::new(3, 2, true, CellActivation::Tanh);
        let mut inputs = vec![x, h];
        inputs.extend(rnn.parameters());
        gradcheck(|v| rnn.step(&v[0], Some(&v[1])), &inputs).unwrap();
    }
}
