//! The CPU implementation of [`crate::backend::LinearOps`].

use super::CpuStorage;
use crate::backend::LinearOps;

impl LinearOps for CpuStorage {}
