//! Every metric against scikit-learn 1.9 golden values (`tools/golden_sklearn.py`): an
//! imbalanced 4-class problem with a class never predicted, a label absent from the data, an
//! imbalanced binary problem, scores with ties, and regression with zero and constant targets.

use ferrite::metrics::*;
use serde_json::Value;

fn fixture() -> Value {
    let path = format!(
        "{}/tests/fixtures/sklearn_metrics.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).expect("fixture")).expect("valid JSON")
}

/// A JSON number, or the strings "nan", "inf", "-inf" the fixture script writes.
fn num(v: &Value) -> f64 {
    match v {
        Value::String(s) => s.parse().unwrap_or_else(|_| panic!("not a number: {s}")),
        other => other
            .as_f64()
            .unwrap_or_else(|| panic!("not a number: {other}")),
    }
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array().expect("array").iter().map(num).collect()
}

fn f32s(v: &Value) -> Vec<f32> {
    floats(v).into_iter().map(|x| x as f32).collect()
}

fn labels(v: &Value) -> Vec<usize> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_u64().expect("label") as usize)
        .collect()
}

/// Equal within 1e-9 relative, NaN equal to NaN, infinities equal.
fn same(a: f64, b: f64) -> bool {
    (a.is_nan() && b.is_nan())
        || a == b
        || (a - b).abs() <= 1e-9 * b.abs().max(1e-12)
        || (a - b).abs() < 1e-12
}

fn assert_all_same(what: &str, got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "{what}: {got:?} vs {want:?}");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!(
            same(g, w),
            "{what}[{i}]: got {g}, want {w} (all: {got:?} vs {want:?})"
        );
    }
}

fn check_classification_case(name: &str, case: &Value) {
    let (t, p) = (labels(&case["y_true"]), labels(&case["y_pred"]));
    let label_list = labels(&case["labels"]);
    let cm = confusion_matrix(&t, &p, Some(&label_list));
    let want_cm: Vec<Vec<usize>> = case["confusion_matrix"]
        .as_array()
        .unwrap()
        .iter()
        .map(labels)
        .collect();
    assert_eq!(cm.counts, want_cm, "{name}: confusion matrix");
    assert!(
        same(accuracy_score(&t, &p), num(&case["accuracy"])),
        "{name}: accuracy"
    );

    // Specificity per class (the fixture uses 0 for an undefined one).
    let per = precision_recall_fscore_support(&t, &p, 1.0, Some(&label_list), ZeroDivision::Zero);
    assert_all_same(
        &format!("{name} specificity"),
        &per.specificity,
        &floats(&case["specificity"]),
    );

    for (zd_name, zd) in [
        ("zero", ZeroDivision::Zero),
        ("one", ZeroDivision::One),
        ("nan", ZeroDivision::NaN),
    ] {
        for beta in [1.0, 0.5, 2.0] {
            let key = |avg: &str| format!("{zd_name}_{beta:.1}_{avg}");
            let g = &case["prf"][key("none")];
            let s = precision_recall_fscore_support(&t, &p, beta, Some(&label_list), zd);
            let what = format!("{name} {}", key("none"));
            assert_all_same(
                &format!("{what} precision"),
                &s.precision,
                &floats(&g["precision"]),
            );
            assert_all_same(&format!("{what} recall"), &s.recall, &floats(&g["recall"]));
            assert_all_same(&format!("{what} fscore"), &s.fscore, &floats(&g["fscore"]));
            assert_eq!(s.support, labels(&g["support"]), "{what} support");
            for (avg_name, avg) in [
                ("micro", Average::Micro),
                ("macro", Average::Macro),
                ("weighted", Average::Weighted),
            ] {
                let g = &case["prf"][key(avg_name)];
                let s = precision_recall_fscore(&t, &p, beta, Some(&label_list), avg, zd);
                let what = format!("{name} {}", key(avg_name));
                assert!(
                    same(s.precision, num(&g["precision"])),
                    "{what} precision {} vs {}",
                    s.precision,
                    g["precision"]
                );
                assert!(
                    same(s.recall, num(&g["recall"])),
                    "{what} recall {} vs {}",
                    s.recall,
                    g["recall"]
                );
                assert!(
                    same(s.fscore, num(&g["fscore"])),
                    "{what} fscore {} vs {}",
                    s.fscore,
                    g["fscore"]
                );
            }
        }
    }
}

#[test]
fn multiclass_scores_with_a_class_never_predicted_match_sklearn() {
    let f = fixture();
    check_classification_case("multiclass", &f["multiclass"]);
    check_classification_case("multiclass_extra_label", &f["multiclass_extra_label"]);
}

#[test]
fn imbalanced_binary_scores_match_sklearn() {
    let f = fixture();
    let case = &f["binary"];
    check_classification_case("binary", case);
    let (t, p) = (labels(&case["y_true"]), labels(&case["y_pred"]));
    // The binary average is the positive class's per-class score.
    let per = precision_recall_fscore_support(&t, &p, 1.0, None, ZeroDivision::Zero);
    let bin = Average::Binary { pos_label: 1 };
    assert!(same(
        precision_score(&t, &p, bin, ZeroDivision::Zero),
        per.precision[1]
    ));
    assert!(same(
        recall_score(&t, &p, bin, ZeroDivision::Zero),
        per.recall[1]
    ));
    assert!(same(
        f1_score(&t, &p, bin, ZeroDivision::Zero),
        per.fscore[1]
    ));
    // Specificity of class 1 = recall of class 0.
    assert!(same(
        specificity_score(&t, &p, bin, ZeroDivision::Zero),
        per.recall[0]
    ));
    let (tn, fp, fn_, tp) = confusion_matrix(&t, &p, None).binary_counts();
    assert_eq!((tn, fp, fn_, tp), (28, 4, 3, 5));
}

#[test]
fn classification_report_is_sklearns_text() {
    let f = fixture();
    for case in ["multiclass", "binary"] {
        let c = &f[case];
        let (t, p) = (labels(&c["y_true"]), labels(&c["y_pred"]));
        let names: Vec<String> = c["target_names"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let label_list = labels(&c["labels"]);
        let report = classification_report(
            &t,
            &p,
            Some(&label_list),
            Some(&names),
            2,
            ZeroDivision::Zero,
        );
        assert_eq!(report, c["report"].as_str().unwrap(), "{case}:\n{report}");
        let report4 = classification_report(&t, &p, Some(&label_list), None, 4, ZeroDivision::Zero);
        assert_eq!(
            report4,
            c["report_digits_4"].as_str().unwrap(),
            "{case}:\n{report4}"
        );
    }
    let c = &f["multiclass_extra_label"];
    let (t, p) = (labels(&c["y_true"]), labels(&c["y_pred"]));
    let report = classification_report(
        &t,
        &p,
        Some(&labels(&c["labels"])),
        None,
        2,
        ZeroDivision::Zero,
    );
    assert_eq!(
        report,
        c["report"].as_str().unwrap(),
        "extra label:\n{report}"
    );
}

#[test]
fn curves_with_tied_scores_match_sklearn() {
    let f = fixture();
    for name in ["curve", "curve_small"] {
        let c = &f[name];
        let (t, s) = (labels(&c["y_true"]), f32s(&c["y_score"]));
        for (key, drop) in [("roc", true), ("roc_all", false)] {
            let roc = roc_curve(&t, &s, drop);
            assert_all_same(
                &format!("{name} {key} fpr"),
                &roc.fpr,
                &floats(&c[key]["fpr"]),
            );
            assert_all_same(
                &format!("{name} {key} tpr"),
                &roc.tpr,
                &floats(&c[key]["tpr"]),
            );
            assert_all_same(
                &format!("{name} {key} thresholds"),
                &roc.thresholds,
                &floats(&c[key]["thresholds"]),
            );
        }
        assert!(
            same(roc_auc_score(&t, &s), num(&c["roc_auc"])),
            "{name} auc"
        );
        let pr = precision_recall_curve(&t, &s);
        assert_all_same(
            &format!("{name} pr precision"),
            &pr.precision,
            &floats(&c["pr"]["precision"]),
        );
        assert_all_same(
            &format!("{name} pr recall"),
            &pr.recall,
            &floats(&c["pr"]["recall"]),
        );
        assert_all_same(
            &format!("{name} pr thresholds"),
            &pr.thresholds,
            &floats(&c["pr"]["thresholds"]),
        );
        assert!(
            same(
                average_precision_score(&t, &s),
                num(&c["average_precision"])
            ),
            "{name} AP"
        );
        let ll = log_loss(&t, &s);
        assert!(
            (ll - num(&c["log_loss"])).abs() < 1e-7,
            "{name} log loss {ll} vs {}",
            c["log_loss"]
        );
    }
}

#[test]
fn multiclass_log_loss_clips_certain_wrong_predictions_like_sklearn() {
    let f = fixture();
    let c = &f["log_loss_multiclass"];
    let probs: Vec<f32> = c["proba"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(f32s)
        .collect();
    let ll = log_loss(&labels(&c["y_true"]), &probs);
    assert!(
        (ll - num(&c["log_loss"])).abs() < 1e-6,
        "{ll} vs {}",
        c["log_loss"]
    );
}

#[test]
fn regression_metrics_match_sklearn() {
    let f = fixture();
    for name in [
        "regression",
        "regression_constant_target",
        "regression_constant_exact",
    ] {
        let c = &f[name];
        let (t, p) = (f32s(&c["y_true"]), f32s(&c["y_pred"]));
        let checks = [
            ("mae", mean_absolute_error(&t, &p)),
            ("mse", mean_squared_error(&t, &p)),
            ("rmse", root_mean_squared_error(&t, &p)),
            ("mape", mean_absolute_percentage_error(&t, &p)),
            ("r2", r2_score(&t, &p)),
            ("explained_variance", explained_variance_score(&t, &p)),
        ];
        for (metric, got) in checks {
            assert!(
                same(got, num(&c[metric])),
                "{name} {metric}: got {got}, want {}",
                c[metric]
            );
        }
    }
}

#[test]
fn a_huge_label_is_shortened_in_the_classification_report() {
    // Once a panic: "Formatting argument out of range" for a 65,536-character column width.
    let long = "x".repeat(65_536);
    let report = classification_report(
        &[0, 1, 1, 0],
        &[0, 1, 0, 0],
        None,
        Some(&[long.as_str(), "short"]),
        1_000_000,
        ZeroDivision::Zero,
    );
    let first_row = report.lines().nth(2).unwrap();
    assert!(
        first_row.contains(&format!("{}…", "x".repeat(40))),
        "{first_row}"
    );
    assert!(report.lines().all(|l| l.chars().count() < 200), "{report}");
    // digits is capped at 17: 1.0 with 17 decimals.
    assert!(first_row.contains("0.66666666666666663"), "{first_row}");
}

#[test]
fn regression_metrics_of_targets_near_1e19_are_finite() {
    // (3a − 2b) · 1e19: squares near 1e38 overflow f32 but not the f64 the metrics use.
    let y: Vec<f32> = (0..50)
        .map(|i| (3.0 * (i as f32 / 50.0) - 2.0 * ((i % 7) as f32 / 7.0)) * 1e19)
        .collect();
    let pred: Vec<f32> = y.iter().map(|v| v * 1.01 + 1e17).collect();
    let mae = mean_absolute_error(&y, &pred);
    let mse = mean_squared_error(&y, &pred);
    let want_mae = y
        .iter()
        .zip(&pred)
        .map(|(&t, &p)| (t as f64 - p as f64).abs())
        .sum::<f64>()
        / 50.0;
    assert!((mae / want_mae - 1.0).abs() < 1e-12, "{mae} vs {want_mae}");
    assert!(mse.is_finite() && mse > 1e34, "{mse}");
    assert!((root_mean_squared_error(&y, &pred) - mse.sqrt()).abs() < 1e-3 * mse.sqrt());
    let r2 = r2_score(&y, &pred);
    assert!(r2.is_finite() && r2 > 0.99 && r2 < 1.0, "{r2}");
    assert!(mean_absolute_percentage_error(&y, &pred).is_finite());
}
