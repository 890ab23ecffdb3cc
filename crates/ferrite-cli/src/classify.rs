//! Training an image classifier with a validation split that picks the best epoch.

use crate::spec::ModelSpec;
use crate::tabular::{make_optimizer, OptimizerChoice};
use ferrite::data::{DataLoader, TensorDataset};
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

/// Predicted classes of `x`, in batches, in evaluation mode.
pub fn predict_classes(model: &mut dyn Module, x: &Tensor) -> Vec<usize> {
    let out = ferrite::train::predict(model, x, 256);
    out.argmax(1, false)
        .to_vec()
        .iter()
        .map(|&v| v as usize)
        .collect()
}
