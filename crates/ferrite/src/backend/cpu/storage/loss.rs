//! The CPU implementation of [`crate::backend::LossOps`], in the input's float type.

use super::{convert_storage, float_dispatch, CpuFloat, CpuStorage};
use crate::backend::cpu::loss as kernels;
use crate::backend::{
    BackendError, BackendResult, ClassDims, ClassIndexOptions, LossOps, LossOutput, LossRequest,
};
use crate::core::{DType, Device, Float, Layout};
use std::borrow::Cow;

/// The zeroed buffers a request asks for: `(losses, grad_input, grad_target)`, the losses
/// `n_losses` long and the gradients as long as the input and the target.
type Buffers<T> = (Option<Vec<T>>, Option<Vec<T>>, Option<Vec<T>>);

fn buffers<T: CpuFloat>(
    request: LossRequest,
    n_losses: usize,
    n_input: usize,
    n_target: usize,
) -> BackendResult<Buffers<T>> {
    let zeroed = |want: bool, n: usize| want.then(|| zeroed_as::<T>(n)).transpose();
    Ok((
        zeroed(request.losses, n_losses)?,
        zeroed(request.grad_input, n_input)?,
        zeroed(request.grad_target, n_target)?,
    ))
}

/// `n` zeros of `T`, or the out-of-memory error that names their size (as `try_zeroed`
/// does for f32).
fn zeroed_as<T: CpuFloat>(n: usize) -> BackendResult<Vec<T>> {
    let width = std::mem::size_of::<T>();
    let oom = || BackendError::OutOfMemory {
        device: Device::Cpu,
        bytes: n.saturating_mul(width),
    };
    n.checked_mul(width)
        .filter(|&b| b <= isize::MAX as usize)
        .ok_or_else(oom)?;
    let mut v = Vec::new();
    v.try_reserve_exact(n).map_err(|_| oom())?;
    v.resize(n, T::zero());
    Ok(v)
}

/// The output of a kernel that returned `total` and filled `buffers`.
fn output<T: CpuFloat>(total: f64, (losses, gx, gt): Buffers<T>) -> LossOutput<CpuStorage> {
    LossOutput {
        total,
        losses: losses.map(T::wrap),
        grad_input: gx.map(T::wrap),
        grad_target: gt.map(T::wrap),
    }
}

/// What `layout` sees of `s` as `T`: borrowed when `s` holds `T`, converted otherwise (class
/// targets may arrive as indices or in another float type; weights follow the input).
fn float_view<'a, T: CpuFloat>(s: &'a CpuStorage, layout: &Layout) -> Cow<'a, [T]> {
    if s.dtype() == T::DTYPE {
        s.view_as::<T>(layout)
    } else {
        Cow::Owned(convert_storage(s, layout))
    }
}

/// What an optional operand's layout sees, row-major, as `T`.
fn view_of<'a, T: CpuFloat>(operand: Option<(&'a CpuStorage, &Layout)>) -> Option<Cow<'a, [T]>> {
    operand.map(|(s, l)| float_view(s, l))
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
        float_dispatch!("binary_cross_entropy", self.dtype(), |T| {
            Ok(kernels::first_outside_unit_interval(&self.view_as::<T>(layout)).map(T::f32))
        })
    }

    fn binary_cross_entropy(
        &self,
        layout: &Layout,
        target: (&Self, &Layout),
        weight: Option<(&Self, &Layout)>,
        request: LossRequest,
    ) -> BackendResult<LossOutput<Self>> {
        float_dispatch!("binary_cross_entropy", self.dtype(), |T| {
            let (x, y) = (
                self.view_as::<T>(layout),
                float_view::<T>(target.0, target.1),
            );
            let weight = view_of::<T>(weight);
            let mut b = buffers::<T>(request, x.len(), x.len(), y.len())?;
            let scale = T::of(request.scale);
            let total = kernels::binary_cross_entropy(
                &x,
                &y,
                weight.as_deref(),
                b.0.as_deref_mut(),
                b.1.as_deref_mut().map(|g| (g, scale)),
                b.2.as_deref_mut().map(|g| (g, scale)),
            );
            Ok(output(total, b))
        })
    }

    fn binary_cross_entropy_with_logits(
        &self,
        layout: &Layout,
        target: (&Self, &Layout),
        weight: Option<(&Self, &Layout)>,
        pos_weight: Option<(&Self, &Layout)>,
        request: LossRequest,
    ) -> BackendResult<LossOutput<Self>> {
        float_dispatch!("binary_cross_entropy_with_logits", self.dtype(), |T| {
            let (x, y) = (
                self.view_as::<T>(layout),
                float_view::<T>(target.0, target.1),
            );
            let (weight, pos_weight) = (view_of::<T>(weight), view_of::<T>(pos_weight));
            let mut b = buffers::<T>(request, x.len(), x.len(), y.len())?;
            let scale = T::of(request.scale);
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
        })
    }

    fn class_target_weight(
        &self,
        layout: &Layout,
        classes: usize,
        ignore_index: f32,
        weight: Option<(&Self, &Layout)>,
    ) -> BackendResult<Result<f64, f32>> {
        // `self` is the target: f32 targets are checked in f32 (as always); any other type
        // (f64, or i64 indices) in f64, which holds every index exactly.
        fn check<T: CpuFloat>(
            target: &CpuStorage,
            layout: &Layout,
            classes: usize,
            ignore_index: f32,
            weight: Option<(&CpuStorage, &Layout)>,
        ) -> Result<f64, f32> {
            let weight = view_of::<T>(weight);
            kernels::class_target_weight(
                &float_view::<T>(target, layout),
                classes,
                T::of(ignore_index),
                weight.as_deref(),
            )
            .map_err(T::f32)
        }
        Ok(match self.dtype() {
            DType::F32 => check::<f32>(self, layout, classes, ignore_index, weight),
            _ => check::<f64>(self, layout, classes, ignore_index, weight),
        })
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
        float_dispatch!("cross_entropy", self.dtype(), |T| {
            let (x, t) = (
                self.view_as::<T>(layout),
                float_view::<T>(target.0, target.1),
            );
            let weight = view_of::<T>(weight);
            let spec = kernels::ClassIndexSpec {
                weight: weight.as_deref(),
                ignore_index: T::of(options.ignore_index),
                smoothing: T::of(options.smoothing),
                logits: options.logits,
            };
            // Class-index targets have no gradient.
            let request = LossRequest {
                grad_target: false,
                ..request
            };
            let dims = kernel_dims(dims);
            let mut b = buffers::<T>(request, dims.positions(), x.len(), 0)?;
            let total = kernels::class_index_loss(
                &x,
                dims,
                &t,
                &spec,
                b.0.as_deref_mut(),
                b.1.as_deref_mut().map(|g| (g, T::of(request.scale))),
            );
            Ok(output(total, b))
        })
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
        float_dispatch!("cross_entropy", self.dtype(), |T| {
            let (x, t) = (
                self.view_as::<T>(layout),
                float_view::<T>(target.0, target.1),
            );
            let weight = view_of::<T>(weight);
            let dims = kernel_dims(dims);
            let mut b = buffers::<T>(request, dims.positions(), x.len(), t.len())?;
            let scale = T::of(request.scale);
            let total = kernels::class_probability_loss(
                &x,
                dims,
                &t,
                weight.as_deref(),
                T::of(smoothing),
                b.0.as_deref_mut(),
                b.1.as_deref_mut().map(|g| (g, scale)),
                b.2.as_deref_mut().map(|g| (g, scale)),
            );
            Ok(output(total, b))
        })
    }
}
