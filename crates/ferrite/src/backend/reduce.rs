//! Reductions: sums, extrema with their indices, products, scans, softmax and log-softmax.

/// Reductions: sums, extrema with their indices, products, scans, softmax and log-softmax.
pub trait ReduceOps: Sized {}
