//! The fully connected layer `x·Wᵀ + b` and its bias gradient.

/// The fully connected layer `x·Wᵀ + b` and its bias gradient.
pub trait LinearOps: Sized {}
