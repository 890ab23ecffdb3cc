//! The CPU implementation of [`crate::backend::LossOps`].

use super::{try_zeroed, CpuStorage};
use crate::backend::cpu::loss as kernels;
use crate::backend::{
    BackendResult, ClassDims, ClassIndexOptions, LossOps, LossOutput, LossRequest,
};
use crate::core::Layout;
use std::borrow::Cow;

/// The zeroed buffers a request asks for: `(losses, grad_input, grad_target)`, the losses
/// `n_losses` long and the gradients as long as the input and the target.
type Buffers = (Option<Vec<f32>>, Option<Vec<f32>>, Option<Vec<f32>>);

fn buffers(
    request: LossRequest,
    n_losses: usize,
    n_input: usize,
    n_target: usize,
) -> BackendResult<Buffers> {
    let zeroed = |want: bool, n: usize| want.then(|| try_zeroed(n)).transpose();
    Ok((
        zeroed(request.losses, n_losses)?,
        zeroed(request.grad_input, n_input)?,
        zeroed(request.grad_target, n_target)?,
    ))
}

/// The output of a kernel that returned `total` and filled `buffers`.
fn output(total: f64, (losses, gx, gt): Buffers) -> LossOutput<CpuStorage> {
    LossOutput {
        total,
        losses: losses.map(CpuStorage::from_vec),
        grad_input: gx.map(CpuStorage::from_vec),
        grad_target: gt.map(CpuStorage::from_vec),
    }
}

/// What an optional operand's layout sees, row-major.
fn view_of<'a>(operand: Option<(&'a CpuStorage, &Layout)>) -> Option<Cow<'a, [f32]>> {
    operand.map(|(s, l)| s.view(l))
}

/// The kernels' own copy of the class view.
fn kernel_dims(d: ClassDims) -> kernels::ClassDims {
    kernels::ClassDims {
        outer: d.outer,
        classes: d.classes,
        inner: d.inner,
    }
}

impl LossOps for CpuStorage {
    fn first_outside_unit_interval(&self, layout: &Layout) -> BackendResult<Option<f32>> {
        Ok(kernels::first_outside_unit_interval(&self.view(layout)))
    }

    fn binary_cross_entropy(
        &self,
        layout: &Layout,
        target: (&Self, &Layout),
        weight: Option<(&Self, &Layout)>,
        request: LossRequest,
    ) -> BackendResult<LossOutput<Self>> {
        let (x, y) = (self.view(layout), target.0.view(target.1));
        let weight = view_of(weight);
        let mut b = buffers(request, x.len(), x.len(), y.len())?;
        let scale = request.scale;
        let total = kernels::binary_cross_entropy(
            &x,
            &y,
            weight.as_deref(),
            b.0.as_deref_mut(),
            b.1.as_deref_mut().map(|g| (g, scale)),
            b.2.as_deref_mut().map(|g| (g, scale)),
        );
        Ok(output(total, b))
    }

    fn binary_cross_entropy_with_logits(
        &self,
        layout: &Layout,
        target: (&Self, &Layout),
        weight: Option<(&Self, &Layout)>,
        pos_weight: Option<(&Self, &Layout)>,
        request: LossRequest,
    ) -> BackendResult<LossOutput<Self>> {
        let (x, y) = (self.view(layout), target.0.view(target.1));
        let (weight, pos_weight) = (view_of(weight), view_of(pos_weight));
        let mut b = buffers(request, x.len(), x.len(), y.len())?;
        let scale = request.scale;
        let total = kernels::binary_cross_entropy_with_logits(
            &x,
            &y,
            weight.as_deref(),
            pos_weight.as_deref(),
            b.0.as_deref_mut(),
            b.1.as_deref_mut().map(|g| (g, scale)),
            b.2.as_deref_mut().map(|g| (g, scale)),
        );
        Ok(output(total, b))
    }

    fn class_target_weight(
        &self,
        layout: &Layout,
        classes: usize,
        ignore_index: f32,
        weight: Option<(&Self, &Layout)>,
    ) -> BackendResult<Result<f64, f32>> {
        let weight = view_of(weight);
        Ok(kernels::class_target_weight(
            &self.view(layout),
            classes,
            ignore_index,
            weight.as_deref(),
        ))
    }

    fn class_index_loss(
        &self,
        layout: &Layout,
        dims: ClassDims,
        target: (&Self, &Layout),
        weight: Option<(&Self, &Layout)>,
        options: ClassIndexOptions,
        request: LossRequest,
    ) -> BackendResult<LossOutput<Self>> {
        let (x, t) = (self.view(layout), target.0.view(target.1));
        let weight = view_of(weight);
        let spec = kernels::ClassIndexSpec {
            weight: weight.as_deref(),
            ignore_index: options.ignore_index,
            smoothing: options.smoothing,
            logits: options.logits,
        };
        // Class-index targets have no gradient.
        let request = LossRequest {
            grad_target: false,
            ..request
        };
        let dims = kernel_dims(dims);
        let mut b = buffers(request, dims.positions(), x.len(), 0)?;
        let total = kernels::class_index_loss(
            &x,
            dims,
            &t,
            &spec,
            b.0.as_deref_mut(),
            b.1.as_deref_mut().map(|g| (g, request.scale)),
        );
        Ok(output(total, b))
    }

    fn class_probability_loss(
        &self,
        layout: &Layout,
        dims: ClassDims,
        target: (&Self, &Layout),
        weight: Option<(&Self, &Layout)>,
        smoothing: f32,
        request: LossRequest,
    ) -> BackendResult<LossOutput<Self>> {
        let (x, t) = (self.view(layout), target.0.view(target.1));
        let weight = view_of(weight);
        let dims = kernel_dims(dims);
        let mut b = buffers(request, dims.positions(), x.len(), t.len())?;
        let scale = request.scale;
        let total = kernels::class_probability_loss(
            &x,
            dims,
            &t,
            weight.as_deref(),
            smoothing,
            b.0.as_deref_mut(),
            b.1.as_deref_mut().map(|g| (g, scale)),
            b.2.as_deref_mut().map(|g| (g, scale)),
        );
        Ok(output(total, b))
    }
}
