//! In-place optimizer updates: one pass over a parameter, its gradient and its state buffers
//! per step, with PyTorch's order of floating-point operations (so trajectories agree to ~1 ulp
//! per step). The scalar hyper-parameters arrive already combined (bias corrections, decayed
//! learning rates); each function's math is in its doc line. Generic over the float type of
//! the parameter (f32 and f64).

use crate::core::Float;

/// SGD: `g = grad + wd·p; buf = first ? g : μ·buf + (1 − τ)·g; g = nesterov ? g + μ·buf : buf;
/// p −= lr·g` (`buf` empty when momentum is 0). Large parameters are split across threads:
/// the update is memory-bound, and two cores move twice the bytes.
#[allow(clippy::too_many_arguments)]
pub fn sgd_update<T: Float>(
    param: &mut [T],
    grad: &[T],
    buf: &mut [T],
    lr: T,
    momentum: T,
    dampening: T,
    weight_decay: T,
    nesterov: bool,
    first_step: bool,
) {
    let run = |p: &mut [T], g: &[T], b: &mut [T]| {
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
    let mut pieces: Vec<(&mut [T], &mut [T])> = if has_buf {
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
fn sgd_update_serial<T: Float>(
    param: &mut [T],
    grad: &[T],
    buf: &mut [T],
    lr: T,
    momentum: T,
    dampening: T,
    weight_decay: T,
    nesterov: bool,
    first_step: bool,
) {
    let grad = &grad[..param.len()];
    let zero = T::zero();
    if momentum == zero {
        for (w, &g) in param.iter_mut().zip(grad) {
            let g = if weight_decay != zero {
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
        let g = if weight_decay != zero {
            g + weight_decay * *w
        } else {
            g
        };
        *b = if first_step {
            g
        } else {
            momentum * *b + (T::one() - dampening) * g
        };
        let step = if nesterov { g + momentum * *b } else { *b };
        *w += -lr * step;
    }
}

/// The scalars of one Adam step.
#[derive(Clone, Copy, Debug)]
pub struct AdamStep<T> {
    /// β1, the decay of the first moment.
    pub beta1: T,
    /// β2, the decay of the second moment.
    pub beta2: T,
    /// Added to the denominator.
    pub eps: T,
    /// L2 penalty added to the gradient (Adam), 0 for AdamW.
    pub l2: T,
    /// `lr / (1 − β1ᵗ)`.
    pub step_size: T,
    /// `√(1 − β2ᵗ)`.
    pub bias_correction2_sqrt: T,
    /// Multiplies the parameter before the update: `1 − lr·wd` for AdamW, 1 for Adam.
    pub decay_factor: T,
}

/// Adam / AdamW: `p *= decay; g = grad + l2·p; m = β1m + (1−β1)g; v = β2v + (1−β2)g²;
/// v̂ = amsgrad ? max(v̂, v) : v; p −= step_size · m / (√v̂ / √(1−β2ᵗ) + eps)`.
pub fn adam_update<T: Float>(
    param: &mut [T],
    grad: &[T],
    m: &mut [T],
    v: &mut [T],
    vmax: Option<&mut [T]>,
    s: AdamStep<T>,
) {
    let mut vmax = vmax;
    let one = T::one();
    for i in 0..param.len() {
        if s.decay_factor != one {
            param[i] *= s.decay_factor;
        }
        let mut g = grad[i];
        if s.l2 != T::zero() {
            g += s.l2 * param[i];
        }
        // m.lerp_(g, 1 − β1) as PyTorch writes it: m + (1 − β1)(g − m).
        m[i] += (one - s.beta1) * (g - m[i]);
        v[i] = v[i] * s.beta2 + (one - s.beta2) * g * g;
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
pub struct RmspropStep<T> {
    /// Learning rate.
    pub lr: T,
    /// Decay of the running mean of g².
    pub alpha: T,
    /// Added to the denominator.
    pub eps: T,
    /// L2 penalty added to the gradient.
    pub weight_decay: T,
    /// Momentum of the update buffer (0: none).
    pub momentum: T,
}

/// RMSprop: `v = αv + (1−α)g²; centered: ḡ = ḡ + (1−α)(g − ḡ), v' = v − ḡ²;
/// avg = √v' + eps; momentum: buf = μ·buf + g/avg, p −= lr·buf; else p −= lr·g/avg`.
pub fn rmsprop_update<T: Float>(
    param: &mut [T],
    grad: &[T],
    square_avg: &mut [T],
    grad_avg: Option<&mut [T]>,
    momentum_buf: Option<&mut [T]>,
    s: RmspropStep<T>,
) {
    let (mut grad_avg, mut momentum_buf) = (grad_avg, momentum_buf);
    let one = T::one();
    for i in 0..param.len() {
        let mut g = grad[i];
        if s.weight_decay != T::zero() {
            g += s.weight_decay * param[i];
        }
        square_avg[i] = square_avg[i] * s.alpha + (one - s.alpha) * g * g;
        let var = match grad_avg.as_deref_mut() {
            Some(ga) => {
                ga[i] += (one - s.alpha) * (g - ga[i]);
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
pub fn adagrad_update<T: Float>(
    param: &mut [T],
    grad: &[T],
    sum: &mut [T],
    clr: T,
    eps: T,
    weight_decay: T,
) {
    for i in 0..param.len() {
        let mut g = grad[i];
        if weight_decay != T::zero() {
            g += weight_decay * param[i];
        }
        sum[i] += g * g;
        param[i] += -clr * (g / (sum[i].sqrt() + eps));
    }
}

/// Σ |g|ᵖ over a gradient, in f64 (for the global norm of gradient clipping); p = ∞ gives max |g|.
pub fn pow_abs_sum<T: Float>(grad: &[T], p: f32) -> f64 {
    if p.is_infinite() {
        return grad.iter().fold(0.0f64, |m, &g| m.max(g.abs().f64()));
    }
    if p == 2.0 {
        return grad.iter().map(|&g| g.f64() * g.f64()).sum();
    }
    grad.iter().map(|&g| g.abs().f64().powf(p as f64)).sum()
}

/// In place: `x *= c`.
pub fn scale<T: Float>(x: &mut [T], c: T) {
    x.iter_mut().for_each(|v| *v *= c);
}

/// In place: `x = clamp(x, −limit, limit)`.
pub fn clamp_symmetric<T: Float>(x: &mut [T], limit: T) {
    x.iter_mut().for_each(|v| *v = v.clamp(-limit, limit));
}

/// Overwrites each element of `x` with the next value of `f` (constant initialisers).
pub fn fill_with<T>(x: &mut [T], mut f: impl FnMut() -> T) {
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

    /// The f64 updates agree with the f32 ones over a few steps of every optimizer, and the
    /// norm and in-place helpers run in f64.
    #[test]
    fn f64_updates_match_the_f32_ones() {
        let n = 9;
        let p0: Vec<f64> = (0..n).map(|i| (i as f64 * 0.41).sin()).collect();
        let g: Vec<f64> = (0..n).map(|i| (i as f64 * 0.83).cos()).collect();
        let f = |v: &[f64]| -> Vec<f32> { v.iter().map(|&x| x as f32).collect() };
        let close = |a: &[f64], b: &[f32]| {
            for (p, q) in a.iter().zip(b) {
                assert!((p - *q as f64).abs() < 1e-5, "{p} vs {q}");
            }
        };
        let (g32, zeros, zeros32) = (f(&g), vec![0.0f64; n], vec![0.0f32; n]);
        // SGD, Nesterov momentum with weight decay.
        let (mut p, mut b, mut p32, mut b32) = (p0.clone(), zeros.clone(), f(&p0), zeros32.clone());
        for step in 0..3 {
            sgd_update(&mut p, &g, &mut b, 0.1, 0.9, 0.1, 0.01, true, step == 0);
            sgd_update(
                &mut p32,
                &g32,
                &mut b32,
                0.1,
                0.9,
                0.1,
                0.01,
                true,
                step == 0,
            );
        }
        close(&p, &p32);
        // AMSGrad Adam with L2.
        let (mut p, mut m, mut v, mut vm) =
            (p0.clone(), zeros.clone(), zeros.clone(), zeros.clone());
        let (mut p32, mut m32, mut v32, mut vm32) =
            (f(&p0), zeros32.clone(), zeros32.clone(), zeros32.clone());
        for t in 1..=3 {
            let bc1 = 1.0 - 0.9f64.powi(t);
            let bc2 = (1.0 - 0.999f64.powi(t)).sqrt();
            let s = AdamStep {
                beta1: 0.9,
                beta2: 0.999,
                eps: 1e-8,
                l2: 0.01,
                step_size: 0.01 / bc1,
                bias_correction2_sqrt: bc2,
                decay_factor: 1.0,
            };
            let s32 = AdamStep {
                beta1: 0.9f32,
                beta2: 0.999,
                eps: 1e-8,
                l2: 0.01,
                step_size: (0.01 / bc1) as f32,
                bias_correction2_sqrt: bc2 as f32,
                decay_factor: 1.0,
            };
            adam_update(&mut p, &g, &mut m, &mut v, Some(&mut vm), s);
            adam_update(&mut p32, &g32, &mut m32, &mut v32, Some(&mut vm32), s32);
        }
        close(&p, &p32);
        // Centered RMSprop with momentum.
        let (mut p, mut sq, mut ga, mut mb) =
            (p0.clone(), zeros.clone(), zeros.clone(), zeros.clone());
        let (mut p32, mut sq32, mut ga32, mut mb32) =
            (f(&p0), zeros32.clone(), zeros32.clone(), zeros32.clone());
        for _ in 0..3 {
            let s = RmspropStep {
                lr: 0.01,
                alpha: 0.99,
                eps: 1e-8,
                weight_decay: 0.01,
                momentum: 0.9,
            };
            let s32 = RmspropStep {
                lr: 0.01f32,
                alpha: 0.99,
                eps: 1e-8,
                weight_decay: 0.01,
                momentum: 0.9,
            };
            rmsprop_update(&mut p, &g, &mut sq, Some(&mut ga), Some(&mut mb), s);
            rmsprop_update(
                &mut p32,
                &g32,
                &mut sq32,
                Some(&mut ga32),
                Some(&mut mb32),
                s32,
            );
        }
        close(&p, &p32);
        // Adagrad.
        let (mut p, mut sum, mut p32, mut sum32) = (p0.clone(), zeros, f(&p0), zeros32);
        for _ in 0..3 {
            adagrad_update(&mut p, &g, &mut sum, 0.1, 1e-10, 0.01);
            adagrad_update(&mut p32, &g32, &mut sum32, 0.1, 1e-10, 0.01);
        }
        close(&p, &p32);
        // Norms and in-place helpers, by hand.
        let x = [3.0f64, -4.0];
        assert_eq!(pow_abs_sum(&x, 2.0), 25.0);
        assert_eq!(pow_abs_sum(&x, f32::INFINITY), 4.0);
        assert!((pow_abs_sum(&x, 1.5) - (27f64.sqrt() + 8.0)).abs() < 1e-12);
        let mut y = x;
        scale(&mut y, 0.5);
        assert_eq!(y, [1.5, -2.0]);
        clamp_symmetric(&mut y, 1.75);
        assert_eq!(y, [1.5, -1.75]);
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
