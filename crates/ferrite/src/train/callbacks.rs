//! Callbacks run by `fit` after every epoch: early stopping, checkpoints of the best model,
//! learning-rate schedules. Keras's names and meanings.

use std::path::PathBuf;

use super::history::{EpochMetrics, StopReason};
use super::model_file::{restore_state, save_state_dict, snapshot_state};
use crate::error::{FerriteError, Result};
use crate::nn::Module;
use crate::optim::{LrScheduler, Optimizer, ReduceLROnPlateau};
use crate::Tensor;

/// What a callback tells the loop after an epoch.
#[derive(Clone, Debug, PartialEq)]
pub enum Control {
    /// Go on training.
    Continue,
    /// Stop after this epoch, for this reason.
    Stop(StopReason),
}

/// Code run by `fit` at the end of every epoch and of training.
pub trait Callback {
    /// Called after each epoch (training and validation done) with its metrics.
    fn on_epoch_end(
        &mut self,
        metrics: &EpochMetrics,
        model: &dyn Module,
        optimizer: &mut dyn Optimizer,
    ) -> Result<Control>;

    /// Called once when training ends, however it ended.
    fn on_train_end(&mut self, _model: &dyn Module) -> Result<()> {
        Ok(())
    }
}

/// A metric to watch, and whether lower or higher is better.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Monitor {
    /// Training loss (lower is better).
    Loss,
    /// Training accuracy (higher is better).
    Accuracy,
    /// Validation loss (lower is better).
    ValLoss,
    /// Validation accuracy (higher is better).
    ValAccuracy,
}

impl Monitor {
    /// The metric named as in Keras: `loss`, `accuracy`, `val_loss`, `val_accuracy`.
    pub fn parse(name: &str) -> Result<Monitor> {
        match name {
            "loss" => Ok(Monitor::Loss),
            "accuracy" | "acc" => Ok(Monitor::Accuracy),
            "val_loss" => Ok(Monitor::ValLoss),
            "val_accuracy" | "val_acc" => Ok(Monitor::ValAccuracy),
            other => Err(FerriteError::invalid(
                "monitor",
                format!("unknown metric {other:?}; use loss, accuracy, val_loss or val_accuracy"),
            )),
        }
    }

    /// The Keras name of the metric.
    pub fn name(self) -> &'static str {
        match self {
            Monitor::Loss => "loss",
            Monitor::Accuracy => "accuracy",
            Monitor::ValLoss => "val_loss",
            Monitor::ValAccuracy => "val_accuracy",
        }
    }

    /// True when a larger value is better (accuracies).
    pub fn higher_is_better(self) -> bool {
        matches!(self, Monitor::Accuracy | Monitor::ValAccuracy)
    }

    /// The monitored value of an epoch; an error when that epoch did not compute it (for
    /// example `val_loss` without validation data).
    pub fn value(self, metrics: &EpochMetrics) -> Result<f64> {
        metrics.get(self.name()).ok_or_else(|| {
            FerriteError::invalid(
                "monitor",
                format!(
                    "{} is not computed: give validation data for val_* metrics and an accuracy kind for accuracies",
                    self.name()
                ),
            )
        })
    }

    /// True when `value` beats `best` by more than `min_delta`.
    pub fn improves(self, value: f64, best: Option<f64>, min_delta: f64) -> bool {
        match best {
            None => !value.is_nan(),
            Some(b) if self.higher_is_better() => value > b + min_delta,
            Some(b) => value < b - min_delta,
        }
    }
}

/// Stops training when the monitored metric has not improved for `patience` epochs, and
/// optionally puts back the weights of the best epoch at the end (Keras's `EarlyStopping`).
pub struct EarlyStopping {
    monitor: Monitor,
    patience: usize,
    min_delta: f64,
    restore_best_weights: bool,
    best: Option<f64>,
    best_epoch: usize,
    wait: usize,
    best_weights: Option<Vec<(String, Tensor)>>,
}

impl EarlyStopping {
    /// Stops after `patience` epochs without improvement of `monitor`.
    pub fn new(monitor: Monitor, patience: usize) -> EarlyStopping {
        EarlyStopping {
            monitor,
            patience,
            min_delta: 0.0,
            restore_best_weights: false,
            best: None,
            best_epoch: 0,
            wait: 0,
            best_weights: None,
        }
    }

    /// Changes smaller than `min_delta` do not count as improvements.
    pub fn min_delta(mut self, min_delta: f64) -> Self {
        self.min_delta = min_delta.abs();
        self
    }

    /// Restores the weights of the best epoch when training ends.
    pub fn restore_best_weights(mut self, restore: bool) -> Self {
        self.restore_best_weights = restore;
        self
    }

    /// The best monitored value so far and its epoch.
    pub fn best(&self) -> Option<(f64, usize)> {
        self.best.map(|b| (b, self.best_epoch))
    }
}

impl Callback for EarlyStopping {
    fn on_epoch_end(
        &mut self,
        metrics: &EpochMetrics,
        model: &dyn Module,
        _: &mut dyn Optimizer,
    ) -> Result<Control> {
        let value = self.monitor.value(metrics)?;
        if self.monitor.improves(value, self.best, self.min_delta) {
            self.best = Some(value);
            self.best_epoch = metrics.epoch;
            self.wait = 0;
            if self.restore_best_weights {
                self.best_weights = Some(snapshot_state(model));
            }
            return Ok(Control::Continue);
        }
        self.wait += 1;
        if self.wait >= self.patience {
            return Ok(Control::Stop(StopReason::EarlyStopping {
                epoch: metrics.epoch,
                best_epoch: self.best_epoch,
            }));
        }
        Ok(Control::Continue)
    }

    fn on_train_end(&mut self, model: &dyn Module) -> Result<()> {
        if let Some(weights) = self.best_weights.take() {
            restore_state(model, &weights);
        }
        Ok(())
    }
}

/// Saves the model's state dict (safetensors) whenever the monitored metric improves, so
/// the file always holds the best model so far (Keras's `ModelCheckpoint(save_best_only)`).
pub struct ModelCheckpoint {
    path: PathBuf,
    monitor: Monitor,
    best: Option<f64>,
    saved_epochs: Vec<usize>,
}

impl ModelCheckpoint {
    /// Writes the best model to `path`, judged by `monitor`.
    pub fn new(path: impl Into<PathBuf>, monitor: Monitor) -> ModelCheckpoint {
        ModelCheckpoint {
            path: path.into(),
            monitor,
            best: None,
            saved_epochs: Vec::new(),
        }
    }

    /// The epochs at which the file was written.
    pub fn saved_epochs(&self) -> &[usize] {
        &self.saved_epochs
    }
}

impl Callback for ModelCheckpoint {
    fn on_epoch_end(
        &mut self,
        metrics: &EpochMetrics,
        model: &dyn Module,
        _: &mut dyn Optimizer,
    ) -> Result<Control> {
        let value = self.monitor.value(metrics)?;
        if self.monitor.improves(value, self.best, 0.0) {
            self.best = Some(value);
            // In a distributed run every rank holds the same weights; one file is written.
            if crate::distributed::is_primary() {
                save_state_dict(model, &self.path)?;
            }
            self.saved_epochs.push(metrics.epoch);
        }
        Ok(Control::Continue)
    }
}

/// Sets the optimizer's learning rate after every epoch to `schedule(epoch, lr, metrics)`,
/// where `epoch` is the 1-based epoch just finished and `lr` the current rate: the place of
/// PyTorch's `scheduler.step()` at the end of an epoch, or Keras's `LearningRateScheduler`.
///
/// ```
/// use ferrite::train::LearningRateScheduler;
/// // StepLR(step_size=10, gamma=0.5)
/// let step = LearningRateScheduler::new(|epoch, lr, _| if epoch % 10 == 0 { lr * 0.5 } else { lr });
/// # let _ = step;
/// ```
pub struct LearningRateScheduler<F> {
    schedule: F,
}

impl<F: FnMut(usize, f32, &EpochMetrics) -> f32> LearningRateScheduler<F> {
    /// A scheduler calling `schedule(epoch, lr, metrics)` after each epoch.
    pub fn new(schedule: F) -> Self {
        LearningRateScheduler { schedule }
    }
}

impl<F: FnMut(usize, f32, &EpochMetrics) -> f32> Callback for LearningRateScheduler<F> {
    fn on_epoch_end(
        &mut self,
        metrics: &EpochMetrics,
        _: &dyn Module,
        optimizer: &mut dyn Optimizer,
    ) -> Result<Control> {
        let lr = (self.schedule)(metrics.epoch, optimizer.lr(), metrics);
        if !lr.is_finite() || lr < 0.0 {
            return Err(FerriteError::invalid(
                "learning rate",
                format!("the schedule returned {lr}"),
            ));
        }
        optimizer.set_lr(lr);
        Ok(Control::Continue)
    }
}

/// Steps a PyTorch-style epoch scheduler ([`StepLR`](crate::optim::StepLR),
/// [`CosineAnnealingLR`](crate::optim::CosineAnnealingLR), ...) after every epoch, where
/// PyTorch calls `scheduler.step()`.
pub struct SchedulerStep<S> {
    scheduler: S,
}

impl<S: LrScheduler> SchedulerStep<S> {
    /// Steps `scheduler` once per epoch.
    pub fn new(scheduler: S) -> Self {
        SchedulerStep { scheduler }
    }

    /// The scheduler.
    pub fn scheduler(&self) -> &S {
        &self.scheduler
    }
}

impl<S: LrScheduler> Callback for SchedulerStep<S> {
    fn on_epoch_end(
        &mut self,
        _: &EpochMetrics,
        _: &dyn Module,
        optimizer: &mut dyn Optimizer,
    ) -> Result<Control> {
        self.scheduler.step(optimizer);
        Ok(Control::Continue)
    }
}

/// Steps a [`ReduceLROnPlateau`] with the monitored metric after every epoch (PyTorch's
/// `scheduler.step(val_loss)`).
pub struct PlateauStep {
    scheduler: ReduceLROnPlateau,
    monitor: Monitor,
}

impl PlateauStep {
    /// Feeds `monitor`'s value of every epoch to `scheduler`.
    pub fn new(scheduler: ReduceLROnPlateau, monitor: Monitor) -> Self {
        PlateauStep { scheduler, monitor }
    }
}

impl Callback for PlateauStep {
    fn on_epoch_end(
        &mut self,
        metrics: &EpochMetrics,
        _: &dyn Module,
        optimizer: &mut dyn Optimizer,
    ) -> Result<Control> {
        self.scheduler
            .step(self.monitor.value(metrics)? as f32, optimizer);
        Ok(Control::Continue)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monitor_direction_follows_the_metric() {
        assert!(Monitor::ValLoss.improves(0.4, Some(0.5), 0.0));
        assert!(!Monitor::ValLoss.improves(0.5, Some(0.5), 0.0));
        assert!(!Monitor::ValLoss.improves(0.45, Some(0.5), 0.1));
        assert!(Monitor::ValAccuracy.improves(0.9, Some(0.8), 0.0));
        assert!(!Monitor::ValAccuracy.improves(0.7, Some(0.8), 0.0));
        assert!(!Monitor::Loss.improves(f64::NAN, None, 0.0));
        assert_eq!(
            Monitor::parse("val_accuracy").unwrap(),
            Monitor::ValAccuracy
        );
        assert!(Monitor::parse("val_f1").is_err());
    }
}
