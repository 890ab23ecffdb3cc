//! `DataLoader::num_workers`: batches gathered on background threads are the batches of the
//! caller's loader, in order; gathering overlaps the caller's work; at most a few batches
//! wait in memory; a worker's panic reaches the caller.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrite::data::{DataLoader, Dataset, TensorDataset};
use ferrite::Tensor;

fn numbered(n: usize) -> TensorDataset {
    let x: Vec<f32> = (0..n).flat_map(|i| [i as f32, -(i as f32)]).collect();
    TensorDataset::new(
        Tensor::from_vec(x, [n, 2]),
        Tensor::from_vec((0..n).map(|i| i as f32).collect(), [n]),
    )
}

/// A dataset of `n` one-number samples whose `gather` takes `delay`, counts the batches it
/// has gathered, and panics on batch `panic_at` (if any).
struct Slow {
    n: usize,
    delay: Duration,
    gathered: Arc<AtomicUsize>,
    panic_at: Option<usize>,
}

impl Dataset for Slow {
    fn len(&self) -> usize {
        self.n
    }
    fn get(&self, index: usize) -> (Tensor, Tensor) {
        (Tensor::scalar(index as f32), Tensor::scalar(0.0))
    }
    fn gather(
        &self,
        indices: &[usize],
        features: &mut Vec<f32>,
        targets: &mut Vec<f32>,
    ) -> (Vec<usize>, Vec<usize>) {
        let k = self.gathered.fetch_add(1, Ordering::SeqCst);
        if self.panic_at == Some(k) {
            panic!("image 17.png cannot be decoded");
        }
        std::thread::sleep(self.delay);
        features.clear();
        targets.clear();
        features.extend(indices.iter().map(|&i| i as f32));
        targets.extend(indices.iter().map(|_| 0.0));
        (vec![], vec![])
    }
}

fn slow(n: usize, delay_ms: u64, panic_at: Option<usize>) -> (Slow, Arc<AtomicUsize>) {
    let gathered = Arc::new(AtomicUsize::new(0));
    let d = Slow {
        n,
        delay: Duration::from_millis(delay_ms),
        gathered: gathered.clone(),
        panic_at,
    };
    (d, gathered)
}

#[test]
fn workers_give_the_same_batches_in_the_same_order() {
    for (workers, drop_last) in [(1, false), (3, false), (2, true)] {
        let mut plain = DataLoader::new(numbered(23), 4)
            .unwrap()
            .shuffle(9)
            .drop_last(drop_last);
        let mut ahead = DataLoader::new(numbered(23), 4)
            .unwrap()
            .shuffle(9)
            .drop_last(drop_last)
            .num_workers(workers);
        assert_eq!(ahead.workers(), workers);
        for _epoch in 0..2 {
            let a: Vec<(Vec<f32>, Vec<f32>)> = plain
                .iter()
                .map(|(x, y)| (x.to_vec(), y.to_vec()))
                .collect();
            let b: Vec<(Vec<f32>, Vec<f32>)> = ahead
                .iter()
                .map(|(x, y)| (x.to_vec(), y.to_vec()))
                .collect();
            assert_eq!(a.len(), if drop_last { 5 } else { 6 });
            assert_eq!(a, b, "{workers} workers, drop_last {drop_last}");
        }
    }
}

#[test]
fn gathering_overlaps_the_callers_work() {
    // 8 batches, 40 ms to gather each and 40 ms of "training" each: about 640 ms on the
    // caller, about 360 ms with one worker gathering ahead.
    let epoch = |workers: usize| {
        let (d, _) = slow(32, 40, None);
        let mut loader = DataLoader::new(d, 4).unwrap().num_workers(workers);
        let started = Instant::now();
        for (x, _) in loader.iter() {
            assert_eq!(x.dims(), &[4]);
            std::thread::sleep(Duration::from_millis(40));
        }
        started.elapsed()
    };
    let (alone, ahead) = (epoch(0), epoch(1));
    assert!(alone >= Duration::from_millis(640), "{alone:?}");
    assert!(
        ahead.as_secs_f64() < 0.8 * alone.as_secs_f64(),
        "with a worker {ahead:?}, without {alone:?}"
    );
}

#[test]
fn only_a_few_batches_wait_in_memory() {
    let (d, gathered) = slow(400, 0, None);
    let mut loader = DataLoader::new(d, 4).unwrap().num_workers(1);
    let mut batches = loader.iter();
    let first = batches.next().unwrap();
    std::thread::sleep(Duration::from_millis(300));
    // One taken, two waiting in the channel, one gathered and waiting to be sent.
    let ahead = gathered.load(Ordering::SeqCst);
    assert!((2..=4).contains(&ahead), "{ahead} of 100 batches gathered");
    drop((first, batches));
}

#[test]
fn a_panic_in_a_worker_reaches_the_caller() {
    let (d, _) = slow(40, 0, Some(3));
    let mut loader = DataLoader::new(d, 4).unwrap().num_workers(2);
    let result = catch_unwind(AssertUnwindSafe(|| loader.iter().count()));
    let panic = result.expect_err("the worker's panic");
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    assert!(message.contains("17.png cannot be decoded"), "{message}");
}
