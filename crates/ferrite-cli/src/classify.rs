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
    let options = FitOptions::new(settings.epochs)
        .verbose(settings.verbose)
        .accuracy(Accuracy::Multiclass)
        .validation(&mut val)
        .callback(best);
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
    /// Images (N, 1, H, W) in [0, 1] and class indices (N,), plus class names when the labels
    /// were text.
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
                let options = ImageOptions::new()
                    .color(ColorMode::Gray)
                    .size(*size, *size);
                let set = match labels {
                    Some(l) => options.load_with_labels(dir, l, image_column, label_column)?,
                    None => options.load_class_folders(dir)?,
                };
                let names = set.label_encoder.as_ref().map(|e| e.classes().to_vec());
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
        let (x, y, _) = self.data.load()?;
        if self.test_rows.iter().any(|&r| r >= y.numel()) {
            anyhow::bail!("the image data has changed since training: it has fewer images than the recorded test split");
        }
        Ok((
            x.index_select(0, &self.test_rows),
            y.index_select(0, &self.test_rows),
        ))
    }
}
