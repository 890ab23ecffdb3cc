//! [`SingleProcess`]: the communicator of a job with one rank.

use super::{Communicator, ReduceOp};
use crate::error::Result;
use crate::Tensor;

/// One rank: every collective leaves its tensor as it is (PyTorch's world of size 1).
#[derive(Clone, Copy, Debug, Default)]
pub struct SingleProcess;

impl Communicator for SingleProcess {
    fn rank(&self) -> usize {
        0
    }
    fn world_size(&self) -> usize {
        1
    }
    fn all_reduce(&self, _tensor: &Tensor, _op: ReduceOp) -> Result<()> {
        Ok(())
    }
    fn broadcast(&self, _tensor: &Tensor, _root: usize) -> Result<()> {
        Ok(())
    }
    fn barrier(&self) -> Result<()> {
        Ok(())
    }
    fn backend(&self) -> &'static str {
        "single"
    }
}
