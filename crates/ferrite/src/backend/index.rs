//! Gathers and scatters: index_select, index_add, gather, scatter_add and cat.

/// Gathers and scatters: index_select, index_add, gather, scatter_add and cat.
pub trait IndexOps: Sized {}
