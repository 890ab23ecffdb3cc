//! Stochastic gradient descent with momentum, dampening, Nesterov momentum and weight decay.

use super::{build_groups, check, impl_group_access, param_grad, Group, Optimizer, ParamGroup};
use crate::backend::SgdStep;
use crate::error::Result;
use crate::Tensor;

/// SGD's hyper-parameters (PyTorch's defaults: lr 1e-3, everything else off).
#[derive(Clone, Copy, Debug)]
pub struct SGDConfig {
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

impl Default for SGDConfig {
    fn default() -> Self {
        SGDConfig {
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
/// use ferrite::optim::{Optimizer, SGD, SGDConfig};
/// use ferrite::Tensor;
/// let w = Tensor::from_vec(vec![1.0], [1]).requires_grad();
/// let mut opt = SGD::new(vec![w.clone()], SGDConfig { lr: 0.1, ..Default::default() }).unwrap();
/// (&w * &w).sum().backward(); // dw = 2w = 2
/// opt.step();
/// assert!((w.item() - 0.8).abs() < 1e-6);
/// // Invalid hyper-parameters are errors naming the value.
/// let bad = SGD::new(vec![w], SGDConfig { lr: -1.0, ..Default::default() });
/// assert!(bad.err().unwrap().to_string().contains("-1"));
/// ```
pub struct SGD {
    /// Per parameter: the momentum buffer on the parameter's device, made on its first step
    /// when momentum is on.
    groups: Vec<Group<Option<Tensor>>>,
    config: SGDConfig,
}

impl SGD {
    /// SGD over `params` (PyTorch's `torch.optim.SGD(params, lr=..., ...)`); the
    /// hyper-parameters not set take `SGDConfig::default()`'s values.
    pub fn new(params: Vec<Tensor>, config: SGDConfig) -> Result<SGD> {
        SGD::with_groups(vec![ParamGroup::new(params)], config)
    }

    /// SGD over parameter groups with their own learning rates or weight decay.
    pub fn with_groups(groups: Vec<ParamGroup>, config: SGDConfig) -> Result<SGD> {
        let c = config;
        check(
            c.momentum >= 0.0,
            "momentum",
            format!("Invalid momentum value: {}", c.momentum),
        )?;
        check(
            !c.nesterov || (c.momentum > 0.0 && c.dampening == 0.0),
            "nesterov",
            format!(
                "Nesterov momentum requires a momentum and zero dampening \
                 (got momentum {}, dampening {}): set momentum > 0 and dampening 0, \
                 or nesterov false",
                c.momentum, c.dampening
            ),
        )?;
        Ok(SGD {
            groups: build_groups(groups, c.lr, c.weight_decay)?,
            config,
        })
    }
}

impl Optimizer for SGD {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_pytorchs_and_bad_values_are_named() {
        let d = SGDConfig::default();
        assert_eq!(
            (d.lr, d.momentum, d.dampening, d.weight_decay, d.nesterov),
            (1e-3, 0.0, 0.0, 0.0, false)
        );
        let p = || vec![Tensor::zeros([2]).requires_grad()];
        let err = |c: SGDConfig| SGD::new(p(), c).err().unwrap().to_string();
        let nesterov = SGDConfig {
            nesterov: true,
            momentum: 0.9,
            dampening: 0.25,
            ..d
        };
        let msg = err(nesterov);
        assert!(msg.contains("momentum 0.9, dampening 0.25"), "{msg}");
        let msg = err(SGDConfig { lr: f32::NAN, ..d });
        assert!(msg.contains("Invalid learning rate: NaN"), "{msg}");
        let msg = err(SGDConfig {
            momentum: -0.5,
            ..d
        });
        assert!(msg.contains("Invalid momentum value: -0.5"), "{msg}");
    }

    #[test]
    fn one_step_with_momentum_and_weight_decay_is_pytorchs() {
        // g = 2w + 0.1w = 2.1 at w = 1; the first step's buffer is g: w = 1 − 0.5·2.1.
        let w = Tensor::from([1.0]).requires_grad();
        let config = SGDConfig {
            lr: 0.5,
            momentum: 0.9,
            weight_decay: 0.1,
            ..Default::default()
        };
        let mut opt = SGD::new(vec![w.clone()], config).unwrap();
        w.square().sum().backward();
        opt.step();
        assert!((w.item() - (1.0 - 0.5 * 2.1)).abs() < 1e-6, "{}", w.item());
    }
}
