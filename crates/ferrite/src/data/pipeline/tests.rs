//! Tests of [`TabularPipeline`](super::TabularPipeline): closed-form values on small tables.

use super::*;
use crate::data::FillStrategy;

/// Writes `text` to a fresh CSV file in the temporary folder.
fn temp_csv(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("ferrite_pipeline_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn close(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-6)
}

#[test]
fn a_regression_pipeline_fills_scales_and_scales_the_target_with_training_statistics() {
    // Seed 0 holds out row 0 (checked below); rows 1..3 train.
    let path = temp_csv("reg.csv", "a,b,y\n7,100,9.5\nNA,2,1.5\n4,NA,2.5\n6,4,6.5\n");
    let options = TabularOptions::new().test_size(0.25);
    let table = options.read_csv(&path, "y", None).unwrap();
    let split = TabularPipeline::fit_split(&table, &options).unwrap();
    assert_eq!(
        (split.train_rows.clone(), split.test_rows.clone()),
        (vec![1, 2, 3], vec![0])
    );
    let p = &split.pipeline;
    assert_eq!(p.task, TabularTask::Regression);
    // Means of the present training values: a (4, 6) → 5, b (2, 4) → 3.
    assert_eq!(p.imputer.fill_values(), &[5.0, 3.0]);
    // Filled, a = (5, 4, 6) and b = (2, 3, 4): means 5 and 3, std √(2/3) both.
    let s = (2.0f32 / 3.0).sqrt();
    assert!(close(&p.scaler.mean, &[5.0, 3.0]) && close(&p.scaler.scale, &[s, s]));
    let x_train = split.x_train.to_vec();
    assert!(
        close(&x_train, &[0.0, -1.0 / s, -1.0 / s, 0.0, 1.0 / s, 1.0 / s]),
        "{x_train:?}"
    );
    assert!(close(&split.x_test.to_vec(), &[2.0 / s, 97.0 / s]));
    // Targets (1.5, 2.5, 6.5): mean 3.5, population std √(14/3).
    let t = (14.0f32 / 3.0).sqrt();
    assert_eq!(p.target_mean(), 3.5);
    assert!((p.target_std() - t).abs() < 1e-6);
    assert_eq!(split.y_test.to_vec(), vec![9.5]);
    let z = p.scale_target(&split.y_train).to_vec();
    assert!(close(&z, &[-2.0 / t, -1.0 / t, 3.0 / t]), "{z:?}");
    let back = p.inverse_transform_target(&z);
    assert!(close(&back, &[1.5, 2.5, 6.5]), "{back:?}");
    // The file read again through the pipeline gives the split's rows exactly.
    let (x, y) = p.load(&path, true).unwrap();
    assert_eq!(x.index_select(0, &[0]).to_vec(), split.x_test.to_vec());
    assert_eq!(x.index_select(0, &[1, 2, 3]).to_vec(), x_train);
    assert_eq!(y.unwrap().to_vec(), vec![9.5, 1.5, 2.5, 6.5]);
    // Unscaled: the target and the features stay as they are (gaps still filled).
    let plain = TabularOptions::new()
        .test_size(0.25)
        .scale_features(false)
        .scale_target(false);
    let split = TabularPipeline::fit_split(&table, &plain).unwrap();
    assert_eq!(split.x_train.to_vec(), vec![5.0, 2.0, 4.0, 3.0, 6.0, 4.0]);
    assert_eq!(
        split.pipeline.scale_target(&split.y_train).to_vec(),
        vec![1.5, 2.5, 6.5]
    );
    assert_eq!(split.pipeline.target_scaler, None);
}

#[test]
fn class_labels_are_encoded_stratified_and_mapped_by_name_in_new_files() {
    let path = temp_csv("cls.csv", "x,kind\n1,no\n2,yes\n3,no\n4,yes\n");
    let options = TabularOptions::new().test_size(0.5);
    let table = options.read_csv(&path, "kind", None).unwrap();
    let split = TabularPipeline::fit_split(&table, &options).unwrap();
    let p = &split.pipeline;
    assert_eq!(p.task, TabularTask::Binary);
    assert_eq!(p.classes, Some(vec!["no".to_string(), "yes".to_string()]));
    assert_eq!(p.outputs(), 1);
    // Stratified: one row of each class on each side.
    assert_eq!(
        (split.train_rows.clone(), split.test_rows.clone()),
        (vec![0, 1], vec![2, 3])
    );
    // x (1, 2): mean 1.5, std 0.5, so 3 and 4 become 3 and 5.
    assert_eq!(split.x_test.to_vec(), vec![3.0, 5.0]);
    assert_eq!(split.y_train.to_vec(), vec![0.0, 1.0]);
    // A new file holding only "yes" encodes it as class 1 (its own encoder says 0); a
    // missing label stays missing; an unseen one is an error naming it.
    let new = temp_csv("cls_new.csv", "x,kind\n0,yes\n9,\n");
    let y = p.load(&new, true).unwrap().1.unwrap().to_vec();
    assert!(y[0] == 1.0 && y[1].is_nan(), "{y:?}");
    let unseen = temp_csv("cls_unseen.csv", "x,kind\n0,maybe\n");
    let err = p.load(&unseen, true).unwrap_err().to_string();
    assert!(
        err.contains("'maybe' was not seen in training (classes: no, yes)"),
        "{err}"
    );
    // Without the target column: features only.
    let (x, y) = p.load(&new, false).unwrap();
    assert_eq!((x.to_vec(), y.is_none()), (vec![-3.0, 15.0], true));
    // Numeric labels: the sorted distinct values are the classes.
    let path = temp_csv("num.csv", "x,k\n1,7\n2,5\n3,7\n4,5\n5,9\n6,9\n");
    let table = options.read_csv(&path, "k", None).unwrap();
    let p = TabularPipeline::fit_split(&table, &options)
        .unwrap()
        .pipeline;
    assert_eq!(p.task, TabularTask::Multiclass);
    assert_eq!(p.classes, Some(vec!["5".into(), "7".into(), "9".into()]));
    assert_eq!(p.outputs(), 3);
    let y = p.load(&path, true).unwrap().1.unwrap().to_vec();
    assert_eq!(y, vec![1.0, 0.0, 1.0, 0.0, 2.0, 2.0]);
}

#[test]
fn bad_tables_are_errors_naming_the_problem() {
    let options = TabularOptions::new().test_size(0.5);
    let few = temp_csv("few.csv", "x,y\n1,2\n2,NA\n3,4\n4,\n5,6\n");
    let table = options.read_csv(&few, "y", None).unwrap();
    let err = TabularPipeline::fit_split(&table, &options)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("only 3 rows have a value in target column 'y'"),
        "{err}"
    );
    let text = temp_csv("text.csv", "x,y\n1,a\n2,b\n3,a\n4,b\n");
    let table = options.read_csv(&text, "y", None).unwrap();
    let regression = options.clone().task(TabularTask::Regression);
    let err = TabularPipeline::fit_split(&table, &regression)
        .unwrap_err()
        .to_string();
    assert!(err.contains("holds text labels"), "{err}");
    let empty = temp_csv("empty.csv", "x,gap,y\n1,,1.5\n2,,2.5\n3,,3.5\n4,,4.25\n");
    let table = options.read_csv(&empty, "y", None).unwrap();
    let err = TabularPipeline::fit_split(&table, &options)
        .unwrap_err()
        .to_string();
    assert!(err.contains("column 2 (\"gap\") has no value"), "{err}");
    // A table read with other columns than the pipeline's is refused by transform.
    let table = options.read_csv(&text, "y", None).unwrap();
    let p = TabularPipeline::fit_split(&table, &options)
        .unwrap()
        .pipeline;
    let other = TabularOptions::new().read_csv(&empty, "y", None).unwrap();
    assert!(p
        .transform(&other)
        .unwrap_err()
        .to_string()
        .contains("not the pipeline's"));
}

#[test]
fn the_pipeline_round_trips_through_the_saved_record_layout() {
    let path = temp_csv("serde.csv", "a;b;y\n7;100;9.5\n?;2;1.5\n4;?;2.5\n6;4;6.5\n");
    let dialect = CsvDialect {
        na_values: vec!["?".into()],
        delimiter: Some(';'),
    };
    let options = TabularOptions::new()
        .test_size(0.25)
        .dialect(dialect.clone());
    let table = options.read_csv(&path, "y", None).unwrap();
    let p = TabularPipeline::fit_split(&table, &options)
        .unwrap()
        .pipeline;
    let json = serde_json::to_value(&p).unwrap();
    let mut keys: Vec<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "classes",
            "features",
            "imputer",
            "reading",
            "scaler",
            "target",
            "target_mean",
            "target_std",
            "task"
        ]
    );
    assert_eq!(json["target_mean"], serde_json::json!(3.5));
    assert_eq!(
        json["reading"],
        serde_json::json!({"na_values": ["?"], "delimiter": ";"})
    );
    let back: TabularPipeline = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(serde_json::to_value(&back).unwrap(), json);
    assert_eq!(
        (back.target_mean(), back.target_std()),
        (p.target_mean(), p.target_std())
    );
    assert_eq!(back.dialect, dialect);
    assert_eq!(
        back.load(&path, true).unwrap().0.to_vec(),
        p.load(&path, true).unwrap().0.to_vec()
    );
    // A record of an older run: no dialect, extra run fields (source, test_rows).
    let old = r#"{"features":["x"],"target":"kind","task":"binary",
        "imputer":{"strategy":"Mean","values":[1.5]},
        "scaler":{"with_mean":true,"with_std":true,"mean":[1.5],"var":[0.25],"scale":[0.5]},
        "classes":["no","yes"],"source":"cls.csv","test_rows":[2,3],
        "target_mean":0.0,"target_std":1.0}"#;
    let old: TabularPipeline = serde_json::from_str(old).unwrap();
    assert_eq!(
        (old.dialect.clone(), old.target_scaler.clone()),
        (CsvDialect::default(), None)
    );
    old.check().unwrap();
    let x = old
        .load(temp_csv("old.csv", "x,kind\n2.5,yes\n"), true)
        .unwrap();
    assert_eq!(
        (x.0.to_vec(), x.1.unwrap().to_vec()),
        (vec![2.0], vec![1.0])
    );
}

#[test]
fn check_names_what_a_hand_edited_pipeline_gets_wrong() {
    let path = temp_csv("check.csv", "x,kind\n1,no\n2,yes\n3,no\n4,yes\n");
    let options = TabularOptions::new().test_size(0.5);
    let table = options.read_csv(&path, "kind", None).unwrap();
    let p = TabularPipeline::fit_split(&table, &options)
        .unwrap()
        .pipeline;
    p.check().unwrap();
    let mut short = p.clone();
    short.scaler.mean.clear();
    let err = short.check().unwrap_err().to_string();
    assert!(
        err.contains("0 scaler means for 1 feature columns"),
        "{err}"
    );
    let mut zero = p.clone();
    zero.scaler.scale[0] = 0.0;
    assert!(zero
        .check()
        .unwrap_err()
        .to_string()
        .contains("not positive"));
    let mut one_class = p.clone();
    one_class.classes = Some(vec!["no".into()]);
    assert!(one_class
        .check()
        .unwrap_err()
        .to_string()
        .contains("fewer than two classes"));
    let mut nan = p;
    nan.imputer = Imputer::from_values(FillStrategy::Mean, vec![f32::NAN]);
    assert!(nan
        .check()
        .unwrap_err()
        .to_string()
        .contains("non-finite number NaN"));
}

#[test]
fn a_layer_in_target_units_is_rewritten_for_the_scaled_target() {
    let x = Tensor::from_vec(vec![0., 1.], [2, 1]);
    let mut scaler = StandardScaler::new();
    scaler.fit(&x).unwrap();
    let mut target = StandardScaler::new();
    target
        .fit(&Tensor::from_vec(vec![10., 20.], [2, 1]))
        .unwrap(); // mean 15, std 5
    let mut pipeline = TabularPipeline {
        features: vec!["x".into()],
        target: "y".into(),
        task: TabularTask::Regression,
        imputer: Imputer::fit(&x, FillStrategy::Mean).unwrap(),
        scaler,
        classes: None,
        target_scaler: Some(target),
        dialect: CsvDialect::default(),
    };
    // y = 2x + 1 in the target's units.
    let layer = crate::nn::Linear::from_tensors(
        Tensor::from_vec(vec![2.0], [1, 1]),
        Some(Tensor::from_vec(vec![1.0], [1])),
    )
    .unwrap();
    let scaled = pipeline.to_scaled_target(&layer).unwrap();
    assert_eq!(scaled.weight.to_vec(), [2.0 * (1.0 / 5.0)]);
    assert_eq!(
        scaled.bias.as_ref().unwrap().to_vec(),
        [(1.0 - 15.0) * (1.0 / 5.0)]
    );
    use crate::nn::Module;
    let out = scaled
        .forward(&Tensor::from_vec(vec![3.0], [1, 1]))
        .to_vec();
    let back = pipeline.inverse_transform_target(&out)[0];
    assert!((back - 7.0).abs() < 1e-5, "{back}");
    // Without target scaling the layer is unchanged.
    pipeline.target_scaler = None;
    let same = pipeline.to_scaled_target(&layer).unwrap();
    assert_eq!(same.weight.to_vec(), [2.0]);
    assert_eq!(same.bias.unwrap().to_vec(), [1.0]);
}
