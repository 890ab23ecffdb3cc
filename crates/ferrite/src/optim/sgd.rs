//! Stochastic gradient descent with momentum, dampening, Nesterov momentum and weight decay.

use super::{build_groups, check, impl_group_access, param_grad, Group, Optimizer, ParamGroup};
use crate::backend::SgdStep;
use crate::error::Result;
use crate::Tensor;

/// SGD's hyper-parameters (PyTorch's defaults: lr 1e-3, everything else off).
#[derive(Clone, Copy, Debug)]
pub struct SgdConfig {
    /// Learning rate.
    pub lr: f32,
    /// Momentum factor μ (0: plain SGD).
    pub momentum: f32,
    /// Dampening τ of the momentum's gradient term.
    pub dampening: f32,
    /// L2 penalty added to the gradient.
    pub weight_decay: f32,
    /// Nesterov momentum (needs momentum > 0 and dampening 0).
    pub nesterov: bool,
}

impl Default for SgdConfig {
    fn default() -> Self {
        SgdConfig {
            lr: 1e-3,
            momentum: 0.0,
            dampening: 0.0,
            weight_decay: 0.0,
            nesterov: false,
        }
    }
}

/// `g = grad + wd·p; buf = g (first step) or μ·buf + (1 − τ)·g; g = nesterov ? g + μ·buf :
/// buf; p −= lr·g` (PyTorch's `torch.optim.SGD`).
///
/// ```
/// use ferrite::optim::{Optimizer, Sgd};
/// use ferrite::Tensor;
/// let w = Tensor::from_vec(vec![1.0], [1]).requires_grad();
/// let mut opt = Sgd::new(vec![w.clone()], 0.1).unwrap();
/// (&w * &w).sum().backward(); // dw = 2w = 2
/// opt.step();
/// assert!((w.item() - 0.8).abs() < 1e-6);
/// assert!(Sgd::new(vec![w], -1.0).is_err());
/// ```
pub struct Sgd {
    /// Per parameter: the momentum buffer on the parameter's device, made on its first step
    /// when momentum is on.
    groups: Vec<Group<Option<Tensor>>>,
    config: SgdConfig,
}

impl Sgd {
    /// Plain SGD with learning rate `lr`.
    pub fn new(params: Vec<Tensor>, lr: f32) -> Result<Sgd> {
        Sgd::with_config(
            params,
            SgdConfig {
                lr,
                ..Default::default()
            },
        )
    }

    /// SGD with every option.
    pub fn with_config(params: Vec<Tensor>, config: SgdConfig) -> Result<Sgd> {
        Sgd::with_groups(vec![ParamGroup::new(params)], config)
    }

    /// SGD over parameter groups with their own learning rates or weight decay.
    pub fn with_groups(groups: Vec<ParamGroup>, config: SgdConfig) -> Result<Sgd> {
        let c = config;
        check(
            c.momentum >= 0.0,
            "momentum",
            format!("Invalid momentum value: {}", c.momentum),
        )?;
        check(
            !c.nesterov || (c.momentum > 0.0 && c.dampening == 0.0),
            "nesterov",
            "Nesterov momentum requires a momentum and zero dampening".to_string(),
        )?;
        Ok(Sgd {
            groups: build_groups(groups, c.lr, c.weight_decay)?,
            config,
        })
    }
}

impl Optimizer for Sgd {
    fn step(&mut self) {
        let c = self.config;
        for group in &mut self.groups {
            let (lr, wd) = (group.lr, group.weight_decay);
            for (p, state) in group.params.iter().zip(&mut group.state) {
                let Some(grad) = param_grad(p) else { continue };
                let first_step = state.is_none();
                if first_step && c.momentum != 0.0 {
                    *state = Some(p.zeros_like());
                }
                let step = SgdStep {
                    lr,
                    momentum: c.momentum,
                    dampening: c.dampening,
                    weight_decay: wd,
                    nesterov: c.nesterov,
                    first_step,
                };
                let g = grad.storage();
                let mut buf = state.as_ref().map(|b| b.storage_mut());
                p.storage_mut()
                    .sgd_step(p.layout(), (&g, grad.layout()), buf.as_deref_mut(), step);
            }
        }
    }

    impl_group_access!();
}
