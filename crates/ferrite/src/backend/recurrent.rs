//! Recurrent sequences: one direction of an LSTM, GRU or Elman RNN over a whole sequence, forward and backward.

/// Recurrent sequences: one direction of an LSTM, GRU or Elman RNN over a whole sequence, forward and backward.
pub trait RecurrentOps: Sized {}
