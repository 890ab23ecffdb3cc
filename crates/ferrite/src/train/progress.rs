//! What `fit` prints, by Keras's `verbose`: 0 nothing, 1 a progress bar per epoch with the
//! running loss and the time left, 2 one line per epoch. Where the bar would go (standard
//! error) is not a terminal, as in a log file or CI, verbose 1 writes each epoch's line
//! there instead of a bar that nobody sees.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use super::history::EpochMetrics;

/// The report of one epoch's progress.
pub(crate) struct EpochProgress {
    verbose: u8,
    bar: Option<ProgressBar>,
    started: Instant,
}

impl EpochProgress {
    /// Starts reporting epoch `epoch` of `epochs`, which has `batches` batches.
    pub(crate) fn start(verbose: u8, epoch: usize, epochs: usize, batches: usize) -> EpochProgress {
        let bar = (verbose == 1 && std::io::stderr().is_terminal()).then(|| {
            let bar = ProgressBar::new(batches as u64);
            let style = ProgressStyle::with_template(
                "{prefix} [{bar:30.cyan/blue}] {pos}/{len} - {elapsed} (ETA {eta}) - {msg}",
            )
            .expect("the progress template is valid")
            .progress_chars("=> ");
            bar.set_style(style);
            bar.set_prefix(format!("Epoch {epoch}/{epochs}"));
            // Redraw at most 10 times a second: small models run thousands of batches a second.
            bar.enable_steady_tick(Duration::from_millis(100));
            bar
        });
        EpochProgress {
            verbose,
            bar,
            started: Instant::now(),
        }
    }

    /// One batch done; `running_loss` is the mean loss of the epoch so far.
    pub(crate) fn batch_done(&self, running_loss: f64) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
            bar.set_message(format!("loss: {running_loss:.4}"));
        }
    }

    /// Seconds since the epoch started.
    pub(crate) fn elapsed(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    /// The epoch is over (validation included): shows its metrics.
    pub(crate) fn finish(self, metrics: &EpochMetrics, epochs: usize) {
        match (self.verbose, self.bar) {
            (1, Some(bar)) => {
                bar.disable_steady_tick();
                bar.finish_with_message(metrics.summary());
            }
            (1, None) => eprintln!("{}", epoch_line(metrics, epochs)),
            (2, _) => {
                // A closed pipe (`| head`) must not end the training run.
                use std::io::Write as _;
                let _ = writeln!(std::io::stdout(), "{}", epoch_line(metrics, epochs));
            }
            _ => {}
        }
    }
}

/// `Epoch 3/10 - 0.42s - loss: 0.1234 - val_loss: 0.2345`: the line verbose 2 prints.
pub fn epoch_line(metrics: &EpochMetrics, epochs: usize) -> String {
    format!(
        "Epoch {}/{} - {:.2}s - {}",
        metrics.epoch,
        epochs,
        metrics.seconds,
        metrics.summary()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verbose_two_line_has_epoch_time_and_metrics() {
        let m = EpochMetrics {
            epoch: 3,
            loss: 0.125,
            accuracy: None,
            val_loss: Some(0.25),
            val_accuracy: None,
            lr: 0.01,
            seconds: 0.5,
        };
        assert_eq!(
            epoch_line(&m, 10),
            "Epoch 3/10 - 0.50s - loss: 0.1250 - val_loss: 0.2500"
        );
    }
}
