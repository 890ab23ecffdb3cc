//! The fused losses that compute their local gradients with the value.

/// The fused losses that compute their local gradients with the value.
pub trait LossOps: Sized {}
