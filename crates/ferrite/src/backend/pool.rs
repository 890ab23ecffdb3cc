//! Pooling: max (with the arg-max saved as an index buffer), average and adaptive average, forward and backward.

/// Pooling: max (with the arg-max saved as an index buffer), average and adaptive average, forward and backward.
pub trait PoolOps: Sized {}
