//! Batch normalisation, functional form (PyTorch's `F.batch_norm`): per-channel statistics
//! of `(N, C, *)` in training, running statistics in evaluation. Kernels: `backend/cpu/norm.rs`.

use super::{Layout, Tensor};
use crate::autograd::Op;
use crate::backend::cpu::norm;
use crate::backend::cpu::strided::contiguous_cow;
use crate::backend::Storage;
use std::sync::Arc;

/// What the backward of a batch normalisation needs: the statistics it used.
#[derive(Debug)]
pub struct BatchNormSaved {
    /// Per-channel mean used (batch mean in training, running mean in evaluation).
    pub mean: Vec<f32>,
    /// Per-channel `1/√(var + eps)` used.
    pub invstd: Vec<f32>,
    /// True when the statistics came from the batch (their gradient flows through).
    pub training: bool,
}

/// `(n, c, s)`: the data seen as batch × channels × positions.
fn ncs(dims: &[usize]) -> (usize, usize, usize) {
    (dims[0], dims[1], dims[2..].iter().product())
}

impl Tensor {
    /// Batch normalisation of `self (N, C, *)`: `y = (x − mean)/√(var + eps)·weight + bias`
    /// per channel (PyTorch's `F.batch_norm`).
    ///
    /// In training the batch's mean and biased variance are used, and the running statistics,
    /// when given, are updated in place: `r ← (1 − momentum)·r + momentum·batch_stat`, with the
    /// unbiased variance for `running_var`. In evaluation the running statistics are used.
    ///
    /// ```
    /// use ferrite::Tensor;
    /// let x = Tensor::from_vec(vec![1.0, 3.0, 5.0, 7.0], [4, 1]);
    /// let (rm, rv) = (Tensor::zeros([1]), Tensor::ones([1]));
    /// let y = x.batch_norm(Some(&rm), Some(&rv), None, None, true, 0.1, 0.0);
    /// // mean 4, biased variance 5: y = (x − 4)/√5
    /// assert!((y.to_vec()[0] + 3.0 / 5f32.sqrt()).abs() < 1e-6);
    /// // running mean 0.9·0 + 0.1·4, running var 0.9·1 + 0.1·(20/3)
    /// assert!((rm.item() - 0.4).abs() < 1e-6 && (rv.item() - (0.9 + 2.0 / 3.0)).abs() < 1e-6);
    /// ```
    ///
    /// Panics when training with one value per channel, or when evaluating without running
    /// statistics, as PyTorch raises.
    #[allow(clippy::too_many_arguments)]
    pub fn batch_norm(
        &self,
        running_mean: Option<&Tensor>,
        running_var: Option<&Tensor>,
        weight: Option<&Tensor>,
        bias: Option<&Tensor>,
        training: bool,
        momentum: f32,
        eps: f32,
    ) -> Tensor {
        assert!(
            self.rank() >= 2,
            "batch_norm: expected input of shape (N, C, *), got {:?}",
            self.dims()
        );
        let (n, c, s) = ncs(self.dims());
        for (name, t) in [
            ("weight", weight),
            ("bias", bias),
            ("running_mean", running_mean),
            ("running_var", running_var),
        ] {
            if let Some(t) = t {
                assert!(
                    t.numel() == c,
                    "batch_norm: {name} should contain {c} elements (one per channel of input {:?}), not {}",
                    self.dims(),
                    t.numel()
                );
            }
        }
        let xs = self.storage();
        let x = contiguous_cow(xs.as_slice(), self.layout());
        let (mean, var) = if training {
            assert!(
                n * s > 1,
                "batch_norm: Expected more than 1 value per channel when training, got input size {:?}",
                self.dims()
            );
            let (mean, var) = norm::channel_mean_var(&x, n, c, s);
            if let (Some(rm), Some(rv)) = (running_mean, running_var) {
                let unbias = (n * s) as f32 / (n * s - 1) as f32;
                rm.update_(|r| {
                    r.iter_mut()
                        .zip(&mean)
                        .for_each(|(r, &m)| *r = (1.0 - momentum) * *r + momentum * m)
                });
                rv.update_(|r| {
                    r.iter_mut()
                        .zip(&var)
                        .for_each(|(r, &v)| *r = (1.0 - momentum) * *r + momentum * v * unbias)
                });
            }
            (mean, var)
        } else {
            let (rm, rv) = running_mean.zip(running_var).unwrap_or_else(|| {
                panic!(
                    "batch_norm: running_mean and running_var must be defined in evaluation mode"
                )
            });
            (rm.to_vec(), rv.to_vec())
        };
        let invstd: Vec<f32> = var.iter().map(|v| 1.0 / (v + eps).sqrt()).collect();
        let gamma = weight.map(|w| w.to_vec());
        let scale: Vec<f32> = match &gamma {
            Some(gm) => gm.iter().zip(&invstd).map(|(g, i)| g * i).collect(),
            None => invstd.clone(),
        };
        let shift = bias.map_or_else(|| vec![0.0; c], |b| b.to_vec());
        let data = norm::channel_affine(&x, c, s, &mean, &scale, &shift);
        drop(xs);
        let saved = BatchNormSaved {
            mean,
            invstd,
            training,
        };
        let mut inputs = vec![self.clone()];
        // Missing affine parameters stand in as constants so the inputs are always [x, γ, β].
        inputs.push(weight.cloned().unwrap_or_else(|| Tensor::ones([c])));
        inputs.push(bias.cloned().unwrap_or_else(|| Tensor::zeros([c])));
        Tensor::from_op(
            Storage::Cpu(data),
            Layout::contiguous(self.shape().clone()),
            Op::BatchNorm(Arc::new(saved)),
            inputs,
        )
    }
}

/// The gradients of a batch normalisation recorded as [`Op::BatchNorm`] (inputs `[x, γ, β]`).
pub(crate) fn batch_norm_backward(
    saved: &BatchNormSaved,
    inputs: &[Tensor],
    g: &Tensor,
    needs: &[bool],
) -> Vec<Option<Tensor>> {
    let x = &inputs[0];
    let (n, c, s) = ncs(x.dims());
    let (xs, gs) = (x.storage(), g.storage());
    let xc = contiguous_cow(xs.as_slice(), x.layout());
    let gc = contiguous_cow(gs.as_slice(), g.layout());
    let (sum_g, sum_gx) = norm::channel_grad_sums(&gc, &xc, n, c, s, &saved.mean, &saved.invstd);
    let gamma = inputs[1].to_vec();
    let dx = needs[0].then(|| {
        let data = if saved.training {
            norm::batch_norm_input_grad_train(
                &gc,
                &xc,
                n,
                c,
                s,
                &saved.mean,
                &saved.invstd,
                Some(&gamma),
                &sum_g,
                &sum_gx,
            )
        } else {
            // Fixed statistics: dx = g·γ·invstd
            let scale: Vec<f32> = gamma
                .iter()
                .zip(&saved.invstd)
                .map(|(g, i)| g * i)
                .collect();
            norm::channel_affine(&gc, c, s, &vec![0.0; c], &scale, &vec![0.0; c])
        };
        Tensor::from_vec(data, x.dims())
    });
    let shape = |t: &Tensor| t.dims().to_vec();
    vec![
        dx,
        needs[1].then(|| Tensor::from_vec(sum_gx, shape(&inputs[1]))),
        needs[2].then(|| Tensor::from_vec(sum_g, shape(&inputs[2]))),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradcheck;

    #[test]
    fn gradients_in_training_and_evaluation() {
        crate::manual_seed(4);
        let x = Tensor::randn([3, 2, 2, 3]).requires_grad();
        let w = Tensor::randn([2]).requires_grad();
        let b = Tensor::randn([2]).requires_grad();
        gradcheck(
            |t| t[0].batch_norm(None, None, Some(&t[1]), Some(&t[2]), true, 0.1, 1e-5),
            &[x.clone(), w.clone(), b.clone()],
        )
        .unwrap();
        let (rm, rv) = (
            Tensor::from_vec(vec![0.2, -0.1], [2]),
            Tensor::from_vec(vec![1.5, 0.7], [2]),
        );
        gradcheck(
            |t| {
                t[0].batch_norm(
                    Some(&rm),
                    Some(&rv),
                    Some(&t[1]),
                    Some(&t[2]),
                    false,
                    0.1,
                    1e-5,
                )
            },
            &[x, w, b],
        )
        .unwrap();
    }

    #[test]
    #[should_panic(
        expected = "Expected more than 1 value per channel when training, got input size [1, 3]"
    )]
    fn one_value_per_channel_in_training_panics() {
        Tensor::zeros([1, 3]).batch_norm(None, None, None, None, true, 0.1, 1e-5);
    }
}
