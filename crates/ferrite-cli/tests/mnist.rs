//! `ferrite train mnist` on hand-made IDX files: a few hundred synthetic 28x28 "digits" (a
//! bright bar whose position and orientation give the class), the training files gzipped as
//! MNIST is published and the test files unpacked, since the example takes either. MNIST
//! itself is not on the test machines (no Debian package ships it), so these tests check the
//! example's plumbing (reading, training, the run folder, `evaluate`) and its errors, not its
//! accuracy on the real digits.

use flate2::write::GzEncoder;
use flate2::Compression;
use std::io::Write;
use std::path::Path;

mod support;
use support::{check_image_run, ferrite, fresh_path, json, temp_dir, Lcg64};

/// Hand-made training and test images (the fast setting keeps all of them: it takes at most
/// 6,000 and 2,000).
const TRAIN: usize = 500;
const TEST: usize = 200;

/// Test accuracy the synthetic digits must reach after 2 epochs of the fast setting: measured
/// 0.995 at seed 0 (the default), 1.0 at seed 1, and 0.995 to 1.0 at seeds 0 to 2 after 1 or
/// 2 epochs; a bar in one of ten distinct places is easy to tell apart, chance is 0.1.
const BAR: f64 = 0.95;

/// `n` synthetic digits and their labels (cycling through 0..9): dim noise, and a bar 2 pixels
/// thick and 14 to 23 long, horizontal for classes 0..4 and vertical for 5..9, at row (or
/// column) 3, 8, 13, 18 or 23 by class.
fn digits(n: usize, seed: u64) -> (Vec<u8>, Vec<u8>) {
    let mut rng = Lcg64(seed);
    let mut pixels = Vec::with_capacity(n * 28 * 28);
    let mut labels = Vec::with_capacity(n);
    for i in 0..n {
        let class = (i % 10) as u8;
        let mut image = [[0u8; 28]; 28];
        for row in image.iter_mut() {
            for p in row.iter_mut() {
                *p = rng.below(40) as u8;
            }
        }
        let at = 3 + 5 * (class as usize % 5);
        let len = 14 + rng.below(10) as usize;
        let start = rng.below((28 - len) as u64 + 1) as usize;
        for along in start..start + len {
            for across in at..at + 2 {
                let (row, column) = if class < 5 {
                    (across, along)
                } else {
                    (along, across)
                };
                image[row][column] = 180 + rng.below(76) as u8;
            }
        }
        pixels.extend(image.iter().flatten());
        labels.push(class);
    }
    (pixels, labels)
}

/// An IDX file of unsigned bytes: the magic number (0, 0, type 0x08, dimension count), the
/// dimensions as big-endian u32, then the values.
fn idx(dims: &[usize], values: &[u8]) -> Vec<u8> {
    let mut bytes = vec![0, 0, 0x08, dims.len() as u8];
    for &d in dims {
        bytes.extend((d as u32).to_be_bytes());
    }
    bytes.extend(values);
    bytes
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// Writes the four files into `dir`: train-* gzipped (`NAME.gz`), t10k-* unpacked (`NAME`).
fn write_data(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    let (x, y) = digits(TRAIN, 1);
    std::fs::write(
        dir.join("train-images-idx3-ubyte.gz"),
        gzip(&idx(&[TRAIN, 28, 28], &x)),
    )
    .unwrap();
    std::fs::write(
        dir.join("train-labels-idx1-ubyte.gz"),
        gzip(&idx(&[TRAIN], &y)),
    )
    .unwrap();
    let (x, y) = digits(TEST, 2);
    std::fs::write(dir.join("t10k-images-idx3-ubyte"), idx(&[TEST, 28, 28], &x)).unwrap();
    std::fs::write(dir.join("t10k-labels-idx1-ubyte"), idx(&[TEST], &y)).unwrap();
}

#[test]
fn the_fast_setting_learns_hand_made_digits_and_writes_the_run_folder() {
    let data = fresh_path("data");
    write_data(&data);
    let out = fresh_path("run");
    let result = ferrite()
        .args([
            "train",
            "mnist",
            "--fast",
            "--epochs",
            "2",
            "--verbose",
            "0",
        ])
        .arg("--data")
        .arg(&data)
        .arg("--out")
        .arg(&out)
        .output()
        .expect("run ferrite");
    let stdout = String::from_utf8_lossy(&result.stdout);
    assert!(
        result.status.success(),
        "ferrite train mnist failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&result.stderr)
    );
    // A tenth of the 500 training images, stratified, picks the best epoch.
    assert!(
        stdout.contains(
            "MNIST: 450 training, 50 validation images; 200 official test images; \
             Conv-BN-ReLU-Pool 32-64 test accuracy"
        ),
        "{stdout}"
    );
    // Every test image is counted once in the 10x10 confusion matrix, and once in
    // misclassified.csv when it is missed.
    let metrics = check_image_run(&out, TEST, 10);
    let accuracy = metrics["accuracy"].as_f64().unwrap();
    assert!(
        accuracy >= BAR,
        "test accuracy {accuracy} < {BAR}:\n{stdout}"
    );
    // 20 test images of each class.
    for row in metrics["confusion_matrix"].as_array().unwrap() {
        let row = row.as_array().unwrap();
        assert_eq!(row.len(), 10);
        assert_eq!(row.iter().map(|v| v.as_u64().unwrap()).sum::<u64>(), 20);
    }
    // The classes are the digits.
    let recall = metrics["recall_per_class"].as_object().unwrap();
    let names: Vec<&str> = recall.keys().map(String::as_str).collect();
    assert_eq!(names, ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]);
    // Two epochs, one line each.
    let history = std::fs::read_to_string(out.join("history.csv")).unwrap();
    assert_eq!(history.lines().count(), 1 + 2, "{history}");
    // model.json records the data set, its classes and the files, as found (.gz or not).
    let text = json(&out.join("model.json")).to_string();
    assert!(text.contains("\"idx images (MNIST)\""), "{text}");
    assert!(
        text.contains("train-images-idx3-ubyte.gz") && text.contains("t10k-labels-idx1-ubyte\""),
        "{text}"
    );
    assert!(text.contains("\"train_images\":500"), "{text}");
    // evaluate shows the recorded test metrics while the data files are unchanged...
    let evaluated = ferrite().arg("evaluate").arg(&out).output().unwrap();
    let shown = String::from_utf8_lossy(&evaluated.stdout);
    assert!(
        evaluated.status.success(),
        "{}",
        String::from_utf8_lossy(&evaluated.stderr)
    );
    let recorded: serde_json::Value = shown
        .find('{')
        .and_then(|at| serde_json::from_str(&shown[at..]).ok())
        .unwrap_or_else(|| panic!("no metrics in:\n{shown}"));
    assert_eq!(recorded, metrics);
    // ...and refuses once one of them has changed.
    let (x, y) = digits(TEST, 3);
    std::fs::write(
        data.join("t10k-images-idx3-ubyte"),
        idx(&[TEST, 28, 28], &x),
    )
    .unwrap();
    std::fs::write(data.join("t10k-labels-idx1-ubyte"), idx(&[TEST], &y)).unwrap();
    let refused = ferrite().arg("evaluate").arg(&out).output().unwrap();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("t10k-"), "{stderr}");
    let _ = std::fs::remove_dir_all(&out);
    let _ = std::fs::remove_dir_all(&data);
}

/// The four files and where to get them, as the missing-data error must give them.
fn assert_says_how_to_get_the_files(stderr: &str) {
    for needed in [
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "yann.lecun.com/exdb/mnist",
        "--data DIR",
    ] {
        assert!(stderr.contains(needed), "no {needed} in: {stderr}");
    }
}

#[test]
fn missing_files_name_the_four_files_where_to_get_them_and_the_data_option() {
    let out = fresh_path("missing-run");
    let result = ferrite()
        .args([
            "train",
            "mnist",
            "--fast",
            "--data",
            "/nonexistent/mnist",
            "--out",
        ])
        .arg(&out)
        .output()
        .expect("run ferrite");
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert_eq!(result.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("MNIST not found: the folder /nonexistent/mnist does not exist"),
        "{stderr}"
    );
    assert_says_how_to_get_the_files(&stderr);
    assert!(!out.exists(), "a failed run left a folder");

    // Without --data the folder is ~/.local/share/ferrite/mnist, named in the error.
    let home = temp_dir("home");
    let default = home.join(".local/share/ferrite/mnist");
    let run_default = || {
        let result = ferrite()
            .args(["train", "mnist", "--fast"])
            .env("HOME", &home)
            .env_remove("XDG_DATA_HOME")
            .output()
            .expect("run ferrite");
        assert_eq!(result.status.code(), Some(1));
        String::from_utf8_lossy(&result.stderr).into_owned()
    };
    let stderr = run_default();
    assert!(
        stderr.contains(&format!(
            "MNIST not found: the folder {} does not exist",
            default.display()
        )) && stderr.contains(&format!("into {}, the default folder", default.display())),
        "{stderr}"
    );
    assert_says_how_to_get_the_files(&stderr);
    // A default folder holding some of the files names those missing.
    write_data(&default);
    std::fs::remove_file(default.join("t10k-images-idx3-ubyte")).unwrap();
    let stderr = run_default();
    assert!(
        stderr.contains(&format!(
            "the folder {} has no t10k-images-idx3-ubyte.gz.",
            default.display()
        )),
        "{stderr}"
    );
    // $XDG_DATA_HOME, when set, holds the default folder instead.
    let xdg = home.join("xdg");
    let result = ferrite()
        .args(["train", "mnist", "--fast"])
        .env("HOME", &home)
        .env("XDG_DATA_HOME", &xdg)
        .output()
        .expect("run ferrite");
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(
        stderr.contains(&format!(
            "the folder {} does not exist",
            xdg.join("ferrite/mnist").display()
        )),
        "{stderr}"
    );
    // The files found are read: a label outside 0..9 is named with its position.
    let (x, mut y) = digits(TEST, 2);
    y[6] = 10;
    std::fs::write(
        default.join("t10k-images-idx3-ubyte"),
        idx(&[TEST, 28, 28], &x),
    )
    .unwrap();
    std::fs::write(default.join("t10k-labels-idx1-ubyte"), idx(&[TEST], &y)).unwrap();
    let stderr = run_default();
    assert!(
        stderr.contains(
            "t10k-labels-idx1-ubyte: label 10 at position 7 is not one of MNIST's classes 0..9"
        ),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&home);
}

#[test]
fn examples_lists_mnist_as_reading_its_data_from_a_folder() {
    let r = ferrite().arg("examples").output().unwrap();
    let text = String::from_utf8_lossy(&r.stdout);
    assert!(r.status.success());
    let line = text
        .lines()
        .find(|l| l.split_whitespace().next() == Some("mnist"))
        .unwrap_or_else(|| panic!("no mnist in:\n{text}"));
    assert!(
        line.contains("handwritten digits") && line.contains("--data DIR"),
        "{line}"
    );
    // Like fashion-mnist, it takes --data (other examples refuse it).
    let result = ferrite()
        .args(["train", "mnist", "--data", "/nonexistent/mnist"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(!stderr.contains("does not use --data"), "{stderr}");
}
