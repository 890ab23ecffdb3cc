//! The CPU implementation of [`crate::backend::OptimOps`], in the parameter's float type (its
//! gradient and state buffers share it).

use super::{float_dispatch, CpuFloat, CpuStorage};
use crate::backend::cpu::optim as kernels;
use crate::backend::{AdagradStep, AdamStep, BackendResult, OptimOps, RmspropStep, SgdStep};
use crate::core::{Float, Layout};

/// The elements of the contiguous view `layout`, writable. Optimizers only hold contiguous
/// parameters and clipping copies strided gradients first, so anything else is a bug.
#[track_caller]
fn contiguous_mut<'a, T: CpuFloat>(
    s: &'a mut CpuStorage,
    layout: &Layout,
    op: &str,
) -> &'a mut [T] {
    let range = layout
        .contiguous_range()
        .unwrap_or_else(|| panic!("{op}: in-place updates need a contiguous tensor"));
    &mut s.data_mut::<T>()[range]
}

impl OptimOps for CpuStorage {
    fn sgd_step(
        &mut self,
        layout: &Layout,
        grad: (&Self, &Layout),
        momentum_buffer: Option<&mut Self>,
        step: SgdStep,
    ) -> BackendResult<()> {
        float_dispatch!("sgd", self.dtype(), |T| {
            let g = grad.0.view_as::<T>(grad.1);
            let buf = match momentum_buffer {
                Some(b) => b.data_mut::<T>(),
                None => &mut [],
            };
            kernels::sgd_update(
                contiguous_mut::<T>(self, layout, "sgd"),
                &g,
                buf,
                T::of(step.lr),
                T::of(step.momentum),
                T::of(step.dampening),
                T::of(step.weight_decay),
                step.nesterov,
                step.first_step,
            );
            Ok(())
        })
    }

    fn adam_step(
        &mut self,
        layout: &Layout,
        grad: (&Self, &Layout),
        exp_avg: &mut Self,
        exp_avg_sq: &mut Self,
        max_exp_avg_sq: Option<&mut Self>,
        step: AdamStep,
    ) -> BackendResult<()> {
        float_dispatch!("adam", self.dtype(), |T| {
            let g = grad.0.view_as::<T>(grad.1);
            let s = kernels::AdamStep {
                beta1: T::of(step.beta1),
                beta2: T::of(step.beta2),
                eps: T::of(step.eps),
                l2: T::of(step.l2),
                step_size: T::of(step.step_size),
                bias_correction2_sqrt: T::of(step.bias_correction2_sqrt),
                decay_factor: T::of(step.decay_factor),
            };
            kernels::adam_update(
                contiguous_mut::<T>(self, layout, "adam"),
                &g,
                exp_avg.data_mut::<T>(),
                exp_avg_sq.data_mut::<T>(),
                max_exp_avg_sq.map(|v| v.data_mut::<T>()),
                s,
            );
            Ok(())
        })
    }

    fn rmsprop_step(
        &mut self,
        layout: &Layout,
        grad: (&Self, &Layout),
        square_avg: &mut Self,
        grad_avg: Option<&mut Self>,
        momentum_buffer: Option<&mut Self>,
        step: RmspropStep,
    ) -> BackendResult<()> {
        float_dispatch!("rmsprop", self.dtype(), |T| {
            let g = grad.0.view_as::<T>(grad.1);
            let s = kernels::RmspropStep {
                lr: T::of(step.lr),
                alpha: T::of(step.alpha),
                eps: T::of(step.eps),
                weight_decay: T::of(step.weight_decay),
                momentum: T::of(step.momentum),
            };
            kernels::rmsprop_update(
                contiguous_mut::<T>(self, layout, "rmsprop"),
                &g,
                square_avg.data_mut::<T>(),
                grad_avg.map(|v| v.data_mut::<T>()),
                momentum_buffer.map(|v| v.data_mut::<T>()),
                s,
            );
            Ok(())
        })
    }

    fn adagrad_step(
        &mut self,
        layout: &Layout,
        grad: (&Self, &Layout),
        sum: &mut Self,
        step: AdagradStep,
    ) -> BackendResult<()> {
        float_dispatch!("adagrad", self.dtype(), |T| {
            let g = grad.0.view_as::<T>(grad.1);
            kernels::adagrad_update(
                contiguous_mut::<T>(self, layout, "adagrad"),
                &g,
                sum.data_mut::<T>(),
                T::of(step.clr),
                T::of(step.eps),
                T::of(step.weight_decay),
            );
            Ok(())
        })
    }

    fn pow_abs_sum(&self, layout: &Layout, p: f32) -> BackendResult<f64> {
        float_dispatch!("clip_grad_norm_", self.dtype(), |T| {
            Ok(kernels::pow_abs_sum(&self.view_as::<T>(layout), p))
        })
    }

    fn scale_(&mut self, layout: &Layout, factor: f32) -> BackendResult<()> {
        float_dispatch!("scale_", self.dtype(), |T| {
            kernels::scale(contiguous_mut::<T>(self, layout, "scale_"), T::of(factor));
            Ok(())
        })
    }

    fn clamp_abs_(&mut self, layout: &Layout, limit: f32) -> BackendResult<()> {
        float_dispatch!("clamp_", self.dtype(), |T| {
            kernels::clamp_symmetric(contiguous_mut::<T>(self, layout, "clamp_"), T::of(limit));
            Ok(())
        })
    }
}
