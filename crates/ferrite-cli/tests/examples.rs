//! Runs every built-in example in its fast setting (`--fast`: fewer epochs) and checks the bar
//! each must reach, then `evaluate`, `predict` and the command line's handling of bad input.
//!
//! Bars (issue: the worked examples): breast-cancer MLP accuracy ≥ 0.95 and AUC ≥ 0.98;
//! air-quality mean MLP R2 ≥ 0.55 (2 seeds in the fast setting instead of 5); gold LSTM RMSE
//! within 15% of the naive forecast; iris ≥ 0.93; digits ≥ 0.95. defects in its fast setting
//! (6 and 4 epochs instead of 25 and 15) is held to scaled bars: LeNet-5 ≥ 0.70, the block
//! CNN ≥ 0.74 (the full setting reaches 0.78 and 0.82 against bars of 0.74 and 0.80).

use std::path::{Path, PathBuf};

mod support;
use support::{data, ferrite, fresh_path, is_png, json, metric};

/// Runs `ferrite train EXAMPLE --fast` into a fresh folder and returns its metrics.json.
fn train_example(name: &str) -> (PathBuf, serde_json::Value) {
    train_example_on(name, "cpu")
}

/// Runs `ferrite train EXAMPLE --fast --device DEVICE` into a fresh folder and returns its
/// metrics.json.
fn train_example_on(name: &str, device: &str) -> (PathBuf, serde_json::Value) {
    let out = fresh_path(&format!("{name}-{}", device.replace(':', "-")));
    let result = ferrite()
        .args([
            "train",
            name,
            "--fast",
            "--verbose",
            "0",
            "--device",
            device,
            "--out",
        ])
        .arg(&out)
        .output()
        .expect("run ferrite");
    assert!(
        result.status.success(),
        "ferrite train {name} failed:\n{}\n{}",
        String::from_utf8_lossy(&result.stdout),
        String::from_utf8_lossy(&result.stderr)
    );
    for file in ["model.safetensors", "model.json", "metrics.json"] {
        assert!(out.join(file).exists(), "{name}: missing {file}");
    }
    let metrics = json(&out.join("metrics.json"));
    (out, metrics)
}

#[test]
fn breast_cancer_reaches_its_bar_and_its_model_can_be_evaluated() {
    let (out, m) = train_example("breast-cancer");
    assert!(metric(&m, "accuracy") >= 0.95, "MLP accuracy {m}");
    assert!(metric(&m, "roc_auc") >= 0.98, "MLP AUC {m}");
    assert!(
        metric(&m["logistic_regression"], "accuracy") >= 0.95,
        "logistic regression {m}"
    );
    for plot in ["roc.png", "training_curves.png", "confusion_matrix.png"] {
        assert!(is_png(&out.join(plot)), "{plot}");
    }
    assert!(out.join("history.csv").exists());
    // evaluate on the held-out split reproduces the recorded accuracy.
    let eval = ferrite().arg("evaluate").arg(&out).output().unwrap();
    assert!(
        eval.status.success(),
        "{}",
        String::from_utf8_lossy(&eval.stderr)
    );
    let text = String::from_utf8_lossy(&eval.stdout);
    assert!(
        text.contains(&format!("{:.4}", metric(&m, "accuracy"))),
        "{text}"
    );
    // predict writes one labelled row per input row.
    let pred = out.join("predictions.csv");
    let p = ferrite()
        .arg("predict")
        .arg(&out)
        .arg("--csv")
        .arg(data("breast_cancer.csv"))
        .arg("--out")
        .arg(&pred)
        .output()
        .unwrap();
    assert!(p.status.success(), "{}", String::from_utf8_lossy(&p.stderr));
    let rows: Vec<String> = std::fs::read_to_string(&pred)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(rows[0], "diagnosis,p_B,p_M");
    assert_eq!(rows.len(), 570);
    let truth: Vec<String> = std::fs::read_to_string(data("breast_cancer.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.rsplit(',').next().unwrap().to_string())
        .collect();
    let correct = rows[1..]
        .iter()
        .zip(&truth)
        .filter(|(r, t)| r.split(',').next() == Some(t.as_str()))
        .count();
    assert!(
        correct as f64 / 569.0 > 0.95,
        "{correct} of 569 predictions right"
    );
    let _ = std::fs::remove_dir_all(out);
}

#[test]
fn air_quality_mlp_reaches_r2_bar() {
    let (out, m) = train_example("air-quality");
    assert!(metric(&m, "mlp_mean_r2") >= 0.55, "{m}");
    // Least squares and gradient descent agree (standardised features).
    let ls = m["least_squares_coef"].as_array().unwrap();
    let gd = m["gradient_descent_coef"].as_array().unwrap();
    for (a, b) in ls.iter().zip(gd) {
        let (a, b) = (a.as_f64().unwrap(), b.as_f64().unwrap());
        assert!((a - b).abs() <= 1e-2 * a.abs().max(1.0), "{a} vs {b}");
    }
    assert!(is_png(&out.join("true_vs_predicted.png")));
    let _ = std::fs::remove_dir_all(out);
}

#[test]
fn gold_lstm_is_within_15_percent_of_the_naive_forecast() {
    let (out, m) = train_example("gold");
    assert!(metric(&m, "rmse_ratio_to_naive") <= 1.15, "{m}");
    // evaluate rebuilds the test period and reproduces the recorded RMSE.
    let eval = ferrite().arg("evaluate").arg(&out).output().unwrap();
    let text = String::from_utf8_lossy(&eval.stdout);
    assert!(
        eval.status.success(),
        "{}",
        String::from_utf8_lossy(&eval.stderr)
    );
    assert!(
        text.contains(&format!("RMSE {:>7.3}", metric(&m, "rmse"))),
        "{text}\n{m}"
    );
    assert!(is_png(&out.join("forecast.png")) && is_png(&out.join("rolling_forecast.png")));
    let _ = std::fs::remove_dir_all(out);
}

/// The digits CNN (convolutions, batch norm, pooling, a linear head, cross-entropy, Adam)
/// trains on the first wgpu adapter (in CI, Mesa's software Vulkan) to the same bar, and the
/// run folder it writes evaluates on the CPU to the accuracy it recorded.
#[test]
fn digits_trains_on_the_wgpu_device_to_its_bar() {
    let (out, m) = train_example_on("digits", "wgpu");
    assert!(metric(&m, "accuracy") >= 0.95, "digits on wgpu {m}");
    let eval = ferrite().arg("evaluate").arg(&out).output().unwrap();
    let text = String::from_utf8_lossy(&eval.stdout);
    assert!(
        eval.status.success(),
        "{}",
        String::from_utf8_lossy(&eval.stderr)
    );
    let expected = format!(
        "360 held-out images; accuracy {:.4}",
        metric(&m, "accuracy")
    );
    assert!(text.contains(&expected), "{text}");
    let _ = std::fs::remove_dir_all(out);
}

#[test]
fn a_missing_or_unknown_device_is_a_clear_error() {
    // With the Metal API forced on Linux, wgpu finds no adapter.
    let run = ferrite()
        .args(["train", "iris", "--device", "wgpu"])
        .env("WGPU_BACKEND", "metal")
        .output()
        .unwrap();
    assert!(!run.status.success());
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(
        err.contains("no GPU adapter") && err.contains("mesa-vulkan-drivers"),
        "{err}"
    );
    let run = ferrite()
        .args(["train", "iris", "--device", "tpu"])
        .output()
        .unwrap();
    assert!(!run.status.success());
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(err.contains("unknown device `tpu`"), "{err}");
    let list = ferrite().arg("devices").output().unwrap();
    assert!(list.status.success());
    assert!(String::from_utf8_lossy(&list.stdout).starts_with("cpu"));
}

#[test]
fn iris_and_digits_reach_their_bars() {
    let (out, m) = train_example("iris");
    assert!(metric(&m, "accuracy") >= 0.93, "iris {m}");
    let _ = std::fs::remove_dir_all(out);
    let (out, m) = train_example("digits");
    assert!(metric(&m, "accuracy") >= 0.95, "digits {m}");
    // evaluate reloads the held-out images and reproduces the recorded accuracy.
    let eval = ferrite().arg("evaluate").arg(&out).output().unwrap();
    let text = String::from_utf8_lossy(&eval.stdout);
    assert!(
        eval.status.success(),
        "{}",
        String::from_utf8_lossy(&eval.stderr)
    );
    let expected = format!(
        "360 held-out images; accuracy {:.4}",
        metric(&m, "accuracy")
    );
    assert!(text.contains(&expected), "{text}");
    // predict reads pixel rows (the label column, if there, is ignored): one line per row,
    // and the predicted digits agree with the labels as a trained model's do.
    let pred = out.join("predictions.csv");
    let run = ferrite()
        .arg("predict")
        .arg(&out)
        .arg("--csv")
        .arg(data("digits.csv"))
        .arg("--out")
        .arg(&pred)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let lines: Vec<String> = std::fs::read_to_string(&pred)
        .unwrap()
        .lines()
        .map(String::from)
        .collect();
    assert!(
        lines[0].starts_with("image,predicted,p_0,p_1"),
        "{}",
        lines[0]
    );
    let labels: Vec<String> = std::fs::read_to_string(data("digits.csv"))
        .unwrap()
        .lines()
        .skip(1)
        .map(|l| l.rsplit(',').next().unwrap_or("").to_string())
        .collect();
    assert_eq!(lines.len(), 1 + labels.len());
    let right = lines[1..]
        .iter()
        .zip(&labels)
        .filter(|(l, y)| l.split(',').nth(1) == Some(y.as_str()))
        .count();
    assert!(right as f64 >= 0.95 * labels.len() as f64, "{right} right");
    let _ = std::fs::remove_dir_all(out);
}

#[test]
fn defects_networks_reach_scaled_bars() {
    let (out, m) = train_example("defects");
    assert!(metric(&m, "lenet5_accuracy") >= 0.70, "{m}");
    assert!(metric(&m, "blocks_accuracy") >= 0.74, "{m}");
    assert!(is_png(&out.join("lenet_conv1_maps.png")) && is_png(&out.join("lenet_conv1_sum.png")));
    // predict reads a folder of image files: one line per image, with class probabilities,
    // agreeing with the labels (defect probability at least 0.5) as the model does.
    let pred = out.join("predictions.csv");
    let run = ferrite()
        .arg("predict")
        .arg(&out)
        .arg("--images")
        .arg(data("elpv64/images"))
        .arg("--out")
        .arg(&pred)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let text = std::fs::read_to_string(&pred).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some("image,predicted,p_functional,p_defective")
    );
    let defective: std::collections::HashMap<String, bool> =
        std::fs::read_to_string(data("elpv64/labels.csv"))
            .unwrap()
            .lines()
            .skip(1)
            .filter_map(|l| {
                let cells: Vec<&str> = l.split(',').collect();
                let p: f64 = cells.get(1)?.parse().ok()?;
                Some((cells[0].to_string(), p >= 0.5))
            })
            .collect();
    let (mut rows, mut right) = (0, 0);
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        let name = Path::new(cells[0]).file_name().unwrap().to_string_lossy();
        let p: f64 = cells[3].parse().unwrap();
        assert!((cells[2].parse::<f64>().unwrap() + p - 1.0).abs() < 1e-4);
        assert_eq!(cells[1] == "defective", p > 0.5, "{line}");
        rows += 1;
        right += usize::from((cells[1] == "defective") == defective[&*name]);
    }
    assert_eq!(rows, 2624);
    assert!(
        right as f64 >= 0.70 * rows as f64,
        "{right} of {rows} right"
    );
    // The wrong kind of input for this model is one clear line and a non-zero exit.
    let wrong = ferrite()
        .arg("predict")
        .arg(&out)
        .arg("--csv")
        .arg(data("digits.csv"))
        .output()
        .unwrap();
    assert!(!wrong.status.success());
    let err = String::from_utf8_lossy(&wrong.stderr);
    assert!(err.contains("needs --images"), "{err}");
    let _ = std::fs::remove_dir_all(out);
}

#[test]
fn custom_csv_training_then_evaluate_and_predict() {
    let out = fresh_path("csv");
    let t = ferrite()
        .args(["train", "--csv"])
        .arg(data("airquality.csv"))
        .args([
            "--target",
            "ozone",
            "--model",
            "linear",
            "--verbose",
            "0",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(t.status.success(), "{}", String::from_utf8_lossy(&t.stderr));
    let e = ferrite()
        .arg("evaluate")
        .arg(&out)
        .arg("--csv")
        .arg(data("airquality.csv"))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&e.stdout);
    assert!(
        e.status.success() && text.contains("116 rows") && !text.contains("NaN"),
        "{text}"
    );
    let p = ferrite()
        .arg("predict")
        .arg(&out)
        .arg("--csv")
        .arg(data("airquality.csv"))
        .output()
        .unwrap();
    let lines: Vec<String> = String::from_utf8_lossy(&p.stdout)
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(lines.len(), 154);
    assert!(
        lines[1..]
            .iter()
            .all(|l| l.parse::<f32>().is_ok_and(f32::is_finite)),
        "{:?}",
        &lines[..3]
    );
    let _ = std::fs::remove_dir_all(out);
}

#[test]
fn bad_input_gives_one_clear_line_and_a_non_zero_exit() {
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["train".into(), "nope".into()],
            "unknown example 'nope'",
        ),
        (
            vec![
                "train".into(),
                "--csv".into(),
                "/no/such.csv".into(),
                "--target".into(),
                "y".into(),
            ],
            "/no/such.csv",
        ),
        (
            vec![
                "train".into(),
                "--csv".into(),
                data("iris.csv").display().to_string(),
                "--target".into(),
                "colour".into(),
            ],
            "no column named \"colour\"",
        ),
        (
            vec![
                "train".into(),
                "--csv".into(),
                data("iris.csv").display().to_string(),
                "--target".into(),
                "species".into(),
                "--model".into(),
                "mlp:4,x".into(),
            ],
            "not a positive layer width",
        ),
        (
            vec!["evaluate".into(), "/".into()],
            "not a Ferrite run folder",
        ),
        (
            vec!["bench".into(), "no_such_workload".into()],
            "unknown workload",
        ),
    ];
    for (args, expected) in cases {
        let r = ferrite().args(&args).output().unwrap();
        let err = String::from_utf8_lossy(&r.stderr);
        assert!(!r.status.success(), "{args:?} succeeded");
        assert!(err.contains(expected), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
    }
}

#[test]
fn explain_backprop_prints_the_course_numbers() {
    let r = ferrite().args(["explain", "backprop"]).output().unwrap();
    let text = String::from_utf8_lossy(&r.stdout);
    assert!(r.status.success());
    for expected in ["0.298371109", "0.35891648", "0.149780716"] {
        assert!(text.contains(expected), "missing {expected} in\n{text}");
    }
}

#[test]
fn examples_lists_every_example() {
    let r = ferrite().arg("examples").output().unwrap();
    let text = String::from_utf8_lossy(&r.stdout);
    for name in [
        "breast-cancer",
        "air-quality",
        "defects",
        "gold",
        "iris",
        "digits",
    ] {
        assert!(text.lines().any(|l| l.starts_with(name)), "{text}");
    }
}

#[test]
fn verbose_one_without_a_terminal_writes_a_line_per_epoch() {
    // The test harness pipes standard error, so there is no terminal for a bar.
    let out = fresh_path("verbose1");
    let run = ferrite()
        .args([
            "train",
            "iris",
            "--fast",
            "--epochs",
            "3",
            "--verbose",
            "1",
            "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let err = String::from_utf8_lossy(&run.stderr);
    for e in 1..=3 {
        assert!(err.contains(&format!("Epoch {e}/3 - ")), "{err}");
    }
    assert!(err.contains("val_loss: "), "{err}");
    let _ = std::fs::remove_dir_all(out);
}
