//! `ferrite train air-quality`: ozone (ppb) from solar radiation, wind and temperature, New York
//! 1973. Rows without ozone are dropped; other gaps are filled with training means. Least
//! squares, gradient descent and a small MLP compared on the same split.

use super::{data_file, epochs, save_run, ExampleOptions};
use crate::run_dir::RunDir;
use crate::spec::ModelSpec;
use crate::tabular::{
    prepare, regression_line, regression_predictions, regression_summary, train_network,
    OptimizerChoice, Task, TrainSettings,
};
use ferrite::linear_model::{GradientDescent, LinearRegression};
use ferrite::plot::{Figure, TrainingCurves, TrueVsPredicted};
use std::path::PathBuf;

/// Seeds of the MLP runs whose mean test R2 is reported.
const MLP_SEEDS: usize = 5;

/// Fits the three models, prints the comparison and writes the run folder.
pub fn run(opts: &ExampleOptions) -> anyhow::Result<PathBuf> {
    let features: Vec<String> = ["solar_r", "wind", "temp"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let prepared = prepare(
        &data_file("airquality.csv")?,
        "ozone",
        Some(&features),
        Some(Task::Regression),
        0.25,
        opts.seed,
    )?;
    let y_test = prepared.y_test.to_vec();

    let mut least_squares = LinearRegression::new();
    least_squares.fit(&prepared.x_train, &prepared.y_train)?;
    let ls_pred = least_squares.predict(&prepared.x_test).to_vec();
    let ls_metrics = regression_summary(&y_test, &ls_pred);

    let mut descent = LinearRegression::gradient_descent(GradientDescent::new(0.05, 2000));
    descent.fit(&prepared.x_train, &prepared.y_train)?;
    let gd_pred = descent.predict(&prepared.x_test).to_vec();
    let gd_metrics = regression_summary(&y_test, &gd_pred);

    let spec = ModelSpec::Mlp {
        inputs: features.len(),
        hidden: vec![16],
        outputs: 1,
    };
    let mut r2s = Vec::new();
    let mut first = None;
    let seeds = if opts.fast { 2 } else { MLP_SEEDS };
    for k in 0..seeds {
        let settings = TrainSettings {
            epochs: epochs(opts, 150, 80),
            batch_size: 16,
            lr: 1e-2,
            optimizer: OptimizerChoice::Adam,
            seed: opts.seed + k as u64,
            verbose: if k == 0 { opts.verbose } else { 0 },
            clip_grad_norm: None,
        };
        let (mut model, history) = train_network(&prepared, &spec, &settings, None)?;
        let pred =
            regression_predictions(model.as_mut(), &prepared.x_test, &prepared.preprocessing);
        let m = regression_summary(&y_test, &pred);
        r2s.push(m["r2"].as_f64().unwrap_or(f64::NAN));
        if first.is_none() {
            first = Some((model, history, pred, m));
        }
    }
    let Some((model, history, mlp_pred, mlp_metrics)) = first else {
        anyhow::bail!("no MLP was trained");
    };
    let mean_r2 = r2s.iter().sum::<f64>() / r2s.len() as f64;

    println!(
        "Air quality, New York 1973: ozone from {}; {} training rows, {} test rows",
        features.join(", "),
        prepared.y_train.numel(),
        y_test.len()
    );
    let coef = least_squares.coef().to_vec();
    println!(
        "least squares: ozone = {:.3} + {} (features standardised on the training rows; {})",
        least_squares.intercept(),
        features
            .iter()
            .zip(&coef)
            .map(|(f, c)| format!("{c:+.3}·{f}"))
            .collect::<Vec<_>>()
            .join(" "),
        least_squares.fit_report()
    );
    println!("{}", regression_line("least squares", &ls_metrics));
    println!("{}", regression_line("gradient descent", &gd_metrics));
    println!("{}", regression_line("MLP 3-16-1", &mlp_metrics));
    println!(
        "MLP test R2 over {} seeds: {} (mean {mean_r2:.4})",
        r2s.len(),
        r2s.iter()
            .map(|r| format!("{r:.4}"))
            .collect::<Vec<_>>()
            .join(", ")
    );

    let run = RunDir::create(opts.out.as_deref(), "air-quality")?;
    TrueVsPredicted::new(
        "Ozone: true vs MLP prediction (test split)",
        &y_test,
        &mlp_pred,
    )
    .save(run.file("true_vs_predicted.png"))?;
    TrueVsPredicted::new(
        "Ozone: true vs least-squares prediction (test split)",
        &y_test,
        &ls_pred,
    )
    .save(run.file("true_vs_predicted_least_squares.png"))?;
    TrainingCurves::new(&history).save(run.file("training_curves.png"))?;
    let metrics = serde_json::json!({
        "r2": mlp_metrics["r2"],
        "rmse": mlp_metrics["rmse"],
        "mlp_mean_r2": mean_r2,
        "mlp_r2_per_seed": r2s,
        "mlp": mlp_metrics,
        "least_squares": ls_metrics,
        "least_squares_coef": coef,
        "least_squares_intercept": least_squares.intercept(),
        "gradient_descent": gd_metrics,
        "gradient_descent_coef": descent.coef().to_vec(),
    });
    save_run(
        &run,
        model.as_ref(),
        &spec,
        serde_json::to_value(&prepared.preprocessing)?,
        metrics,
        Some(&history),
        &[&data_file("airquality.csv")?],
    )?;
    run.finish()
}
