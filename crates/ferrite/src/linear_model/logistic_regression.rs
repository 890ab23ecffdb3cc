//! Logistic regression: binary (sigmoid, log loss) and multinomial (softmax, cross-entropy),
//! fitted by L-BFGS or Newton's method in f64 or by gradient descent in f32, with
//! scikit-learn's L2 penalty convention `C`.
//!
//! Files, by idea: [`solver`] (the choice of solver and its settings), [`second_order`]
//! (L-BFGS and Newton's method in f64), [`gradient_descent`] (gradient descent in f32),
//! [`predict`] (scores, probabilities, labels and accuracy); this file holds the estimator, its
//! options, the checks before a fit, and what a fit leaves behind.

mod gradient_descent;
mod predict;
mod second_order;
mod solver;

pub use solver::LogisticSolver;

use serde::{Deserialize, Serialize};

use super::{check_xy, FitReport, GradientDescent};
use crate::error::{FerriteError, Result};
use crate::Tensor;

/// Logistic regression like scikit-learn's `LogisticRegression` (L2 penalty, `lbfgs`-level
/// agreement): two classes give one coefficient row and a sigmoid, more give one row per class
/// and a softmax (multinomial).
///
/// The objective is scikit-learn's `C Σᵢ loss_i + ½‖W‖²` (intercepts not penalised), minimised
/// in the equivalent mean form `mean(loss) + ‖W‖² / (2 C n)`; `C = ∞` means no penalty.
/// Binary: `loss = log(1 + e^z) − y z`, `z = x·w + b`, gradient `Xᵀ(σ(z) − y)/n + w/(Cn)`.
/// Multinomial: `loss = logsumexp(z) − z_y`, gradient `Xᵀ(softmax(Z) − Y)/n + W/(Cn)`.
///
/// ```
/// use ferrite::linear_model::LogisticRegression;
/// use ferrite::Tensor;
/// let x = Tensor::from_vec(vec![-2., -1., -0.5, 0.5, 1., 2.], [6, 1]);
/// let y = Tensor::from_vec(vec![0., 0., 1., 0., 1., 1.], [6]);
/// let mut clf = LogisticRegression::new();
/// clf.fit(&x, &y).unwrap();
/// assert_eq!(clf.predict(&Tensor::from_vec(vec![-3., 3.], [2, 1])).to_vec(), vec![0., 1.]);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogisticRegression {
    /// Inverse of the L2 penalty strength (scikit-learn's `C`); `f32::INFINITY`: no penalty
    /// (written as `null` in JSON, which has no infinity).
    #[serde(with = "infinity_as_null")]
    pub c: f32,
    /// Fit intercepts.
    pub fit_intercept: bool,
    /// Binary problems: predict the second class when its probability exceeds this.
    pub threshold: f32,
    /// The solver.
    pub solver: LogisticSolver,
    classes: Vec<f32>,
    /// Row-major `(rows, n_features)`: one row for two classes, one per class otherwise.
    coef: Vec<f32>,
    intercept: Vec<f32>,
    n_features: usize,
    loss_history: Vec<f32>,
    report: FitReport,
}

impl Default for LogisticRegression {
    fn default() -> Self {
        Self::new()
    }
}

impl LogisticRegression {
    /// `C = 1`, intercept, threshold 0.5, L-BFGS with scikit-learn's defaults (100
    /// iterations, tol 1e-4, 10 correction pairs; [`LogisticSolver::lbfgs`]).
    pub fn new() -> Self {
        LogisticRegression {
            c: 1.0,
            fit_intercept: true,
            threshold: 0.5,
            solver: LogisticSolver::lbfgs(),
            classes: Vec::new(),
            coef: Vec::new(),
            intercept: Vec::new(),
            n_features: 0,
            loss_history: Vec::new(),
            report: FitReport::default(),
        }
    }

    /// Fitted by gradient descent with these settings.
    pub fn gradient_descent(settings: GradientDescent) -> Self {
        LogisticRegression {
            solver: LogisticSolver::GradientDescent(settings),
            ..Self::new()
        }
    }

    /// Uses this solver (scikit-learn's `solver`, with `max_iter` and `tol` inside).
    pub fn solver(mut self, solver: LogisticSolver) -> Self {
        self.solver = solver;
        self
    }

    /// Sets scikit-learn's `C` (smaller: stronger penalty; `f32::INFINITY`: none).
    pub fn c(mut self, c: f32) -> Self {
        self.c = c;
        self
    }

    /// No penalty (`C = ∞`). On separable data the coefficients then grow without bound.
    pub fn no_penalty(self) -> Self {
        self.c(f32::INFINITY)
    }

    /// Fits with or without intercepts.
    pub fn fit_intercept(mut self, fit_intercept: bool) -> Self {
        self.fit_intercept = fit_intercept;
        self
    }

    /// Sets the decision threshold of binary `predict`.
    pub fn threshold(mut self, threshold: f32) -> Self {
        self.threshold = threshold;
        self
    }

    /// Fits on `x` `(n, d)` and class labels `y` `(n)` (whole numbers; any values, sorted to
    /// form `classes`).
    ///
    /// Errors on mismatched shapes, NaN, fewer than two classes, `C <= 0`, bad solver settings
    /// or a diverging gradient descent.
    pub fn fit(&mut self, x: &Tensor, y: &Tensor) -> Result<&mut Self> {
        let (n, d) = check_xy("LogisticRegression", x, y)?;
        if self.c.is_nan() || self.c <= 0.0 {
            return Err(FerriteError::invalid(
                "C",
                format!("must be positive (or infinite), got {}", self.c),
            ));
        }
        let yv = y.to_vec();
        let mut classes = yv.clone();
        classes.sort_by(f32::total_cmp);
        classes.dedup();
        if classes.len() < 2 {
            return Err(FerriteError::invalid(
                "y",
                format!(
                    "needs samples of at least 2 classes, found only {:?}",
                    classes
                ),
            ));
        }
        let y_idx: Vec<usize> = yv
            .iter()
            .map(|v| classes.binary_search_by(|c| c.total_cmp(v)).unwrap_or(0))
            .collect();
        let rows = if classes.len() == 2 { 1 } else { classes.len() };
        // λ of the mean objective: ‖W‖² / (2 C n).
        let lambda = if self.c.is_infinite() {
            0.0
        } else {
            1.0 / (self.c as f64 * n as f64)
        };
        let _no_grad = crate::no_grad();
        self.classes = classes;
        self.n_features = d;
        match self.solver.clone() {
            LogisticSolver::Lbfgs {
                max_iter,
                tol,
                history,
            } => {
                if max_iter == 0 || history == 0 || tol.is_nan() || tol < 0.0 {
                    return Err(FerriteError::invalid(
                        "solver",
                        format!(
                            "L-BFGS needs max_iter >= 1, history >= 1 and tol >= 0, got \
                             max_iter {max_iter}, history {history}, tol {tol}"
                        ),
                    ));
                }
                self.fit_lbfgs(x, &y_idx, rows, lambda, max_iter, tol, history)
            }
            LogisticSolver::Newton { max_iter, tol } => {
                if max_iter == 0 || tol.is_nan() || tol < 0.0 {
                    return Err(FerriteError::invalid(
                        "solver",
                        "Newton needs max_iter >= 1 and tol >= 0",
                    ));
                }
                self.fit_newton(x, &y_idx, rows, lambda, max_iter, tol)
            }
            LogisticSolver::GradientDescent(gd) => {
                self.fit_gradient_descent(&gd, x, &y_idx, rows, lambda as f32)
            }
        }?;
        Ok(self)
    }

    /// The coefficients `(1, n_features)` for two classes, `(K, n_features)` otherwise
    /// (scikit-learn's `coef_`).
    pub fn coef(&self) -> Tensor {
        Tensor::from_slice(&self.coef, [self.intercept.len(), self.n_features])
    }

    /// The intercepts, one per coefficient row.
    pub fn intercept(&self) -> Tensor {
        Tensor::from_slice(&self.intercept, [self.intercept.len()])
    }

    /// The class labels seen in `fit`, sorted.
    pub fn classes(&self) -> &[f32] {
        &self.classes
    }

    /// The objective at the start and after each iteration (L-BFGS, Newton), or after each
    /// epoch (gradient descent).
    pub fn loss_history(&self) -> &[f32] {
        &self.loss_history
    }

    /// What the last fit did.
    pub fn fit_report(&self) -> &FitReport {
        &self.report
    }
}

/// Serde for a value that may be `+∞`: JSON `null` stands for infinity.
mod infinity_as_null {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &f32, s: S) -> Result<S::Ok, S::Error> {
        if v.is_infinite() {
            s.serialize_none()
        } else {
            s.serialize_some(v)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f32, D::Error> {
        Ok(Option::<f32>::deserialize(d)?.unwrap_or(f32::INFINITY))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two overlapping Gaussian-ish clouds on a line (not separable).
    pub(super) fn overlapping() -> (Tensor, Tensor) {
        let x: Vec<f32> = (0..40).map(|i| (i as f32 - 20.0) / 8.0).collect();
        let y: Vec<f32> = (0..40)
            .map(|i| {
                if (i * 37 % 11) < (i * 11 / 40) + 3 {
                    1.0
                } else {
                    0.0
                }
            })
            .collect();
        (Tensor::from_vec(x, [40, 1]), Tensor::from_vec(y, [40]))
    }

    #[test]
    fn fitted_models_round_trip_through_json_even_without_a_penalty() {
        let (x, y) = overlapping();
        for clf in [
            LogisticRegression::new(),
            LogisticRegression::new().no_penalty(),
        ] {
            let mut clf = clf;
            clf.fit(&x, &y).unwrap();
            let json = serde_json::to_string(&clf).unwrap();
            let back: LogisticRegression = serde_json::from_str(&json).unwrap();
            assert_eq!(back.c, clf.c);
            assert_eq!(
                back.predict_proba(&x).to_vec(),
                clf.predict_proba(&x).to_vec()
            );
        }
    }

    #[test]
    fn one_class_and_bad_c_are_errors() {
        let x = Tensor::zeros([3, 2]);
        assert!(LogisticRegression::new()
            .fit(&x, &Tensor::ones([3]))
            .is_err());
        let y = Tensor::from_vec(vec![0., 1., 0.], [3]);
        assert!(LogisticRegression::new().c(0.0).fit(&x, &y).is_err());
        assert!(LogisticRegression::new().c(-1.0).fit(&x, &y).is_err());
    }
}
