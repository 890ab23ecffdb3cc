//! Loss functions with PyTorch's names, options, numerics and errors, as modules
//! (`CrossEntropyLoss::new().label_smoothing(0.1)`) and as functions
//! ([`crate::nn::functional`]).
//!
//! Every loss takes a [`Reduction`]: `None` keeps one value per element (or per sample for
//! class losses), `Sum` adds them, `Mean` averages them (a weighted mean for class losses
//! with weights, as in PyTorch). Losses return `Result`, because targets and options often
//! come from user data: a class index out of range, shapes that do not fit, the wrong kind of
//! target or an invalid option is an `Err` with a message like PyTorch's.
//!
//! ```
//! use ferrite::nn::loss::{CrossEntropyLoss, Loss};
//! use ferrite::Tensor;
//!
//! let logits = Tensor::from_vec(vec![1.0, 2.0, 1.0, 3.0, 1.0, 3.0], [3, 2]).requires_grad();
//! let target = Tensor::from_vec(vec![0.0, 1.0, 1.0], [3]);
//! let loss = CrossEntropyLoss::new().forward(&logits, &target).unwrap();
//! assert!((loss.item() - 0.5224).abs() < 1e-4);
//! loss.backward();
//! assert_eq!(logits.grad().unwrap().dims(), &[3, 2]);
//! assert!(CrossEntropyLoss::new().forward(&logits, &Tensor::from_vec(vec![0.0, 1.0, 3.0], [3])).is_err());
//! ```
//!
//! Cross-entropy, NLL, BCE and BCE-with-logits run as fused kernels that compute the loss and
//! its gradient in one pass (`backend::LossOps`); the others are compositions of tensor
//! ops, differentiated by autograd.

mod binary;
mod classification;
mod embedding;
mod kl;
mod regression;

pub use binary::{BCELoss, BCEWithLogitsLoss, SoftMarginLoss};
pub use classification::{CrossEntropyLoss, NLLLoss};
pub use embedding::{CosineEmbeddingLoss, MarginRankingLoss};
pub use kl::{KLDivLoss, KLDivReduction};
pub use regression::{HuberLoss, L1Loss, MSELoss, SmoothL1Loss};

use crate::autograd::Op;
use crate::backend::{LossOutput, LossRequest, Storage};
use crate::tensor::Layout;
use crate::{FerriteError, Result, Tensor};
use std::str::FromStr;

/// How a loss folds its per-element values: PyTorch's `reduction` argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Reduction {
    /// One loss value per element (per sample for class losses).
    None,
    /// The average (the weighted average for class losses with class weights).
    #[default]
    Mean,
    /// The sum.
    Sum,
}

impl Reduction {
    /// Folds unreduced losses: the sum, the mean over all elements, or them unchanged.
    pub fn apply(self, losses: Tensor) -> Tensor {
        match self {
            Reduction::None => losses,
            Reduction::Mean => losses.mean(),
            Reduction::Sum => losses.sum(),
        }
    }

    /// PyTorch's spelling: `"none"`, `"mean"` or `"sum"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Reduction::None => "none",
            Reduction::Mean => "mean",
            Reduction::Sum => "sum",
        }
    }
}

impl FromStr for Reduction {
    type Err = FerriteError;

    /// Parses `"none"`, `"mean"` or `"sum"` (as PyTorch spells them).
    ///
    /// ```
    /// use ferrite::nn::loss::Reduction;
    /// assert_eq!("sum".parse::<Reduction>().unwrap(), Reduction::Sum);
    /// assert!("average".parse::<Reduction>().is_err());
    /// ```
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "none" => Ok(Reduction::None),
            "mean" => Ok(Reduction::Mean),
            "sum" => Ok(Reduction::Sum),
            other => Err(FerriteError::invalid(
                "reduction",
                format!("{other} is not a valid value for reduction (expected none, mean or sum)"),
            )),
        }
    }
}

impl std::fmt::Display for Reduction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A loss of a prediction against a target: PyTorch's `loss_fn(input, target)`, one trait for
/// every loss.
///
/// `I` is what the loss compares with the target: one tensor for most losses (the default,
/// so `Loss` means `Loss<Tensor>` and `&dyn Loss` holds any of them), a pair `[&x1, &x2]` for
/// the losses of two inputs ([`CosineEmbeddingLoss`], [`MarginRankingLoss`]: PyTorch's
/// `loss_fn(x1, x2, target)`). A loss given the wrong number of inputs does not compile.
///
/// ```
/// use ferrite::nn::loss::{Loss, MSELoss, MarginRankingLoss, Reduction};
/// use ferrite::{Result, Tensor};
///
/// // Generic over every loss, whatever its inputs.
/// fn sum_of_losses<I: ?Sized, L: Loss<I>>(loss: &L, input: &I, target: &Tensor) -> Result<f32> {
///     Ok(loss.forward(input, target)?.sum().item())
/// }
/// let (x1, x2) = (Tensor::from_vec(vec![1.0, 2.0], [2]), Tensor::from_vec(vec![2.0, 2.0], [2]));
/// let y = Tensor::from_vec(vec![1.0, -1.0], [2]);
/// let mse = MSELoss::new().reduction(Reduction::None);
/// assert_eq!(sum_of_losses(&mse, &x1, &x2).unwrap(), 1.0);
/// let ranking = MarginRankingLoss::new().reduction(Reduction::None);
/// assert_eq!(sum_of_losses(&ranking, &[&x1, &x2], &y).unwrap(), 1.0);
/// ```
pub trait Loss<I: ?Sized = Tensor>: Send + Sync {
    /// The loss of `input` against `target`; an `Err` for targets or shapes that do not fit
    /// (targets are data, so a bad one is the user's to report, not a panic).
    fn forward(&self, input: &I, target: &Tensor) -> Result<Tensor>;

    /// A short name for logs and summaries, like PyTorch's repr (`CrossEntropyLoss()`).
    fn describe(&self) -> String {
        std::any::type_name::<Self>()
            .rsplit("::")
            .next()
            .unwrap_or("Loss")
            .to_string()
    }
}

/// A `Shape` error of operation `op`.
pub(crate) fn shape_error(op: &str, message: impl Into<String>) -> FerriteError {
    FerriteError::Shape {
        op: op.to_string(),
        message: message.into(),
    }
}

/// Checks that `target` broadcasts against `input` and returns the broadcast shape (the
/// elementwise losses broadcast, as PyTorch does with a warning).
pub(crate) fn broadcast_pair(op: &str, input: &Tensor, target: &Tensor) -> Result<Vec<usize>> {
    crate::tensor::try_broadcast_shapes(input.dims(), target.dims()).ok_or_else(|| {
        shape_error(
            op,
            format!(
                "The size of input {:?} must match (or broadcast with) the size of target {:?}",
                input.dims(),
                target.dims()
            ),
        )
    })
}

/// `t` (a weight) seen with shape `dims`: an expanded view without history (the fused losses
/// give weights no gradient), or an error naming `what`.
pub(crate) fn expand_to(op: &str, what: &str, t: &Tensor, dims: &[usize]) -> Result<Tensor> {
    match crate::tensor::try_broadcast_shapes(t.dims(), dims) {
        Some(b) if b == dims => Ok(if t.dims() == dims {
            t.detach()
        } else {
            t.detach().expand(dims.to_vec())
        }),
        _ => Err(shape_error(
            op,
            format!(
                "{what} of shape {:?} does not broadcast to the input's shape {dims:?}",
                t.dims()
            ),
        )),
    }
}

/// True when autograd should compute a gradient for `t` now.
pub(crate) fn wants_grad(t: &Tensor) -> bool {
    crate::is_grad_enabled() && t.requires_grad_flag()
}

/// What a fused loss's kernel is asked for: the unreduced losses for `Reduction::None`, the
/// gradients of `input` and `target` (`None`: a target that never has one) that autograd
/// wants, scaled for a mean over `denominator`.
pub(crate) fn loss_request(
    reduction: Reduction,
    input: &Tensor,
    target: Option<&Tensor>,
    denominator: f64,
) -> LossRequest {
    LossRequest {
        losses: reduction == Reduction::None,
        grad_input: wants_grad(input),
        grad_target: target.is_some_and(wants_grad),
        scale: grad_scale(reduction, denominator),
    }
}

/// The tensor of a fused loss from what its kernel produced: the unreduced losses shaped
/// `unreduced_dims`, their sum, or their sum over `denominator` (a mean), on the input's
/// device. It records the local gradients of `inputs` (input, then target) for backward
/// when any was computed.
pub(crate) fn fused_loss(
    out: LossOutput<Storage>,
    reduction: Reduction,
    unreduced_dims: Vec<usize>,
    denominator: f64,
    inputs: Vec<Tensor>,
    class_dim: Option<usize>,
) -> Tensor {
    // The reduced loss in the input's type (f64 inputs keep the f64 total).
    let scalar = |v: f64| {
        let (dtype, device) = (inputs[0].dtype(), inputs[0].device());
        Tensor::from_storage(Storage::full(1, v, dtype, device), Layout::contiguous(()))
    };
    let values = match reduction {
        Reduction::None => Tensor::from_storage(
            out.losses
                .expect("fused loss: the unreduced losses were asked for"),
            Layout::contiguous(unreduced_dims),
        ),
        Reduction::Sum => scalar(out.total),
        Reduction::Mean => scalar(out.total / denominator),
    };
    let grads: Vec<Option<Tensor>> = [out.grad_input, out.grad_target]
        .into_iter()
        .zip(&inputs)
        .map(|(g, t)| g.map(|g| Tensor::from_storage(g, Layout::contiguous(t.dims()))))
        .collect();
    if grads.iter().all(Option::is_none) {
        return values;
    }
    values.attach(Op::FusedLoss { grads, class_dim }, inputs)
}

/// The factor a kernel applies to its gradients: 1/denominator for a mean, else 1.
pub(crate) fn grad_scale(reduction: Reduction, denominator: f64) -> f32 {
    match reduction {
        Reduction::Mean => (1.0 / denominator) as f32,
        _ => 1.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reduction_parses_pytorch_names_only() {
        for r in [Reduction::None, Reduction::Mean, Reduction::Sum] {
            assert_eq!(r.as_str().parse::<Reduction>().unwrap(), r);
        }
        let err = "batchmean".parse::<Reduction>().unwrap_err().to_string();
        assert!(
            err.contains("batchmean is not a valid value for reduction"),
            "{err}"
        );
        assert_eq!(Reduction::default(), Reduction::Mean);
    }

    #[test]
    fn reduction_folds_values() {
        let t = Tensor::from_vec(vec![1.0, 2.0, 6.0], [3]);
        assert_eq!(Reduction::Sum.apply(t.clone()).item(), 9.0);
        assert_eq!(Reduction::Mean.apply(t.clone()).item(), 3.0);
        assert_eq!(Reduction::None.apply(t).to_vec(), vec![1.0, 2.0, 6.0]);
    }

    /// The unreduced values of any loss, one input or two: the generic use the one trait is for.
    fn values<I: ?Sized, L: Loss<I> + ?Sized>(loss: &L, input: &I, target: &Tensor) -> Vec<f32> {
        loss.forward(input, target).unwrap().to_vec()
    }

    fn close(got: &[f32], want: &[f32]) -> bool {
        got.len() == want.len() && got.iter().zip(want).all(|(g, w)| (g - w).abs() < 5e-5)
    }

    #[test]
    fn one_generic_function_takes_losses_of_one_and_of_two_inputs() {
        // The course's values (tests/losses_course.rs).
        let logits = Tensor::from_vec(vec![1.0, 2.0, 1.0, 3.0, 1.0, 3.0], [3, 2]);
        let classes = Tensor::from_vec(vec![0.0, 1.0, 1.0], [3]);
        let ce = CrossEntropyLoss::new();
        assert!(close(&values(&ce, &logits, &classes), &[0.5224]));
        let x1 = Tensor::from_vec(vec![0.3, 0.5, 0.7, 0.3, 0.5, 0.7], [2, 3]);
        let x2 = Tensor::from_vec(vec![0.1, 0.3, 0.5, 0.1, 0.3, 0.5], [2, 3]);
        let y = Tensor::from_vec(vec![1.0, -1.0], [2]);
        let cosine = CosineEmbeddingLoss::new().reduction(Reduction::None);
        assert!(close(&values(&cosine, &[&x1, &x2], &y), &[0.0167, 0.9833]));
        let s1 = Tensor::from_vec(vec![1.0, 2.0, 3.0], [3]);
        let s2 = Tensor::from_vec(vec![2.0, 2.0, 2.0], [3]);
        let ranks = Tensor::from_vec(vec![1.0, 1.0, -1.0], [3]);
        let ranking = MarginRankingLoss::new().reduction(Reduction::None);
        assert_eq!(values(&ranking, &[&s1, &s2], &ranks), vec![1.0, 0.0, 1.0]);
        // `dyn Loss` is still the one-input loss, as `fit`'s closures and the CLI use it.
        let boxed: Box<dyn Loss> = Box::new(MSELoss::new().reduction(Reduction::None));
        assert_eq!(values(boxed.as_ref(), &s1, &s2), vec![1.0, 0.0, 1.0]);
        assert_eq!(
            Loss::<[&Tensor; 2]>::describe(&ranking),
            "MarginRankingLoss(margin=0, reduction=none)"
        );
    }
}
