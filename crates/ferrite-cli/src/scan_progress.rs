//! The progress of the first pass over an image folder (checking every file and computing
//! the normalisation statistics): a bar once it has taken more than a second, and at
//! verbose 2 a closing line with the images decoded per second.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How long a pass runs before its bar appears: shorter passes show nothing.
const SHOW_AFTER: Duration = Duration::from_secs(1);

/// The progress of decoding `total` images, reported from any thread.
pub struct ScanProgress {
    bar: ProgressBar,
    /// Whether the bar may be drawn at all (verbose 1 or 2, on a terminal).
    drawn: bool,
    started: Instant,
    verbose: u8,
    what: String,
}

impl ScanProgress {
    /// Starts the report of decoding `total` images of `what` (a folder, for the messages).
    pub fn new(what: String, total: usize, verbose: u8) -> ScanProgress {
        // Hidden until a second has passed, so quick passes do not flash a bar.
        let bar = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::hidden());
        let style = ProgressStyle::with_template(
            "{prefix} [{bar:30.cyan/blue}] {pos}/{len} images - {elapsed} (ETA {eta})",
        )
        .expect("the progress template is valid")
        .progress_chars("=> ");
        bar.set_style(style);
        bar.set_prefix("Decoding");
        ScanProgress {
            bar,
            drawn: verbose > 0 && std::io::stderr().is_terminal(),
            started: Instant::now(),
            verbose,
            what,
        }
    }

    /// `done` images of the total are decoded.
    pub fn at(&self, done: usize) {
        if self.drawn && self.bar.is_hidden() && self.started.elapsed() >= SHOW_AFTER {
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
        }
        self.bar.set_position(done as u64);
    }

    /// The pass is over: clears the bar, and at verbose 2 says how fast it went.
    pub fn finish(self) {
        self.bar.finish_and_clear();
        let seconds = self.started.elapsed().as_secs_f64();
        let images = self.bar.position();
        if self.verbose >= 2 {
            println!("{}", rate_line(&self.what, images, seconds));
        }
    }
}

/// `train/: 1200 images decoded in 0.52 s (2308 images/s)`.
fn rate_line(what: &str, images: u64, seconds: f64) -> String {
    let rate = if seconds > 0.0 {
        format!("{:.0}", images as f64 / seconds)
    } else {
        "-".to_string()
    };
    format!("{what}: {images} images decoded in {seconds:.2} s ({rate} images/s)")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rate_line_names_the_folder_the_count_and_the_rate() {
        assert_eq!(
            rate_line("train/", 1200, 0.5),
            "train/: 1200 images decoded in 0.50 s (2400 images/s)"
        );
        assert_eq!(
            rate_line("x", 0, 0.0),
            "x: 0 images decoded in 0.00 s (- images/s)"
        );
    }

    #[test]
    fn a_report_counts_the_images_done() {
        let p = ScanProgress::new("d".into(), 10, 0);
        p.at(4);
        p.at(10);
        assert_eq!(p.bar.position(), 10);
        assert!(p.bar.is_hidden(), "verbose 0 draws nothing");
    }
}
