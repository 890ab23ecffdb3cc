//! The CPU implementation of [`crate::backend::MatmulOps`].

use super::CpuStorage;
use crate::backend::MatmulOps;

impl MatmulOps for CpuStorage {}
