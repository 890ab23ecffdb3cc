//! The CPU implementation of [`crate::backend::OptimOps`].

use super::CpuStorage;
use crate::backend::OptimOps;

impl OptimOps for CpuStorage {}
