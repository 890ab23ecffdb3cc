//! Single-step recurrent cells [`RNNCell`], [`LSTMCell`] and [`GRUCell`] (PyTorch's
//! `RNNCell`, `LSTMCell`, `GRUCell`): the same fused ops as the layers, over one time step.

use super::{CellActivation, CellKind, DirectionWeights};
use crate::error::{FerriteError, Result};
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
    /// A cell of `name` (for errors); zero sizes are errors naming the parameter.
    fn new(
        name: &str,
        input_size: usize,
        hidden_size: usize,
        bias: bool,
        kind: CellKind,
    ) -> Result<Cell> {
        for (param, value) in [("input_size", input_size), ("hidden_size", hidden_size)] {
            if value == 0 {
                return Err(FerriteError::invalid(
                    format!("{name} {param}"),
                    "must be at least 1, got 0",
                ));
            }
        }
        let weights =
            DirectionWeights::new(input_size, hidden_size, kind.gates(), bias, String::new());
        Ok(Cell {
            kind,
            weights,
            input_size,
            hidden_size,
        })
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

/// Options of an [`RNNCell`] (PyTorch's defaults: with bias, tanh).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RNNCellOptions {
    /// Whether the cell has `bias_ih` and `bias_hh`.
    pub bias: bool,
    /// The nonlinearity (PyTorch's `nonlinearity='tanh' | 'relu'`).
    pub nonlinearity: CellActivation,
}

impl Default for RNNCellOptions {
    fn default() -> Self {
        RNNCellOptions {
            bias: true,
            nonlinearity: CellActivation::Tanh,
        }
    }
}

impl RNNCellOptions {
    /// PyTorch's defaults: with bias, tanh.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets whether the cell has biases.
    pub fn bias(mut self, bias: bool) -> Self {
        self.bias = bias;
        self
    }
    /// Sets the nonlinearity.
    pub fn nonlinearity(mut self, nonlinearity: CellActivation) -> Self {
        self.nonlinearity = nonlinearity;
        self
    }
}

/// An Elman RNN cell: `h' = act(x·W_ihᵀ + b_ih + h·W_hhᵀ + b_hh)`.
///
/// # Shape
///
/// - Input `x`: `(N, H_in)` or unbatched `(H_in)`, `H_in = input_size`.
/// - State `h`: `(N, H)` or `(H)`, `H = hidden_size`; zeros when not given.
/// - Output: the next state `h`, `(N, H)` or `(H)`.
///
/// ```
/// use ferrite::nn::{CellActivation, RNNCell, RNNCellOptions};
/// use ferrite::Tensor;
/// let opts = RNNCellOptions::new().nonlinearity(CellActivation::Relu);
/// let cell = RNNCell::with_options(3, 4, opts).unwrap();
/// let h = cell.step(&Tensor::randn([2, 3]), None);
/// let h = cell.step(&Tensor::randn([2, 3]), Some(&h));
/// assert_eq!(h.dims(), &[2, 4]);
/// assert!(RNNCell::new(3, 0).is_err());
/// ```
pub struct RNNCell {
    cell: Cell,
}

impl RNNCell {
    /// A tanh cell with biases and fresh weights `U(±1/√H)`; zero sizes are errors.
    pub fn new(input_size: usize, hidden_size: usize) -> Result<RNNCell> {
        RNNCell::with_options(input_size, hidden_size, RNNCellOptions::default())
    }

    /// A cell with the given options; zero sizes are errors.
    pub fn with_options(
        input_size: usize,
        hidden_size: usize,
        options: RNNCellOptions,
    ) -> Result<RNNCell> {
        let kind = CellKind::Rnn(options.nonlinearity);
        Ok(RNNCell {
            cell: Cell::new("RNNCell", input_size, hidden_size, options.bias, kind)?,
        })
    }

    /// The next hidden state; `h` defaults to zeros.
    pub fn step(&self, x: &Tensor, h: Option<&Tensor>) -> Tensor {
        self.cell.step("RNNCell", x, h, None).0
    }
}
cell_module!(RNNCell, "RNNCell");

/// Options of an [`LSTMCell`] (PyTorch's defaults: with bias, tanh).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LSTMCellOptions {
    /// Whether the cell has `bias_ih` and `bias_hh`.
    pub bias: bool,
    /// The activation of the candidate `g` and of the cell output (the gates stay σ).
    pub activation: CellActivation,
}

impl Default for LSTMCellOptions {
    fn default() -> Self {
        LSTMCellOptions {
            bias: true,
            activation: CellActivation::Tanh,
        }
    }
}

impl LSTMCellOptions {
    /// PyTorch's defaults: with bias, tanh.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets whether the cell has biases.
    pub fn bias(mut self, bias: bool) -> Self {
        self.bias = bias;
        self
    }
    /// Sets the candidate and cell-output activation.
    pub fn activation(mut self, activation: CellActivation) -> Self {
        self.activation = activation;
        self
    }
}

/// An LSTM cell (gates `i, f, g, o`): `c' = σ(f)·c + σ(i)·act(g)`, `h' = σ(o)·act(c')`.
///
/// # Shape
///
/// - Input `x`: `(N, H_in)` or unbatched `(H_in)`, `H_in = input_size`.
/// - State `(h, c)`, each: `(N, H)` or `(H)`, `H = hidden_size`; zeros when not given.
/// - Output: the next state `(h, c)`, each, `(N, H)` or `(H)`.
///
/// ```
/// use ferrite::nn::LSTMCell;
/// use ferrite::Tensor;
/// let cell = LSTMCell::new(3, 4).unwrap();
/// let (h, c) = cell.step(&Tensor::randn([2, 3]), None);
/// let (h, c) = cell.step(&Tensor::randn([2, 3]), Some((&h, &c)));
/// assert_eq!((h.dims(), c.dims()), (&[2, 4][..], &[2, 4][..]));
/// ```
pub struct LSTMCell {
    cell: Cell,
}

impl LSTMCell {
    /// A tanh cell with biases and fresh weights `U(±1/√H)`; zero sizes are errors.
    pub fn new(input_size: usize, hidden_size: usize) -> Result<LSTMCell> {
        LSTMCell::with_options(input_size, hidden_size, LSTMCellOptions::default())
    }

    /// A cell with the given options; zero sizes are errors.
    pub fn with_options(
        input_size: usize,
        hidden_size: usize,
        options: LSTMCellOptions,
    ) -> Result<LSTMCell> {
        let kind = CellKind::Lstm(options.activation);
        Ok(LSTMCell {
            cell: Cell::new("LSTMCell", input_size, hidden_size, options.bias, kind)?,
        })
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

/// Options of a [`GRUCell`] (PyTorch's default: with bias).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GRUCellOptions {
    /// Whether the cell has `bias_ih` and `bias_hh`.
    pub bias: bool,
}

impl Default for GRUCellOptions {
    fn default() -> Self {
        GRUCellOptions { bias: true }
    }
}

impl GRUCellOptions {
    /// PyTorch's default: with bias.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets whether the cell has biases.
    pub fn bias(mut self, bias: bool) -> Self {
        self.bias = bias;
        self
    }
}

/// A GRU cell (gates `r, z, n`): `n = tanh(W_in x + b_in + r·(W_hn h + b_hn))`,
/// `h' = (1 − z)·n + z·h`.
///
/// # Shape
///
/// - Input `x`: `(N, H_in)` or unbatched `(H_in)`, `H_in = input_size`.
/// - State `h`: `(N, H)` or `(H)`, `H = hidden_size`; zeros when not given.
/// - Output: the next state `h`, `(N, H)` or `(H)`.
///
/// ```
/// use ferrite::nn::{GRUCell, GRUCellOptions, Module};
/// use ferrite::Tensor;
/// let cell = GRUCell::with_options(3, 4, GRUCellOptions::new().bias(false)).unwrap();
/// let h = cell.step(&Tensor::randn([3]), None);
/// assert_eq!(h.dims(), &[4]);
/// assert_eq!(cell.named_parameters().len(), 2);
/// ```
pub struct GRUCell {
    cell: Cell,
}

impl GRUCell {
    /// A cell with biases and fresh weights `U(±1/√H)`; zero sizes are errors.
    pub fn new(input_size: usize, hidden_size: usize) -> Result<GRUCell> {
        GRUCell::with_options(input_size, hidden_size, GRUCellOptions::default())
    }

    /// A cell with the given options; zero sizes are errors.
    pub fn with_options(
        input_size: usize,
        hidden_size: usize,
        options: GRUCellOptions,
    ) -> Result<GRUCell> {
        Ok(GRUCell {
            cell: Cell::new(
                "GRUCell",
                input_size,
                hidden_size,
                options.bias,
                CellKind::Gru,
            )?,
        })
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
        let cell = LSTMCell::new(3, 2).unwrap();
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
        let lstm = LSTMCell::new(3, 2).unwrap();
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
        let gru = GRUCell::new(3, 2).unwrap();
        let mut inputs = vec![x.clone(), h.clone()];
        inputs.extend(gru.parameters());
        gradcheck(|v| gru.step(&v[0], Some(&v[1])), &inputs).unwrap();
        let rnn = RNNCell::with_options(
            3,
            2,
            RNNCellOptions::new().nonlinearity(CellActivation::Tanh),
        )
        .unwrap();
        let mut inputs = vec![x, h];
        inputs.extend(rnn.parameters());
        gradcheck(|v| rnn.step(&v[0], Some(&v[1])), &inputs).unwrap();
    }

    #[test]
    fn bad_sizes_are_errors_naming_the_cell_and_the_parameter() {
        let e = LSTMCell::new(3, 0).err().expect("an error").to_string();
        assert_eq!(e, "invalid LSTMCell hidden_size: must be at least 1, got 0");
        let e = GRUCell::new(0, 2).err().expect("an error").to_string();
        assert_eq!(e, "invalid GRUCell input_size: must be at least 1, got 0");
        let e = RNNCell::with_options(2, 0, RNNCellOptions::new().bias(false))
            .err()
            .expect("an error")
            .to_string();
        assert_eq!(e, "invalid RNNCell hidden_size: must be at least 1, got 0");
        let lstm = LSTMCell::with_options(2, 3, LSTMCellOptions::new().bias(false)).unwrap();
        let names: Vec<String> = lstm
            .named_parameters()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(names, ["weight_ih", "weight_hh"]);
    }
}
