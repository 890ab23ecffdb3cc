//! Fingerprints of the data files a trained model depends on, so that scoring it later on
//! "its held-out rows" can refuse when the file changed (the rows it would score may then be
//! training rows), and can find the file from another working directory.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{FerriteError, Result};

/// A data file or folder as it was: where it is, its size and a SHA-256 of its contents
/// (for a folder, of every file's relative name and contents, in sorted order).
///
/// ```
/// use ferrite::data::Fingerprint;
/// # let dir = std::env::temp_dir().join(format!("ferrite_fp_doc_{}", std::process::id()));
/// # std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("rows.csv");
/// std::fs::write(&path, "x,y\n1,2\n").unwrap();
/// let fp = Fingerprint::of(&path).unwrap();
/// assert_eq!(fp.bytes, 8);
/// fp.verify().unwrap();
/// std::fs::write(&path, "x,y\n2,1\n").unwrap(); // same size, other contents
/// assert!(fp.verify().unwrap_err().to_string().contains("has changed since training"));
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    /// The path as it was given.
    pub given: PathBuf,
    /// The absolute path.
    pub path: PathBuf,
    /// Total size in bytes (a folder: of its files).
    pub bytes: u64,
    /// Number of files (1 for a file).
    pub files: u64,
    /// Lower-case hexadecimal SHA-256.
    pub sha256: String,
}

impl Fingerprint {
    /// Fingerprints the file or folder at `path`.
    pub fn of(path: impl AsRef<Path>) -> Result<Fingerprint> {
        let given = path.as_ref();
        let io = |p: &Path, source| FerriteError::Io {
            path: p.to_path_buf(),
            source,
        };
        let absolute = std::fs::canonicalize(given).map_err(|e| io(given, e))?;
        let mut hasher = Sha256::new();
        let (mut bytes, mut files) = (0u64, 0u64);
        if absolute.is_dir() {
            let mut entries = Vec::new();
            collect_files(&absolute, &absolute, &mut entries)?;
            entries.sort();
            for relative in entries {
                let contents = read(&absolute.join(&relative))?;
                // Name and length first, so moving bytes between files changes the hash.
                hasher.update(relative.to_string_lossy().as_bytes());
                hasher.update([0]);
                hasher.update((contents.len() as u64).to_le_bytes());
                hasher.update(&contents);
                bytes += contents.len() as u64;
                files += 1;
            }
        } else {
            let contents = read(&absolute)?;
            hasher.update(&contents);
            bytes = contents.len() as u64;
            files = 1;
        }
        let sha256 = hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Ok(Fingerprint {
            given: given.to_path_buf(),
            path: absolute,
            bytes,
            files,
            sha256,
        })
    }

    /// Checks that the data is still as fingerprinted: an error saying what changed (size,
    /// file count or contents) when it is not, or when it is gone.
    pub fn verify(&self) -> Result<()> {
        let now = Fingerprint::of(&self.path).map_err(|e| {
            FerriteError::invalid(
                "data",
                format!(
                    "{} (recorded at training as {}) cannot be read now: {e}",
                    self.path.display(),
                    self.given.display()
                ),
            )
        })?;
        let change = if now.files != self.files {
            format!("{} files then, {} now", self.files, now.files)
        } else if now.bytes != self.bytes {
            format!("{} bytes then, {} now", self.bytes, now.bytes)
        } else if now.sha256 != self.sha256 {
            "same size, different contents".to_string()
        } else {
            return Ok(());
        };
        Err(FerriteError::invalid(
            "data",
            format!(
                "{} has changed since training ({change}), so its recorded held-out rows may now be \
                 training rows; retrain on it, or score a separate file",
                self.path.display()
            ),
        ))
    }
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| FerriteError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Every file under `dir`, relative to `root` (hidden files and folders skipped).
fn collect_files(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let entries = std::fs::read_dir(dir).map_err(|source| FerriteError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    for entry in entries {
        let entry = entry.map_err(|source| FerriteError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        let path = entry.path();
        if path.is_dir() {
            collect_files(root, &path, out)?;
        } else if path.is_file() {
            out.push(path.strip_prefix(root).unwrap_or(&path).to_path_buf());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Fingerprint;

    #[test]
    fn folders_change_with_names_sizes_and_contents() {
        let dir = std::env::temp_dir().join(format!("ferrite_fp_test_{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("cat")).unwrap();
        std::fs::write(dir.join("cat/a.png"), b"abc").unwrap();
        std::fs::write(dir.join("cat/b.png"), b"de").unwrap();
        let fp = Fingerprint::of(&dir).unwrap();
        assert_eq!((fp.files, fp.bytes), (2, 5));
        assert_eq!(fp.sha256.len(), 64);
        fp.verify().unwrap();
        // A rename keeps every byte but is another data set.
        std::fs::rename(dir.join("cat/b.png"), dir.join("cat/c.png")).unwrap();
        let err = fp.verify().unwrap_err().to_string();
        assert!(err.contains("same size, different contents"), "{err}");
        std::fs::write(dir.join("cat/d.png"), b"f").unwrap();
        let err = fp.verify().unwrap_err().to_string();
        assert!(err.contains("2 files then, 3 now"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
        let err = fp.verify().unwrap_err().to_string();
        assert!(err.contains("cannot be read now"), "{err}");
    }
}
