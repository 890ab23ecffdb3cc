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
        msg.contains("column 2 (\"b\")")
            && msg.contains("\"abc\"")
            && msg.contains("--na-values 'abc'"),
        "{msg}"
    );
    let msg = data_error(y(), "empty.csv", 1);
    assert!(msg.contains("empty"), "{msg}");
    let msg = data_error(y(), "header_only.csv", 1);
    assert!(msg.contains("no data rows"), "{msg}");
    let msg = data_error(CsvOptions::new().target("label"), "ragged.csv", 1);
    assert!(
        msg.contains("no column named \"label\"") && msg.contains("\"a\", \"b\", \"y\""),
        "{msg}"
    );
    let msg = data_error(y().features(&["a", "c"]), "text_in_numeric.csv", 1);
    assert!(msg.contains("\"c\""), "{msg}");
    let msg = data_error(y(), "invalid_utf8.csv", 3);
    assert!(
        msg.contains("column 2 (\"b\")") && msg.contains("UTF-8"),
        "{msg}"
    );
    let msg = data_error(y(), "overflow.csv", 4);
    assert!(
        msg.contains("column 1 (\"a\")") && msg.contains("overflows f32"),
        "{msg}"
    );
    let msg = data_error(y(), "duplicate_header.csv", 1);
    assert!(
        msg.contains("column 2 (\"a\")") && msg.contains("already used by column 1"),
        "{msg}"
    );
    let msg = data_error(y().features(&["a", "y"]), "missing.csv", 1);
    assert!(
        msg.contains("column 3 (\"y\") is chosen as both a feature and the target"),
        "{msg}"
    );
    let msg = data_error(y(), "missing.csv", 3);
    assert!(
        msg.contains("column 1 (\"a\")") && msg.contains("missing value"),
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

/// Writes `text` to a fresh file `name` under the test's temporary folder.
fn temp_csv(name: &str, text: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ferrite_data_csv_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// 30 rows of y = 3a − 2b, with `?` as the target of the 8th data row (file line 9).
fn regression_with_a_question_mark() -> String {
    let mut text = String::from("a,b,y\n");
    for i in 0..30 {
        let (a, b) = (i as f32 * 0.5, (i % 7) as f32);
        let y = if i == 7 {
            "?".to_string()
        } else {
            format!("{}", 3.0 * a - 2.0 * b)
        };
        text += &format!("{a},{b},{y}\n");
    }
    text
}

#[test]
fn a_marker_in_a_numeric_target_is_an_error_unless_declared_missing() {
    // Once read as text labels: a regression silently became a 29-class classification.
    let path = temp_csv(
        "question_mark.csv",
        regression_with_a_question_mark().as_bytes(),
    );
    let err = CsvOptions::new()
        .target("y")
        .missing(MissingPolicy::Keep)
        .load(&path)
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(err, FerriteError::Data { line: 9, .. }),
        "expected line 9: {msg}"
    );
    for part in [
        "question_mark.csv:9:",
        "column 3 (\"y\")",
        "\"?\"",
        "29 of the 30 values",
        "--na-values '?'",
        "CsvOptions::na_values(&[\"?\"])",
    ] {
        assert!(msg.contains(part), "{part:?} not in {msg}");
    }
    // Declared, the row's target is missing and the column stays numeric.
    let t = CsvOptions::new()
        .target("y")
        .na_values(&["?"])
        .missing(MissingPolicy::Keep)
        .load(&path)
        .unwrap();
    assert!(t.label_encoder.is_none());
    let y = t.targets.unwrap().to_vec();
    assert!(y[7].is_nan());
    assert_eq!(y[8], 3.0 * 4.0 - 2.0 * 1.0);
    assert_eq!(t.report.missing[2], ("y".to_string(), 1));
    // Markers count in the features too, and only exact (trimmed) matches.
    let t = CsvOptions::new()
        .target("y")
        .na_values(&["-", "?"])
        .missing(MissingPolicy::DropRows)
        .parse_for_test("a,b,y\n1, - ,2\n3,4,?\n5,-1,6\n");
    assert_eq!(t.features.to_vec2(), vec![vec![5.0, -1.0]]);
    assert_eq!(t.report.dropped_lines, vec![2, 3]);
    // A column that is mostly text stays a column of labels.
    let t = CsvOptions::new()
        .target("y")
        .parse_for_test("a,y\n1,cat\n2,dog\n3,7\n4,cat\n");
    assert_eq!(t.label_encoder.unwrap().classes(), &["7", "cat", "dog"]);
}

/// Loading `text` from a temporary file (a fresh name per call, as tests run in parallel),
/// for tests that only need the table.
trait ParseForTest {
    fn parse_for_test(&self, text: &str) -> ferrite::data::CsvTable;
}

impl ParseForTest for CsvOptions {
    fn parse_for_test(&self, text: &str) -> ferrite::data::CsvTable {
        static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let k = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let path = temp_csv(&format!("parse_{k}.csv"), text.as_bytes());
        self.load(&path).unwrap()
    }
}

#[test]
fn the_delimiter_is_detected_from_the_header() {
    let semi = CsvOptions::new()
        .target("y")
        .parse_for_test("a;b;y\n1.5;2;3\n4;5;6\n");
    assert_eq!(semi.delimiter, b';');
    assert_eq!(semi.feature_names, vec!["a", "b"]);
    let tab = CsvOptions::new()
        .target("y")
        .parse_for_test("a\tb\ty\n1\t2\t3\n");
    assert_eq!(
        (tab.delimiter, tab.features.to_vec()),
        (b'\t', vec![1.0, 2.0])
    );
    let pipe = CsvOptions::new()
        .target("y")
        .parse_for_test("\"a|x\"|b|y\n1|2|3\n");
    assert_eq!(pipe.feature_names, vec!["a|x", "b"]);
    // Quotes are respected: the semicolons inside the quoted names do not split them.
    let quoted = CsvOptions::new()
        .target("y")
        .parse_for_test("\"a;1\",\"b;2\",y\n1,2,3\n");
    assert_eq!(
        (quoted.delimiter, quoted.feature_names.clone()),
        (b',', vec!["a;1".to_string(), "b;2".to_string()])
    );
    // A tie (one field either way) is a comma.
    let single = CsvOptions::new().parse_for_test("a\n1\n");
    assert_eq!(single.delimiter, b',');
    // A given delimiter is used as is; a missing column then says what the header looks like.
    let path = temp_csv("semicolons.csv", b"a;b;y\n1;2;3\n");
    let msg = CsvOptions::new()
        .target("y")
        .delimiter(b',')
        .load(&path)
        .unwrap_err()
        .to_string();
    for part in [
        "semicolons.csv:1:",
        "no column named \"y\"",
        "the 1 column is \"a;b;y\"",
        "holds ';'",
        "--delimiter ';'",
    ] {
        assert!(msg.contains(part), "{part:?} not in {msg}");
    }
}

#[test]
fn devices_folders_and_binary_files_are_refused_before_reading() {
    // /dev/zero once read forever.
    #[cfg(unix)]
    {
        let msg = CsvOptions::new()
            .target("y")
            .load("/dev/zero")
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("/dev/zero is not a regular file") && msg.contains("CSV file"),
            "{msg}"
        );
    }
    let dir = std::env::temp_dir();
    let msg = CsvOptions::new().load(&dir).unwrap_err().to_string();
    assert!(msg.contains("is a folder, not a CSV file"), "{msg}");
    // A file larger than the free memory is refused before reading: a sparse 1 TiB file
    // (no disk used), only where the free memory is known to be smaller.
    if ferrite::data::available_memory().is_some_and(|free| free < 1 << 39) {
        let path = temp_csv("huge.csv", b"a,y\n");
        let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        if file.set_len(1 << 40).is_ok() {
            let msg = CsvOptions::new().load(&path).unwrap_err().to_string();
            assert!(
                msg.contains("huge.csv") && msg.contains("GiB of memory is free"),
                "{msg}"
            );
        }
        drop(file);
        std::fs::remove_file(&path).unwrap();
    }
    let path = temp_csv("binary.csv", b"a,b,y\n1,2,3\n4,\0\x01,5\n");
    let err = CsvOptions::new().target("y").load(&path).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("binary.csv:3:")
            && msg.contains("not a text CSV file")
            && msg.contains("byte offset 14"),
        "{msg}"
    );
}

#[test]
fn huge_labels_are_shortened_in_messages() {
    let long = "x".repeat(65_536);
    let path = temp_csv(
        "long_label.csv",
        format!("a,y\n1,{long}\n2,short\n").as_bytes(),
    );
    let table = CsvOptions::new().target("y").load(&path).unwrap();
    let encoder = table.label_encoder.unwrap();
    let other = temp_csv("long_label_new.csv", format!("a,y\n1,{long}y\n").as_bytes());
    let msg = CsvOptions::new()
        .target("y")
        .label_encoder(encoder)
        .load(&other)
        .unwrap_err()
        .to_string();
    assert!(
        msg.len() < 600 && msg.contains("column 2 (\"y\")") && msg.contains('…'),
        "{} characters: {}",
        msg.len(),
        &msg[..msg.len().min(600)]
    );
}
