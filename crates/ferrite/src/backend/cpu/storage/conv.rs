//! The CPU implementation of [`crate::backend::ConvOps`].

use super::CpuStorage;
use crate::backend::ConvOps;

impl ConvOps for CpuStorage {}
