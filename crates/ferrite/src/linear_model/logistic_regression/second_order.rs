//! The f64 solvers: L-BFGS on the mean objective and Newton's method (IRLS), binary and
//! multinomial alike, and the conversion of their coefficients to f32.

use faer::Mat;

use super::super::lbfgs::{minimize, LbfgsOptions, LbfgsStop};
use super::super::logistic_newton::NewtonProblem;
use super::super::logistic_objective::LogisticObjective;
use super::super::lstsq::lstsq_svd;
use super::super::{to_faer, FitReport};
use super::LogisticRegression;
use crate::error::{FerriteError, Result};
use crate::Tensor;

impl LogisticRegression {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn fit_lbfgs(
        &mut self,
        x: &Tensor,
        y: &[usize],
        rows: usize,
        lambda: f64,
        max_iter: usize,
        tol: f64,
        history: usize,
    ) -> Result<()> {
        let (n, d) = (x.dims()[0], x.dims()[1]);
        let data = x.contiguous().to_vec();
        let objective = LogisticObjective {
            x: &data,
            y,
            d,
            rows,
            fit_intercept: self.fit_intercept,
            lambda,
        };
        let options = LbfgsOptions {
            max_iter,
            gtol: tol,
            // scikit-learn's `ftol` for L-BFGS-B: stop once an iteration changes the
            // objective by no more than rounding.
            ftol: 64.0 * f64::EPSILON,
            history,
            max_line_search: 50,
        };
        let out = minimize(
            |theta, grad| objective.loss_grad(theta, grad),
            vec![0.0; objective.len()],
            &options,
        );
        let p = objective.p();
        self.store(&|a, k| out.x[k * p + a], d, rows)?;
        let at_limit = out.stop == LbfgsStop::MaxIter;
        // At the floor of f64 precision (an iteration no longer lowers the loss) the point is
        // as good as this arithmetic allows: like SciPy, and like Newton's method here, count
        // it as converged when the gradient is at least within scikit-learn's default 1e-4,
        // and say that `tol` itself was out of reach.
        let mut converged =
            out.grad_max <= tol || (!at_limit && out.grad_max <= PRECISION_FLOOR_TOL);
        let mut notes = Vec::new();
        if lambda == 0.0 && objective.separates(&out.x) {
            converged = false;
            notes.push(SEPARABLE_NOTE.to_string());
        } else if converged && out.grad_max > tol {
            notes.push(format!(
                "L-BFGS stopped after {} iterations because the loss no longer decreases at f64 \
                 precision; the largest gradient component is {:.3e}, above tol {tol:e} but \
                 as low as this problem allows",
                out.iterations, out.grad_max
            ));
        } else if !converged {
            let reason = if at_limit {
                format!("did not converge in {max_iter} iterations")
            } else {
                format!(
                    "stopped after {} iterations because the loss no longer decreases at f64 \
                     precision",
                    out.iterations
                )
            };
            let advice = if lambda == 0.0 {
                "without a penalty this usually means the classes are (nearly) linearly \
                 separable and the coefficients grow without bound: set a finite C"
            } else if at_limit {
                "raise max_iter, or standardise the features (StandardScaler) so that they \
                 have similar scales"
            } else {
                "standardise the features (StandardScaler) so that they have similar scales"
            };
            notes.push(format!(
                "L-BFGS {reason}; the largest gradient component is {:.3e}, above tol {tol:e}: \
                 {advice}",
                out.grad_max
            ));
        }
        self.loss_history = out.history.iter().map(|&f| f as f32).collect();
        self.report = FitReport {
            solver: "L-BFGS".to_string(),
            n_samples: n,
            n_features: d,
            rank: None,
            condition_number: None,
            iterations: out.iterations,
            converged,
            notes,
        };
        Ok(())
    }

    /// Stores coefficients `theta(a, k)` (feature `a` of class row `k`, the intercept at
    /// `a = d`) as f32, refusing values that f32 cannot hold.
    fn store(&mut self, theta: &dyn Fn(usize, usize) -> f64, d: usize, rows: usize) -> Result<()> {
        self.coef = (0..rows)
            .flat_map(|k| (0..d).map(move |j| (k, j)))
            .map(|(k, j)| theta(j, k) as f32)
            .collect();
        self.intercept = (0..rows)
            .map(|k| {
                if self.fit_intercept {
                    theta(d, k) as f32
                } else {
                    0.0
                }
            })
            .collect();
        if let Some(bad) = self
            .coef
            .iter()
            .chain(&self.intercept)
            .find(|v| !v.is_finite())
        {
            let bad = *bad;
            self.classes.clear();
            self.coef.clear();
            self.intercept.clear();
            return Err(FerriteError::invalid(
                "x",
                format!(
                    "logistic regression produced a coefficient of {bad}, beyond f32: the \
                     features are too large or the classes separable without a penalty; \
                     standardise the features or set a finite C"
                ),
            ));
        }
        Ok(())
    }

    pub(super) fn fit_newton(
        &mut self,
        x: &Tensor,
        y: &[usize],
        rows: usize,
        lambda: f64,
        max_iter: usize,
        tol: f64,
    ) -> Result<()> {
        let (n, d) = (x.dims()[0], x.dims()[1]);
        let xf = to_faer(x);
        // Z = [X, 1]: the intercept is the last coefficient of each class and is not penalised.
        let p = d + usize::from(self.fit_intercept);
        let z = Mat::from_fn(n, p, |i, j| if j < d { xf[(i, j)] } else { 1.0 });
        let problem = NewtonProblem {
            z: &z,
            y,
            rows,
            lambda,
            d,
        };
        let mut theta = Mat::<f64>::zeros(p, rows);
        let mut loss = problem.loss(&theta);
        let mut history = vec![loss as f32];
        let mut converged = false;
        let mut iterations = 0;
        while iterations < max_iter {
            let probs = problem.probabilities(&theta);
            let grad = problem.gradient(&theta, &probs);
            let grad_max = (0..grad.nrows())
                .map(|i| grad[(i, 0)].abs())
                .fold(0.0, f64::max);
            if grad_max <= tol {
                converged = true;
                break;
            }
            iterations += 1;
            let hess = problem.hessian(&probs);
            let step = lstsq_svd(&hess, &grad, 0.0, 1e-12)
                .ok_or_else(|| FerriteError::invalid("x", "the Newton system could not be solved"))?
                .x;
            // Backtracking (Armijo) line search along −step.
            let slope: f64 = (0..grad.nrows()).map(|i| grad[(i, 0)] * step[(i, 0)]).sum();
            let mut t = 1.0;
            let mut accepted = false;
            while t > 1e-12 {
                let candidate =
                    Mat::from_fn(p, rows, |a, k| theta[(a, k)] - t * step[(k * p + a, 0)]);
                let l = problem.loss(&candidate);
                if l <= loss - 1e-4 * t * slope {
                    theta = candidate;
                    loss = l;
                    accepted = true;
                    break;
                }
                t *= 0.5;
            }
            history.push(loss as f32);
            if !accepted {
                // No decrease possible at working precision: we are at the minimum.
                converged = grad_max < PRECISION_FLOOR_TOL;
                break;
            }
        }
        self.store(&|a, k| theta[(a, k)], d, rows)?;
        let mut notes = Vec::new();
        if lambda == 0.0 && problem.separates(&theta) {
            converged = false;
            notes.push(SEPARABLE_NOTE.to_string());
        } else if !converged {
            notes.push(if lambda == 0.0 {
                format!(
                    "Newton's method did not converge in {max_iter} iterations; without a penalty \
                     this usually means the classes are linearly separable and the coefficients \
                     grow without bound: set a finite C"
                )
            } else {
                format!("Newton's method did not converge in {max_iter} iterations: raise max_iter")
            });
        }
        self.loss_history = history;
        self.report = FitReport {
            solver: "Newton (IRLS)".to_string(),
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
}

/// The largest gradient component below which a fit that stopped at the floor of f64
/// precision still counts as converged: scikit-learn's default `tol`.
const PRECISION_FLOOR_TOL: f64 = 1e-4;

/// Without a penalty, a training set classified perfectly is linearly separable: the loss has
/// no minimum (it tends to 0 as ‖W‖ → ∞) and the coefficients depend on where the solver
/// stopped, so the fit is reported as not converged with this note.
const SEPARABLE_NOTE: &str = "the classes are linearly separable on the training data: without a \
     penalty the loss has no minimum and the coefficients (though not their direction) depend on \
     where the solver stopped; set a finite C";

#[cfg(test)]
mod tests {
    use super::super::tests::overlapping;
    use super::super::LogisticSolver;
    use super::*;

    #[test]
    fn gradient_is_zero_at_the_solution_for_newton_and_lbfgs() {
        for solver in [
            LogisticSolver::newton(),
            LogisticSolver::Lbfgs {
                max_iter: 100,
                tol: 1e-8,
                history: 10,
            },
        ] {
            gradient_is_zero_at_the_solution(solver);
        }
    }

    fn gradient_is_zero_at_the_solution(solver: LogisticSolver) {
        // At the optimum of mean loss + ‖w‖²/(2Cn): Σ(p − y)x/n + w/(Cn) = 0 and Σ(p − y) = 0.
        let (x, y) = overlapping();
        let mut clf = LogisticRegression::new().c(0.5).solver(solver.clone());
        clf.fit(&x, &y).unwrap();
        assert!(clf.fit_report().converged, "{solver:?}");
        let p = clf.predict_proba(&x).narrow(1, 1, 1).reshape([40]).to_vec();
        let (xv, yv) = (x.to_vec(), y.to_vec());
        let w = clf.coef().to_vec()[0] as f64;
        let gw: f64 = p
            .iter()
            .zip(&xv)
            .zip(&yv)
            .map(|((p, x), y)| (*p as f64 - *y as f64) * *x as f64)
            .sum::<f64>()
            / 40.0
            + w / (0.5 * 40.0);
        let gb: f64 = p
            .iter()
            .zip(&yv)
            .map(|(p, y)| *p as f64 - *y as f64)
            .sum::<f64>()
            / 40.0;
        assert!(gw.abs() < 1e-6 && gb.abs() < 1e-6, "{solver:?}: {gw} {gb}");
    }
}
