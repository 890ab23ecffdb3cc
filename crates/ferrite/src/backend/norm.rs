//! Batch normalisation: the fused forward pass with its saved statistics, the backward pass and the running-statistics update.

/// Batch normalisation: the fused forward pass with its saved statistics, the backward pass and the running-statistics update.
pub trait NormOps: Sized {}
