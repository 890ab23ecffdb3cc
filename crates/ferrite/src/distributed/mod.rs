//! Data-parallel training over several processes, as PyTorch's `torch.distributed` with
//! `DistributedDataParallel` (DDP).
//!
//! A [`Communicator`] connects the processes of one job (its *ranks*) and offers the
//! collective operations training needs: all-reduce, broadcast and barrier, on tensors.
//! Three implement it:
//!
//! - [`SingleProcess`]: one rank, every operation a no-op (the default);
//! - [`ThreadGroup`]: ranks that are threads of one process, for tests and examples;
//! - `MpiCommunicator` (cargo feature `mpi`): the processes of an `mpirun` job, over Open MPI
//!   or any MPI library, on one machine or many.
//!
//! [`init_process_group`] makes a communicator this thread's default (PyTorch's
//! `dist.init_process_group`); [`fit`](crate::train::fit) then trains data-parallel, as DDP
//! does:
//!
//! - every rank starts from rank 0's weights and buffers (broadcast);
//! - every rank reads its own shard of each epoch's shuffled order (PyTorch's
//!   `DistributedSampler`: the order is padded to a multiple of the world size by repeating
//!   its start, and rank `r` takes positions `r, r + W, r + 2W, …`), so the batch size is
//!   the batch of one rank and a step sees `W ×` that many samples;
//! - the gradients are summed across ranks in buckets of [`BUCKET_BYTES`] and divided by
//!   the world size, so every rank applies the same mean gradient and the weights stay
//!   identical; each bucket is sent as soon as backward has finished its gradients
//!   ([`GradientReducer::backward`], with [`Tensor::backward_with_hook`]), so that
//!   communication overlaps the rest of backward;
//! - the epoch's loss and accuracy are summed across ranks, so every rank reports the metrics
//!   of the whole epoch; the validation data is scored whole on every rank (the weights are
//!   the same, so are the scores), and callbacks' stop decisions are shared, so all ranks
//!   stop after the same epoch;
//! - only rank 0 prints progress, and [`ModelCheckpoint`](crate::train::ModelCheckpoint)
//!   writes only on rank 0;
//! - batch-norm running statistics stay per rank, as in DDP: each rank normalises with the
//!   statistics of its own batches, and the running means of rank 0 are the ones saved.
//!
//! With the same seed, `W` ranks with batch `b` give the weights of one process with batch
//! `W·b` (up to float rounding) for a model without batch norm or dropout: the mean of `W`
//! equal-sized shard means is the mean of the whole batch.
//!
//! ```
//! use ferrite::distributed::{init_process_group, rank, world_size, ReduceOp, ThreadGroup};
//! use ferrite::Tensor;
//! // Two ranks in one process, each a thread with its own default group: each adds rank + 1.
//! let handles: Vec<_> = ThreadGroup::ranks(2)
//!     .into_iter()
//!     .map(|comm| std::thread::spawn(move || {
//!         let group = init_process_group(comm); // from here on, fit on this thread is DDP
//!         assert_eq!(world_size(), 2);
//!         let t = Tensor::full([3], (rank() + 1) as f32);
//!         group.all_reduce(&t, ReduceOp::Sum).unwrap();
//!         t.to_vec()
//!     }))
//!     .collect();
//! for h in handles {
//!     assert_eq!(h.join().unwrap(), vec![3.0, 3.0, 3.0]);
//! }
//! assert_eq!((rank(), world_size()), (0, 1)); // no group on this thread
//! ```

mod group;
mod host;
#[cfg(feature = "mpi")]
mod mpi;
mod reducer;
mod sampler;
mod single;
mod threads;

pub use group::{
    default_group, destroy_process_group, init_process_group, is_primary, rank, world_size,
};
#[cfg(feature = "mpi")]
pub use mpi::MpiCommunicator;
pub use reducer::{GradientReducer, BUCKET_BYTES};
pub use sampler::{shard_indices, shard_len};
pub use single::SingleProcess;
pub use threads::{ThreadCommunicator, ThreadGroup};

use crate::error::Result;
use crate::Tensor;

/// The work [`Communicator::all_reduce_overlapped`] runs: it hands each tensor to reduce to
/// the callback it is given, as the tensor becomes ready.
pub type Producer<'a> = &'a mut dyn FnMut(&mut dyn FnMut(&Tensor));

/// How [`Communicator::all_reduce`] combines the ranks' values, element by element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReduceOp {
    /// The sum (`dist.ReduceOp.SUM`).
    Sum,
    /// The largest value (`dist.ReduceOp.MAX`).
    Max,
    /// The smallest value (`dist.ReduceOp.MIN`).
    Min,
}

/// The processes of one distributed job and their collective operations, on tensors of any
/// device and type (a GPU implementation can keep them on the device; the host ones copy
/// through host memory).
///
/// Every rank must call the same collectives in the same order with tensors of the same
/// shape, as in MPI and `torch.distributed`. A collective that cannot complete (a rank died,
/// or stopped answering) returns [`FerriteError::Distributed`](crate::FerriteError) or ends
/// the process with a message; it never waits forever.
pub trait Communicator {
    /// This process's rank, `0..world_size()`.
    fn rank(&self) -> usize;
    /// The number of ranks.
    fn world_size(&self) -> usize;
    /// Replaces `tensor` on every rank with the element-wise `op` of all ranks' `tensor`s.
    fn all_reduce(&self, tensor: &Tensor, op: ReduceOp) -> Result<()>;
    /// Copies rank `root`'s `tensor` into every other rank's `tensor`.
    fn broadcast(&self, tensor: &Tensor, root: usize) -> Result<()>;
    /// Returns once every rank has called it.
    fn barrier(&self) -> Result<()>;
    /// All-reduces in place each tensor that `produce` hands to its callback, while `produce`
    /// goes on working, and returns once all are reduced: DDP's overlap of gradient buckets
    /// with the rest of backward. `counts` are the element counts of the tensors in the order
    /// they come, the same on every rank. The default reduces each one as it comes; the MPI
    /// version starts a non-blocking all-reduce for each f32 tensor and waits at the end.
    fn all_reduce_overlapped(
        &self,
        counts: &[usize],
        op: ReduceOp,
        produce: Producer<'_>,
    ) -> Result<()> {
        let _ = counts;
        let mut failure = None;
        produce(&mut |t| {
            if failure.is_none() {
                failure = self.all_reduce(t, op).err();
            }
        });
        failure.map_or(Ok(()), Err)
    }
    /// The implementation's name: `single`, `threads` or `mpi`.
    fn backend(&self) -> &'static str;
    /// Ends the whole job now with exit `code` (MPI's `MPI_Abort`): after an error on one rank,
    /// so that the others do not wait for it. The single-process and thread versions exit the
    /// process.
    fn abort(&self, code: i32) -> ! {
        std::process::exit(code)
    }
}

/// The `FerriteError::Distributed` of `comm` with `message`.
pub(crate) fn error(comm: &dyn Communicator, message: impl Into<String>) -> crate::FerriteError {
    crate::FerriteError::Distributed {
        rank: comm.rank(),
        world_size: comm.world_size(),
        message: message.into(),
    }
}
