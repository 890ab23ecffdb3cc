//! Adagrad: per-coordinate learning rates shrinking with the sum of squared gradients.

use super::{build_groups, check, impl_group_access, param_grad, Group, Optimizer, ParamGroup};
use crate::backend::AdagradStep;
use crate::error::Result;
use crate::Tensor;

/// Adagrad's hyper-parameters (PyTorch's defaults: lr 1e-2, no decay, accumulator 0, eps 1e-10).
#[derive(Clone, Copy, Debug)]
pub struct AdagradConfig {
    /// Learning rate.
    pub lr: f32,
    /// Learning-rate decay: step t uses `lr / (1 + (t − 1)·lr_decay)`.
    pub lr_decay: f32,
    /// L2 penalty added to the gradient.
    pub weight_decay: f32,
    /// Starting value of the sum of squares.
    pub initial_accumulator_value: f32,
    /// Added to the denominator.
    pub eps: f32,
}

impl Default for AdagradConfig {
    fn default() -> Self {
        AdagradConfig {
            lr: 1e-2,
            lr_decay: 0.0,
            weight_decay: 0.0,
            initial_accumulator_value: 0.0,
            eps: 1e-10,
        }
    }
}

/// Per-parameter state: the step count and the sum of squared gradients, on the
/// parameter's device, made on its first step.
#[derive(Default)]
struct AdagradState {
    step: u32,
    sum: Option<Tensor>,
}

/// `clr = lr / (1 + (t−1)·lr_decay); S += g²; p −= clr·g / (√S + eps)` (PyTorch's
/// `torch.optim.Adagrad`).
pub struct Adagrad {
    groups: Vec<Group<AdagradState>>,
    config: AdagradConfig,
}

impl Adagrad {
    /// Adagrad over `params`.
    pub fn new(params: Vec<Tensor>, config: AdagradConfig) -> Result<Adagrad> {
        Adagrad::with_groups(vec![ParamGroup::new(params)], config)
    }

    /// Adagrad over parameter groups with their own learning rates or weight decay.
    pub fn with_groups(groups: Vec<ParamGroup>, config: AdagradConfig) -> Result<Adagrad> {
        let c = config;
        check(
            c.lr >= 0.0,
            "lr",
            format!("Invalid learning rate: {}", c.lr),
        )?;
        check(
            c.lr_decay >= 0.0,
            "lr_decay",
            format!("Invalid lr_decay value: {}", c.lr_decay),
        )?;
        check(
            c.initial_accumulator_value >= 0.0,
            "initial_accumulator_value",
            format!(
                "Invalid initial_accumulator_value value: {}",
                c.initial_accumulator_value
            ),
        )?;
        check(
            c.eps >= 0.0,
            "eps",
            format!("Invalid epsilon value: {}", c.eps),
        )?;
        Ok(Adagrad {
            groups: build_groups(groups, c.lr, c.weight_decay)?,
            config,
        })
    }
}

impl Optimizer for Adagrad {
    fn step(&mut self) {
        let c = self.config;
        for group in &mut self.groups {
            let (lr, wd) = (group.lr, group.weight_decay);
            for (p, st) in group.params.iter().zip(&mut group.state) {
                let Some(grad) = param_grad(p) else { continue };
                let sum = st
                    .sum
                    .get_or_insert_with(|| p.full_like(c.initial_accumulator_value));
                st.step += 1;
                let clr = (lr as f64 / (1.0 + (st.step - 1) as f64 * c.lr_decay as f64)) as f32;
                let step = AdagradStep {
                    clr,
                    eps: c.eps,
                    weight_decay: wd,
                };
                let g = grad.storage();
                p.storage_mut().adagrad_step(
                    p.layout(),
                    (&g, grad.layout()),
                    &mut sum.storage_mut(),
                    step,
                );
            }
        }
    }
    impl_group_access!();
}
