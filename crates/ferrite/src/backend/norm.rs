//! Batch normalisation over data seen as `(N, C, S)`: per-channel statistics, the
//! normalise-scale-shift pass, its gradients, and the in-place update of running statistics.
//! Each `Storage` method dispatches to the backend that holds the data.

use super::{on_device, BackendResult, Storage};
use crate::core::Layout;

/// The gradients of a batch normalisation: `(dx, dγ, dβ)`, `dx` only when it was asked for.
pub type BatchNormGrads<S> = (Option<S>, S, S);

/// Batch normalisation of an input `x (N, C, *)` seen through its layout; per-channel
/// operands hold `C` values. Results are row-major buffers.
pub trait NormOps: Sized {
    /// Per-channel `(mean, biased variance)` of `self`.
    fn batch_norm_stats(&self, layout: &Layout) -> BackendResult<(Self, Self)>;

    /// `y = (x − mean)·invstd·γ + β` per channel, with `invstd = 1/√(var + eps)` (γ = 1 and
    /// β = 0 when absent): `(y, invstd)`.
    fn batch_norm(
        &self,
        layout: &Layout,
        mean: (&Self, &Layout),
        var: (&Self, &Layout),
        weight: Option<(&Self, &Layout)>,
        bias: Option<(&Self, &Layout)>,
        eps: f32,
    ) -> BackendResult<(Self, Self)>;

    /// The gradients of [`NormOps::batch_norm`] for the output gradient `self` and input
    /// `x`: `(dx, dγ = Σ g·x̂, dβ = Σ g)` with `x̂ = (x − mean)·invstd`. With `training` the
    /// statistics came from the batch and their gradient flows into `dx`.
    #[allow(clippy::too_many_arguments)]
    fn batch_norm_backward(
        &self,
        layout: &Layout,
        input: (&Self, &Layout),
        mean: (&Self, &Layout),
        invstd: (&Self, &Layout),
        weight: (&Self, &Layout),
        training: bool,
        need_input: bool,
    ) -> BackendResult<BatchNormGrads<Self>>;

    /// In place: the running statistic `self ← (1 − momentum)·self + momentum·scale·stat`
    /// (`scale` turns a biased variance into the unbiased one).
    fn running_stat_update(
        &mut self,
        layout: &Layout,
        stat: (&Self, &Layout),
        momentum: f32,
        scale: f32,
    ) -> BackendResult<()>;
}

impl Storage {
    /// Per-channel `(mean, biased variance)` of `self (N, C, *)`.
    pub fn batch_norm_stats(&self, layout: &Layout) -> (Storage, Storage) {
        let s = self;
        on_device!("batch_norm", |wrap| [s] => {
            s.batch_norm_stats(layout).map(|(m, v)| (wrap(m), wrap(v)))
        })
    }

    /// Normalises `self (N, C, *)` per channel, then scales by γ and shifts by β:
    /// `(y, invstd)`.
    pub fn batch_norm(
        &self,
        layout: &Layout,
        mean: (&Storage, &Layout),
        var: (&Storage, &Layout),
        weight: Option<(&Storage, &Layout)>,
        bias: Option<(&Storage, &Layout)>,
        eps: f32,
    ) -> (Storage, Storage) {
        let (s, m, v) = (self, mean.0, var.0);
        let (w, w_layout) = (weight.map(|w| w.0), weight.map(|w| w.1));
        let (b, b_layout) = (bias.map(|b| b.0), bias.map(|b| b.1));
        on_device!("batch_norm", |wrap| [s, m, v] ? [w, b] => {
            let (weight, bias) = (w.zip(w_layout), b.zip(b_layout));
            s.batch_norm(layout, (m, mean.1), (v, var.1), weight, bias, eps)
                .map(|(y, invstd)| (wrap(y), wrap(invstd)))
        })
    }

    /// The gradients `(dx, dγ, dβ)` of a batch normalisation for the output gradient `self`.
    #[allow(clippy::too_many_arguments)]
    pub fn batch_norm_backward(
        &self,
        layout: &Layout,
        input: (&Storage, &Layout),
        mean: (&Storage, &Layout),
        invstd: (&Storage, &Layout),
        weight: (&Storage, &Layout),
        training: bool,
        need_input: bool,
    ) -> BatchNormGrads<Storage> {
        let (s, x, m, i, w) = (self, input.0, mean.0, invstd.0, weight.0);
        on_device!("batch_norm_backward", |wrap| [s, x, m, i, w] => {
            s.batch_norm_backward(
                layout,
                (x, input.1),
                (m, mean.1),
                (i, invstd.1),
                (w, weight.1),
                training,
                need_input,
            )
            .map(|(dx, dw, db)| (dx.map(wrap), wrap(dw), wrap(db)))
        })
    }

    /// In place: `self ← (1 − momentum)·self + momentum·scale·stat`.
    pub fn running_stat_update(
        &mut self,
        layout: &Layout,
        stat: (&Storage, &Layout),
        momentum: f32,
        scale: f32,
    ) {
        let (s, st) = (self, stat.0);
        on_device!("batch_norm", |_wrap| [s, st] => {
            s.running_stat_update(layout, (st, stat.1), momentum, scale)
        })
    }
}
