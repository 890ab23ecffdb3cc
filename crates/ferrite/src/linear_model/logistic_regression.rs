//! Logistic regression: binary (sigmoid, log loss) and multinomial (softmax, cross-entropy),
//! fitted by L-BFGS or Newton's method in f64 or by gradient descent in f32, with
//! scikit-learn's L2 penalty convention `C`.

use std::cell::RefCell;

use faer::Mat;
use serde::{Deserialize, Serialize};

use super::lbfgs::{minimize, LbfgsOptions, LbfgsStop};
use super::logistic_newton::NewtonProblem;
use super::logistic_objective::LogisticObjective;
use super::lstsq::lstsq_svd;
use super::{check_x, check_xy, to_faer, FitReport, GradientDescent};
use crate::error::{FerriteError, Result};
use crate::Tensor;

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

    #[allow(clippy::too_many_arguments)]
    fn fit_lbfgs(
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

    fn fit_newton(
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

    fn fit_gradient_descent(
        &mut self,
        gd: &GradientDescent,
        x: &Tensor,
        y: &[usize],
        rows: usize,
        lambda: f32,
    ) -> Result<()> {
        let (n, d) = (x.dims()[0], x.dims()[1]);
        let x = x.contiguous();
        // Targets: (n, 1) of 0/1 for a sigmoid, one-hot (n, K) for a softmax.
        let target = if rows == 1 {
            Tensor::from_vec(y.iter().map(|&c| c as f32).collect(), [n, 1])
        } else {
            let mut onehot = vec![0.0f32; n * rows];
            for (i, &c) in y.iter().enumerate() {
                onehot[i * rows + c] = 1.0;
            }
            Tensor::from_vec(onehot, [n, rows])
        };
        let (lr, fit_intercept) = (gd.learning_rate, self.fit_intercept);
        let state = RefCell::new((Tensor::zeros([d, rows]), Tensor::zeros([1, rows])));
        let probabilities = |xb: &Tensor, w: &Tensor, b: &Tensor| {
            let z = xb.matmul(w).add(b);
            if rows == 1 {
                z.sigmoid()
            } else {
                z.softmax(1)
            }
        };
        let outcome = gd.run(
            n,
            |batch| {
                let (xb, tb) = match batch {
                    None => (x.clone(), target.clone()),
                    Some(r) => (x.index_select(0, r), target.index_select(0, r)),
                };
                let m = xb.dims()[0] as f32;
                let mut st = state.borrow_mut();
                // E = P − Y;  dW = XᵀE/m + λW;  db = Σᵢ Eᵢ / m
                let err = probabilities(&xb, &st.0, &st.1).sub(&tb);
                let mut grad_w = xb.t().matmul(&err).mul_scalar(1.0 / m);
                if lambda > 0.0 {
                    grad_w = grad_w.add(&st.0.mul_scalar(lambda));
                }
                let new_w = st.0.sub(&grad_w.mul_scalar(lr));
                let new_b = if fit_intercept {
                    st.1.sub(&err.sum_dim(0, true).mul_scalar(lr / m))
                } else {
                    st.1.clone()
                };
                *st = (new_w, new_b);
            },
            || {
                let st = state.borrow();
                let z = x.matmul(&st.0).add(&st.1);
                // binary: softplus(z) − y z;  multinomial: logsumexp(z) − z_y
                let data = if rows == 1 {
                    z.softplus(1.0, 20.0).sub(&z.mul(&target)).mean()
                } else {
                    z.logsumexp(1, false)
                        .sub(&z.mul(&target).sum_dim(1, false))
                        .mean()
                };
                data.item() + 0.5 * lambda * st.0.square().sum().item()
            },
        )?;
        let (w, b) = state.into_inner();
        self.coef = w.t().contiguous().to_vec();
        self.intercept = b.to_vec();
        let converged = gd.tol.is_none() || outcome.stopped_early;
        let iterations = outcome.loss_history.len();
        self.loss_history = outcome.loss_history;
        self.report = FitReport {
            solver: format!("gradient descent ({:?})", gd.batch),
            n_samples: n,
            n_features: d,
            rank: None,
            condition_number: None,
            iterations,
            converged,
            notes: if converged {
                vec![]
            } else {
                vec![format!(
                    "the loss still improved by more than tol after {} epochs",
                    gd.epochs
                )]
            },
        };
        Ok(())
    }

    fn check_fitted(&self, x: &Tensor, op: &str) {
        assert!(
            !self.classes.is_empty(),
            "LogisticRegression.{op}: call fit before using the model"
        );
        assert!(
            x.rank() == 2 && x.dims()[1] == self.n_features,
            "LogisticRegression.{op}: expected x of shape (n, {}), got {:?}",
            self.n_features,
            x.dims()
        );
    }

    /// Scores `x·w + b`: shape `(n)` for two classes (positive favours the second class),
    /// `(n, K)` otherwise.
    ///
    /// # Panics
    /// Before `fit`, or when `x` does not have the fitted number of columns.
    pub fn decision_function(&self, x: &Tensor) -> Tensor {
        self.check_fitted(x, "decision_function");
        let _no_grad = crate::no_grad();
        let rows = self.intercept.len();
        let z = x
            .matmul(&self.coef().t())
            .add(&Tensor::from_slice(&self.intercept, [1, rows]));
        if rows == 1 {
            z.reshape([x.dims()[0]])
        } else {
            z
        }
    }

    /// Class probabilities, shape `(n, K)`, columns in the order of [`classes`](Self::classes).
    pub fn predict_proba(&self, x: &Tensor) -> Tensor {
        let z = self.decision_function(x);
        let _no_grad = crate::no_grad();
        if self.intercept.len() == 1 {
            let p = z.sigmoid().unsqueeze(1);
            Tensor::cat(&[p.neg().add_scalar(1.0), p], 1)
        } else {
            z.softmax(1)
        }
    }

    /// Predicted class labels `(n)`: for two classes the second when its probability exceeds
    /// `threshold`, otherwise the most probable class.
    pub fn predict(&self, x: &Tensor) -> Tensor {
        let proba = self.predict_proba(x);
        let n = x.dims()[0];
        let labels: Vec<f32> = if self.intercept.len() == 1 {
            let p = proba.narrow(1, 1, 1).to_vec();
            p.iter()
                .map(|&p| self.classes[usize::from(p > self.threshold)])
                .collect()
        } else {
            proba
                .argmax(1, false)
                .to_vec()
                .iter()
                .map(|&i| self.classes[i as usize])
                .collect()
        };
        Tensor::from_vec(labels, [n])
    }

    /// Accuracy of `predict` on `(x, y)`.
    pub fn score(&self, x: &Tensor, y: &Tensor) -> Result<f64> {
        check_x("LogisticRegression.score", x, Some(self.n_features))?;
        let pred = self.predict(x).to_vec();
        let y = y.to_vec();
        if y.len() != pred.len() {
            return Err(FerriteError::invalid(
                "y",
                format!("has {} values for {} rows", y.len(), pred.len()),
            ));
        }
        Ok(pred.iter().zip(&y).filter(|(p, t)| p == t).count() as f64 / y.len().max(1) as f64)
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

/// The largest gradient component below which a fit that stopped at the floor of f64
/// precision still counts as converged: scikit-learn's default `tol`.
const PRECISION_FLOOR_TOL: f64 = 1e-4;

/// Without a penalty, a training set classified perfectly is linearly separable: the loss has
/// no minimum (it tends to 0 as ‖W‖ → ∞) and the coefficients depend on where the solver
/// stopped, so the fit is reported as not converged with this note.
const SEPARABLE_NOTE: &str = "the classes are linearly separable on the training data: without a \
     penalty the loss has no minimum and the coefficients (though not their direction) depend on \
     where the solver stopped; set a finite C";

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
    use crate::linear_model::BatchMode;

    /// Two overlapping Gaussian-ish clouds on a line (not separable).
    fn overlapping() -> (Tensor, Tensor) {
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

    #[test]
    fn gradient_descent_matches_newton() {
        let (x, y) = overlapping();
        let mut newton = LogisticRegression::new()
            .c(2.0)
            .solver(LogisticSolver::newton());
        newton.fit(&x, &y).unwrap();
        for (batch, lr, tol) in [
            (BatchMode::Batch, 0.5, 1e-3),
            (BatchMode::MiniBatch(8), 0.05, 5e-2),
        ] {
            let gd = GradientDescent::new(lr, 5000)
                .batch(batch)
                .tol(Some(1e-9))
                .seed(1);
            let mut clf = LogisticRegression::gradient_descent(gd).c(2.0);
            clf.fit(&x, &y).unwrap();
            let (a, b) = (clf.coef().to_vec()[0], newton.coef().to_vec()[0]);
            assert!(
                (a - b).abs() < tol * b.abs().max(1.0),
                "{batch:?}: {a} vs {b}"
            );
        }
    }

    #[test]
    fn multinomial_probabilities_sum_to_one_and_predict_takes_the_argmax() {
        let x = Tensor::from_vec(
            vec![
                0., 0., 0.2, 0.1, 5., 5., 5.2, 4.9, 0., 5., 0.3, 5.2, 2., 2.5,
            ],
            [7, 2],
        );
        let y = Tensor::from_vec(vec![3., 3., 7., 7., 9., 9., 3.], [7]);
        let mut clf = LogisticRegression::new();
        clf.fit(&x, &y).unwrap();
        assert_eq!(clf.classes(), &[3.0, 7.0, 9.0]);
        assert_eq!(clf.coef().dims(), &[3, 2]);
        let p = clf.predict_proba(&x);
        for row in p.to_vec2() {
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        }
        let pred = clf.predict(&x).to_vec();
        let expected: Vec<f32> = p
            .argmax(1, false)
            .to_vec()
            .iter()
            .map(|&i| [3.0, 7.0, 9.0][i as usize])
            .collect();
        assert_eq!(pred, expected);
        assert_eq!(&pred[..6], &[3., 3., 7., 7., 9., 9.]);
    }

    #[test]
    fn threshold_moves_binary_predictions() {
        let (x, y) = overlapping();
        let mut clf = LogisticRegression::new();
        clf.fit(&x, &y).unwrap();
        let p1 = clf.predict_proba(&x).narrow(1, 1, 1).reshape([40]).to_vec();
        let strict = clf.clone().threshold(0.9).predict(&x).to_vec();
        for (p, pred) in p1.iter().zip(&strict) {
            assert_eq!(*pred, if *p > 0.9 { 1.0 } else { 0.0 });
        }
        let z = clf.decision_function(&x).to_vec();
        for (z, p) in z.iter().zip(&p1) {
            assert!((1.0 / (1.0 + (-z).exp()) - p).abs() < 1e-6);
        }
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
