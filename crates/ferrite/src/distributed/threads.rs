//! [`ThreadGroup`]: ranks that are threads of one process, meeting in shared memory. It runs
//! the distributed training path (sharding, gradient all-reduce, shared metrics) without an
//! MPI installation, which is how the library's tests check it.

use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use super::host::HostData;
use super::{error, Communicator, ReduceOp};
use crate::error::Result;
use crate::Tensor;

/// How long a rank waits for the others at a collective before it gives up, by default.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// A group of ranks in one process, one [`ThreadCommunicator`] per rank: hand each to its
/// own thread.
pub struct ThreadGroup;

impl ThreadGroup {
    /// The communicators of `world_size` ranks, in rank order.
    ///
    /// # Panics
    /// When `world_size` is 0.
    pub fn ranks(world_size: usize) -> Vec<ThreadCommunicator> {
        assert!(
            world_size > 0,
            "ThreadGroup::ranks: world_size must be at least 1"
        );
        let shared = Arc::new(Shared {
            world_size,
            state: Mutex::new(State {
                generation: 0,
                arrived: 0,
                slots: vec![None; world_size],
                result: Arc::new(Vec::new()),
                failed: None,
            }),
            turn: Condvar::new(),
        });
        (0..world_size)
            .map(|rank| ThreadCommunicator {
                rank,
                shared: shared.clone(),
                timeout: DEFAULT_TIMEOUT,
            })
            .collect()
    }
}

/// One rank of a [`ThreadGroup`].
pub struct ThreadCommunicator {
    rank: usize,
    shared: Arc<Shared>,
    timeout: Duration,
}

struct Shared {
    world_size: usize,
    state: Mutex<State>,
    turn: Condvar,
}

/// One collective at a time: every rank deposits its values, the last to arrive combines
/// them (in rank order, so every rank gets the same bits) and opens the next generation.
struct State {
    generation: u64,
    arrived: usize,
    slots: Vec<Option<Vec<f64>>>,
    result: Arc<Vec<f64>>,
    /// Set when a rank gave up or aborted: every later collective fails at once.
    failed: Option<String>,
}

impl ThreadCommunicator {
    /// Waits at most `timeout` for the other ranks at each collective (60 s by default).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Deposits `values` for the collective `what` and returns what `combine` makes of all
    /// ranks' values.
    fn collective(
        &self,
        what: &str,
        values: Vec<f64>,
        combine: impl FnOnce(&[Option<Vec<f64>>]) -> Vec<f64>,
    ) -> Result<Arc<Vec<f64>>> {
        let mut state = self.shared.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(why) = &state.failed {
            return Err(error(self, format!("{what}: the group has failed: {why}")));
        }
        let generation = state.generation;
        state.slots[self.rank] = Some(values);
        state.arrived += 1;
        if state.arrived == self.shared.world_size {
            state.result = Arc::new(combine(&state.slots));
            state.slots.iter_mut().for_each(|s| *s = None);
            state.arrived = 0;
            state.generation += 1;
            self.shared.turn.notify_all();
            return Ok(state.result.clone());
        }
        let deadline = Instant::now() + self.timeout;
        while state.generation == generation {
            if let Some(why) = &state.failed {
                return Err(error(self, format!("{what}: the group has failed: {why}")));
            }
            let now = Instant::now();
            if now >= deadline {
                let missing: Vec<String> = (0..self.shared.world_size)
                    .filter(|&r| state.slots[r].is_none())
                    .map(|r| r.to_string())
                    .collect();
                let why = format!(
                    "rank {} waited {:.0?} in {what} for rank(s) {}, which did not arrive",
                    self.rank,
                    self.timeout,
                    missing.join(", ")
                );
                state.failed = Some(why.clone());
                self.shared.turn.notify_all();
                return Err(error(self, why));
            }
            state = self
                .shared
                .turn
                .wait_timeout(state, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        Ok(state.result.clone())
    }
}

impl Communicator for ThreadCommunicator {
    fn rank(&self) -> usize {
        self.rank
    }

    fn world_size(&self) -> usize {
        self.shared.world_size
    }

    fn all_reduce(&self, tensor: &Tensor, op: ReduceOp) -> Result<()> {
        let host = HostData::of(tensor);
        let n = tensor.numel();
        let combined = self.collective("all_reduce", host.to_f64(), |slots| {
            let mut out = slots[0].clone().unwrap_or_default();
            for s in slots[1..].iter().flatten() {
                for (o, &v) in out.iter_mut().zip(s) {
                    *o = match op {
                        ReduceOp::Sum => *o + v,
                        ReduceOp::Max => o.max(v),
                        ReduceOp::Min => o.min(v),
                    };
                }
            }
            out
        })?;
        if combined.len() != n {
            return Err(error(
                self,
                format!("all_reduce: the ranks passed tensors of different sizes ({n} here)"),
            ));
        }
        HostData::from_f64_like(&combined, &host).write_into(tensor);
        Ok(())
    }

    fn broadcast(&self, tensor: &Tensor, root: usize) -> Result<()> {
        if root >= self.shared.world_size {
            return Err(error(self, format!("broadcast: no rank {root}")));
        }
        let host = HostData::of(tensor);
        let n = tensor.numel();
        let values = if self.rank == root {
            host.to_f64()
        } else {
            Vec::new()
        };
        let combined = self.collective("broadcast", values, |slots| {
            slots[root].clone().unwrap_or_default()
        })?;
        if combined.len() != n {
            return Err(error(
                self,
                format!(
                    "broadcast: rank {root} sent {} values for a tensor of {n}",
                    combined.len()
                ),
            ));
        }
        if self.rank != root {
            HostData::from_f64_like(&combined, &host).write_into(tensor);
        }
        Ok(())
    }

    fn barrier(&self) -> Result<()> {
        self.collective("barrier", Vec::new(), |_| Vec::new())
            .map(|_| ())
    }

    fn backend(&self) -> &'static str {
        "threads"
    }

    /// Marks the group failed, so that the other ranks' collectives end with an error at
    /// once, then ends this thread by panicking (the process stays up, as threads share it).
    fn abort(&self, code: i32) -> ! {
        let mut state = self.shared.state.lock().unwrap_or_else(|e| e.into_inner());
        state.failed = Some(format!("rank {} aborted with code {code}", self.rank));
        self.shared.turn.notify_all();
        drop(state);
        panic!(
            "rank {} aborted the thread group with code {code}",
            self.rank
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on_ranks<T: Send + 'static>(
        world: usize,
        f: impl Fn(ThreadCommunicator) -> T + Send + Sync + 'static,
    ) -> Vec<T> {
        let f = Arc::new(f);
        let handles: Vec<_> = ThreadGroup::ranks(world)
            .into_iter()
            .map(|c| {
                let f = f.clone();
                std::thread::spawn(move || f(c))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    }

    #[test]
    fn all_reduce_and_broadcast_give_every_rank_the_same_values() {
        let got = on_ranks(3, |c| {
            let r = c.rank() as f32;
            let t = Tensor::from_vec(vec![r, -r, 10.0 * r], [3]);
            c.all_reduce(&t, ReduceOp::Sum).unwrap();
            let m = Tensor::from_vec(vec![r, -r], [2]);
            c.all_reduce(&m, ReduceOp::Max).unwrap();
            let b = Tensor::from_f64(vec![r as f64 + 0.5; 2], [2]);
            c.broadcast(&b, 2).unwrap();
            c.barrier().unwrap();
            (t.to_vec(), m.to_vec(), b.to_vec_f64(), b.dtype())
        });
        for (t, m, b, dtype) in got {
            assert_eq!(t, vec![3.0, -3.0, 30.0]);
            assert_eq!(m, vec![2.0, 0.0]);
            assert_eq!(b, vec![2.5, 2.5]);
            assert_eq!(dtype, crate::DType::F64);
        }
    }

    #[test]
    fn a_rank_that_never_arrives_fails_the_others_within_the_timeout() {
        let got = on_ranks(2, |c| {
            let c = c.timeout(Duration::from_millis(200));
            if c.rank() == 1 {
                return Ok(()); // leaves without joining the collective
            }
            let started = Instant::now();
            let r = c.all_reduce(&Tensor::ones([2]), ReduceOp::Sum);
            assert!(started.elapsed() < Duration::from_secs(5));
            r
        });
        let message = got[0].as_ref().unwrap_err().to_string();
        assert!(
            message.contains("rank 0 of 2") && message.contains("for rank(s) 1"),
            "{message}"
        );
    }
}
