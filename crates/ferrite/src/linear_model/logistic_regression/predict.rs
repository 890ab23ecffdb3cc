//! Prediction: scores `x·w + b`, class probabilities (sigmoid or softmax), labels (the
//! binary threshold or the argmax), and accuracy.

use super::super::check_x;
use super::LogisticRegression;
use crate::error::{FerriteError, Result};
use crate::Tensor;

impl LogisticRegression {
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
}

#[cfg(test)]
mod tests {
    use super::super::tests::overlapping;
    use super::*;

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
}
