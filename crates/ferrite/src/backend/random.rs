//! Random fills drawn from a generator. Samples are drawn on the host from a seeded
//! [`Generator`], in order, so that a seed gives the same numbers on every device; a backend
//! then owns how they reach its memory (one upload, or its own buffer filled in place).

use super::{on_new_device, BackendResult, Storage};
use crate::core::Device;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, StandardNormal};

/// A seeded random-number generator.
///
/// ```
/// use ferrite::{Generator, Tensor};
/// let mut g = Generator::new(7);
/// let a = Tensor::randn_with([2, 2], &mut g);
/// let b = Tensor::randn_with([2, 2], &mut Generator::new(7));
/// assert_eq!(a.to_vec(), b.to_vec());
/// ```
#[derive(Clone, Debug)]
pub struct Generator {
    rng: StdRng,
}

impl Generator {
    /// A generator started from `seed`.
    pub fn new(seed: u64) -> Self {
        Generator {
            rng: StdRng::seed_from_u64(seed),
        }
    }
    /// A uniform sample in [0, 1).
    pub fn uniform(&mut self) -> f32 {
        self.rng.random::<f32>()
    }
    /// A sample of the standard normal distribution.
    pub fn normal(&mut self) -> f32 {
        StandardNormal.sample(&mut self.rng)
    }
    /// A uniform integer in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        self.rng.random_range(0..n)
    }
    /// A random permutation of `0..n` (Fisher–Yates).
    pub fn permutation(&mut self, n: usize) -> Vec<usize> {
        let mut p: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            let j = self.rng.random_range(0..=i);
            p.swap(i, j);
        }
        p
    }
    /// A new seed drawn from this generator (to derive independent generators).
    pub fn next_seed(&mut self) -> u64 {
        self.rng.random::<u64>()
    }
}

/// Random fills: buffers of samples drawn in order from a [`Generator`].
pub trait RandomOps: Sized {
    /// `numel` samples of `U(low, high)`, each `low + (high − low)·u` for the generator's
    /// next uniform sample `u`.
    fn uniform(
        device: Device,
        numel: usize,
        low: f32,
        high: f32,
        gen: &mut Generator,
    ) -> BackendResult<Self>;
    /// `numel` samples of `N(mean, std²)`, each `mean + std·z` for the generator's next
    /// standard normal sample `z`.
    fn normal(
        device: Device,
        numel: usize,
        mean: f32,
        std: f32,
        gen: &mut Generator,
    ) -> BackendResult<Self>;
}

impl Storage {
    /// `numel` samples of `U(low, high)` from `gen`, on `device`.
    pub fn uniform(
        numel: usize,
        low: f32,
        high: f32,
        gen: &mut Generator,
        device: Device,
    ) -> Storage {
        on_new_device!(device, |S, wrap| <S as RandomOps>::uniform(
            device, numel, low, high, gen
        )
        .map(wrap))
    }

    /// `numel` samples of `N(mean, std²)` from `gen`, on `device`.
    pub fn normal(
        numel: usize,
        mean: f32,
        std: f32,
        gen: &mut Generator,
        device: Device,
    ) -> Storage {
        on_new_device!(device, |S, wrap| <S as RandomOps>::normal(
            device, numel, mean, std, gen
        )
        .map(wrap))
    }
}
