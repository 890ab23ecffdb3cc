//! The CPU implementation of [`crate::backend::RandomOps`].

use super::CpuStorage;
use crate::backend::RandomOps;

impl RandomOps for CpuStorage {}
