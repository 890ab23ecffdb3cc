//! In-place optimizer updates on parameters and their state buffers, and the norms and
//! scaling of gradient clipping.
//!
//! An update writes the parameter (a contiguous view, as optimizers require) and its state
//! buffers (whole buffers of the parameter's size, made by the optimizer) in place, reading
//! the gradient through its layout. The scalar hyper-parameters arrive already combined
//! (bias corrections, decayed learning rates), so every backend runs the same arithmetic.

use super::{on_device, BackendResult, Storage};
use crate::core::Layout;

/// The scalars of one SGD step.
#[derive(Clone, Copy, Debug)]
pub struct SgdStep {
    /// Learning rate.
    pub lr: f32,
    /// Momentum factor μ (0: no momentum buffer).
    pub momentum: f32,
    /// Dampening τ of the momentum's gradient term.
    pub dampening: f32,
    /// L2 penalty added to the gradient.
    pub weight_decay: f32,
    /// Nesterov momentum.
    pub nesterov: bool,
    /// True on the parameter's first step: the momentum buffer starts as the gradient.
    pub first_step: bool,
}

/// The scalars of one Adam / AdamW step.
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

/// The scalars of one Adagrad step.
#[derive(Clone, Copy, Debug)]
pub struct AdagradStep {
    /// The decayed learning rate `lr / (1 + (t − 1)·lr_decay)`.
    pub clr: f32,
    /// Added to the denominator.
    pub eps: f32,
    /// L2 penalty added to the gradient.
    pub weight_decay: f32,
}

/// In-place optimizer updates and the gradient arithmetic of clipping.
pub trait OptimOps: Sized {
    /// SGD: `g = grad + wd·p; buf = first ? g : μ·buf + (1 − τ)·g; g = nesterov ? g + μ·buf :
    /// buf; p −= lr·g`. `momentum_buffer` is `None` when momentum is 0.
    fn sgd_step(
        &mut self,
        layout: &Layout,
        grad: (&Self, &Layout),
        momentum_buffer: Option<&mut Self>,
        step: SgdStep,
    ) -> BackendResult<()>;

    /// Adam / AdamW: `p *= decay; g = grad + l2·p; m = β1m + (1−β1)g; v = β2v + (1−β2)g²;
    /// v̂ = amsgrad ? max(v̂, v) : v; p −= step_size · m / (√v̂ / √(1−β2ᵗ) + eps)`.
    /// `max_exp_avg_sq` is given for AMSGrad.
    fn adam_step(
        &mut self,
        layout: &Layout,
        grad: (&Self, &Layout),
        exp_avg: &mut Self,
        exp_avg_sq: &mut Self,
        max_exp_avg_sq: Option<&mut Self>,
        step: AdamStep,
    ) -> BackendResult<()>;

    /// RMSprop: `v = αv + (1−α)g²; centered: ḡ = ḡ + (1−α)(g − ḡ), v' = v − ḡ²;
    /// avg = √v' + eps; momentum: buf = μ·buf + g/avg, p −= lr·buf; else p −= lr·g/avg`.
    /// `grad_avg` is given when centered, `momentum_buffer` when momentum > 0.
    fn rmsprop_step(
        &mut self,
        layout: &Layout,
        grad: (&Self, &Layout),
        square_avg: &mut Self,
        grad_avg: Option<&mut Self>,
        momentum_buffer: Option<&mut Self>,
        step: RmspropStep,
    ) -> BackendResult<()>;

    /// Adagrad: `g = grad + wd·p; S += g²; p −= clr·g / (√S + eps)`.
    fn adagrad_step(
        &mut self,
        layout: &Layout,
        grad: (&Self, &Layout),
        sum: &mut Self,
        step: AdagradStep,
    ) -> BackendResult<()>;

    /// `Σ |x|ᵖ` over what `layout` sees, in f64; `p = ∞` gives `max |x|`.
    fn pow_abs_sum(&self, layout: &Layout, p: f32) -> BackendResult<f64>;

    /// In place: the elements of the contiguous view `layout` are multiplied by `factor`.
    fn scale_(&mut self, layout: &Layout, factor: f32) -> BackendResult<()>;

    /// In place: the elements of the contiguous view `layout` are clamped to
    /// `[−limit, limit]`.
    fn clamp_abs_(&mut self, layout: &Layout, limit: f32) -> BackendResult<()>;
}

impl Storage {
    /// One SGD step on the parameter `self` (contiguous view `layout`) in place.
    pub fn sgd_step(
        &mut self,
        layout: &Layout,
        grad: (&Storage, &Layout),
        momentum_buffer: Option<&mut Storage>,
        step: SgdStep,
    ) {
        let (s, g, buf) = (self, grad.0, momentum_buffer);
        on_device!("sgd", |_wrap| [s, g] ? [buf] => s.sgd_step(layout, (g, grad.1), buf, step))
    }

    /// One Adam / AdamW step on the parameter `self` and its moment buffers in place.
    pub fn adam_step(
        &mut self,
        layout: &Layout,
        grad: (&Storage, &Layout),
        exp_avg: &mut Storage,
        exp_avg_sq: &mut Storage,
        max_exp_avg_sq: Option<&mut Storage>,
        step: AdamStep,
    ) {
        let (s, g, m, v, vmax) = (self, grad.0, exp_avg, exp_avg_sq, max_exp_avg_sq);
        on_device!("adam", |_wrap| [s, g, m, v] ? [vmax] => {
            s.adam_step(layout, (g, grad.1), m, v, vmax, step)
        })
    }

    /// One RMSprop step on the parameter `self` and its state buffers in place.
    pub fn rmsprop_step(
        &mut self,
        layout: &Layout,
        grad: (&Storage, &Layout),
        square_avg: &mut Storage,
        grad_avg: Option<&mut Storage>,
        momentum_buffer: Option<&mut Storage>,
        step: RmspropStep,
    ) {
        let (s, g, sq, ga, buf) = (self, grad.0, square_avg, grad_avg, momentum_buffer);
        on_device!("rmsprop", |_wrap| [s, g, sq] ? [ga, buf] => {
            s.rmsprop_step(layout, (g, grad.1), sq, ga, buf, step)
        })
    }

    /// One Adagrad step on the parameter `self` and its sum of squares in place.
    pub fn adagrad_step(
        &mut self,
        layout: &Layout,
        grad: (&Storage, &Layout),
        sum: &mut Storage,
        step: AdagradStep,
    ) {
        let (s, g, sum) = (self, grad.0, sum);
        on_device!("adagrad", |_wrap| [s, g, sum] => s.adagrad_step(layout, (g, grad.1), sum, step))
    }

    /// `Σ |x|ᵖ` over what `layout` sees, in f64; `p = ∞` gives `max |x|`.
    pub fn pow_abs_sum(&self, layout: &Layout, p: f32) -> f64 {
        let s = self;
        on_device!("clip_grad_norm_", |_wrap| [s] => s.pow_abs_sum(layout, p))
    }

    /// In place: the contiguous view `layout` is multiplied by `factor`.
    pub fn scale_(&mut self, layout: &Layout, factor: f32) {
        let s = self;
        on_device!("clip_grad_norm_", |_wrap| [s] => s.scale_(layout, factor))
    }

    /// In place: the contiguous view `layout` is clamped to `[−limit, limit]`.
    pub fn clamp_abs_(&mut self, layout: &Layout, limit: f32) {
        let s = self;
        on_device!("clip_grad_value_", |_wrap| [s] => s.clamp_abs_(layout, limit))
    }
}
