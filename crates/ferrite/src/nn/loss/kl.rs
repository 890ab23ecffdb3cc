//! Kullback–Leibler divergence between a target distribution and a predicted one given as
//! log-probabilities, with PyTorch's `batchmean` reduction (the mathematically right one).

use super::{broadcast_pair, Loss, Reduction};
use crate::{FerriteError, Result, Tensor};
use std::str::FromStr;

/// How [`KLDivLoss`] folds its pointwise terms: [`Reduction`]'s three plus `BatchMean`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum KLDivReduction {
    /// One term per element.
    None,
    /// The sum divided by the batch size (the first dimension): the true KL divergence per sample.
    BatchMean,
    /// The sum.
    Sum,
    /// The mean over all elements (PyTorch's default, which it warns is not KL per sample).
    #[default]
    Mean,
}

impl From<Reduction> for KLDivReduction {
    fn from(r: Reduction) -> Self {
        match r {
            Reduction::None => KLDivReduction::None,
            Reduction::Sum => KLDivReduction::Sum,
            Reduction::Mean => KLDivReduction::Mean,
        }
    }
}

impl FromStr for KLDivReduction {
    type Err = FerriteError;

    /// Parses `"none"`, `"batchmean"`, `"sum"` or `"mean"`.
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "batchmean" => Ok(KLDivReduction::BatchMean),
            other => other.parse::<Reduction>().map(KLDivReduction::from).map_err(|_| {
                FerriteError::invalid(
                    "reduction",
                    format!("{other} is not a valid value for reduction (expected none, batchmean, sum or mean)"),
                )
            }),
        }
    }
}

/// KL divergence loss (PyTorch's `nn.KLDivLoss`): the input holds log-probabilities `x`, the
/// target probabilities `t` (or log-probabilities `log t` with `log_target`), and the
/// pointwise term is `t·(log t − x)`, with `0·log 0 = 0`. `BatchMean` gives the divergence
/// per sample; `Mean` (the default, as in PyTorch) divides by every element instead.
///
/// ```
/// use ferrite::nn::loss::{KLDivLoss, KLDivReduction, Loss};
/// use ferrite::Tensor;
/// let logq = Tensor::from_vec(vec![0.5f32.ln(), 0.5f32.ln()], [1, 2]);
/// let p = Tensor::from_vec(vec![0.25, 0.75], [1, 2]);
/// let kl = KLDivLoss::new().reduction(KLDivReduction::BatchMean).forward(&logq, &p).unwrap();
/// let expected = 0.25 * (0.25f32 / 0.5).ln() + 0.75 * (0.75f32 / 0.5).ln();
/// assert!((kl.item() - expected).abs() < 1e-6);
/// ```
#[derive(Clone, Debug, Default)]
pub struct KLDivLoss {
    /// How the pointwise terms are folded.
    pub reduction: KLDivReduction,
    /// True when the target holds log-probabilities.
    pub log_target: bool,
}

impl KLDivLoss {
    /// PyTorch's defaults: mean, probability targets.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets the reduction (a [`Reduction`] converts into it).
    pub fn reduction(mut self, reduction: impl Into<KLDivReduction>) -> Self {
        self.reduction = reduction.into();
        self
    }
    /// Sets whether the target holds log-probabilities.
    pub fn log_target(mut self, log_target: bool) -> Self {
        self.log_target = log_target;
        self
    }
}

impl Loss for KLDivLoss {
    fn forward(&self, input: &Tensor, target: &Tensor) -> Result<Tensor> {
        broadcast_pair("kl_div", input, target)?;
        let pointwise = if self.log_target {
            // e^t·(t − x)
            &target.exp() * &(target - input)
        } else {
            // xlogy(t, t) − t·x; log reads 1 where t ≤ 0 so that 0·log 0 is 0, also in the gradient.
            let positive = target.gt_scalar(0.0);
            let safe_log =
                Tensor::where_cond(&positive, target, &Tensor::scalar(1.0).to(&target.device()))
                    .log();
            target * &(safe_log - input)
        };
        Ok(match self.reduction {
            KLDivReduction::None => pointwise,
            KLDivReduction::Sum => pointwise.sum(),
            KLDivReduction::Mean => pointwise.mean(),
            KLDivReduction::BatchMean if input.rank() > 0 => {
                pointwise.sum() * (1.0 / input.dims()[0] as f32)
            }
            KLDivReduction::BatchMean => pointwise.sum(),
        })
    }

    fn describe(&self) -> String {
        format!(
            "KLDivLoss(reduction={:?}, log_target={})",
            self.reduction, self.log_target
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck;

    #[test]
    fn reductions_parse_and_zero_targets_cost_nothing() {
        assert_eq!(
            "batchmean".parse::<KLDivReduction>().unwrap(),
            KLDivReduction::BatchMean
        );
        assert_eq!(
            "sum".parse::<KLDivReduction>().unwrap(),
            KLDivReduction::Sum
        );
        assert!("average"
            .parse::<KLDivReduction>()
            .unwrap_err()
            .to_string()
            .contains("batchmean"));
        let x = Tensor::from_vec(vec![-1.0, -2.0], [1, 2]).requires_grad();
        let t = Tensor::from_vec(vec![0.0, 1.0], [1, 2]);
        let l = KLDivLoss::new()
            .reduction(Reduction::None)
            .forward(&x, &t)
            .unwrap();
        assert_eq!(l.to_vec(), vec![0.0, 2.0]);
        l.sum().backward();
        assert_eq!(x.grad().unwrap().to_vec(), vec![0.0, -1.0]);
    }

    #[test]
    fn gradients_match_finite_differences() {
        let x = Tensor::from_vec(vec![-1.2, -0.4, -2.0, -0.7, -1.5, -0.9], [2, 3]).requires_grad();
        let t = Tensor::from_vec(vec![0.2, 0.5, 0.3, 0.6, 0.1, 0.3], [2, 3]).requires_grad();
        for reduction in [
            KLDivReduction::None,
            KLDivReduction::BatchMean,
            KLDivReduction::Sum,
            KLDivReduction::Mean,
        ] {
            for log_target in [false, true] {
                let kl = KLDivLoss::new().reduction(reduction).log_target(log_target);
                gradcheck(
                    |v| kl.forward(&v[0], &v[1]).unwrap(),
                    &[x.clone(), t.clone()],
                )
                .unwrap();
            }
        }
    }
}
