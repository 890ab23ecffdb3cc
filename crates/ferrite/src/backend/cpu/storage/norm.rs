//! The CPU implementation of [`crate::backend::NormOps`] on the kernels of `cpu/norm.rs`, in
//! the input's float type.

use super::{float_dispatch, CpuStorage, Element};
use crate::backend::cpu::{index, norm};
use crate::backend::{norm::BatchNormGrads, BackendResult, NormOps};
use crate::core::{Float, Layout};

/// `(n, c, s)`: an `(N, C, *)` input seen as batch × channels × positions.
fn ncs(layout: &Layout) -> (usize, usize, usize) {
    let d = layout.dims();
    (d[0], d[1], d[2..].iter().product())
}

impl NormOps for CpuStorage {
    fn batch_norm_stats(&self, layout: &Layout) -> BackendResult<(Self, Self)> {
        let (n, c, s) = ncs(layout);
        float_dispatch!("batch_norm", self.dtype(), |T| {
            let (mean, var) = norm::channel_mean_var(&self.view_as::<T>(layout), n, c, s);
            Ok((T::wrap(mean), T::wrap(var)))
        })
    }

    fn batch_norm(
        &self,
        layout: &Layout,
        mean: (&Self, &Layout),
        var: (&Self, &Layout),
        weight: Option<(&Self, &Layout)>,
        bias: Option<(&Self, &Layout)>,
        eps: f32,
    ) -> BackendResult<(Self, Self)> {
        let (_, c, s) = ncs(layout);
        float_dispatch!("batch_norm", self.dtype(), |T| {
            let eps = T::of(eps);
            let invstd: Vec<T> = var
                .0
                .view_as::<T>(var.1)
                .iter()
                .map(|&v| T::of(1.0) / (v + eps).sqrt())
                .collect();
            // γ·invstd and β per channel: `C` values, so the one pass over `x` is the kernel's.
            let scale: Vec<T> = match weight {
                Some((w, l)) => w
                    .view_as::<T>(l)
                    .iter()
                    .zip(&invstd)
                    .map(|(&g, &i)| g * i)
                    .collect(),
                None => invstd.clone(),
            };
            let shift = bias.map_or_else(
                || vec![T::of(0.0); c],
                |(b, l)| b.view_as::<T>(l).into_owned(),
            );
            let y = norm::channel_affine(
                &self.view_as::<T>(layout),
                c,
                s,
                &mean.0.view_as::<T>(mean.1),
                &scale,
                &shift,
            );
            Ok((T::wrap(y), T::wrap(invstd)))
        })
    }

    fn batch_norm_backward(
        &self,
        layout: &Layout,
        input: (&Self, &Layout),
        mean: (&Self, &Layout),
        invstd: (&Self, &Layout),
        weight: (&Self, &Layout),
        training: bool,
        need_input: bool,
    ) -> BackendResult<BatchNormGrads<Self>> {
        let (n, c, s) = ncs(input.1);
        float_dispatch!("batch_norm_backward", self.dtype(), |T| {
            let (g, x) = (self.view_as::<T>(layout), input.0.view_as::<T>(input.1));
            let (mean, invstd) = (mean.0.view_as::<T>(mean.1), invstd.0.view_as::<T>(invstd.1));
            let gamma = weight.0.view_as::<T>(weight.1);
            let (sum_g, sum_gx) = norm::channel_grad_sums(&g, &x, n, c, s, &mean, &invstd);
            let dx = need_input.then(|| {
                if training {
                    norm::batch_norm_input_grad_train(
                        &g,
                        &x,
                        n,
                        c,
                        s,
                        &mean,
                        &invstd,
                        Some(&gamma),
                        &sum_g,
                        &sum_gx,
                    )
                } else {
                    // Fixed statistics: dx = g·γ·invstd
                    let scale: Vec<T> = gamma
                        .iter()
                        .zip(invstd.iter())
                        .map(|(&g, &i)| g * i)
                        .collect();
                    let zeros = vec![T::of(0.0); c];
                    norm::channel_affine(&g, c, s, &zeros, &scale, &zeros)
                }
            });
            Ok((dx.map(T::wrap), T::wrap(sum_gx), T::wrap(sum_g)))
        })
    }

    fn running_stat_update(
        &mut self,
        layout: &Layout,
        stat: (&Self, &Layout),
        momentum: f32,
        scale: f32,
    ) -> BackendResult<()> {
        float_dispatch!("batch_norm", self.dtype(), |T| {
            let (momentum, scale) = (T::of(momentum), T::of(scale));
            // `C` values: computed apart and written back through the layout, which may be a
            // view.
            let updated: Vec<T> = self
                .view_as::<T>(layout)
                .iter()
                .zip(stat.0.view_as::<T>(stat.1).iter())
                .map(|(&r, &v)| (T::of(1.0) - momentum) * r + momentum * v * scale)
                .collect();
            index::assign_strided(self.data_mut::<T>(), layout, &updated);
            Ok(())
        })
    }
}
