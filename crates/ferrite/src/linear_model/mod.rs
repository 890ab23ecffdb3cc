//! Classical linear models, fitted in closed form or by gradient descent, with scikit-learn's
//! conventions: [`LinearRegression`] (least squares through an SVD, or gradient descent with
//! batch, mini-batch or stochastic updates; optional L2 penalty) and [`LogisticRegression`]
//! (binary with a sigmoid, multinomial with a softmax; L-BFGS by default as scikit-learn,
//! Newton's method or gradient descent; L2 penalty with scikit-learn's `C`).
//!
//! Features are a 2-D tensor `(n_samples, n_features)`, targets a 1-D tensor of length
//! `n_samples` (class labels as whole numbers). Closed-form, L-BFGS and Newton solvers work in
//! f64 so that coefficients agree with scikit-learn's to many digits; gradient descent runs on
//! tensors in f32. L-BFGS costs `O(n · d · K)` per iteration and scales to thousands of
//! feature columns; Newton's method forms a `(d·K)²` Hessian and suits small `d` only.

mod gradient_descent;
mod lbfgs;
mod linear_regression;
mod logistic_newton;
mod logistic_objective;
mod logistic_regression;
mod lstsq;
mod to_linear;

pub use gradient_descent::{BatchMode, GradientDescent, GradientDescentOutcome};
pub use linear_regression::{LinearRegression, LinearSolver};
pub use logistic_regression::{LogisticRegression, LogisticSolver};

use serde::{Deserialize, Serialize};

use crate::error::{FerriteError, Result};
use crate::Tensor;

/// What a fit did and what it found about the data: solver, rank and conditioning of the
/// design matrix, iterations, and notes worth reading (a singular `XᵀX`, no convergence).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FitReport {
    /// The solver that produced the coefficients.
    pub solver: String,
    /// Rows used.
    pub n_samples: usize,
    /// Feature columns.
    pub n_features: usize,
    /// Numerical rank of the (centred) design matrix, for SVD-based fits.
    pub rank: Option<usize>,
    /// Largest over smallest singular value of the (centred) design matrix.
    pub condition_number: Option<f64>,
    /// Epochs (gradient descent) or iterations (L-BFGS, Newton) run.
    pub iterations: usize,
    /// False when an iterative solver stopped at its limit without meeting its tolerance.
    pub converged: bool,
    /// Human-readable remarks.
    pub notes: Vec<String>,
}

impl std::fmt::Display for FitReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {} samples, {} features",
            self.solver, self.n_samples, self.n_features
        )?;
        if let Some(rank) = self.rank {
            write!(f, ", rank {rank}")?;
        }
        if let Some(c) = self.condition_number {
            write!(f, ", condition number {c:.3e}")?;
        }
        if self.iterations > 0 {
            write!(f, ", {} iterations", self.iterations)?;
        }
        if !self.converged {
            write!(f, " (not converged)")?;
        }
        for note in &self.notes {
            write!(f, "\nnote: {note}")?;
        }
        Ok(())
    }
}

/// Checks that `x` is `(n, d)` and `y` has `n` values (1-D, or `(n, 1)`), all finite.
/// Returns `(n, d)`.
pub(crate) fn check_xy(model: &str, x: &Tensor, y: &Tensor) -> Result<(usize, usize)> {
    let (n, d) = check_x(model, x, None)?;
    let y_ok = match y.dims() {
        [m] => *m == n,
        [m, 1] => *m == n,
        _ => false,
    };
    if !y_ok {
        return Err(FerriteError::Shape {
            op: format!("{model}.fit"),
            message: format!(
                "x is {:?} so y must be [{n}] (one target per row), got {:?}",
                x.dims(),
                y.dims()
            ),
        });
    }
    if n == 0 {
        return Err(FerriteError::invalid(
            "x",
            format!("{model}.fit needs at least one row"),
        ));
    }
    if y.to_vec().iter().any(|v| !v.is_finite()) {
        return Err(FerriteError::invalid(
            "y",
            "contains NaN or infinite values; drop or impute them first",
        ));
    }
    Ok((n, d))
}

/// Checks that `x` is 2-D, finite, and (when given) has `d` columns. Returns its shape.
pub(crate) fn check_x(model: &str, x: &Tensor, d: Option<usize>) -> Result<(usize, usize)> {
    let (n, cols) = match x.dims() {
        [n, c] => (*n, *c),
        other => {
            return Err(FerriteError::Shape {
                op: model.to_string(),
                message: format!("x must be 2-D (n_samples, n_features), got {other:?}"),
            })
        }
    };
    if let Some(d) = d {
        if cols != d {
            return Err(FerriteError::Shape {
                op: model.to_string(),
                message: format!(
                    "the model was fitted on {d} features, x has {cols} ({:?})",
                    x.dims()
                ),
            });
        }
    }
    if x.to_vec().iter().any(|v| !v.is_finite()) {
        return Err(FerriteError::invalid(
            "x",
            "contains NaN or infinite values; drop or impute them first",
        ));
    }
    Ok((n, cols))
}

/// A row-major tensor `(n, d)` as an f64 faer matrix.
pub(crate) fn to_faer(x: &Tensor) -> faer::Mat<f64> {
    let (n, d) = (x.dims()[0], x.dims()[1]);
    let data = x.to_vec();
    faer::Mat::from_fn(n, d, |i, j| data[i * d + j] as f64)
}
