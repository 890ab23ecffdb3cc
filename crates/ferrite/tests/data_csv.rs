//! CSV loading on the shipped data sets (row and missing-value counts, label encoding,
//! scikit-learn SimpleImputer fill values) and on malformed files (errors naming the file,
//! line and column). Golden values: tools/golden_data.py.

use std::path::PathBuf;

use ferrite::data::{CsvOptions, DataLoader, MissingPolicy, TargetKind};
use ferrite::FerriteError;
use serde_json::Value;

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../data")
        .join(name)
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/data")
        .join(name)
}

fn golden() -> Value {
    serde_json::from_str(&std::fs::read_to_string(fixture("golden.json")).unwrap()).unwrap()
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * b.abs().max(1.0)
}

#[test]
fn breast_cancer_has_569_rows_30_features_and_encoded_diagnosis() {
    let g = &golden()["breast_cancer"];
    let table = CsvOptions::new()
        .target("diagnosis")
        .load(data("breast_cancer.csv"))
        .unwrap();
    assert_eq!(table.features.dims(), &[569, 30]);
    assert_eq!(
        table.feature_names.len(),
        g["features"].as_u64().unwrap() as usize
    );
    let enc = table.label_encoder.as_ref().unwrap();
    assert_eq!(enc.classes(), &["B".to_string(), "M".to_string()]);
    let y = table.targets.as_ref().unwrap();
    assert_eq!(y.sum().item() as u64, g["malignant"].as_u64().unwrap());
    let sum: f64 = table.features.to_vec().iter().map(|&v| v as f64).sum();
    assert!(
        close(sum, g["feature_sum"].as_f64().unwrap(), 1e-6),
        "{sum}"
    );
    // The same table batches through a loader: ceil(569 / 64) = 9 batches.
    let mut loader = DataLoader::new(table.dataset(), 64).unwrap().shuffle(0);
    assert_eq!(
        loader.iter().map(|(x, _)| x.dims()[0]).collect::<Vec<_>>(),
        [64, 64, 64, 64, 64, 64, 64, 64, 57]
    );
}

#[test]
fn iris_species_become_sorted_class_indices() {
    let table = CsvOptions::new()
        .target("species")
        .load(data("iris.csv"))
        .unwrap();
    assert_eq!(table.features.dims(), &[150, 4]);
    let classes = table.label_encoder.as_ref().unwrap().classes().to_vec();
    assert_eq!(classes, ["setosa", "versicolor", "virginica"]);
    let y = table.targets.unwrap().to_vec();
    for k in 0..3 {
        assert_eq!(y.iter().filter(|&&v| v == k as f32).count(), 50);
    }
    // Chosen features, in the order asked.
    let two = CsvOptions::new()
        .features(&["petal_width", "sepal_length"])
        .load(data("iris.csv"))
        .unwrap();
    assert_eq!(two.features.dims(), &[150, 2]);
    assert_eq!(two.features.to_vec2()[0], vec![0.2, 5.1]);
    assert!(two.targets.is_none());
}

#[test]
fn airquality_missing_values_are_counted_dropped_or_filled_like_sklearn() {
    let g = &golden()["airquality"];
    let path = data("airquality.csv");
    let refused = CsvOptions::new()
        .target("ozone")
        .load(&path)
        .unwrap_err()
        .to_string();
    // The first NA is ozone on line 6 (the 5th data row).
    assert!(
        refused.contains("airquality.csv:6") && refused.contains("\"ozone\""),
        "{refused}"
    );

    let dropped = CsvOptions::new()
        .target("ozone")
        .missing(MissingPolicy::DropRows)
        .load(&path)
        .unwrap();
    let missing: Vec<(String, usize)> = dropped.report.missing.clone();
    let count = |name: &str| missing.iter().find(|(c, _)| c == name).unwrap().1;
    assert_eq!((count("ozone"), count("solar_r")), (37, 7));
    assert_eq!(
        count("ozone") as u64,
        g["missing"]["ozone"].as_u64().unwrap()
    );
    assert_eq!(dropped.report.rows_read, 153);
    assert_eq!(dropped.features.dims(), &[111, 5]);
    assert_eq!(
        dropped.report.rows_kept as u64,
        g["complete_rows"].as_u64().unwrap()
    );
    assert_eq!(dropped.report.dropped_lines.len(), 42);
    assert!(
        dropped
            .report
            .to_string()
            .contains("153 rows read, 111 kept, 42 dropped"),
        "{}",
        dropped.report
    );

    for (policy, key) in [
        (MissingPolicy::FillMean, "fill_mean"),
        (MissingPolicy::FillMedian, "fill_median"),
    ] {
        let fit: Vec<usize> = g[key]["fit_rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        let t = CsvOptions::new()
            .target("ozone")
            .missing(policy)
            .fit_rows(&fit)
            .load(&path)
            .unwrap();
        // Rows without the target are dropped; the 5 solar_r gaps among the others are filled.
        assert_eq!(t.features.dims(), &[116, 5]);
        assert_eq!(t.report.filled[0], ("solar_r".to_string(), 5));
        let expected = g[key]["values"].as_array().unwrap();
        for (got, want) in t
            .imputer
            .as_ref()
            .unwrap()
            .fill_values()
            .iter()
            .zip(expected)
        {
            assert!(
                close(*got as f64, want.as_f64().unwrap(), 1e-6),
                "{key}: {got} vs {want}"
            );
        }
        let sum: f64 = t.features.to_vec().iter().map(|&v| v as f64).sum();
        assert!(
            close(sum, g[key]["filled_sum"].as_f64().unwrap(), 1e-6),
            "{key}: {sum}"
        );
    }
}

#[test]
fn gold_has_34_empty_prices() {
    let g = &golden()["gold"];
    let keep = CsvOptions::new()
        .target("price")
        .missing(MissingPolicy::Keep)
        .load(data("gold.csv"))
        .unwrap();
    let y = keep.targets.unwrap().to_vec();
    assert_eq!(y.len(), 1108);
    assert_eq!(
        y.iter().filter(|v| v.is_nan()).count() as u64,
        g["missing_price"].as_u64().unwrap()
    );
    let dropped = CsvOptions::new()
        .target("price")
        .missing(MissingPolicy::DropRows)
        .load(data("gold.csv"))
        .unwrap();
    assert_eq!(dropped.features.dims(), &[1108 - 34, 1]);
}

/// The error of loading fixture `name` with `opts`, checked to be a `Data` error at `line`.
fn data_error(opts: CsvOptions, name: &str, line: usize) -> String {
    match opts.load(fixture(name)) {
        Err(e @ FerriteError::Data { .. }) => {
            let msg = e.to_string();
            assert!(
                msg.contains(&format!("{name}:{line}:")),
                "expected {name}:{line} in {msg}"
            );
            msg
        }
        other => panic!("{name}: expected a Data error, got {other:?}"),
    }
}

#[test]
fn malformed_files_are_errors_naming_file_line_and_column() {
    let y = || CsvOptions::new().target("y");
    let msg = data_error(y(), "ragged.csv", 3);
    assert!(
        msg.contains("2 fields") && msg.contains("3 columns"),
        "{msg}"
    );
    let msg = data_error(y(), "text_in_numeric.csv", 3);
    assert!(
        msg.contains("column \"b\"") && msg.contains("\"abc\""),
        "{msg}"
    );
    let msg = data_error(y(), "empty.csv", 1);
    assert!(msg.contains("empty"), "{msg}");
    let msg = data_error(y(), "header_only.csv", 1);
    assert!(msg.contains("no data rows"), "{msg}");
    let msg = data_error(CsvOptions::new().target("label"), "ragged.csv", 1);
    assert!(
        msg.contains("no column named \"label\"") && msg.contains("a, b, y"),
        "{msg}"
    );
    let msg = data_error(y().features(&["a", "c"]), "text_in_numeric.csv", 1);
    assert!(msg.contains("\"c\""), "{msg}");
    let msg = data_error(y(), "invalid_utf8.csv", 3);
    assert!(
        msg.contains("column \"b\"") && msg.contains("UTF-8"),
        "{msg}"
    );
    let msg = data_error(y(), "overflow.csv", 4);
    assert!(
        msg.contains("column \"a\"") && msg.contains("overflows f32"),
        "{msg}"
    );
    let msg = data_error(y(), "duplicate_header.csv", 1);
    assert!(msg.contains("twice"), "{msg}");
    let msg = data_error(y().features(&["a", "y"]), "missing.csv", 1);
    assert!(msg.contains("both a feature and the target"), "{msg}");
    let msg = data_error(y(), "missing.csv", 3);
    assert!(
        msg.contains("column \"a\"") && msg.contains("missing value"),
        "{msg}"
    );
    let msg = data_error(y().target_kind(TargetKind::Numeric), "ragged.csv", 3);
    assert!(msg.contains("fields"), "{msg}");
    assert!(matches!(
        y().load(fixture("no_such_file.csv")),
        Err(FerriteError::Io { .. })
    ));
}

#[test]
fn each_missing_spelling_is_recognised_and_reported() {
    // missing.csv: NA (a, line 3), null (b, line 4), empty target (line 5), NaN (b, line 6).
    let t = CsvOptions::new()
        .target("y")
        .missing(MissingPolicy::DropRows)
        .load(fixture("missing.csv"))
        .unwrap();
    assert_eq!(t.report.dropped_lines, vec![3, 4, 5, 6]);
    assert_eq!(t.lines, vec![2, 7]);
    assert_eq!(
        t.report.missing,
        vec![
            ("a".to_string(), 1),
            ("b".to_string(), 2),
            ("y".to_string(), 1)
        ]
    );
    let filled = CsvOptions::new()
        .target("y")
        .missing(MissingPolicy::FillMedian)
        .load(fixture("missing.csv"))
        .unwrap();
    // Line 5 (no target) is dropped; a's median over 1, 4, 7, 8 is 5.5, b's over 2, 3, 9 is 3.
    assert_eq!(filled.report.dropped_lines, vec![5]);
    assert_eq!(filled.imputer.as_ref().unwrap().fill_values(), &[5.5, 3.0]);
    assert_eq!(filled.features.to_vec2()[1], vec![5.5, 3.0]);
}
