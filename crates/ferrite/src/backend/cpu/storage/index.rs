//! The CPU implementation of [`crate::backend::IndexOps`].

use super::CpuStorage;
use crate::backend::IndexOps;

impl IndexOps for CpuStorage {}
