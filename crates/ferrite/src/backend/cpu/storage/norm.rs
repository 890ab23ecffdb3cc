//! The CPU implementation of [`crate::backend::NormOps`] on the kernels of `cpu/norm.rs`.

use super::CpuStorage;
use crate::backend::cpu::{index, norm};
use crate::backend::{norm::BatchNormGrads, BackendResult, NormOps};
use crate::core::Layout;

/// `(n, c, s)`: an `(N, C, *)` input seen as batch × channels × positions.
fn ncs(layout: &Layout) -> (usize, usize, usize) {
    let d = layout.dims();
    (d[0], d[1], d[2..].iter().product())
}

impl NormOps for CpuStorage {
    fn batch_norm_stats(&self, layout: &Layout) -> BackendResult<(Self, Self)> {
        let (n, c, s) = ncs(layout);
        let (mean, var) = norm::channel_mean_var(&self.view(layout), n, c, s);
        Ok((CpuStorage::from_vec(mean), CpuStorage::from_vec(var)))
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
        let invstd: Vec<f32> = var
            .0
            .view(var.1)
            .iter()
            .map(|v| 1.0 / (v + eps).sqrt())
            .collect();
        // γ·invstd and β per channel: `C` values, so the one pass over `x` is the kernel's.
        let scale: Vec<f32> = match weight {
            Some((w, l)) => w.view(l).iter().zip(&invstd).map(|(g, i)| g * i).collect(),
            None => invstd.clone(),
        };
        let shift = bias.map_or_else(|| vec![0.0; c], |(b, l)| b.view(l).into_owned());
        let y = norm::channel_affine(
            &self.view(layout),
            c,
            s,
            &mean.0.view(mean.1),
            &scale,
            &shift,
        );
        Ok((CpuStorage::from_vec(y), CpuStorage::from_vec(invstd)))
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
        let (g, x) = (self.view(layout), input.0.view(input.1));
        let (mean, invstd) = (mean.0.view(mean.1), invstd.0.view(invstd.1));
        let gamma = weight.0.view(weight.1);
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
                let scale: Vec<f32> = gamma
                    .iter()
                    .zip(invstd.iter())
                    .map(|(g, i)| g * i)
                    .collect();
                norm::channel_affine(&g, c, s, &vec![0.0; c], &scale, &vec![0.0; c])
            }
        });
        Ok((
            dx.map(CpuStorage::from_vec),
            CpuStorage::from_vec(sum_gx),
            CpuStorage::from_vec(sum_g),
        ))
    }

    fn running_stat_update(
        &mut self,
        layout: &Layout,
        stat: (&Self, &Layout),
        momentum: f32,
        scale: f32,
    ) -> BackendResult<()> {
        // `C` values: computed apart and written back through the layout, which may be a view.
        let updated: Vec<f32> = self
            .view(layout)
            .iter()
            .zip(stat.0.view(stat.1).iter())
            .map(|(&r, &v)| (1.0 - momentum) * r + momentum * v * scale)
            .collect();
        index::assign_strided(self.f32_mut(), layout, &updated);
        Ok(())
    }
}
