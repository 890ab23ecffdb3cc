//! The device-neutral description of a recurrent layer's direction: its activation and the
//! sizes and row order of its sequence buffers.

/// The activation of an RNN's hidden state, or of an LSTM's candidate and cell output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum CellActivation {
    /// Hyperbolic tangent (PyTorch's and Keras' default).
    #[default]
    Tanh,
    /// `max(x, 0)` (PyTorch's `nonlinearity='relu'`, Keras' `activation='relu'`).
    Relu,
}

impl CellActivation {
    /// The derivative expressed through the output `y = act(x)`: `1 − y²` or `[y > 0]`.
    #[inline(always)]
    pub fn derivative_from_output(self, y: f32) -> f32 {
        match self {
            CellActivation::Tanh => 1.0 - y * y,
            CellActivation::Relu => {
                if y > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
        }
    }
}

/// Shape of one direction of a recurrent layer over a sequence.
///
/// Sequence buffers hold one row per (time, batch) pair, batch-first (`n·T + t`) or time-major
/// (`t·N + n`), so neither inputs nor outputs are transposed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SeqDims {
    /// Time steps `T`.
    pub steps: usize,
    /// Batch size `N`.
    pub batch: usize,
    /// Hidden size `H`.
    pub hidden: usize,
    /// Rows ordered `(n, t)` instead of `(t, n)`.
    pub batch_first: bool,
    /// Process time positions `T−1, …, 0` (the reverse direction of a bidirectional layer).
    pub reverse: bool,
}

impl SeqDims {
    /// The row of time position `t`, batch entry `n`.
    #[inline(always)]
    pub fn row(&self, t: usize, n: usize) -> usize {
        if self.batch_first {
            n * self.steps + t
        } else {
            t * self.batch + n
        }
    }

    /// Rows between consecutive batch entries of one time position.
    #[inline(always)]
    pub fn batch_row_stride(&self) -> usize {
        if self.batch_first {
            self.steps
        } else {
            1
        }
    }

    /// The time position processed at step `s`.
    #[inline(always)]
    pub fn position(&self, s: usize) -> usize {
        if self.reverse {
            self.steps - 1 - s
        } else {
            s
        }
    }

    /// Rows in a sequence buffer: `T·N`.
    pub fn rows(&self) -> usize {
        self.steps * self.batch
    }
}
