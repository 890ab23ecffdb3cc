//! The fitted linear models as [`Linear`] layers, so that they save, load, predict and run on
//! any device like the networks: `LinearRegression` as `Linear(n_features, 1)` computing
//! `predict`, `LogisticRegression` as `Linear(n_features, K)` computing `decision_function`
//! (the logits; one for two classes).

use super::{LinearRegression, LogisticRegression};
use crate::error::{FerriteError, Result};
use crate::nn::Linear;
use crate::Tensor;

impl LinearRegression {
    /// The fitted model as a layer whose output is [`predict`](Self::predict)'s: weight
    /// `coef` `(1, n_features)`, bias `intercept`. An error before `fit`.
    ///
    /// ```
    /// use ferrite::linear_model::LinearRegression;
    /// use ferrite::nn::Module;
    /// use ferrite::Tensor;
    /// let x = Tensor::from_vec(vec![0., 1., 2., 3.], [4, 1]);
    /// let y = Tensor::from_vec(vec![1., 3., 5., 7.], [4]); // y = 2x + 1
    /// let mut ls = LinearRegression::new();
    /// ls.fit(&x, &y).unwrap();
    /// let layer = ls.to_linear().unwrap();
    /// let out = layer.forward(&Tensor::from_vec(vec![10.], [1, 1]));
    /// assert!((out.item() - 21.0).abs() < 1e-4);
    /// ```
    pub fn to_linear(&self) -> Result<Linear> {
        if !self.is_fitted() {
            return Err(FerriteError::invalid(
                "LinearRegression",
                "the model is not fitted; call fit before to_linear",
            ));
        }
        let coef = self.coef();
        let features = coef.numel();
        Linear::from_tensors(
            coef.reshape([1, features]),
            Some(Tensor::from_vec(vec![self.intercept()], [1])),
        )
    }
}

impl LogisticRegression {
    /// The fitted model as a layer whose output is
    /// [`decision_function`](Self::decision_function)'s logits: weight `coef` `(K, n_features)`
    /// (`K = 1` for two classes, whose probability of the second is the sigmoid of the
    /// logit), bias `intercept`. An error before `fit`.
    pub fn to_linear(&self) -> Result<Linear> {
        let bias = self.intercept();
        if bias.numel() == 0 {
            return Err(FerriteError::invalid(
                "LogisticRegression",
                "the model is not fitted; call fit before to_linear",
            ));
        }
        Linear::from_tensors(self.coef(), Some(bias))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::Module;

    #[test]
    fn the_layers_compute_the_models_own_outputs() {
        let x = Tensor::from_vec(
            vec![
                0.5, 1.0, -1.0, 2.0, 3.0, -0.5, 1.5, 0.0, -2.0, 1.0, 0.25, -1.5,
            ],
            [6, 2],
        );
        let y = Tensor::from_vec(vec![1.0, 0.0, 2.5, -1.0, 0.5, 3.0], [6]);
        let mut ls = LinearRegression::new();
        ls.fit(&x, &y).unwrap();
        let out = ls.to_linear().unwrap().forward(&x);
        assert_eq!(out.dims(), &[6, 1]);
        for (a, b) in out.to_vec().iter().zip(ls.predict(&x).to_vec()) {
            assert!((a - b).abs() < 1e-5, "{a} vs {b}");
        }
        for classes in [
            vec![0.0, 1.0, 1.0, 0.0, 1.0, 0.0],
            vec![0., 1., 2., 0., 1., 2.],
        ] {
            let mut lr = LogisticRegression::new();
            lr.fit(&x, &Tensor::from_vec(classes, [6])).unwrap();
            let logits = lr.to_linear().unwrap().forward(&x);
            let expected = lr.decision_function(&x);
            assert_eq!(logits.numel(), expected.numel());
            for (a, b) in logits.to_vec().iter().zip(expected.to_vec()) {
                assert!((a - b).abs() < 1e-5, "{a} vs {b}");
            }
        }
    }

    #[test]
    fn unfitted_models_are_an_error() {
        let Err(e) = LinearRegression::new().to_linear() else {
            panic!("an unfitted LinearRegression gave a layer");
        };
        let e = e.to_string();
        assert!(
            e.contains("LinearRegression") && e.contains("not fitted"),
            "{e}"
        );
        let Err(e) = LogisticRegression::new().to_linear() else {
            panic!("an unfitted LogisticRegression gave a layer");
        };
        let e = e.to_string();
        assert!(
            e.contains("LogisticRegression") && e.contains("not fitted"),
            "{e}"
        );
    }
}
