//! Training an image classifier with a validation split that picks the best epoch.

use crate::spec::ModelSpec;
use crate::tabular::{make_optimizer, OptimizerChoice};
use ferrite::data::{Augmentation, Augmented, DataLoader, Dataset, SplitIndices, TensorDataset};
use ferrite::nn::loss::{CrossEntropyLoss, Loss};
use ferrite::nn::Module;
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
    /// Cross-entropy's label smoothing ε (PyTorch's `label_smoothing`): the target is
    /// `(1 − ε)` on the true class plus `ε / K` on every class; 0 for none.
    pub label_smoothing: f32,
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

/// Trains `spec`, keeping the weights of the epoch with the best validation accuracy.
pub fn train_classifier(
    spec: &ModelSpec,
    data: &ImageSplits,
    settings: &ImageTraining,
) -> anyhow::Result<(Box<dyn Module>, History)> {
    let dataset = TensorDataset::new(data.train.0.clone(), data.train.1.clone());
    let mut val = batches_of(&data.val.0, &data.val.1, 256);
    train_classifier_on(spec, dataset, &mut val, false, settings)
}

/// [`train_classifier`] on any dataset of training images, scored on `val` after every
/// epoch. `background`: gather (decode) the batches on a loader worker while the previous
/// one trains, as for images decoded batch by batch.
pub fn train_classifier_on<D: Dataset + Send + Sync + 'static>(
    spec: &ModelSpec,
    dataset: D,
    val: &mut dyn BatchSource,
    background: bool,
    settings: &ImageTraining,
) -> anyhow::Result<(Box<dyn Module>, History)> {
    ferrite::manual_seed(settings.seed);
    let mut model = spec.build()?;
    let mut loss = CrossEntropyLoss::new().label_smoothing(settings.label_smoothing);
    if let Some(w) = &settings.class_weights {
        loss = loss.weight(Tensor::from_slice(w, [w.len()]));
    }
    let loss_fn = move |out: &Tensor, y: &Tensor| loss.forward(out, y);
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
        None => {
            let loader = DataLoader::new(dataset, settings.batch_size)?.shuffle(settings.seed);
            Box::new(if background {
                loader.num_workers(1)
            } else {
                loader
            })
        }
    };
    let mut optimizer = make_optimizer(settings.optimizer, model.parameters(), settings.lr)?;
    let best = EarlyStopping::new(Monitor::ValAccuracy, settings.epochs).restore_best_weights(true);
    let mut options = FitOptions::new(settings.epochs)
        .verbose(settings.verbose)
        .accuracy(Accuracy::Multiclass)
        .validation(val)
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

mod record;
mod scoring;
mod source;
#[cfg(test)]
mod tests;

pub use record::ImagePreprocessing;
pub use scoring::{predict_classes, score_images, HeldOut, ScoredImages};
pub use source::{pixel_rows_to_images, ImageSource};
