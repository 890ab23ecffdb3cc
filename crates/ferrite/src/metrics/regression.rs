//! Regression metrics, as scikit-learn defines them (uniform average, no sample weights).

use super::check_lengths;

/// Machine epsilon of f64: scikit-learn's floor for `|y|` in MAPE.
const MAPE_EPSILON: f64 = f64::EPSILON;

fn pairs<'a>(
    metric: &str,
    y_true: &'a [f32],
    y_pred: &'a [f32],
) -> impl Iterator<Item = (f64, f64)> + 'a {
    check_lengths(metric, y_true.len(), y_pred.len());
    assert!(!y_true.is_empty(), "{metric}: no samples");
    y_true
        .iter()
        .zip(y_pred)
        .map(|(&t, &p)| (t as f64, p as f64))
}

/// Mean absolute error `mean |y − ŷ|`.
pub fn mean_absolute_error(y_true: &[f32], y_pred: &[f32]) -> f64 {
    pairs("mean_absolute_error", y_true, y_pred)
        .map(|(t, p)| (t - p).abs())
        .sum::<f64>()
        / y_true.len() as f64
}

/// Mean squared error `mean (y − ŷ)²`.
pub fn mean_squared_error(y_true: &[f32], y_pred: &[f32]) -> f64 {
    pairs("mean_squared_error", y_true, y_pred)
        .map(|(t, p)| (t - p).powi(2))
        .sum::<f64>()
        / y_true.len() as f64
}

/// Root mean squared error `sqrt(MSE)`.
pub fn root_mean_squared_error(y_true: &[f32], y_pred: &[f32]) -> f64 {
    mean_squared_error(y_true, y_pred).sqrt()
}

/// Mean absolute percentage error `mean |y − ŷ| / max(|y|, ε)`, as a fraction (not ×100).
///
/// Zero targets: like scikit-learn, the denominator is floored at ε = 2.2e-16 (f64 machine
/// epsilon), so a zero target with a wrong prediction gives a huge value that dominates the
/// mean, a sign that MAPE is the wrong metric for that data. Nothing is skipped.
///
/// ```
/// use ferrite::metrics::mean_absolute_percentage_error;
/// assert!((mean_absolute_percentage_error(&[100.0, 200.0], &[110.0, 190.0]) - 0.075).abs() < 1e-12);
/// ```
pub fn mean_absolute_percentage_error(y_true: &[f32], y_pred: &[f32]) -> f64 {
    pairs("mean_absolute_percentage_error", y_true, y_pred)
        .map(|(t, p)| (t - p).abs() / t.abs().max(MAPE_EPSILON))
        .sum::<f64>()
        / y_true.len() as f64
}

fn mean(v: impl Iterator<Item = f64>) -> f64 {
    let (s, n) = v.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    s / n as f64
}

/// scikit-learn's `force_finite` rule for a ratio score `1 − num/den`: a constant target
/// (`den == 0`) scores 1 when predicted exactly and 0 otherwise.
fn one_minus_ratio(num: f64, den: f64) -> f64 {
    if den != 0.0 {
        1.0 - num / den
    } else if num == 0.0 {
        1.0
    } else {
        0.0
    }
}

/// Coefficient of determination `1 − Σ(y − ŷ)² / Σ(y − ȳ)²` (1 is perfect; can be negative).
/// A constant `y_true` gives 1 if predicted exactly, else 0 (scikit-learn's `force_finite`).
pub fn r2_score(y_true: &[f32], y_pred: &[f32]) -> f64 {
    let y_mean = mean(pairs("r2_score", y_true, y_pred).map(|(t, _)| t));
    let ss_res: f64 = pairs("r2_score", y_true, y_pred)
        .map(|(t, p)| (t - p).powi(2))
        .sum();
    let ss_tot: f64 = y_true.iter().map(|&t| (t as f64 - y_mean).powi(2)).sum();
    one_minus_ratio(ss_res, ss_tot)
}

/// Explained variance `1 − Var(y − ŷ) / Var(y)` (R² without penalising a constant bias).
/// Constant `y_true`: 1 if the residual variance is 0, else 0.
pub fn explained_variance_score(y_true: &[f32], y_pred: &[f32]) -> f64 {
    let resid: Vec<f64> = pairs("explained_variance_score", y_true, y_pred)
        .map(|(t, p)| t - p)
        .collect();
    let r_mean = mean(resid.iter().copied());
    let var_res = mean(resid.iter().map(|r| (r - r_mean).powi(2)));
    let y_mean = mean(y_true.iter().map(|&t| t as f64));
    let var_y = mean(y_true.iter().map(|&t| (t as f64 - y_mean).powi(2)));
    one_minus_ratio(var_res, var_y)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_form_values() {
        let (t, p) = ([1.0f32, 2.0, 3.0], [2.0f32, 2.0, 5.0]);
        assert!((mean_absolute_error(&t, &p) - 1.0).abs() < 1e-12);
        assert!((mean_squared_error(&t, &p) - 5.0 / 3.0).abs() < 1e-12);
        assert!((root_mean_squared_error(&t, &p) - (5.0f64 / 3.0).sqrt()).abs() < 1e-12);
        // R² = 1 − 5/2
        assert!((r2_score(&t, &p) + 1.5).abs() < 1e-12);
        // residuals −1, 0, −2: variance 2/3; var(y) = 2/3 → 0
        assert!(explained_variance_score(&t, &p).abs() < 1e-12);
    }

    #[test]
    #[should_panic(expected = "mean_squared_error: y_true has 2 values but the predictions have 1")]
    fn length_mismatch_panics() {
        mean_squared_error(&[1.0, 2.0], &[1.0]);
    }
}
