//! The backend boundary, held by a test: outside `src/backend/`, no file names the CPU
//! backend, matches on a storage's variant, or reaches into a raw buffer. (`Storage` itself
//! has no raw accessors, so the compiler holds the rest.)

use std::path::{Path, PathBuf};

/// What only `backend/` may write.
const FORBIDDEN: [&str; 6] = [
    "Storage::Cpu",
    "backend::cpu",
    "CpuStorage",
    "cpu::",
    ".f32_mut()",
    "take_host_buffer",
];

/// Files that may use a forbidden pattern, with the reason.
const ALLOWED: [(&str, &str); 1] = [
    // The loader hands the previous batch's host buffer back to the dataset to refill.
    ("data/loader.rs", "take_host_buffer"),
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read source folder") {
        let path = entry.expect("read entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `(file, line number, pattern)` for every forbidden use in `text` (comments included:
/// a doc comment naming a CPU kernel outside the backend is a sign of a leak too).
fn violations(file: &str, text: &str) -> Vec<(String, usize, &'static str)> {
    let mut found = Vec::new();
    for (n, line) in text.lines().enumerate() {
        for pattern in FORBIDDEN {
            let allowed = ALLOWED
                .iter()
                .any(|&(f, p)| file.ends_with(f) && p == pattern);
            if line.contains(pattern) && !allowed {
                found.push((file.to_string(), n + 1, pattern));
            }
        }
    }
    found
}

#[test]
fn nothing_outside_backend_touches_a_raw_buffer() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let backend = src.join("backend");
    let mut found = Vec::new();
    for file in files.iter().filter(|f| !f.starts_with(&backend)) {
        let text = std::fs::read_to_string(file).expect("read source file");
        let name = file
            .strip_prefix(&src)
            .unwrap_or(file)
            .display()
            .to_string();
        found.extend(violations(&name, &text));
    }
    assert!(
        found.is_empty(),
        "raw-buffer or CPU-backend use outside backend/:\n{}",
        found
            .iter()
            .map(|(f, n, p)| format!("  src/{f}:{n}: {p}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    // The scan saw the crate, not an empty folder.
    assert!(files.len() > 50, "only {} source files found", files.len());
}

#[test]
fn the_scan_catches_each_pattern() {
    let leak = "let v = match s { Storage::Cpu(v) => v };\nuse crate::backend::cpu::conv;";
    let found = violations("nn/linear.rs", leak);
    assert_eq!(
        found.iter().map(|(_, n, _)| *n).collect::<Vec<_>>(),
        [1, 2, 2]
    );
    assert!(violations("data/loader.rs", "s.take_host_buffer()").is_empty());
    assert_eq!(violations("optim/sgd.rs", "s.take_host_buffer()").len(), 1);
}
