//! RMSprop: gradients divided by a running root-mean-square, optionally centered and with
//! momentum.

use super::{build_groups, check, impl_group_access, param_grad, Group, Optimizer, ParamGroup};
use crate::backend::RmspropStep;
use crate::error::Result;
use crate::Tensor;

/// RMSprop's hyper-parameters (PyTorch's defaults: lr 1e-2, alpha 0.99, eps 1e-8, no weight
/// decay, no momentum, not centered).
#[derive(Clone, Copy, Debug)]
pub struct RMSpropConfig {
    /// Learning rate.
    pub lr: f32,
    /// Decay α of the running mean of g².
    pub alpha: f32,
    /// Added to the denominator.
    pub eps: f32,
    /// L2 penalty added to the gradient.
    pub weight_decay: f32,
    /// Momentum factor (0: none).
    pub momentum: f32,
    /// Normalise by the variance (mean of g² minus the square of the mean of g).
    pub centered: bool,
}

impl Default for RMSpropConfig {
    fn default() -> Self {
        RMSpropConfig {
            lr: 1e-2,
            alpha: 0.99,
            eps: 1e-8,
            weight_decay: 0.0,
            momentum: 0.0,
            centered: false,
        }
    }
}

/// RMSprop's buffers for one parameter (PyTorch's names), on the parameter's device, made on
/// its first step.
struct RmsBuffers {
    /// The running mean of g².
    square_avg: Tensor,
    /// The running mean of g, when centered.
    grad_avg: Option<Tensor>,
    /// The update buffer, with momentum.
    momentum_buffer: Option<Tensor>,
}

/// `v = αv + (1−α)g²; centered: v −= ḡ²; avg = √v + eps; momentum: buf = μ·buf + g/avg,
/// p −= lr·buf; else p −= lr·g/avg` (PyTorch's `torch.optim.RMSprop`).
pub struct RMSprop {
    groups: Vec<Group<Option<RmsBuffers>>>,
    config: RMSpropConfig,
}

impl RMSprop {
    /// RMSprop over `params`.
    pub fn new(params: Vec<Tensor>, config: RMSpropConfig) -> Result<RMSprop> {
        RMSprop::with_groups(vec![ParamGroup::new(params)], config)
    }

    /// RMSprop over parameter groups with their own learning rates or weight decay.
    pub fn with_groups(groups: Vec<ParamGroup>, config: RMSpropConfig) -> Result<RMSprop> {
        let c = config;
        check(
            c.lr >= 0.0,
            "lr",
            format!("Invalid learning rate: {}", c.lr),
        )?;
        check(
            c.eps >= 0.0,
            "eps",
            format!("Invalid epsilon value: {}", c.eps),
        )?;
        check(
            c.momentum >= 0.0,
            "momentum",
            format!("Invalid momentum value: {}", c.momentum),
        )?;
        check(
            c.alpha >= 0.0,
            "alpha",
            format!("Invalid alpha value: {}", c.alpha),
        )?;
        Ok(RMSprop {
            groups: build_groups(groups, c.lr, c.weight_decay)?,
            config,
        })
    }
}

impl Optimizer for RMSprop {
    fn step(&mut self) {
        let c = self.config;
        for group in &mut self.groups {
            let s = RmspropStep {
                lr: group.lr,
                alpha: c.alpha,
                eps: c.eps,
                weight_decay: group.weight_decay,
                momentum: c.momentum,
            };
            for (p, st) in group.params.iter().zip(&mut group.state) {
                let Some(grad) = param_grad(p) else { continue };
                let b = st.get_or_insert_with(|| RmsBuffers {
                    square_avg: p.zeros_like(),
                    grad_avg: c.centered.then(|| p.zeros_like()),
                    momentum_buffer: (c.momentum > 0.0).then(|| p.zeros_like()),
                });
                let g = grad.storage();
                let mut grad_avg = b.grad_avg.as_ref().map(|t| t.storage_mut());
                let mut momentum = b.momentum_buffer.as_ref().map(|t| t.storage_mut());
                p.storage_mut().rmsprop_step(
                    p.layout(),
                    (&g, grad.layout()),
                    &mut b.square_avg.storage_mut(),
                    grad_avg.as_deref_mut(),
                    momentum.as_deref_mut(),
                    s,
                );
            }
        }
    }
    impl_group_access!();
}
