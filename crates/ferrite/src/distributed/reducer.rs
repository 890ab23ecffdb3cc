//! [`GradientReducer`]: the gradients of a model averaged across ranks, bucket by bucket.

use super::{Communicator, ReduceOp};
use crate::error::Result;
use crate::Tensor;

/// The largest bucket of gradients sent in one all-reduce: 4 MiB (DDP's default is 25 MB;
/// a few megabytes already amortise a collective's latency, and keep the extra copy small).
pub const BUCKET_BYTES: usize = 4 << 20;

/// Averages the gradients of a fixed list of parameters across the ranks of a
/// [`Communicator`], as DDP's reducer does: the parameters are grouped, in reverse order
/// (the order backward produces their gradients), into buckets of at most
/// [`BUCKET_BYTES`] of one dtype and device; each bucket's gradients are joined into one
/// tensor, summed across ranks with a single all-reduce, divided by the world size and
/// written back as the parameters' gradients.
///
/// A parameter without a gradient on this rank counts as a zero gradient, so every rank
/// sends buckets of the same size.
pub struct GradientReducer {
    buckets: Vec<Vec<Tensor>>,
}

impl GradientReducer {
    /// Buckets of at most `bucket_bytes` (one parameter larger than that gets a bucket alone).
    pub fn new(params: &[Tensor], bucket_bytes: usize) -> GradientReducer {
        let mut buckets: Vec<Vec<Tensor>> = Vec::new();
        let mut bytes = 0usize;
        for p in params.iter().rev() {
            let size = p.numel() * p.dtype().size_in_bytes();
            let fits = buckets.last().is_some_and(|b| {
                let first = &b[0];
                first.dtype() == p.dtype()
                    && first.device() == p.device()
                    && bytes + size <= bucket_bytes
            });
            if fits {
                bytes += size;
                buckets.last_mut().expect("a bucket").push(p.clone());
            } else {
                bytes = size;
                buckets.push(vec![p.clone()]);
            }
        }
        GradientReducer { buckets }
    }

    /// The number of buckets (one all-reduce each per step).
    pub fn num_buckets(&self) -> usize {
        self.buckets.len()
    }

    /// Replaces every parameter's gradient by the mean of its gradients over the ranks.
    pub fn all_reduce_mean(&self, comm: &dyn Communicator) -> Result<()> {
        if comm.world_size() == 1 {
            return Ok(());
        }
        for b in 0..self.buckets.len() {
            let joined = self.join(b);
            comm.all_reduce(&joined, ReduceOp::Sum)?;
            self.spread_mean(b, &joined, comm.world_size());
        }
        Ok(())
    }

    /// Backpropagates `loss` and averages the gradients across the ranks, sending each
    /// bucket as soon as backward has finished its gradients (buckets go in order, so every
    /// rank sends the same sequence), while backward goes on with the rest: DDP's overlap of
    /// communication with computation. The result is that of `loss.backward()` followed by
    /// [`all_reduce_mean`](GradientReducer::all_reduce_mean).
    pub fn backward(&self, loss: &Tensor, comm: &dyn Communicator) -> Result<()> {
        if comm.world_size() == 1 {
            loss.backward();
            return Ok(());
        }
        let bucket_of: std::collections::HashMap<usize, usize> = self
            .buckets
            .iter()
            .enumerate()
            .flat_map(|(b, ps)| ps.iter().map(move |p| (p.id(), b)))
            .collect();
        let counts: Vec<usize> = self
            .buckets
            .iter()
            .map(|ps| ps.iter().map(Tensor::numel).sum())
            .collect();
        let mut waiting: Vec<usize> = self.buckets.iter().map(Vec::len).collect();
        let mut joined: Vec<Tensor> = Vec::with_capacity(self.buckets.len());
        comm.all_reduce_overlapped(&counts, ReduceOp::Sum, &mut |send| {
            let mut launch_ready = |waiting: &[usize], joined: &mut Vec<Tensor>| {
                while joined.len() < waiting.len() && waiting[joined.len()] == 0 {
                    let bucket = self.join(joined.len());
                    send(&bucket);
                    joined.push(bucket);
                }
            };
            loss.backward_with_hook(&mut |leaf| {
                if let Some(&b) = bucket_of.get(&leaf.id()) {
                    waiting[b] = waiting[b].saturating_sub(1);
                    launch_ready(&waiting, &mut joined);
                }
            });
            // Parameters backward never reached (unused this step) count as zeros.
            waiting.iter_mut().for_each(|w| *w = 0);
            launch_ready(&waiting, &mut joined);
        })?;
        for (b, bucket) in joined.iter().enumerate() {
            self.spread_mean(b, bucket, comm.world_size());
        }
        Ok(())
    }

    /// Bucket `b`'s gradients joined into one flat tensor (zeros for a missing gradient).
    fn join(&self, b: usize) -> Tensor {
        let _no_grad = crate::no_grad();
        let flat: Vec<Tensor> = self.buckets[b]
            .iter()
            .map(|p| {
                let g = p.grad().unwrap_or_else(|| p.detach().zeros_like());
                g.reshape([g.numel()])
            })
            .collect();
        Tensor::cat(&flat, 0)
    }

    /// Gives bucket `b`'s parameters their part of `summed / world_size` as their gradients.
    fn spread_mean(&self, b: usize, summed: &Tensor, world_size: usize) {
        let _no_grad = crate::no_grad();
        let mean = summed * (1.0 / world_size as f32);
        let mut start = 0;
        for p in &self.buckets[b] {
            let n = p.numel();
            let piece = mean.narrow(0, start, n).reshape(p.dims()).detach_copy();
            p.set_grad(Some(piece));
            start += n;
        }
    }
}
