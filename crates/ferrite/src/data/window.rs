//! Sequence data for forecasting: sliding windows over a series (`n_steps` in, `horizon` out;
//! one or several features), a chronological train/test split, min-max scaling fitted on the
//! training part only, and a rolling multi-step forecast that feeds predictions back.
//!
//! A series is `(T)` (one feature) or `(T, F)` (several features, one row per time step).

use super::MinMaxScaler;
use crate::error::{FerriteError, Result};
use crate::Tensor;

/// Windows cut from a series: model inputs and the values that follow each of them.
#[derive(Clone, Debug)]
pub struct Windows {
    /// `(W, n_steps, F)`: the `n_steps` rows before each target, ready for a batch-first RNN.
    pub inputs: Tensor,
    /// `(W, horizon · C)`: the next `horizon` rows of the `C` target columns, time-major
    /// (`[t+1: c0 c1 …, t+2: c0 c1 …]`), ready for a `Linear(…, horizon · C)` head.
    pub targets: Tensor,
}

impl Windows {
    /// The number of windows `W`.
    pub fn len(&self) -> usize {
        self.inputs.dims()[0]
    }

    /// True when the series was too short for a single window.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// How to cut windows: `n_steps` input rows, `horizon` target rows, which columns are targets.
///
/// ```
/// use ferrite::data::SlidingWindow;
/// use ferrite::Tensor;
/// // The course's split_sequence: [10, 20, …, 90] with 3 steps in, 1 out.
/// let series = Tensor::arange(10.0, 100.0, 10.0);
/// let w = SlidingWindow::new(3, 1).apply(&series).unwrap();
/// assert_eq!(w.inputs.dims(), &[6, 3, 1]);
/// assert_eq!(w.inputs.get(0).to_vec(), vec![10.0, 20.0, 30.0]);
/// assert_eq!(w.targets.to_vec(), vec![40.0, 50.0, 60.0, 70.0, 80.0, 90.0]);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct SlidingWindow {
    /// Rows in each input window.
    pub n_steps: usize,
    /// Rows predicted after each window.
    pub horizon: usize,
    /// Columns to predict (`None`: all of them).
    pub target_columns: Option<Vec<usize>>,
}

impl SlidingWindow {
    /// Windows of `n_steps` rows predicting the next `horizon` rows of every column.
    pub fn new(n_steps: usize, horizon: usize) -> Self {
        SlidingWindow {
            n_steps,
            horizon,
            target_columns: None,
        }
    }

    /// Predicts only `columns` (the inputs keep every column).
    pub fn target_columns(mut self, columns: &[usize]) -> Self {
        self.target_columns = Some(columns.to_vec());
        self
    }

    /// The number of windows a series of `len` rows gives: `len − n_steps − horizon + 1`.
    pub fn count(&self, len: usize) -> usize {
        (len + 1).saturating_sub(self.n_steps + self.horizon)
    }

    /// Cuts every window (stride 1) from `series` `(T)` or `(T, F)`.
    pub fn apply(&self, series: &Tensor) -> Result<Windows> {
        let (len, features, data) = series_rows(series)?;
        if self.n_steps == 0 || self.horizon == 0 {
            return Err(FerriteError::invalid(
                "window",
                format!(
                    "n_steps and horizon must be at least 1, got {} and {}",
                    self.n_steps, self.horizon
                ),
            ));
        }
        let columns: Vec<usize> = match &self.target_columns {
            None => (0..features).collect(),
            Some(c) => {
                if c.is_empty() || c.iter().any(|&k| k >= features) {
                    return Err(FerriteError::invalid(
                        "target_columns",
                        format!("{c:?} must be non-empty and below the {features} columns of the series"),
                    ));
                }
                c.clone()
            }
        };
        let count = self.count(len);
        if count == 0 {
            return Err(FerriteError::invalid(
                "window",
                format!(
                    "a series of {len} steps is too short for windows of {} steps plus a horizon of {}",
                    self.n_steps, self.horizon
                ),
            ));
        }
        let mut inputs = Vec::with_capacity(count * self.n_steps * features);
        let mut targets = Vec::with_capacity(count * self.horizon * columns.len());
        for w in 0..count {
            inputs.extend_from_slice(&data[w * features..(w + self.n_steps) * features]);
            for t in w + self.n_steps..w + self.n_steps + self.horizon {
                targets.extend(columns.iter().map(|&c| data[t * features + c]));
            }
        }
        Ok(Windows {
            inputs: Tensor::from_vec(inputs, [count, self.n_steps, features]),
            targets: Tensor::from_vec(targets, [count, self.horizon * columns.len()]),
        })
    }
}

/// `(T, F, row-major data)` of a `(T)` or `(T, F)` series with finite values.
fn series_rows(series: &Tensor) -> Result<(usize, usize, Vec<f32>)> {
    let (len, features) = match series.dims() {
        [t] => (*t, 1),
        [t, f] if *f > 0 => (*t, *f),
        other => {
            return Err(FerriteError::Shape {
                op: "series".into(),
                message: format!("expected a (T) or (T, F) series, got shape {other:?}"),
            })
        }
    };
    let data = series.to_vec();
    if let Some(i) = data.iter().position(|v| !v.is_finite()) {
        return Err(FerriteError::invalid(
            "series",
            format!(
                "value at step {} column {} is {} (fill or drop missing values first)",
                i / features,
                i % features,
                data[i]
            ),
        ));
    }
    Ok((len, features, data))
}

/// Splits a series along time: the first `round(train_fraction · T)` rows for training, the
/// rest for testing, never shuffled (the test part must lie in the training part's future).
///
/// ```
/// use ferrite::data::chronological_split;
/// use ferrite::Tensor;
/// let (train, test) = chronological_split(&Tensor::arange(0.0, 10.0, 1.0), 0.8).unwrap();
/// assert_eq!(test.to_vec(), vec![8.0, 9.0]);
/// assert_eq!(train.numel(), 8);
/// ```
pub fn chronological_split(series: &Tensor, train_fraction: f32) -> Result<(Tensor, Tensor)> {
    if !(train_fraction > 0.0 && train_fraction < 1.0) {
        return Err(FerriteError::invalid(
            "train_fraction",
            format!("must be in (0, 1), got {train_fraction}"),
        ));
    }
    if series.rank() == 0 || series.rank() > 2 {
        return Err(FerriteError::Shape {
            op: "chronological_split".into(),
            message: format!(
                "expected a (T) or (T, F) series, got shape {:?}",
                series.dims()
            ),
        });
    }
    let len = series.dims()[0];
    let n_train = (train_fraction * len as f32).round() as usize;
    if n_train == 0 || n_train == len {
        return Err(FerriteError::invalid(
            "train_fraction",
            format!("{train_fraction} of {len} steps leaves one part empty"),
        ));
    }
    Ok((
        series.narrow(0, 0, n_train).detach_copy(),
        series.narrow(0, n_train, len - n_train).detach_copy(),
    ))
}

/// A series prepared for forecasting: scaled windows for training and testing, and the
/// scaler (fitted on the training part only) to map predictions back.
#[derive(Clone, Debug)]
pub struct ForecastData {
    /// Windows whose inputs and targets all lie in the training part.
    pub train: Windows,
    /// Windows whose targets are the test part, in order (their inputs may reach back into
    /// the training part's last `n_steps` rows, as a forecaster at that time would see).
    pub test: Windows,
    /// Min-max scaler fitted on the training rows, one range per column.
    pub scaler: MinMaxScaler,
    /// The scaled training part `(T_train, F)`, the history a rolling forecast starts from.
    pub train_scaled: Tensor,
}

/// Splits `series` chronologically, fits a [`MinMaxScaler`] on the training part only, scales
/// both parts with it and cuts windows: the usual preparation for an LSTM forecaster.
///
/// ```
/// use ferrite::data::{prepare_forecast, SlidingWindow};
/// use ferrite::Tensor;
/// let series = Tensor::arange(0.0, 20.0, 1.0);
/// let d = prepare_forecast(&series, &SlidingWindow::new(3, 1), 0.75).unwrap();
/// assert_eq!((d.train.len(), d.test.len()), (12, 5));
/// // Scaled by the training range 0..=14: the test part (15..=19) lies above 1.
/// assert!((d.test.targets.to_vec()[0] - 15.0 / 14.0).abs() < 1e-6);
/// ```
pub fn prepare_forecast(
    series: &Tensor,
    window: &SlidingWindow,
    train_fraction: f32,
) -> Result<ForecastData> {
    let (_, features, _) = series_rows(series)?;
    let (train, test) = chronological_split(series, train_fraction)?;
    let as_2d = |t: &Tensor| t.reshape([t.dims()[0], features]);
    let (train, test) = (as_2d(&train), as_2d(&test));
    let mut scaler = MinMaxScaler::new();
    scaler.fit(&train)?;
    let train_scaled = scaler.transform(&train)?;
    let test_scaled = scaler.transform(&test)?;
    let n_train = train.dims()[0];
    let context = window.n_steps.min(n_train);
    let test_with_context = Tensor::cat(
        &[
            train_scaled.narrow(0, n_train - context, context),
            test_scaled,
        ],
        0,
    );
    Ok(ForecastData {
        train: window.apply(&train_scaled)?,
        test: window.apply(&test_with_context)?,
        scaler,
        train_scaled,
    })
}

/// Forecasts `steps` rows past `history` `(≥ n_steps)` or `(≥ n_steps, F)` by feeding each
/// prediction back as the newest input row. `model` maps a `(1, n_steps, F)` window to the
/// next row (`F` values; a multi-step model's first `F` outputs are used). Runs without
/// recording gradients. Returns `(steps)` for a 1-D history, else `(steps, F)`.
///
/// ```
/// use ferrite::data::rolling_forecast;
/// use ferrite::Tensor;
/// // A "model" that continues a linear trend: next = 2·last − previous.
/// let trend = |w: &Tensor| {
///     let v = w.to_vec();
///     Tensor::from_vec(vec![2.0 * v[v.len() - 1] - v[v.len() - 2]], [1, 1])
/// };
/// let f = rolling_forecast(trend, &Tensor::from_vec(vec![1.0, 2.0, 3.0], [3]), 3, 4).unwrap();
/// assert_eq!(f.to_vec(), vec![4.0, 5.0, 6.0, 7.0]);
/// ```
pub fn rolling_forecast(
    mut model: impl FnMut(&Tensor) -> Tensor,
    history: &Tensor,
    n_steps: usize,
    steps: usize,
) -> Result<Tensor> {
    let (len, features, data) = series_rows(history)?;
    if n_steps == 0 || len < n_steps {
        return Err(FerriteError::invalid(
            "history",
            format!("needs at least n_steps = {n_steps} (≥ 1) rows, got {len}"),
        ));
    }
    let _no_grad = crate::no_grad();
    let mut window: Vec<f32> = data[(len - n_steps) * features..].to_vec();
    let mut out = Vec::with_capacity(steps * features);
    for _ in 0..steps {
        let prediction = model(&Tensor::from_vec(window.clone(), [1, n_steps, features])).to_vec();
        if prediction.len() < features {
            return Err(FerriteError::Shape {
                op: "rolling_forecast".into(),
                message: format!(
                    "the model returned {} values, the series has {features} columns",
                    prediction.len()
                ),
            });
        }
        let next = &prediction[..features];
        out.extend_from_slice(next);
        window.drain(..features);
        window.extend_from_slice(next);
    }
    Ok(if history.rank() == 1 {
        Tensor::from_vec(out, [steps])
    } else {
        Tensor::from_vec(out, [steps, features])
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multivariate_windows_with_a_target_column_and_horizon() {
        // Columns: t and 10·t, rows t = 0..6.
        let data: Vec<f32> = (0..6).flat_map(|t| [t as f32, 10.0 * t as f32]).collect();
        let series = Tensor::from_vec(data, [6, 2]);
        let w = SlidingWindow::new(2, 2)
            .target_columns(&[1])
            .apply(&series)
            .unwrap();
        assert_eq!(w.inputs.dims(), &[3, 2, 2]);
        assert_eq!(w.inputs.get(1).to_vec(), vec![1.0, 10.0, 2.0, 20.0]);
        assert_eq!(
            w.targets.to_vec2(),
            vec![vec![20.0, 30.0], vec![30.0, 40.0], vec![40.0, 50.0]]
        );
        let all = SlidingWindow::new(4, 1).apply(&series).unwrap();
        assert_eq!(
            all.targets.to_vec2(),
            vec![vec![4.0, 40.0], vec![5.0, 50.0]]
        );
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        let s = Tensor::arange(0.0, 5.0, 1.0);
        assert!(SlidingWindow::new(5, 1).apply(&s).is_err());
        assert!(SlidingWindow::new(0, 1).apply(&s).is_err());
        assert!(SlidingWindow::new(2, 1)
            .target_columns(&[1])
            .apply(&s)
            .is_err());
        assert!(chronological_split(&s, 1.0).is_err());
        assert!(chronological_split(&s, 0.05).is_err());
        let nan = Tensor::from_vec(vec![1.0, f32::NAN, 3.0], [3]);
        let e = SlidingWindow::new(1, 1)
            .apply(&nan)
            .unwrap_err()
            .to_string();
        assert!(e.contains("step 1"), "{e}");
        assert!(rolling_forecast(|w| w.clone(), &s, 6, 2).is_err());
    }

    /// The scaler sees only the training rows, and test targets are exactly the test part.
    #[test]
    fn forecast_preparation_scales_with_training_statistics_only() {
        let series = Tensor::from_vec((0..10).map(|t| (t * t) as f32).collect(), [10]);
        let d = prepare_forecast(&series, &SlidingWindow::new(2, 1), 0.6).unwrap();
        assert_eq!((d.scaler.data_min[0], d.scaler.data_max[0]), (0.0, 25.0));
        let test_targets: Vec<f32> = d.test.targets.to_vec().iter().map(|v| v * 25.0).collect();
        let want = [36.0, 49.0, 64.0, 81.0];
        assert!(
            test_targets
                .iter()
                .zip(want)
                .all(|(a, b)| (a - b).abs() < 1e-4),
            "{test_targets:?}"
        );
        // The first test window is the last two training rows (16, 25), scaled.
        assert_eq!(d.test.inputs.get(0).to_vec(), vec![16.0 / 25.0, 1.0]);
        assert_eq!(d.train.len(), 4);
        let back = d
            .scaler
            .inverse_transform(&d.test.targets)
            .unwrap()
            .to_vec();
        assert!((back[0] - 36.0).abs() < 1e-4);
    }
}
