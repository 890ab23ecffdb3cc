//! `ferrite train digits`: 8×8 handwritten digits (pixel values 0..16) with a small CNN:
//! two Conv(3×3)-BN-ReLU-MaxPool blocks and a Linear head.

use super::{data_file, epochs, save_run, ExampleOptions};
use crate::classify::{
    score_images, train_classifier, ImagePreprocessing, ImageSource, ImageSplits, ImageTraining,
    LrSchedule,
};
use crate::run_dir::RunDir;
use crate::spec::ModelSpec;
use crate::tabular::OptimizerChoice;
use ferrite::data::{NestedSplit, TrainTestSplit};
use ferrite::plot::{ConfusionMatrixChart, Figure, TrainingCurves};
use std::path::PathBuf;

/// Trains the CNN, prints its accuracy and writes the run folder.
pub fn run(opts: &ExampleOptions) -> anyhow::Result<PathBuf> {
    // Pixels 0..16 → [0, 1], shaped as 1-channel 8×8 images.
    let source = ImageSource::CsvPixels {
        csv: data_file("digits.csv")?,
        target: "digit".into(),
        scale: 1.0 / 16.0,
        side: 8,
    };
    let (images, labels, _) = source.load()?;
    let n = labels.numel();
    let label_idx: Vec<usize> = labels.to_vec().iter().map(|&v| v as usize).collect();
    // 20% test (stratified), then 15% of the rest for validation (not stratified).
    let NestedSplit { outer, inner } = TrainTestSplit::new(0.2)
        .seed(opts.seed)
        .stratify(&label_idx)
        .nested(n, 0.15, false)?;
    let data = ImageSplits::new(&images, &labels, &outer, &inner);
    let spec = ModelSpec::ConvBlocks {
        in_channels: 1,
        image: 8,
        channels: vec![16, 32],
        hidden: 64,
        classes: 10,
        dropout: None,
    };
    let settings = ImageTraining {
        epochs: epochs(opts, 20, 8),
        batch_size: 32,
        lr: 2e-3,
        optimizer: OptimizerChoice::Adam,
        class_weights: None,
        seed: opts.seed,
        verbose: opts.verbose,
        clip_grad_norm: None,
        schedule: LrSchedule::Constant,
        augmentation: None,
        label_smoothing: 0.0,
    };
    let (mut model, history) = train_classifier(&spec, &data, &settings)?;
    let (accuracy, cm) = score_images(model.as_mut(), &data.test.0, &data.test.1, 10);
    let classes: Vec<String> = (0..10).map(|d| d.to_string()).collect();
    println!(
        "Digits: {} training, {} validation, {} test images; small CNN test accuracy {accuracy:.4}",
        data.train.1.numel(),
        data.val.1.numel(),
        data.test.1.numel()
    );
    let run = RunDir::create(opts.out.as_deref(), "digits")?;
    TrainingCurves::new(&history).save(run.file("training_curves.png"))?;
    ConfusionMatrixChart::new("Digits confusion matrix (test split)", &cm)
        .class_names(&classes)
        .save(run.file("confusion_matrix.png"))?;
    let preprocessing =
        serde_json::to_value(ImagePreprocessing::new(source, classes, outer.test.clone()))?;
    let metrics = serde_json::json!({ "accuracy": accuracy, "confusion_matrix": cm.counts });
    save_run(
        &run,
        model.as_ref(),
        &spec,
        preprocessing,
        metrics,
        Some(&history),
        &[&data_file("digits.csv")?],
    )?;
    run.finish()
}
