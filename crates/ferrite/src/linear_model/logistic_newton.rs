//! The penalised log loss of logistic regression with its gradient and Hessian, in f64, for
//! Newton's method (iteratively reweighted least squares).

use faer::Mat;

/// The mean penalised log loss and its derivatives for Newton's method, in f64.
/// `theta` is `(p, rows)`: column k holds class k's coefficients, intercept last.
pub(super) struct NewtonProblem<'a> {
    pub(super) z: &'a Mat<f64>,
    pub(super) y: &'a [usize],
    pub(super) rows: usize,
    pub(super) lambda: f64,
    /// Penalised coefficients per column (the intercept, row `d`, is not penalised).
    pub(super) d: usize,
}

impl NewtonProblem<'_> {
    fn logits(&self, theta: &Mat<f64>) -> Mat<f64> {
        self.z * theta
    }

    fn penalty(&self, theta: &Mat<f64>) -> f64 {
        let mut s = 0.0;
        for k in 0..self.rows {
            for j in 0..self.d {
                s += theta[(j, k)] * theta[(j, k)];
            }
        }
        0.5 * self.lambda * s
    }

    pub(super) fn loss(&self, theta: &Mat<f64>) -> f64 {
        let eta = self.logits(theta);
        let n = self.z.nrows();
        let mut total = 0.0;
        for i in 0..n {
            total += if self.rows == 1 {
                // log(1 + e^z) − y z, computed stably
                let z = eta[(i, 0)];
                let softplus = z.max(0.0) + (-z.abs()).exp().ln_1p();
                softplus - if self.y[i] == 1 { z } else { 0.0 }
            } else {
                let max = (0..self.rows)
                    .map(|k| eta[(i, k)])
                    .fold(f64::NEG_INFINITY, f64::max);
                let lse = max
                    + (0..self.rows)
                        .map(|k| (eta[(i, k)] - max).exp())
                        .sum::<f64>()
                        .ln();
                lse - eta[(i, self.y[i])]
            };
        }
        total / n as f64 + self.penalty(theta)
    }

    /// True when every row is on the correct side of the decision boundary.
    pub(super) fn separates(&self, theta: &Mat<f64>) -> bool {
        let eta = self.logits(theta);
        (0..eta.nrows()).all(|i| {
            if self.rows == 1 {
                (eta[(i, 0)] > 0.0) == (self.y[i] == 1)
            } else {
                (0..self.rows).all(|k| k == self.y[i] || eta[(i, k)] < eta[(i, self.y[i])])
            }
        })
    }

    /// σ(z) for one output, softmax rows otherwise: `(n, rows)`.
    pub(super) fn probabilities(&self, theta: &Mat<f64>) -> Mat<f64> {
        let mut eta = self.logits(theta);
        for i in 0..eta.nrows() {
            if self.rows == 1 {
                eta[(i, 0)] = 1.0 / (1.0 + (-eta[(i, 0)]).exp());
            } else {
                let max = (0..self.rows)
                    .map(|k| eta[(i, k)])
                    .fold(f64::NEG_INFINITY, f64::max);
                let mut sum = 0.0;
                for k in 0..self.rows {
                    eta[(i, k)] = (eta[(i, k)] - max).exp();
                    sum += eta[(i, k)];
                }
                for k in 0..self.rows {
                    eta[(i, k)] /= sum;
                }
            }
        }
        eta
    }

    /// Flattened gradient `(p·rows, 1)`, class-major: `Zᵀ(P − Y)/n + λ θ`.
    pub(super) fn gradient(&self, theta: &Mat<f64>, probs: &Mat<f64>) -> Mat<f64> {
        let n = self.z.nrows();
        let mut err = probs.clone();
        for i in 0..n {
            let target_col = if self.rows == 1 {
                (self.y[i] == 1).then_some(0)
            } else {
                Some(self.y[i])
            };
            if let Some(k) = target_col {
                err[(i, k)] -= 1.0;
            }
        }
        let g = self.z.transpose() * &err;
        let p = self.z.ncols();
        Mat::from_fn(p * self.rows, 1, |r, _| {
            let (k, a) = (r / p, r % p);
            let reg = if a < self.d {
                self.lambda * theta[(a, k)]
            } else {
                0.0
            };
            g[(a, k)] / n as f64 + reg
        })
    }

    /// Hessian `(p·rows)²`: block (k, l) = Zᵀ diag(wᵏˡ) Z / n + λ I (penalised part), with
    /// wᵏˡ = p(1 − p) for a sigmoid and P_k (δ_kl − P_l) for a softmax.
    pub(super) fn hessian(&self, probs: &Mat<f64>) -> Mat<f64> {
        let (n, p) = (self.z.nrows(), self.z.ncols());
        let size = p * self.rows;
        let mut h = Mat::<f64>::zeros(size, size);
        for k in 0..self.rows {
            for l in k..self.rows {
                let weighted = Mat::from_fn(n, p, |i, a| {
                    let w = if self.rows == 1 {
                        probs[(i, 0)] * (1.0 - probs[(i, 0)])
                    } else {
                        probs[(i, k)] * (f64::from(u8::from(k == l)) - probs[(i, l)])
                    };
                    w * self.z[(i, a)]
                });
                let block = self.z.transpose() * &weighted;
                for a in 0..p {
                    for b in 0..p {
                        let mut v = block[(a, b)] / n as f64;
                        if k == l && a == b && a < self.d {
                            v += self.lambda;
                        }
                        h[(k * p + a, l * p + b)] = v;
                        h[(l * p + b, k * p + a)] = v;
                    }
                }
            }
        }
        h
    }
}
