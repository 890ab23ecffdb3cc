//! Batched matrix products with broadcast batch dimensions.

/// Batched matrix products with broadcast batch dimensions.
pub trait MatmulOps: Sized {}
