//! In-place optimizer updates: one pass over a parameter, its gradient and its state buffers
//! per step, with PyTorch's order of floating-point operations (so trajectories agree to ~1 ulp
//! per step). The scalar hyper-parameters arrive already combined (bias corrections, decayed
//! learning rates); each function's math is in its doc line.

/// SGD: `g = grad + wd·p; buf = first ? g : μ·buf + (1 − τ)·g; g = nesterov ? g + μ·buf : buf;
/// p −= lr·g` (`buf` empty when momentum is 0). Large parameters are split across threads:
/// the update is memory-bound, and two cores move twice the bytes.
#[allow(clippy::too_many_arguments)]
pub fn sgd_update(
    param: &mut [f32],
    grad: &[f32],
    buf: &mut [f32],
    lr: f32,
    momentum: f32,
    dampening: f32,
    weight_decay: f32,
    nesterov: bool,
    first_step: bool,
) {
    let run = |p: &mut [f32], g: &[f32], b: &mut [f32]| {
        sgd_update_serial(
            p,
            g,
            b,
            lr,
            momentum,
            dampening,
            weight_decay,
            nesterov,
            first_step,
        )
    };
    if param.len() < PARALLEL_MIN {
        return run(param, grad, buf);
    }
    let chunk = param.len().div_ceil(super::parallel::threads());
    let has_buf = !buf.is_empty();
    let mut pieces: Vec<(&mut [f32], &mut [f32])> = if has_buf {
        param.chunks_mut(chunk).zip(buf.chunks_mut(chunk)).collect()
    } else {
        param.chunks_mut(chunk).map(|p| (p, &mut [][..])).collect()
    };
    super::parallel::for_each_chunk_mut(&mut pieces, 1, |i, piece| {
        let (p, b) = &mut piece[0];
        run(p, &grad[i * chunk..], b);
    });
}

/// Elements above which an update is split across threads.
const PARALLEL_MIN: usize = 1 << 14;

/// [`sgd_update`] on one thread, one loop per case so that each vectorises.
#[allow(clippy::too_many_arguments)]
fn sgd_update_serial(
    param: &mut [f32],
    grad: &[f32],
    buf: &mut [f32],
    lr: f32,
    momentum: f32,
    dampening: f32,
    weight_decay: f32,
    nesterov: bool,
    first_step: bool,
) {
    let grad = &grad[..param.len()];
    if momentum == 0.0 {
        for (w, &g) in param.iter_mut().zip(grad) {
            let g = if weight_decay != 0.0 {
                g + weight_decay * *w
            } else {
                g
            };
            *w += -lr * g;
        }
        return;
    }
    let buf = &mut buf[..param.len()];
    for ((w, &g), b) in param.iter_mut().zip(grad).zip(buf.iter_mut()) {
        let g = if weight_decay != 0.0 {
            g + weight_decay * *w
        } else {
            g
        };
        *b = if first_step {
            g
        } else {
            momentum * *b + (1.0 - dampening) * g
        };
        let step = if nesterov { g + momentum * *b } else { *b };
        *w += -lr * step;
    }
}

/// The scalars of one Adam step.
#[derive(Clone, Copy, Debug)]
pub struct AdamStep {
    /// β1, the decay of the first moment.
    pub beta1: f32,
    /// β2, the decay of the second moment.
    pub beta2: f32,
    /// Added to the denominator.
    pub eps: f32,
    /// L2 penalty added to the gradient (Adam), 0 for AdamW.
    pub l2: f32,
    /// `lr / (1 − β1ᵗ)`.
    pub step_size: f32,
    /// `√(1 − β2ᵗ)`.
    pub bias_correction2_sqrt: f32,
    /// Multiplies the parameter before the update: `1 − lr·wd` for AdamW, 1 for Adam.
    pub decay_factor: f32,
}

/// Adam / AdamW: `p *= decay; g = grad + l2·p; m = β1m + (1−β1)g; v = β2v + (1−β2)g²;
/// v̂ = amsgrad ? max(v̂, v) : v; p −= step_size · m / (√v̂ / √(1−β2ᵗ) + eps)`.
pub fn adam_update(
    param: &mut [f32],
    grad: &[f32],
    m: &mut [f32],
    v: &mut [f32],
    vmax: Option<&mut [f32]>,
    s: AdamStep,
) {
    let mut vmax = vmax;
    for i in 0..param.len() {
        if s.decay_factor != 1.0 {
            param[i] *= s.decay_factor;
        }
        let mut g = grad[i];
        if s.l2 != 0.0 {
            g += s.l2 * param[i];
        }
        // m.lerp_(g, 1 − β1) as PyTorch writes it: m + (1 − β1)(g − m).
        m[i] += (1.0 - s.beta1) * (g - m[i]);
        v[i] = v[i] * s.beta2 + (1.0 - s.beta2) * g * g;
        let second = match vmax.as_deref_mut() {
            Some(vm) => {
                vm[i] = vm[i].max(v[i]);
                vm[i]
            }
            None => v[i],
        };
        let denom = second.sqrt() / s.bias_correction2_sqrt + s.eps;
        param[i] += -s.step_size * (m[i] / denom);
    }
}

/// The scalars of one RMSprop step.
#[derive(Clone, Copy, Debug)]
pub struct RmspropStep {
    /// Learning rate.
    pub lr: f32,
    /// Decay of the running mean of g².
    pub alpha: f32,
    /// Added to the denominator.
    pub eps: f32,
    /// L2 penalty added to the gradient.
    pub weight_decay: f32,
    /// Momentum of the update buffer (0: none).
    pub momentum: f32,
}

/// RMSprop: `v = αv + (1−α)g²; centered: ḡ = ḡ + (1−α)(g − ḡ), v' = v − ḡ²;
/// avg = √v' + eps; momentum: buf = μ·buf + g/avg, p −= lr·buf; else p −= lr·g/avg`.
pub fn rmsprop_update(
    param: &mut [f32],
    grad: &[f32],
    square_avg: &mut [f32],
    grad_avg: Option<&mut [f32]>,
    momentum_buf: Option<&mut [f32]>,
    s: RmspropStep,
) {
    let (mut grad_avg, mut momentum_buf) = (grad_avg, momentum_buf);
    for i in 0..param.len() {
        let mut g = grad[i];
        if s.weight_decay != 0.0 {
            g += s.weight_decay * param[i];
        }
        square_avg[i] = square_avg[i] * s.alpha + (1.0 - s.alpha) * g * g;
        let var = match grad_avg.as_deref_mut() {
            Some(ga) => {
                ga[i] += (1.0 - s.alpha) * (g - ga[i]);
                square_avg[i] - ga[i] * ga[i]
            }
            None => square_avg[i],
        };
        let avg = var.sqrt() + s.eps;
        match momentum_buf.as_deref_mut() {
            Some(buf) => {
                buf[i] = buf[i] * s.momentum + g / avg;
                param[i] += -s.lr * buf[i];
            }
            None => param[i] += -s.lr * (g / avg),
        }
    }
}

/// Adagrad: `g = grad + wd·p; S += g²; p −= clr·g / (√S + eps)`, `clr` the decayed rate.
pub fn adagrad_update(
    param: &mut [f32],
    grad: &[f32],
    sum: &mut [f32],
    clr: f32,
    eps: f32,
    weight_decay: f32,
) {
    for i in 0..param.len() {
        let mut g = grad[i];
        if weight_decay != 0.0 {
            g += weight_decay * param[i];
        }
        sum[i] += g * g;
        param[i] += -clr * (g / (sum[i].sqrt() + eps));
    }
}

/// Σ |g|ᵖ over a gradient, in f64 (for the global norm of gradient clipping); p = ∞ gives max |g|.
pub fn pow_abs_sum(grad: &[f32], p: f32) -> f64 {
    if p.is_infinite() {
        return grad.iter().fold(0.0f64, |m, &g| m.max(g.abs() as f64));
    }
    if p == 2.0 {
        return grad.iter().map(|&g| (g as f64) * (g as f64)).sum();
    }
    grad.iter().map(|&g| (g.abs() as f64).powf(p as f64)).sum()
}

/// In place: `x *= c`.
pub fn scale(x: &mut [f32], c: f32) {
    x.iter_mut().for_each(|v| *v *= c);
}

/// In place: `x = clamp(x, −limit, limit)`.
pub fn clamp_symmetric(x: &mut [f32], limit: f32) {
    x.iter_mut().for_each(|v| *v = v.clamp(-limit, limit));
}

/// Overwrites each element of `x` with the next value of `f` (constant initialisers).
pub fn fill_with(x: &mut [f32], mut f: impl FnMut() -> f32) {
    x.iter_mut().for_each(|v| *v = f());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threaded_sgd_matches_the_one_thread_update() {
        // Large enough to be split; every option combination.
        let n = 3 * PARALLEL_MIN + 7;
        let w0: Vec<f32> = (0..n).map(|i| (i as f32 * 0.013).sin()).collect();
        let g: Vec<f32> = (0..n).map(|i| (i as f32 * 0.029).cos()).collect();
        for (momentum, wd, nesterov, first) in [
            (0.0, 0.0, false, true),
            (0.0, 1e-2, false, true),
            (0.9, 0.0, false, true),
            (0.9, 1e-2, true, false),
        ] {
            let buf0: Vec<f32> = if momentum == 0.0 {
                Vec::new()
            } else {
                (0..n).map(|i| (i as f32 * 0.007).cos()).collect()
            };
            let (mut w1, mut b1) = (w0.clone(), buf0.clone());
            let (mut w2, mut b2) = (w0.clone(), buf0.clone());
            sgd_update(
                &mut w1, &g, &mut b1, 0.1, momentum, 0.1, wd, nesterov, first,
            );
            sgd_update_serial(
                &mut w2, &g, &mut b2, 0.1, momentum, 0.1, wd, nesterov, first,
            );
            assert_eq!(w1, w2);
            assert_eq!(b1, b2);
            assert_ne!(w1, w0);
        }
    }

    #[test]
    fn sgd_momentum_by_hand() {
        // p = 1, g = 0.5, lr 0.1, μ 0.9: step 1 buf = 0.5, p = 0.95; step 2 buf = 0.95, p = 0.855
        let (mut p, mut buf) = ([1.0f32], [0.0f32]);
        sgd_update(&mut p, &[0.5], &mut buf, 0.1, 0.9, 0.0, 0.0, false, true);
        assert!((p[0] - 0.95).abs() < 1e-7);
        sgd_update(&mut p, &[0.5], &mut buf, 0.1, 0.9, 0.0, 0.0, false, false);
        assert!((buf[0] - 0.95).abs() < 1e-7 && (p[0] - 0.855).abs() < 1e-6);
    }

    #[test]
    fn adam_first_step_moves_by_lr() {
        // At t = 1 the bias-corrected ratio m̂/√v̂ is sign(g): p moves by lr (minus the eps effect).
        let (mut p, mut m, mut v) = ([0.0f32], [0.0f32], [0.0f32]);
        let s = AdamStep {
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            l2: 0.0,
            step_size: 0.01 / (1.0 - 0.9),
            bias_correction2_sqrt: (1.0f32 - 0.999).sqrt(),
            decay_factor: 1.0,
        };
        adam_update(&mut p, &[3.0], &mut m, &mut v, None, s);
        assert!((p[0] + 0.01).abs() < 1e-6);
    }
}
