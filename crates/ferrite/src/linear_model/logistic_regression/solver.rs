//! The solver of a logistic regression, and its settings (scikit-learn's `solver`, `max_iter`
//! and `tol`).

use serde::{Deserialize, Serialize};

use super::super::GradientDescent;

/// How [`LogisticRegression`] finds its coefficients.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum LogisticSolver {
    /// Limited-memory BFGS in f64, scikit-learn's default `solver="lbfgs"` (which calls SciPy's
    /// L-BFGS-B with the same stopping rules): a quasi-Newton method that keeps the last
    /// `history` steps instead of a Hessian, with a line search meeting the strong Wolfe
    /// conditions. Each iteration costs `O(n · d · K)` and it needs `O(history · d · K)` memory,
    /// so it scales to many feature columns.
    ///
    /// Stops when the largest gradient component of the mean objective is at most `tol`
    /// (SciPy's `gtol`), or when an iteration no longer lowers the objective at working
    /// precision (relative decrease at most 64 ε, scikit-learn's `ftol`). The fit counts as
    /// converged when the gradient met `tol`, or when it stopped at that precision floor with
    /// the gradient within scikit-learn's default 1e-4 (with a note that `tol` was out of
    /// reach).
    Lbfgs {
        /// Iteration limit (scikit-learn's `max_iter`, 100 by default).
        max_iter: usize,
        /// Gradient tolerance (scikit-learn's `tol`, 1e-4 by default).
        tol: f64,
        /// Correction pairs kept (SciPy's `maxcor`; scikit-learn uses 10).
        history: usize,
    },
    /// Newton's method (iteratively reweighted least squares) with a backtracking line search,
    /// in f64. Stops when the largest gradient component of the mean objective is below `tol`.
    /// Each iteration forms and solves a `(d·K)²` Hessian, `O(n · (d·K)² + (d·K)³)`: fast and
    /// very precise for a few dozen features, impractical beyond a few hundred.
    Newton {
        /// Iteration limit.
        max_iter: usize,
        /// Gradient tolerance.
        tol: f64,
    },
    /// Gradient descent on the mean objective, in f32.
    GradientDescent(GradientDescent),
}

impl LogisticSolver {
    /// L-BFGS with scikit-learn's defaults: `max_iter` 100, `tol` 1e-4, 10 correction pairs.
    pub fn lbfgs() -> Self {
        LogisticSolver::Lbfgs {
            max_iter: 100,
            tol: 1e-4,
            history: 10,
        }
    }

    /// Newton's method with 100 iterations and gradient tolerance 1e-8.
    pub fn newton() -> Self {
        LogisticSolver::Newton {
            max_iter: 100,
            tol: 1e-8,
        }
    }
}

impl Default for LogisticSolver {
    /// [`LogisticSolver::lbfgs`], as scikit-learn.
    fn default() -> Self {
        Self::lbfgs()
    }
}
