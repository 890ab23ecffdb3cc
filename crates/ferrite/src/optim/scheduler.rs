//! Learning-rate schedules with PyTorch's formulas: StepLR, MultiStepLR, ExponentialLR,
//! CosineAnnealingLR (closed forms of epoch `t`) and ReduceLROnPlateau (driven by a metric).
//!
//! A scheduler records the optimizer's learning rates when built (the base rates) and, at
//! each `step`, advances one epoch and writes the new rates into the optimizer.
//!
//! ```
//! use ferrite::optim::{LrScheduler, Optimizer, StepLR, SGD, SGDConfig};
//! use ferrite::Tensor;
//! let mut opt = SGD::new(vec![Tensor::zeros([1]).requires_grad()], SGDConfig { lr: 0.1, ..Default::default() }).unwrap();
//! let mut sched = StepLR::new(&opt, 2, 0.5).unwrap();
//! let mut lrs = Vec::new();
//! for _ in 0..5 {
//!     lrs.push(opt.lr());
//!     // ... train one epoch ...
//!     sched.step(&mut opt);
//! }
//! assert_eq!(lrs, vec![0.1, 0.1, 0.05, 0.05, 0.025]);
//! ```

use super::{check, Optimizer};
use crate::error::Result;

/// A schedule that sets the learning rate of each parameter group from the epoch count.
pub trait LrScheduler {
    /// The learning rate of a group whose base rate is `base` at epoch `epoch`.
    fn lr_at(&self, base: f64, epoch: usize) -> f64;
    /// The base learning rates recorded at construction.
    fn base_lrs(&self) -> &[f64];
    /// The epoch counter (0 at construction).
    fn last_epoch(&self) -> usize;
    /// Advances the epoch counter by one and returns the new value.
    fn advance(&mut self) -> usize;

    /// Ends an epoch: advances the counter and sets every group's learning rate.
    fn step(&mut self, optimizer: &mut dyn Optimizer) {
        let epoch = self.advance();
        for (i, &base) in self.base_lrs().to_vec().iter().enumerate() {
            optimizer.set_group_lr(i, self.lr_at(base, epoch) as f32);
        }
    }

    /// The learning rates the schedule gives for the current epoch.
    fn last_lr(&self) -> Vec<f32> {
        self.base_lrs()
            .iter()
            .map(|&b| self.lr_at(b, self.last_epoch()) as f32)
            .collect()
    }
}

macro_rules! epoch_state {
    () => {
        fn base_lrs(&self) -> &[f64] {
            &self.base_lrs
        }
        fn last_epoch(&self) -> usize {
            self.epoch
        }
        fn advance(&mut self) -> usize {
            self.epoch += 1;
            self.epoch
        }
    };
}

fn bases(optimizer: &dyn Optimizer) -> Vec<f64> {
    optimizer
        .group_lrs()
        .into_iter()
        .map(|l| l as f64)
        .collect()
}

/// `lr = base · γ^⌊t / step_size⌋`.
pub struct StepLR {
    base_lrs: Vec<f64>,
    epoch: usize,
    step_size: usize,
    gamma: f64,
}

impl StepLR {
    /// Multiplies the rate by `gamma` every `step_size` epochs (`step_size` > 0).
    pub fn new(optimizer: &dyn Optimizer, step_size: usize, gamma: f32) -> Result<StepLR> {
        check(step_size > 0, "step_size", "must be at least 1".to_string())?;
        Ok(StepLR {
            base_lrs: bases(optimizer),
            epoch: 0,
            step_size,
            gamma: gamma as f64,
        })
    }
}

impl LrScheduler for StepLR {
    fn lr_at(&self, base: f64, epoch: usize) -> f64 {
        base * self.gamma.powi((epoch / self.step_size) as i32)
    }
    epoch_state!();
}

/// `lr = base · γ^(number of milestones ≤ t)`.
pub struct MultiStepLR {
    base_lrs: Vec<f64>,
    epoch: usize,
    milestones: Vec<usize>,
    gamma: f64,
}

impl MultiStepLR {
    /// Multiplies the rate by `gamma` at each milestone epoch (a repeated milestone counts
    /// twice, as in PyTorch).
    pub fn new(optimizer: &dyn Optimizer, milestones: &[usize], gamma: f32) -> Result<MultiStepLR> {
        let mut milestones = milestones.to_vec();
        milestones.sort_unstable();
        Ok(MultiStepLR {
            base_lrs: bases(optimizer),
            epoch: 0,
            milestones,
            gamma: gamma as f64,
        })
    }
}

impl LrScheduler for MultiStepLR {
    fn lr_at(&self, base: f64, epoch: usize) -> f64 {
        let passed = self.milestones.partition_point(|&m| m <= epoch);
        base * self.gamma.powi(passed as i32)
    }
    epoch_state!();
}

/// `lr = base · γ^t`.
pub struct ExponentialLR {
    base_lrs: Vec<f64>,
    epoch: usize,
    gamma: f64,
}

impl ExponentialLR {
    /// Multiplies the rate by `gamma` every epoch.
    pub fn new(optimizer: &dyn Optimizer, gamma: f32) -> Result<ExponentialLR> {
        Ok(ExponentialLR {
            base_lrs: bases(optimizer),
            epoch: 0,
            gamma: gamma as f64,
        })
    }
}

impl LrScheduler for ExponentialLR {
    fn lr_at(&self, base: f64, epoch: usize) -> f64 {
        base * self.gamma.powi(epoch as i32)
    }
    epoch_state!();
}

/// `lr = η_min + (base − η_min)(1 + cos(π t / T_max)) / 2`, periodic past `T_max` (it rises
/// again, as PyTorch's recursive form does).
pub struct CosineAnnealingLR {
    base_lrs: Vec<f64>,
    epoch: usize,
    t_max: usize,
    eta_min: f64,
}

impl CosineAnnealingLR {
    /// Anneals from the base rate to `eta_min` over `t_max` epochs (`t_max` > 0).
    pub fn new(optimizer: &dyn Optimizer, t_max: usize, eta_min: f32) -> Result<CosineAnnealingLR> {
        check(t_max > 0, "T_max", "must be at least 1".to_string())?;
        Ok(CosineAnnealingLR {
            base_lrs: bases(optimizer),
            epoch: 0,
            t_max,
            eta_min: eta_min as f64,
        })
    }
}

impl LrScheduler for CosineAnnealingLR {
    fn lr_at(&self, base: f64, epoch: usize) -> f64 {
        let phase = std::f64::consts::PI * epoch as f64 / self.t_max as f64;
        self.eta_min + (base - self.eta_min) * (1.0 + phase.cos()) / 2.0
    }
    epoch_state!();
}

/// Whether a smaller or a larger metric is better.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlateauMode {
    /// Lower is better (a loss).
    Min,
    /// Higher is better (an accuracy).
    Max,
}

/// How `threshold` decides that a metric improved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThresholdMode {
    /// Relative: better than `best·(1 ∓ threshold)`.
    Rel,
    /// Absolute: better than `best ∓ threshold`.
    Abs,
}

/// Cuts the learning rate by `factor` when a metric has not improved for more than
/// `patience` epochs (PyTorch's defaults: min, factor 0.1, patience 10, threshold 1e-4
/// relative, cooldown 0, min_lr 0, eps 1e-8).
///
/// ```
/// use ferrite::optim::{Optimizer, ReduceLROnPlateau, SGD, SGDConfig};
/// use ferrite::Tensor;
/// let mut opt = SGD::new(vec![Tensor::zeros([1]).requires_grad()], SGDConfig { lr: 1.0, ..Default::default() }).unwrap();
/// let mut sched = ReduceLROnPlateau::new(&opt).unwrap().patience(1);
/// for loss in [1.0, 0.5, 0.6, 0.7] {
///     sched.step(loss, &mut opt);
/// }
/// // Two epochs without improvement on 0.5 exceed patience 1: the rate drops to 0.1.
/// assert!((opt.lr() - 0.1).abs() < 1e-7);
/// ```
#[derive(Clone, Debug)]
pub struct ReduceLROnPlateau {
    mode: PlateauMode,
    factor: f64,
    patience: usize,
    threshold: f64,
    threshold_mode: ThresholdMode,
    cooldown: usize,
    min_lr: f64,
    eps: f64,
    best: f64,
    num_bad_epochs: usize,
    cooldown_counter: usize,
    last_epoch: usize,
}

impl ReduceLROnPlateau {
    /// A scheduler with PyTorch's defaults for `optimizer`.
    pub fn new(_optimizer: &dyn Optimizer) -> Result<ReduceLROnPlateau> {
        Ok(ReduceLROnPlateau {
            mode: PlateauMode::Min,
            factor: 0.1,
            patience: 10,
            threshold: 1e-4,
            threshold_mode: ThresholdMode::Rel,
            cooldown: 0,
            min_lr: 0.0,
            eps: 1e-8,
            best: f64::INFINITY,
            num_bad_epochs: 0,
            cooldown_counter: 0,
            last_epoch: 0,
        })
    }

    /// Whether lower or higher metrics are better.
    pub fn mode(mut self, mode: PlateauMode) -> Self {
        self.mode = mode;
        self.best = match mode {
            PlateauMode::Min => f64::INFINITY,
            PlateauMode::Max => f64::NEG_INFINITY,
        };
        self
    }

    /// The factor applied on a plateau; must be below 1.
    pub fn factor(mut self, factor: f32) -> Result<Self> {
        check(
            factor < 1.0,
            "factor",
            format!("Factor should be < 1.0, got {factor}"),
        )?;
        self.factor = factor as f64;
        Ok(self)
    }

    /// Epochs without improvement tolerated before cutting the rate.
    pub fn patience(mut self, patience: usize) -> Self {
        self.patience = patience;
        self
    }

    /// The improvement threshold and how it is measured.
    pub fn threshold(mut self, threshold: f32, mode: ThresholdMode) -> Self {
        self.threshold = threshold as f64;
        self.threshold_mode = mode;
        self
    }

    /// Epochs to wait after a cut before counting bad epochs again.
    pub fn cooldown(mut self, cooldown: usize) -> Self {
        self.cooldown = cooldown;
        self
    }

    /// The smallest learning rate a cut may give.
    pub fn min_lr(mut self, min_lr: f32) -> Self {
        self.min_lr = min_lr as f64;
        self
    }

    /// The best metric seen so far.
    pub fn best(&self) -> f64 {
        self.best
    }

    fn is_better(&self, a: f64) -> bool {
        let best = self.best;
        match (self.mode, self.threshold_mode) {
            (PlateauMode::Min, ThresholdMode::Rel) => a < best * (1.0 - self.threshold),
            (PlateauMode::Min, ThresholdMode::Abs) => a < best - self.threshold,
            (PlateauMode::Max, ThresholdMode::Rel) => a > best * (self.threshold + 1.0),
            (PlateauMode::Max, ThresholdMode::Abs) => a > best + self.threshold,
        }
    }

    /// Ends an epoch with its metric, cutting the learning rates on a plateau.
    pub fn step(&mut self, metric: f32, optimizer: &mut dyn Optimizer) {
        let current = metric as f64;
        self.last_epoch += 1;
        if self.is_better(current) {
            self.best = current;
            self.num_bad_epochs = 0;
        } else {
            self.num_bad_epochs += 1;
        }
        if self.cooldown_counter > 0 {
            self.cooldown_counter -= 1;
            self.num_bad_epochs = 0;
        }
        if self.num_bad_epochs > self.patience {
            for (i, old) in optimizer.group_lrs().into_iter().enumerate() {
                let old = old as f64;
                let new = (old * self.factor).max(self.min_lr);
                if old - new > self.eps {
                    optimizer.set_group_lr(i, new as f32);
                }
            }
            self.cooldown_counter = self.cooldown;
            self.num_bad_epochs = 0;
        }
    }
}
