//! Gradient-descent settings shared by the linear models: learning rate, epochs, batch mode
//! (batch, mini-batch, stochastic), seeded shuffling and the early-stopping rule.

use serde::{Deserialize, Serialize};

use crate::error::{FerriteError, Result};
use crate::tensor::Generator;

/// How many rows each update looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BatchMode {
    /// Every update uses all rows (one update per epoch).
    Batch,
    /// Updates on consecutive groups of this many rows (the last group may be smaller).
    MiniBatch(usize),
    /// One row per update (mini-batches of size 1).
    Stochastic,
}

/// Gradient-descent settings.
///
/// Early stopping follows scikit-learn's `SGDRegressor`: training stops when the epoch's loss
/// has not improved on the best loss so far by at least `tol` for `n_iter_no_change`
/// consecutive epochs.
///
/// ```
/// use ferrite::linear_model::{BatchMode, GradientDescent};
/// let gd = GradientDescent::new(0.05, 500).batch(BatchMode::MiniBatch(16)).seed(7);
/// assert_eq!(gd.epochs, 500);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GradientDescent {
    /// Step size.
    pub learning_rate: f32,
    /// Maximum number of passes over the data.
    pub epochs: usize,
    /// Rows per update.
    pub batch: BatchMode,
    /// Minimum improvement of the epoch loss; `None` runs all epochs.
    pub tol: Option<f32>,
    /// Epochs without an improvement of `tol` before stopping.
    pub n_iter_no_change: usize,
    /// Shuffle the rows at the start of every epoch (mini-batch and stochastic modes).
    pub shuffle: bool,
    /// Seed of the shuffling.
    pub seed: u64,
}

impl Default for GradientDescent {
    /// Learning rate 0.01, 1000 epochs, full batch, tol 1e-6 with patience 5, shuffled with seed 0.
    fn default() -> Self {
        GradientDescent {
            learning_rate: 0.01,
            epochs: 1000,
            batch: BatchMode::Batch,
            tol: Some(1e-6),
            n_iter_no_change: 5,
            shuffle: true,
            seed: 0,
        }
    }
}

/// What a gradient-descent run did.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GradientDescentOutcome {
    /// The training objective on all rows after each epoch.
    pub loss_history: Vec<f32>,
    /// True when the early-stopping rule ended training before the last epoch.
    pub stopped_early: bool,
}

impl GradientDescent {
    /// Settings with this learning rate and number of epochs, other fields at their defaults.
    pub fn new(learning_rate: f32, epochs: usize) -> Self {
        GradientDescent {
            learning_rate,
            epochs,
            ..Default::default()
        }
    }

    /// Sets the batch mode.
    pub fn batch(mut self, batch: BatchMode) -> Self {
        self.batch = batch;
        self
    }

    /// Sets the early-stopping tolerance (`None`: run every epoch).
    pub fn tol(mut self, tol: Option<f32>) -> Self {
        self.tol = tol;
        self
    }

    /// Sets the number of epochs without improvement before stopping.
    pub fn n_iter_no_change(mut self, n: usize) -> Self {
        self.n_iter_no_change = n;
        self
    }

    /// Turns per-epoch shuffling on or off.
    pub fn shuffle(mut self, shuffle: bool) -> Self {
        self.shuffle = shuffle;
        self
    }

    /// Sets the shuffling seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Checks the settings, naming the bad one.
    pub fn validate(&self) -> Result<()> {
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return Err(FerriteError::invalid(
                "learning_rate",
                format!("must be a positive number, got {}", self.learning_rate),
            ));
        }
        if self.epochs == 0 {
            return Err(FerriteError::invalid("epochs", "must be at least 1"));
        }
        if self.batch == BatchMode::MiniBatch(0) {
            return Err(FerriteError::invalid("batch_size", "must be at least 1"));
        }
        if let Some(tol) = self.tol {
            if !(tol.is_finite() && tol >= 0.0) {
                return Err(FerriteError::invalid(
                    "tol",
                    format!("must be >= 0, got {tol}"),
                ));
            }
            if self.n_iter_no_change == 0 {
                return Err(FerriteError::invalid(
                    "n_iter_no_change",
                    "must be at least 1",
                ));
            }
        }
        Ok(())
    }

    /// Runs the epochs: `step(rows)` makes one update on the given rows (`None` = all rows),
    /// `loss()` evaluates the objective on all rows after each epoch.
    ///
    /// Fails when the loss becomes NaN or infinite (a learning rate that is too large).
    pub(crate) fn run(
        &self,
        n_rows: usize,
        mut step: impl FnMut(Option<&[usize]>),
        mut loss: impl FnMut() -> f32,
    ) -> Result<GradientDescentOutcome> {
        self.validate()?;
        let mut gen = Generator::new(self.seed);
        let batch_size = match self.batch {
            BatchMode::Batch => n_rows,
            BatchMode::MiniBatch(b) => b,
            BatchMode::Stochastic => 1,
        };
        let mut outcome = GradientDescentOutcome::default();
        let mut best = f32::INFINITY;
        let mut epochs_without_improvement = 0;
        for epoch in 0..self.epochs {
            if batch_size >= n_rows {
                step(None);
            } else {
                let order: Vec<usize> = if self.shuffle {
                    gen.permutation(n_rows)
                } else {
                    (0..n_rows).collect()
                };
                for rows in order.chunks(batch_size) {
                    step(Some(rows));
                }
            }
            let l = loss();
            outcome.loss_history.push(l);
            if !l.is_finite() {
                return Err(FerriteError::invalid(
                    "learning_rate",
                    format!(
                        "gradient descent diverged (loss {l} at epoch {}); lower the learning rate \
                         ({}) or standardise the features",
                        epoch + 1,
                        self.learning_rate
                    ),
                ));
            }
            if let Some(tol) = self.tol {
                // scikit-learn's rule: no improvement of `tol` over the best loss so far
                // (written as a difference so that a tol below f32 resolution still counts).
                if (best as f64 - l as f64) < tol as f64 {
                    epochs_without_improvement += 1;
                } else {
                    epochs_without_improvement = 0;
                }
                best = best.min(l);
                if epochs_without_improvement >= self.n_iter_no_change {
                    outcome.stopped_early = epoch + 1 < self.epochs;
                    break;
                }
            }
        }
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mini_batches_cover_every_row_once_per_epoch() {
        let gd = GradientDescent::new(0.1, 2)
            .batch(BatchMode::MiniBatch(3))
            .tol(None);
        let mut seen = Vec::new();
        let mut sizes = Vec::new();
        gd.run(
            7,
            |rows| {
                let rows = rows.unwrap();
                sizes.push(rows.len());
                seen.extend_from_slice(rows);
            },
            || 1.0,
        )
        .unwrap();
        assert_eq!(sizes, vec![3, 3, 1, 3, 3, 1]);
        let (mut first, mut second) = (seen[..7].to_vec(), seen[7..].to_vec());
        assert_ne!(first, second, "each epoch is shuffled afresh");
        first.sort();
        second.sort();
        assert_eq!(first, (0..7).collect::<Vec<_>>());
        assert_eq!(second, (0..7).collect::<Vec<_>>());
    }

    #[test]
    fn stops_after_patience_epochs_without_improvement() {
        let gd = GradientDescent::new(0.1, 100)
            .tol(Some(0.01))
            .n_iter_no_change(3);
        let losses = [5.0f32, 4.0, 3.999, 3.998, 3.997, 3.0];
        let mut epoch = 0;
        let out = gd
            .run(
                4,
                |rows| assert!(rows.is_none()),
                || {
                    epoch += 1;
                    losses[(epoch - 1).min(losses.len() - 1)]
                },
            )
            .unwrap();
        assert_eq!(out.loss_history, vec![5.0, 4.0, 3.999, 3.998, 3.997]);
        assert!(out.stopped_early);
    }

    #[test]
    fn diverging_loss_and_bad_settings_are_errors() {
        let gd = GradientDescent::new(0.1, 10);
        assert!(gd.run(3, |_| {}, || f32::NAN).is_err());
        assert!(GradientDescent::new(-1.0, 10).validate().is_err());
        assert!(GradientDescent::new(0.1, 0).validate().is_err());
        assert!(GradientDescent::new(0.1, 5)
            .batch(BatchMode::MiniBatch(0))
            .validate()
            .is_err());
    }
}
