//! The CPU implementation of [`crate::backend::OptimOps`].

use super::CpuStorage;
use crate::backend::cpu::optim as kernels;
use crate::backend::{AdagradStep, AdamStep, BackendResult, OptimOps, RmspropStep, SgdStep};
use crate::core::Layout;

/// The elements of the contiguous view `layout`, writable. Optimizers only hold contiguous
/// parameters and clipping copies strided gradients first, so anything else is a bug.
#[track_caller]
fn contiguous_mut<'a>(s: &'a mut CpuStorage, layout: &Layout, op: &str) -> &'a mut [f32] {
    let range = layout
        .contiguous_range()
        .unwrap_or_else(|| panic!("{op}: in-place updates need a contiguous tensor"));
    &mut s.f32_mut()[range]
}

impl OptimOps for CpuStorage {
    fn sgd_step(
        &mut self,
        layout: &Layout,
        grad: (&Self, &Layout),
        momentum_buffer: Option<&mut Self>,
        step: SgdStep,
    ) -> BackendResult<()> {
        let g = grad.0.view(grad.1);
        let buf = match momentum_buffer {
            Some(b) => b.f32_mut(),
            None => &mut [],
        };
        kernels::sgd_update(
            contiguous_mut(self, layout, "sgd"),
            &g,
            buf,
            step.lr,
            step.momentum,
            step.dampening,
            step.weight_decay,
            step.nesterov,
            step.first_step,
        );
        Ok(())
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
        let g = grad.0.view(grad.1);
        let s = kernels::AdamStep {
            beta1: step.beta1,
            beta2: step.beta2,
            eps: step.eps,
            l2: step.l2,
            step_size: step.step_size,
            bias_correction2_sqrt: step.bias_correction2_sqrt,
            decay_factor: step.decay_factor,
        };
        kernels::adam_update(
            contiguous_mut(self, layout, "adam"),
            &g,
            exp_avg.f32_mut(),
            exp_avg_sq.f32_mut(),
            max_exp_avg_sq.map(CpuStorage::f32_mut),
            s,
        );
        Ok(())
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
        let g = grad.0.view(grad.1);
        let s = kernels::RmspropStep {
            lr: step.lr,
            alpha: step.alpha,
            eps: step.eps,
            weight_decay: step.weight_decay,
            momentum: step.momentum,
        };
        kernels::rmsprop_update(
            contiguous_mut(self, layout, "rmsprop"),
            &g,
            square_avg.f32_mut(),
            grad_avg.map(CpuStorage::f32_mut),
            momentum_buffer.map(CpuStorage::f32_mut),
            s,
        );
        Ok(())
    }

    fn adagrad_step(
        &mut self,
        layout: &Layout,
        grad: (&Self, &Layout),
        sum: &mut Self,
        step: AdagradStep,
    ) -> BackendResult<()> {
        let g = grad.0.view(grad.1);
        kernels::adagrad_update(
            contiguous_mut(self, layout, "adagrad"),
            &g,
            sum.f32_mut(),
            step.clr,
            step.eps,
            step.weight_decay,
        );
        Ok(())
    }

    fn pow_abs_sum(&self, layout: &Layout, p: f32) -> BackendResult<f64> {
        Ok(kernels::pow_abs_sum(&self.view(layout), p))
    }

    fn scale_(&mut self, layout: &Layout, factor: f32) -> BackendResult<()> {
        kernels::scale(contiguous_mut(self, layout, "scale_"), factor);
        Ok(())
    }

    fn clamp_abs_(&mut self, layout: &Layout, limit: f32) -> BackendResult<()> {
        kernels::clamp_symmetric(contiguous_mut(self, layout, "clamp_"), limit);
        Ok(())
    }
}
