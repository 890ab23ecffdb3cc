//! Training on a user's own CSV or image folder, and `evaluate` / `predict` on saved runs.

use crate::classify::{ImagePreprocessing, ImageSource};
use crate::examples::gold::{
    forecast_report, next_day_forecasts, print_forecast_line, SeriesPreprocessing,
};
use crate::examples::{recorded_data, resolve_data, save_run};
use crate::run_dir::RunDir;
use crate::spec::ModelSpec;
use crate::tabular::{
    classification_summary, outputs, prepare_with, probabilities, regression_line,
    regression_predictions, regression_summary, train_network, CsvReading, OptimizerChoice,
    Prepared, Preprocessing, Task, TrainSettings,
};
use ferrite::linear_model::{LinearRegression, LogisticRegression};
use ferrite::metrics::{confusion_matrix, roc_curve};
use ferrite::nn::Module;
use ferrite::plot::{ConfusionMatrixChart, Figure, RocChart, TrainingCurves, TrueVsPredicted};
use ferrite::train::{load_state_dict, History, ModelCard};
use ferrite::Tensor;
use std::path::{Path, PathBuf};

mod images;
use images::{check_image_channels, predict_images};
pub use images::{evaluate_images, train_images, Channels, ImageFolderTraining};

/// The model family of `ferrite train --csv`.
#[derive(Clone, Debug, PartialEq)]
pub enum ModelChoice {
    /// Least squares (regression).
    Linear,
    /// Logistic regression (classification).
    Logistic,
    /// A network with these hidden widths.
    Mlp(Vec<usize>),
}

impl ModelChoice {
    /// Parses `linear`, `logistic`, `mlp` or `mlp:64,32`.
    pub fn parse(s: &str) -> anyhow::Result<ModelChoice> {
        match s {
            "linear" => Ok(ModelChoice::Linear),
            "logistic" => Ok(ModelChoice::Logistic),
            "mlp" => Ok(ModelChoice::Mlp(vec![64, 32])),
            _ => {
                let widths = s.strip_prefix("mlp:").ok_or_else(|| {
                    anyhow::anyhow!("--model must be linear, logistic or mlp:W1,W2,... (got '{s}')")
                })?;
                let hidden = widths
                    .split(',')
                    .map(|w| match w.trim().parse::<usize>() {
                        Ok(v) if v > 0 => Ok(v),
                        _ => Err(anyhow::anyhow!(
                            "--model {s}: '{w}' is not a positive layer width"
                        )),
                    })
                    .collect::<anyhow::Result<Vec<usize>>>()?;
                Ok(ModelChoice::Mlp(hidden))
            }
        }
    }
}

/// What `ferrite train --csv` was asked for.
pub struct CsvTraining {
    /// The table.
    pub csv: PathBuf,
    /// The column to predict.
    pub target: String,
    /// Forced task (regression), if any.
    pub task: Option<Task>,
    /// `--task classification`.
    pub classification: bool,
    /// The model family.
    pub model: ModelChoice,
    /// Epochs for networks.
    pub epochs: usize,
    /// Rows per step.
    pub batch_size: usize,
    /// Learning rate (default by optimizer).
    pub lr: Option<f32>,
    /// The update rule.
    pub optimizer: OptimizerChoice,
    /// Held-out fraction.
    pub test_size: f64,
    /// Seed.
    pub seed: u64,
    /// Verbosity.
    pub verbose: u8,
    /// Run folder.
    pub out: Option<PathBuf>,
    /// Clip the gradients' global 2-norm to this before every step (networks only).
    pub clip_grad_norm: Option<f32>,
    /// How the CSV is read (`--na-values`, `--delimiter`), recorded in the preprocessing.
    pub reading: CsvReading,
}

/// A fitted linear model's layer (`to_linear`) as the one-layer network runs save
/// (`0.weight`, `0.bias`), predicting the scaled target as networks trained through the
/// pipeline do.
fn linear_network(
    prepared: &Prepared,
    layer: &ferrite::nn::Linear,
) -> anyhow::Result<(ModelSpec, Box<dyn Module>)> {
    let pre = &prepared.preprocessing.pipeline;
    let layer = pre.to_scaled_target(layer)?;
    let spec = ModelSpec::Mlp {
        inputs: pre.features.len(),
        hidden: vec![],
        outputs: layer.weight.dims()[0],
    };
    let model = spec.build()?;
    let params = model.named_parameters();
    params[0].1.copy_(&layer.weight);
    if let Some(bias) = &layer.bias {
        params[1].1.copy_(bias);
    }
    Ok((spec, model))
}

/// Trains on a user's CSV, reports test metrics and writes the run folder.
pub fn train_csv(c: &CsvTraining) -> anyhow::Result<PathBuf> {
    let forced = if c.classification {
        Some(Task::Multiclass)
    } else {
        c.task
    };
    let mut prepared = prepare_with(
        &c.csv,
        &c.target,
        None,
        forced,
        c.test_size,
        c.seed,
        &c.reading,
    )?;
    if c.classification
        && prepared
            .preprocessing
            .pipeline
            .classes
            .as_ref()
            .is_some_and(|k| k.len() == 2)
    {
        prepared.preprocessing.pipeline.task = Task::Binary;
    }
    let task = prepared.preprocessing.pipeline.task;
    let test_rows = prepared.y_test.numel();
    if task == Task::Regression && test_rows < 2 {
        // R² compares errors with the spread of the test targets: one row has none.
        anyhow::bail!(
            "{}: the test split has {test_rows} row; scoring a regression needs at least 2 \
             (R² of one row is undefined): use a larger --test-size",
            c.csv.display()
        );
    }
    let inputs = prepared.preprocessing.pipeline.features.len();
    let mut history: Option<History> = None;
    let (spec, mut model, name) = match &c.model {
        ModelChoice::Linear => {
            if task != Task::Regression {
                anyhow::bail!("--model linear is least squares for a numeric target; use --model logistic to classify");
            }
            let mut ls = LinearRegression::new();
            ls.fit(&prepared.x_train, &prepared.y_train)?;
            println!("least squares: {}", ls.fit_report());
            let (spec, model) = linear_network(&prepared, &ls.to_linear()?)?;
            (spec, model, "least squares".to_string())
        }
        ModelChoice::Logistic => {
            if task == Task::Regression {
                anyhow::bail!("--model logistic classifies; the target '{}' is numeric (use --task classification if its values are classes)", c.target);
            }
            let mut lr = LogisticRegression::new();
            lr.fit(&prepared.x_train, &prepared.y_train)?;
            let report = lr.fit_report();
            if !report.converged {
                for note in &report.notes {
                    eprintln!("warning: logistic regression: {note}");
                }
            }
            let (spec, model) = linear_network(&prepared, &lr.to_linear()?)?;
            (spec, model, "logistic regression".to_string())
        }
        ModelChoice::Mlp(hidden) => {
            let spec = ModelSpec::Mlp {
                inputs,
                hidden: hidden.clone(),
                outputs: prepared.preprocessing.outputs(),
            };
            let lr = c.lr.unwrap_or(match c.optimizer {
                OptimizerChoice::Adam => 1e-3,
                _ => 1e-2,
            });
            let settings = TrainSettings {
                epochs: c.epochs,
                batch_size: c.batch_size,
                lr,
                optimizer: c.optimizer,
                seed: c.seed,
                verbose: c.verbose,
                clip_grad_norm: c.clip_grad_norm,
            };
            let (model, h) = train_network(&prepared, &spec, &settings, None)?;
            history = Some(h);
            let widths: Vec<String> = hidden.iter().map(|w| w.to_string()).collect();
            (spec, model, format!("MLP {inputs}-{}", widths.join("-")))
        }
    };
    let run = RunDir::create(
        c.out.as_deref(),
        &c.csv
            .file_stem()
            .map_or("csv".into(), |s| s.to_string_lossy().to_string()),
    )?;
    println!(
        "{}: target '{}' ({:?}), {} training rows, {} test rows, model {name}",
        c.csv.display(),
        c.target,
        task,
        prepared.y_train.numel(),
        prepared.y_test.numel()
    );
    let metrics = score_tabular(
        model.as_mut(),
        &prepared.preprocessing,
        &prepared.x_test,
        &prepared.y_test,
        Some(&run),
    )?;
    if let Some(h) = &history {
        TrainingCurves::new(h).save(run.file("training_curves.png"))?;
    }
    save_run(
        &run,
        model.as_ref(),
        &spec,
        serde_json::to_value(&prepared.preprocessing)?,
        metrics,
        history.as_ref(),
        &[&c.csv],
    )?;
    run.finish()
}

/// Prints and returns the test metrics of a table model; with `run`, also draws its plots.
fn score_tabular(
    model: &mut dyn Module,
    pre: &Preprocessing,
    x: &Tensor,
    y: &Tensor,
    run: Option<&RunDir>,
) -> anyhow::Result<serde_json::Value> {
    let pipeline = &pre.pipeline;
    if pipeline.task == Task::Regression {
        let y_true = y.to_vec();
        let pred = regression_predictions(model, x, pre);
        let m = regression_summary(&y_true, &pred);
        println!("{}", regression_line("test", &m));
        if let Some(run) = run {
            TrueVsPredicted::new(
                format!("{}: true vs predicted (test split)", pipeline.target),
                &y_true,
                &pred,
            )
            .save(run.file("true_vs_predicted.png"))?;
        }
        return Ok(m);
    }
    let classes = pipeline.classes.clone().unwrap_or_default();
    let y_true: Vec<usize> = y.to_vec().iter().map(|&v| v as usize).collect();
    let probs = probabilities(pipeline.task, &outputs(model, x));
    let (m, text) = classification_summary(pipeline.task, &classes, &y_true, &probs);
    println!("{text}");
    if let Some(run) = run {
        let labels: Vec<usize> = (0..classes.len()).collect();
        let cm = confusion_matrix(
            &y_true,
            &crate::tabular::predicted_classes(pipeline.task, &probs),
            Some(&labels),
        );
        ConfusionMatrixChart::new("Confusion matrix (test split)", &cm)
            .class_names(&classes)
            .save(run.file("confusion_matrix.png"))?;
        if pipeline.task == Task::Binary {
            RocChart::new("ROC curve (test split)")
                .curve("model", &roc_curve(&y_true, &probs.to_vec(), true))
                .save(run.file("roc.png"))?;
        }
    }
    Ok(m)
}

/// Rebuilds a saved model and reads its card.
fn load_run(run_dir: &Path) -> anyhow::Result<(Box<dyn Module>, ModelCard)> {
    let run = RunDir::open(run_dir)?;
    let card = ModelCard::load(&run.file("model.json"))?;
    let spec = ModelSpec::from_json(&card.architecture)?;
    let model = spec.build()?;
    load_state_dict(model.as_ref(), &run.file("model.safetensors"))?;
    Ok((model, card))
}

/// Checks a table model's recorded preprocessing against itself and the architecture, so a
/// hand-edited or corrupt model.json is an error naming what disagrees, never a panic or a
/// silently wrong prediction.
fn check_tabular(pre: &Preprocessing, card: &ModelCard) -> anyhow::Result<()> {
    let bad = |what: String| {
        anyhow::anyhow!("model.json: {what}; the file was edited or is corrupt: retrain the model")
    };
    pre.pipeline.check().map_err(|e| bad(e.to_string()))?;
    let n = pre.pipeline.features.len();
    match ModelSpec::from_json(&card.architecture)? {
        ModelSpec::Mlp {
            inputs, outputs, ..
        } => {
            if inputs != n {
                return Err(bad(format!(
                    "the network takes {inputs} inputs but the preprocessing has {n} feature columns"
                )));
            }
            if outputs != pre.outputs() {
                return Err(bad(format!(
                    "the network has {outputs} outputs but the task needs {}",
                    pre.outputs()
                )));
            }
            Ok(())
        }
        _ => Err(bad("a table model's architecture is not an MLP".into())),
    }
}

fn tabular_preprocessing(card: &ModelCard, what: &str) -> anyhow::Result<Preprocessing> {
    let pre: Preprocessing = serde_json::from_value(card.preprocessing.clone()).map_err(|_| {
        anyhow::anyhow!(
            "{what} works on models trained on tables (`ferrite train --csv`, breast-cancer, air-quality, iris); \
             this run's model reads {}",
            card.preprocessing.get("kind").and_then(|k| k.as_str()).unwrap_or("another kind of data")
        )
    })?;
    check_tabular(&pre, card)?;
    Ok(pre)
}

/// `ferrite evaluate`: the saved model's metrics on its held-out rows or on a new CSV.
/// `reading`: markers and separator given on the command line, added to those recorded at
/// training.
pub fn evaluate(run_dir: &Path, csv: Option<&Path>, reading: &CsvReading) -> anyhow::Result<()> {
    let (mut model, card) = load_run(run_dir)?;
    // Held-out scoring re-reads the training data: it must be unchanged (fingerprints), and
    // is found at its recorded absolute path whatever the working directory.
    let data = if csv.is_none() {
        recorded_data(&card)?
    } else {
        Vec::new()
    };
    if let Ok(mut images) = serde_json::from_value::<ImagePreprocessing>(card.preprocessing.clone())
    {
        check_image_channels(&images, &card)?;
        match &mut images.data {
            ImageSource::Folder { dir, labels, .. } => {
                *dir = resolve_data(&data, dir);
                if let Some(l) = labels {
                    *l = resolve_data(&data, l);
                }
            }
            ImageSource::CsvPixels { csv, .. } => *csv = resolve_data(&data, csv),
        }
        if let Some(dir) = &mut images.test_folder {
            *dir = resolve_data(&data, dir);
        }
        if csv.is_some() {
            anyhow::bail!(
                "--csv applies to models trained on tables; this run's model reads images"
            );
        }
        let held_out = images.held_out()?;
        let scored = held_out.score(model.as_mut(), images.classes.len())?;
        let what = match &images.test_folder {
            Some(dir) => format!("{} test images in {}", held_out.len(), dir.display()),
            None => format!("{} held-out images", held_out.len()),
        };
        scored.print(&what, &images.classes);
        return Ok(());
    }
    if let Ok(mut series) =
        serde_json::from_value::<SeriesPreprocessing>(card.preprocessing.clone())
    {
        series.csv = resolve_data(&data, &series.csv);
        if csv.is_some() {
            anyhow::bail!(
                "--csv applies to models trained on tables; this run's model forecasts a series"
            );
        }
        let (_, _, data) = series.load()?;
        let (predicted, actual, naive) = next_day_forecasts(model.as_mut(), &data, series.window)?;
        println!("{} held-out days of {}", actual.len(), series.csv.display());
        let lstm = forecast_report(&actual, &predicted);
        let naive = forecast_report(&actual, &naive);
        print_forecast_line("model, next day", &lstm);
        print_forecast_line("naive: tomorrow = today", &naive);
        return Ok(());
    }
    let Ok(mut pre) = serde_json::from_value::<Preprocessing>(card.preprocessing.clone()) else {
        if csv.is_some() {
            tabular_preprocessing(&card, "evaluate --csv")?;
        }
        // Image and series runs: their test metrics were measured when training ended.
        let text = std::fs::read_to_string(run_dir.join("metrics.json"))?;
        println!(
            "test metrics measured at the end of training ({}):\n{text}",
            run_dir.join("metrics.json").display()
        );
        return Ok(());
    };
    check_tabular(&pre, &card)?;
    pre.pipeline.dialect = pre.pipeline.dialect.merged(&reading.dialect());
    let (x, y) = match csv {
        Some(path) => {
            let (x, y) = pre.load_rows(path, true)?;
            (
                x,
                y.ok_or_else(|| {
                    anyhow::anyhow!(
                        "{}: no target column '{}'",
                        path.display(),
                        pre.pipeline.target
                    )
                })?,
            )
        }
        None => {
            let source = pre
                .source
                .as_deref()
                .ok_or_else(|| anyhow::anyhow!("the run does not record its data file"))?;
            let (x, y) = pre.load_rows(&resolve_data(&data, Path::new(source)), true)?;
            let y = y.ok_or_else(|| {
                anyhow::anyhow!("{source}: no target column '{}'", pre.pipeline.target)
            })?;
            if pre.test_rows.iter().any(|&r| r >= y.numel()) {
                anyhow::bail!("{source} has changed since training: it has fewer rows than the recorded test split");
            }
            (
                x.index_select(0, &pre.test_rows),
                y.index_select(0, &pre.test_rows),
            )
        }
    };
    // Rows without a target value cannot be scored.
    let known: Vec<usize> = y
        .to_vec()
        .iter()
        .enumerate()
        .filter(|(_, v)| v.is_finite())
        .map(|(i, _)| i)
        .collect();
    if known.is_empty() {
        anyhow::bail!(
            "no row has a value in the target column '{}'",
            pre.pipeline.target
        );
    }
    let (x, y) = (x.index_select(0, &known), y.index_select(0, &known));
    println!("{} rows", y.numel());
    score_tabular(model.as_mut(), &pre, &x, &y, None)?;
    Ok(())
}

/// `ferrite predict`: one prediction per row of `csv`, as CSV.
/// `reading`: markers and separator given on the command line, added to those recorded at
/// training.
pub fn predict(
    run_dir: &Path,
    csv: Option<&Path>,
    images: Option<&Path>,
    out: Option<&Path>,
    reading: &CsvReading,
) -> anyhow::Result<()> {
    let (mut model, card) = load_run(run_dir)?;
    if let Ok(pre) = serde_json::from_value::<ImagePreprocessing>(card.preprocessing.clone()) {
        check_image_channels(&pre, &card)?;
        return predict_images(model.as_mut(), &pre, csv, images, out);
    }
    if serde_json::from_value::<SeriesPreprocessing>(card.preprocessing.clone()).is_ok() {
        anyhow::bail!(
            "predict works on table and image models; this run forecasts a series: \
             `ferrite evaluate` scores its next-day forecasts"
        );
    }
    let kind = card.preprocessing.get("kind").and_then(|k| k.as_str());
    if kind.is_some_and(|k| k.starts_with("idx images")) {
        anyhow::bail!(
            "predict does not yet read IDX files, and this run's model was trained on them \
             ({}); `ferrite evaluate` shows its test metrics",
            kind.unwrap_or_default()
        );
    }
    if images.is_some() {
        tabular_preprocessing(&card, "predict --images")?;
        anyhow::bail!(
            "--images applies to image models; this run's model reads a table (use --csv)"
        );
    }
    let csv =
        csv.ok_or_else(|| anyhow::anyhow!("predict needs --csv FILE with the rows to predict"))?;
    let mut pre = tabular_preprocessing(&card, "predict")?;
    pre.pipeline.dialect = pre.pipeline.dialect.merged(&reading.dialect());
    let (x, _) = pre.load_rows(csv, false)?;
    let pipeline = &pre.pipeline;
    let mut records: Vec<Vec<String>> = Vec::new();
    if pipeline.task == Task::Regression {
        records.push(vec![pipeline.target.clone()]);
        for v in regression_predictions(model.as_mut(), &x, &pre) {
            records.push(vec![format!("{v}")]);
        }
    } else {
        let classes = pipeline.classes.clone().unwrap_or_default();
        let probs = probabilities(pipeline.task, &outputs(model.as_mut(), &x));
        let predicted = crate::tabular::predicted_classes(pipeline.task, &probs);
        records.push(
            std::iter::once(pipeline.target.clone())
                .chain(classes.iter().map(|c| format!("p_{c}")))
                .collect(),
        );
        let rows = probs.dims()[0];
        let p = probs.to_vec();
        for (i, &k) in predicted.iter().enumerate().take(rows) {
            let row_probs: Vec<f32> = if pipeline.task == Task::Binary {
                vec![1.0 - p[i], p[i]]
            } else {
                p[i * classes.len()..(i + 1) * classes.len()].to_vec()
            };
            records.push(
                std::iter::once(classes.get(k).map_or("?", |s| s.as_str()).to_string())
                    .chain(row_probs.iter().map(|v| format!("{v:.6}")))
                    .collect(),
            );
        }
    }
    write_predictions(&csv_text(&records)?, x.dims()[0], out)
}

/// Records as CSV text, quoted where a field holds a comma, a quote or a line break (class
/// names and file paths may), so that every row has as many fields as the header.
fn csv_text(records: &[Vec<String>]) -> anyhow::Result<String> {
    let mut writer = csv::WriterBuilder::new()
        .flexible(false)
        .from_writer(Vec::new());
    for r in records {
        writer.write_record(r)?;
    }
    let bytes = writer
        .into_inner()
        .map_err(|e| anyhow::anyhow!("writing predictions: {e}"))?;
    Ok(String::from_utf8(bytes)?)
}

/// Writes prediction CSV text to `out` (atomically) or to standard output.
fn write_predictions(text: &str, rows: usize, out: Option<&Path>) -> anyhow::Result<()> {
    match out {
        Some(path) => {
            ferrite::train::write_atomic(path, text.as_bytes())?;
            eprintln!("{rows} predictions written to {}", path.display());
        }
        None => {
            use std::io::Write;
            // A reader that stops early (`| head`) is not an error.
            match std::io::stdout().lock().write_all(text.as_bytes()) {
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
                result => result?,
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
