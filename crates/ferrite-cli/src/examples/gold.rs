//! `ferrite train gold`: tomorrow's gold price (US dollars, 1985–1989) from the last 5 days with
//! an LSTM(50) and a Linear head, the course's setup: missing prices interpolated, chronological
//! 80/20 split, min-max scaling fitted on the training part only, Adam. The cell uses tanh
//! (PyTorch's default): with the course's relu cell the error varied more from seed to seed.
//! Compared honestly with the naive forecast "tomorrow equals today".

use super::{data_file, epochs, save_run, ExampleOptions};
use crate::run_dir::RunDir;
use crate::spec::ModelSpec;
use crate::tabular::{make_optimizer, OptimizerChoice};
use ferrite::data::{
    interpolate_linear, prepare_forecast, rolling_forecast, CsvOptions, DataLoader, ForecastData,
    MissingPolicy, SlidingWindow, TensorDataset,
};
use ferrite::metrics::{
    mean_absolute_error, mean_absolute_percentage_error, root_mean_squared_error,
};
use ferrite::nn::loss::{Loss, MSELoss};
use ferrite::plot::{Figure, LineChart, TrainingCurves};
use ferrite::train::{batches_of, fit, EarlyStopping, FitOptions, Monitor};
use ferrite::Tensor;
use std::path::PathBuf;

/// Days of history the model sees.
const WINDOW: usize = 5;
/// Days forecast by feeding predictions back, for the rolling-forecast plot.
const ROLLING_DAYS: usize = 30;

/// Where a forecaster's series comes from and how it was cut, saved in the model card so that
/// `evaluate` rebuilds the same test period.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct SeriesPreprocessing {
    /// Always "series".
    pub kind: String,
    /// The CSV file.
    pub csv: PathBuf,
    /// The column holding the series.
    pub column: String,
    /// Days of history per prediction.
    pub window: usize,
    /// The chronological share of the series used for training.
    pub train_fraction: f32,
}

impl SeriesPreprocessing {
    /// Reads the series, fills gaps, splits it and scales it as at training time.
    pub fn load(&self) -> anyhow::Result<(Vec<f32>, usize, ForecastData)> {
        let table = CsvOptions::new()
            .target(&self.column)
            .missing(MissingPolicy::Keep)
            .load(&self.csv)?;
        let raw = table
            .targets
            .clone()
            .ok_or_else(|| anyhow::anyhow!("{}: no column {}", self.csv.display(), self.column))?
            .to_vec();
        let missing = raw.iter().filter(|v| !v.is_finite()).count();
        let prices = interpolate_linear(&raw).map_err(|e| {
            anyhow::anyhow!("{}: column '{}': {e}", self.csv.display(), self.column)
        })?;
        let series = Tensor::from_vec(prices.clone(), [prices.len(), 1]);
        let data = prepare_forecast(
            &series,
            &SlidingWindow::new(self.window, 1),
            self.train_fraction,
        )?;
        Ok((prices, missing, data))
    }
}

/// Next-day forecasts of `model` over the test period (each from the true previous days) and
/// the naive forecasts, in the series' units: (predicted, actual, naive).
pub fn next_day_forecasts(
    model: &mut dyn ferrite::nn::Module,
    data: &ForecastData,
    window: usize,
) -> anyhow::Result<(Vec<f32>, Vec<f32>, Vec<f32>)> {
    let scaled_pred = ferrite::train::predict(model, &data.test.inputs, 256);
    let to_price = |t: &Tensor| -> anyhow::Result<Vec<f32>> {
        Ok(data
            .scaler
            .inverse_transform(&t.reshape([t.numel(), 1]))?
            .to_vec())
    };
    let last_inputs = data.test.inputs.narrow(1, window - 1, 1).detach_copy();
    Ok((
        to_price(&scaled_pred)?,
        to_price(&data.test.targets)?,
        to_price(&last_inputs)?,
    ))
}

/// RMSE, MAE and MAPE of forecasts against the actual values.
pub fn forecast_report(actual: &[f32], pred: &[f32]) -> serde_json::Value {
    serde_json::json!({
        "rmse": root_mean_squared_error(actual, pred),
        "mae": mean_absolute_error(actual, pred),
        "mape": mean_absolute_percentage_error(actual, pred),
    })
}

/// Prints one forecast's metrics.
pub fn print_forecast_line(name: &str, m: &serde_json::Value) {
    let g = |k: &str| m[k].as_f64().unwrap_or(f64::NAN);
    println!(
        "{name:<34} RMSE {:>7.3}  MAE {:>7.3}  MAPE {:>6.3}%",
        g("rmse"),
        g("mae"),
        100.0 * g("mape")
    );
}

/// Trains the LSTM, compares it with the naive forecast and writes the run folder.
pub fn run(opts: &ExampleOptions) -> anyhow::Result<PathBuf> {
    let source = SeriesPreprocessing {
        kind: "series".into(),
        csv: data_file("gold.csv")?,
        column: "price".into(),
        window: WINDOW,
        train_fraction: 0.8,
    };
    let (prices, missing, data) = source.load()?;

    // The last 10% of the training windows validate, chronologically.
    let n = data.train.len();
    let n_val = n / 10;
    let part = |t: &Tensor, a: usize, len: usize| t.narrow(0, a, len).detach_copy();
    let (x_fit, y_fit) = (
        part(&data.train.inputs, 0, n - n_val),
        part(&data.train.targets, 0, n - n_val),
    );
    let (x_val, y_val) = (
        part(&data.train.inputs, n - n_val, n_val),
        part(&data.train.targets, n - n_val, n_val),
    );

    ferrite::manual_seed(opts.seed);
    let spec = ModelSpec::LstmForecaster {
        inputs: 1,
        hidden: 50,
        activation: "tanh".into(),
    };
    let mut model = spec.build()?;
    let mse = MSELoss::new();
    let loss_fn = move |out: &Tensor, y: &Tensor| mse.forward(out, y);
    let mut train = DataLoader::new(TensorDataset::new(x_fit, y_fit), 32)?.shuffle(opts.seed);
    let mut val = batches_of(&x_val, &y_val, 256);
    let mut optimizer = make_optimizer(OptimizerChoice::Adam, model.parameters(), 1e-2)?;
    let total_epochs = epochs(opts, 100, 60);
    let options = FitOptions::new(total_epochs)
        .verbose(opts.verbose)
        .validation(&mut val)
        .callback(EarlyStopping::new(Monitor::ValLoss, total_epochs).restore_best_weights(true));
    let history = fit(
        model.as_mut(),
        &loss_fn,
        optimizer.as_mut(),
        &mut train,
        options,
    )?;

    // Next-day forecasts over the test period, each from the true previous 5 days.
    let (predicted, actual, naive) = next_day_forecasts(model.as_mut(), &data, WINDOW)?;
    let to_price = |t: &Tensor| -> anyhow::Result<Vec<f32>> {
        Ok(data
            .scaler
            .inverse_transform(&t.reshape([t.numel(), 1]))?
            .to_vec())
    };
    let (lstm_m, naive_m) = (
        forecast_report(&actual, &predicted),
        forecast_report(&actual, &naive),
    );
    let rmse_ratio =
        lstm_m["rmse"].as_f64().unwrap_or(f64::NAN) / naive_m["rmse"].as_f64().unwrap_or(f64::NAN);

    // A rolling forecast: from the end of the training part, predictions fed back as inputs.
    let rolling_scaled = rolling_forecast(
        |x| model.forward(x),
        &data.train_scaled,
        WINDOW,
        ROLLING_DAYS,
    )?;
    let rolling = to_price(&rolling_scaled)?;

    println!(
        "Gold price: {} trading days, {missing} missing prices interpolated; {} training windows, {} test days",
        prices.len(),
        n,
        actual.len()
    );
    print_forecast_line("LSTM(50) + Linear, next day", &lstm_m);
    print_forecast_line("naive: tomorrow = today", &naive_m);
    println!(
        "LSTM RMSE / naive RMSE = {rmse_ratio:.3} ({})",
        if rmse_ratio <= 1.0 {
            "the LSTM beats the naive forecast"
        } else {
            "the naive forecast is better"
        }
    );

    let run = RunDir::create(opts.out.as_deref(), "gold")?;
    let start = prices.len() - actual.len();
    let points = |v: &[f32]| {
        v.iter()
            .enumerate()
            .map(|(i, &p)| ((start + i) as f64, p as f64))
            .collect()
    };
    LineChart::new("Gold price over the test period: next-day forecasts")
        .labels("trading day", "US dollars")
        .series("actual", points(&actual))
        .series("LSTM next-day forecast", points(&predicted))
        .series("naive (yesterday's price)", points(&naive))
        .with_size(1100, 500)
        .save(run.file("forecast.png"))?;
    LineChart::new(format!(
        "Rolling forecast: {ROLLING_DAYS} days fed back from the end of training"
    ))
    .labels("trading day", "US dollars")
    .series("actual", points(&actual[..ROLLING_DAYS.min(actual.len())]))
    .series("LSTM rolling forecast", points(&rolling))
    .with_size(900, 500)
    .save(run.file("rolling_forecast.png"))?;
    TrainingCurves::new(&history).save(run.file("training_curves.png"))?;

    let metrics = serde_json::json!({
        "rmse": lstm_m["rmse"],
        "naive_rmse": naive_m["rmse"],
        "rmse_ratio_to_naive": rmse_ratio,
        "lstm": lstm_m,
        "naive": naive_m,
    });
    let preprocessing = serde_json::to_value(&source)?;
    save_run(
        &run,
        model.as_ref(),
        &spec,
        preprocessing,
        metrics,
        Some(&history),
        &[&data_file("gold.csv")?],
    )?;
    run.finish()
}
