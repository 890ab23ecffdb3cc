//! Training an image classifier with a validation split that picks the best epoch.

use crate::spec::ModelSpec;
use crate::tabular::{make_optimizer, OptimizerChoice};
use ferrite::data::{
    Augmentation, Augmented, ChannelStats, ColorMode, DataLoader, SplitIndices, TensorDataset,
};
use ferrite::metrics::{accuracy_score, confusion_matrix, ConfusionMatrix};
use ferrite::nn::loss::{CrossEntropyLoss, Loss};
use ferrite::nn::Module;
use ferrite::plot::{Figure, ImageGrid};
use ferrite::train::{
    batches_of, fit, Accuracy, BatchSource, EarlyStopping, FitOptions, History,
    LearningRateScheduler, Monitor,
};
use ferrite::Tensor;

/// Images (N, C, H, W) and class indices (N,) for training, validation and test.
pub struct ImageSplits {
    /// Training images and labels.
    pub train: (Tensor, Tensor),
    /// Validation images and labels (picks the best epoch).
    pub val: (Tensor, Tensor),
    /// Held-out test images and labels.
    pub test: (Tensor, Tensor),
}

impl ImageSplits {
    /// Cuts `(x, y)` into test (`outer.test`), then the rest into training and validation
    /// (`inner`, indices into `outer.train`).
    pub fn new(x: &Tensor, y: &Tensor, outer: &SplitIndices, inner: &SplitIndices) -> ImageSplits {
        let (x_rest, x_test) = outer.apply(x);
        let (y_rest, y_test) = outer.apply(y);
        let (x_train, x_val) = inner.apply(&x_rest);
        let (y_train, y_val) = inner.apply(&y_rest);
        ImageSplits {
            train: (x_train, y_train),
            val: (x_val, y_val),
            test: (x_test, y_test),
        }
    }
}

/// How the classifier is trained.
pub struct ImageTraining {
    /// Passes over the training images.
    pub epochs: usize,
    /// Images per step.
    pub batch_size: usize,
    /// Learning rate.
    pub lr: f32,
    /// Update rule.
    pub optimizer: OptimizerChoice,
    /// Per-class loss weights (class imbalance), or none.
    pub class_weights: Option<Vec<f32>>,
    /// Seed of initialisation and shuffling.
    pub seed: u64,
    /// 0, 1 or 2.
    pub verbose: u8,
    /// Clip the gradients' global 2-norm to this before every step.
    pub clip_grad_norm: Option<f32>,
    /// How the learning rate changes over the epochs.
    pub schedule: LrSchedule,
    /// Random flips, shifts or crops of the training images, drawn anew every epoch.
    pub augmentation: Option<Augmentation>,
}

/// How [`train_classifier`] changes the learning rate from epoch to epoch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LrSchedule {
    /// The same rate throughout.
    Constant,
    /// PyTorch's `CosineAnnealingLR(T_max = epochs, eta_min = 0)`, stepped after each
    /// epoch: `lr · (1 + cos(π e / epochs)) / 2` after epoch `e`.
    Cosine,
}

/// Weights inversely proportional to class frequency, `n / (K · n_k)` (scikit-learn's "balanced").
pub fn balanced_class_weights(labels: &[usize], classes: usize) -> Vec<f32> {
    let mut counts = vec![0usize; classes];
    for &l in labels {
        counts[l.min(classes - 1)] += 1;
    }
    counts
        .iter()
        .map(|&c| labels.len() as f32 / (classes as f32 * c.max(1) as f32))
        .collect()
}

/// Trains `spec`, keeping the weights of the epoch with the best validation accuracy.
pub fn train_classifier(
    spec: &ModelSpec,
    data: &ImageSplits,
    settings: &ImageTraining,
) -> anyhow::Result<(Box<dyn Module>, History)> {
    ferrite::manual_seed(settings.seed);
    let mut model = spec.build()?;
    let mut loss = CrossEntropyLoss::new();
    if let Some(w) = &settings.class_weights {
        loss = loss.weight(Tensor::from_slice(w, [w.len()]));
    }
    let loss_fn = move |out: &Tensor, y: &Tensor| loss.forward(out, y);
    let dataset = TensorDataset::new(data.train.0.clone(), data.train.1.clone());
    let mut train: Box<dyn BatchSource> = match &settings.augmentation {
        // Augmented on one background worker while the previous batch trains (one, so that
        // the random draws come in the same order every run).
        Some(augmentation) => Box::new(
            DataLoader::new(
                Augmented::new(dataset, augmentation.clone(), settings.seed)?,
                settings.batch_size,
            )?
            .shuffle(settings.seed)
            .num_workers(1),
        ),
        None => Box::new(DataLoader::new(dataset, settings.batch_size)?.shuffle(settings.seed)),
    };
    let mut val = batches_of(&data.val.0, &data.val.1, 256);
    let mut optimizer = make_optimizer(settings.optimizer, model.parameters(), settings.lr)?;
    let best = EarlyStopping::new(Monitor::ValAccuracy, settings.epochs).restore_best_weights(true);
    let mut options = FitOptions::new(settings.epochs)
        .verbose(settings.verbose)
        .accuracy(Accuracy::Multiclass)
        .validation(&mut val)
        .callback(best);
    if settings.schedule == LrSchedule::Cosine {
        let (lr, epochs) = (settings.lr as f64, settings.epochs as f64);
        options = options.callback(LearningRateScheduler::new(move |epoch, _, _| {
            (lr * 0.5 * (1.0 + (std::f64::consts::PI * epoch as f64 / epochs).cos())) as f32
        }));
    }
    options.clip_grad_norm = settings.clip_grad_norm;
    let history = fit(
        model.as_mut(),
        &loss_fn,
        optimizer.as_mut(),
        train.as_mut(),
        options,
    )?;
    Ok((model, history))
}

/// Accuracy and confusion matrix (over `classes` labels) of a classifier on images `x`
/// with true classes `y`.
pub fn score_images(
    model: &mut dyn Module,
    x: &Tensor,
    y: &Tensor,
    classes: usize,
) -> (f64, ConfusionMatrix) {
    let scored = ScoredImages::of(model, x, y, classes);
    (scored.accuracy, scored.confusion)
}

/// A classifier's predictions on labelled images, with their accuracy and confusion matrix.
pub struct ScoredImages {
    /// The true class of every image.
    pub y_true: Vec<usize>,
    /// The predicted class of every image.
    pub y_pred: Vec<usize>,
    /// The fraction predicted right.
    pub accuracy: f64,
    /// Counts over all the model's classes (rows: true, columns: predicted).
    pub confusion: ConfusionMatrix,
}

impl ScoredImages {
    /// Predicts the images `x` (true classes `y`) with `model`, scored over `classes` labels.
    pub fn of(model: &mut dyn Module, x: &Tensor, y: &Tensor, classes: usize) -> ScoredImages {
        let y_true: Vec<usize> = y.to_vec().iter().map(|&v| v as usize).collect();
        let y_pred = predict_classes(model, x);
        let labels: Vec<usize> = (0..classes).collect();
        ScoredImages {
            accuracy: accuracy_score(&y_true, &y_pred),
            confusion: confusion_matrix(&y_true, &y_pred, Some(&labels)),
            y_true,
            y_pred,
        }
    }

    /// Draws the first misclassified images of `x` (the images scored, in order) with their
    /// true and predicted class names into `path` (see [`ImageGrid::misclassified`]); images
    /// normalised per channel with `stats` are drawn with the normalisation undone, in their
    /// own colours.
    pub fn save_misclassified<S: AsRef<str>>(
        &self,
        title: &str,
        x: &Tensor,
        names: &[S],
        stats: Option<&ChannelStats>,
        path: &std::path::Path,
    ) -> anyhow::Result<()> {
        let mut grid = ImageGrid::misclassified(title, x, &self.y_true, &self.y_pred, names)?;
        if let Some(stats) = stats {
            let (mean, std) = stats.as_f32();
            grid = grid.unnormalize(&mean, &std)?;
        }
        grid.save(path)?;
        Ok(())
    }

    /// Prints the accuracy after `what` (how many images, from where) and the confusion
    /// matrix with the class names, as `evaluate` shows them.
    pub fn print(&self, what: &str, names: &[String]) {
        println!("{what}; accuracy {:.4}", self.accuracy);
        println!(
            "confusion matrix (rows: true, columns: predicted; {}):",
            names.join(", ")
        );
        for row in &self.confusion.counts {
            println!(
                "  {}",
                row.iter().map(|v| format!("{v:>5}")).collect::<String>()
            );
        }
    }
}

/// Predicted classes of `x`, in batches, in evaluation mode.
pub fn predict_classes(model: &mut dyn Module, x: &Tensor) -> Vec<usize> {
    let out = ferrite::train::predict(model, x, 256);
    out.argmax(1, false)
        .to_vec()
        .iter()
        .map(|&v| v as usize)
        .collect()
}

/// Where an image classifier's data comes from, saved in the model card so that `evaluate`
/// can reload exactly the held-out images.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum ImageSource {
    /// Image files: a folder plus a labels CSV, or one sub-folder per class.
    Folder {
        /// The image folder.
        dir: std::path::PathBuf,
        /// The labels CSV, if any.
        labels: Option<std::path::PathBuf>,
        /// Its file-name column.
        image_column: String,
        /// Its label column.
        label_column: String,
        /// Side length after resizing.
        size: usize,
        /// Labels become 1 where they are at least this, else 0 (a binary task).
        positive_threshold: Option<f32>,
    },
    /// Pixels stored as CSV rows (like digits.csv), one square grayscale image per row.
    CsvPixels {
        /// The table.
        csv: std::path::PathBuf,
        /// The label column.
        target: String,
        /// Multiplies every pixel (e.g. 1/16 for values 0..16).
        scale: f32,
        /// Side length.
        side: usize,
    },
}

impl ImageSource {
    /// Images (N, 1, H, W) in [0, 1] and class indices (N,), plus the class names in index
    /// order for a folder without a threshold (sub-folders with images, or the labels that
    /// occur, numbers in numeric order). Notes about skipped folders go to standard error.
    pub fn load(&self) -> anyhow::Result<(Tensor, Tensor, Option<Vec<String>>)> {
        self.load_as(Some(ColorMode::Gray), None)
    }

    /// [`load`](Self::load) in the colour mode `color` (none: RGB when any image file is
    /// colour, else grayscale; pixel rows of a CSV are grayscale), then normalised per
    /// channel with `normalize` (mean and std per channel), images `(N, C, H, W)`.
    pub fn load_as(
        &self,
        color: Option<ColorMode>,
        normalize: Option<&ChannelStats>,
    ) -> anyhow::Result<(Tensor, Tensor, Option<Vec<String>>)> {
        use ferrite::data::{CsvOptions, ImageOptions};
        match self {
            ImageSource::Folder {
                dir,
                labels,
                image_column,
                label_column,
                size,
                positive_threshold,
            } => {
                // Without a threshold the labels are classes, numbers included: labels 1
                // and 2 are two classes, not three with an empty class 0.
                let mut options = ImageOptions::new()
                    .auto_color()
                    .size(*size, *size)
                    .labels_as_classes(positive_threshold.is_none());
                if let Some(color) = color {
                    options = options.color(color);
                }
                if let Some(stats) = normalize {
                    let (mean, std) = stats.as_f32();
                    options = options.normalize(&mean, &std);
                }
                let set = match labels {
                    Some(l) => options.load_with_labels(dir, l, image_column, label_column),
                    None => options.load_class_folders(dir),
                }
                .map_err(|e| size_option_error(e, *size))?;
                for warning in &set.warnings {
                    eprintln!("warning: {warning}");
                }
                let names = (!set.classes.is_empty()).then(|| set.classes.clone());
                let y = match positive_threshold {
                    Some(t) => set.labels.ge_scalar(*t),
                    None => set.labels.clone(),
                };
                Ok((set.images, y, names))
            }
            ImageSource::CsvPixels {
                csv,
                target,
                scale,
                side,
            } => {
                if color == Some(ColorMode::Rgb) {
                    anyhow::bail!(
                        "{}: pixel rows of a CSV are grayscale images; they cannot be read with 3 \
                         channels",
                        csv.display()
                    );
                }
                let table = CsvOptions::new().target(target).load(csv)?;
                let mut images = pixel_rows_to_images(&table.features, *side, *scale, csv)?;
                if let Some(stats) = normalize {
                    images = stats.normalize(&images)?;
                }
                let labels = table
                    .targets
                    .clone()
                    .ok_or_else(|| anyhow::anyhow!("{}: no column {target}", csv.display()))?;
                Ok((images, labels, None))
            }
        }
    }
}

impl ImageSource {
    /// The same preprocessing (size, colour, scaling) reading the class sub-folders of `dir`
    /// (`dir/<class>/<image>`) instead: how a folder-trained model scores other images. An
    /// error for pixel rows of a CSV, which have no image files to read.
    pub fn class_folders(&self, dir: &std::path::Path) -> anyhow::Result<ImageSource> {
        let mut source = self.clone();
        match &mut source {
            // A copy with only where and how labels are read replaced, so that every
            // preprocessing field (size, and any added later) carries over.
            ImageSource::Folder {
                dir: folder,
                labels,
                positive_threshold,
                ..
            } => {
                *folder = dir.to_path_buf();
                *labels = None;
                *positive_threshold = None;
                Ok(source)
            }
            ImageSource::CsvPixels { csv, .. } => anyhow::bail!(
                "--images scores image folders; this run was trained on pixel rows of a CSV \
                 ({}), which has no image files: `ferrite evaluate RUN --csv FILE` scores \
                 new rows",
                csv.display()
            ),
        }
    }
}

/// A refusal of the image size (it cannot fit in memory) names the `--size` option that set
/// it; other errors pass through.
fn size_option_error(e: ferrite::FerriteError, size: usize) -> anyhow::Error {
    match e {
        ferrite::FerriteError::InvalidArgument { name, message } if name == "size" => {
            anyhow::anyhow!("--size {size}: {message}")
        }
        e => e.into(),
    }
}

/// Square grayscale images `(n, 1, side, side)` from the pixel columns `(n, side²)` of a
/// table read from `csv`, each pixel multiplied by `scale`.
pub fn pixel_rows_to_images(
    pixels: &Tensor,
    side: usize,
    scale: f32,
    csv: &std::path::Path,
) -> anyhow::Result<Tensor> {
    let [n, columns] = [pixels.dims()[0], pixels.dims()[1]];
    if columns != side * side {
        anyhow::bail!(
            "{}: {columns} pixel columns do not make {side}x{side} images",
            csv.display()
        );
    }
    Ok((pixels * scale).reshape([n, 1, side, side]))
}

/// What `model.json` records for an image classifier.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct ImagePreprocessing {
    /// Always "image".
    pub kind: String,
    /// Where the images come from.
    pub data: ImageSource,
    /// Class names in index order.
    pub classes: Vec<String>,
    /// Positions (in the loaded set) of the held-out test images; empty when the test
    /// images are a separate folder (`test_folder`).
    pub test_rows: Vec<usize>,
    /// The separate folder of test images (`train --test-images`), one sub-folder per class,
    /// read with the same preprocessing; absent when the test split was cut from `data`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_folder: Option<std::path::PathBuf>,
    /// The channels the images are read with: 1 (grayscale, `image`'s Rec. 709 luma) or 3
    /// (red, green, blue). Runs from before colour images recorded none: 1.
    #[serde(default = "one_channel")]
    pub channels: usize,
    /// The mean of each channel over the training images (pixels scaled to [0, 1]), which
    /// inputs are normalised with, `(x - mean) / std`; empty for runs whose images are not
    /// normalised (those from before per-channel normalisation, and the built-in examples).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mean: Vec<f64>,
    /// The standard deviation of each channel over the training images (see `mean`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub std: Vec<f64>,
}

/// What a record without `channels` (written before colour images) read: grayscale.
fn one_channel() -> usize {
    1
}

impl ImagePreprocessing {
    /// The record for `data`, its classes and its test split.
    pub fn new(data: ImageSource, classes: Vec<String>, test_rows: Vec<usize>) -> Self {
        ImagePreprocessing {
            kind: "image".into(),
            data,
            classes,
            test_rows,
            test_folder: None,
            channels: 1,
            mean: Vec::new(),
            std: Vec::new(),
        }
    }

    /// The record of images read with `channels` channels (1 or 3).
    pub fn with_channels(mut self, channels: usize) -> Self {
        self.channels = channels;
        self
    }

    /// The record of images normalised with `stats`, one mean and deviation per channel.
    pub fn with_stats(mut self, stats: &ChannelStats) -> Self {
        self.mean = stats.mean.clone();
        self.std = stats.std.clone();
        self
    }

    /// The colour mode of the recorded channels, checking them: a hand-edited or corrupt
    /// model.json is an error naming the field, never a panic.
    pub fn color(&self) -> anyhow::Result<ColorMode> {
        match self.channels {
            1 => Ok(ColorMode::Gray),
            3 => Ok(ColorMode::Rgb),
            c => anyhow::bail!(
                "model.json: the preprocessing's channels is {c}, but images are read with 1 \
                 (grayscale) or 3 (colour) channels; the file was edited or is corrupt: retrain \
                 the model"
            ),
        }
    }

    /// The recorded normalisation (none for records without one), checked: one finite mean
    /// and one positive finite deviation per channel.
    pub fn stats(&self) -> anyhow::Result<Option<ChannelStats>> {
        let c = self.color()?.channels();
        if self.mean.is_empty() && self.std.is_empty() {
            return Ok(None);
        }
        let finite = self.mean.iter().all(|m| m.is_finite())
            && self.std.iter().all(|s| s.is_finite() && *s > 0.0);
        if self.mean.len() != c || self.std.len() != c || !finite {
            anyhow::bail!(
                "model.json: the preprocessing's mean {:?} and std {:?} are not one finite mean \
                 and one positive std for each of its {c} channel(s); the file was edited or is \
                 corrupt: retrain the model",
                self.mean,
                self.std
            );
        }
        Ok(Some(ChannelStats {
            mean: self.mean.clone(),
            std: self.std.clone(),
        }))
    }

    /// The recorded data (`data`) or another source read as this model reads its inputs:
    /// the recorded channels, normalised with the recorded statistics.
    fn load_source(
        &self,
        source: &ImageSource,
    ) -> anyhow::Result<(Tensor, Tensor, Option<Vec<String>>)> {
        let color = self.color()?;
        source.load_as(Some(color), self.stats()?.as_ref())
    }

    /// The record of a model scored on the separate test folder `dir` (no test rows).
    pub fn with_test_folder(mut self, dir: std::path::PathBuf) -> Self {
        self.test_rows.clear();
        self.test_folder = Some(dir);
        self
    }

    /// The images of the class sub-folders of `dir`, read with this model's preprocessing,
    /// and their classes as the model's class indices. `dir` may lack some of the model's
    /// classes; a class folder the model does not know is an error naming it.
    pub fn load_folder(&self, dir: &std::path::Path) -> anyhow::Result<(Tensor, Tensor)> {
        let (x, y, names) = self.load_source(&self.data.class_folders(dir)?)?;
        let names = names.unwrap_or_default();
        // The folder's class i is the model's class map[i] (a folder may lack classes, which
        // shifts its indices).
        let map: Vec<Option<usize>> = names
            .iter()
            .map(|n| self.classes.iter().position(|c| c == n))
            .collect();
        let unknown: Vec<String> = names
            .iter()
            .zip(&map)
            .filter(|(_, m)| m.is_none())
            .map(|(n, _)| dir.join(n).display().to_string())
            .collect();
        if !unknown.is_empty() {
            anyhow::bail!(
                "{}: the class folder(s) {} are not classes of the model, which knows {}; \
                 remove or rename them (images of a class the model was not trained on \
                 cannot be scored)",
                dir.display(),
                unknown.join(", "),
                self.classes.join(", ")
            );
        }
        let y: Vec<f32> = y
            .to_vec()
            .iter()
            .map(|&v| map[v as usize].unwrap_or_default() as f32)
            .collect();
        let n = y.len();
        Ok((x, Tensor::from_vec(y, [n])))
    }

    /// Reloads the held-out images and labels: the recorded rows of the training data, or
    /// the separate test folder.
    pub fn test_split(&self) -> anyhow::Result<(Tensor, Tensor)> {
        if let Some(dir) = &self.test_folder {
            return self.load_folder(dir);
        }
        let (x, y, names) = self.load_source(&self.data)?;
        // Class indices are positions in the class list: if the classes changed, the
        // recorded indices would score the wrong classes.
        if let Some(names) = names.filter(|n| *n != self.classes) {
            anyhow::bail!(
                "the image data has changed since training: its classes are {} but the model \
                 was trained on {}; train again on the new data",
                names.join(", "),
                self.classes.join(", ")
            );
        }
        if self.test_rows.iter().any(|&r| r >= y.numel()) {
            anyhow::bail!("the image data has changed since training: it has fewer images than the recorded test split");
        }
        Ok((
            x.index_select(0, &self.test_rows),
            y.index_select(0, &self.test_rows),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::{ImagePreprocessing, ImageSource};
    use std::path::{Path, PathBuf};

    /// A fresh folder holding copies of the library's 3x2 test PNGs at `files` (relative
    /// path, fixture name), plus a labels CSV when given.
    fn folder(name: &str, files: &[(&str, &str)], labels: Option<&str>) -> PathBuf {
        let fixtures =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../ferrite/tests/fixtures/data/images");
        let dir = std::env::temp_dir().join(format!("ferrite-cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        for (relative, fixture) in files {
            let to = dir.join(relative);
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::copy(fixtures.join(fixture), to).unwrap();
        }
        std::fs::create_dir_all(&dir).unwrap();
        if let Some(text) = labels {
            std::fs::write(dir.join("labels.csv"), text).unwrap();
        }
        dir
    }

    fn source(dir: &Path, labels: bool, size: usize) -> ImageSource {
        ImageSource::Folder {
            dir: dir.to_path_buf(),
            labels: labels.then(|| dir.join("labels.csv")),
            image_column: "image".into(),
            label_column: "label".into(),
            size,
            positive_threshold: None,
        }
    }

    #[test]
    fn numeric_labels_are_the_classes_that_occur_and_a_changed_set_is_refused() {
        // Labels 1 and 2 once made three classes, class 0 without images.
        let files = [("x.png", "flat/x.png"), ("y.png", "flat/y.png")];
        let dir = folder("numeric", &files, Some("image,label\nx.png,2\ny.png,1\n"));
        let (x, y, names) = source(&dir, true, 8).load().unwrap();
        assert_eq!(x.dims(), &[2, 1, 8, 8]);
        assert_eq!(y.to_vec(), vec![1., 0.]);
        assert_eq!(names.unwrap(), ["1", "2"]);
        // A run whose recorded classes differ from the data's is not scored.
        let run =
            ImagePreprocessing::new(source(&dir, true, 8), vec!["1".into(), "3".into()], vec![0]);
        let msg = run.test_split().unwrap_err().to_string();
        assert!(
            msg.contains("its classes are 1, 2 but the model was trained on 1, 3"),
            "{msg}"
        );
        let same =
            ImagePreprocessing::new(source(&dir, true, 8), vec!["1".into(), "2".into()], vec![1]);
        assert_eq!(same.test_split().unwrap().1.to_vec(), vec![0.]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn another_folder_is_read_as_the_models_classes_with_its_preprocessing() {
        // A model trained like `defects`: a labels file, a threshold, classes named
        // functional (0) and defective (1).
        let training = folder("trained-on", &[("x.png", "flat/x.png")], None);
        let model = ImagePreprocessing::new(
            ImageSource::Folder {
                dir: training.clone(),
                labels: Some(training.join("labels.csv")),
                image_column: "image".into(),
                label_column: "defect_probability".into(),
                size: 8,
                positive_threshold: Some(0.5),
            },
            vec!["functional".into(), "defective".into()],
            vec![0],
        );
        // The folder's sorted classes (defective, functional) are the model's 1 and 0.
        let files = [
            ("defective/a.png", "classes/cat/a.png"),
            ("defective/b.png", "classes/cat/b.png"),
            ("functional/c.png", "classes/dog/c.png"),
        ];
        let dir = folder("other", &files, None);
        let (x, y) = model.load_folder(&dir).unwrap();
        assert_eq!(x.dims(), &[3, 1, 8, 8]);
        assert_eq!(y.to_vec(), vec![1., 1., 0.]);
        // Recorded as the run's test folder, it is the test split.
        let with_folder = model.clone().with_test_folder(dir.clone());
        assert!(with_folder.test_rows.is_empty());
        assert_eq!(
            with_folder.test_split().unwrap().1.to_vec(),
            vec![1., 1., 0.]
        );
        // A class the model does not know is named, with its folder.
        std::fs::create_dir_all(dir.join("cracked")).unwrap();
        std::fs::copy(dir.join("functional/c.png"), dir.join("cracked/c.png")).unwrap();
        let msg = model.load_folder(&dir).unwrap_err().to_string();
        assert!(
            msg.contains(&format!(
                "the class folder(s) {} are not classes of the model, which knows functional, defective",
                dir.join("cracked").display()
            )),
            "{msg}"
        );
        // Pixel rows of a CSV have no folder to read.
        let csv = ImageSource::CsvPixels {
            csv: "digits.csv".into(),
            target: "digit".into(),
            scale: 1.0,
            side: 8,
        };
        let msg = csv.class_folders(&dir).unwrap_err().to_string();
        assert!(
            msg.contains("this run was trained on pixel rows of a CSV (digits.csv)"),
            "{msg}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
        std::fs::remove_dir_all(&training).unwrap();
    }

    #[test]
    fn records_without_channels_read_one_unnormalised_channel_and_new_ones_round_trip() {
        use ferrite::data::{ChannelStats, ColorMode};
        // A record written before colour images: no channels, mean or std.
        let old = serde_json::json!({
            "kind": "image",
            "data": {"source": "folder", "dir": "d", "labels": null, "image_column": "image",
                     "label_column": "label", "size": 8, "positive_threshold": null},
            "classes": ["cat", "dog"],
            "test_rows": [0],
        });
        let pre: ImagePreprocessing = serde_json::from_value(old).unwrap();
        assert_eq!(pre.channels, 1);
        assert_eq!(pre.color().unwrap(), ColorMode::Gray);
        assert_eq!(pre.stats().unwrap(), None);
        // A colour record keeps its channels and statistics through model.json.
        let stats = ChannelStats {
            mean: vec![0.25, 0.5, 0.125],
            std: vec![0.5, 1.0, 0.25],
        };
        let colour = pre.clone().with_channels(3).with_stats(&stats);
        let text = serde_json::to_value(&colour).unwrap();
        assert_eq!(text["channels"], 3);
        assert_eq!(text["mean"], serde_json::json!([0.25, 0.5, 0.125]));
        let back: ImagePreprocessing = serde_json::from_value(text).unwrap();
        assert_eq!(back.color().unwrap(), ColorMode::Rgb);
        assert_eq!(back.stats().unwrap(), Some(stats.clone()));
        // The class folders of the fixtures (cat/a.png is colour) read with 3 channels,
        // normalised with the record's statistics.
        let fixtures =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../ferrite/tests/fixtures/data/images");
        let model = ImagePreprocessing::new(
            source(&fixtures.join("flat"), false, 8),
            vec!["cat".into(), "dog".into()],
            vec![],
        );
        let (x, y) = model
            .clone()
            .with_channels(3)
            .with_stats(&stats)
            .load_folder(&fixtures.join("classes"))
            .unwrap();
        assert_eq!(x.dims(), &[3, 3, 8, 8]);
        assert_eq!(y.to_vec(), vec![0., 0., 1.]);
        let (raw, _) = model
            .with_channels(3)
            .load_folder(&fixtures.join("classes"))
            .unwrap();
        assert_eq!(x.to_vec(), stats.normalize(&raw).unwrap().to_vec());
        // Edited records are errors naming the field.
        let msg = pre
            .clone()
            .with_channels(2)
            .color()
            .unwrap_err()
            .to_string();
        assert!(msg.contains("the preprocessing's channels is 2"), "{msg}");
        let mut short = colour.clone();
        short.std.pop();
        let msg = short.stats().unwrap_err().to_string();
        assert!(msg.contains("for each of its 3 channel(s)"), "{msg}");
    }

    #[test]
    fn an_empty_class_folder_is_no_class_and_an_impossible_size_names_the_option() {
        let files = [
            ("cat/a.png", "classes/cat/a.png"),
            ("dog/c.png", "classes/dog/c.png"),
        ];
        let dir = folder("empty-class", &files, None);
        std::fs::create_dir_all(dir.join("zebra")).unwrap();
        let (_, y, names) = source(&dir, false, 8).load().unwrap();
        assert_eq!(y.to_vec(), vec![0., 1.]);
        assert_eq!(names.unwrap(), ["cat", "dog"]);
        let size = u32::MAX as usize;
        let msg = source(&dir, false, size).load().unwrap_err().to_string();
        assert!(
            msg.starts_with(&format!(
                "--size {size}: 2 image(s) of {size}x{size} pixels"
            )) && msg.contains("choose a smaller size"),
            "{msg}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
