//! Linear regression `y ≈ X w + b`: least squares through an SVD (minimum-norm when `XᵀX` is
//! singular) or gradient descent; optional L2 penalty `alpha ‖w‖²` (ridge).

use std::cell::RefCell;

use serde::{Deserialize, Serialize};

use super::lstsq::{default_rcond, lstsq_svd};
use super::{check_x, check_xy, to_faer, FitReport, GradientDescent};
use crate::error::{FerriteError, Result};
use crate::metrics::r2_score;
use crate::Tensor;

/// How [`LinearRegression`] finds its coefficients.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum LinearSolver {
    /// Closed form through the singular value decomposition, in f64 (scikit-learn's
    /// `LinearRegression` and `Ridge(solver="svd")`).
    LeastSquares,
    /// Gradient descent on the mean squared error, in f32.
    GradientDescent(GradientDescent),
}

/// Ordinary least squares and ridge regression, like scikit-learn's `LinearRegression` and
/// `Ridge`.
///
/// The objective is `‖y − X w − b‖² + alpha ‖w‖²` (the intercept is not penalised).
/// Gradient descent minimises the same objective divided by `n`:
/// `mean((Xw + b − y)²) + (alpha / n) ‖w‖²`, whose gradient is
/// `dw = (2/m) Xᵦᵀ r + (2 alpha / n) w`, `db = (2/m) Σ r` over a batch of `m` rows.
///
/// ```
/// use ferrite::linear_model::LinearRegression;
/// use ferrite::Tensor;
/// // y = 2·x₀ − x₁ + 3
/// let x = Tensor::from_vec(vec![0., 0., 1., 0., 0., 1., 1., 1., 2., 1.], [5, 2]);
/// let y = Tensor::from_vec(vec![3., 5., 2., 4., 6.], [5]);
/// let mut model = LinearRegression::new();
/// model.fit(&x, &y).unwrap();
/// assert!((model.coef().to_vec()[0] - 2.0).abs() < 1e-5);
/// assert!((model.intercept() - 3.0).abs() < 1e-5);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinearRegression {
    /// Fit an intercept `b` (features and target are centred for the least-squares solve).
    pub fit_intercept: bool,
    /// L2 penalty strength (0: ordinary least squares).
    pub alpha: f32,
    /// The solver.
    pub solver: LinearSolver,
    coef: Option<Vec<f32>>,
    intercept: f32,
    loss_history: Vec<f32>,
    report: FitReport,
}

impl Default for LinearRegression {
    fn default() -> Self {
        Self::new()
    }
}

impl LinearRegression {
    /// Ordinary least squares with an intercept.
    pub fn new() -> Self {
        LinearRegression {
            fit_intercept: true,
            alpha: 0.0,
            solver: LinearSolver::LeastSquares,
            coef: None,
            intercept: 0.0,
            loss_history: Vec::new(),
            report: FitReport::default(),
        }
    }

    /// Fitted by gradient descent with these settings.
    pub fn gradient_descent(settings: GradientDescent) -> Self {
        LinearRegression {
            solver: LinearSolver::GradientDescent(settings),
            ..Self::new()
        }
    }

    /// Sets the L2 penalty (ridge regression).
    pub fn alpha(mut self, alpha: f32) -> Self {
        self.alpha = alpha;
        self
    }

    /// Fits with or without an intercept.
    pub fn fit_intercept(mut self, fit_intercept: bool) -> Self {
        self.fit_intercept = fit_intercept;
        self
    }

    /// Fits the model on `x` `(n, d)` and `y` `(n)`.
    ///
    /// Errors on mismatched shapes, NaN or infinite values, a negative `alpha`, bad
    /// gradient-descent settings, or a diverging gradient descent.
    pub fn fit(&mut self, x: &Tensor, y: &Tensor) -> Result<&mut Self> {
        let (n, d) = check_xy("LinearRegression", x, y)?;
        if !(self.alpha.is_finite() && self.alpha >= 0.0) {
            return Err(FerriteError::invalid(
                "alpha",
                format!("must be >= 0, got {}", self.alpha),
            ));
        }
        let _no_grad = crate::no_grad();
        let y = y.reshape([n]);
        match self.solver.clone() {
            LinearSolver::LeastSquares => self.fit_least_squares(x, &y, n, d)?,
            LinearSolver::GradientDescent(gd) => self.fit_gradient_descent(&gd, x, &y, n, d)?,
        }
        Ok(self)
    }

    fn fit_least_squares(&mut self, x: &Tensor, y: &Tensor, n: usize, d: usize) -> Result<()> {
        let mut a = to_faer(x);
        let yv = y.to_vec();
        let mut b = faer::Mat::from_fn(n, 1, |i, _| yv[i] as f64);
        // Centre features and target: the intercept is then y_mean − x_mean · w.
        let mut x_mean = vec![0.0f64; d];
        let mut y_mean = 0.0f64;
        if self.fit_intercept {
            for (j, m) in x_mean.iter_mut().enumerate() {
                *m = (0..n).map(|i| a[(i, j)]).sum::<f64>() / n as f64;
                for i in 0..n {
                    a[(i, j)] -= *m;
                }
            }
            y_mean = yv.iter().map(|&v| v as f64).sum::<f64>() / n as f64;
            for i in 0..n {
                b[(i, 0)] -= y_mean;
            }
        }
        let sol = lstsq_svd(&a, &b, self.alpha as f64, default_rcond(n, d)).ok_or_else(|| {
            FerriteError::invalid("x", "the singular value decomposition did not converge")
        })?;
        let coef: Vec<f64> = (0..d).map(|j| sol.x[(j, 0)]).collect();
        let intercept = y_mean - x_mean.iter().zip(&coef).map(|(m, w)| m * w).sum::<f64>();
        let cond = sol.condition_number();
        let mut notes = Vec::new();
        if sol.rank < d && self.alpha == 0.0 {
            notes.push(format!(
                "XᵀX is singular: the design matrix has rank {} for {d} feature columns \
                 (collinear or constant features); returned the minimum-norm solution",
                sol.rank
            ));
        } else if cond > 1e8 {
            notes.push(format!(
                "X is ill-conditioned (condition number {cond:.2e}, {:.2e} for XᵀX): coefficients \
                 are sensitive to noise; consider standardising or a ridge penalty",
                cond * cond
            ));
        }
        self.coef = Some(coef.iter().map(|&w| w as f32).collect());
        self.intercept = if self.fit_intercept {
            intercept as f32
        } else {
            0.0
        };
        self.loss_history.clear();
        self.report = FitReport {
            solver: if self.alpha > 0.0 {
                "least squares (SVD, ridge)"
            } else {
                "least squares (SVD)"
            }
            .to_string(),
            n_samples: n,
            n_features: d,
            rank: Some(sol.rank),
            condition_number: Some(cond),
            iterations: 0,
            converged: true,
            notes,
        };
        Ok(())
    }

    fn fit_gradient_descent(
        &mut self,
        gd: &GradientDescent,
        x: &Tensor,
        y: &Tensor,
        n: usize,
        d: usize,
    ) -> Result<()> {
        let x = x.contiguous();
        let y_col = y.reshape([n, 1]);
        let (lr, alpha, fit_intercept) = (gd.learning_rate, self.alpha, self.fit_intercept);
        // (w, b), shared by the update and the loss closures.
        let state = RefCell::new((Tensor::zeros([d, 1]), 0.0f32));
        let outcome = gd.run(
            n,
            |rows| {
                let (xb, yb) = match rows {
                    None => (x.clone(), y_col.clone()),
                    Some(r) => (x.index_select(0, r), y_col.index_select(0, r)),
                };
                let m = xb.dims()[0] as f32;
                let mut st = state.borrow_mut();
                let (w, b) = (&st.0, st.1);
                // r = Xw + b − y;  dw = (2/m) Xᵀr + (2α/n) w;  db = (2/m) Σ r
                let r = xb.matmul(w).add_scalar(b).sub(&yb);
                let mut grad_w = xb.t().matmul(&r).mul_scalar(2.0 / m);
                if alpha > 0.0 {
                    grad_w = grad_w.add(&w.mul_scalar(2.0 * alpha / n as f32));
                }
                let new_w = w.sub(&grad_w.mul_scalar(lr));
                let new_b = if fit_intercept {
                    b - lr * 2.0 / m * r.sum().item()
                } else {
                    b
                };
                *st = (new_w, new_b);
            },
            || {
                let st = state.borrow();
                let r = x.matmul(&st.0).add_scalar(st.1).sub(&y_col);
                let penalty = if alpha > 0.0 {
                    alpha / n as f32 * st.0.square().sum().item()
                } else {
                    0.0
                };
                r.square().mean().item() + penalty
            },
        )?;
        let (w, b) = state.into_inner();
        self.coef = Some(w.to_vec());
        self.intercept = b;
        let iterations = outcome.loss_history.len();
        let converged = gd.tol.is_none() || outcome.stopped_early;
        let mut notes = Vec::new();
        if !converged {
            notes.push(format!(
                "the loss still improved by more than tol in the last epochs: raise epochs ({}) \
                 or the learning rate",
                gd.epochs
            ));
        }
        self.loss_history = outcome.loss_history;
        self.report = FitReport {
            solver: format!("gradient descent ({:?})", gd.batch),
            n_samples: n,
            n_features: d,
            rank: None,
            condition_number: None,
            iterations,
            converged,
            notes,
        };
        Ok(())
    }

    fn fitted_coef(&self) -> &[f32] {
        self.coef
            .as_deref()
            .expect("LinearRegression: call fit before using the model")
    }

    /// Predictions `X w + b`, shape `(n)`.
    ///
    /// # Panics
    /// Before `fit`, or when `x` does not have the fitted number of columns.
    pub fn predict(&self, x: &Tensor) -> Tensor {
        let coef = self.fitted_coef();
        let d = coef.len();
        assert!(
            x.rank() == 2 && x.dims()[1] == d,
            "LinearRegression.predict: expected x of shape (n, {d}), got {:?}",
            x.dims()
        );
        let _no_grad = crate::no_grad();
        let n = x.dims()[0];
        x.matmul(&Tensor::from_slice(coef, [d, 1]))
            .add_scalar(self.intercept)
            .reshape([n])
    }

    /// Coefficient of determination R² of the predictions on `(x, y)`.
    pub fn score(&self, x: &Tensor, y: &Tensor) -> Result<f64> {
        check_x("LinearRegression.score", x, Some(self.fitted_coef().len()))?;
        let y = y.to_vec();
        let pred = self.predict(x).to_vec();
        if y.len() != pred.len() {
            return Err(FerriteError::invalid(
                "y",
                format!("has {} values for {} rows", y.len(), pred.len()),
            ));
        }
        Ok(r2_score(&y, &pred))
    }

    /// The coefficients `w`, shape `(n_features)` (scikit-learn's `coef_`).
    ///
    /// # Panics
    /// Before `fit`.
    pub fn coef(&self) -> Tensor {
        let c = self.fitted_coef();
        Tensor::from_slice(c, [c.len()])
    }

    /// The intercept `b` (0 without `fit_intercept`).
    pub fn intercept(&self) -> f32 {
        self.intercept
    }

    /// True once `fit` has succeeded.
    pub fn is_fitted(&self) -> bool {
        self.coef.is_some()
    }

    /// The training objective after each epoch of gradient descent (empty for least squares).
    pub fn loss_history(&self) -> &[f32] {
        &self.loss_history
    }

    /// What the last fit did (rank, conditioning, notes).
    pub fn fit_report(&self) -> &FitReport {
        &self.report
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linear_model::BatchMode;

    fn line_data() -> (Tensor, Tensor) {
        // y = 1.5 x₀ − 2 x₁ + 0.5, exact.
        let xs: Vec<f32> = (0..20)
            .flat_map(|i| [i as f32 / 10.0, ((i * 7) % 5) as f32 / 4.0])
            .collect();
        let y: Vec<f32> = xs
            .chunks(2)
            .map(|r| 1.5 * r[0] - 2.0 * r[1] + 0.5)
            .collect();
        (Tensor::from_vec(xs, [20, 2]), Tensor::from_vec(y, [20]))
    }

    #[test]
    fn least_squares_recovers_an_exact_plane() {
        let (x, y) = line_data();
        let mut m = LinearRegression::new();
        m.fit(&x, &y).unwrap();
        let c = m.coef().to_vec();
        assert!(
            (c[0] - 1.5).abs() < 1e-5 && (c[1] + 2.0).abs() < 1e-5,
            "{c:?}"
        );
        assert!((m.intercept() - 0.5).abs() < 1e-5);
        assert!((m.score(&x, &y).unwrap() - 1.0).abs() < 1e-9);
        assert!(m.fit_report().notes.is_empty());
    }

    #[test]
    fn every_batch_mode_converges_to_the_least_squares_solution() {
        let (x, y) = line_data();
        for batch in [
            BatchMode::Batch,
            BatchMode::MiniBatch(4),
            BatchMode::Stochastic,
        ] {
            let lr = if batch == BatchMode::Stochastic {
                0.02
            } else {
                0.1
            };
            let gd = GradientDescent::new(lr, 3000)
                .batch(batch)
                .tol(Some(1e-10))
                .seed(3);
            let mut m = LinearRegression::gradient_descent(gd);
            m.fit(&x, &y).unwrap();
            let c = m.coef().to_vec();
            assert!(
                (c[0] - 1.5).abs() < 2e-3 && (c[1] + 2.0).abs() < 2e-3,
                "{batch:?}: {c:?}"
            );
            assert!((m.intercept() - 0.5).abs() < 2e-3, "{batch:?}");
            let h = m.loss_history();
            assert!(
                h.last().unwrap() < &1e-5 && h[0] > *h.last().unwrap(),
                "{batch:?}"
            );
        }
    }

    #[test]
    fn a_constant_column_is_reported_and_gets_zero_weight() {
        let x = Tensor::from_vec(vec![1., 3., 2., 3., 3., 3., 4., 3.], [4, 2]);
        let y = Tensor::from_vec(vec![2., 4., 6., 8.], [4]);
        let mut m = LinearRegression::new();
        m.fit(&x, &y).unwrap();
        let c = m.coef().to_vec();
        assert!((c[0] - 2.0).abs() < 1e-5 && c[1].abs() < 1e-5, "{c:?}");
        assert_eq!(m.fit_report().rank, Some(1));
        assert!(m.fit_report().notes[0].contains("minimum-norm"));
    }

    #[test]
    fn bad_input_is_an_error_not_a_panic() {
        let (x, y) = line_data();
        let mut m = LinearRegression::new();
        assert!(m.fit(&x, &Tensor::zeros([19])).is_err());
        assert!(m
            .fit(
                &Tensor::from_vec(vec![f32::NAN, 1.0], [2, 1]),
                &Tensor::zeros([2])
            )
            .is_err());
        assert!(LinearRegression::new().alpha(-1.0).fit(&x, &y).is_err());
        let mut diverging = LinearRegression::gradient_descent(GradientDescent::new(100.0, 50));
        assert!(diverging.fit(&x.mul_scalar(100.0), &y).is_err());
    }

    #[test]
    fn round_trips_through_json() {
        let (x, y) = line_data();
        let mut m = LinearRegression::new().alpha(0.5);
        m.fit(&x, &y).unwrap();
        let back: LinearRegression =
            serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap();
        assert_eq!(back.predict(&x).to_vec(), m.predict(&x).to_vec());
    }
}
