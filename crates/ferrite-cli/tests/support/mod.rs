//! Helpers shared by the command line's integration tests (`mod support;` in each test file):
//! the `ferrite` command, fresh folders, the shipped data, output as text, a PNG encoder that
//! needs no image library, small deterministic generators, and the checks every
//! image-classification run folder must pass.

// Each test binary compiles its own copy of this module and uses only some of its helpers;
// the rest would warn as dead code in that binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// `ferrite` as cargo built it for these tests (the debug binary), with the environment of
/// the test process.
pub fn ferrite() -> Command {
    Command::new(env!("CARGO_BIN_EXE_ferrite"))
}

/// Runs `cmd` and returns its output, failing the test with both streams when it does not
/// succeed.
pub fn succeed(mut cmd: Command) -> Output {
    let out = cmd.output().expect("run the command");
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    out
}

/// A file of the repository's `data/` folder.
pub fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../data")
        .join(name)
}

/// A path in the system's temporary folder that does not exist (what an earlier run left
/// there is removed), for `--out`, which refuses an existing folder. The name holds the
/// test binary's name and this process's id, so that test binaries and concurrent runs
/// never share one.
pub fn fresh_path(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "ferrite-cli-{}-{}-{name}",
        env!("CARGO_CRATE_NAME"),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// A fresh, empty folder for one test (see [`fresh_path`]).
pub fn temp_dir(name: &str) -> PathBuf {
    let d = fresh_path(name);
    std::fs::create_dir_all(&d).unwrap_or_else(|e| panic!("cannot create {}: {e}", d.display()));
    d
}

/// Standard output as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Standard error as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A JSON file, parsed.
pub fn json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// The number `key` of a metrics object.
pub fn metric(m: &serde_json::Value, key: &str) -> f64 {
    m[key]
        .as_f64()
        .unwrap_or_else(|| panic!("metrics.json has no number {key}: {m}"))
}

/// The names in `dir`, sorted, hidden staging folders included.
pub fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

// ---------------------------------------------------------------------------------------
// PNG files.

/// True when `path` is a readable PNG file (by its signature).
pub fn is_png(path: &Path) -> bool {
    std::fs::read(path)
        .map(|b| b.starts_with(b"\x89PNG"))
        .unwrap_or(false)
}

/// Width and height of a PNG file, from its header.
pub fn png_size(path: &Path) -> (u32, u32) {
    let bytes =
        std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    assert!(
        bytes.starts_with(b"\x89PNG") && bytes.len() >= 24,
        "{} is not a PNG",
        path.display()
    );
    let word = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    (word(16), word(20))
}

/// The CRC-32 of PNG chunks (ISO 3309).
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= b as u32;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                0xEDB8_8320 ^ (crc >> 1)
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// An 8-bit PNG of `width × height` pixels (row-major, `channels` values a pixel: 1 gray,
/// colour type 0; 3 RGB, colour type 2), its image data in stored (uncompressed) deflate
/// blocks, so that the tests need no image library.
pub fn png(width: u32, height: u32, channels: usize, pixels: &[u8]) -> Vec<u8> {
    assert!(channels == 1 || channels == 3, "{channels} channels");
    assert_eq!(pixels.len(), (width * height) as usize * channels);
    let mut raw = Vec::new();
    for row in pixels.chunks(width as usize * channels) {
        raw.push(0); // filter type: none
        raw.extend_from_slice(row);
    }
    let mut zlib = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = raw.chunks(65_535).collect();
    for (i, block) in blocks.iter().enumerate() {
        let len = block.len() as u16;
        zlib.push(u8::from(i + 1 == blocks.len()));
        zlib.extend_from_slice(&len.to_le_bytes());
        zlib.extend_from_slice(&(!len).to_le_bytes());
        zlib.extend_from_slice(block);
    }
    let (mut a, mut b) = (1u32, 0u32);
    for &x in &raw {
        a = (a + x as u32) % 65_521;
        b = (b + a) % 65_521;
    }
    zlib.extend_from_slice(&((b << 16) | a).to_be_bytes());
    let colour_type = if channels == 3 { 2 } else { 0 };
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, colour_type, 0, 0, 0]); // 8 bits
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    for (kind, data) in [(&b"IHDR"[..], ihdr), (b"IDAT", zlib), (b"IEND", Vec::new())] {
        png.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut chunk = kind.to_vec();
        chunk.extend_from_slice(&data);
        png.extend_from_slice(&chunk);
        png.extend_from_slice(&crc32(&chunk).to_be_bytes());
    }
    png
}

/// An 8-bit grayscale PNG of `width × height` pixels (row-major).
pub fn gray_png(width: u32, height: u32, pixels: &[u8]) -> Vec<u8> {
    png(width, height, 1, pixels)
}

// ---------------------------------------------------------------------------------------
// Deterministic generators, so that made-up data is the same on every run.

/// Knuth's 64-bit LCG (MMIX), read from its top 31 bits.
pub struct Lcg64(pub u64);

impl Lcg64 {
    /// The next 31 bits.
    pub fn next_u31(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    /// A value in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u31() % n
    }

    /// A value in `[-1, 1)`.
    pub fn uniform_pm1(&mut self) -> f64 {
        (self.next_u31() as f64 / (1u64 << 31) as f64) * 2.0 - 1.0
    }
}

/// The C standard's example 32-bit LCG (`rand()`), read from bits 16 and up.
pub struct Lcg32(pub u32);

impl Lcg32 {
    /// A value in `0..n`.
    pub fn below(&mut self, n: u32) -> u32 {
        self.0 = self.0.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        (self.0 >> 16) % n
    }
}

// ---------------------------------------------------------------------------------------
// Run folders of image classifiers.

/// The number of test images in a confusion matrix (rows: true classes), checking that it is
/// square.
pub fn confusion_total(cm: &serde_json::Value) -> usize {
    let rows = cm
        .as_array()
        .unwrap_or_else(|| panic!("not a confusion matrix: {cm}"));
    rows.iter()
        .map(|row| {
            let row = row.as_array().unwrap_or_else(|| panic!("not a row: {row}"));
            assert_eq!(row.len(), rows.len(), "a confusion matrix is square: {cm}");
            row.iter()
                .map(|v| v.as_u64().unwrap() as usize)
                .sum::<usize>()
        })
        .sum()
}

/// The number of test images off a confusion matrix's diagonal.
pub fn confusion_missed(cm: &serde_json::Value) -> usize {
    let rows = cm.as_array().unwrap();
    let mut missed = 0;
    for (i, row) in rows.iter().enumerate() {
        for (j, v) in row.as_array().unwrap().iter().enumerate() {
            if i != j {
                missed += v.as_u64().unwrap() as usize;
            }
        }
    }
    missed
}

/// Checks the run folder `out` of an image classifier scored on `test_images` test images of
/// `classes` classes, and returns its metrics.json: the test count, every test image counted
/// once in the `classes × classes` confusion matrix, one line of misclassified.csv per
/// misclassified test image (as the accuracy says), and the files every such run writes.
pub fn check_image_run(out: &Path, test_images: usize, classes: usize) -> serde_json::Value {
    let metrics = json(&out.join("metrics.json"));
    let accuracy = metrics["accuracy"]
        .as_f64()
        .expect("accuracy in metrics.json");
    assert_eq!(metrics["test_images"], test_images, "{metrics}");
    let cm = &metrics["confusion_matrix"];
    assert_eq!(cm.as_array().map(Vec::len), Some(classes), "{cm}");
    assert_eq!(confusion_total(cm), test_images, "{cm}");
    let missed = std::fs::read_to_string(out.join("misclassified.csv")).unwrap();
    assert!(missed.starts_with("test_image,true_class,predicted_class\n"));
    assert_eq!(
        missed.lines().count() - 1,
        test_images - (accuracy * test_images as f64).round() as usize,
        "one line per misclassified test image"
    );
    for file in [
        "model.safetensors",
        "model.json",
        "history.csv",
        "training_curves.png",
        "confusion_matrix.png",
        "misclassified.png",
    ] {
        assert!(out.join(file).is_file(), "missing {file}");
    }
    metrics
}

/// Writes `count` 8x8 images of class `class` into `root/class/`: levels about 50 (`dark`)
/// or 200 (anything else), with a different pattern of ±20 in each image (`seed`).
pub fn write_class(root: &Path, class: &str, count: usize, seed: u32) {
    let dir = root.join(class);
    std::fs::create_dir_all(&dir).unwrap();
    let base: i32 = if class == "dark" { 50 } else { 200 };
    let mut rng = Lcg32(seed.wrapping_mul(2_654_435_761).wrapping_add(12_345));
    for i in 0..count {
        let pixels: Vec<u8> = (0..64)
            .map(|_| (base + rng.below(41) as i32 - 20) as u8)
            .collect();
        std::fs::write(dir.join(format!("{i:02}.png")), gray_png(8, 8, &pixels)).unwrap();
    }
}
