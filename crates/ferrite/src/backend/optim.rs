//! In-place optimizer updates on parameters and their state buffers, norms and scaling for gradient clipping, and initialisation fills.

/// In-place optimizer updates on parameters and their state buffers, norms and scaling for gradient clipping, and initialisation fills.
pub trait OptimOps: Sized {}
