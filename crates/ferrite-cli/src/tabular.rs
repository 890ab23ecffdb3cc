//! Tables: the command line's use of the library's [`TabularPipeline`] (load a CSV, split,
//! fill gaps and scale with statistics of the training rows only), then train a linear model
//! or an MLP and score it. Shared by the built-in table examples and `ferrite train --csv`.

use ferrite::data::{
    CsvDialect, DataLoader, TabularOptions, TabularPipeline, TensorDataset, TrainTestSplit,
};
use ferrite::metrics;
use ferrite::nn::loss::{BCEWithLogitsLoss, CrossEntropyLoss, Loss, MSELoss};
use ferrite::nn::Module;
use ferrite::optim::{Adam, AdamConfig, Optimizer, SGDConfig, SGD};
use ferrite::train::{batches_of, fit, Accuracy, FitOptions, History};
use ferrite::{no_grad, Tensor};
use serde::{Deserialize, Serialize};
use std::path::Path;

use crate::spec::ModelSpec;

/// What is predicted: the library's task of a table (same names in model.json).
pub use ferrite::data::TabularTask as Task;

/// Which optimizer trains a network.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum OptimizerChoice {
    /// Plain stochastic gradient descent.
    Sgd,
    /// SGD with momentum 0.9.
    Momentum,
    /// Adam.
    Adam,
}

/// How a network is trained.
#[derive(Clone, Debug)]
pub struct TrainSettings {
    /// Passes over the training rows.
    pub epochs: usize,
    /// Rows per step.
    pub batch_size: usize,
    /// Learning rate.
    pub lr: f32,
    /// The update rule.
    pub optimizer: OptimizerChoice,
    /// Seed of initialisation and shuffling.
    pub seed: u64,
    /// 0 silent, 1 progress bars, 2 one line per epoch.
    pub verbose: u8,
    /// Clip the gradients' global 2-norm to this before every step.
    pub clip_grad_norm: Option<f32>,
}

/// How a CSV file is read: extra missing-value markers and the field separator. Recorded in
/// the preprocessing, so `evaluate` and `predict` read new files as training read its file.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CsvReading {
    /// Extra markers of a missing value (`--na-values`), besides empty, NA, NaN and null.
    #[serde(default)]
    pub na_values: Vec<String>,
    /// The field separator (`--delimiter`); `None`: detected from each file's header.
    #[serde(default)]
    pub delimiter: Option<char>,
}

impl CsvReading {
    /// Reading with these command-line values: `--na-values` lists (each comma-separated,
    /// the option repeatable) and `--delimiter` (one ASCII character, or `tab` / `\t`).
    pub fn from_args(na_values: &[String], delimiter: Option<&str>) -> anyhow::Result<Self> {
        let mut markers: Vec<String> = Vec::new();
        for list in na_values {
            for marker in list.split(',') {
                let marker = marker.trim();
                if marker.is_empty() {
                    // An empty field is always missing; an empty entry is a stray comma.
                    continue;
                }
                if !markers.iter().any(|m| m == marker) {
                    markers.push(marker.to_string());
                }
            }
        }
        let delimiter = match delimiter {
            None => None,
            Some("tab" | "\\t" | "\t") => Some('\t'),
            Some(d) => {
                let mut chars = d.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) if c.is_ascii() && !matches!(c, '"' | '\n' | '\r') => {
                        Some(c)
                    }
                    _ => anyhow::bail!(
                        "--delimiter must be one ASCII character (for example ';' or tab), got {d:?}"
                    ),
                }
            }
        };
        Ok(CsvReading {
            na_values: markers,
            delimiter,
        })
    }

    /// The library's record of this reading, kept in the pipeline.
    pub fn dialect(&self) -> CsvDialect {
        CsvDialect {
            na_values: self.na_values.clone(),
            delimiter: self.delimiter,
        }
    }
}

/// Everything needed to turn raw table rows into model inputs again (stored in model.json):
/// the fitted pipeline and where its test rows came from. The JSON layout is that of runs
/// saved before the pipeline moved into the library, so they still load.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Preprocessing {
    /// The fitted pipeline (its fields sit at the top level of the record).
    #[serde(flatten)]
    pub pipeline: TabularPipeline,
    /// The CSV the model was trained on.
    pub source: Option<String>,
    /// Row indices (in the loaded table) of the held-out test split.
    pub test_rows: Vec<usize>,
}

/// A table split and preprocessed, ready to train on.
pub struct Prepared {
    /// Preprocessing fitted on the training rows.
    pub preprocessing: Preprocessing,
    /// Training features (scaled) and targets.
    pub x_train: Tensor,
    /// Training targets: class indices or values, shape (N,).
    pub y_train: Tensor,
    /// Test features (scaled).
    pub x_test: Tensor,
    /// Test targets, shape (N,).
    pub y_test: Tensor,
}

/// Loads `path`, drops rows without a target, splits off `test_size` of the rows (stratified
/// for classification), fills gaps and standardises with training statistics.
pub fn prepare(
    path: &Path,
    target: &str,
    features: Option<&[String]>,
    task: Option<Task>,
    test_size: f64,
    seed: u64,
) -> anyhow::Result<Prepared> {
    prepare_with(
        path,
        target,
        features,
        task,
        test_size,
        seed,
        &CsvReading::default(),
    )
}

/// [`prepare`], reading the CSV as `reading` says (`--na-values`, `--delimiter`), recorded
/// in the preprocessing. A delimiter that was detected is not recorded: each new file's own
/// header decides, so a comma file can score a model trained on a semicolon file.
pub fn prepare_with(
    path: &Path,
    target: &str,
    features: Option<&[String]>,
    task: Option<Task>,
    test_size: f64,
    seed: u64,
    reading: &CsvReading,
) -> anyhow::Result<Prepared> {
    let mut options = TabularOptions::new()
        .test_size(test_size)
        .seed(seed)
        .dialect(reading.dialect());
    options.task = task;
    let table = options.read_csv(path, target, features)?;
    // Fitting errors are about the file's contents: name it.
    let split = TabularPipeline::fit_split(&table, &options)
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    Ok(Prepared {
        preprocessing: Preprocessing {
            pipeline: split.pipeline,
            source: Some(path.display().to_string()),
            test_rows: split.test_rows,
        },
        x_train: split.x_train,
        y_train: split.y_train,
        x_test: split.x_test,
        y_test: split.y_test,
    })
}

impl Preprocessing {
    /// Loads new rows of a CSV with the training columns and applies the training
    /// preprocessing, reading the file as training did (its missing-value markers and
    /// separator). Returns the features and, when the file has the target column, targets.
    pub fn load_rows(
        &self,
        path: &Path,
        with_target: bool,
    ) -> anyhow::Result<(Tensor, Option<Tensor>)> {
        Ok(self.pipeline.load(path, with_target)?)
    }

    /// The number of model outputs this task needs.
    pub fn outputs(&self) -> usize {
        self.pipeline.outputs()
    }
}

/// A loss as `fit` takes it: outputs and targets to a scalar, or an error for bad targets.
pub type LossFn = Box<dyn Fn(&Tensor, &Tensor) -> ferrite::Result<Tensor>>;

/// The loss of a task: BCEWithLogits, CrossEntropy or MSE, on outputs of shape (N, 1) or (N, C).
pub fn task_loss(task: Task, pos_weight: Option<f32>) -> LossFn {
    match task {
        Task::Binary => {
            let mut loss = BCEWithLogitsLoss::new();
            if let Some(w) = pos_weight {
                loss = loss.pos_weight(Tensor::from_vec(vec![w], [1]));
            }
            Box::new(move |out, y| loss.forward(out, &y.reshape([y.numel(), 1])))
        }
        Task::Multiclass => {
            let loss = CrossEntropyLoss::new();
            Box::new(move |out, y| loss.forward(out, y))
        }
        Task::Regression => {
            let loss = MSELoss::new();
            Box::new(move |out, y| loss.forward(out, &y.reshape([y.numel(), 1])))
        }
    }
}

/// An optimizer over `params`.
pub fn make_optimizer(
    choice: OptimizerChoice,
    params: Vec<Tensor>,
    lr: f32,
) -> anyhow::Result<Box<dyn Optimizer>> {
    Ok(match choice {
        OptimizerChoice::Sgd => Box::new(SGD::new(
            params,
            SGDConfig {
                lr,
                ..Default::default()
            },
        )?),
        OptimizerChoice::Momentum => Box::new(SGD::new(
            params,
            SGDConfig {
                lr,
                momentum: 0.9,
                ..SGDConfig::default()
            },
        )?),
        OptimizerChoice::Adam => Box::new(Adam::new(
            params,
            AdamConfig {
                lr,
                ..AdamConfig::default()
            },
        )?),
    })
}

/// Trains a network of `spec` on the training rows, with 15% of them held out for validation
/// curves, and returns it with its history.
pub fn train_network(
    prepared: &Prepared,
    spec: &ModelSpec,
    settings: &TrainSettings,
    pos_weight: Option<f32>,
) -> anyhow::Result<(Box<dyn Module>, History)> {
    ferrite::manual_seed(settings.seed);
    let mut model = spec.build()?;
    let task = prepared.preprocessing.pipeline.task;
    let n = prepared.y_train.numel();
    let split = TrainTestSplit::new(0.15)
        .seed(settings.seed ^ 0x5eed)
        .split(n)?;
    let (x_fit, x_val) = split.apply(&prepared.x_train);
    let pre = &prepared.preprocessing;
    let y_scaled = pre.pipeline.scale_target(&prepared.y_train);
    let (y_fit, y_val) = split.apply(&y_scaled);
    let mut train = DataLoader::new(TensorDataset::new(x_fit, y_fit), settings.batch_size)?
        .shuffle(settings.seed);
    let mut val = batches_of(&x_val, &y_val, 256);
    let loss = task_loss(task, pos_weight);
    let mut optimizer = make_optimizer(settings.optimizer, model.parameters(), settings.lr)?;
    let mut options = FitOptions::new(settings.epochs)
        .verbose(settings.verbose)
        .validation(&mut val);
    options.clip_grad_norm = settings.clip_grad_norm;
    options = match task {
        Task::Binary => options.accuracy(Accuracy::BinaryLogits),
        Task::Multiclass => options.accuracy(Accuracy::Multiclass),
        Task::Regression => options,
    };
    let history = fit(
        model.as_mut(),
        &*loss,
        optimizer.as_mut(),
        &mut train,
        options,
    )?;
    if let Some(reason) = &history.stop_reason {
        eprintln!("note: {reason}");
    }
    Ok((model, history))
}

/// The model's outputs for `x`: the library's `predict` (evaluation mode, no gradients, the
/// model's mode restored after) over all rows in one batch, so that every row's numbers are
/// those of the training run's scoring.
pub fn outputs(model: &mut dyn Module, x: &Tensor) -> Tensor {
    ferrite::train::predict(model, x, x.dims().first().copied().unwrap_or(1).max(1))
}

/// Regression predictions in the target's own units.
pub fn regression_predictions(model: &mut dyn Module, x: &Tensor, pre: &Preprocessing) -> Vec<f32> {
    pre.pipeline
        .inverse_transform_target(&outputs(model, x).to_vec())
}

/// Scores of a classifier: P(class 1) for binary tasks, else per-class probabilities (N, C).
pub fn probabilities(task: Task, out: &Tensor) -> Tensor {
    let _g = no_grad();
    match task {
        Task::Binary => out.sigmoid().reshape([out.dims()[0]]),
        _ => out.softmax(1),
    }
}

/// Predicted class indices from probabilities.
pub fn predicted_classes(task: Task, probs: &Tensor) -> Vec<usize> {
    match task {
        Task::Binary => probs
            .to_vec()
            .iter()
            .map(|&p| (p >= 0.5) as usize)
            .collect(),
        _ => probs
            .argmax(1, false)
            .to_vec()
            .iter()
            .map(|&v| v as usize)
            .collect(),
    }
}

/// Accuracy, per-class report, confusion matrix and (binary) ROC AUC, as JSON and as text.
pub fn classification_summary(
    task: Task,
    classes: &[String],
    y_true: &[usize],
    probs: &Tensor,
) -> (serde_json::Value, String) {
    let y_pred = predicted_classes(task, probs);
    let labels: Vec<usize> = (0..classes.len()).collect();
    let cm = metrics::confusion_matrix(y_true, &y_pred, Some(&labels));
    let accuracy = metrics::accuracy_score(y_true, &y_pred);
    let names: Vec<&str> = classes.iter().map(String::as_str).collect();
    let report = metrics::classification_report(
        y_true,
        &y_pred,
        Some(&labels),
        Some(&names),
        4,
        metrics::ZeroDivision::Zero,
    );
    let mut json = serde_json::json!({
        "accuracy": accuracy,
        "confusion_matrix": cm.counts,
        "classes": classes,
    });
    let shown: Vec<String> = classes
        .iter()
        .map(|c| metrics::report::display_label(c))
        .collect();
    let mut text = format!(
        "{report}\nconfusion matrix (rows: true, columns: predicted; {}):\n",
        shown.join(", ")
    );
    for row in &cm.counts {
        text.push_str(&format!(
            "  {}\n",
            row.iter().map(|v| format!("{v:>5}")).collect::<String>()
        ));
    }
    if task == Task::Binary {
        let auc = metrics::roc_auc_score(y_true, &probs.to_vec());
        json["roc_auc"] = serde_json::json!(auc);
        text.push_str(&format!("ROC AUC {auc:.4}\n"));
    }
    (json, text)
}

/// MAE, MSE, RMSE, MAPE and R2 of predictions.
pub fn regression_summary(y_true: &[f32], y_pred: &[f32]) -> serde_json::Value {
    serde_json::json!({
        "mae": metrics::mean_absolute_error(y_true, y_pred),
        "mse": metrics::mean_squared_error(y_true, y_pred),
        "rmse": metrics::root_mean_squared_error(y_true, y_pred),
        "mape": metrics::mean_absolute_percentage_error(y_true, y_pred),
        "r2": metrics::r2_score(y_true, y_pred),
    })
}

/// One line of regression metrics.
pub fn regression_line(name: &str, m: &serde_json::Value) -> String {
    let g = |k: &str| m[k].as_f64().unwrap_or(f64::NAN);
    format!(
        "{name:<18} MAE {:>8.3}  MSE {:>9.3}  RMSE {:>8.3}  MAPE {:>7.2}%  R2 {:>7.4}",
        g("mae"),
        g("mse"),
        g("rmse"),
        100.0 * g("mape"),
        g("r2")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes `text` to a fresh CSV file in the temporary folder.
    fn temp_csv(name: &str, text: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("ferrite_tabular_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    /// 40 rows of `(3a − 2b) · scale`, with `?` as the target of data row `question`.
    fn linear_rows(scale: f64, question: Option<usize>) -> String {
        let mut text = String::from("a;b;y\n");
        for i in 0..40 {
            let (a, b) = (i as f64 / 40.0, ((i * 7) % 11) as f64 / 11.0);
            let y = if Some(i) == question {
                "?".to_string()
            } else {
                format!("{:e}", (3.0 * a - 2.0 * b) * scale)
            };
            text += &format!("{a};{b};{y}\n");
        }
        text
    }

    #[test]
    fn command_line_markers_and_delimiters_are_parsed() {
        let r = CsvReading::from_args(&["?,-".into(), " n/a ,,?".into()], Some("tab")).unwrap();
        assert_eq!(r.na_values, vec!["?", "-", "n/a"]);
        assert_eq!(r.delimiter, Some('\t'));
        assert_eq!(
            CsvReading::from_args(&[], Some(";")).unwrap().delimiter,
            Some(';')
        );
        let err = CsvReading::from_args(&[], Some(";;"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("--delimiter must be one ASCII character"),
            "{err}"
        );
        let extra = CsvReading::from_args(&["NULL".into(), "?".into()], None).unwrap();
        let merged = r.dialect().merged(&extra.dialect());
        assert_eq!(merged.na_values, vec!["?", "-", "n/a", "NULL"]);
        assert_eq!(merged.delimiter, Some('\t'));
    }

    #[test]
    fn a_target_near_1e19_is_scaled_with_f64_statistics() {
        // The f32 standard deviation overflowed here: every metric was NaN.
        let path = temp_csv("big.csv", &linear_rows(1e19, None));
        let p = prepare(&path, "y", None, None, 0.25, 0).unwrap();
        let pre = &p.preprocessing.pipeline;
        assert_eq!(pre.task, Task::Regression);
        let y: Vec<f64> = p.y_train.to_vec().iter().map(|&v| v as f64).collect();
        let mean = y.iter().sum::<f64>() / y.len() as f64;
        let std = (y.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / y.len() as f64).sqrt();
        assert!(((pre.target_mean() as f64 - mean) / std).abs() < 1e-6);
        assert!(
            (pre.target_std() as f64 / std - 1.0).abs() < 1e-6,
            "{}",
            pre.target_std()
        );
        let scaled = pre.scale_target(&p.y_train);
        assert!(scaled
            .to_vec()
            .iter()
            .all(|v| v.is_finite() && v.abs() < 10.0));
    }

    #[test]
    fn declared_markers_are_recorded_and_reused_for_new_files() {
        let path = temp_csv("question.csv", &linear_rows(1.0, Some(5)));
        let err = prepare(&path, "y", None, None, 0.25, 0).err().unwrap();
        let msg = format!("{err:#}");
        assert!(
            msg.contains("question.csv:7:") && msg.contains("--na-values '?'"),
            "{msg}"
        );
        let reading = CsvReading::from_args(&["?".into()], None).unwrap();
        let p = prepare_with(&path, "y", None, None, 0.25, 0, &reading).unwrap();
        // A regression on the 39 rows with a target, not a 39-class classification.
        assert_eq!(p.preprocessing.pipeline.task, Task::Regression);
        assert_eq!(p.y_train.numel() + p.y_test.numel(), 39);
        let json = serde_json::to_value(&p.preprocessing).unwrap();
        assert_eq!(json["reading"]["na_values"], serde_json::json!(["?"]));
        // A new file with the marker reads the same way, from the recorded preprocessing.
        let new = temp_csv(
            "question_new.csv",
            "a;b;y\n0.5;0.5;?\n0.1;0.2;3\n0.3;0.1;2\n",
        );
        let (x, y) = p.preprocessing.load_rows(&new, true).unwrap();
        assert_eq!(x.dims(), &[3, 2]);
        let y = y.unwrap().to_vec();
        assert!(y[0].is_nan() && y[1] == 3.0 && y[2] == 2.0, "{y:?}");
        // A model.json written before the reading was recorded still loads, with defaults.
        let mut old = json.clone();
        old.as_object_mut().unwrap().remove("reading");
        let back: Preprocessing = serde_json::from_value(old).unwrap();
        assert_eq!(back.pipeline.dialect, CsvDialect::default());
        assert_eq!(back.test_rows, p.preprocessing.test_rows);
    }

    #[test]
    fn stratified_split_errors_name_the_class() {
        let path = temp_csv(
            "one_row.csv",
            "a,y\n1,setosa\n2,setosa\n3,virginica\n4,virginica\n5,virginica\n6,odd\n",
        );
        let err = prepare(&path, "y", None, None, 0.5, 0).err().unwrap();
        assert!(
            format!("{err:#}").contains("class \"odd\" has only 1 row"),
            "{err:#}"
        );
    }
}
