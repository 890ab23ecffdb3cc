//! The CPU implementation of [`crate::backend::LossOps`].

use super::CpuStorage;
use crate::backend::LossOps;

impl LossOps for CpuStorage {}
