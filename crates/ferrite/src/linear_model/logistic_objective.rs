//! The penalised log loss of logistic regression and its gradient, for L-BFGS: one pass over
//! the rows per evaluation, `O(n · d · K)` time and `O(d · K)` memory beyond the data, read
//! from the f32 features and accumulated in f64.

/// `mean(loss) + ½ λ ‖W‖²` over row-major f32 features `(n, d)` and class indices `y`.
///
/// The parameter vector is class-major: class `k` owns `theta[k·p .. (k+1)·p]` with
/// `p = d + 1` when there is an intercept (the last entry, not penalised) and `p = d`
/// otherwise. `rows` is 1 for a sigmoid (binary, `y` in {0, 1}) and K for a softmax.
pub(super) struct LogisticObjective<'a> {
    pub(super) x: &'a [f32],
    pub(super) y: &'a [usize],
    pub(super) d: usize,
    pub(super) rows: usize,
    pub(super) fit_intercept: bool,
    pub(super) lambda: f64,
}

impl LogisticObjective<'_> {
    /// Parameters per class.
    pub(super) fn p(&self) -> usize {
        self.d + usize::from(self.fit_intercept)
    }

    /// Length of the parameter vector.
    pub(super) fn len(&self) -> usize {
        self.p() * self.rows
    }

    fn n(&self) -> usize {
        self.y.len()
    }

    /// The scores of row `i`, written into `z` (`rows` values).
    fn scores(&self, theta: &[f64], row: &[f32], z: &mut [f64]) {
        let p = self.p();
        for (k, zk) in z.iter_mut().enumerate() {
            let w = &theta[k * p..k * p + self.d];
            let mut s = if self.fit_intercept {
                theta[k * p + self.d]
            } else {
                0.0
            };
            for (wj, xj) in w.iter().zip(row) {
                s += wj * f64::from(*xj);
            }
            *zk = s;
        }
    }

    /// The objective at `theta`, with its gradient written into `grad`.
    pub(super) fn loss_grad(&self, theta: &[f64], grad: &mut [f64]) -> f64 {
        let (n, d, p, rows) = (self.n(), self.d, self.p(), self.rows);
        grad.fill(0.0);
        let mut z = vec![0.0; rows];
        let mut total = 0.0;
        for i in 0..n {
            // Indexing rather than chunks_exact: with no feature columns every row is empty.
            let row = &self.x[i * d..(i + 1) * d];
            self.scores(theta, row, &mut z);
            let yi = self.y[i];
            if rows == 1 {
                // log(1 + e^z) − y z, and its derivative σ(z) − y, computed stably.
                let zi = z[0];
                let target = if yi == 1 { 1.0 } else { 0.0 };
                total += zi.max(0.0) + (-zi.abs()).exp().ln_1p() - target * zi;
                z[0] = sigmoid(zi) - target;
            } else {
                // logsumexp(z) − z_y, and its derivative softmax(z) − onehot(y).
                let max = z.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let lse = max + z.iter().map(|v| (v - max).exp()).sum::<f64>().ln();
                total += lse - z[yi];
                for (k, zk) in z.iter_mut().enumerate() {
                    *zk = (*zk - lse).exp() - if k == yi { 1.0 } else { 0.0 };
                }
            }
            // z now holds the residuals P − Y of row i.
            for (k, &r) in z.iter().enumerate() {
                let g = &mut grad[k * p..(k + 1) * p];
                for (gj, xj) in g.iter_mut().zip(row) {
                    *gj += r * f64::from(*xj);
                }
                if self.fit_intercept {
                    g[d] += r;
                }
            }
        }
        let inv_n = 1.0 / n as f64;
        let mut penalty = 0.0;
        for k in 0..rows {
            for j in 0..p {
                let g = &mut grad[k * p + j];
                *g *= inv_n;
                if j < d {
                    let w = theta[k * p + j];
                    *g += self.lambda * w;
                    penalty += w * w;
                }
            }
        }
        total * inv_n + 0.5 * self.lambda * penalty
    }

    /// True when every row is on the correct side of the decision boundary.
    pub(super) fn separates(&self, theta: &[f64]) -> bool {
        let (d, rows) = (self.d, self.rows);
        let mut z = vec![0.0; rows];
        (0..self.n()).all(|i| {
            self.scores(theta, &self.x[i * d..(i + 1) * d], &mut z);
            let yi = self.y[i];
            if rows == 1 {
                (z[0] > 0.0) == (yi == 1)
            } else {
                (0..rows).all(|k| k == yi || z[k] < z[yi])
            }
        })
    }
}

fn sigmoid(z: f64) -> f64 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The gradient agrees with central differences of the loss, binary and multinomial,
    /// with and without an intercept.
    #[test]
    fn gradient_matches_finite_differences() {
        let x: Vec<f32> = (0..24).map(|i| ((i * 7 % 11) as f32 - 5.0) / 3.0).collect();
        let (n, d) = (8, 3);
        for (rows, y) in [
            (1, vec![0, 1, 1, 0, 1, 0, 0, 1]),
            (3, vec![0, 1, 2, 2, 1, 0, 2, 1]),
        ] {
            for fit_intercept in [true, false] {
                let obj = LogisticObjective {
                    x: &x,
                    y: &y,
                    d,
                    rows,
                    fit_intercept,
                    lambda: 0.3,
                };
                let theta: Vec<f64> = (0..obj.len()).map(|i| (i as f64 * 0.37).sin()).collect();
                let mut grad = vec![0.0; obj.len()];
                let f = obj.loss_grad(&theta, &mut grad);
                assert!(f.is_finite() && f > 0.0);
                let mut scratch = vec![0.0; obj.len()];
                for j in 0..obj.len() {
                    let h = 1e-6;
                    let mut tp = theta.clone();
                    tp[j] += h;
                    let mut tm = theta.clone();
                    tm[j] -= h;
                    let numeric = (obj.loss_grad(&tp, &mut scratch)
                        - obj.loss_grad(&tm, &mut scratch))
                        / (2.0 * h);
                    assert!(
                        (numeric - grad[j]).abs() < 1e-7,
                        "rows {rows}, intercept {fit_intercept}, θ[{j}]: {numeric} vs {}",
                        grad[j]
                    );
                }
                assert_eq!(n, y.len());
            }
        }
    }

    #[test]
    fn loss_at_zero_is_log_of_the_number_of_classes() {
        let x = [1.0f32, -2.0, 0.5, 3.0];
        for (rows, y, want) in [(1, vec![0, 1], 2f64.ln()), (3, vec![2, 0], 3f64.ln())] {
            let obj = LogisticObjective {
                x: &x,
                y: &y,
                d: 2,
                rows,
                fit_intercept: true,
                lambda: 1.0,
            };
            let mut grad = vec![0.0; obj.len()];
            let f = obj.loss_grad(&vec![0.0; obj.len()], &mut grad);
            assert!((f - want).abs() < 1e-15, "{f} vs {want}");
        }
    }

    #[test]
    fn huge_scores_give_a_finite_loss() {
        let x = [1e30f32, -1e30];
        let obj = LogisticObjective {
            x: &x,
            y: &[0, 1],
            d: 1,
            rows: 1,
            fit_intercept: false,
            lambda: 0.0,
        };
        let mut grad = [0.0];
        // Both rows are misclassified by 1e30: loss 1e30 per row, gradient +1e30.
        let f = obj.loss_grad(&[1.0], &mut grad);
        assert!((f / 1e30 - 1.0).abs() < 1e-6, "{f}");
        assert!((grad[0] / 1e30 - 1.0).abs() < 1e-6, "{}", grad[0]);
        assert!(!obj.separates(&[1.0]) && obj.separates(&[-1.0]));
    }
}
