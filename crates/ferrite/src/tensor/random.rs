//! Seeded random numbers: one global generator set by [`manual_seed`], or an explicit
//! [`Generator`] passed where reproducibility must not depend on global state.

pub use crate::backend::Generator;
use std::sync::Mutex;

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
