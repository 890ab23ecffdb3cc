//! `ferrite train defects`: defective (defect probability ≥ 0.5) or functional solar cells
//! from ELPV electroluminescence images. LeNet-5 on 32×32 images (the course's model) and a
//! Conv-BN-ReLU-Pool network on 64×64 images, on the same stratified split; class imbalance
//! handled by balanced class weights; the best epoch kept by validation accuracy.

use super::{data_dir, epochs, save_run, ExampleOptions};
use crate::classify::{
    score_images, train_classifier, ImagePreprocessing, ImageSource, ImageSplits, ImageTraining,
    LrSchedule,
};
use crate::run_dir::RunDir;
use crate::spec::ModelSpec;
use crate::tabular::OptimizerChoice;
use ferrite::data::{balanced_class_weights, NestedSplit, TrainTestSplit};
use ferrite::metrics::ConfusionMatrix;
use ferrite::nn::models::{save_feature_maps, LeNet5};
use ferrite::plot::{ConfusionMatrixChart, Figure, TrainingCurves};
use ferrite::train::load_tensors_into;
use ferrite::{no_grad, Tensor};
use std::path::PathBuf;

/// The ELPV cells at `size`×`size`, grayscale in [0, 1], defective (p ≥ 0.5) = 1.
fn source(size: usize) -> ImageSource {
    let dir = data_dir().join("elpv64");
    ImageSource::Folder {
        dir: dir.join("images"),
        labels: Some(dir.join("labels.csv")),
        image_column: "image".into(),
        label_column: "defect_probability".into(),
        size,
        positive_threshold: Some(0.5),
    }
}

/// Trains both networks, prints their accuracy and writes the run folder.
pub fn run(opts: &ExampleOptions) -> anyhow::Result<PathBuf> {
    let (x32, labels, _) = source(32).load()?;
    let (x64, _, _) = source(64).load()?;
    let n = labels.numel();
    let y: Vec<usize> = labels.to_vec().iter().map(|&v| v as usize).collect();
    // 20% test, then 15% of the rest for validation, both stratified.
    let NestedSplit { outer, inner } = TrainTestSplit::new(0.2)
        .seed(opts.seed)
        .stratify(&y)
        .nested(n, 0.15, true)?;
    let data32 = ImageSplits::new(&x32, &labels, &outer, &inner);
    let data64 = ImageSplits::new(&x64, &labels, &outer, &inner);
    let train_labels: Vec<usize> = data32
        .train
        .1
        .to_vec()
        .iter()
        .map(|&v| v as usize)
        .collect();
    let weights = balanced_class_weights(&train_labels, 2)?;
    let training = |epochs: usize, lr: f32| ImageTraining {
        epochs,
        batch_size: 32,
        lr,
        optimizer: OptimizerChoice::Adam,
        class_weights: Some(weights.clone()),
        seed: opts.seed,
        verbose: opts.verbose,
        clip_grad_norm: None,
        schedule: LrSchedule::Constant,
        augmentation: None,
        label_smoothing: 0.0,
    };

    let lenet_spec = ModelSpec::LeNet5 { classes: 2 };
    let (mut lenet, lenet_history) =
        train_classifier(&lenet_spec, &data32, &training(epochs(opts, 25, 6), 1e-3))?;
    let (lenet_acc, lenet_cm) = score_images(lenet.as_mut(), &data32.test.0, &data32.test.1, 2);

    let blocks_spec = ModelSpec::ConvBlocks {
        in_channels: 1,
        image: 64,
        channels: vec![8, 16, 32],
        hidden: 64,
        classes: 2,
        dropout: None,
    };
    let (mut blocks, blocks_history) =
        train_classifier(&blocks_spec, &data64, &training(epochs(opts, 15, 4), 1e-3))?;
    let (blocks_acc, blocks_cm) = score_images(blocks.as_mut(), &data64.test.0, &data64.test.1, 2);

    let defective = y.iter().filter(|&&v| v == 1).count();
    println!(
        "Solar cells (ELPV): {n} images, {defective} defective; {} training, {} validation, {} test; class weights {:.3}/{:.3}",
        data32.train.1.numel(),
        data32.val.1.numel(),
        data32.test.1.numel(),
        weights[0],
        weights[1]
    );
    let show = |name: &str, acc: f64, cm: &ConfusionMatrix| {
        println!(
            "{name:<34} test accuracy {acc:.4}   confusion [[TN FP] [FN TP]] = {:?}",
            cm.counts
        );
    };
    show("LeNet-5, 32x32", lenet_acc, &lenet_cm);
    show("Conv-BN-ReLU-Pool x3, 64x64", blocks_acc, &blocks_cm);

    let run = RunDir::create(opts.out.as_deref(), "defects")?;
    let names = ["functional", "defective"];
    ConfusionMatrixChart::new("LeNet-5 confusion matrix (test split)", &lenet_cm)
        .class_names(&names)
        .save(run.file("confusion_matrix_lenet.png"))?;
    ConfusionMatrixChart::new(
        "Conv-BN-ReLU network confusion matrix (test split)",
        &blocks_cm,
    )
    .class_names(&names)
    .save(run.file("confusion_matrix_blocks.png"))?;
    TrainingCurves::new(&lenet_history).save(run.file("training_curves_lenet.png"))?;
    TrainingCurves::new(&blocks_history).save(run.file("training_curves_blocks.png"))?;

    // First-layer feature maps of LeNet-5 for the first defective test image.
    let concrete = LeNet5::new(2)?;
    let state: std::collections::BTreeMap<String, Tensor> =
        lenet.named_parameters().into_iter().collect();
    load_tensors_into(&concrete, &state)?;
    let test_labels = data32.test.1.to_vec();
    let pick = test_labels.iter().position(|&v| v == 1.0).unwrap_or(0);
    let image = data32.test.0.narrow(0, pick, 1);
    let first_layer = {
        let _g = no_grad();
        concrete
            .activations(&image)
            .into_iter()
            .next()
            .map(|(_, t)| t)
    };
    if let Some(maps) = first_layer {
        save_feature_maps(&maps.get(0), &run.path, "lenet_conv1")?;
    }

    let metrics = serde_json::json!({
        "accuracy": lenet_acc,
        "lenet5_accuracy": lenet_acc,
        "blocks_accuracy": blocks_acc,
        "lenet5_confusion_matrix": lenet_cm.counts,
        "blocks_confusion_matrix": blocks_cm.counts,
    });
    let classes = names.iter().map(|s| s.to_string()).collect();
    let preprocessing = serde_json::to_value(ImagePreprocessing::new(
        source(32),
        classes,
        outer.test.clone(),
    ))?;
    save_run(
        &run,
        lenet.as_ref(),
        &lenet_spec,
        preprocessing,
        metrics,
        Some(&lenet_history),
        &[
            &data_dir().join("elpv64").join("images"),
            &data_dir().join("elpv64").join("labels.csv"),
        ],
    )?;
    run.finish()
}
