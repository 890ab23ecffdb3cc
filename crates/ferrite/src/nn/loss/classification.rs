//! Multi-class losses: cross-entropy on logits and negative log-likelihood on
//! log-probabilities, with class weights, `ignore_index` and label smoothing. Both run as one
//! fused kernel (log-softmax + NLL, gradient `softmax − onehot`).

use super::{fused_loss, loss_request, shape_error, Loss, Reduction};
use crate::backend::{ClassDims, ClassIndexOptions};
use crate::{DType, FerriteError, Result, Tensor};

/// What a class loss's target holds, decided from its shape as PyTorch does.
enum TargetKind {
    /// One class index per position: the input's shape without the class dimension.
    Indices,
    /// A distribution over classes per position: the input's shape.
    Probabilities,
}

/// Checks the input (`(C)`, `(N, C)` or `(N, C, d1, ...)`), the target and the class weights
/// of a class loss, and returns the `(outer, classes, inner)` view and the target's kind.
fn check_class_shapes(
    op: &str,
    input: &Tensor,
    target: &Tensor,
    weight: Option<&Tensor>,
) -> Result<(ClassDims, TargetKind)> {
    let dims = input.dims();
    if dims.is_empty() {
        return Err(shape_error(op, "input must have a class dimension: expected (C), (N, C) or (N, C, d1, ...), got a 0-d tensor"));
    }
    let (outer, classes, inner) = if dims.len() == 1 {
        (1, dims[0], 1)
    } else {
        (dims[0], dims[1], dims[2..].iter().product())
    };
    if classes == 0 {
        return Err(shape_error(op, format!("input {dims:?} has no classes")));
    }
    if let Some(w) = weight {
        if w.dims() != [classes] {
            return Err(shape_error(
                op,
                format!(
                    "weight tensor should be defined either for all {classes} classes or no classes but got weight tensor of shape: {:?}",
                    w.dims()
                ),
            ));
        }
    }
    let index_dims: Vec<usize> = dims
        .iter()
        .enumerate()
        .filter(|&(i, _)| i != dims.len().min(2) - 1)
        .map(|(_, &d)| d)
        .collect();
    let kind = if target.dims() == index_dims {
        TargetKind::Indices
    } else if target.dims() == dims {
        TargetKind::Probabilities
    } else if dims.len() >= 2 && target.rank() >= 1 && target.dims()[0] != dims[0] {
        return Err(shape_error(
            op,
            format!(
                "Expected input batch_size ({}) to match target batch_size ({}).",
                dims[0],
                target.dims()[0]
            ),
        ));
    } else {
        return Err(shape_error(
            op,
            format!(
                "target of shape {:?} fits neither class indices of shape {index_dims:?} nor class probabilities of shape {dims:?} (input {dims:?})",
                target.dims()
            ),
        ));
    };
    Ok((
        ClassDims {
            outer,
            classes,
            inner,
        },
        kind,
    ))
}

/// The loss against class indices: cross-entropy (`logits`) or NLL, fused forward and backward.
#[allow(clippy::too_many_arguments)]
fn class_index_loss(
    input: &Tensor,
    target: &Tensor,
    dims: ClassDims,
    weight: Option<&Tensor>,
    ignore_index: i64,
    smoothing: f32,
    logits: bool,
    reduction: Reduction,
) -> Result<Tensor> {
    // Class indices arrive as int64 (PyTorch's type) or as whole-number floats; the fused
    // kernel reads them as floats, exact for every index below 2²⁴.
    let target = &match target.dtype() {
        DType::I64 => target.to_dtype(DType::F32),
        _ => target.clone(),
    };
    let options = ClassIndexOptions {
        ignore_index: ignore_index as f32,
        smoothing,
        logits,
    };
    let (out, total_weight) = {
        let (xs, ts) = (input.storage(), target.storage());
        let ws = weight.map(|w| w.storage());
        let weight = ws.as_deref().zip(weight.map(Tensor::layout));
        let total_weight = ts
            .class_target_weight(target.layout(), dims.classes, options.ignore_index, weight)
            .map_err(|bad| {
                let message = if bad.fract() == 0.0 || !bad.is_finite() {
                    format!("Target {bad} is out of bounds.")
                } else {
                    format!(
                        "Target {bad} is not a class index (a whole number in 0..{})",
                        dims.classes
                    )
                };
                FerriteError::invalid("target", message)
            })?;
        let request = loss_request(reduction, input, None, total_weight);
        let out = xs.class_index_loss(
            input.layout(),
            dims,
            (&ts, target.layout()),
            weight,
            options,
            request,
        );
        (out, total_weight)
    };
    let class_dim = (reduction == Reduction::None && input.rank() > 1).then_some(1);
    Ok(fused_loss(
        out,
        reduction,
        target.dims().to_vec(),
        total_weight,
        vec![input.clone()],
        class_dim,
    ))
}

/// Cross-entropy against class probabilities (soft labels), fused forward and backward.
/// A mean divides by the number of positions, not by weights (PyTorch's rule).
fn class_probability_loss(
    input: &Tensor,
    target: &Tensor,
    dims: ClassDims,
    weight: Option<&Tensor>,
    smoothing: f32,
    reduction: Reduction,
) -> Tensor {
    let count = dims.positions() as f64;
    let request = loss_request(reduction, input, Some(target), count);
    let out = {
        let (xs, ts) = (input.storage(), target.storage());
        let ws = weight.map(|w| w.storage());
        xs.class_probability_loss(
            input.layout(),
            dims,
            (&ts, target.layout()),
            ws.as_deref().zip(weight.map(Tensor::layout)),
            smoothing,
            request,
        )
    };
    let mut unreduced = input.dims().to_vec();
    if !unreduced.is_empty() {
        unreduced.remove(unreduced.len().min(2) - 1);
    }
    let class_dim = (reduction == Reduction::None && input.rank() > 1).then_some(1);
    fused_loss(
        out,
        reduction,
        unreduced,
        count,
        vec![input.clone(), target.clone()],
        class_dim,
    )
}

/// Cross-entropy of logits against classes: `log_softmax` over dimension 1 followed by
/// [`NLLLoss`], fused (PyTorch's `nn.CrossEntropyLoss`).
///
/// - input `(C)`, `(N, C)` or `(N, C, d1, ...)` of raw scores;
/// - target of class indices (int64 as in PyTorch, or whole numbers as floats) shaped like the input without the class
///   dimension, or of class probabilities shaped like the input;
/// - `weight` (length C) scales each class; a mean over index targets divides by the sum
///   of the weights of the counted targets; positions whose target is `ignore_index` count
///   for nothing (all ignored: the mean is NaN, as in PyTorch);
/// - `label_smoothing` ε in [0, 1] mixes the target with the uniform distribution:
///   `loss = (1−ε)·nll + (ε/C)·Σ_c −w_c·log p_c`.
///
/// Errors: a class index out of range (`Target 3 is out of bounds.`), a target of neither
/// shape, a weight of the wrong length, ε outside [0, 1], and a non-negative
/// `ignore_index` with probability targets.
///
/// ```
/// use ferrite::nn::loss::{CrossEntropyLoss, Loss, Reduction};
/// use ferrite::Tensor;
/// let x = Tensor::from_vec(vec![2.0, 0.0, 0.0, 0.0, 2.0, 0.0], [2, 3]);
/// let y = Tensor::from_vec(vec![0.0, 1.0], [2]);
/// let loss = CrossEntropyLoss::new().reduction(Reduction::None).forward(&x, &y).unwrap();
/// // −log(e² / (e² + 2)) for both rows
/// let expected = -(2f32.exp() / (2f32.exp() + 2.0)).ln();
/// assert!(loss.to_vec().iter().all(|v| (v - expected).abs() < 1e-6));
/// ```
#[derive(Clone, Debug)]
pub struct CrossEntropyLoss {
    /// Per-class weights (length C), or `None` for all ones.
    pub weight: Option<Tensor>,
    /// Target value whose positions are left out (PyTorch's default −100).
    pub ignore_index: i64,
    /// How the per-sample losses are folded.
    pub reduction: Reduction,
    /// Label smoothing ε in [0, 1] (0: none).
    pub label_smoothing: f32,
}

impl Default for CrossEntropyLoss {
    fn default() -> Self {
        CrossEntropyLoss {
            weight: None,
            ignore_index: -100,
            reduction: Reduction::Mean,
            label_smoothing: 0.0,
        }
    }
}

impl CrossEntropyLoss {
    /// PyTorch's defaults: no weights, `ignore_index` −100, mean, no smoothing.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets per-class weights (length C).
    pub fn weight(mut self, weight: Tensor) -> Self {
        self.weight = Some(weight);
        self
    }
    /// Sets the target value that is ignored.
    pub fn ignore_index(mut self, ignore_index: i64) -> Self {
        self.ignore_index = ignore_index;
        self
    }
    /// Sets the reduction.
    pub fn reduction(mut self, reduction: Reduction) -> Self {
        self.reduction = reduction;
        self
    }
    /// Sets label smoothing ε (checked at call time: it must lie in [0, 1]).
    pub fn label_smoothing(mut self, epsilon: f32) -> Self {
        self.label_smoothing = epsilon;
        self
    }
}

impl Loss for CrossEntropyLoss {
    fn forward(&self, input: &Tensor, target: &Tensor) -> Result<Tensor> {
        const OP: &str = "cross_entropy";
        let eps = self.label_smoothing;
        if !(0.0..=1.0).contains(&eps) {
            return Err(FerriteError::invalid(
                "label_smoothing",
                format!("label_smoothing must be between 0.0 and 1.0. Got: {eps}"),
            ));
        }
        let (dims, kind) = check_class_shapes(OP, input, target, self.weight.as_ref())?;
        match kind {
            TargetKind::Indices => class_index_loss(
                input,
                target,
                dims,
                self.weight.as_ref(),
                self.ignore_index,
                eps,
                true,
                self.reduction,
            ),
            TargetKind::Probabilities => {
                if !target.dtype().is_float() {
                    return Err(FerriteError::invalid(
                        "target",
                        format!(
                            "class-probability targets (shaped like the input {:?}) must be floating point, got {}",
                            input.dims(),
                            target.dtype()
                        ),
                    ));
                }
                if self.ignore_index >= 0 {
                    return Err(FerriteError::invalid(
                        "ignore_index",
                        "ignore_index is not supported for floating point target (class-probability targets)",
                    ));
                }
                Ok(class_probability_loss(
                    input,
                    target,
                    dims,
                    self.weight.as_ref(),
                    eps,
                    self.reduction,
                ))
            }
        }
    }

    fn describe(&self) -> String {
        format!(
            "CrossEntropyLoss(reduction={}, label_smoothing={})",
            self.reduction, self.label_smoothing
        )
    }
}

/// Negative log-likelihood of log-probabilities (PyTorch's `nn.NLLLoss`):
/// `l_n = −w[y_n]·x[n, y_n]`, 0 where `y_n = ignore_index`; a mean divides by the sum of
/// `w[y_n]` over the counted samples. Usually follows `log_softmax`.
///
/// Input `(C)`, `(N, C)` or `(N, C, d1, ...)`; target of class indices shaped like the input
/// without the class dimension. Errors: a class index out of range
/// (`Target 3 is out of bounds.`), a target of the wrong shape or kind, a weight of the
/// wrong length.
///
/// ```
/// use ferrite::nn::loss::{Loss, NLLLoss};
/// use ferrite::Tensor;
/// let logp = Tensor::from_vec(vec![-0.1, -2.4, -1.6, -0.2], [2, 2]);
/// let y = Tensor::from_vec(vec![0.0, 1.0], [2]);
/// assert!((NLLLoss::new().forward(&logp, &y).unwrap().item() - 0.15).abs() < 1e-6);
/// ```
#[derive(Clone, Debug)]
pub struct NLLLoss {
    /// Per-class weights (length C), or `None` for all ones.
    pub weight: Option<Tensor>,
    /// Target value whose positions are left out (PyTorch's default −100).
    pub ignore_index: i64,
    /// How the per-sample losses are folded.
    pub reduction: Reduction,
}

impl Default for NLLLoss {
    fn default() -> Self {
        NLLLoss {
            weight: None,
            ignore_index: -100,
            reduction: Reduction::Mean,
        }
    }
}

impl NLLLoss {
    /// PyTorch's defaults: no weights, `ignore_index` −100, mean.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets per-class weights (length C).
    pub fn weight(mut self, weight: Tensor) -> Self {
        self.weight = Some(weight);
        self
    }
    /// Sets the target value that is ignored.
    pub fn ignore_index(mut self, ignore_index: i64) -> Self {
        self.ignore_index = ignore_index;
        self
    }
    /// Sets the reduction.
    pub fn reduction(mut self, reduction: Reduction) -> Self {
        self.reduction = reduction;
        self
    }
}

impl Loss for NLLLoss {
    fn forward(&self, input: &Tensor, target: &Tensor) -> Result<Tensor> {
        const OP: &str = "nll_loss";
        let (dims, kind) = check_class_shapes(OP, input, target, self.weight.as_ref())?;
        if let TargetKind::Probabilities = kind {
            return Err(FerriteError::invalid(
                "target",
                format!(
                    "NLLLoss expects class indices shaped like the input without its class dimension, got a target shaped like the input {:?} (class probabilities need CrossEntropyLoss)",
                    input.dims()
                ),
            ));
        }
        class_index_loss(
            input,
            target,
            dims,
            self.weight.as_ref(),
            self.ignore_index,
            0.0,
            false,
            self.reduction,
        )
    }

    fn describe(&self) -> String {
        format!(
            "NLLLoss(reduction={}, ignore_index={})",
            self.reduction, self.ignore_index
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck;

    fn course_input() -> (Tensor, Tensor) {
        (
            Tensor::from_vec(vec![1.0, 2.0, 1.0, 3.0, 1.0, 3.0], [3, 2]),
            Tensor::from_vec(vec![0.0, 1.0, 1.0], [3]),
        )
    }

    #[test]
    fn errors_name_the_problem() {
        let (x, _) = course_input();
        let bad = Tensor::from_vec(vec![0.0, 1.0, 3.0], [3]);
        let e = CrossEntropyLoss::new()
            .forward(&x, &bad)
            .unwrap_err()
            .to_string();
        assert!(e.contains("Target 3 is out of bounds."), "{e}");
        let e = NLLLoss::new()
            .forward(&x, &Tensor::from_vec(vec![0.0, 1.0], [2]))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("Expected input batch_size (3) to match target batch_size (2)."),
            "{e}"
        );
        let e = CrossEntropyLoss::new()
            .weight(Tensor::ones([3]))
            .forward(&x, &Tensor::zeros([3]))
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("weight tensor should be defined either for all 2 classes"),
            "{e}"
        );
        let e = CrossEntropyLoss::new()
            .label_smoothing(1.5)
            .forward(&x, &Tensor::zeros([3]))
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("label_smoothing must be between 0.0 and 1.0"),
            "{e}"
        );
        let e = NLLLoss::new()
            .forward(&x, &Tensor::zeros([3, 2]))
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("class probabilities need CrossEntropyLoss"),
            "{e}"
        );
        let e = CrossEntropyLoss::new()
            .ignore_index(0)
            .forward(&x, &Tensor::zeros([3, 2]))
            .unwrap_err();
        assert!(
            e.to_string().contains("ignore_index is not supported"),
            "{e}"
        );
    }

    #[test]
    fn cross_entropy_gradients_match_finite_differences() {
        let x = Tensor::from_vec(
            vec![
                0.3, -1.2, 2.0, 0.5, 0.1, -0.4, 1.5, 0.7, -2.0, 0.9, 0.0, 0.2,
            ],
            [2, 3, 2],
        )
        .requires_grad();
        let y = Tensor::from_vec(vec![2.0, 0.0, -100.0, 1.0], [2, 2]);
        let w = Tensor::from_vec(vec![0.5, 2.0, 1.5], [3]);
        for reduction in [Reduction::None, Reduction::Sum, Reduction::Mean] {
            let ce = CrossEntropyLoss::new()
                .weight(w.clone())
                .label_smoothing(0.2)
                .reduction(reduction);
            gradcheck(|v| ce.forward(&v[0], &y).unwrap(), std::slice::from_ref(&x)).unwrap();
            let nll = NLLLoss::new().weight(w.clone()).reduction(reduction);
            gradcheck(
                |v| nll.forward(&v[0], &y).unwrap(),
                std::slice::from_ref(&x),
            )
            .unwrap();
        }
        let probs = Tensor::from_vec(
            vec![0.2, 0.5, 0.3, 0.1, 0.5, 0.4, 0.6, 0.3, 0.2, 0.1, 0.2, 0.6],
            [2, 3, 2],
        )
        .requires_grad();
        for reduction in [Reduction::None, Reduction::Mean] {
            let ce = CrossEntropyLoss::new()
                .weight(w.clone())
                .label_smoothing(0.1)
                .reduction(reduction);
            gradcheck(
                |v| ce.forward(&v[0], &v[1]).unwrap(),
                &[x.clone(), probs.clone()],
            )
            .unwrap();
        }
    }

    #[test]
    fn transposed_logits_are_read_through_their_layout() {
        // (3, 2) seen as (2, 3) by a transpose: the kernel must follow the strides.
        let base = Tensor::from_vec(vec![0.3, -1.2, 2.0, 0.5, 0.1, -0.4], [3, 2]).requires_grad();
        let y = Tensor::from_vec(vec![2.0, 0.0], [2]);
        let ce = CrossEntropyLoss::new();
        let strided = ce.forward(&base.t(), &y).unwrap().item();
        let copied = ce.forward(&base.t().contiguous(), &y).unwrap().item();
        assert_eq!(strided, copied);
        gradcheck(
            |v| ce.forward(&v[0].t(), &y).unwrap(),
            std::slice::from_ref(&base),
        )
        .unwrap();
    }

    #[test]
    fn unbatched_input_gives_a_scalar() {
        let x = Tensor::from_vec(vec![0.0, 3f32.ln()], [2]);
        let loss = CrossEntropyLoss::new()
            .reduction(Reduction::None)
            .forward(&x, &Tensor::scalar(1.0))
            .unwrap();
        assert_eq!(loss.dims(), &[] as &[usize]);
        assert!((loss.item() - (4.0f32 / 3.0).ln()).abs() < 1e-6);
    }
}
