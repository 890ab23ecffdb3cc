//! Random fills drawn from a generator.

/// Random fills drawn from a generator.
pub trait RandomOps: Sized {}
