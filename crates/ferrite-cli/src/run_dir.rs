//! The run folder every training command writes: model, model card, metrics, history, plots.

use anyhow::Context;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// A folder holding one training run's outputs.
pub struct RunDir {
    /// Where it is.
    pub path: PathBuf,
}

/// `YYYYMMDD-HHMMSS` in UTC, from the system clock.
fn timestamp() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}-{:02}{:02}{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

impl RunDir {
    /// Creates `out`, or `runs/NAME-TIMESTAMP` when `out` is `None`.
    pub fn create(out: Option<&Path>, name: &str) -> anyhow::Result<RunDir> {
        let path = match out {
            Some(p) => p.to_path_buf(),
            None => {
                let base = PathBuf::from("runs").join(format!("{name}-{}", timestamp()));
                // Two runs in the same second get distinct folders.
                let mut candidate = base.clone();
                let mut k = 2;
                while candidate.exists() {
                    candidate = PathBuf::from(format!("{}-{k}", base.display()));
                    k += 1;
                }
                candidate
            }
        };
        std::fs::create_dir_all(&path)
            .with_context(|| format!("cannot create run folder {}", path.display()))?;
        Ok(RunDir { path })
    }

    /// An existing run folder, checked to hold a model.
    pub fn open(path: &Path) -> anyhow::Result<RunDir> {
        let run = RunDir {
            path: path.to_path_buf(),
        };
        if !run.file("model.json").exists() {
            anyhow::bail!(
                "{} is not a Ferrite run folder (no model.json); pass the folder a `ferrite train` run printed",
                path.display()
            );
        }
        Ok(run)
    }

    /// The path of `name` inside the folder.
    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Writes pretty JSON atomically.
    pub fn write_json(&self, name: &str, value: &serde_json::Value) -> anyhow::Result<()> {
        let text = serde_json::to_string_pretty(value)?;
        self.write_text(name, &text)
    }

    /// Writes text atomically (temporary file, then rename).
    pub fn write_text(&self, name: &str, text: &str) -> anyhow::Result<()> {
        ferrite::train::write_atomic(&self.file(name), text.as_bytes())?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn timestamp_has_date_and_time() {
        let t = super::timestamp();
        assert_eq!(t.len(), 15, "{t}");
        assert!(t.starts_with("20"), "{t}");
    }
}
