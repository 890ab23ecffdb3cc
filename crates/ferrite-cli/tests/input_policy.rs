//! The command line's input policy (issue: every input gets a clear answer): a diverged run
//! fails and saves nothing, run folders are never replaced by accident and never half
//! written, a closed pipe does not lose a run, options a mode ignores are refused, and a run
//! is scored on its held-out rows only while its data is unchanged.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Output, Stdio};

mod support;
use support::{data, entries, ferrite, json, stderr, temp_dir};

fn train_air_quality(out: &Path, extra: &[&str]) -> Output {
    ferrite()
        .arg("train")
        .arg("--csv")
        .arg(data("airquality.csv"))
        .args(["--target", "ozone", "--verbose", "0", "--out"])
        .arg(out)
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn a_diverged_run_fails_names_the_remedies_and_saves_nothing() {
    let dir = temp_dir("diverge");
    let out = dir.join("run");
    // Plain SGD at lr 10 on standardised features overflows within two epochs.
    let diverged = train_air_quality(
        &out,
        &["--optimizer", "sgd", "--lr", "10", "--epochs", "20"],
    );
    let text = stderr(&diverged);
    assert_eq!(diverged.status.code(), Some(1), "{text}");
    assert!(text.contains("training diverged at epoch"), "{text}");
    assert!(
        text.contains("--lr 1") && text.contains("--clip-grad-norm"),
        "{text}"
    );
    assert!(text.contains("No model was saved"), "{text}");
    assert!(entries(&dir).is_empty(), "left behind: {:?}", entries(&dir));
    // Clipping the gradients' norm is the remedy the message offers, and it works.
    let clipped = train_air_quality(
        &out,
        &[
            "--optimizer",
            "sgd",
            "--lr",
            "10",
            "--epochs",
            "20",
            "--clip-grad-norm",
            "1",
        ],
    );
    assert!(clipped.status.success(), "{}", stderr(&clipped));
    assert!(out.join("model.safetensors").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_existing_run_folder_is_replaced_only_with_overwrite() {
    let dir = temp_dir("overwrite");
    let out = dir.join("run");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(out.join("notes.txt"), "my earlier run").unwrap();
    let refused = train_air_quality(&out, &["--epochs", "1"]);
    let text = stderr(&refused);
    assert_eq!(refused.status.code(), Some(1), "{text}");
    assert!(
        text.contains("already exists") && text.contains("--overwrite"),
        "{text}"
    );
    assert!(
        out.join("notes.txt").exists(),
        "the earlier folder was touched"
    );
    let replaced = train_air_quality(&out, &["--epochs", "1", "--overwrite"]);
    assert!(replaced.status.success(), "{}", stderr(&replaced));
    // Replaced whole: nothing of the earlier folder is left beside the new run.
    assert!(!out.join("notes.txt").exists());
    assert!(out.join("model.json").exists());
    assert_eq!(entries(&dir), vec!["run"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_unwritable_destination_fails_before_training() {
    let dir = temp_dir("unwritable");
    // A file where the run's parent folder should be: no folder can be made there (this
    // holds for root too, unlike a read-only mode).
    std::fs::write(dir.join("file"), "").unwrap();
    let o = train_air_quality(&dir.join("file").join("run"), &["--epochs", "1"]);
    let text = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(
        text.contains("cannot create the folder") && text.contains("--out"),
        "{text}"
    );
    // Nothing was trained: the summary line training prints never came.
    assert!(
        o.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_closed_pipe_does_not_lose_the_run() {
    let dir = temp_dir("pipe");
    let out = dir.join("run");
    // `ferrite train iris --verbose 2 | head -1`: the reader leaves after one line.
    let mut child = ferrite()
        .args(["train", "iris", "--fast", "--verbose", "2", "--out"])
        .arg(&out)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with("Epoch 1/"), "{first}");
    // The read end is closed here; later lines meet a broken pipe.
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    for file in ["model.safetensors", "model.json", "metrics.json"] {
        assert!(out.join(file).exists(), "missing {file}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn options_a_mode_would_ignore_are_refused() {
    let o = ferrite()
        .args(["train", "iris", "--test-size", "0.3", "--model", "mlp:5"])
        .output()
        .unwrap();
    let text = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(
        text.contains("the built-in example iris does not use --model, --test-size"),
        "{text}"
    );
    assert!(text.contains("--csv FILE --target COLUMN"), "{text}");
    let o = ferrite()
        .arg("train")
        .arg("--csv")
        .arg(data("iris.csv"))
        .args(["--target", "species", "--size", "64"])
        .output()
        .unwrap();
    let text = stderr(&o);
    assert!(text.contains("--csv does not use --size"), "{text}");
}

#[test]
fn evaluate_refuses_changed_data_and_finds_it_from_any_folder() {
    let dir = temp_dir("fingerprint");
    let csv = dir.join("iris.csv");
    std::fs::copy(data("iris.csv"), &csv).unwrap();
    let out = dir.join("run");
    let trained = ferrite()
        .current_dir(&dir)
        .args([
            "train",
            "--csv",
            "iris.csv",
            "--target",
            "species",
            "--epochs",
            "2",
            "--verbose",
            "0",
            "--out",
            "run",
        ])
        .output()
        .unwrap();
    assert!(trained.status.success(), "{}", stderr(&trained));
    // The run recorded iris.csv relative to `dir`; evaluate from another folder finds it.
    let elsewhere = ferrite()
        .current_dir(std::env::temp_dir())
        .arg("evaluate")
        .arg(&out)
        .output()
        .unwrap();
    assert!(elsewhere.status.success(), "{}", stderr(&elsewhere));
    assert!(String::from_utf8_lossy(&elsewhere.stdout).contains("30 rows"));
    // Shuffled rows: same size, other contents. The held-out rows would be others now.
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    lines.swap(1, 150);
    std::fs::write(&csv, lines.join("\n") + "\n").unwrap();
    let changed = ferrite().arg("evaluate").arg(&out).output().unwrap();
    let text = stderr(&changed);
    assert_eq!(changed.status.code(), Some(1), "{text}");
    assert!(
        text.contains("has changed since training (same size, different contents)"),
        "{text}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A change made by hand to a model card.
type Edit = fn(&mut serde_json::Value);

#[test]
fn a_hand_edited_model_json_is_an_error_not_a_panic() {
    let dir = temp_dir("model-json");
    let out = dir.join("run");
    let trained = ferrite()
        .arg("train")
        .arg("--csv")
        .arg(data("iris.csv"))
        .args(["--target", "species", "--epochs", "1", "--verbose", "0"])
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(trained.status.success(), "{}", stderr(&trained));
    let card_path = out.join("model.json");
    let card = json(&card_path);
    let edits: [(&str, Edit, &str); 3] = [
        (
            "short scaler",
            |c| {
                c["preprocessing"]["scaler"]["mean"]
                    .as_array_mut()
                    .unwrap()
                    .truncate(2)
            },
            "2 scaler means for 4 feature columns",
        ),
        (
            "fewer classes than outputs",
            |c| {
                c["preprocessing"]["classes"]
                    .as_array_mut()
                    .unwrap()
                    .truncate(2)
            },
            "the network has 3 outputs but the task needs 2",
        ),
        (
            "zero scale",
            |c| c["preprocessing"]["scaler"]["scale"][0] = serde_json::json!(0.0),
            "a scale that is not positive",
        ),
    ];
    for (what, edit, expected) in edits {
        let mut edited = card.clone();
        edit(&mut edited);
        std::fs::write(&card_path, serde_json::to_string(&edited).unwrap()).unwrap();
        for command in ["evaluate", "predict"] {
            let o = ferrite()
                .arg(command)
                .arg(&out)
                .arg("--csv")
                .arg(data("iris.csv"))
                .output()
                .unwrap();
            let text = stderr(&o);
            assert_eq!(o.status.code(), Some(1), "{what}, {command}: {text}");
            assert!(
                text.contains("model.json") && text.contains(expected),
                "{what}, {command}: {text}"
            );
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_regression_test_split_of_one_row_is_refused() {
    let dir = temp_dir("one-row");
    let csv = dir.join("five.csv");
    std::fs::write(&csv, "x,y\n1,2.0\n2,4.1\n3,5.9\n4,8.2\n5,9.9\n").unwrap();
    let o = ferrite()
        .arg("train")
        .arg("--csv")
        .arg(&csv)
        .args(["--target", "y", "--task", "regression", "--verbose", "0"])
        .arg("--out")
        .arg(dir.join("run"))
        .output()
        .unwrap();
    let text = stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(
        text.contains("the test split has 1 row") && text.contains("--test-size"),
        "{text}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_stray_marker_in_a_numeric_target_is_an_error_until_declared() {
    let dir = temp_dir("na-values");
    let csv = dir.join("q.csv");
    let mut text = String::from("a,b,y\n");
    for i in 0..40 {
        let (a, b) = (i as f64 / 40.0, ((i * 7) % 40) as f64 / 40.0);
        let y = if i == 9 {
            "?".to_string()
        } else {
            format!("{:.3}", 3.0 * a - 2.0 * b)
        };
        text.push_str(&format!("{a},{b},{y}\n"));
    }
    std::fs::write(&csv, &text).unwrap();
    let train = |extra: &[&str], out: &str| {
        ferrite()
            .arg("train")
            .arg("--csv")
            .arg(&csv)
            .args(["--target", "y", "--epochs", "2", "--verbose", "0", "--out"])
            .arg(dir.join(out))
            .args(extra)
            .output()
            .unwrap()
    };
    // Once a silent switch to a 31-class classification.
    let refused = train(&[], "refused");
    let message = stderr(&refused);
    assert_eq!(refused.status.code(), Some(1), "{message}");
    assert!(
        message.contains(":11:")
            && message.contains("column 3 (\"y\")")
            && message.contains("\"?\"")
            && message.contains("--na-values"),
        "{message}"
    );
    let declared = train(&["--na-values", "?"], "declared");
    assert!(declared.status.success(), "{}", stderr(&declared));
    let summary = String::from_utf8_lossy(&declared.stdout);
    assert!(summary.contains("(Regression)"), "{summary}");
    // evaluate --csv reads a new file with the markers the run recorded.
    let evaluated = ferrite()
        .arg("evaluate")
        .arg(dir.join("declared"))
        .arg("--csv")
        .arg(&csv)
        .output()
        .unwrap();
    assert!(evaluated.status.success(), "{}", stderr(&evaluated));
    assert!(String::from_utf8_lossy(&evaluated.stdout).contains("39 rows"));
    std::fs::remove_dir_all(&dir).unwrap();
}
