//! The CPU backend: the only place in Ferrite with raw loops over tensor data.

#[cfg(target_arch = "x86_64")]
pub mod amx;
#[cfg(target_arch = "x86_64")]
pub mod avx512;
pub mod conv;
#[cfg(target_arch = "x86_64")]
pub mod conv_direct;
pub mod elementwise;
pub mod index;
pub(crate) mod isa;
pub mod linear;
pub mod loss;
pub mod matmul;
pub mod norm;
pub mod optim;
pub mod parallel;
pub mod pool;
pub mod reduce;
pub mod rnn;
#[cfg(target_arch = "x86_64")]
pub mod sgemm;
mod storage;
pub mod strided;

pub use storage::CpuStorage;
