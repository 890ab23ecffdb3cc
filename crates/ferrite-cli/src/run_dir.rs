//! The run folder every training command writes: model, model card, metrics, history, plots.

use anyhow::Context;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

/// The staging and scratch folders of the runs in progress, removed by
/// [`remove_unfinished`] when the process is stopped by a signal.
static UNFINISHED: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn unfinished() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    UNFINISHED.lock().unwrap_or_else(|e| e.into_inner())
}

/// Removes the folders of unfinished runs (before the process ends on Ctrl-C or SIGTERM,
/// when no destructor runs), so that an interrupted run leaves nothing behind.
pub fn remove_unfinished() {
    for path in unfinished().drain(..) {
        let _ = std::fs::remove_dir_all(path);
    }
}

/// A folder holding one training run's outputs.
///
/// A new run is written into a staging folder beside its final place and renamed there by
/// [`RunDir::finish`], so a run folder appears complete or not at all: an interrupted run
/// (an error, Ctrl-C, a killed process) leaves no half-written run folder, and an earlier
/// folder of the same name stays whole until the new one is complete.
pub struct RunDir {
    /// Where the files are written now (the staging folder of a new run).
    pub path: PathBuf,
    /// Where the folder goes when the run is complete (`None` for an opened run).
    destination: Option<PathBuf>,
    /// On the ranks after 0 of an MPI job: the run folder rank 0 writes. This rank's files
    /// go to a private scratch folder, removed at the end, so that one folder is written.
    scratch_for: Option<PathBuf>,
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

/// Removes the staging folders (`.NAME.partial-PID`) that runs killed outright (`kill -9`,
/// a power cut) left in `parent`: those whose process no longer exists. Where processes
/// cannot be looked up (no `/proc`), nothing is removed.
fn remove_abandoned_staging(parent: &Path) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix('.')
            .and_then(|n| n.rsplit_once(".partial-"))
            .and_then(|(_, pid)| pid.parse::<u32>().ok())
        else {
            continue;
        };
        let alive = Path::new("/proc").join(pid.to_string()).exists();
        if !alive && entry.path().is_dir() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
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
        if !ferrite::distributed::is_primary() {
            let scratch = std::env::temp_dir().join(format!(
                "ferrite-rank-{}-{}",
                ferrite::distributed::rank(),
                std::process::id()
            ));
            let _ = std::fs::remove_dir_all(&scratch);
            std::fs::create_dir_all(&scratch)
                .with_context(|| format!("cannot create scratch folder {}", scratch.display()))?;
            unfinished().push(scratch.clone());
            return Ok(RunDir {
                path: scratch,
                destination: None,
                scratch_for: Some(path),
            });
        }
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&parent)
            .with_context(|| format!("cannot create folder {}", parent.display()))?;
        let file_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| anyhow::anyhow!("run folder {} has no name", path.display()))?;
        remove_abandoned_staging(&parent);
        let staging = parent.join(format!(".{file_name}.partial-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&staging);
        std::fs::create_dir(&staging)
            .with_context(|| format!("cannot create run folder {}", staging.display()))?;
        unfinished().push(staging.clone());
        Ok(RunDir {
            path: staging,
            destination: Some(path),
            scratch_for: None,
        })
    }

    /// Checks, before any work, that a run can be written to `out` (or under `runs/`): an
    /// existing `out` is refused unless `overwrite` (so no earlier run is lost by accident),
    /// and the parent folder must accept a new folder, so a read-only place fails now rather
    /// than after training.
    pub fn check_destination(out: Option<&Path>, overwrite: bool) -> anyhow::Result<()> {
        let target = out.map_or_else(|| PathBuf::from("runs").join("x"), Path::to_path_buf);
        if out.is_some() && target.exists() && !overwrite {
            anyhow::bail!(
                "{} already exists; add --overwrite to replace it, or choose another --out",
                target.display()
            );
        }
        if out.is_some() && target.exists() && !target.is_dir() {
            anyhow::bail!(
                "{} exists and is not a folder; choose another --out",
                target.display()
            );
        }
        let parent = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&parent).with_context(|| {
            format!(
                "cannot create the folder {} for the run; choose another --out",
                parent.display()
            )
        })?;
        let probe = parent.join(format!(".ferrite-write-check-{}", std::process::id()));
        std::fs::create_dir(&probe)
            .map_err(anyhow::Error::from)
            .and_then(|()| std::fs::remove_dir(&probe).map_err(anyhow::Error::from))
            .with_context(|| {
                format!(
                    "cannot write a run folder in {}; choose another --out",
                    parent.display()
                )
            })
    }

    /// Moves a complete new run into its final place and returns that path. An earlier
    /// folder there is replaced only now, and removed once the new one is in place.
    pub fn finish(mut self) -> anyhow::Result<PathBuf> {
        unfinished().retain(|p| p != &self.path);
        if let Some(run) = self.scratch_for.take() {
            let _ = std::fs::remove_dir_all(&self.path);
            return Ok(run);
        }
        let Some(destination) = self.destination.take() else {
            return Ok(self.path.clone());
        };
        let mut replaced = None;
        if destination.exists() {
            let old = destination.with_file_name(format!(
                ".{}.replaced-{}",
                destination
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                std::process::id()
            ));
            let _ = std::fs::remove_dir_all(&old);
            std::fs::rename(&destination, &old).with_context(|| {
                format!("cannot move the earlier {} aside", destination.display())
            })?;
            replaced = Some(old);
        }
        if let Err(e) = std::fs::rename(&self.path, &destination) {
            // Put the earlier folder back: the new run stays in its staging folder.
            if let Some(old) = &replaced {
                let _ = std::fs::rename(old, &destination);
            }
            return Err(e).with_context(|| {
                format!(
                    "cannot move the run from {} to {}",
                    self.path.display(),
                    destination.display()
                )
            });
        }
        if let Some(old) = replaced {
            if old.is_dir() {
                let _ = std::fs::remove_dir_all(&old);
            } else {
                let _ = std::fs::remove_file(&old);
            }
        }
        Ok(destination)
    }

    /// An existing run folder, checked to hold a model.
    pub fn open(path: &Path) -> anyhow::Result<RunDir> {
        let run = RunDir {
            path: path.to_path_buf(),
            destination: None,
            scratch_for: None,
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

impl Drop for RunDir {
    /// A new run that ends without [`RunDir::finish`] (an error on the way) removes its
    /// staging folder: nothing half-written is left behind.
    fn drop(&mut self) {
        if self.destination.is_some() || self.scratch_for.is_some() {
            unfinished().retain(|p| p != &self.path);
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::RunDir;

    #[test]
    fn a_run_folder_appears_only_when_finished_and_replaces_an_earlier_one_whole() {
        let root = std::env::temp_dir().join(format!("ferrite-run-dir-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let out = root.join("run");
        let run = RunDir::create(Some(&out), "x").unwrap();
        run.write_text("a.txt", "first").unwrap();
        assert!(
            !out.exists(),
            "the folder must not appear before it is complete"
        );
        assert_eq!(run.finish().unwrap(), out);
        assert_eq!(std::fs::read_to_string(out.join("a.txt")).unwrap(), "first");

        // A second run into the same folder: the first stays whole until the second is done.
        let again = RunDir::create(Some(&out), "x").unwrap();
        again.write_text("b.txt", "second").unwrap();
        assert!(out.join("a.txt").exists() && !out.join("b.txt").exists());
        again.finish().unwrap();
        assert!(out.join("b.txt").exists() && !out.join("a.txt").exists());

        // An interrupted run (dropped without finish) leaves the earlier folder as it was.
        let dropped = RunDir::create(Some(&out), "x").unwrap();
        dropped.write_text("c.txt", "never").unwrap();
        drop(dropped);
        assert!(out.join("b.txt").exists() && !out.join("c.txt").exists());
        let names: Vec<String> = std::fs::read_dir(&root)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec!["run".to_string()], "no staging folder is left");
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn staging_folders_of_dead_processes_are_removed_and_live_ones_kept() {
        let root = std::env::temp_dir().join(format!("ferrite-abandoned-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        // No process has id 4294967295 (Linux's pid_max is at most 2^22); process 1 exists.
        let dead = root.join(".old-run.partial-4294967295");
        let live = root.join(".other.partial-1");
        let unrelated = root.join(".partial-notes");
        for d in [&dead, &live, &unrelated] {
            std::fs::create_dir_all(d).unwrap();
        }
        let run = RunDir::create(Some(&root.join("new")), "x").unwrap();
        assert!(!dead.exists(), "a dead process's staging folder is removed");
        assert!(live.exists() && unrelated.exists());
        run.finish().unwrap();
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn timestamp_has_date_and_time() {
        let t = super::timestamp();
        assert_eq!(t.len(), 15, "{t}");
        assert!(t.starts_with("20"), "{t}");
    }
}
