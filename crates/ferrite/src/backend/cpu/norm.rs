//! Batch-normalisation kernels over data seen as `(N, C, S)`: per-channel statistics, the
//! normalise-scale-shift pass, and its gradients.

use super::parallel;

/// Elements above which channels are processed in parallel.
const PARALLEL_MIN: usize = 1 << 16;

/// Per-channel `(mean, biased variance)` of `x (n, c, s)`, accumulated in f64.
pub fn channel_mean_var(x: &[f32], n: usize, c: usize, s: usize) -> (Vec<f32>, Vec<f32>) {
    let stats = |ch: usize| {
        let count = (n * s) as f64;
        let mut sum = 0.0f64;
        for b in 0..n {
            sum += x[(b * c + ch) * s..(b * c + ch + 1) * s]
                .iter()
                .map(|&v| v as f64)
                .sum::<f64>();
        }
        let mean = sum / count;
        let mut sq = 0.0f64;
        for b in 0..n {
            sq += x[(b * c + ch) * s..(b * c + ch + 1) * s]
                .iter()
                .map(|&v| (v as f64 - mean).powi(2))
                .sum::<f64>();
        }
        (mean as f32, (sq / count) as f32)
    };
    let pairs: Vec<(f32, f32)> = if x.len() >= PARALLEL_MIN {
        parallel::map(c, stats)
    } else {
        (0..c).map(stats).collect()
    };
    pairs.into_iter().unzip()
}

/// `y = (x − mean_c)·scale_c + shift_c` per channel `c` of `x (n, c, s)`.
pub fn channel_affine(
    x: &[f32],
    c: usize,
    s: usize,
    mean: &[f32],
    scale: &[f32],
    shift: &[f32],
) -> Vec<f32> {
    let mut out = vec![0.0f32; x.len()];
    let plane = |(i, o): (usize, &mut [f32])| {
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
pub fn channel_grad_sums(
    g: &[f32],
    x: &[f32],
    n: usize,
    c: usize,
    s: usize,
    mean: &[f32],
    invstd: &[f32],
) -> (Vec<f32>, Vec<f32>) {
    let sums = |ch: usize| {
        let (mut sg, mut sgx) = (0.0f64, 0.0f64);
        for b in 0..n {
            let r = (b * c + ch) * s..(b * c + ch + 1) * s;
            for (&gv, &xv) in g[r.clone()].iter().zip(&x[r]) {
                sg += gv as f64;
                sgx += gv as f64 * ((xv - mean[ch]) * invstd[ch]) as f64;
            }
        }
        (sg as f32, sgx as f32)
    };
    let pairs: Vec<(f32, f32)> = if x.len() >= PARALLEL_MIN {
        parallel::map(c, sums)
    } else {
        (0..c).map(sums).collect()
    };
    pairs.into_iter().unzip()
}

/// The input gradient of training-mode batch norm, with `M = n·s` values per channel:
/// `dx = γ·invstd/M · (M·g − Σg − x̂·Σ(g·x̂))`.
#[allow(clippy::too_many_arguments)]
pub fn batch_norm_input_grad_train(
    g: &[f32],
    x: &[f32],
    n: usize,
    c: usize,
    s: usize,
    mean: &[f32],
    invstd: &[f32],
    gamma: Option<&[f32]>,
    sum_g: &[f32],
    sum_gx: &[f32],
) -> Vec<f32> {
    let m = (n * s) as f32;
    let mut dx = vec![0.0f32; x.len()];
    if s == 0 {
        return dx;
    }
    let plane = |(i, d): (usize, &mut [f32])| {
        let ch = i % c;
        let k = gamma.map_or(1.0, |gm| gm[ch]) * invstd[ch] / m;
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
}
