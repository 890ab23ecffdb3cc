//! Regression losses: L1, MSE, smooth L1 and Huber. Input and target broadcast together (as
//! PyTorch does, with a warning there); shapes that do not broadcast are an error. All are
//! compositions of tensor ops, so gradients flow to the input and to the target.

use super::{broadcast_pair, Loss, Reduction};
use crate::{FerriteError, Result, Tensor};

/// Where `|d| < threshold`, `inside`; elsewhere `outside` (both given `|d|`).
fn piecewise(
    d: &Tensor,
    threshold: f32,
    inside: impl Fn(&Tensor) -> Tensor,
    outside: impl Fn(&Tensor) -> Tensor,
) -> Tensor {
    let a = d.abs();
    Tensor::where_cond(&a.lt_scalar(threshold), &inside(&a), &outside(&a))
}

/// Mean absolute error (PyTorch's `nn.L1Loss`): `l = |x − y|`.
///
/// ```
/// use ferrite::nn::loss::{L1Loss, Loss, Reduction};
/// use ferrite::Tensor;
/// let l = L1Loss::new().reduction(Reduction::None).forward(&Tensor::ones([2, 2]), &Tensor::full([2, 2], 3.0));
/// assert_eq!(l.unwrap().to_vec(), vec![2.0; 4]);
/// ```
#[derive(Clone, Debug, Default)]
pub struct L1Loss {
    /// How the per-element losses are folded.
    pub reduction: Reduction,
}

impl L1Loss {
    /// PyTorch's default: mean.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets the reduction.
    pub fn reduction(mut self, reduction: Reduction) -> Self {
        self.reduction = reduction;
        self
    }
}

impl Loss for L1Loss {
    fn forward(&self, input: &Tensor, target: &Tensor) -> Result<Tensor> {
        broadcast_pair("l1_loss", input, target)?;
        Ok(self.reduction.apply((input - target).abs()))
    }

    fn describe(&self) -> String {
        format!("L1Loss(reduction={})", self.reduction)
    }
}

/// Mean squared error (PyTorch's `nn.MSELoss`): `l = (x − y)²`.
///
/// ```
/// use ferrite::nn::loss::{Loss, MSELoss, Reduction};
/// use ferrite::Tensor;
/// let l = MSELoss::new().reduction(Reduction::None).forward(&Tensor::ones([2, 2]), &Tensor::full([2, 2], 3.0));
/// assert_eq!(l.unwrap().to_vec(), vec![4.0; 4]);
/// ```
#[derive(Clone, Debug, Default)]
pub struct MSELoss {
    /// How the per-element losses are folded.
    pub reduction: Reduction,
}

impl MSELoss {
    /// PyTorch's default: mean.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets the reduction.
    pub fn reduction(mut self, reduction: Reduction) -> Self {
        self.reduction = reduction;
        self
    }
}

impl Loss for MSELoss {
    fn forward(&self, input: &Tensor, target: &Tensor) -> Result<Tensor> {
        broadcast_pair("mse_loss", input, target)?;
        Ok(self.reduction.apply((input - target).square()))
    }

    fn describe(&self) -> String {
        format!("MSELoss(reduction={})", self.reduction)
    }
}

/// Smooth L1 (PyTorch's `nn.SmoothL1Loss`): with `d = |x − y|`,
/// `l = 0.5·d²/β` where `d < β`, else `d − 0.5·β`. β = 0 is plain L1; a negative β is an
/// error. Quadratic near zero, linear (robust to outliers) far away.
///
/// ```
/// use ferrite::nn::loss::{Loss, Reduction, SmoothL1Loss};
/// use ferrite::Tensor;
/// let x = Tensor::from_vec(vec![0.5, 3.0], [2]);
/// let l = SmoothL1Loss::new().reduction(Reduction::None).forward(&x, &Tensor::zeros([2])).unwrap();
/// assert_eq!(l.to_vec(), vec![0.125, 2.5]);
/// ```
#[derive(Clone, Debug)]
pub struct SmoothL1Loss {
    /// How the per-element losses are folded.
    pub reduction: Reduction,
    /// Where the loss turns from quadratic to linear (PyTorch's default 1).
    pub beta: f32,
}

impl Default for SmoothL1Loss {
    fn default() -> Self {
        SmoothL1Loss {
            reduction: Reduction::Mean,
            beta: 1.0,
        }
    }
}

impl SmoothL1Loss {
    /// PyTorch's defaults: mean, β = 1.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets the reduction.
    pub fn reduction(mut self, reduction: Reduction) -> Self {
        self.reduction = reduction;
        self
    }
    /// Sets β (checked at call time: it must not be negative).
    pub fn beta(mut self, beta: f32) -> Self {
        self.beta = beta;
        self
    }
}

impl Loss for SmoothL1Loss {
    fn forward(&self, input: &Tensor, target: &Tensor) -> Result<Tensor> {
        let beta = self.beta;
        if beta.is_nan() || beta < 0.0 {
            return Err(FerriteError::invalid(
                "beta",
                format!("smooth_l1_loss does not support negative values for beta (got {beta})"),
            ));
        }
        broadcast_pair("smooth_l1_loss", input, target)?;
        let diff = input - target;
        if beta == 0.0 {
            return Ok(self.reduction.apply(diff.abs()));
        }
        let loss = piecewise(
            &diff,
            beta,
            |a| a.square() * (0.5 / beta),
            |a| a - 0.5 * beta,
        );
        Ok(self.reduction.apply(loss))
    }

    fn describe(&self) -> String {
        format!(
            "SmoothL1Loss(reduction={}, beta={})",
            self.reduction, self.beta
        )
    }
}

/// Huber loss (PyTorch's `nn.HuberLoss`): with `d = |x − y|`, `l = 0.5·d²` where `d < δ`,
/// else `δ·(d − 0.5·δ)`; δ must be positive. Equals δ times [`SmoothL1Loss`] with β = δ.
///
/// ```
/// use ferrite::nn::loss::{HuberLoss, Loss, Reduction};
/// use ferrite::Tensor;
/// let x = Tensor::from_vec(vec![0.5, 3.0], [2]);
/// let l = HuberLoss::new().delta(2.0).reduction(Reduction::None).forward(&x, &Tensor::zeros([2])).unwrap();
/// assert_eq!(l.to_vec(), vec![0.125, 4.0]);
/// ```
#[derive(Clone, Debug)]
pub struct HuberLoss {
    /// How the per-element losses are folded.
    pub reduction: Reduction,
    /// Where the loss turns from quadratic to linear (PyTorch's default 1).
    pub delta: f32,
}

impl Default for HuberLoss {
    fn default() -> Self {
        HuberLoss {
            reduction: Reduction::Mean,
            delta: 1.0,
        }
    }
}

impl HuberLoss {
    /// PyTorch's defaults: mean, δ = 1.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets the reduction.
    pub fn reduction(mut self, reduction: Reduction) -> Self {
        self.reduction = reduction;
        self
    }
    /// Sets δ (checked at call time: it must be positive).
    pub fn delta(mut self, delta: f32) -> Self {
        self.delta = delta;
        self
    }
}

impl Loss for HuberLoss {
    fn forward(&self, input: &Tensor, target: &Tensor) -> Result<Tensor> {
        let delta = self.delta;
        if delta.is_nan() || delta <= 0.0 {
            return Err(FerriteError::invalid(
                "delta",
                format!("huber_loss does not support non-positive values for delta (got {delta})"),
            ));
        }
        broadcast_pair("huber_loss", input, target)?;
        let loss = piecewise(
            &(input - target),
            delta,
            |a| a.square() * 0.5,
            |a| (a - 0.5 * delta) * delta,
        );
        Ok(self.reduction.apply(loss))
    }

    fn describe(&self) -> String {
        format!(
            "HuberLoss(reduction={}, delta={})",
            self.reduction, self.delta
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck;

    #[test]
    fn options_and_shapes_are_checked() {
        let (x, y) = (Tensor::zeros([2, 3]), Tensor::zeros([2, 3]));
        assert!(SmoothL1Loss::new()
            .beta(-1.0)
            .forward(&x, &y)
            .unwrap_err()
            .to_string()
            .contains("negative values for beta"));
        assert!(HuberLoss::new()
            .delta(0.0)
            .forward(&x, &y)
            .unwrap_err()
            .to_string()
            .contains("non-positive values for delta"));
        let e = MSELoss::new()
            .forward(&x, &Tensor::zeros([2]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("mse_loss") && e.contains("[2, 3]") && e.contains("[2]"),
            "{e}"
        );
        // (2, 3) against (3): broadcast, as in PyTorch.
        assert_eq!(
            L1Loss::new()
                .forward(&Tensor::ones([2, 3]), &Tensor::zeros([3]))
                .unwrap()
                .item(),
            1.0
        );
    }

    #[test]
    fn gradients_match_finite_differences() {
        // Differences avoid the kinks at 0 and at ±β / ±δ.
        let x = Tensor::from_vec(vec![0.3, -1.7, 2.5, 0.05, -0.4, 1.1], [2, 3]).requires_grad();
        let y = Tensor::from_vec(vec![0.1, 0.4, -0.2], [3]).requires_grad();
        for reduction in [Reduction::None, Reduction::Sum, Reduction::Mean] {
            let losses: Vec<Box<dyn Loss>> = vec![
                Box::new(L1Loss::new().reduction(reduction)),
                Box::new(MSELoss::new().reduction(reduction)),
                Box::new(SmoothL1Loss::new().beta(0.6).reduction(reduction)),
                Box::new(HuberLoss::new().delta(1.5).reduction(reduction)),
            ];
            for loss in &losses {
                gradcheck(
                    |v| loss.forward(&v[0], &v[1]).unwrap(),
                    &[x.clone(), y.clone()],
                )
                .unwrap_or_else(|e| panic!("{}: {e}", loss.describe()));
            }
        }
    }
}
