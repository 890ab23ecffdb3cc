//! `ferrite train breast-cancer`: 30 standardised cell measurements → malignant or benign.
//! An MLP (30-16-1, BCEWithLogits, Adam) and logistic regression on the same stratified split.

use super::{data_file, epochs, save_run, ExampleOptions};
use crate::run_dir::RunDir;
use crate::spec::ModelSpec;
use crate::tabular::{
    classification_summary, outputs, prepare, probabilities, train_network, OptimizerChoice, Task,
    TrainSettings,
};
use ferrite::linear_model::LogisticRegression;
use ferrite::metrics::roc_curve;
use ferrite::plot::{ConfusionMatrixChart, Figure, RocChart, TrainingCurves};
use std::path::PathBuf;

/// Trains both models, prints their reports and writes the run folder.
pub fn run(opts: &ExampleOptions) -> anyhow::Result<PathBuf> {
    let prepared = prepare(
        &data_file("breast_cancer.csv")?,
        "diagnosis",
        None,
        Some(Task::Binary),
        0.2,
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
        outputs: 1,
    };
    let settings = TrainSettings {
        epochs: epochs(opts, 60, 25),
        batch_size: 32,
        lr: 1e-3,
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
    let mlp_probs = probabilities(Task::Binary, &outputs(model.as_mut(), &prepared.x_test));
    let (mlp_metrics, mlp_text) =
        classification_summary(Task::Binary, &classes, &y_true, &mlp_probs);

    let mut logistic = LogisticRegression::new();
    logistic.fit(&prepared.x_train, &prepared.y_train)?;
    let report = logistic.fit_report();
    if !report.converged {
        for note in &report.notes {
            eprintln!("warning: logistic regression: {note}");
        }
    }
    let lr_probs = logistic
        .predict_proba(&prepared.x_test)
        .narrow(1, 1, 1)
        .reshape([y_true.len()]);
    let (lr_metrics, lr_text) = classification_summary(Task::Binary, &classes, &y_true, &lr_probs);

    println!(
        "Breast cancer (Wisconsin diagnostic): {} training rows, {} test rows",
        prepared.y_train.numel(),
        y_true.len()
    );
    println!(
        "\n== MLP 30-16-1 (Adam, {} epochs)\n{mlp_text}",
        history.epochs.len()
    );
    println!("== Logistic regression (L2, C = 1)\n{lr_text}");

    let run = RunDir::create(opts.out.as_deref(), "breast-cancer")?;
    let mlp_roc = roc_curve(&y_true, &mlp_probs.to_vec(), true);
    let lr_roc = roc_curve(&y_true, &lr_probs.to_vec(), true);
    RocChart::new("ROC curves, breast-cancer test split")
        .curve("MLP 30-16-1", &mlp_roc)
        .curve("Logistic regression", &lr_roc)
        .save(run.file("roc.png"))?;
    TrainingCurves::new(&history).save(run.file("training_curves.png"))?;
    let cm = ferrite::metrics::confusion_matrix(
        &y_true,
        &crate::tabular::predicted_classes(Task::Binary, &mlp_probs),
        Some(&[0, 1]),
    );
    ConfusionMatrixChart::new("MLP confusion matrix (test split)", &cm)
        .class_names(&classes)
        .save(run.file("confusion_matrix.png"))?;
    let metrics = serde_json::json!({
        "accuracy": mlp_metrics["accuracy"],
        "roc_auc": mlp_metrics["roc_auc"],
        "mlp": mlp_metrics,
        "logistic_regression": lr_metrics,
    });
    save_run(
        &run,
        model.as_ref(),
        &spec,
        serde_json::to_value(&prepared.preprocessing)?,
        metrics,
        Some(&history),
        &[&data_file("breast_cancer.csv")?],
    )?;
    run.finish()
}
