//! Losses on pairs of inputs with a ±1 label: cosine embedding (are two embeddings alike?)
//! and margin ranking (should the first score rank above the second?). Each compares two
//! inputs with a target: they are `Loss<[&Tensor; 2]>`, called `loss.forward(&[&x1, &x2], &y)`
//! (PyTorch's `loss_fn(x1, x2, y)`).

use super::{shape_error, Loss, Reduction};
use crate::tensor::try_broadcast_shapes;
use crate::{Result, Tensor};

/// Added to each squared norm so that a zero vector gives cosine 0, not NaN (PyTorch's 1e-12).
const COSINE_EPS: f32 = 1e-12;

/// Cosine embedding loss (PyTorch's `nn.CosineEmbeddingLoss`): with
/// `cos = Σ x1·x2 / √((Σ x1² + ε)(Σ x2² + ε))` per row,
/// `l = 1 − cos` for `y = 1`, `max(0, cos − margin)` for `y = −1`, and 0 for other labels.
///
/// Shapes: `x1`, `x2` of `(N, D)` with `y` of `(N)`, or `(D)` with a 0-d `y`.
///
/// ```
/// use ferrite::nn::loss::{CosineEmbeddingLoss, Loss, Reduction};
/// use ferrite::Tensor;
/// let x1 = Tensor::from_vec(vec![0.3, 0.5, 0.7, 0.3, 0.5, 0.7], [2, 3]);
/// let x2 = Tensor::from_vec(vec![0.1, 0.3, 0.5, 0.1, 0.3, 0.5], [2, 3]);
/// let y = Tensor::from_vec(vec![1.0, -1.0], [2]);
/// let l = CosineEmbeddingLoss::new().reduction(Reduction::None).forward(&[&x1, &x2], &y).unwrap().to_vec();
/// assert!((l[0] - 0.0167).abs() < 1e-4 && (l[1] - 0.9833).abs() < 1e-4);
/// ```
#[derive(Clone, Debug, Default)]
pub struct CosineEmbeddingLoss {
    /// Cosine below which dissimilar pairs cost nothing (PyTorch's default 0; use −1..1).
    pub margin: f32,
    /// How the per-pair losses are folded.
    pub reduction: Reduction,
}

impl CosineEmbeddingLoss {
    /// PyTorch's defaults: margin 0, mean.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets the margin.
    pub fn margin(mut self, margin: f32) -> Self {
        self.margin = margin;
        self
    }
    /// Sets the reduction.
    pub fn reduction(mut self, reduction: Reduction) -> Self {
        self.reduction = reduction;
        self
    }
}

impl<'a> Loss<[&'a Tensor; 2]> for CosineEmbeddingLoss {
    /// The loss of the pairs `(x1[n], x2[n])` with labels `y[n]` ∈ {1, −1}.
    fn forward(&self, &[x1, x2]: &[&'a Tensor; 2], y: &Tensor) -> Result<Tensor> {
        const OP: &str = "cosine_embedding_loss";
        let sizes = format!("{:?} and {:?}", x1.dims(), x2.dims());
        let dim = match y.rank() {
            1 if x1.rank() == 2 && x2.rank() == 2 => 1,
            0 if x1.rank() == 1 && x2.rank() == 1 => 0,
            1 => return Err(shape_error(OP, format!("1D target tensor expects 2D input tensors, but found inputs with sizes {sizes}."))),
            0 => return Err(shape_error(OP, format!("0D target tensor expects 1D input tensors, but found inputs with sizes {sizes}."))),
            _ => return Err(shape_error(OP, "0D or 1D target tensor expected, multi-target not supported")),
        };
        if x1.dims() != x2.dims() {
            return Err(shape_error(
                OP,
                format!("input1 and input2 must have the same shape, got {sizes}"),
            ));
        }
        if dim == 1 && y.dims()[0] != x1.dims()[0] {
            return Err(shape_error(
                OP,
                format!(
                    "target of shape {:?} does not match the {} input rows",
                    y.dims(),
                    x1.dims()[0]
                ),
            ));
        }
        let dot = (x1 * x2).sum_dim(dim, false);
        let norms = ((x1 * x1).sum_dim(dim, false) + COSINE_EPS)
            * ((x2 * x2).sum_dim(dim, false) + COSINE_EPS);
        let cos = &dot / &norms.sqrt();
        let zero = Tensor::scalar(0.0).to(&cos.device());
        let similar = Tensor::where_cond(&y.eq_scalar(1.0), &(1.0 - &cos), &zero);
        let dissimilar = Tensor::where_cond(
            &y.eq_scalar(-1.0),
            &(&cos - self.margin).clamp_min(0.0),
            &zero,
        );
        Ok(self.reduction.apply(similar + dissimilar))
    }

    fn describe(&self) -> String {
        format!(
            "CosineEmbeddingLoss(margin={}, reduction={})",
            self.margin, self.reduction
        )
    }
}

/// Margin ranking loss (PyTorch's `nn.MarginRankingLoss`): `l = max(0, −y·(x1 − x2) + margin)`,
/// where `y = 1` means `x1` should rank higher and `y = −1` that `x2` should.
///
/// The three tensors must have the same number of dimensions (an error otherwise, as in
/// current PyTorch) and broadcast together.
///
/// ```
/// use ferrite::nn::loss::{Loss, MarginRankingLoss, Reduction};
/// use ferrite::Tensor;
/// let x1 = Tensor::from_vec(vec![1.0, 2.0, 3.0], [3]);
/// let x2 = Tensor::from_vec(vec![2.0, 2.0, 2.0], [3]);
/// let y = Tensor::from_vec(vec![1.0, 1.0, -1.0], [3]);
/// let loss = MarginRankingLoss::new().reduction(Reduction::None);
/// assert_eq!(loss.forward(&[&x1, &x2], &y).unwrap().to_vec(), vec![1.0, 0.0, 1.0]);
/// assert!(loss.forward(&[&x1.reshape([3, 1]), &x2.reshape([3, 1])], &y).is_err());
/// ```
#[derive(Clone, Debug, Default)]
pub struct MarginRankingLoss {
    /// How far apart the scores must be before a correctly ordered pair costs nothing.
    pub margin: f32,
    /// How the per-pair losses are folded.
    pub reduction: Reduction,
}

impl MarginRankingLoss {
    /// PyTorch's defaults: margin 0, mean.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets the margin.
    pub fn margin(mut self, margin: f32) -> Self {
        self.margin = margin;
        self
    }
    /// Sets the reduction.
    pub fn reduction(mut self, reduction: Reduction) -> Self {
        self.reduction = reduction;
        self
    }
}

impl<'a> Loss<[&'a Tensor; 2]> for MarginRankingLoss {
    /// The loss of the score pairs `(x1, x2)` with labels `y` ∈ {1, −1}.
    fn forward(&self, &[x1, x2]: &[&'a Tensor; 2], y: &Tensor) -> Result<Tensor> {
        const OP: &str = "margin_ranking_loss";
        if x1.rank() != x2.rank() || x1.rank() != y.rank() {
            return Err(shape_error(
                OP,
                format!(
                    "All input tensors should have same dimension but got sizes: input1: {:?}, input2: {:?}, target: {:?}",
                    x1.dims(),
                    x2.dims(),
                    y.dims()
                ),
            ));
        }
        let fits = try_broadcast_shapes(x1.dims(), x2.dims())
            .and_then(|d| try_broadcast_shapes(&d, y.dims()));
        if fits.is_none() {
            return Err(shape_error(
                OP,
                format!(
                    "input1 {:?}, input2 {:?} and target {:?} do not broadcast together",
                    x1.dims(),
                    x2.dims(),
                    y.dims()
                ),
            ));
        }
        let loss = (-(y * &(x1 - x2)) + self.margin).clamp_min(0.0);
        Ok(self.reduction.apply(loss))
    }

    fn describe(&self) -> String {
        format!(
            "MarginRankingLoss(margin={}, reduction={})",
            self.margin, self.reduction
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck;

    #[test]
    fn shape_errors_follow_pytorch() {
        let e = MarginRankingLoss::new().forward(
            &[&Tensor::zeros([3, 1]), &Tensor::zeros([3, 1])],
            &Tensor::zeros([3]),
        );
        assert!(e
            .unwrap_err()
            .to_string()
            .contains("All input tensors should have same dimension"));
        let e = CosineEmbeddingLoss::new().forward(
            &[&Tensor::zeros([3]), &Tensor::zeros([3])],
            &Tensor::zeros([3]),
        );
        assert!(e
            .unwrap_err()
            .to_string()
            .contains("1D target tensor expects 2D input tensors"));
        let e = CosineEmbeddingLoss::new().forward(
            &[&Tensor::zeros([2, 3]), &Tensor::zeros([2, 3])],
            &Tensor::zeros([3]),
        );
        assert!(e
            .unwrap_err()
            .to_string()
            .contains("does not match the 2 input rows"));
    }

    #[test]
    fn unbatched_cosine_and_labels_other_than_one() {
        let x1 = Tensor::from_vec(vec![1.0, 0.0], [2]);
        let x2 = Tensor::from_vec(vec![1.0, 1.0], [2]);
        let cos = std::f32::consts::FRAC_1_SQRT_2;
        let l = CosineEmbeddingLoss::new()
            .margin(0.5)
            .forward(&[&x1, &x2], &Tensor::scalar(-1.0))
            .unwrap();
        assert!((l.item() - (cos - 0.5)).abs() < 1e-6);
        let batch = Tensor::from_vec(vec![1.0, 0.0, 1.0, 0.0], [2, 2]);
        let l = CosineEmbeddingLoss::new()
            .reduction(Reduction::None)
            .forward(&[&batch, &batch], &Tensor::from_vec(vec![0.0, 1.0], [2]));
        assert!(l.unwrap().to_vec().iter().all(|v| v.abs() < 1e-6));
    }

    #[test]
    fn gradients_match_finite_differences() {
        let x1 = Tensor::from_vec(vec![0.3, -0.5, 0.7, 1.2, 0.1, -0.4, 0.2, 0.9, 0.5], [3, 3])
            .requires_grad();
        let x2 = Tensor::from_vec(vec![0.1, 0.3, 0.5, -0.6, 0.8, 0.2, 0.4, -0.3, 0.6], [3, 3])
            .requires_grad();
        let y = Tensor::from_vec(vec![1.0, -1.0, -1.0], [3]);
        let s1 = Tensor::from_vec(vec![0.5, 1.9, -0.3], [3]).requires_grad();
        let s2 = Tensor::from_vec(vec![0.2, 0.4, 0.6], [3]).requires_grad();
        for reduction in [Reduction::None, Reduction::Sum, Reduction::Mean] {
            let cosine = CosineEmbeddingLoss::new().margin(-0.2).reduction(reduction);
            gradcheck(
                |v| cosine.forward(&[&v[0], &v[1]], &y).unwrap(),
                &[x1.clone(), x2.clone()],
            )
            .unwrap();
            let ranking = MarginRankingLoss::new().margin(0.1).reduction(reduction);
            gradcheck(
                |v| ranking.forward(&[&v[0], &v[1]], &y).unwrap(),
                &[s1.clone(), s2.clone()],
            )
            .unwrap();
        }
    }
}
