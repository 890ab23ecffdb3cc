//! [`MpiCommunicator`]: the ranks of an `mpirun` job, through the `mpi` crate (rsmpi) on the
//! system's MPI library (Open MPI, MPICH).

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mpi::collective::SystemOperation;
use mpi::topology::SimpleCommunicator;
use mpi::traits::{Communicator as _, CommunicatorCollectives, Root};

use super::host::HostData;
use super::{error, Communicator, ReduceOp};
use crate::error::Result;
use crate::Tensor;

/// How long a collective may wait for the other ranks before this rank gives up, unless
/// `FERRITE_MPI_TIMEOUT` (seconds) says otherwise.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// The processes of an MPI job (`MPI_COMM_WORLD`).
///
/// A rank that dies is noticed by `mpirun`, which ends the others at once. A rank that stops
/// answering without dying (a hung process, a lost host) is caught by a watchdog: a
/// collective that has waited longer than the timeout (`FERRITE_MPI_TIMEOUT` seconds, 300 by
/// default) prints which collective and rank waited, and ends the process, so that the job
/// ends instead of hanging.
pub struct MpiCommunicator {
    world: SimpleCommunicator,
    /// Receive buffers kept between all-reduces: a fresh zeroed buffer per call costs a page
    /// fault per 4 KiB, more than the reduction itself on one host.
    received: RefCell<(Vec<f32>, Vec<f64>, Vec<i64>)>,
    watchdog: Arc<Watchdog>,
    // Dropped last: finalises MPI.
    _universe: mpi::environment::Universe,
}

/// When the current collective started (milliseconds since `start`, plus one; 0 when none
/// is running) and what it is.
struct Watchdog {
    start: Instant,
    busy_since: AtomicU64,
    what: Mutex<&'static str>,
    timeout: Duration,
    rank: usize,
    world_size: usize,
}

impl Watchdog {
    fn watch(&self) {
        loop {
            std::thread::sleep(Duration::from_millis(200));
            let since = self.busy_since.load(Ordering::Acquire);
            if since == 0 {
                continue;
            }
            let waited = self.start.elapsed().as_millis() as u64 - (since - 1);
            if waited > self.timeout.as_millis() as u64 {
                let what = *self.what.lock().unwrap_or_else(|e| e.into_inner());
                eprintln!(
                    "error: distributed training, rank {} of {}: no answer from the other ranks \
                     for {} s in {what}: a rank has died or hangs, so this rank ends too \
                     (FERRITE_MPI_TIMEOUT sets the wait, in seconds); nothing was saved",
                    self.rank,
                    self.world_size,
                    self.timeout.as_secs()
                );
                std::process::exit(1);
            }
        }
    }
}

/// Marks a collective as running while it lives.
struct Busy<'a>(&'a Watchdog);

impl<'a> Busy<'a> {
    fn enter(w: &'a Watchdog, what: &'static str) -> Busy<'a> {
        *w.what.lock().unwrap_or_else(|e| e.into_inner()) = what;
        let now = w.start.elapsed().as_millis() as u64 + 1;
        w.busy_since.store(now, Ordering::Release);
        Busy(w)
    }
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.0.busy_since.store(0, Ordering::Release);
    }
}

impl MpiCommunicator {
    /// Initialises MPI (once per process) and joins `MPI_COMM_WORLD`.
    pub fn init() -> Result<MpiCommunicator> {
        let timeout = match std::env::var("FERRITE_MPI_TIMEOUT") {
            Ok(raw) => match raw.trim().parse::<f64>() {
                Ok(s) if s > 0.0 && s.is_finite() => Duration::from_secs_f64(s),
                _ => {
                    return Err(crate::FerriteError::invalid(
                        "FERRITE_MPI_TIMEOUT",
                        format!("must be a positive number of seconds, got {raw:?}"),
                    ))
                }
            },
            Err(_) => DEFAULT_TIMEOUT,
        };
        let universe = mpi::initialize().ok_or_else(|| crate::FerriteError::Distributed {
            rank: 0,
            world_size: 1,
            message: "MPI could not be initialised (was it initialised already?)".into(),
        })?;
        let world = universe.world();
        let watchdog = Arc::new(Watchdog {
            start: Instant::now(),
            busy_since: AtomicU64::new(0),
            what: Mutex::new(""),
            timeout,
            rank: world.rank() as usize,
            world_size: world.size() as usize,
        });
        let watching = watchdog.clone();
        std::thread::Builder::new()
            .name("ferrite-mpi-watchdog".into())
            .spawn(move || watching.watch())
            .map_err(|e| crate::FerriteError::Distributed {
                rank: watchdog.rank,
                world_size: watchdog.world_size,
                message: format!("cannot start the watchdog thread: {e}"),
            })?;
        Ok(MpiCommunicator {
            world,
            received: RefCell::new((Vec::new(), Vec::new(), Vec::new())),
            watchdog,
            _universe: universe,
        })
    }

    /// The name of the host this rank runs on.
    pub fn processor_name(&self) -> String {
        mpi::environment::processor_name().unwrap_or_else(|_| "?".into())
    }
}

impl MpiCommunicator {
    /// All-reduces `send` through the kept buffer `kept` and returns the result; `send`'s
    /// allocation becomes the kept buffer for the next call.
    fn reduce_into<T: mpi::traits::Equivalence + Copy + Default>(
        &self,
        mut send: Vec<T>,
        kept: &mut Vec<T>,
        op: SystemOperation,
    ) -> Vec<T> {
        kept.resize(send.len(), T::default());
        self.world.all_reduce_into(&send[..], &mut kept[..], op);
        std::mem::swap(&mut send, kept);
        send
    }
}

fn operation(op: ReduceOp) -> SystemOperation {
    match op {
        ReduceOp::Sum => SystemOperation::sum(),
        ReduceOp::Max => SystemOperation::max(),
        ReduceOp::Min => SystemOperation::min(),
    }
}

impl Communicator for MpiCommunicator {
    fn rank(&self) -> usize {
        self.world.rank() as usize
    }

    fn world_size(&self) -> usize {
        self.world.size() as usize
    }

    fn all_reduce(&self, tensor: &Tensor, op: ReduceOp) -> Result<()> {
        let op = operation(op);
        let reduced = {
            let _busy = Busy::enter(&self.watchdog, "all_reduce");
            let mut received = self.received.borrow_mut();
            let (f32s, f64s, i64s) = &mut *received;
            match HostData::of(tensor) {
                HostData::F32(v) => HostData::F32(self.reduce_into(v, f32s, op)),
                HostData::F64(v) => HostData::F64(self.reduce_into(v, f64s, op)),
                HostData::I64(v) => HostData::I64(self.reduce_into(v, i64s, op)),
            }
        };
        reduced.write_into(tensor);
        Ok(())
    }

    fn broadcast(&self, tensor: &Tensor, root: usize) -> Result<()> {
        if root >= self.world_size() {
            return Err(error(self, format!("broadcast: no rank {root}")));
        }
        let received = {
            let _busy = Busy::enter(&self.watchdog, "broadcast");
            let from = self.world.process_at_rank(root as i32);
            match HostData::of(tensor) {
                HostData::F32(mut v) => {
                    from.broadcast_into(&mut v[..]);
                    HostData::F32(v)
                }
                HostData::F64(mut v) => {
                    from.broadcast_into(&mut v[..]);
                    HostData::F64(v)
                }
                HostData::I64(mut v) => {
                    from.broadcast_into(&mut v[..]);
                    HostData::I64(v)
                }
            }
        };
        if self.rank() != root {
            received.write_into(tensor);
        }
        Ok(())
    }

    /// Starts a non-blocking all-reduce (`MPI_Iallreduce`) for each f32 tensor as it comes,
    /// testing the ones in flight each time so that MPI moves them on while backward runs, and
    /// waits for all at the end; a tensor of another type is reduced at once (blocking).
    fn all_reduce_overlapped(
        &self,
        counts: &[usize],
        op: ReduceOp,
        produce: super::Producer<'_>,
    ) -> Result<()> {
        let reduce_op = op;
        let op = operation(op);
        let mut send: Vec<Vec<f32>> = vec![Vec::new(); counts.len()];
        let mut recv: Vec<Vec<f32>> = counts.iter().map(|&n| vec![0f32; n]).collect();
        let mut targets: Vec<Tensor> = Vec::new();
        let mut failure = None;
        mpi::request::scope(|scope| {
            let mut slots = send.iter_mut().zip(recv.iter_mut());
            let mut in_flight = Vec::new();
            produce(&mut |t: &Tensor| {
                if failure.is_some() {
                    return;
                }
                let slot = slots.next().filter(|(_, r)| r.len() == t.numel());
                if t.dtype() != crate::DType::F32 {
                    // Every rank reaches this same tensor here: a blocking all-reduce keeps
                    // the order of collectives the same on all of them.
                    failure = self.all_reduce(t, reduce_op).err();
                    return;
                }
                match slot {
                    Some((s, r)) => {
                        *s = t.to_vec();
                        let s: &Vec<f32> = s;
                        let request =
                            self.world
                                .immediate_all_reduce_into(scope, &s[..], &mut r[..], op);
                        in_flight.push(request);
                        targets.push(t.clone());
                        // Testing lets MPI progress the earlier requests while we compute.
                        in_flight = std::mem::take(&mut in_flight)
                            .into_iter()
                            .filter_map(|r| r.test().err())
                            .collect();
                    }
                    None => {
                        failure = Some(error(
                            self,
                            format!(
                                "all_reduce_overlapped: tensor {} ({} f32 values expected) does \
                                 not match the announced buckets",
                                targets.len() + 1,
                                counts.get(targets.len()).copied().unwrap_or(0)
                            ),
                        ));
                    }
                }
            });
            let _busy = Busy::enter(&self.watchdog, "all_reduce");
            for request in in_flight {
                request.wait_without_status();
            }
        });
        if let Some(e) = failure {
            return Err(e);
        }
        for (t, r) in targets.iter().zip(recv) {
            HostData::F32(r).write_into(t);
        }
        Ok(())
    }

    fn barrier(&self) -> Result<()> {
        let _busy = Busy::enter(&self.watchdog, "barrier");
        self.world.barrier();
        Ok(())
    }

    fn backend(&self) -> &'static str {
        "mpi"
    }

    fn abort(&self, code: i32) -> ! {
        self.world.abort(code)
    }
}
