//! Function forms of the losses, with PyTorch's argument order (`torch.nn.functional`):
//! `cross_entropy(input, target, weight, ignore_index, reduction, label_smoothing)`.
//! Each builds the matching module of [`crate::nn::loss`] and runs it, so both forms share
//! one implementation, one set of checks and the same errors.
//!
//! ```
//! use ferrite::nn::functional as F;
//! use ferrite::nn::loss::Reduction;
//! use ferrite::Tensor;
//! let x = Tensor::ones([2, 2]);
//! let y = Tensor::full([2, 2], 3.0);
//! assert_eq!(F::mse_loss(&x, &y, Reduction::Mean).unwrap().item(), 4.0);
//! assert_eq!(F::l1_loss(&x, &y, Reduction::Sum).unwrap().item(), 8.0);
//! ```

use crate::nn::loss::{
    BCELoss, BCEWithLogitsLoss, CosineEmbeddingLoss, CrossEntropyLoss, HuberLoss, KLDivLoss,
    KLDivReduction, L1Loss, Loss, MSELoss, MarginRankingLoss, NLLLoss, Reduction, SmoothL1Loss,
    SoftMarginLoss,
};
use crate::{Result, Tensor};

/// Cross-entropy of logits against class indices or class probabilities; see
/// [`CrossEntropyLoss`] (PyTorch defaults: `None`, −100, `Mean`, 0.0).
///
/// ```
/// use ferrite::nn::{functional::cross_entropy, loss::Reduction};
/// use ferrite::Tensor;
/// let x = Tensor::from_vec(vec![1.0, 2.0, 1.0, 3.0, 1.0, 3.0], [3, 2]);
/// let y = Tensor::from_vec(vec![0.0, 1.0, 1.0], [3]);
/// let loss = cross_entropy(&x, &y, None, -100, Reduction::Mean, 0.0).unwrap();
/// assert!((loss.item() - 0.5224).abs() < 1e-4);
/// ```
pub fn cross_entropy(
    input: &Tensor,
    target: &Tensor,
    weight: Option<&Tensor>,
    ignore_index: i64,
    reduction: Reduction,
    label_smoothing: f32,
) -> Result<Tensor> {
    CrossEntropyLoss {
        weight: weight.cloned(),
        ignore_index,
        reduction,
        label_smoothing,
    }
    .forward(input, target)
}

/// Negative log-likelihood of log-probabilities against class indices; see [`NLLLoss`].
pub fn nll_loss(
    input: &Tensor,
    target: &Tensor,
    weight: Option<&Tensor>,
    ignore_index: i64,
    reduction: Reduction,
) -> Result<Tensor> {
    NLLLoss {
        weight: weight.cloned(),
        ignore_index,
        reduction,
    }
    .forward(input, target)
}

/// Binary cross-entropy of probabilities; see [`BCELoss`].
pub fn binary_cross_entropy(
    input: &Tensor,
    target: &Tensor,
    weight: Option<&Tensor>,
    reduction: Reduction,
) -> Result<Tensor> {
    BCELoss {
        weight: weight.cloned(),
        reduction,
    }
    .forward(input, target)
}

/// Binary cross-entropy of logits, stable for any logit; see [`BCEWithLogitsLoss`].
pub fn binary_cross_entropy_with_logits(
    input: &Tensor,
    target: &Tensor,
    weight: Option<&Tensor>,
    reduction: Reduction,
    pos_weight: Option<&Tensor>,
) -> Result<Tensor> {
    BCEWithLogitsLoss {
        weight: weight.cloned(),
        pos_weight: pos_weight.cloned(),
        reduction,
    }
    .forward(input, target)
}

/// Absolute error `|x − y|`; see [`L1Loss`].
pub fn l1_loss(input: &Tensor, target: &Tensor, reduction: Reduction) -> Result<Tensor> {
    L1Loss { reduction }.forward(input, target)
}

/// Squared error `(x − y)²`; see [`MSELoss`].
pub fn mse_loss(input: &Tensor, target: &Tensor, reduction: Reduction) -> Result<Tensor> {
    MSELoss { reduction }.forward(input, target)
}

/// Smooth L1 with threshold β (PyTorch's default 1.0); see [`SmoothL1Loss`].
pub fn smooth_l1_loss(
    input: &Tensor,
    target: &Tensor,
    reduction: Reduction,
    beta: f32,
) -> Result<Tensor> {
    SmoothL1Loss { reduction, beta }.forward(input, target)
}

/// Huber loss with threshold δ (PyTorch's default 1.0); see [`HuberLoss`].
pub fn huber_loss(
    input: &Tensor,
    target: &Tensor,
    reduction: Reduction,
    delta: f32,
) -> Result<Tensor> {
    HuberLoss { reduction, delta }.forward(input, target)
}

/// Logistic loss on ±1 labels, `log(1 + e^(−y·x))`; see [`SoftMarginLoss`].
pub fn soft_margin_loss(input: &Tensor, target: &Tensor, reduction: Reduction) -> Result<Tensor> {
    SoftMarginLoss { reduction }.forward(input, target)
}

/// Cosine embedding loss of pairs with labels ±1; see [`CosineEmbeddingLoss`].
pub fn cosine_embedding_loss(
    x1: &Tensor,
    x2: &Tensor,
    target: &Tensor,
    margin: f32,
    reduction: Reduction,
) -> Result<Tensor> {
    CosineEmbeddingLoss { margin, reduction }.forward(&[x1, x2], target)
}

/// Margin ranking loss `max(0, −y·(x1 − x2) + margin)`; see [`MarginRankingLoss`].
pub fn margin_ranking_loss(
    x1: &Tensor,
    x2: &Tensor,
    target: &Tensor,
    margin: f32,
    reduction: Reduction,
) -> Result<Tensor> {
    MarginRankingLoss { margin, reduction }.forward(&[x1, x2], target)
}

/// KL divergence of log-probabilities `input` from probabilities `target` (PyTorch's
/// `F.kl_div(input, target, reduction)`); see [`KLDivLoss`].
pub fn kl_div(
    input: &Tensor,
    target: &Tensor,
    reduction: impl Into<KLDivReduction>,
) -> Result<Tensor> {
    KLDivLoss {
        reduction: reduction.into(),
        log_target: false,
    }
    .forward(input, target)
}

/// [`kl_div`] with `target` given as log-probabilities too (PyTorch's `log_target=True`).
pub fn kl_div_log_target(
    input: &Tensor,
    target: &Tensor,
    reduction: impl Into<KLDivReduction>,
) -> Result<Tensor> {
    KLDivLoss {
        reduction: reduction.into(),
        log_target: true,
    }
    .forward(input, target)
}
