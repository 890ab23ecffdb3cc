//! Optimizers, learning-rate schedules and gradient clipping, with PyTorch's update rules.
//!
//! ```
//! use ferrite::nn::{Linear, Module};
//! use ferrite::optim::{Optimizer, SGD, SGDConfig};
//! use ferrite::Tensor;
//! ferrite::manual_seed(0);
//! let model = Linear::new(2, 1).unwrap();
//! let mut opt = SGD::new(model.parameters(), SGDConfig { lr: 0.1, momentum: 0.9, ..Default::default() }).unwrap();
//! let x = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], [2, 2]);
//! let y = Tensor::from_vec(vec![1.0, 2.0], [2, 1]);
//! let loss = |m: &Linear| (&m.forward(&x) - &y).square().mean();
//! let before = loss(&model).item();
//! for _ in 0..20 {
//!     opt.zero_grad();
//!     loss(&model).backward();
//!     opt.step();
//! }
//! assert!(loss(&model).item() < before);
//! ```

mod adagrad;
mod adam;
mod clip;
mod rmsprop;
mod scheduler;
mod sgd;

pub use adagrad::{Adagrad, AdagradConfig};
pub use adam::{Adam, AdamConfig, AdamW, AdamWConfig};
pub use clip::{clip_grad_norm, clip_grad_norm_with, clip_grad_value};
pub use rmsprop::{RMSprop, RMSpropConfig};
pub use scheduler::{
    CosineAnnealingLR, ExponentialLR, LrScheduler, MultiStepLR, PlateauMode, ReduceLROnPlateau,
    StepLR, ThresholdMode,
};
pub use sgd::{SGDConfig, SGD};

use crate::error::{FerriteError, Result};
use crate::Tensor;
use std::sync::Arc;

/// Updates parameters from their gradients.
pub trait Optimizer: Send {
    /// Applies one update to every parameter that has a gradient.
    fn step(&mut self);
    /// Clears the gradients of every parameter.
    fn zero_grad(&self);
    /// The learning rate of the first parameter group.
    fn lr(&self) -> f32;
    /// Sets the learning rate of every parameter group.
    fn set_lr(&mut self, lr: f32);
    /// The learning rate of each parameter group, in order.
    fn group_lrs(&self) -> Vec<f32> {
        vec![self.lr()]
    }
    /// Sets the learning rate of one parameter group (schedulers use this).
    fn set_group_lr(&mut self, _group: usize, lr: f32) {
        self.set_lr(lr)
    }
}

/// Parameters that share hyper-parameters (PyTorch's `param_groups` entries). Unset values
/// take the optimizer's.
///
/// ```
/// use ferrite::nn::{Linear, Module};
/// use ferrite::optim::{Optimizer, ParamGroup, SGD, SGDConfig};
/// let (body, head) = (Linear::new(4, 4).unwrap(), Linear::new(4, 1).unwrap());
/// let opt = SGD::with_groups(
///     vec![ParamGroup::new(body.parameters()), ParamGroup::new(head.parameters()).lr(0.5)],
///     SGDConfig { lr: 0.01, ..Default::default() },
/// )
/// .unwrap();
/// assert_eq!(opt.group_lrs(), vec![0.01, 0.5]);
/// ```
#[derive(Clone)]
pub struct ParamGroup {
    /// The parameters.
    pub params: Vec<Tensor>,
    /// This group's learning rate.
    pub lr: Option<f32>,
    /// This group's weight decay.
    pub weight_decay: Option<f32>,
}

impl ParamGroup {
    /// A group with the optimizer's hyper-parameters.
    pub fn new(params: Vec<Tensor>) -> ParamGroup {
        ParamGroup {
            params,
            lr: None,
            weight_decay: None,
        }
    }
    /// Sets this group's learning rate.
    pub fn lr(mut self, lr: f32) -> ParamGroup {
        self.lr = Some(lr);
        self
    }
    /// Sets this group's weight decay.
    pub fn weight_decay(mut self, weight_decay: f32) -> ParamGroup {
        self.weight_decay = Some(weight_decay);
        self
    }
}

/// A parameter group as an optimizer holds it: resolved hyper-parameters and per-parameter
/// state `S`.
pub(crate) struct Group<S> {
    pub params: Vec<Tensor>,
    pub lr: f32,
    pub weight_decay: f32,
    pub state: Vec<S>,
}

/// Resolves groups against the optimizer's defaults, checking every value.
pub(crate) fn build_groups<S: Default>(
    groups: Vec<ParamGroup>,
    lr: f32,
    weight_decay: f32,
) -> Result<Vec<Group<S>>> {
    if groups.iter().all(|g| g.params.is_empty()) {
        return Err(FerriteError::invalid(
            "parameters",
            "optimizer got an empty parameter list",
        ));
    }
    groups
        .into_iter()
        .map(|g| {
            let lr = g.lr.unwrap_or(lr);
            let weight_decay = g.weight_decay.unwrap_or(weight_decay);
            check(lr >= 0.0, "lr", format!("Invalid learning rate: {lr}"))?;
            check(
                weight_decay >= 0.0,
                "weight_decay",
                format!("Invalid weight_decay value: {weight_decay}"),
            )?;
            for p in &g.params {
                check(
                    p.is_leaf() && p.is_contiguous(),
                    "parameters",
                    format!(
                        "can't optimize a non-leaf or non-contiguous tensor (shape {:?})",
                        p.dims()
                    ),
                )?;
            }
            let state = g.params.iter().map(|_| S::default()).collect();
            Ok(Group {
                params: g.params,
                lr,
                weight_decay,
                state,
            })
        })
        .collect()
}

/// `Ok` when `ok`, else an `InvalidArgument` error naming the hyper-parameter.
pub(crate) fn check(ok: bool, name: &str, message: String) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(FerriteError::invalid(name, message))
    }
}

/// The gradient an update of `p` reads, or `None` when `p` has none. A gradient sharing the
/// parameter's storage (set by hand) is copied first: the update reads it while it writes
/// the parameter, and the two locks would collide.
pub(crate) fn param_grad(p: &Tensor) -> Option<Tensor> {
    let grad = p.grad()?;
    assert_eq!(
        grad.dims(),
        p.dims(),
        "optimizer: gradient shape {:?} does not match parameter {:?}",
        grad.dims(),
        p.dims()
    );
    Some(if Arc::ptr_eq(&grad.0.storage, &p.0.storage) {
        grad.detach_copy()
    } else {
        grad
    })
}

/// The shared `Optimizer` plumbing of optimizers holding `groups: Vec<Group<_>>`.
macro_rules! impl_group_access {
    () => {
        fn zero_grad(&self) {
            for g in &self.groups {
                g.params.iter().for_each(|p| p.zero_grad());
            }
        }
        fn lr(&self) -> f32 {
            self.groups[0].lr
        }
        fn set_lr(&mut self, lr: f32) {
            self.groups.iter_mut().for_each(|g| g.lr = lr);
        }
        fn group_lrs(&self) -> Vec<f32> {
            self.groups.iter().map(|g| g.lr).collect()
        }
        fn set_group_lr(&mut self, group: usize, lr: f32) {
            self.groups[group].lr = lr;
        }
    };
}
pub(crate) use impl_group_access;
