//! Sequence data end to end: sliding windows, a chronological split with min-max scaling
//! fitted on the training part, an LSTM forecaster (`LSTM → Linear` on the last hidden
//! state, MSE, Adam) and a rolling multi-step forecast that feeds predictions back.

use ferrite::data::{prepare_forecast, rolling_forecast, SlidingWindow, Windows};
use ferrite::nn::loss::{Loss, MSELoss};
use ferrite::nn::{Linear, Module, RecurrentConfig, LSTM};
use ferrite::optim::{Adam, AdamConfig, Optimizer};
use ferrite::{manual_seed, no_grad, Generator, Tensor};
use std::sync::Mutex;

/// Layers draw their initial weights from the global generator: the tests take turns so that
/// each one's `manual_seed` fixes its own initialisation.
static SEQUENTIAL: Mutex<()> = Mutex::new(());

/// The course's univariate forecaster: LSTM(1, hidden, batch_first) then Linear(hidden, 1).
struct Forecaster {
    lstm: LSTM,
    head: Linear,
}

impl Forecaster {
    fn new(hidden: usize) -> Self {
        Forecaster {
            lstm: LSTM::new(RecurrentConfig::new(1, hidden).batch_first(true)).unwrap(),
            head: Linear::new(hidden, 1).unwrap(),
        }
    }

    fn predict(&self, x: &Tensor) -> Tensor {
        let (_, (h_n, _)) = self.lstm.forward_with_state(x, None);
        self.head.forward(&h_n.get(0))
    }

    fn fit(&self, data: &Windows, epochs: usize, lr: f32) {
        let mut params = self.lstm.parameters();
        params.extend(self.head.parameters());
        let mut opt = Adam::new(
            params,
            AdamConfig {
                lr,
                ..Default::default()
            },
        )
        .unwrap();
        let mut g = Generator::new(1);
        for _ in 0..epochs {
            for idx in g.permutation(data.len()).chunks(32) {
                opt.zero_grad();
                let loss = MSELoss::new()
                    .forward(
                        &self.predict(&data.inputs.index_select(0, idx)),
                        &data.targets.index_select(0, idx),
                    )
                    .unwrap();
                loss.backward();
                opt.step();
            }
        }
    }

    fn mse(&self, data: &Windows) -> f32 {
        let _g = no_grad();
        (&self.predict(&data.inputs) - &data.targets)
            .square()
            .mean()
            .item()
    }
}

/// A sine wave is learnt to high accuracy, and a 20-step rolling forecast fed with its own
/// predictions stays on the curve.
#[test]
fn lstm_forecasts_a_sine_wave_and_rolls_forward() {
    let _turn = SEQUENTIAL.lock().unwrap_or_else(|e| e.into_inner());
    manual_seed(0);
    let series = Tensor::from_vec((0..240).map(|t| (t as f32 * 0.2).sin()).collect(), [240]);
    let window = SlidingWindow::new(8, 1);
    let data = prepare_forecast(&series, &window, 0.75).unwrap();
    let model = Forecaster::new(24);
    let before = model.mse(&data.test);
    model.fit(&data.train, 60, 1e-2);
    let after = model.mse(&data.test);
    println!("sine: test MSE (scaled) before {before:.4}, after {after:.6}");
    // The scaled series spans [0, 1]: a test MSE of 1e-3 is an RMSE of about 3% of the range.
    assert!(after < 1e-3, "test MSE {after}");
    let rolled = rolling_forecast(|w| model.predict(w), &data.train_scaled, 8, 20).unwrap();
    let rolled = data
        .scaler
        .inverse_transform(&rolled.reshape([20, 1]))
        .unwrap()
        .to_vec();
    let max_err = (0..20)
        .map(|k| (rolled[k] - ((180 + k) as f32 * 0.2).sin()).abs())
        .fold(0.0, f32::max);
    println!("sine: 20-step rolling forecast, max error {max_err:.4}");
    assert!(
        max_err < 0.15,
        "rolling forecast drifted: max error {max_err}"
    );
}

/// Daily gold prices (`data/gold.csv`, missing days carried forward): the LSTM trained on the
/// first 80% forecasts the next day of the last 20% about as well as "tomorrow = today" (the
/// hard baseline for a price series) and far better than the training mean.
#[test]
fn lstm_forecasts_gold_prices_near_the_persistence_baseline() {
    let _turn = SEQUENTIAL.lock().unwrap_or_else(|e| e.into_inner());
    manual_seed(1);
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/gold.csv");
    let text = std::fs::read_to_string(path).expect("data/gold.csv");
    let mut last = f32::NAN;
    let prices: Vec<f32> = text
        .lines()
        .skip(1)
        .map(|line| {
            if let Some(v) = line
                .split(',')
                .nth(1)
                .and_then(|s| s.trim().parse::<f32>().ok())
            {
                last = v;
            }
            last
        })
        .collect();
    assert_eq!(prices.len(), 1108);
    let n_steps = 5;
    let data = prepare_forecast(
        &Tensor::from_vec(prices, [1108]),
        &SlidingWindow::new(n_steps, 1),
        0.8,
    )
    .unwrap();
    let model = Forecaster::new(16);
    model.fit(&data.train, 30, 5e-3);
    let lstm = model.mse(&data.test);
    // Persistence: the last input value of each window.
    let last_inputs = data
        .test
        .inputs
        .narrow(1, n_steps - 1, 1)
        .reshape([data.test.len(), 1]);
    let persistence = (&last_inputs - &data.test.targets).square().mean().item();
    let mean = data.train.targets.mean().item();
    let mean_baseline = (&data.test.targets - mean).square().mean().item();
    println!("gold (scaled): LSTM {lstm:.6}, persistence {persistence:.6}, training mean {mean_baseline:.6}");
    assert!(
        lstm < 2.0 * persistence,
        "LSTM {lstm} vs persistence {persistence}"
    );
    assert!(
        lstm < 0.05 * mean_baseline,
        "LSTM {lstm} vs mean {mean_baseline}"
    );
}
