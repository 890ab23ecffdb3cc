//! Training an image classifier with a validation split that picks the best epoch.

use crate::spec::ModelSpec;
use crate::tabular::{make_optimizer, OptimizerChoice};
use ferrite::data::{DataLoader, SplitIndices, TensorDataset};
use ferrite::metrics::{accuracy_score, confusion_matrix, ConfusionMatrix};
use ferrite::nn::loss::{CrossEntropyLoss, Loss};
use ferrite::nn::Module;
use ferrite::train::{batches_of, fit, Accuracy, EarlyStopping, FitOptions, History, Monitor};
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
    let mut train = DataLoader::new(
        TensorDataset::new(data.train.0.clone(), data.train.1.clone()),
        settings.batch_size,
    )?
    .shuffle(settings.seed);
    let mut val = batches_of(&data.val.0, &data.val.1, 256);
    let mut optimizer = make_optimizer(settings.optimizer, model.parameters(), settings.lr)?;
    let best = EarlyStopping::new(Monitor::ValAccuracy, settings.epochs).restore_best_weights(true);
    let mut options = FitOptions::new(settings.epochs)
        .verbose(settings.verbose)
        .accuracy(Accuracy::Multiclass)
        .validation(&mut val)
        .callback(best);
    options.clip_grad_norm = settings.clip_grad_norm;
    let history = fit(
        model.as_mut(),
        &loss_fn,
        optimizer.as_mut(),
        &mut train,
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
    let y_true: Vec<usize> = y.to_vec().iter().map(|&v| v as usize).collect();
    let y_pred = predict_classes(model, x);
    let labels: Vec<usize> = (0..classes).collect();
    (
        accuracy_score(&y_true, &y_pred),
        confusion_matrix(&y_true, &y_pred, Some(&labels)),
    )
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
        /// Side length after resizing (grayscale).
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
        use ferrite::data::{ColorMode, CsvOptions, ImageOptions};
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
                let options = ImageOptions::new()
                    .color(ColorMode::Gray)
                    .size(*size, *size)
                    .labels_as_classes(positive_threshold.is_none());
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
                let table = CsvOptions::new().target(target).load(csv)?;
                let images = pixel_rows_to_images(&table.features, *side, *scale, csv)?;
                let labels = table
                    .targets
                    .clone()
                    .ok_or_else(|| anyhow::anyhow!("{}: no column {target}", csv.display()))?;
                Ok((images, labels, None))
            }
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
    /// Positions (in the loaded set) of the held-out test images.
    pub test_rows: Vec<usize>,
}

impl ImagePreprocessing {
    /// The record for `data`, its classes and its test split.
    pub fn new(data: ImageSource, classes: Vec<String>, test_rows: Vec<usize>) -> Self {
        ImagePreprocessing {
            kind: "image".into(),
            data,
            classes,
            test_rows,
        }
    }

    /// Reloads the held-out images and labels.
    pub fn test_split(&self) -> anyhow::Result<(Tensor, Tensor)> {
        let (x, y, names) = self.data.load()?;
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
