//! The CPU implementation of [`crate::backend::NormOps`].

use super::CpuStorage;
use crate::backend::NormOps;

impl NormOps for CpuStorage {}
