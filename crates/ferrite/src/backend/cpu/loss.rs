//! Fused loss kernels: each computes a loss and, when asked, its gradient in the same pass
//! over the data, so a training step pays for one graph node and a couple of buffers.
//!
//! Class losses see their row-major input as `(outer, classes, inner)`: batch, class
//! dimension, and the product of any extra dimensions (`(N, C, d1, ...)`); position
//! `p = o·inner + s` is one sample at one spatial place. A gradient is written scaled by
//! `scale` (1 for unreduced and summed losses, 1/denominator for a mean).

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
pub struct ClassIndexSpec<'a> {
    /// Per-class weights (length `classes`), or all ones.
    pub weight: Option<&'a [f32]>,
    /// Target value whose positions count for nothing.
    pub ignore_index: f32,
    /// Label smoothing ε in [0, 1].
    pub smoothing: f32,
    /// True: the input holds logits and goes through log-softmax (cross-entropy);
    /// false: the input already holds log-probabilities (NLL).
    pub logits: bool,
}

/// Checks class-index targets (whole numbers in `0..classes`, or `ignore_index`) and returns
/// `Σ w[y]` over the counted ones, the denominator of a mean. `Err(v)` is the first bad target.
pub fn class_target_weight(
    target: &[f32],
    classes: usize,
    ignore_index: f32,
    weight: Option<&[f32]>,
) -> Result<f64, f32> {
    let mut total = 0.0f64;
    for &t in target {
        if t == ignore_index {
            continue;
        }
        if !(t >= 0.0 && t.fract() == 0.0 && (t as usize) < classes) {
            return Err(t);
        }
        total += weight.map_or(1.0, |w| w[t as usize] as f64);
    }
    Ok(total)
}

/// `(log Σ_c e^(x_c), 1 / Σ_c e^(x_c − m))` over one lane, subtracting the max `m` so no
/// exponent is positive. When `exps` is given it receives `e^(x_c − m)` at the lane's
/// positions, so a gradient reads `softmax_c = exps_c / Σ` without a second exponential.
#[inline]
fn lane_logsumexp(
    x: &[f32],
    base: usize,
    classes: usize,
    inner: usize,
    exps: Option<&mut [f32]>,
) -> (f32, f32) {
    let mut m = f32::NEG_INFINITY;
    for c in 0..classes {
        m = m.max(x[base + c * inner]);
    }
    let m = if m.is_finite() { m } else { 0.0 };
    let mut sum = 0.0f32;
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
    (m + sum.ln(), 1.0 / sum)
}

/// Cross-entropy (or NLL) against class indices, validated beforehand by
/// [`class_target_weight`]. With `logp = log_softmax(x)` (or `x` itself for NLL):
/// `loss_p = (1−ε)·(−w[y]·logp[y]) + (ε/C)·(−Σ_c w_c·logp_c)`, 0 where ignored.
///
/// Writes each position's loss into `losses` when given and returns their sum (f64). With
/// `grad = Some((buf, scale))` it writes `scale·∂loss_p/∂x` into `buf` (same layout as `x`):
/// for logits `(1−ε)·w[y]·(softmax_c − [c = y]) + (ε/C)·(W·softmax_c − w_c)` with `W = Σ w`,
/// for log-probabilities `−(1−ε)·w[y]·[c = y] − (ε/C)·w_c`.
pub fn class_index_loss(
    x: &[f32],
    dims: ClassDims,
    target: &[f32],
    spec: &ClassIndexSpec,
    mut losses: Option<&mut [f32]>,
    mut grad: Option<(&mut [f32], f32)>,
) -> f64 {
    let ClassDims {
        outer,
        classes,
        inner,
    } = dims;
    let w = |c: usize| spec.weight.map_or(1.0, |w| w[c]);
    let w_total: f32 = spec.weight.map_or(classes as f32, |w| w.iter().sum());
    let eps = spec.smoothing;
    let smooth_share = eps / classes as f32;
    let mut total = 0.0f64;
    for o in 0..outer {
        for s in 0..inner {
            let p = o * inner + s;
            let base = o * classes * inner + s;
            let t = target[p];
            if t == spec.ignore_index {
                if let Some(l) = losses.as_deref_mut() {
                    l[p] = 0.0;
                }
                if let Some((g, _)) = grad.as_mut() {
                    for c in 0..classes {
                        g[base + c * inner] = 0.0;
                    }
                }
                continue;
            }
            let y = t as usize;
            let wy = w(y);
            // With a gradient wanted, its buffer first holds the lane's exponentials.
            let exps = grad.as_mut().map(|(g, _)| &mut **g);
            let (lse, inv_sum) = if spec.logits {
                lane_logsumexp(x, base, classes, inner, exps)
            } else {
                (0.0, 0.0)
            };
            let mut loss = -(wy * (x[base + y * inner] - lse)) * (1.0 - eps);
            if eps > 0.0 {
                let mut smooth = 0.0f32;
                for c in 0..classes {
                    smooth -= w(c) * (x[base + c * inner] - lse);
                }
                loss += smooth_share * smooth;
            }
            if let Some(l) = losses.as_deref_mut() {
                l[p] = loss;
            }
            total += loss as f64;
            if let Some((g, scale)) = grad.as_mut() {
                let scale = *scale;
                let hit = (1.0 - eps) * wy;
                for c in 0..classes {
                    let i = base + c * inner;
                    let onehot = if c == y { hit } else { 0.0 };
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
pub fn class_probability_loss(
    x: &[f32],
    dims: ClassDims,
    target: &[f32],
    weight: Option<&[f32]>,
    smoothing: f32,
    mut losses: Option<&mut [f32]>,
    mut grad_x: Option<(&mut [f32], f32)>,
    mut grad_t: Option<(&mut [f32], f32)>,
) -> f64 {
    let ClassDims {
        outer,
        classes,
        inner,
    } = dims;
    let w = |c: usize| weight.map_or(1.0, |w| w[c]);
    let smooth_share = smoothing / classes as f32;
    let mut total = 0.0f64;
    for o in 0..outer {
        for s in 0..inner {
            let p = o * inner + s;
            let base = o * classes * inner + s;
            let exps = grad_x.as_mut().map(|(g, _)| &mut **g);
            let (lse, inv_sum) = lane_logsumexp(x, base, classes, inner, exps);
            let mut loss = 0.0f32;
            let mut weighted_mass = 0.0f32;
            for c in 0..classes {
                let i = base + c * inner;
                let wt = w(c) * (target[i] * (1.0 - smoothing) + smooth_share);
                loss -= wt * (x[i] - lse);
                weighted_mass += wt;
            }
            if let Some(l) = losses.as_deref_mut() {
                l[p] = loss;
            }
            total += loss as f64;
            if let Some((g, scale)) = grad_x.as_mut() {
                for c in 0..classes {
                    let i = base + c * inner;
                    let wt = w(c) * (target[i] * (1.0 - smoothing) + smooth_share);
                    g[i] = *scale * (g[i] * inv_sum * weighted_mass - wt);
                }
            }
            if let Some((g, scale)) = grad_t.as_mut() {
                for c in 0..classes {
                    let i = base + c * inner;
                    g[i] = -*scale * (1.0 - smoothing) * w(c) * (x[i] - lse);
                }
            }
        }
    }
    total
}

/// The first value outside [0, 1] (NaN included), if any: BCE's check on its input and target.
pub fn first_outside_unit_interval(values: &[f32]) -> Option<f32> {
    values.iter().copied().find(|v| !(*v >= 0.0 && *v <= 1.0))
}

/// Binary cross-entropy of probabilities `x` against `y` (same length), logs clamped at −100:
/// `l = −w·(y·max(ln x, −100) + (1−y)·max(ln(1−x), −100))`.
///
/// Returns the sum (also written to `losses` when given). Gradients, scaled:
/// `∂l/∂x = w·(x − y) / max(x(1−x), 1e-12)` (PyTorch's form) and
/// `∂l/∂y = w·(max(ln(1−x), −100) − max(ln x, −100))`.
pub fn binary_cross_entropy(
    x: &[f32],
    y: &[f32],
    weight: Option<&[f32]>,
    mut losses: Option<&mut [f32]>,
    mut grad_x: Option<(&mut [f32], f32)>,
    mut grad_y: Option<(&mut [f32], f32)>,
) -> f64 {
    let mut total = 0.0f64;
    for i in 0..x.len() {
        let (xi, yi) = (x[i], y[i]);
        let wi = weight.map_or(1.0, |w| w[i]);
        let log_x = xi.ln().max(-100.0);
        let log_1mx = (-xi).ln_1p().max(-100.0);
        let l = -wi * (yi * log_x + (1.0 - yi) * log_1mx);
        if let Some(out) = losses.as_deref_mut() {
            out[i] = l;
        }
        total += l as f64;
        if let Some((g, scale)) = grad_x.as_mut() {
            g[i] = *scale * wi * (xi - yi) / ((1.0 - xi) * xi).max(1e-12);
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
pub fn binary_cross_entropy_with_logits(
    x: &[f32],
    y: &[f32],
    weight: Option<&[f32]>,
    pos_weight: Option<&[f32]>,
    mut losses: Option<&mut [f32]>,
    mut grad_x: Option<(&mut [f32], f32)>,
    mut grad_y: Option<(&mut [f32], f32)>,
) -> f64 {
    let mut total = 0.0f64;
    for i in 0..x.len() {
        let (xi, yi) = (x[i], y[i]);
        let wi = weight.map_or(1.0, |w| w[i]);
        let pw = pos_weight.map_or(1.0, |p| p[i]);
        let e = (-xi.abs()).exp();
        let log_sig = xi.min(0.0) - e.ln_1p();
        let lw = 1.0 + (pw - 1.0) * yi;
        let l = wi * ((1.0 - yi) * xi - lw * log_sig);
        if let Some(out) = losses.as_deref_mut() {
            out[i] = l;
        }
        total += l as f64;
        if let Some((g, scale)) = grad_x.as_mut() {
            // σ(−x) from e = e^−|x| without overflow.
            let sig_neg = if xi >= 0.0 {
                e / (1.0 + e)
            } else {
                1.0 / (1.0 + e)
            };
            g[i] = *scale * wi * ((1.0 - yi) - lw * sig_neg);
        }
        if let Some((g, scale)) = grad_y.as_mut() {
            g[i] = *scale * wi * (-xi - (pw - 1.0) * log_sig);
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
        let mut g = [0.0; 2];
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

    #[test]
    fn logits_bce_is_stable_for_large_inputs() {
        let mut g = [0.0; 2];
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
