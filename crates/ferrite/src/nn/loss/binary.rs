//! Binary losses: cross-entropy on probabilities (BCE) and on logits (fused with the sigmoid,
//! stable for large logits), and the soft-margin loss on ±1 labels.

use super::{expand_to, fused_loss, loss_request, shape_error, Loss, Reduction};
use crate::{FerriteError, Result, Tensor};

/// PyTorch's rule for BCE losses: the target must have exactly the input's size.
fn check_same_size(op: &str, input: &Tensor, target: &Tensor) -> Result<()> {
    if input.dims() != target.dims() {
        return Err(shape_error(
            op,
            format!(
                "Using a target size ({:?}) that is different to the input size ({:?}) is not allowed. Please ensure they have the same size.",
                target.dims(),
                input.dims()
            ),
        ));
    }
    Ok(())
}

/// Binary cross-entropy of probabilities (PyTorch's `nn.BCELoss`):
/// `l = −w·(y·log x + (1 − y)·log(1 − x))`, each log clamped at −100 so that x = 0 or 1
/// gives a finite loss. A mean divides by the number of elements (not by the weights).
///
/// Input and target must have the same shape and lie in [0, 1] (otherwise an error);
/// `weight` broadcasts to the input's shape. The input gradient is PyTorch's
/// `w·(x − y) / max(x(1 − x), 1e-12)`.
///
/// ```
/// use ferrite::nn::loss::{BCELoss, Loss};
/// use ferrite::Tensor;
/// let p = Tensor::from_vec(vec![0.8, 0.4], [2]);
/// let y = Tensor::from_vec(vec![1.0, 0.0], [2]);
/// let loss = BCELoss::new().forward(&p, &y).unwrap().item();
/// assert!((loss - (-(0.8f32.ln()) - 0.6f32.ln()) / 2.0).abs() < 1e-6);
/// assert!(BCELoss::new().forward(&Tensor::from_vec(vec![1.2, 0.5], [2]), &y).is_err());
/// ```
#[derive(Clone, Debug, Default)]
pub struct BCELoss {
    /// Per-element weights broadcast to the input's shape, or `None` for ones.
    pub weight: Option<Tensor>,
    /// How the per-element losses are folded.
    pub reduction: Reduction,
}

impl BCELoss {
    /// PyTorch's defaults: no weights, mean.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets per-element weights (broadcast to the input's shape).
    pub fn weight(mut self, weight: Tensor) -> Self {
        self.weight = Some(weight);
        self
    }
    /// Sets the reduction.
    pub fn reduction(mut self, reduction: Reduction) -> Self {
        self.reduction = reduction;
        self
    }
}

impl Loss for BCELoss {
    fn forward(&self, input: &Tensor, target: &Tensor) -> Result<Tensor> {
        const OP: &str = "binary_cross_entropy";
        check_same_size(OP, input, target)?;
        let weight = self
            .weight
            .as_ref()
            .map(|w| expand_to(OP, "weight", w, input.dims()))
            .transpose()?;
        let n = input.numel() as f64;
        let request = loss_request(self.reduction, input, Some(target), n);
        let out = {
            let (xs, ys) = (input.storage(), target.storage());
            if let Some(bad) = xs.first_outside_unit_interval(input.layout()) {
                return Err(FerriteError::invalid(
                    "input",
                    format!("all elements of input should be between 0 and 1 (found {bad})"),
                ));
            }
            if let Some(bad) = ys.first_outside_unit_interval(target.layout()) {
                return Err(FerriteError::invalid(
                    "target",
                    format!("all elements of target should be between 0 and 1 (found {bad})"),
                ));
            }
            let ws = weight.as_ref().map(|w| w.storage());
            let weight = ws.as_deref().zip(weight.as_ref().map(Tensor::layout));
            xs.binary_cross_entropy(input.layout(), (&ys, target.layout()), weight, request)
        };
        Ok(fused_loss(
            out,
            self.reduction,
            input.dims().to_vec(),
            n,
            vec![input.clone(), target.clone()],
            None,
        ))
    }

    fn describe(&self) -> String {
        format!("BCELoss(reduction={})", self.reduction)
    }
}

/// Sigmoid and binary cross-entropy in one stable step (PyTorch's `nn.BCEWithLogitsLoss`):
/// with `lw = 1 + (pos_weight − 1)·y`,
/// `l = w·((1 − y)·x − lw·log σ(x))`, `log σ(x) = min(x, 0) − log(1 + e^−|x|)`,
/// finite for any logit. `pos_weight` (broadcast along the last dimension, e.g. one per
/// class) trades recall against precision; `weight` broadcasts to the input's shape.
///
/// Input and target must have the same shape (otherwise an error). Gradient:
/// `w·((1 − y) − lw·σ(−x))`, which is `σ(x) − y` without weights.
///
/// ```
/// use ferrite::nn::loss::{BCEWithLogitsLoss, Loss};
/// use ferrite::Tensor;
/// let x = Tensor::from_vec(vec![1000.0, -1000.0], [2]);
/// let y = Tensor::from_vec(vec![0.0, 0.0], [2]);
/// assert_eq!(BCEWithLogitsLoss::new().forward(&x, &y).unwrap().item(), 500.0);
/// ```
#[derive(Clone, Debug, Default)]
pub struct BCEWithLogitsLoss {
    /// Per-element weights broadcast to the input's shape, or `None` for ones.
    pub weight: Option<Tensor>,
    /// Weight of positive examples, broadcast to the input's shape (usually one per class).
    pub pos_weight: Option<Tensor>,
    /// How the per-element losses are folded.
    pub reduction: Reduction,
}

impl BCEWithLogitsLoss {
    /// PyTorch's defaults: no weights, no `pos_weight`, mean.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets per-element weights (broadcast to the input's shape).
    pub fn weight(mut self, weight: Tensor) -> Self {
        self.weight = Some(weight);
        self
    }
    /// Sets the weight of positive examples (broadcast to the input's shape).
    pub fn pos_weight(mut self, pos_weight: Tensor) -> Self {
        self.pos_weight = Some(pos_weight);
        self
    }
    /// Sets the reduction.
    pub fn reduction(mut self, reduction: Reduction) -> Self {
        self.reduction = reduction;
        self
    }
}

impl Loss for BCEWithLogitsLoss {
    fn forward(&self, input: &Tensor, target: &Tensor) -> Result<Tensor> {
        const OP: &str = "binary_cross_entropy_with_logits";
        check_same_size(OP, input, target)?;
        let weight = self
            .weight
            .as_ref()
            .map(|w| expand_to(OP, "weight", w, input.dims()))
            .transpose()?;
        let pos_weight = self
            .pos_weight
            .as_ref()
            .map(|p| expand_to(OP, "pos_weight", p, input.dims()))
            .transpose()?;
        let n = input.numel() as f64;
        let request = loss_request(self.reduction, input, Some(target), n);
        let out = {
            let (xs, ys) = (input.storage(), target.storage());
            let ws = weight.as_ref().map(|w| w.storage());
            let pws = pos_weight.as_ref().map(|p| p.storage());
            xs.binary_cross_entropy_with_logits(
                input.layout(),
                (&ys, target.layout()),
                ws.as_deref().zip(weight.as_ref().map(Tensor::layout)),
                pws.as_deref().zip(pos_weight.as_ref().map(Tensor::layout)),
                request,
            )
        };
        Ok(fused_loss(
            out,
            self.reduction,
            input.dims().to_vec(),
            n,
            vec![input.clone(), target.clone()],
            None,
        ))
    }

    fn describe(&self) -> String {
        format!("BCEWithLogitsLoss(reduction={})", self.reduction)
    }
}

/// Logistic loss on ±1 labels (PyTorch's `nn.SoftMarginLoss`): `l = log(1 + e^(−y·x))`,
/// computed as `softplus(−y·x)` so large margins do not overflow; a mean divides by the number
/// of elements. Input and target broadcast together.
///
/// ```
/// use ferrite::nn::loss::{Loss, Reduction, SoftMarginLoss};
/// use ferrite::Tensor;
/// let x = Tensor::from_vec(vec![0.3, 0.7, 0.5, 0.5], [2, 2]);
/// let y = Tensor::from_vec(vec![-1.0, 1.0, 1.0, -1.0], [2, 2]);
/// let l = SoftMarginLoss::new().reduction(Reduction::None).forward(&x, &y).unwrap().to_vec();
/// assert!((l[0] - 0.8544).abs() < 1e-4 && (l[3] - 0.9741).abs() < 1e-4);
/// ```
#[derive(Clone, Debug, Default)]
pub struct SoftMarginLoss {
    /// How the per-element losses are folded.
    pub reduction: Reduction,
}

impl SoftMarginLoss {
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

impl Loss for SoftMarginLoss {
    fn forward(&self, input: &Tensor, target: &Tensor) -> Result<Tensor> {
        super::broadcast_pair("soft_margin_loss", input, target)?;
        // log(1 + e^z) with z = −y·x; softplus is linear above 20, where e^z dwarfs 1.
        Ok(self
            .reduction
            .apply((input * target).neg().softplus(1.0, 20.0)))
    }

    fn describe(&self) -> String {
        format!("SoftMarginLoss(reduction={})", self.reduction)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck;

    #[test]
    fn bce_clamps_logs_and_rejects_bad_values() {
        let x = Tensor::from_vec(vec![0.0, 1.0], [2]);
        let y = Tensor::from_vec(vec![1.0, 0.0], [2]);
        assert_eq!(
            BCELoss::new()
                .reduction(Reduction::None)
                .forward(&x, &y)
                .unwrap()
                .to_vec(),
            vec![100.0, 100.0]
        );
        let e = BCELoss::new()
            .forward(&Tensor::from_vec(vec![-0.1, 0.5], [2]), &y)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("all elements of input should be between 0 and 1"),
            "{e}"
        );
        let e = BCELoss::new()
            .forward(&x, &Tensor::from_vec(vec![2.0, 0.5], [2]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("all elements of target should be between 0 and 1"),
            "{e}"
        );
        let e = BCEWithLogitsLoss::new()
            .forward(&Tensor::zeros([2, 1]), &Tensor::zeros([2]))
            .unwrap_err();
        assert!(e.to_string().contains("different to the input size"), "{e}");
        let e = BCEWithLogitsLoss::new()
            .pos_weight(Tensor::ones([3]))
            .forward(&Tensor::zeros([2, 2]), &Tensor::zeros([2, 2]));
        assert!(e
            .unwrap_err()
            .to_string()
            .contains("pos_weight of shape [3] does not broadcast"));
    }

    #[test]
    fn gradients_match_finite_differences() {
        let x = Tensor::from_vec(vec![0.2, 0.9, 0.45, 0.6, 0.3, 0.75], [2, 3]).requires_grad();
        let y = Tensor::from_vec(vec![1.0, 0.0, 0.3, 0.0, 1.0, 0.8], [2, 3]).requires_grad();
        // Strictly inside (0, 1), so finite-difference steps stay valid BCE targets.
        let soft_y = Tensor::from_vec(vec![0.9, 0.1, 0.3, 0.05, 0.95, 0.8], [2, 3]).requires_grad();
        let w = Tensor::from_vec(vec![0.5, 1.5, 2.0], [3]);
        let logits = Tensor::from_vec(vec![-2.0, 0.5, 1.2, 3.0, -0.7, 0.1], [2, 3]).requires_grad();
        for reduction in [Reduction::None, Reduction::Sum, Reduction::Mean] {
            let bce = BCELoss::new().weight(w.clone()).reduction(reduction);
            gradcheck(
                |v| bce.forward(&v[0], &v[1]).unwrap(),
                &[x.clone(), soft_y.clone()],
            )
            .unwrap();
            let bcel = BCEWithLogitsLoss::new()
                .weight(w.clone())
                .pos_weight(Tensor::from_vec(vec![3.0, 0.5, 1.0], [3]))
                .reduction(reduction);
            gradcheck(
                |v| bcel.forward(&v[0], &v[1]).unwrap(),
                &[logits.clone(), y.clone()],
            )
            .unwrap();
            let soft = SoftMarginLoss::new().reduction(reduction);
            gradcheck(
                |v| soft.forward(&v[0], &v[1]).unwrap(),
                &[logits.clone(), y.clone()],
            )
            .unwrap();
        }
    }
}
