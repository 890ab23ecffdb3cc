//! The CPU implementation of [`crate::backend::PoolOps`].

use super::CpuStorage;
use crate::backend::PoolOps;

impl PoolOps for CpuStorage {}
