//! `ferrite train iris`: Fisher's iris species from 4 measurements with a 4-16-3 MLP.

use super::{data_file, epochs, save_run, ExampleOptions};
use crate::run_dir::RunDir;
use crate::spec::ModelSpec;
use crate::tabular::{
    classification_summary, outputs, prepare, probabilities, train_network, OptimizerChoice, Task,
    TrainSettings,
};
use ferrite::plot::{ConfusionMatrixChart, Figure, TrainingCurves};
use std::path::PathBuf;

/// Trains the MLP, prints its report and writes the run folder.
pub fn run(opts: &ExampleOptions) -> anyhow::Result<PathBuf> {
    let prepared = prepare(
        &data_file("iris.csv")?,
        "species",
        None,
        Some(Task::Multiclass),
        0.3,
        opts.seed,
    )?;
    let classes = prepared
        .preprocessing
        .pipeline
        .classes
        .clone()
        .unwrap_or_default();
    let spec = ModelSpec::Mlp {
        inputs: prepared.x_train.dims()[1],
        hidden: vec![16],
        outputs: classes.len(),
    };
    let settings = TrainSettings {
        epochs: epochs(opts, 150, 80),
        batch_size: 16,
        lr: 1e-2,
        optimizer: OptimizerChoice::Adam,
        seed: opts.seed,
        verbose: opts.verbose,
        clip_grad_norm: None,
    };
    let (mut model, history) = train_network(&prepared, &spec, &settings, None)?;
    let y_true: Vec<usize> = prepared
        .y_test
        .to_vec()
        .iter()
        .map(|&v| v as usize)
        .collect();
    let probs = probabilities(Task::Multiclass, &outputs(model.as_mut(), &prepared.x_test));
    let (metrics, text) = classification_summary(Task::Multiclass, &classes, &y_true, &probs);
    println!(
        "Iris: {} training rows, {} test rows",
        prepared.y_train.numel(),
        y_true.len()
    );
    println!(
        "\n== MLP 4-16-3 (Adam, {} epochs)\n{text}",
        history.epochs.len()
    );
    let run = RunDir::create(opts.out.as_deref(), "iris")?;
    TrainingCurves::new(&history).save(run.file("training_curves.png"))?;
    let labels: Vec<usize> = (0..classes.len()).collect();
    let cm = ferrite::metrics::confusion_matrix(
        &y_true,
        &crate::tabular::predicted_classes(Task::Multiclass, &probs),
        Some(&labels),
    );
    ConfusionMatrixChart::new("Iris confusion matrix (test split)", &cm)
        .class_names(&classes)
        .save(run.file("confusion_matrix.png"))?;
    save_run(
        &run,
        model.as_ref(),
        &spec,
        serde_json::to_value(&prepared.preprocessing)?,
        metrics,
        Some(&history),
        &[&data_file("iris.csv")?],
    )?;
    run.finish()
}
