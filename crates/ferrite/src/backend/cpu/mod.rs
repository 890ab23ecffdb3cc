//! The CPU backend: the only place in Ferrite with raw loops over tensor data.

pub mod elementwise;
pub mod index;
pub mod matmul;
pub mod reduce;
pub mod strided;
