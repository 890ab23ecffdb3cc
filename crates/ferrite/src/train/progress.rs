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
    /// Training samples per second over the epoch's batches (validation excluded), once
    /// [`training_done`](Self::training_done) has been called.
    rate: Option<f64>,
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
            rate: None,
        }
    }

    /// The epoch's training batches are done, `samples` samples in all: fixes the training
    /// throughput before validation starts.
    pub(crate) fn training_done(&mut self, samples: usize) {
        let seconds = self.elapsed();
        self.rate = (seconds > 0.0).then(|| samples as f64 / seconds);
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
                let _ = writeln!(
                    std::io::stdout(),
                    "{}",
                    epoch_line_with_rate(metrics, epochs, self.rate)
                );
            }
            _ => {}
        }
    }
}

/// `Epoch 3/10 - 0.42s - loss: 0.1234 - val_loss: 0.2345`: an epoch's line.
pub fn epoch_line(metrics: &EpochMetrics, epochs: usize) -> String {
    format!(
        "Epoch {}/{} - {:.2}s - {}",
        metrics.epoch,
        epochs,
        metrics.seconds,
        metrics.summary()
    )
}

/// The line verbose 2 prints: [`epoch_line`] with the training throughput after the time,
/// `Epoch 3/10 - 0.42s - 2381 samples/s - loss: 0.1234` (samples over the seconds of the
/// training batches, loading included, validation not).
fn epoch_line_with_rate(metrics: &EpochMetrics, epochs: usize, rate: Option<f64>) -> String {
    match rate {
        Some(rate) => format!(
            "Epoch {}/{} - {:.2}s - {rate:.0} samples/s - {}",
            metrics.epoch,
            epochs,
            metrics.seconds,
            metrics.summary()
        ),
        None => epoch_line(metrics, epochs),
    }
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
        assert_eq!(
            epoch_line_with_rate(&m, 10, Some(2381.4)),
            "Epoch 3/10 - 0.50s - 2381 samples/s - loss: 0.1250 - val_loss: 0.2500"
        );
    }

    #[test]
    fn training_throughput_is_samples_over_the_training_seconds() {
        let mut p = EpochProgress::start(0, 1, 1, 1);
        std::thread::sleep(Duration::from_millis(50));
        p.training_done(1000);
        let rate = p.rate.expect("a rate");
        // 1000 samples in at least 50 ms: at most 20,000 a second, and not absurdly less.
        assert!(rate <= 20_000.0 && rate > 1_000.0, "{rate}");
    }
}
