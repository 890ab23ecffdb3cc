//! [`History`]: the metrics of every epoch of a `fit`, like Keras's `History.history`.

use std::path::Path;

use crate::error::{FerriteError, Result};

/// The metrics of one epoch. Losses and accuracies are means over the samples of the epoch
/// (each batch weighted by its size); validation values are computed in eval mode after the
/// epoch's training.
#[derive(Clone, Debug, PartialEq)]
pub struct EpochMetrics {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Mean training loss over the epoch's batches, weighted by batch size.
    pub loss: f64,
    /// Training accuracy, when an accuracy kind was chosen.
    pub accuracy: Option<f64>,
    /// Validation loss, when validation data was given.
    pub val_loss: Option<f64>,
    /// Validation accuracy, when both validation data and an accuracy kind were given.
    pub val_accuracy: Option<f64>,
    /// The learning rate the epoch trained with.
    pub lr: f32,
    /// Wall-clock seconds the epoch took, validation included.
    pub seconds: f64,
}

impl EpochMetrics {
    /// A metric by its Keras name: `loss`, `accuracy`, `val_loss`, `val_accuracy`, `lr`.
    pub fn get(&self, name: &str) -> Option<f64> {
        match name {
            "loss" => Some(self.loss),
            "accuracy" | "acc" => self.accuracy,
            "val_loss" => self.val_loss,
            "val_accuracy" | "val_acc" => self.val_accuracy,
            "lr" | "learning_rate" => Some(self.lr as f64),
            _ => None,
        }
    }

    /// `loss: 0.1234 - accuracy: 0.9500 - val_loss: ...`: Keras's per-epoch summary.
    pub fn summary(&self) -> String {
        let mut parts = vec![format!("loss: {:.4}", self.loss)];
        if let Some(a) = self.accuracy {
            parts.push(format!("accuracy: {a:.4}"));
        }
        if let Some(v) = self.val_loss {
            parts.push(format!("val_loss: {v:.4}"));
        }
        if let Some(a) = self.val_accuracy {
            parts.push(format!("val_accuracy: {a:.4}"));
        }
        parts.join(" - ")
    }
}

/// Why training ended before its last epoch.
#[derive(Clone, Debug, PartialEq)]
pub enum StopReason {
    /// Early stopping: the monitored value did not improve for `patience` epochs.
    EarlyStopping {
        /// The epoch after which training stopped.
        epoch: usize,
        /// The epoch with the best monitored value.
        best_epoch: usize,
    },
    /// A callback asked to stop, with its reason.
    Callback(String),
}

impl std::fmt::Display for StopReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StopReason::EarlyStopping { epoch, best_epoch } => write!(
                f,
                "early stopping after epoch {epoch}: no improvement since epoch {best_epoch}"
            ),
            StopReason::Callback(why) => write!(f, "training stopped: {why}"),
        }
    }
}

/// The per-epoch metrics of a training run, in epoch order, and why it stopped early if it
/// did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct History {
    /// One entry per completed epoch.
    pub epochs: Vec<EpochMetrics>,
    /// Set when training ended before the requested number of epochs.
    pub stop_reason: Option<StopReason>,
}

impl History {
    /// The values of metric `name` (see [`EpochMetrics::get`]) over the epochs that have it.
    pub fn metric(&self, name: &str) -> Vec<f64> {
        self.epochs.iter().filter_map(|e| e.get(name)).collect()
    }

    /// The training losses, one per epoch.
    pub fn loss(&self) -> Vec<f64> {
        self.metric("loss")
    }

    /// The validation losses, one per epoch (empty without validation data).
    pub fn val_loss(&self) -> Vec<f64> {
        self.metric("val_loss")
    }

    /// The last completed epoch's metrics.
    pub fn last(&self) -> Option<&EpochMetrics> {
        self.epochs.last()
    }

    /// The history as CSV: `epoch,loss,accuracy,val_loss,val_accuracy,lr,seconds`, with
    /// empty cells for metrics that were not computed.
    pub fn to_csv_string(&self) -> String {
        let cell = |v: Option<f64>| v.map(|v| format!("{v}")).unwrap_or_default();
        let mut out = String::from("epoch,loss,accuracy,val_loss,val_accuracy,lr,seconds\n");
        for e in &self.epochs {
            out.push_str(&format!(
                "{},{},{},{},{},{},{:.6}\n",
                e.epoch,
                e.loss,
                cell(e.accuracy),
                cell(e.val_loss),
                cell(e.val_accuracy),
                e.lr,
                e.seconds
            ));
        }
        out
    }

    /// Writes [`History::to_csv_string`] to `path` atomically.
    pub fn save_csv(&self, path: &Path) -> Result<()> {
        super::model_file::write_atomic(path, self.to_csv_string().as_bytes())
    }

    /// Reads a history written by [`History::save_csv`] (the stop reason is not stored).
    pub fn load_csv(path: &Path) -> Result<History> {
        let text = std::fs::read_to_string(path).map_err(|source| FerriteError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let bad = |line: usize, message: String| FerriteError::Data {
            path: path.to_path_buf(),
            line,
            message,
        };
        let mut lines = text.lines();
        let header = lines
            .next()
            .ok_or_else(|| bad(1, "empty file: expected a history CSV header".into()))?;
        if header.trim() != "epoch,loss,accuracy,val_loss,val_accuracy,lr,seconds" {
            return Err(bad(
                1,
                format!("unexpected header {header:?}: not a history written by Ferrite"),
            ));
        }
        let mut epochs = Vec::new();
        for (i, line) in lines.enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let cells: Vec<&str> = line.split(',').collect();
            if cells.len() != 7 {
                return Err(bad(
                    i + 2,
                    format!("expected 7 columns, found {}", cells.len()),
                ));
            }
            let num = |col: usize| -> Result<Option<f64>> {
                let c = cells[col].trim();
                if c.is_empty() {
                    return Ok(None);
                }
                c.parse::<f64>()
                    .map(Some)
                    .map_err(|_| bad(i + 2, format!("column {}: {c:?} is not a number", col + 1)))
            };
            let required = |col: usize| -> Result<f64> {
                num(col)?.ok_or_else(|| bad(i + 2, format!("column {} is empty", col + 1)))
            };
            epochs.push(EpochMetrics {
                epoch: required(0)? as usize,
                loss: required(1)?,
                accuracy: num(2)?,
                val_loss: num(3)?,
                val_accuracy: num(4)?,
                lr: required(5)? as f32,
                seconds: required(6)?,
            });
        }
        Ok(History {
            epochs,
            stop_reason: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn epoch(n: usize, loss: f64, val: Option<f64>) -> EpochMetrics {
        EpochMetrics {
            epoch: n,
            loss,
            accuracy: Some(0.5),
            val_loss: val,
            val_accuracy: None,
            lr: 0.1,
            seconds: 0.25,
        }
    }

    #[test]
    fn csv_has_empty_cells_for_missing_metrics_and_round_trips() {
        let h = History {
            epochs: vec![epoch(1, 0.75, Some(0.5)), epoch(2, 0.25, None)],
            stop_reason: None,
        };
        let csv = h.to_csv_string();
        assert_eq!(
            csv,
            "epoch,loss,accuracy,val_loss,val_accuracy,lr,seconds\n1,0.75,0.5,0.5,,0.1,0.250000\n2,0.25,0.5,,,0.1,0.250000\n"
        );
        let path = std::env::temp_dir().join(format!("ferrite-history-{}.csv", std::process::id()));
        h.save_csv(&path).unwrap();
        let back = History::load_csv(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(back.epochs[0].val_loss, Some(0.5));
        assert_eq!(back.epochs[1].val_loss, None);
        assert_eq!(back.loss(), vec![0.75, 0.25]);
    }

    #[test]
    fn summary_lists_only_computed_metrics() {
        assert_eq!(
            epoch(1, 0.5, Some(0.25)).summary(),
            "loss: 0.5000 - accuracy: 0.5000 - val_loss: 0.2500"
        );
    }
}
