//! The CPU implementation of [`crate::backend::ReduceOps`].

use super::CpuStorage;
use crate::backend::ReduceOps;

impl ReduceOps for CpuStorage {}
