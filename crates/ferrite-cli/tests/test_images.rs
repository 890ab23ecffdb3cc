//! Separate test folders (`train --images DIR --test-images DIR2`), scoring a trained image
//! model on any class folder (`evaluate RUN --images DIR`), and the grid of misclassified
//! test images (misclassified.png) in the run folder.
//!
//! The image folders are made here: 8x8 grayscale PNGs of two classes, `dark` (levels about
//! 50) and `light` (about 200), written by a small PNG encoder so that the test needs no
//! image library.

use std::path::Path;
use std::process::Output;

mod support;
use support::{
    confusion_missed as missed, data, ferrite, json, png_size, stderr, stdout, temp_dir,
    write_class,
};

/// `ferrite train --images DIR ... --out OUT` on 8x8 images, a few epochs.
fn train(dir: &Path, out: &Path, extra: &[&str]) -> Output {
    ferrite()
        .arg("train")
        .arg("--images")
        .arg(dir)
        .args([
            "--size",
            "8",
            "--epochs",
            "6",
            "--batch-size",
            "8",
            "--verbose",
            "0",
        ])
        .args(extra)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap()
}

fn evaluate(run: &Path, extra: &[&std::ffi::OsStr]) -> Output {
    ferrite()
        .arg("evaluate")
        .arg(run)
        .args(extra)
        .output()
        .unwrap()
}

/// The size the grid of `missed` misclassified images has: 6 to a row (3 at least), 200 × 164
/// pixels each, 40 for the title.
fn grid_size(missed: usize) -> (u32, u32) {
    let columns = missed.clamp(3, 6);
    let rows = missed.div_ceil(columns).max(1);
    (200 * columns as u32, 40 + 164 * rows as u32)
}

#[test]
fn a_separate_test_folder_is_scored_recorded_and_re_scored_by_evaluate() {
    let root = temp_dir("separate");
    let (train_dir, test_dir, light_only) =
        (root.join("train"), root.join("test"), root.join("light"));
    write_class(&train_dir, "dark", 12, 1);
    write_class(&train_dir, "light", 12, 2);
    write_class(&test_dir, "dark", 4, 3);
    write_class(&test_dir, "light", 4, 4);
    write_class(&light_only, "light", 5, 5);
    let out = root.join("run");
    let trained = train(
        &train_dir,
        &out,
        &["--test-images", test_dir.to_str().unwrap()],
    );
    let text = stdout(&trained);
    assert!(trained.status.success(), "{text}\n{}", stderr(&trained));
    // All 24 images of the training folder are for training and validation (no test split
    // is cut from them); the 8 of the test folder are the test set.
    assert!(
        text.contains(&format!(
            "24 images for training and validation, 2 classes; 8 test images in {}",
            test_dir.display()
        )),
        "{text}"
    );
    let metrics = json(&out.join("metrics.json"));
    assert_eq!(metrics["test_images"], 8);
    let cm = &metrics["confusion_matrix"];
    let counted: u64 = cm
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r.as_array().unwrap())
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(counted, 8);
    // Four dark and four light test images, in the model's class order.
    let row_sums: Vec<u64> = cm
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap())
                .sum()
        })
        .collect();
    assert_eq!(row_sums, vec![4, 4]);
    let accuracy = metrics["accuracy"].as_f64().unwrap();
    assert!(
        (accuracy - (8 - missed(cm)) as f64 / 8.0).abs() < 1e-12,
        "{metrics}"
    );
    // Dark against light is learnt in a few epochs.
    assert!(accuracy >= 0.75, "test accuracy {accuracy}: {metrics}");
    // The run records the test folder, and fingerprints it with the training folder.
    let card = json(&out.join("model.json"));
    let pre = &card["preprocessing"];
    assert_eq!(pre["test_folder"], test_dir.to_str().unwrap(), "{pre}");
    assert_eq!(pre["test_rows"], serde_json::json!([]));
    assert_eq!(pre["classes"], serde_json::json!(["dark", "light"]));
    let files: Vec<u64> = card["extra"]["data_files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["files"].as_u64().unwrap())
        .collect();
    assert_eq!(files, vec![24, 8]);
    // The misclassified test images are drawn (a note when there are none).
    assert_eq!(
        png_size(&out.join("misclassified.png")),
        grid_size(missed(cm))
    );

    // evaluate re-scores the recorded test folder, from any working directory.
    let again = ferrite()
        .arg("evaluate")
        .arg(&out)
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap();
    assert!(again.status.success(), "{}", stderr(&again));
    let shown = format!(
        "8 test images in {}; accuracy {accuracy:.4}",
        test_dir.display()
    );
    assert!(stdout(&again).contains(&shown), "{}", stdout(&again));
    // evaluate --images scores any class folder the same way ...
    let same = evaluate(&out, &["--images".as_ref(), test_dir.as_os_str()]);
    assert!(same.status.success(), "{}", stderr(&same));
    let shown = format!("8 images in {}; accuracy {accuracy:.4}", test_dir.display());
    assert!(stdout(&same).contains(&shown), "{}", stdout(&same));
    // ... one with only some of the classes too: its images are counted in their class's row.
    let light = evaluate(&out, &["--images".as_ref(), light_only.as_os_str()]);
    let text = stdout(&light);
    assert!(light.status.success(), "{}", stderr(&light));
    assert!(
        text.contains(&format!("5 images in {}; accuracy", light_only.display())),
        "{text}"
    );
    assert!(
        text.contains("confusion matrix (rows: true, columns: predicted; dark, light):"),
        "{text}"
    );
    let rows: Vec<Vec<u64>> = text
        .lines()
        .skip_while(|l| !l.starts_with("confusion matrix"))
        .skip(1)
        .map(|l| l.split_whitespace().map(|v| v.parse().unwrap()).collect())
        .collect();
    assert_eq!(rows.len(), 2, "{text}");
    assert_eq!(rows[0], vec![0, 0], "no dark images: {text}");
    assert_eq!(rows[1].iter().sum::<u64>(), 5, "{text}");

    // Once the test folder changes, evaluate no longer re-scores it as the run's test set;
    // scoring it as a new folder still works.
    write_class(&test_dir, "light", 5, 6);
    let changed = evaluate(&out, &[]);
    assert_eq!(changed.status.code(), Some(1));
    assert!(
        stderr(&changed).contains("has changed since training (8 files then, 9 now)"),
        "{}",
        stderr(&changed)
    );
    let new = evaluate(&out, &["--images".as_ref(), test_dir.as_os_str()]);
    assert!(new.status.success(), "{}", stderr(&new));
    assert!(stdout(&new).contains("9 images in"), "{}", stdout(&new));
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn test_folder_classes_must_be_known_and_a_missing_class_is_fine() {
    let root = temp_dir("classes");
    let train_dir = root.join("train");
    write_class(&train_dir, "dark", 10, 7);
    write_class(&train_dir, "light", 10, 8);
    let (light_only, zebra) = (root.join("light"), root.join("zebra"));
    write_class(&light_only, "light", 3, 9);
    write_class(&zebra, "light", 3, 10);
    write_class(&zebra, "zebra", 2, 11);
    // A class the model will not know is refused before training, naming the folder.
    let out = root.join("run-zebra");
    let refused = train(
        &train_dir,
        &out,
        &["--test-images", zebra.to_str().unwrap()],
    );
    let text = stderr(&refused);
    assert_eq!(refused.status.code(), Some(1), "{text}");
    assert!(
        text.contains(&format!(
            "the class folder(s) {} are not classes of the model, which knows dark, light",
            zebra.join("zebra").display()
        )),
        "{text}"
    );
    assert!(!out.exists(), "a refused run left {}", out.display());
    // So is it for evaluate --images.
    let out = root.join("run");
    let trained = train(
        &train_dir,
        &out,
        &["--test-images", light_only.to_str().unwrap()],
    );
    assert!(trained.status.success(), "{}", stderr(&trained));
    assert!(
        stdout(&trained)
            .contains("20 images for training and validation, 2 classes; 3 test images"),
        "{}",
        stdout(&trained)
    );
    let metrics = json(&out.join("metrics.json"));
    assert_eq!(metrics["test_images"], 3);
    assert_eq!(metrics["confusion_matrix"][0], serde_json::json!([0, 0]));
    let refused = evaluate(&out, &["--images".as_ref(), zebra.as_os_str()]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stderr(&refused).contains(&format!("{}: the class folder(s)", zebra.display())),
        "{}",
        stderr(&refused)
    );
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn a_run_with_a_test_split_draws_its_misclassified_test_images() {
    let root = temp_dir("split");
    let dir = root.join("images");
    write_class(&dir, "dark", 10, 12);
    write_class(&dir, "light", 10, 13);
    let out = root.join("run");
    let trained = train(&dir, &out, &["--test-size", "0.25"]);
    assert!(trained.status.success(), "{}", stderr(&trained));
    let metrics = json(&out.join("metrics.json"));
    // A stratified quarter of 20 images: 5 test images.
    assert_eq!(metrics["test_images"], 5);
    let missed = missed(&metrics["confusion_matrix"]);
    assert_eq!(png_size(&out.join("misclassified.png")), grid_size(missed));
    let card = json(&out.join("model.json"));
    assert!(card["preprocessing"].get("test_folder").is_none());
    assert_eq!(
        card["preprocessing"]["test_rows"].as_array().unwrap().len(),
        5
    );
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn options_the_mode_would_ignore_are_refused() {
    let root = temp_dir("refused");
    let cases: [(&[&str], &str); 3] = [
        (
            &["--images", "x", "--test-images", "y", "--test-size", "0.3"],
            "--images with --test-images does not use --test-size",
        ),
        (
            &["--csv", "x.csv", "--target", "y", "--test-images", "y"],
            "--csv does not use --test-images",
        ),
        (
            &["iris", "--test-images", "y"],
            "the built-in example iris does not use --test-images",
        ),
    ];
    for (args, message) in cases {
        let o = ferrite()
            .arg("train")
            .args(args)
            .arg("--out")
            .arg(root.join("run"))
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(message), "{args:?}: {}", stderr(&o));
    }
    assert!(!root.join("run").exists());
    std::fs::remove_dir_all(&root).unwrap();
}

#[test]
fn evaluate_images_refuses_runs_that_do_not_read_image_folders() {
    let root = temp_dir("table");
    let out = root.join("run");
    let data = data("iris.csv");
    let trained = ferrite()
        .arg("train")
        .arg("--csv")
        .arg(&data)
        .args([
            "--target",
            "species",
            "--epochs",
            "1",
            "--verbose",
            "0",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(trained.status.success(), "{}", stderr(&trained));
    let refused = evaluate(&out, &["--images".as_ref(), root.as_os_str()]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        stderr(&refused).contains(
            "evaluate --images scores image models; this run's model reads a table: use \
             `ferrite evaluate RUN --csv FILE`"
        ),
        "{}",
        stderr(&refused)
    );
    // --images and --csv are one or the other.
    let both = evaluate(
        &out,
        &[
            "--images".as_ref(),
            root.as_os_str(),
            "--csv".as_ref(),
            data.as_os_str(),
        ],
    );
    assert_eq!(both.status.code(), Some(2));
    assert!(
        stderr(&both).contains("cannot be used with"),
        "{}",
        stderr(&both)
    );
    std::fs::remove_dir_all(&root).unwrap();
}
