//! Training on a user's own CSV or image folder, and `evaluate` / `predict` on saved runs.

use crate::classify::{
    balanced_class_weights, pixel_rows_to_images, train_classifier, ImagePreprocessing,
    ImageSource, ImageSplits, ImageTraining, LrSchedule, ScoredImages,
};
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
use ferrite::data::{ChannelStats, ColorMode, TrainTestSplit};
use ferrite::linear_model::{LinearRegression, LogisticRegression};
use ferrite::metrics::{confusion_matrix, roc_curve};
use ferrite::nn::Module;
use ferrite::plot::{ConfusionMatrixChart, Figure, RocChart, TrainingCurves, TrueVsPredicted};
use ferrite::train::{load_state_dict, History, ModelCard};
use ferrite::Tensor;
use std::path::{Path, PathBuf};

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

/// Writes a fitted linear model into a one-layer network (`0.weight`, `0.bias`), undoing the
/// target scaling the network path applies to regression outputs.
fn linear_network(
    prepared: &Prepared,
    weight: &Tensor,
    bias: &[f32],
) -> anyhow::Result<(ModelSpec, Box<dyn Module>)> {
    let pre = &prepared.preprocessing;
    let spec = ModelSpec::Mlp {
        inputs: pre.features.len(),
        hidden: vec![],
        outputs: bias.len(),
    };
    let model = spec.build()?;
    let (scale, shift) = (1.0 / pre.target_std, pre.target_mean);
    let params = model.named_parameters();
    params[0].1.copy_(&(weight * scale));
    params[1].1.copy_(&Tensor::from_vec(
        bias.iter().map(|b| (b - shift) * scale).collect(),
        [bias.len()],
    ));
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
            .classes
            .as_ref()
            .is_some_and(|k| k.len() == 2)
    {
        prepared.preprocessing.task = Task::Binary;
    }
    let task = prepared.preprocessing.task;
    let test_rows = prepared.y_test.numel();
    if task == Task::Regression && test_rows < 2 {
        // R² compares errors with the spread of the test targets: one row has none.
        anyhow::bail!(
            "{}: the test split has {test_rows} row; scoring a regression needs at least 2 \
             (R² of one row is undefined): use a larger --test-size",
            c.csv.display()
        );
    }
    let inputs = prepared.preprocessing.features.len();
    let mut history: Option<History> = None;
    let (spec, mut model, name) = match &c.model {
        ModelChoice::Linear => {
            if task != Task::Regression {
                anyhow::bail!("--model linear is least squares for a numeric target; use --model logistic to classify");
            }
            let mut ls = LinearRegression::new();
            ls.fit(&prepared.x_train, &prepared.y_train)?;
            println!("least squares: {}", ls.fit_report());
            let (spec, model) = linear_network(
                &prepared,
                &ls.coef().reshape([1, inputs]),
                &[ls.intercept()],
            )?;
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
            let coef = lr.coef();
            let rows = coef.numel() / inputs;
            let (spec, model) = linear_network(
                &prepared,
                &coef.reshape([rows, inputs]),
                &lr.intercept().to_vec(),
            )?;
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
    if pre.task == Task::Regression {
        let y_true = y.to_vec();
        let pred = regression_predictions(model, x, pre);
        let m = regression_summary(&y_true, &pred);
        println!("{}", regression_line("test", &m));
        if let Some(run) = run {
            TrueVsPredicted::new(
                format!("{}: true vs predicted (test split)", pre.target),
                &y_true,
                &pred,
            )
            .save(run.file("true_vs_predicted.png"))?;
        }
        return Ok(m);
    }
    let classes = pre.classes.clone().unwrap_or_default();
    let y_true: Vec<usize> = y.to_vec().iter().map(|&v| v as usize).collect();
    let probs = probabilities(pre.task, &outputs(model, x));
    let (m, text) = classification_summary(pre.task, &classes, &y_true, &probs);
    println!("{text}");
    if let Some(run) = run {
        let labels: Vec<usize> = (0..classes.len()).collect();
        let cm = confusion_matrix(
            &y_true,
            &crate::tabular::predicted_classes(pre.task, &probs),
            Some(&labels),
        );
        ConfusionMatrixChart::new("Confusion matrix (test split)", &cm)
            .class_names(&classes)
            .save(run.file("confusion_matrix.png"))?;
        if pre.task == Task::Binary {
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

/// Checks that an image model's recorded channels (and normalisation) are those its first
/// layer takes, so that a hand-edited or corrupt model.json is an error, never a panic in
/// the convolution.
fn check_image_channels(pre: &ImagePreprocessing, card: &ModelCard) -> anyhow::Result<()> {
    pre.stats()?;
    let takes = match ModelSpec::from_json(&card.architecture)? {
        ModelSpec::ConvBlocks { in_channels, .. } => in_channels,
        // LeNet-5 reads one channel.
        ModelSpec::LeNet5 { .. } => 1,
        _ => return Ok(()),
    };
    if takes != pre.channels {
        anyhow::bail!(
            "model.json: the preprocessing reads images with {} channel(s) but the model's \
             first layer takes {takes}; the file was edited or is corrupt: retrain the model",
            pre.channels
        );
    }
    Ok(())
}

/// Checks a table model's recorded preprocessing against itself and the architecture, so a
/// hand-edited or corrupt model.json is an error naming what disagrees, never a panic or a
/// silently wrong prediction.
fn check_tabular(pre: &Preprocessing, card: &ModelCard) -> anyhow::Result<()> {
    let bad = |what: String| {
        anyhow::anyhow!("model.json: {what}; the file was edited or is corrupt: retrain the model")
    };
    let n = pre.features.len();
    if n == 0 {
        return Err(bad("the preprocessing lists no feature columns".into()));
    }
    let lengths = [
        ("imputer fill values", pre.imputer.fill_values().len(), true),
        ("scaler means", pre.scaler.mean.len(), pre.scaler.with_mean),
        ("scaler scales", pre.scaler.scale.len(), pre.scaler.with_std),
    ];
    for (what, len, used) in lengths {
        if used && len != n {
            return Err(bad(format!(
                "the preprocessing has {len} {what} for {n} feature columns"
            )));
        }
    }
    let numbers = pre
        .imputer
        .fill_values()
        .iter()
        .chain(&pre.scaler.mean)
        .chain(&pre.scaler.scale)
        .chain([&pre.target_mean, &pre.target_std]);
    if let Some(v) = numbers.clone().find(|v| !v.is_finite()) {
        return Err(bad(format!(
            "the preprocessing holds the non-finite number {v}"
        )));
    }
    if pre.scaler.with_std && pre.scaler.scale.iter().any(|&s| s <= 0.0) || pre.target_std <= 0.0 {
        return Err(bad(
            "the preprocessing has a scale that is not positive".into()
        ));
    }
    if pre.task != Task::Regression && pre.classes.as_ref().is_none_or(|c| c.len() < 2) {
        return Err(bad(
            "a classifier's preprocessing lists fewer than two classes".into(),
        ));
    }
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
        let (x, y) = images.test_split()?;
        let scored = ScoredImages::of(model.as_mut(), &x, &y, images.classes.len());
        let what = match &images.test_folder {
            Some(dir) => format!("{} test images in {}", y.numel(), dir.display()),
            None => format!("{} held-out images", y.numel()),
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
    pre.reading = pre.reading.merged(reading);
    let (x, y) = match csv {
        Some(path) => {
            let (x, y) = pre.load_rows(path, true)?;
            (
                x,
                y.ok_or_else(|| {
                    anyhow::anyhow!("{}: no target column '{}'", path.display(), pre.target)
                })?,
            )
        }
        None => {
            let source = pre
                .source
                .as_deref()
                .ok_or_else(|| anyhow::anyhow!("the run does not record its data file"))?;
            let (x, y) = pre.load_rows(&resolve_data(&data, Path::new(source)), true)?;
            let y =
                y.ok_or_else(|| anyhow::anyhow!("{source}: no target column '{}'", pre.target))?;
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
        anyhow::bail!("no row has a value in the target column '{}'", pre.target);
    }
    let (x, y) = (x.index_select(0, &known), y.index_select(0, &known));
    println!("{} rows", y.numel());
    score_tabular(model.as_mut(), &pre, &x, &y, None)?;
    Ok(())
}

/// `ferrite evaluate RUN --images DIR`: an image-folder model's accuracy and confusion matrix
/// on the class sub-folders of `dir` (`dir/<class>/<image>`), read with the run's recorded
/// preprocessing. `dir` may hold only some of the model's classes.
pub fn evaluate_images(run_dir: &Path, dir: &Path) -> anyhow::Result<()> {
    let (mut model, card) = load_run(run_dir)?;
    let Ok(images) = serde_json::from_value::<ImagePreprocessing>(card.preprocessing.clone())
    else {
        let kind = card.preprocessing.get("kind").and_then(|k| k.as_str());
        if let Some(set) = kind.and_then(|k| k.strip_prefix("idx images")) {
            // The kind names the data set in parentheses: "idx images (Fashion-MNIST)".
            let set = set.trim();
            anyhow::bail!(
                "evaluate --images scores image folders; this run was trained on IDX files{}{set}, \
                 not on a folder of image files: `ferrite evaluate RUN` shows its test metrics",
                if set.is_empty() { "" } else { " " }
            );
        }
        if serde_json::from_value::<SeriesPreprocessing>(card.preprocessing.clone()).is_ok() {
            anyhow::bail!(
                "evaluate --images scores image models; this run forecasts a series: \
                 `ferrite evaluate RUN` scores its next-day forecasts"
            );
        }
        tabular_preprocessing(&card, "evaluate --images")?;
        anyhow::bail!(
            "evaluate --images scores image models; this run's model reads a table: \
             use `ferrite evaluate RUN --csv FILE`"
        );
    };
    check_image_channels(&images, &card)?;
    let (x, y) = images.load_folder(dir)?;
    let scored = ScoredImages::of(model.as_mut(), &x, &y, images.classes.len());
    scored.print(
        &format!("{} images in {}", y.numel(), dir.display()),
        &images.classes,
    );
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
    pre.reading = pre.reading.merged(reading);
    let (x, _) = pre.load_rows(csv, false)?;
    let mut records: Vec<Vec<String>> = Vec::new();
    if pre.task == Task::Regression {
        records.push(vec![pre.target.clone()]);
        for v in regression_predictions(model.as_mut(), &x, &pre) {
            records.push(vec![format!("{v}")]);
        }
    } else {
        let classes = pre.classes.clone().unwrap_or_default();
        let probs = probabilities(pre.task, &outputs(model.as_mut(), &x));
        let predicted = crate::tabular::predicted_classes(pre.task, &probs);
        records.push(
            std::iter::once(pre.target.clone())
                .chain(classes.iter().map(|c| format!("p_{c}")))
                .collect(),
        );
        let rows = probs.dims()[0];
        let p = probs.to_vec();
        for (i, &k) in predicted.iter().enumerate().take(rows) {
            let row_probs: Vec<f32> = if pre.task == Task::Binary {
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

/// `predict` for an image classifier: image files for a folder-trained model, pixel rows of
/// a CSV for a model trained on one. One line per image: its name (or row number), the
/// predicted class and every class's probability.
fn predict_images(
    model: &mut dyn Module,
    pre: &ImagePreprocessing,
    csv: Option<&Path>,
    images: Option<&Path>,
    out: Option<&Path>,
) -> anyhow::Result<()> {
    let stats = pre.stats()?;
    let (x, names) = match (&pre.data, csv, images) {
        (ImageSource::Folder { size, .. }, None, Some(path)) => {
            let mut options = ferrite::data::ImageOptions::new()
                .color(pre.color()?)
                .size(*size, *size);
            if let Some(stats) = &stats {
                let (mean, std) = stats.as_f32();
                options = options.normalize(&mean, &std);
            }
            let (x, paths) = options.load_unlabelled(path)?;
            let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
            (x, names)
        }
        (ImageSource::Folder { .. }, _, _) => {
            anyhow::bail!(
                "this model was trained on image files: predict needs --images FILE_OR_FOLDER"
            )
        }
        (
            ImageSource::CsvPixels {
                target,
                scale,
                side,
                ..
            },
            Some(path),
            None,
        ) => {
            use ferrite::data::CsvOptions;
            // The label column may be there (it is ignored) or not.
            let table = CsvOptions::new()
                .target(target)
                .load(path)
                .or_else(|_| CsvOptions::new().load(path))?;
            let mut x = pixel_rows_to_images(&table.features, *side, *scale, path)?;
            if let Some(stats) = &stats {
                x = stats.normalize(&x)?;
            }
            let rows = x.dims()[0];
            (
                x,
                (1..=rows).map(|i| i.to_string()).collect::<Vec<String>>(),
            )
        }
        (ImageSource::CsvPixels { .. }, _, _) => {
            anyhow::bail!("this model was trained on pixel rows of a CSV: predict needs --csv FILE")
        }
    };
    let probs = ferrite::train::predict(model, &x, 256).softmax(1);
    let k = pre.classes.len();
    if probs.dims()[1] != k {
        anyhow::bail!(
            "the model gives {} outputs for {k} classes",
            probs.dims()[1]
        );
    }
    let p = probs.to_vec();
    let best = probs.argmax(1, false).to_vec();
    let mut records: Vec<Vec<String>> = vec![["image", "predicted"]
        .into_iter()
        .map(String::from)
        .chain(pre.classes.iter().map(|c| format!("p_{c}")))
        .collect()];
    for ((name, row), &b) in names.iter().zip(p.chunks_exact(k)).zip(&best) {
        let class = &pre.classes[b as usize];
        records.push(
            [name.clone(), class.clone()]
                .into_iter()
                .chain(row.iter().map(|v| format!("{v:.6}")))
                .collect(),
        );
    }
    write_predictions(&csv_text(&records)?, names.len(), out)
}

/// `--channels` of `ferrite train --images`: how many channels the images are read with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Channels {
    /// Grayscale (colour images are converted with the Rec. 709 luma weights).
    #[value(name = "1")]
    Gray,
    /// Red, green and blue (grayscale images repeat their level on all three).
    #[value(name = "3")]
    Rgb,
}

impl Channels {
    /// The library's colour mode.
    pub fn color(self) -> ColorMode {
        match self {
            Channels::Gray => ColorMode::Gray,
            Channels::Rgb => ColorMode::Rgb,
        }
    }
}

/// What `ferrite train --images` was asked for.
pub struct ImageFolderTraining {
    /// The folder.
    pub dir: PathBuf,
    /// A labels CSV (columns `image`, `label`); none: one sub-folder per class.
    pub labels: Option<PathBuf>,
    /// Side length after resizing.
    pub size: usize,
    /// The channels to read (none: 3 when any training image is colour, else 1).
    pub channels: Option<Channels>,
    /// Epochs.
    pub epochs: usize,
    /// Images per step.
    pub batch_size: usize,
    /// Learning rate.
    pub lr: f32,
    /// The update rule.
    pub optimizer: OptimizerChoice,
    /// Held-out fraction (unused with `test_images`).
    pub test_size: f64,
    /// A separate folder of test images, one sub-folder per class: the held-out metrics are
    /// measured on it, and all of `dir` is for training and validation.
    pub test_images: Option<PathBuf>,
    /// Seed.
    pub seed: u64,
    /// Verbosity.
    pub verbose: u8,
    /// Run folder.
    pub out: Option<PathBuf>,
    /// Clip the gradients' global 2-norm to this before every step.
    pub clip_grad_norm: Option<f32>,
}

/// How the images of `dir` are read, said before training: the channels, and why.
fn channels_note(dir: &Path, channels: usize, asked: Option<Channels>) -> String {
    match (asked, channels) {
        (Some(_), 3) => format!(
            "{}: read in colour, 3 channels (--channels 3)",
            dir.display()
        ),
        (Some(_), _) => format!(
            "{}: read in grayscale, 1 channel (--channels 1)",
            dir.display()
        ),
        (None, 3) => format!(
            "{}: colour images, read with 3 channels (--channels 1 reads them in grayscale)",
            dir.display()
        ),
        (None, _) => format!("{}: grayscale images, read with 1 channel", dir.display()),
    }
}

/// Trains a Conv-BN-ReLU-Pool network on a user's image folder: read in colour when any
/// image is (or as `--channels` says), normalised per channel with the training split's
/// mean and deviation.
pub fn train_images(c: &ImageFolderTraining) -> anyhow::Result<PathBuf> {
    if c.size < 8 {
        anyhow::bail!("--size must be at least 8 pixels");
    }
    let source = ImageSource::Folder {
        dir: c.dir.clone(),
        labels: c.labels.clone(),
        image_column: "image".into(),
        label_column: "label".into(),
        size: c.size,
        positive_threshold: None,
    };
    // Read unnormalised: the statistics are those of the training split, cut below.
    let (images, labels, text_classes) = source.load_as(c.channels.map(Channels::color), None)?;
    let channels = images.dims()[1];
    if c.verbose > 0 {
        println!("{}", channels_note(&c.dir, channels, c.channels));
    }
    let y: Vec<usize> = labels.to_vec().iter().map(|&v| v as usize).collect();
    // A folder source without a threshold names its classes, each with at least one image.
    let names: Vec<String> = text_classes.unwrap_or_default();
    let classes = names.len();
    if classes < 2 {
        anyhow::bail!(
            "{}: found {} class(es); at least 2 are needed",
            c.dir.display(),
            classes
        );
    }
    let n = y.len();
    let mut record =
        ImagePreprocessing::new(source, names.clone(), Vec::new()).with_channels(channels);
    let data = match &c.test_images {
        Some(test_dir) => {
            // Read before training, so that a test folder with a class the model will not
            // know fails at once.
            let test = record.load_folder(test_dir)?;
            record = record.with_test_folder(test_dir.clone());
            let inner = TrainTestSplit::new(0.15).seed(c.seed + 1).split(n)?;
            let (x_train, x_val) = inner.apply(&images);
            let (y_train, y_val) = inner.apply(&labels);
            ImageSplits {
                train: (x_train, y_train),
                val: (x_val, y_val),
                test,
            }
        }
        None => {
            let outer = TrainTestSplit::new(c.test_size)
                .seed(c.seed)
                .stratify_named(&y, &names)
                .split(n)?;
            let inner = TrainTestSplit::new(0.15)
                .seed(c.seed + 1)
                .split(outer.train.len())?;
            record.test_rows = outer.test.clone();
            ImageSplits::new(&images, &labels, &outer, &inner)
        }
    };
    drop(images);
    // Per-channel statistics of the training images only: validation and test images must
    // not shape the preprocessing they are scored with.
    let stats = ChannelStats::of(&data.train.0)?;
    let normalize = |(x, y): &(Tensor, Tensor)| -> anyhow::Result<(Tensor, Tensor)> {
        Ok((stats.normalize(x)?, y.clone()))
    };
    let data = ImageSplits {
        train: normalize(&data.train)?,
        val: normalize(&data.val)?,
        test: normalize(&data.test)?,
    };
    record = record.with_stats(&stats);
    let train_y: Vec<usize> = data.train.1.to_vec().iter().map(|&v| v as usize).collect();
    let spec = ModelSpec::ConvBlocks {
        in_channels: channels,
        image: c.size,
        channels: vec![16, 32],
        hidden: 64,
        classes,
        dropout: None,
    };
    let settings = ImageTraining {
        epochs: c.epochs,
        batch_size: c.batch_size,
        lr: c.lr,
        optimizer: c.optimizer,
        class_weights: Some(balanced_class_weights(&train_y, classes)),
        seed: c.seed,
        verbose: c.verbose,
        clip_grad_norm: c.clip_grad_norm,
        schedule: LrSchedule::Constant,
        augmentation: None,
    };
    let (mut model, history) = train_classifier(&spec, &data, &settings)?;
    let scored = ScoredImages::of(model.as_mut(), &data.test.0, &data.test.1, classes);
    let accuracy = scored.accuracy;
    let test_images = data.test.1.numel();
    match &c.test_images {
        Some(test_dir) => println!(
            "{}: {n} images for training and validation, {classes} classes; {test_images} test \
             images in {}; test accuracy {accuracy:.4}",
            c.dir.display(),
            test_dir.display()
        ),
        None => println!(
            "{}: {n} images, {classes} classes; test accuracy {accuracy:.4}",
            c.dir.display()
        ),
    }
    let split = if c.test_images.is_some() {
        "test folder"
    } else {
        "test split"
    };
    let run = RunDir::create(c.out.as_deref(), "images")?;
    TrainingCurves::new(&history).save(run.file("training_curves.png"))?;
    ConfusionMatrixChart::new(format!("Confusion matrix ({split})"), &scored.confusion)
        .class_names(&names)
        .save(run.file("confusion_matrix.png"))?;
    scored.save_misclassified(
        &format!("Misclassified images ({split})"),
        &data.test.0,
        &names,
        Some(&stats),
        &run.file("misclassified.png"),
    )?;
    let preprocessing = serde_json::to_value(&record)?;
    let metrics = serde_json::json!({
        "accuracy": accuracy,
        "test_images": test_images,
        "confusion_matrix": scored.confusion.counts,
    });
    // The test folder is fingerprinted like the training data: `evaluate` re-scores it only
    // while it is unchanged.
    let recorded: Vec<&Path> = std::iter::once(c.dir.as_path())
        .chain(c.labels.as_deref())
        .chain(c.test_images.as_deref())
        .collect();
    save_run(
        &run,
        model.as_ref(),
        &spec,
        preprocessing,
        metrics,
        Some(&history),
        &recorded,
    )?;
    run.finish()
}

#[cfg(test)]
mod tests {
    use super::{csv_text, ModelChoice};

    #[test]
    fn predictions_with_commas_quotes_and_newlines_keep_their_columns() {
        // Once written by hand: a label "a,b" gave a ragged row.
        let records = vec![
            vec!["label".to_string(), "p_a,b".to_string()],
            vec!["a,b".to_string(), "0.5".to_string()],
            vec!["say \"hi\"\nthere".to_string(), "0.25".to_string()],
        ];
        let text = csv_text(&records).unwrap();
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(text.as_bytes());
        let back: Vec<Vec<String>> = reader
            .records()
            .map(|r| r.unwrap().iter().map(String::from).collect())
            .collect();
        assert_eq!(back, records);
    }

    #[test]
    fn model_choices_parse_and_reject_nonsense() {
        assert_eq!(
            ModelChoice::parse("mlp:8,4").unwrap(),
            ModelChoice::Mlp(vec![8, 4])
        );
        assert_eq!(ModelChoice::parse("linear").unwrap(), ModelChoice::Linear);
        assert!(ModelChoice::parse("mlp:8,x").is_err());
        assert!(ModelChoice::parse("forest").is_err());
    }
}
