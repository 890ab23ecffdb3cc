//! Fused loss kernels: each computes a loss and, when asked, its gradient in the same pass
//! over the data, so a training step pays for one graph node and a couple of buffers.
//!
//! Class losses see their row-major input as `(outer, classes, inner)`: batch, class
//! dimension, and the product of any extra dimensions (`(N, C, d1, ...)`); position
//! `p = o·inner + s` is one sample at one spatial place. A gradient is written scaled by
//! `scale` (1 for unreduced and summed losses, 1/denominator for a mean).
//!
//! Generic over the float type (f32 and f64); totals are summed in f64 for both.

use crate::core::Float;

/// The shape of a class-loss input seen as `(outer, classes, inner)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClassDims {
    /// The batch size `N` (1 for an unbatched `(C)` input).
    pub outer: usize,
    /// The number of classes `C`.
    pub classes: usize,
    /// The product of the dimensions after the class dimension (1 for `(N, C)`).
    pub inner: usize,
}

impl ClassDims {
    /// The number of positions (samples times spatial places).
    pub fn positions(&self) -> usize {
        self.outer * self.inner
    }
}

/// Options of a loss over class-index targets.
#[derive(Clone, Copy, Debug)]
pub struct ClassIndexSpec<'a, T> {
    /// Per-class weights (length `classes`), or all ones.
    pub weight: Option<&'a [T]>,
    /// Target value whose positions count for nothing.
    pub ignore_index: T,
    /// Label smoothing ε in [0, 1].
    pub smoothing: T,
    /// True: the input holds logits and goes through log-softmax (cross-entropy);
    /// false: the input already holds log-probabilities (NLL).
    pub logits: bool,
}

/// Checks class-index targets (whole numbers in `0..classes`, or `ignore_index`) and returns
/// `Σ w[y]` over the counted ones, the denominator of a mean. `Err(v)` is the first bad target.
pub fn class_target_weight<T: Float>(
    target: &[T],
    classes: usize,
    ignore_index: T,
    weight: Option<&[T]>,
) -> Result<f64, T> {
    let mut total = 0.0f64;
    for &t in target {
        if t == ignore_index {
            continue;
        }
        let class = class_of(t).filter(|&c| t.fract() == T::zero() && c < classes);
        let Some(class) = class else {
            return Err(t);
        };
        total += weight.map_or(1.0, |w| w[class].f64());
    }
    Ok(total)
}

/// The class a target names: `t` truncated, when it is a number ≥ 0 (as `t as usize` for
/// the validated targets).
#[inline]
fn class_of<T: Float>(t: T) -> Option<usize> {
    if t >= T::zero() {
        t.to_usize()
    } else {
        None
    }
}

/// `(log Σ_c e^(x_c), 1 / Σ_c e^(x_c − m))` over one lane, subtracting the max `m` so no
/// exponent is positive. When `exps` is given it receives `e^(x_c − m)` at the lane's
/// positions, so a gradient reads `softmax_c = exps_c / Σ` without a second exponential.
#[inline]
fn lane_logsumexp<T: Float>(
    x: &[T],
    base: usize,
    classes: usize,
    inner: usize,
    exps: Option<&mut [T]>,
) -> (T, T) {
    let mut m = T::neg_infinity();
    for c in 0..classes {
        m = m.max(x[base + c * inner]);
    }
    let m = if m.is_finite() { m } else { T::zero() };
    let mut sum = T::zero();
    match exps {
        Some(e) => {
            for c in 0..classes {
                let i = base + c * inner;
                e[i] = (x[i] - m).exp();
                sum += e[i];
            }
        }
        None => {
            for c in 0..classes {
                sum += (x[base + c * inner] - m).exp();
            }
        }
    }
    (m + sum.ln(), T::one() / sum)
}

/// Cross-entropy (or NLL) against class indices, validated beforehand by
/// [`class_target_weight`]. With `logp = log_softmax(x)` (or `x` itself for NLL):
/// `loss_p = (1−ε)·(−w[y]·logp[y]) + (ε/C)·(−Σ_c w_c·logp_c)`, 0 where ignored.
///
/// Writes each position's loss into `losses` when given and returns their sum (f64). With
/// `grad = Some((buf, scale))` it writes `scale·∂loss_p/∂x` into `buf` (same layout as `x`):
/// for logits `(1−ε)·w[y]·(softmax_c − [c = y]) + (ε/C)·(W·softmax_c − w_c)` with `W = Σ w`,
/// for log-probabilities `−(1−ε)·w[y]·[c = y] − (ε/C)·w_c`.
pub fn class_index_loss<T: Float>(
    x: &[T],
    dims: ClassDims,
    target: &[T],
    spec: &ClassIndexSpec<T>,
    mut losses: Option<&mut [T]>,
    mut grad: Option<(&mut [T], T)>,
) -> f64 {
    let ClassDims {
        outer,
        classes,
        inner,
    } = dims;
    let (zero, one) = (T::zero(), T::one());
    let w = |c: usize| spec.weight.map_or(one, |w| w[c]);
    // (a count: exact below 2⁵³, so f32 rounds it once, as `as f32` does)
    let n_classes = T::of_f64(classes as f64);
    let w_total: T = spec.weight.map_or(n_classes, |w| w.iter().copied().sum());
    let eps = spec.smoothing;
    let smooth_share = eps / n_classes;
    let mut total = 0.0f64;
    for o in 0..outer {
        for s in 0..inner {
            let p = o * inner + s;
            let base = o * classes * inner + s;
            let t = target[p];
            if t == spec.ignore_index {
                if let Some(l) = losses.as_deref_mut() {
                    l[p] = zero;
                }
                if let Some((g, _)) = grad.as_mut() {
                    for c in 0..classes {
                        g[base + c * inner] = zero;
                    }
                }
                continue;
            }
            // Validated by `class_target_weight`: a class in range.
            let y = class_of(t).unwrap_or(usize::MAX);
            let wy = w(y);
            // With a gradient wanted, its buffer first holds the lane's exponentials.
            let exps = grad.as_mut().map(|(g, _)| &mut **g);
            let (lse, inv_sum) = if spec.logits {
                lane_logsumexp(x, base, classes, inner, exps)
            } else {
                (zero, zero)
            };
            let mut loss = -(wy * (x[base + y * inner] - lse)) * (one - eps);
            if eps > zero {
                let mut smooth = zero;
                for c in 0..classes {
                    smooth -= w(c) * (x[base + c * inner] - lse);
                }
                loss += smooth_share * smooth;
            }
            if let Some(l) = losses.as_deref_mut() {
                l[p] = loss;
            }
            total += loss.f64();
            if let Some((g, scale)) = grad.as_mut() {
                let scale = *scale;
                let hit = (one - eps) * wy;
                for c in 0..classes {
                    let i = base + c * inner;
                    let onehot = if c == y { hit } else { zero };
                    g[i] = if spec.logits {
                        let sm = g[i] * inv_sum;
                        scale * (hit * sm - onehot + smooth_share * (w_total * sm - w(c)))
                    } else {
                        scale * (-onehot - smooth_share * w(c))
                    };
                }
            }
        }
    }
    total
}

/// Cross-entropy against class probabilities `t` (same layout as `x`), smoothed to
/// `t' = (1−ε)t + ε/C`: `loss_p = −Σ_c w_c·t'_c·logp_c` with `logp = log_softmax(x)`.
///
/// Returns the sum of the losses (also written to `losses` when given). Gradients, each
/// scaled by its `scale`: `∂/∂x_c = softmax_c·Σ_k w_k t'_k − w_c t'_c` and
/// `∂/∂t_c = −(1−ε)·w_c·logp_c`.
#[allow(clippy::too_many_arguments)]
pub fn class_probability_loss<T: Float>(
    x: &[T],
    dims: ClassDims,
    target: &[T],
    weight: Option<&[T]>,
    smoothing: T,
    mut losses: Option<&mut [T]>,
    mut grad_x: Option<(&mut [T], T)>,
    mut grad_t: Option<(&mut [T], T)>,
) -> f64 {
    let ClassDims {
        outer,
        classes,
        inner,
    } = dims;
    let one = T::one();
    let w = |c: usize| weight.map_or(one, |w| w[c]);
    let smooth_share = smoothing / T::of_f64(classes as f64);
    let mut total = 0.0f64;
    for o in 0..outer {
        for s in 0..inner {
            let p = o * inner + s;
            let base = o * classes * inner + s;
            let exps = grad_x.as_mut().map(|(g, _)| &mut **g);
            let (lse, inv_sum) = lane_logsumexp(x, base, classes, inner, exps);
            let mut loss = T::zero();
            let mut weighted_mass = T::zero();
            for c in 0..classes {
                let i = base + c * inner;
                let wt = w(c) * (target[i] * (one - smoothing) + smooth_share);
                loss -= wt * (x[i] - lse);
                weighted_mass += wt;
            }
            if let Some(l) = losses.as_deref_mut() {
                l[p] = loss;
            }
            total += loss.f64();
            if let Some((g, scale)) = grad_x.as_mut() {
                for c in 0..classes {
                    let i = base + c * inner;
                    let wt = w(c) * (target[i] * (one - smoothing) + smooth_share);
                    g[i] = *scale * (g[i] * inv_sum * weighted_mass - wt);
                }
            }
            if let Some((g, scale)) = grad_t.as_mut() {
                for c in 0..classes {
                    let i = base + c * inner;
                    g[i] = -*scale * (one - smoothing) * w(c) * (x[i] - lse);
                }
            }
        }
    }
    total
}

/// The first value outside [0, 1] (NaN included), if any: BCE's check on its input and target.
pub fn first_outside_unit_interval<T: Float>(values: &[T]) -> Option<T> {
    values
        .iter()
        .copied()
        .find(|v| !(*v >= T::zero() && *v <= T::one()))
}

/// Binary cross-entropy of probabilities `x` against `y` (same length), logs clamped at −100:
/// `l = −w·(y·max(ln x, −100) + (1−y)·max(ln(1−x), −100))`.
///
/// Returns the sum (also written to `losses` when given). Gradients, scaled:
/// `∂l/∂x = w·(x − y) / max(x(1−x), 1e-12)` (PyTorch's form) and
/// `∂l/∂y = w·(max(ln(1−x), −100) − max(ln x, −100))`.
pub fn binary_cross_entropy<T: Float>(
    x: &[T],
    y: &[T],
    weight: Option<&[T]>,
    mut losses: Option<&mut [T]>,
    mut grad_x: Option<(&mut [T], T)>,
    mut grad_y: Option<(&mut [T], T)>,
) -> f64 {
    let one = T::one();
    let (floor, tiny) = (T::of(-100.0), T::pick(1e-12, 1e-12));
    let mut total = 0.0f64;
    for i in 0..x.len() {
        let (xi, yi) = (x[i], y[i]);
        let wi = weight.map_or(one, |w| w[i]);
        let log_x = xi.ln().max(floor);
        let log_1mx = (-xi).ln_1p().max(floor);
        let l = -wi * (yi * log_x + (one - yi) * log_1mx);
        if let Some(out) = losses.as_deref_mut() {
            out[i] = l;
        }
        total += l.f64();
        if let Some((g, scale)) = grad_x.as_mut() {
            g[i] = *scale * wi * (xi - yi) / ((one - xi) * xi).max(tiny);
        }
        if let Some((g, scale)) = grad_y.as_mut() {
            g[i] = *scale * wi * (log_1mx - log_x);
        }
    }
    total
}

/// Binary cross-entropy on logits, stable for any |x|: with `lw = 1 + (pw − 1)·y` and
/// `log σ(x) = min(x, 0) − ln(1 + e^−|x|)`, `l = w·((1 − y)·x − lw·log σ(x))`.
///
/// Returns the sum (also written to `losses` when given). Gradients, scaled:
/// `∂l/∂x = w·((1 − y) − lw·σ(−x))` and `∂l/∂y = w·(−x − (pw − 1)·log σ(x))`.
#[allow(clippy::too_many_arguments)]
pub fn binary_cross_entropy_with_logits<T: Float>(
    x: &[T],
    y: &[T],
    weight: Option<&[T]>,
    pos_weight: Option<&[T]>,
    mut losses: Option<&mut [T]>,
    mut grad_x: Option<(&mut [T], T)>,
    mut grad_y: Option<(&mut [T], T)>,
) -> f64 {
    let (zero, one) = (T::zero(), T::one());
    let mut total = 0.0f64;
    for i in 0..x.len() {
        let (xi, yi) = (x[i], y[i]);
        let wi = weight.map_or(one, |w| w[i]);
        let pw = pos_weight.map_or(one, |p| p[i]);
        let e = (-xi.abs()).exp();
        let log_sig = xi.min(zero) - e.ln_1p();
        let lw = one + (pw - one) * yi;
        let l = wi * ((one - yi) * xi - lw * log_sig);
        if let Some(out) = losses.as_deref_mut() {
            out[i] = l;
        }
        total += l.f64();
        if let Some((g, scale)) = grad_x.as_mut() {
            // σ(−x) from e = e^−|x| without overflow.
            let sig_neg = if xi >= zero {
                e / (one + e)
            } else {
                one / (one + e)
            };
            g[i] = *scale * wi * ((one - yi) - lw * sig_neg);
        }
        if let Some((g, scale)) = grad_y.as_mut() {
            g[i] = *scale * wi * (-xi - (pw - one) * log_sig);
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cross_entropy_lane_matches_closed_form() {
        // x = [0, ln 3]: softmax = [1/4, 3/4]; target 1: loss = −ln(3/4).
        let x = [0.0, 3f32.ln()];
        let dims = ClassDims {
            outer: 1,
            classes: 2,
            inner: 1,
        };
        let spec = ClassIndexSpec {
            weight: None,
            ignore_index: -100.0,
            smoothing: 0.0,
            logits: true,
        };
        let mut g = [0.0f32; 2];
        let total = class_index_loss(&x, dims, &[1.0], &spec, None, Some((&mut g, 1.0)));
        assert!((total - (4.0f64 / 3.0).ln()).abs() < 1e-6);
        assert!((g[0] - 0.25).abs() < 1e-6 && (g[1] + 0.25).abs() < 1e-6);
    }

    #[test]
    fn targets_are_checked() {
        assert_eq!(
            class_target_weight(&[0.0, 2.0, -100.0], 3, -100.0, Some(&[1.0, 2.0, 3.0])),
            Ok(4.0)
        );
        assert_eq!(class_target_weight(&[0.0, 3.0], 3, -100.0, None), Err(3.0));
        assert_eq!(class_target_weight(&[0.5], 3, -100.0, None), Err(0.5));
        assert_eq!(first_outside_unit_interval(&[0.0, 1.0, 1.5]), Some(1.5));
    }

    /// The f64 kernels give the f32 ones' numbers: cross-entropy with weights, smoothing and an
    /// ignored target, the probability form, and both BCEs, with their gradients.
    #[test]
    fn f64_path_matches_the_f32_path() {
        let dims = ClassDims {
            outer: 2,
            classes: 3,
            inner: 2,
        };
        let x: Vec<f64> = (0..12).map(|i| (i as f64 * 0.77).sin() * 2.0).collect();
        let f = |v: &[f64]| -> Vec<f32> { v.iter().map(|&x| x as f32).collect() };
        let near = |a: f64, b: f64| assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        let close = |a: &[f64], b: &[f32]| a.iter().zip(b).for_each(|(p, q)| near(*p, *q as f64));
        let (weight, target) = (vec![0.5, 2.0, 1.0], vec![2.0, -100.0, 0.0, 1.0]);
        assert_eq!(
            class_target_weight(&target, 3, -100.0, Some(&weight[..])),
            Ok(3.5)
        );
        assert_eq!(class_target_weight(&[1.5f64], 3, -100.0, None), Err(1.5));
        for logits in [true, false] {
            let spec = ClassIndexSpec {
                weight: Some(&weight[..]),
                ignore_index: -100.0,
                smoothing: 0.1,
                logits,
            };
            let w32 = f(&weight);
            let spec32 = ClassIndexSpec {
                weight: Some(&w32[..]),
                ignore_index: -100.0,
                smoothing: 0.1,
                logits,
            };
            let (mut l, mut g) = (vec![0.0; 4], vec![0.0; 12]);
            let (mut l32, mut g32) = (vec![0.0f32; 4], vec![0.0f32; 12]);
            let t = class_index_loss(&x, dims, &target, &spec, Some(&mut l), Some((&mut g, 0.5)));
            let t32 = class_index_loss(
                &f(&x),
                dims,
                &f(&target),
                &spec32,
                Some(&mut l32),
                Some((&mut g32, 0.5)),
            );
            near(t, t32);
            close(&l, &l32);
            close(&g, &g32);
        }
        let probs: Vec<f64> = (0..12).map(|i| ((i * 5) % 7) as f64 / 7.0).collect();
        let (mut gx, mut gt) = (vec![0.0; 12], vec![0.0; 12]);
        let (mut gx32, mut gt32) = (vec![0.0f32; 12], vec![0.0f32; 12]);
        let w = Some(&weight[..]);
        let t = class_probability_loss(
            &x,
            dims,
            &probs,
            w,
            0.2,
            None,
            Some((&mut gx, 1.0)),
            Some((&mut gt, 1.0)),
        );
        let w32 = f(&weight);
        let t32 = class_probability_loss(
            &f(&x),
            dims,
            &f(&probs),
            Some(&w32[..]),
            0.2,
            None,
            Some((&mut gx32, 1.0)),
            Some((&mut gt32, 1.0)),
        );
        near(t, t32);
        close(&gx, &gx32);
        close(&gt, &gt32);
        // BCE on probabilities, and on logits: one element by hand as well.
        let p: Vec<f64> = (0..12).map(|i| (i as f64 + 0.5) / 12.5).collect();
        let (mut gx, mut gy) = (vec![0.0; 12], vec![0.0; 12]);
        let (mut gx32, mut gy32) = (vec![0.0f32; 12], vec![0.0f32; 12]);
        let t = binary_cross_entropy(
            &p,
            &probs,
            None,
            None,
            Some((&mut gx, 1.0)),
            Some((&mut gy, 1.0)),
        );
        let t32 = binary_cross_entropy(
            &f(&p),
            &f(&probs),
            None,
            None,
            Some((&mut gx32, 1.0)),
            Some((&mut gy32, 1.0)),
        );
        near(t, t32);
        close(&gx, &gx32);
        close(&gy, &gy32);
        let mut one = [0.0];
        binary_cross_entropy(&[0.25f64], &[1.0], None, Some(&mut one), None, None);
        assert!((one[0] - 4f64.ln()).abs() < 1e-15);
        let pw: Vec<f64> = (0..12).map(|i| 0.5 + i as f64 * 0.1).collect();
        let t = binary_cross_entropy_with_logits(
            &x,
            &probs,
            None,
            Some(&pw),
            None,
            Some((&mut gx, 1.0)),
            Some((&mut gy, 1.0)),
        );
        let t32 = binary_cross_entropy_with_logits(
            &f(&x),
            &f(&probs),
            None,
            Some(&f(&pw)),
            None,
            Some((&mut gx32, 1.0)),
            Some((&mut gy32, 1.0)),
        );
        near(t, t32);
        close(&gx, &gx32);
        close(&gy, &gy32);
        assert_eq!(
            first_outside_unit_interval(&[0.0f64, 1.0, -1e-300]),
            Some(-1e-300)
        );
    }

    #[test]
    fn logits_bce_is_stable_for_large_inputs() {
        let mut g = [0.0f32; 2];
        let total = binary_cross_entropy_with_logits(
            &[100.0, -100.0],
            &[0.0, 1.0],
            None,
            None,
            None,
            Some((&mut g, 1.0)),
            None,
        );
        assert!((total - 200.0).abs() < 1e-3);
        assert!((g[0] - 1.0).abs() < 1e-6 && (g[1] + 1.0).abs() < 1e-6);
    }
}
