//! Gradient descent in f32 (full batch or mini-batches): a sigmoid for two classes, a
//! softmax for more, with the L2 penalty in the gradient.

use std::cell::RefCell;

use super::super::{FitReport, GradientDescent};
use super::LogisticRegression;
use crate::error::Result;
use crate::Tensor;

impl LogisticRegression {
    pub(super) fn fit_gradient_descent(
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
}

#[cfg(test)]
mod tests {
    use super::super::tests::overlapping;
    use super::super::LogisticSolver;
    use super::*;
    use crate::linear_model::BatchMode;

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
}
