//! Background workers that gather a [`DataLoader`](super::DataLoader)'s next batches while
//! the current one trains (PyTorch's `num_workers`): decoding or augmenting in a dataset's
//! `gather` then overlaps the training arithmetic.

use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;
use std::thread::JoinHandle;

use super::Dataset;

/// Batches a worker has gathered ahead, per worker.
const AHEAD: usize = 2;

/// One gathered batch: features, targets and the shapes of one sample's features and target.
pub(super) type Gathered = (Vec<f32>, Vec<f32>, Vec<usize>, Vec<usize>);

/// Starts the workers of one epoch: `(order, batch_size, batches) -> Prefetch`.
pub(super) type Spawner = Arc<dyn Fn(Arc<Vec<usize>>, usize, usize) -> Prefetch + Send + Sync>;

/// The workers of one epoch: worker `w` gathers batches `w, w + W, w + 2W, …` into a
/// bounded channel, so batches come back in order and at most `W · AHEAD` wait in memory.
pub(super) struct Prefetch {
    receivers: Vec<Receiver<Gathered>>,
    workers: Vec<Option<JoinHandle<()>>>,
    next: usize,
}

/// The spawner of `workers` threads over `dataset`.
pub(super) fn spawner<D: Dataset + Send + Sync + 'static>(
    dataset: Arc<D>,
    workers: usize,
) -> Spawner {
    Arc::new(
        move |order: Arc<Vec<usize>>, batch_size: usize, batches: usize| {
            let mut receivers = Vec::with_capacity(workers);
            let mut handles = Vec::with_capacity(workers);
            for w in 0..workers {
                let (send, receive) = sync_channel::<Gathered>(AHEAD);
                let (dataset, order) = (dataset.clone(), order.clone());
                let handle = std::thread::Builder::new()
                    .name(format!("ferrite-loader-{w}"))
                    .spawn(move || {
                        for b in (w..batches).step_by(workers) {
                            let start = b * batch_size;
                            let end = (start + batch_size).min(order.len());
                            let (mut fx, mut fy) = (Vec::new(), Vec::new());
                            let (x_dims, y_dims) =
                                dataset.gather(&order[start..end], &mut fx, &mut fy);
                            // The loader was dropped mid-epoch: stop.
                            if send.send((fx, fy, x_dims, y_dims)).is_err() {
                                return;
                            }
                        }
                    });
                match handle {
                    Ok(h) => {
                        receivers.push(receive);
                        handles.push(Some(h));
                    }
                    // Without threads, the batches are gathered on the caller (see `take`).
                    Err(_) => break,
                }
            }
            Prefetch {
                receivers,
                workers: handles,
                next: 0,
            }
        },
    )
}

impl Prefetch {
    /// The next batch in order, or `None` when no worker could start. A worker that
    /// panicked (a dataset's `gather` failed) re-raises its panic here, on the caller.
    pub(super) fn take(&mut self) -> Option<Gathered> {
        if self.receivers.is_empty() {
            return None;
        }
        let w = self.next % self.receivers.len();
        self.next += 1;
        match self.receivers[w].recv() {
            Ok(batch) => Some(batch),
            Err(_) => {
                // The worker ended without sending: it panicked.
                if let Some(Err(panic)) = self.workers[w].take().map(JoinHandle::join) {
                    std::panic::resume_unwind(panic);
                }
                panic!("DataLoader worker {w} stopped before its batch");
            }
        }
    }
}
