//! Seeded random numbers: one global generator set by [`manual_seed`], or an explicit
//! [`Generator`] passed where reproducibility must not depend on global state.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, StandardNormal};
use std::sync::Mutex;

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

static GLOBAL: Mutex<Option<Generator>> = Mutex::new(None);

/// Seeds the global generator used by `rand`, `randn`, initialisers and dropout.
pub fn manual_seed(seed: u64) {
    *GLOBAL.lock().expect("rng lock") = Some(Generator::new(seed));
}

/// Runs `f` with the global generator (seeded with 0 if never seeded).
pub fn with_rng<R>(f: impl FnOnce(&mut Generator) -> R) -> R {
    let mut g = GLOBAL.lock().expect("rng lock");
    f(g.get_or_insert_with(|| Generator::new(0)))
}
