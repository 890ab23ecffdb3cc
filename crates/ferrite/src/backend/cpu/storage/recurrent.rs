//! The CPU implementation of [`crate::backend::RecurrentOps`].

use super::CpuStorage;
use crate::backend::RecurrentOps;

impl RecurrentOps for CpuStorage {}
