//! Batch-normalisation kernels over data seen as `(N, C, S)`: per-channel statistics, the
//! normalise-scale-shift pass, and its gradients. Generic over the float type (f32 and
//! f64); the sums accumulate in f64 for both.

use super::parallel;
use crate::core::Float;

/// Elements above which channels are processed in parallel.
const PARALLEL_MIN: usize = 1 << 16;

/// Per-channel `(mean, biased variance)` of `x (n, c, s)`, accumulated in f64.
pub fn channel_mean_var<T: Float>(x: &[T], n: usize, c: usize, s: usize) -> (Vec<T>, Vec<T>) {
    let stats = |ch: usize| {
        let count = (n * s) as f64;
        let mut sum = 0.0f64;
        for b in 0..n {
            sum += x[(b * c + ch) * s..(b * c + ch + 1) * s]
                .iter()
                .map(|&v| v.f64())
                .sum::<f64>();
        }
        let mean = sum / count;
        let mut sq = 0.0f64;
        for b in 0..n {
            sq += x[(b * c + ch) * s..(b * c + ch + 1) * s]
                .iter()
                .map(|&v| (v.f64() - mean).powi(2))
                .sum::<f64>();
        }
        (T::of_f64(mean), T::of_f64(sq / count))
    };
    let pairs: Vec<(T, T)> = if x.len() >= PARALLEL_MIN {
        parallel::map(c, stats)
    } else {
        (0..c).map(stats).collect()
    };
    pairs.into_iter().unzip()
}

/// `y = (x − mean_c)·scale_c + shift_c` per channel `c` of `x (n, c, s)`.
pub fn channel_affine<T: Float>(
    x: &[T],
    c: usize,
    s: usize,
    mean: &[T],
    scale: &[T],
    shift: &[T],
) -> Vec<T> {
    let mut out = vec![T::zero(); x.len()];
    let plane = |(i, o): (usize, &mut [T])| {
        let ch = i % c;
        let (m, a, b) = (mean[ch], scale[ch], shift[ch]);
        for (y, &v) in o.iter_mut().zip(&x[i * s..(i + 1) * s]) {
            *y = (v - m) * a + b;
        }
    };
    if s == 0 {
        return out;
    }
    if x.len() >= PARALLEL_MIN {
        parallel::for_each_chunk_mut(&mut out, s, |i, o| plane((i, o)));
    } else {
        out.chunks_mut(s).enumerate().for_each(plane);
    }
    out
}

/// Per-channel `(Σ g, Σ g·x̂)` with `x̂ = (x − mean)·invstd`: the bias and weight gradients.
pub fn channel_grad_sums<T: Float>(
    g: &[T],
    x: &[T],
    n: usize,
    c: usize,
    s: usize,
    mean: &[T],
    invstd: &[T],
) -> (Vec<T>, Vec<T>) {
    let sums = |ch: usize| {
        let (mut sg, mut sgx) = (0.0f64, 0.0f64);
        for b in 0..n {
            let r = (b * c + ch) * s..(b * c + ch + 1) * s;
            for (&gv, &xv) in g[r.clone()].iter().zip(&x[r]) {
                sg += gv.f64();
                sgx += gv.f64() * ((xv - mean[ch]) * invstd[ch]).f64();
            }
        }
        (T::of_f64(sg), T::of_f64(sgx))
    };
    let pairs: Vec<(T, T)> = if x.len() >= PARALLEL_MIN {
        parallel::map(c, sums)
    } else {
        (0..c).map(sums).collect()
    };
    pairs.into_iter().unzip()
}

/// The input gradient of training-mode batch norm, with `M = n·s` values per channel:
/// `dx = γ·invstd/M · (M·g − Σg − x̂·Σ(g·x̂))`.
#[allow(clippy::too_many_arguments)]
pub fn batch_norm_input_grad_train<T: Float>(
    g: &[T],
    x: &[T],
    n: usize,
    c: usize,
    s: usize,
    mean: &[T],
    invstd: &[T],
    gamma: Option<&[T]>,
    sum_g: &[T],
    sum_gx: &[T],
) -> Vec<T> {
    // (exact below 2⁵³: one rounding to f32, as `as f32` makes)
    let m = T::of_f64((n * s) as f64);
    let mut dx = vec![T::zero(); x.len()];
    if s == 0 {
        return dx;
    }
    let plane = |(i, d): (usize, &mut [T])| {
        let ch = i % c;
        let k = gamma.map_or(T::one(), |gm| gm[ch]) * invstd[ch] / m;
        let (mu, is, sg, sgx) = (mean[ch], invstd[ch], sum_g[ch], sum_gx[ch]);
        let r = i * s..(i + 1) * s;
        for ((dv, &gv), &xv) in d.iter_mut().zip(&g[r.clone()]).zip(&x[r]) {
            *dv = k * (m * gv - sg - (xv - mu) * is * sgx);
        }
    };
    if x.len() >= PARALLEL_MIN {
        parallel::for_each_chunk_mut(&mut dx, s, |i, d| plane((i, d)));
    } else {
        dx.chunks_mut(s).enumerate().for_each(plane);
    }
    dx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_per_channel() {
        // n=2, c=2, s=2: channel 0 = {1,2,5,6}, channel 1 = {3,4,7,8}
        let x = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0];
        let (mean, var) = channel_mean_var(&x, 2, 2, 2);
        assert_eq!(mean, vec![3.5, 5.5]);
        // deviations ±2.5, ±1.5 → (6.25·2 + 2.25·2)/4 = 4.25
        assert_eq!(var, vec![4.25, 4.25]);
        let y = channel_affine(&x, 2, 2, &mean, &[2.0, 1.0], &[0.0, 1.0]);
        assert_eq!(y, vec![-5.0, -3.0, -1.5, -0.5, 3.0, 5.0, 2.5, 3.5]);
    }

    /// The f64 kernels by hand, and against the f32 ones on the input gradient.
    #[test]
    fn f64_statistics_and_gradients() {
        let x: [f64; 8] = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0];
        let (mean, var) = channel_mean_var(&x, 2, 2, 2);
        assert_eq!(
            (mean.clone(), var.clone()),
            (vec![3.5, 5.5], vec![4.25, 4.25])
        );
        let invstd: Vec<f64> = var.iter().map(|v| 1.0 / (v + 1e-5).sqrt()).collect();
        let g: [f64; 8] = [0.5, -1.0, 2.0, 0.25, -0.75, 1.5, 1.0, -2.0];
        let (sg, sgx) = channel_grad_sums(&g, &x, 2, 2, 2, &mean, &invstd);
        // channel 0: g = {0.5, −1, −0.75, 1.5} at x = {1, 2, 5, 6}
        assert!((sg[0] - 0.25).abs() < 1e-15);
        let want = (0.5 * -2.5 - 1.0 * -1.5 - 0.75 * 1.5 + 1.5 * 2.5) * invstd[0];
        assert!((sgx[0] - want).abs() < 1e-14);
        let gamma = [1.5, -0.5];
        let dx =
            batch_norm_input_grad_train(&g, &x, 2, 2, 2, &mean, &invstd, Some(&gamma), &sg, &sgx);
        let f = |v: &[f64]| -> Vec<f32> { v.iter().map(|&x| x as f32).collect() };
        let (m32, i32s) = (f(&mean), f(&invstd));
        let (sg32, sgx32) = channel_grad_sums(&f(&g), &f(&x), 2, 2, 2, &m32, &i32s);
        let dx32 = batch_norm_input_grad_train(
            &f(&g),
            &f(&x),
            2,
            2,
            2,
            &m32,
            &i32s,
            Some(&f(&gamma)),
            &sg32,
            &sgx32,
        );
        for (a, b) in dx.iter().zip(&dx32) {
            assert!((a - *b as f64).abs() < 1e-6, "{a} vs {b}");
        }
    }
}
