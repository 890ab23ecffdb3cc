//! The CPU backend's thread pool. Workers spin for a short while after each job before they
//! sleep, so the back-to-back kernels of a training step hand work over in well under a
//! microsecond instead of paying an operating-system wake-up (about 12 µs on a virtual
//! machine) each time. The calling thread always takes part, and claims every task itself
//! when no worker is free, so a call never waits for a wake-up and nested or concurrent calls
//! simply run on the caller.
//!
//! # Determinism
//!
//! With a seed, a training run gives the same weights, bit for bit, whatever the number of
//! threads (`FERRITE_NUM_THREADS`, read once per process; the machine's cores by default).
//! Every CPU kernel keeps to two rules for that:
//!
//! - Work is split across threads only where each output element is computed by one task
//!   from start to end (an image's convolution, a channel's statistics, a block of a
//!   matrix product's columns). Which thread runs it, and how many share the rest, then
//!   changes none of its roundings; the packed and tile matrix products give each element
//!   the same sequence of roundings wherever its block falls.
//! - Where partial sums must be combined (a convolution's weight and bias gradients sum over
//!   the images of a batch), the pieces are cut by the problem's size alone, never by the
//!   thread count, and added in piece order.
//!
//! The same holds on every instruction-set level (`FERRITE_ISA`), but not across levels:
//! the AVX-512, tile-unit and portable kernels round differently (see
//! [`super::isa`]), so the same run on two processors of different kinds may differ in the
//! last bits. The data pipeline's shuffling, dropout masks and initialisation draw from the
//! seeded generator on one thread, so they do not depend on the thread count either.

use std::mem::MaybeUninit;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How long an idle worker spins before it sleeps.
const SPIN: Duration = Duration::from_micros(2000);

/// One parallel loop: tasks `0..tasks` of `body`, claimed one at a time.
struct Job {
    /// The loop body; only called while the submitting thread waits in `run`.
    body: *const (dyn Fn(usize) + Sync),
    tasks: usize,
    next: AtomicUsize,
    done: AtomicUsize,
    panicked: AtomicBool,
}

// SAFETY: `body` is Sync and outlives every call made through it (see `run`); the other
// fields are atomics.
unsafe impl Send for Job {}
// SAFETY: as for Send: workers share a Job only to claim tasks through its atomics and call
// the Sync `body`.
unsafe impl Sync for Job {}

impl Job {
    /// Claims and runs tasks until none are left.
    fn work(&self) {
        loop {
            let i = self.next.fetch_add(1, Ordering::AcqRel);
            if i >= self.tasks {
                return;
            }
            // SAFETY: a claimed task exists, so `run` has not returned yet.
            let body = unsafe { &*self.body };
            if catch_unwind(AssertUnwindSafe(|| body(i))).is_err() {
                self.panicked.store(true, Ordering::Release);
            }
            self.done.fetch_add(1, Ordering::Release);
        }
    }
}

struct Pool {
    workers: usize,
    /// Bumped once per submitted job.
    epoch: AtomicUsize,
    current: Mutex<Option<Arc<Job>>>,
    /// Held by the one thread that is submitting; others run their loops alone.
    submit: Mutex<()>,
    sleepers: AtomicUsize,
    sleep_lock: Mutex<()>,
    wake: Condvar,
}

fn pool() -> &'static Pool {
    static POOL: OnceLock<&'static Pool> = OnceLock::new();
    POOL.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let setting = std::env::var("FERRITE_NUM_THREADS").ok();
        let (threads, warning) = thread_count(setting.as_deref(), cores);
        if let Some(w) = warning {
            eprintln!("ferrite: {w}");
        }
        let pool: &'static Pool = Box::leak(Box::new(Pool {
            workers: threads - 1,
            epoch: AtomicUsize::new(0),
            current: Mutex::new(None),
            submit: Mutex::new(()),
            sleepers: AtomicUsize::new(0),
            sleep_lock: Mutex::new(()),
            wake: Condvar::new(),
        }));
        for i in 0..pool.workers {
            // A pool that cannot start a worker still runs every loop on the caller.
            let _ = std::thread::Builder::new()
                .name(format!("ferrite-cpu-{i}"))
                .spawn(move || pool.worker());
        }
        pool
    })
}

impl Pool {
    fn worker(&self) {
        let mut seen = self.epoch.load(Ordering::Acquire);
        loop {
            let start = Instant::now();
            let mut spins = 0u32;
            while self.epoch.load(Ordering::Acquire) == seen {
                std::hint::spin_loop();
                spins = spins.wrapping_add(1);
                if spins.is_multiple_of(256) && start.elapsed() > SPIN {
                    let guard = self.sleep_lock.lock().unwrap_or_else(|e| e.into_inner());
                    self.sleepers.fetch_add(1, Ordering::SeqCst);
                    let mut guard = guard;
                    while self.epoch.load(Ordering::SeqCst) == seen {
                        guard = self.wake.wait(guard).unwrap_or_else(|e| e.into_inner());
                    }
                    self.sleepers.fetch_sub(1, Ordering::SeqCst);
                    drop(guard);
                    break;
                }
            }
            seen = self.epoch.load(Ordering::Acquire);
            let job = self
                .current
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .clone();
            if let Some(job) = job {
                job.work();
            }
        }
    }
}

/// The thread count for a `FERRITE_NUM_THREADS` setting on a machine with `cores` cores,
/// with the warning to print when the setting is not a positive whole number (the cores are
/// used then: a typo is reported, never silently obeyed or ignored).
fn thread_count(setting: Option<&str>, cores: usize) -> (usize, Option<String>) {
    let Some(raw) = setting else {
        return (cores, None);
    };
    match raw.trim().parse::<usize>() {
        Ok(n) if n > 0 => (n, None),
        _ => (
            cores,
            Some(format!(
                "FERRITE_NUM_THREADS={raw:?} is not a positive whole number; using the {cores} cores"
            )),
        ),
    }
}

/// Number of threads loops are spread over (the caller included): the machine's cores, or
/// `FERRITE_NUM_THREADS` when set.
pub(crate) fn threads() -> usize {
    #[cfg(test)]
    if let Some(n) = THREADS_FOR_TEST.with(std::cell::Cell::get) {
        return n;
    }
    pool().workers + 1
}

#[cfg(test)]
thread_local! {
    /// What [`threads`] answers on this thread inside [`with_threads`].
    static THREADS_FOR_TEST: std::cell::Cell<Option<usize>> = const { std::cell::Cell::new(None) };
}

/// Runs `f` with [`threads`] answering `n` on the calling thread, so that kernels split
/// their work as they would on `n` threads (the tasks still run on the pool as it is): what
/// the determinism tests compare, within one process whose pool size is fixed.
#[cfg(test)]
pub(crate) fn with_threads<R>(n: usize, f: impl FnOnce() -> R) -> R {
    /// Puts the previous answer back, even when `f` panics.
    struct Restore(Option<usize>);
    impl Drop for Restore {
        fn drop(&mut self) {
            THREADS_FOR_TEST.with(|t| t.set(self.0));
        }
    }
    let _restore = Restore(THREADS_FOR_TEST.with(|t| t.replace(Some(n.max(1)))));
    f()
}

/// Splits `0..extent` into `threads` ranges whose bounds are multiples of `step` and runs
/// `body` on each non-empty one across the pool (a matrix product's share of C per thread).
pub(crate) fn run_ranges(
    extent: usize,
    step: usize,
    threads: usize,
    body: &(dyn Fn(std::ops::Range<usize>) + Sync),
) {
    let per = extent.div_ceil(step).div_ceil(threads.max(1)) * step;
    run(threads.max(1), &|t| {
        let (start, end) = ((t * per).min(extent), ((t + 1) * per).min(extent));
        if start < end {
            body(start..end);
        }
    });
}

/// Runs `body(0) .. body(tasks - 1)` across the pool and returns when all have finished.
pub(crate) fn run(tasks: usize, body: &(dyn Fn(usize) + Sync)) {
    let pool = pool();
    let guard = if tasks > 1 && pool.workers > 0 {
        pool.submit.try_lock().ok()
    } else {
        None
    };
    let Some(submitting) = guard else {
        (0..tasks).for_each(body);
        return;
    };
    // SAFETY: lifetime erasure only: `body` is called for claimed tasks alone, and this function
    // does not return before every claimed task has finished.
    let body: &'static (dyn Fn(usize) + Sync) = unsafe { std::mem::transmute(body) };
    let job = Arc::new(Job {
        body,
        tasks,
        next: AtomicUsize::new(0),
        done: AtomicUsize::new(0),
        panicked: AtomicBool::new(false),
    });
    *pool.current.lock().unwrap_or_else(|e| e.into_inner()) = Some(job.clone());
    pool.epoch.fetch_add(1, Ordering::SeqCst);
    if pool.sleepers.load(Ordering::SeqCst) > 0 {
        let _lock = pool.sleep_lock.lock().unwrap_or_else(|e| e.into_inner());
        pool.wake.notify_all();
    }
    job.work();
    while job.done.load(Ordering::Acquire) < tasks {
        std::hint::spin_loop();
    }
    *pool.current.lock().unwrap_or_else(|e| e.into_inner()) = None;
    drop(submitting);
    // Re-raised only now: the body borrows the caller's frame until every task is done.
    assert!(
        !job.panicked.load(Ordering::Acquire),
        "a parallel CPU kernel panicked"
    );
}

/// Runs `body(i, chunk_i)` over the `chunk`-element pieces of `data` across the pool and
/// returns the results in order.
pub(crate) fn map_chunks_mut<T: Send, R: Send>(
    data: &mut [T],
    chunk: usize,
    body: impl Fn(usize, &mut [T]) -> R + Sync,
) -> Vec<R> {
    let pieces: Vec<Mutex<(&mut [T], Option<R>)>> = data
        .chunks_mut(chunk.max(1))
        .map(|c| Mutex::new((c, None)))
        .collect();
    run(pieces.len(), &|i| {
        let mut piece = pieces[i].lock().unwrap_or_else(|e| e.into_inner());
        let (slice, result) = &mut *piece;
        *result = Some(body(i, slice));
    });
    pieces
        .into_iter()
        .filter_map(|p| p.into_inner().unwrap_or_else(|e| e.into_inner()).1)
        .collect()
}

/// Runs `body(i, chunk_i)` over the `chunk`-element pieces of `data` across the pool.
pub(crate) fn for_each_chunk_mut<T: Send>(
    data: &mut [T],
    chunk: usize,
    body: impl Fn(usize, &mut [T]) + Sync,
) {
    map_chunks_mut(data, chunk, body);
}

/// Runs `body(i)` for `i` in `0..tasks` across the pool and returns the results in order.
pub(crate) fn map<R: Send>(tasks: usize, body: impl Fn(usize) -> R + Sync) -> Vec<R> {
    let results: Vec<Mutex<Option<R>>> = (0..tasks).map(|_| Mutex::new(None)).collect();
    run(tasks, &|i| {
        *results[i].lock().unwrap_or_else(|e| e.into_inner()) = Some(body(i));
    });
    results
        .into_iter()
        .filter_map(|r| r.into_inner().unwrap_or_else(|e| e.into_inner()))
        .collect()
}

/// A vector of `len` values whose `chunk`-element pieces are written by `body(i, piece_i)`
/// across the pool, straight into fresh memory: no zero fill first, which for a large
/// tensor is one more pass over memory, on one thread.
///
/// # Safety
/// `body` must write every element of the piece it is given.
pub(crate) unsafe fn collect_chunks<T: Send>(
    len: usize,
    chunk: usize,
    body: impl Fn(usize, &mut [MaybeUninit<T>]) + Sync,
) -> Vec<T> {
    let mut out = Vec::with_capacity(len);
    for_each_chunk_mut(&mut out.spare_capacity_mut()[..len], chunk, body);
    // SAFETY: the pieces cover 0..len, and the caller promises `body` wrote each of them.
    unsafe { out.set_len(len) };
    out
}

/// Pieces per thread when splitting a loop whose pieces may cost unequal time.
pub(crate) const PIECES_PER_THREAD: usize = 4;

#[cfg(test)]
mod tests {
    use super::thread_count;

    #[test]
    fn thread_settings_are_obeyed_or_reported() {
        assert_eq!(thread_count(None, 2), (2, None));
        assert_eq!(thread_count(Some("3"), 2), (3, None));
        assert_eq!(thread_count(Some(" 1 "), 2), (1, None));
        for bad in ["abc", "0", "-1", "", "2.5"] {
            let (n, warning) = thread_count(Some(bad), 2);
            assert_eq!(n, 2, "{bad:?} falls back to the cores");
            let w = warning.expect("a bad setting is reported");
            assert!(w.contains("FERRITE_NUM_THREADS") && w.contains(bad), "{w}");
        }
    }

    use super::*;

    #[test]
    fn every_task_runs_once_and_results_keep_their_order() {
        let counts: Vec<AtomicUsize> = (0..100).map(|_| AtomicUsize::new(0)).collect();
        run(100, &|i| {
            counts[i].fetch_add(1, Ordering::Relaxed);
        });
        assert!(counts.iter().all(|c| c.load(Ordering::Relaxed) == 1));
        assert_eq!(map(5, |i| i * i), vec![0, 1, 4, 9, 16]);
        let mut data: Vec<usize> = (0..10).collect();
        let sums = map_chunks_mut(&mut data, 3, |i, c| {
            c.iter_mut().for_each(|v| *v += i);
            c.iter().sum::<usize>()
        });
        assert_eq!(sums, vec![3, 15, 27, 12]);
        assert_eq!(data, vec![0, 1, 2, 4, 5, 6, 8, 9, 10, 12]);
    }

    #[test]
    fn nested_and_concurrent_loops_finish() {
        let total = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..3 {
                s.spawn(|| {
                    for _ in 0..50 {
                        run(4, &|_| {
                            run(3, &|_| {
                                total.fetch_add(1, Ordering::Relaxed);
                            });
                        });
                    }
                });
            }
        });
        assert_eq!(total.load(Ordering::Relaxed), 3 * 50 * 4 * 3);
    }

    #[test]
    fn a_panicking_task_is_reported_to_the_caller() {
        let caught = std::panic::catch_unwind(|| {
            run(8, &|i| assert!(i != 5, "task five fails"));
        });
        assert!(caught.is_err());
        // The pool still works afterwards.
        assert_eq!(map(3, |i| i + 1), vec![1, 2, 3]);
    }
}
