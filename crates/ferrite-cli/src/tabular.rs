//! Tables: load a CSV, split, fill gaps and scale with statistics of the training rows only,
//! train a linear model or an MLP, and score it. Shared by the built-in table examples and
//! `ferrite train --csv`.

use anyhow::Context;
use ferrite::data::{
    CsvOptions, CsvTable, DataLoader, FillStrategy, Imputer, MissingPolicy, StandardScaler,
    TensorDataset, TrainTestSplit,
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

/// What is predicted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    /// Two classes: one logit, BCEWithLogits.
    Binary,
    /// Several classes: one logit per class, CrossEntropy.
    Multiclass,
    /// A number: MSE.
    Regression,
}

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

    /// This reading with `extra`'s markers added and its delimiter, if it gives one.
    pub fn merged(&self, extra: &CsvReading) -> CsvReading {
        let mut na_values = self.na_values.clone();
        for m in &extra.na_values {
            if !na_values.contains(m) {
                na_values.push(m.clone());
            }
        }
        CsvReading {
            na_values,
            delimiter: extra.delimiter.or(self.delimiter),
        }
    }

    /// `options` set to read this way.
    fn apply(&self, mut options: CsvOptions) -> CsvOptions {
        if !self.na_values.is_empty() {
            options = options.na_values(&self.na_values);
        }
        if let Some(d) = self.delimiter {
            // Only ASCII is accepted by `from_args`; a hand-edited file could hold more.
            if let Ok(byte) = u8::try_from(d) {
                options = options.delimiter(byte);
            }
        }
        options
    }
}

/// Everything needed to turn raw table rows into model inputs again (stored in model.json).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Preprocessing {
    /// Feature columns, in order.
    pub features: Vec<String>,
    /// The target column.
    pub target: String,
    /// The task.
    pub task: Task,
    /// Missing-value filler fitted on the training rows.
    pub imputer: Imputer,
    /// Standardisation fitted on the training rows.
    pub scaler: StandardScaler,
    /// Class names, in index order (classification).
    pub classes: Option<Vec<String>>,
    /// The CSV the model was trained on, and the rows held out for testing.
    pub source: Option<String>,
    /// Row indices (in the loaded table) of the held-out test split.
    pub test_rows: Vec<usize>,
    /// Regression: networks learn `(y − mean) / std` of the training targets; outputs are
    /// mapped back with these.
    #[serde(default)]
    pub target_mean: f32,
    /// See `target_mean` (1 for classification).
    #[serde(default = "one")]
    pub target_std: f32,
    /// How the training CSV was read (markers and separator); runs saved before this was
    /// recorded read with the defaults.
    #[serde(default)]
    pub reading: CsvReading,
}

fn one() -> f32 {
    1.0
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

/// Reads a table with missing values kept as NaN (filled later from the training rows).
pub fn load_table(
    path: &Path,
    target: &str,
    features: Option<&[String]>,
    reading: &CsvReading,
) -> anyhow::Result<CsvTable> {
    let mut options = reading.apply(
        CsvOptions::new()
            .target(target)
            .missing(MissingPolicy::Keep),
    );
    if let Some(f) = features {
        options = options.features(f);
    }
    Ok(options.load(path)?)
}

/// Class indices for numeric labels: the distinct values, sorted, become 0..K.
fn encode_numeric_classes(y: &[f32]) -> (Vec<usize>, Vec<String>) {
    let mut values: Vec<f32> = y.to_vec();
    values.sort_by(|a, b| a.total_cmp(b));
    values.dedup();
    let index = y
        .iter()
        .map(|v| values.iter().position(|u| u == v).unwrap_or(0))
        .collect();
    (index, values.iter().map(|v| format!("{v}")).collect())
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
    let table = load_table(path, target, features, reading)?;
    let y_all = table
        .targets
        .as_ref()
        .context("the table has no target column")?
        .to_vec();
    let keep: Vec<usize> = (0..y_all.len()).filter(|&i| !y_all[i].is_nan()).collect();
    if keep.len() < 4 {
        anyhow::bail!(
            "{}: only {} rows have a value in target column '{target}'",
            path.display(),
            keep.len()
        );
    }
    let x = table.features.index_select(0, &keep);
    let y_raw: Vec<f32> = keep.iter().map(|&i| y_all[i]).collect();
    let text_classes = table.label_encoder.as_ref().map(|e| e.classes().to_vec());
    let task = match (task, &text_classes) {
        (Some(Task::Regression), Some(_)) => {
            anyhow::bail!(
                "target column '{target}' holds text labels; it cannot be a regression target"
            )
        }
        (Some(t), _) => t,
        (None, Some(c)) if c.len() == 2 => Task::Binary,
        (None, Some(_)) => Task::Multiclass,
        // Whole numbers with few distinct values read as classes; anything else as a quantity.
        (None, None) => {
            let (_, distinct) = encode_numeric_classes(&y_raw);
            if y_raw.iter().all(|v| v.fract() == 0.0) && distinct.len() <= 20 {
                if distinct.len() == 2 {
                    Task::Binary
                } else {
                    Task::Multiclass
                }
            } else {
                Task::Regression
            }
        }
    };
    let (y, classes): (Vec<f32>, Option<Vec<String>>) = match (task, text_classes) {
        (Task::Regression, _) => (y_raw, None),
        (_, Some(c)) => (y_raw, Some(c)),
        (_, None) => {
            let (idx, names) = encode_numeric_classes(&y_raw);
            (idx.iter().map(|&i| i as f32).collect(), Some(names))
        }
    };
    if task == Task::Binary && classes.as_ref().map_or(0, |c| c.len()) != 2 {
        anyhow::bail!(
            "a binary task needs exactly 2 classes in '{target}', found {:?}",
            classes.unwrap_or_default()
        );
    }
    let labels: Vec<usize> = y.iter().map(|&v| v as usize).collect();
    let mut splitter = TrainTestSplit::new(test_size).seed(seed);
    if task != Task::Regression {
        splitter = match &classes {
            // Errors then name a class as the data does, not by its index.
            Some(names) => splitter.stratify_named(&labels, names),
            None => splitter.stratify(&labels),
        };
    }
    let split = splitter.split(y.len())?;
    let y_t = Tensor::from_vec(y, [labels.len()]);
    let (x_train, x_test) = split.apply(&x);
    let (y_train, y_test) = split.apply(&y_t);
    let imputer = Imputer::fit(&x_train, FillStrategy::Mean)?;
    let (x_train, x_test) = (imputer.transform(&x_train)?, imputer.transform(&x_test)?);
    let mut scaler = StandardScaler::new();
    let x_train = scaler.fit_transform(&x_train)?;
    let x_test = scaler.transform(&x_test)?;
    let test_rows = split.test.iter().map(|&i| keep[i]).collect();
    let (target_mean, target_std) = if task == Task::Regression {
        target_scaling(&y_train.to_vec())?
    } else {
        (0.0, 1.0)
    };
    Ok(Prepared {
        preprocessing: Preprocessing {
            features: table.feature_names.clone(),
            target: target.to_string(),
            task,
            imputer,
            scaler,
            classes,
            source: Some(path.display().to_string()),
            test_rows,
            target_mean,
            target_std,
            reading: reading.clone(),
        },
        x_train,
        y_train,
        x_test,
        y_test,
    })
}

/// The mean and population standard deviation of regression targets, computed in f64 (an
/// f32 sum of squares overflows for targets past about 1e19, and every metric became NaN),
/// stored as f32 for the network's scaling. A constant target keeps scale 1.
fn target_scaling(y: &[f32]) -> anyhow::Result<(f32, f32)> {
    let n = y.len().max(1) as f64;
    let mean = y.iter().map(|&v| v as f64).sum::<f64>() / n;
    let var = y.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n;
    let std = var.sqrt();
    let (mean32, std32) = (mean as f32, std as f32);
    if !(mean32.is_finite() && std32.is_finite()) {
        anyhow::bail!(
            "the target's mean {mean:e} or standard deviation {std:e} does not fit in f32; \
             rescale the target column"
        );
    }
    Ok((mean32, if std32 > 0.0 { std32 } else { 1.0 }))
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
        let mut options = self.reading.apply(
            CsvOptions::new()
                .features(&self.features)
                .missing(MissingPolicy::Keep),
        );
        if with_target {
            options = options.target(&self.target);
        }
        let table = options.load(path)?;
        let x = self
            .scaler
            .transform(&self.imputer.transform(&table.features)?)?;
        let y = match (&table.targets, &table.label_encoder, &self.classes) {
            (None, _, _) => None,
            (Some(t), _, None) => Some(t.clone()),
            // Text labels: map through the training class names, so indices agree.
            (Some(t), Some(enc), Some(classes)) => {
                let names = enc.inverse_transform(
                    &t.to_vec().iter().map(|&v| v as usize).collect::<Vec<_>>(),
                )?;
                Some(Tensor::from_vec(
                    class_indices(&names, classes)?,
                    [names.len()],
                ))
            }
            (Some(t), None, Some(classes)) => {
                let names: Vec<String> = t.to_vec().iter().map(|v| format!("{v}")).collect();
                Some(Tensor::from_vec(
                    class_indices(&names, classes)?,
                    [names.len()],
                ))
            }
        };
        Ok((x, y))
    }

    /// The number of model outputs this task needs.
    pub fn outputs(&self) -> usize {
        match self.task {
            Task::Multiclass => self.classes.as_ref().map_or(1, |c| c.len()),
            _ => 1,
        }
    }
}

fn class_indices(names: &[String], classes: &[String]) -> anyhow::Result<Vec<f32>> {
    names
        .iter()
        .map(|n| {
            classes
                .iter()
                .position(|c| c == n)
                .map(|i| i as f32)
                .ok_or_else(|| {
                    let shown: Vec<String> = classes
                        .iter()
                        .take(10)
                        .map(|c| metrics::report::display_label(c))
                        .collect();
                    anyhow::anyhow!(
                        "label '{}' was not seen in training (classes: {}{})",
                        metrics::report::display_label(n),
                        shown.join(", "),
                        if classes.len() > 10 { ", …" } else { "" }
                    )
                })
        })
        .collect()
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
    let task = prepared.preprocessing.task;
    let n = prepared.y_train.numel();
    let split = TrainTestSplit::new(0.15)
        .seed(settings.seed ^ 0x5eed)
        .split(n)?;
    let (x_fit, x_val) = split.apply(&prepared.x_train);
    let pre = &prepared.preprocessing;
    let y_scaled = (&prepared.y_train - pre.target_mean) * (1.0 / pre.target_std);
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

/// The model's outputs for `x` in evaluation mode, without gradients.
pub fn outputs(model: &mut dyn Module, x: &Tensor) -> Tensor {
    model.eval();
    let _g = no_grad();
    model.forward(x)
}

/// Regression predictions in the target's own units.
pub fn regression_predictions(model: &mut dyn Module, x: &Tensor, pre: &Preprocessing) -> Vec<f32> {
    outputs(model, x)
        .to_vec()
        .iter()
        .map(|&v| v * pre.target_std + pre.target_mean)
        .collect()
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
        let merged = r.merged(&CsvReading::from_args(&["NULL".into(), "?".into()], None).unwrap());
        assert_eq!(merged.na_values, vec!["?", "-", "n/a", "NULL"]);
        assert_eq!(merged.delimiter, Some('\t'));
    }

    #[test]
    fn a_target_near_1e19_is_scaled_with_f64_statistics() {
        // The f32 standard deviation overflowed here: every metric was NaN.
        let path = temp_csv("big.csv", &linear_rows(1e19, None));
        let p = prepare(&path, "y", None, None, 0.25, 0).unwrap();
        let pre = &p.preprocessing;
        assert_eq!(pre.task, Task::Regression);
        let y: Vec<f64> = p.y_train.to_vec().iter().map(|&v| v as f64).collect();
        let mean = y.iter().sum::<f64>() / y.len() as f64;
        let std = (y.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / y.len() as f64).sqrt();
        assert!(((pre.target_mean as f64 - mean) / std).abs() < 1e-6);
        assert!(
            (pre.target_std as f64 / std - 1.0).abs() < 1e-6,
            "{}",
            pre.target_std
        );
        let scaled = (&p.y_train - pre.target_mean) * (1.0 / pre.target_std);
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
        assert_eq!(p.preprocessing.task, Task::Regression);
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
        assert_eq!(back.reading, CsvReading::default());
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
