//! Scalers, label encoding and train/test splits against scikit-learn 1.9 golden values
//! (`tools/golden_sklearn.py`).

use ferrite::data::{one_hot, LabelEncoder, MinMaxScaler, StandardScaler, TrainTestSplit};
use ferrite::Tensor;
use serde_json::Value;

fn fixture() -> Value {
    let path = format!(
        "{}/tests/fixtures/sklearn_preprocessing.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).expect("fixture")).expect("valid JSON")
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number"))
        .collect()
}

/// A JSON matrix as a tensor `(rows, cols)`.
fn matrix(v: &Value) -> Tensor {
    let rows: Vec<Vec<f32>> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|r| floats(r).into_iter().map(|x| x as f32).collect())
        .collect();
    Tensor::from_rows(&rows)
}

fn flat(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().flat_map(floats).collect()
}

fn assert_close(what: &str, got: &[f32], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{what}");
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        assert!(!g.is_nan(), "{what}[{i}] is NaN");
        assert!(
            (g as f64 - w).abs() <= tol * w.abs().max(1.0),
            "{what}[{i}]: got {g}, want {w}"
        );
    }
}

#[test]
fn min_max_scaler_matches_sklearn_including_a_constant_column() {
    let f = fixture();
    let (train, test) = (matrix(&f["x_train"]), matrix(&f["x_test"]));
    let g = &f["minmax"];
    let mut scaler = MinMaxScaler::new();
    let scaled_train = scaler.fit_transform(&train).unwrap();
    assert_close("data_min", &scaler.data_min, &floats(&g["data_min"]), 1e-7);
    assert_close("data_max", &scaler.data_max, &floats(&g["data_max"]), 1e-7);
    assert_close("scale", &scaler.scale, &floats(&g["scale"]), 1e-6);
    assert_close("train", &scaled_train.to_vec(), &flat(&g["train"]), 1e-5);
    // Test data is scaled with the training range (values may leave [0, 1]).
    assert_close(
        "test",
        &scaler.transform(&test).unwrap().to_vec(),
        &flat(&g["test"]),
        1e-5,
    );
    let back = scaler
        .inverse_transform(&scaler.transform(&test).unwrap())
        .unwrap();
    assert_close(
        "inverse",
        &back.to_vec(),
        &test.to_vec().iter().map(|&v| v as f64).collect::<Vec<_>>(),
        1e-6,
    );

    let mut ranged = MinMaxScaler::with_range(-1.0, 1.0);
    ranged.fit(&train).unwrap();
    assert_close(
        "(-1, 1) test",
        &ranged.transform(&test).unwrap().to_vec(),
        &flat(&f["minmax_minus1_1"]["test"]),
        1e-5,
    );
}

#[test]
fn standard_scaler_uses_the_population_std_like_sklearn() {
    let f = fixture();
    let (train, test) = (matrix(&f["x_train"]), matrix(&f["x_test"]));
    let g = &f["standard"];
    let mut scaler = StandardScaler::new();
    scaler.fit(&train).unwrap();
    assert_close("mean", &scaler.mean, &floats(&g["mean"]), 1e-6);
    // The variance is kept in f64 (computed in f64 from the f32 data).
    let var: Vec<f32> = scaler.var.iter().map(|&v| v as f32).collect();
    assert_close("var", &var, &floats(&g["var"]), 1e-4);
    assert_close("scale", &scaler.scale, &floats(&g["scale"]), 1e-4);
    assert_close(
        "train",
        &scaler.transform(&train).unwrap().to_vec(),
        &flat(&g["train"]),
        1e-4,
    );
    assert_close(
        "test",
        &scaler.transform(&test).unwrap().to_vec(),
        &flat(&g["test"]),
        1e-4,
    );
    let back = scaler
        .inverse_transform(&scaler.transform(&test).unwrap())
        .unwrap();
    assert_close(
        "inverse",
        &back.to_vec(),
        &test.to_vec().iter().map(|&v| v as f64).collect::<Vec<_>>(),
        1e-6,
    );
    // A fitted scaler survives a JSON round trip (it is saved with models).
    let json = serde_json::to_string(&scaler).unwrap();
    let restored: StandardScaler = serde_json::from_str(&json).unwrap();
    assert_eq!(
        restored.transform(&test).unwrap().to_vec(),
        scaler.transform(&test).unwrap().to_vec()
    );
}

#[test]
fn label_encoder_sorts_like_sklearn_and_one_hot_places_ones() {
    let f = fixture();
    let g = &f["label_encoder"];
    let labels: Vec<&str> = g["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    let classes: Vec<&str> = g["classes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    let want: Vec<usize> = g["encoded"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    let mut enc = LabelEncoder::new();
    let encoded = enc.fit_transform(&labels);
    assert_eq!(enc.classes(), classes.as_slice());
    assert_eq!(encoded, want);
    assert_eq!(enc.inverse_transform(&encoded).unwrap(), labels);
    let oh = one_hot(&encoded, classes.len()).unwrap();
    for (row, &c) in oh.to_vec2().iter().zip(&encoded) {
        let expected: Vec<f32> = (0..classes.len())
            .map(|k| if k == c { 1.0 } else { 0.0 })
            .collect();
        assert_eq!(row, &expected);
    }
}

#[test]
fn split_sizes_and_stratified_class_counts_match_sklearn() {
    let f = fixture();
    for (_, g) in f["plain_split"].as_object().unwrap() {
        let n = g["n"].as_u64().unwrap() as usize;
        let s = TrainTestSplit::new(g["test_size"].as_f64().unwrap())
            .seed(3)
            .split(n)
            .unwrap();
        assert_eq!(s.train.len() as u64, g["n_train"].as_u64().unwrap(), "{g}");
        assert_eq!(s.test.len() as u64, g["n_test"].as_u64().unwrap(), "{g}");
    }
    let y: Vec<usize> = f["stratify_y"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();
    for (test_size, g) in f["stratified_split"].as_object().unwrap() {
        for seed in [0, 1, 2] {
            let s = TrainTestSplit::new(test_size.parse().unwrap())
                .seed(seed)
                .stratify(&y)
                .split(y.len())
                .unwrap();
            assert_eq!(s.train.len() as u64, g["n_train"].as_u64().unwrap());
            assert_eq!(s.test.len() as u64, g["n_test"].as_u64().unwrap());
            let mut counts = vec![0u64; 4];
            for &i in &s.test {
                counts[y[i]] += 1;
            }
            let want: Vec<u64> = g["test_counts"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap())
                .collect();
            assert_eq!(counts, want, "test_size {test_size}, seed {seed}");
            let mut all: Vec<usize> = s.train.iter().chain(&s.test).copied().collect();
            all.sort();
            all.dedup();
            assert_eq!(all.len(), s.train.len() + s.test.len(), "disjoint");
        }
    }
}
