//! Batch normalisation, functional form (PyTorch's `F.batch_norm`): per-channel statistics
//! of `(N, C, *)` in training, running statistics in evaluation. Kernels: `backend/cpu/norm.rs`.

use super::{Layout, Tensor};
use crate::autograd::Op;
use crate::backend::Storage;
use std::sync::Arc;

/// What the backward of a batch normalisation needs: the statistics it used.
#[derive(Debug)]
pub struct BatchNormSaved {
    /// Per-channel mean used `(C)` (batch mean in training, a copy of the running mean in
    /// evaluation).
    pub mean: Tensor,
    /// Per-channel `1/√(var + eps)` used `(C)`.
    pub invstd: Tensor,
    /// True when the statistics came from the batch (their gradient flows through).
    pub training: bool,
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
        let c = self.dims()[1];
        // Values per channel: batch × positions.
        let count: usize = self.dims()[0] * self.dims()[2..].iter().product::<usize>();
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
        let (mean, var) = if training {
            assert!(
                count > 1,
                "batch_norm: Expected more than 1 value per channel when training, got input size {:?}",
                self.dims()
            );
            let (mean, var) = xs.batch_norm_stats(self.layout());
            let stat = Layout::contiguous([c]);
            if let (Some(rm), Some(rv)) = (running_mean, running_var) {
                let unbias = count as f32 / (count - 1) as f32;
                rm.storage_mut()
                    .running_stat_update(rm.layout(), (&mean, &stat), momentum, 1.0);
                rv.storage_mut()
                    .running_stat_update(rv.layout(), (&var, &stat), momentum, unbias);
            }
            (
                Tensor::from_storage(mean, stat.clone()),
                Tensor::from_storage(var, stat),
            )
        } else {
            let (rm, rv) = running_mean.zip(running_var).unwrap_or_else(|| {
                panic!(
                    "batch_norm: running_mean and running_var must be defined in evaluation mode"
                )
            });
            // A copy: the running statistics may change in place before the backward pass.
            (rm.detach_copy(), rv.clone())
        };
        let (data, invstd) = {
            let (ms, vs) = (mean.storage(), var.storage());
            let ws = weight.map(|w| w.storage());
            let bs = bias.map(|b| b.storage());
            xs.batch_norm(
                self.layout(),
                (&ms, mean.layout()),
                (&vs, var.layout()),
                ws.as_deref().zip(weight.map(|w| w.layout())),
                bs.as_deref().zip(bias.map(|b| b.layout())),
                eps,
            )
        };
        drop(xs);
        let saved = BatchNormSaved {
            mean,
            invstd: Tensor::from_storage(invstd, Layout::contiguous([c])),
            training,
        };
        let mut inputs = vec![self.clone()];
        // Missing affine parameters stand in as constants (on the input's device) so the
        // inputs are always [x, γ, β].
        let constant = |value| {
            Tensor::from_storage(
                Storage::full(c, value, crate::core::DType::F32, self.device()),
                Layout::contiguous([c]),
            )
        };
        inputs.push(weight.cloned().unwrap_or_else(|| constant(1.0)));
        inputs.push(bias.cloned().unwrap_or_else(|| constant(0.0)));
        Tensor::from_op(
            data,
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
    let (x, gamma) = (&inputs[0], &inputs[1]);
    let (dx, dw, db) = {
        let (xs, gs, ws) = (x.storage(), g.storage(), gamma.storage());
        let (ms, is) = (saved.mean.storage(), saved.invstd.storage());
        gs.batch_norm_backward(
            g.layout(),
            (&xs, x.layout()),
            (&ms, saved.mean.layout()),
            (&is, saved.invstd.layout()),
            (&ws, gamma.layout()),
            saved.training,
            needs[0],
        )
    };
    let channels = |t: &Tensor| Layout::contiguous(t.dims());
    vec![
        dx.map(|d| Tensor::from_storage(d, Layout::contiguous(x.dims()))),
        needs[1].then(|| Tensor::from_storage(dw, channels(&inputs[1]))),
        needs[2].then(|| Tensor::from_storage(db, channels(&inputs[2]))),
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
