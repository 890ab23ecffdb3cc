//! Convolution: the fused 2-D forward pass and its backward pass.

/// Convolution: the fused 2-D forward pass and its backward pass.
pub trait ConvOps: Sized {}
