//! Shared by the gradcheck test binaries: seeded leaves (plain, kept away from kinks,
//! transposed, sliced) and a `check` that names the op on failure.

// Each test binary uses a subset of these helpers.
#![allow(dead_code)]

use ferrite::{gradcheck, Generator, Tensor};

/// Standard normal values of `shape`, seeded by `seed`, as a leaf that requires grad.
pub fn leaf(shape: &[usize], seed: u64) -> Tensor {
    Tensor::randn_with(shape.to_vec(), &mut Generator::new(seed)).requires_grad()
}

/// Like [`leaf`] but every value at least `margin` away from each of `kinks` (where the
/// function is not differentiable and finite differences would straddle the kink).
pub fn leaf_away_from(shape: &[usize], seed: u64, kinks: &[f32], margin: f32) -> Tensor {
    let mut g = Generator::new(seed);
    let data: Vec<f32> = (0..shape.iter().product::<usize>())
        .map(|_| loop {
            let v = g.normal();
            if kinks.iter().all(|k| (v - k).abs() > margin) {
                break v;
            }
        })
        .collect();
    Tensor::from_vec(data, shape.to_vec()).requires_grad()
}

/// Values in [lo, hi), as a leaf that requires grad.
pub fn leaf_in(shape: &[usize], seed: u64, lo: f32, hi: f32) -> Tensor {
    let t = Tensor::rand_with(shape.to_vec(), &mut Generator::new(seed));
    (&(&t * (hi - lo)) + lo).detach().requires_grad()
}

/// A leaf whose layout is the transpose of a row-major buffer (not contiguous).
pub fn transposed_leaf(rows: usize, cols: usize, seed: u64) -> Tensor {
    let t = Tensor::randn_with([cols, rows], &mut Generator::new(seed))
        .t()
        .detach()
        .requires_grad();
    assert!(!t.is_contiguous());
    t
}

/// A leaf that is a window (columns 1..1+cols) of a wider buffer: offset and gaps.
pub fn sliced_leaf(rows: usize, cols: usize, seed: u64) -> Tensor {
    let t = Tensor::randn_with([rows, cols + 3], &mut Generator::new(seed))
        .slice(1, 1..1 + cols)
        .detach()
        .requires_grad();
    assert!(!t.is_contiguous());
    t
}

/// Runs [`gradcheck`] on `f` at `inputs`, panicking with `name` and the disagreement.
pub fn check(name: &str, f: impl Fn(&[Tensor]) -> Tensor, inputs: &[Tensor]) {
    if let Err(e) = gradcheck(f, inputs) {
        panic!("{name}: {e}");
    }
}
