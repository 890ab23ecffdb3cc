//! The fused losses that compute their local gradients with the value: binary cross-entropy
//! on probabilities and on logits, and cross-entropy / NLL against class indices or class
//! probabilities. One pass over the data gives the sum of the per-element losses and, when
//! asked, the unreduced losses and the gradients with respect to the input and the target.

use super::{on_device, BackendResult, Storage};
use crate::core::Layout;

/// The shape of a class-loss input seen as `(outer, classes, inner)`: batch, class
/// dimension, and the product of any extra dimensions (`(N, C, d1, ...)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClassDims {
    /// The batch size `N` (1 for an unbatched `(C)` input).
    pub outer: usize,
    /// The number of classes `C`.
    pub classes: usize,
    /// The product of the dimensions after the class dimension (1 for `(N, C)`).
    pub inner: usize,
}

impl ClassDims {
    /// The number of positions (samples times spatial places).
    pub fn positions(&self) -> usize {
        self.outer * self.inner
    }
}

/// The options of a loss over class-index targets, other than the class weights.
#[derive(Clone, Copy, Debug)]
pub struct ClassIndexOptions {
    /// Target value whose positions count for nothing.
    pub ignore_index: f32,
    /// Label smoothing ε in [0, 1].
    pub smoothing: f32,
    /// True: the input holds logits and goes through log-softmax (cross-entropy);
    /// false: the input already holds log-probabilities (NLL).
    pub logits: bool,
}

/// What a fused loss is asked to produce besides the sum of its losses.
#[derive(Clone, Copy, Debug, Default)]
pub struct LossRequest {
    /// The unreduced losses (one per element, or per position for class losses).
    pub losses: bool,
    /// The gradient with respect to the input.
    pub grad_input: bool,
    /// The gradient with respect to the target.
    pub grad_target: bool,
    /// The factor on both gradients: 1/denominator for a mean, else 1.
    pub scale: f32,
}

/// What a fused loss produced: the sum of its losses and the buffers asked for, row-major.
#[derive(Clone, Debug)]
pub struct LossOutput<S> {
    /// The sum of the unreduced losses, accumulated in f64.
    pub total: f64,
    /// The unreduced losses, when asked for.
    pub losses: Option<S>,
    /// `scale·∂loss/∂input`, shaped like the input, when asked for.
    pub grad_input: Option<S>,
    /// `scale·∂loss/∂target`, shaped like the target, when asked for.
    pub grad_target: Option<S>,
}

impl<S> LossOutput<S> {
    /// The same output with every buffer passed through `f` (to rewrap a backend's storage).
    pub fn map<T>(self, f: impl Fn(S) -> T) -> LossOutput<T> {
        LossOutput {
            total: self.total,
            losses: self.losses.map(&f),
            grad_input: self.grad_input.map(&f),
            grad_target: self.grad_target.map(&f),
        }
    }
}

/// The fused losses. Weights arrive already broadcast to the shape they are read at (their
/// layouts may have zero strides).
pub trait LossOps: Sized {
    /// The first value `layout` sees outside [0, 1] (NaN included), if any: BCE's check on
    /// its input and target.
    fn first_outside_unit_interval(&self, layout: &Layout) -> BackendResult<Option<f32>>;

    /// Binary cross-entropy of probabilities `self` against `target` (same shape), logs
    /// clamped at −100, with optional per-element weights.
    fn binary_cross_entropy(
        &self,
        layout: &Layout,
        target: (&Self, &Layout),
        weight: Option<(&Self, &Layout)>,
        request: LossRequest,
    ) -> BackendResult<LossOutput<Self>>;

    /// Binary cross-entropy of logits `self` against `target` (same shape), stable for any
    /// logit, with optional per-element weights and weights of positive examples.
    fn binary_cross_entropy_with_logits(
        &self,
        layout: &Layout,
        target: (&Self, &Layout),
        weight: Option<(&Self, &Layout)>,
        pos_weight: Option<(&Self, &Layout)>,
        request: LossRequest,
    ) -> BackendResult<LossOutput<Self>>;

    /// Checks class-index targets `self` (whole numbers in `0..classes`, or `ignore_index`)
    /// and returns `Σ w[y]` over the counted ones, the denominator of a mean; `Err(v)` holds
    /// the first bad target.
    fn class_target_weight(
        &self,
        layout: &Layout,
        classes: usize,
        ignore_index: f32,
        weight: Option<(&Self, &Layout)>,
    ) -> BackendResult<Result<f64, f32>>;

    /// Cross-entropy (or NLL) of `self`, seen as `dims`, against class indices checked by
    /// [`LossOps::class_target_weight`], with optional per-class weights (length `classes`).
    /// The losses are one per position; there is no target gradient.
    #[allow(clippy::too_many_arguments)]
    fn class_index_loss(
        &self,
        layout: &Layout,
        dims: ClassDims,
        target: (&Self, &Layout),
        weight: Option<(&Self, &Layout)>,
        options: ClassIndexOptions,
        request: LossRequest,
    ) -> BackendResult<LossOutput<Self>>;

    /// Cross-entropy of logits `self`, seen as `dims`, against class probabilities shaped
    /// like the input, smoothed by `smoothing`, with optional per-class weights.
    fn class_probability_loss(
        &self,
        layout: &Layout,
        dims: ClassDims,
        target: (&Self, &Layout),
        weight: Option<(&Self, &Layout)>,
        smoothing: f32,
        request: LossRequest,
    ) -> BackendResult<LossOutput<Self>>;
}

impl Storage {
    /// The first value outside [0, 1] (NaN included), if any.
    pub fn first_outside_unit_interval(&self, layout: &Layout) -> Option<f32> {
        let s = self;
        on_device!("binary_cross_entropy", |_wrap| [s] => s.first_outside_unit_interval(layout))
    }

    /// Binary cross-entropy of probabilities against `target`.
    pub fn binary_cross_entropy(
        &self,
        layout: &Layout,
        target: (&Storage, &Layout),
        weight: Option<(&Storage, &Layout)>,
        request: LossRequest,
    ) -> LossOutput<Storage> {
        let (s, t, w) = (self, target.0, weight.map(|w| w.0));
        let wl = weight.map(|w| w.1);
        on_device!("binary_cross_entropy", |wrap| [s, t] ? [w] => {
            s.binary_cross_entropy(layout, (t, target.1), w.zip(wl), request)
                .map(|o| o.map(wrap))
        })
    }

    /// Binary cross-entropy of logits against `target`.
    pub fn binary_cross_entropy_with_logits(
        &self,
        layout: &Layout,
        target: (&Storage, &Layout),
        weight: Option<(&Storage, &Layout)>,
        pos_weight: Option<(&Storage, &Layout)>,
        request: LossRequest,
    ) -> LossOutput<Storage> {
        let (s, t, w, pw) = (self, target.0, weight.map(|w| w.0), pos_weight.map(|p| p.0));
        let (wl, pwl) = (weight.map(|w| w.1), pos_weight.map(|p| p.1));
        on_device!("binary_cross_entropy_with_logits", |wrap| [s, t] ? [w, pw] => {
            s.binary_cross_entropy_with_logits(layout, (t, target.1), w.zip(wl), pw.zip(pwl), request)
                .map(|o| o.map(wrap))
        })
    }

    /// Checks class-index targets and returns the denominator of a mean, or the first bad
    /// target.
    pub fn class_target_weight(
        &self,
        layout: &Layout,
        classes: usize,
        ignore_index: f32,
        weight: Option<(&Storage, &Layout)>,
    ) -> Result<f64, f32> {
        let (s, w) = (self, weight.map(|w| w.0));
        let wl = weight.map(|w| w.1);
        on_device!("nll_loss", |_wrap| [s] ? [w] => {
            s.class_target_weight(layout, classes, ignore_index, w.zip(wl))
        })
    }

    /// Cross-entropy (or NLL) against class indices.
    pub fn class_index_loss(
        &self,
        layout: &Layout,
        dims: ClassDims,
        target: (&Storage, &Layout),
        weight: Option<(&Storage, &Layout)>,
        options: ClassIndexOptions,
        request: LossRequest,
    ) -> LossOutput<Storage> {
        let (s, t, w) = (self, target.0, weight.map(|w| w.0));
        let wl = weight.map(|w| w.1);
        on_device!("nll_loss", |wrap| [s, t] ? [w] => {
            s.class_index_loss(layout, dims, (t, target.1), w.zip(wl), options, request)
                .map(|o| o.map(wrap))
        })
    }

    /// Cross-entropy against class probabilities.
    pub fn class_probability_loss(
        &self,
        layout: &Layout,
        dims: ClassDims,
        target: (&Storage, &Layout),
        weight: Option<(&Storage, &Layout)>,
        smoothing: f32,
        request: LossRequest,
    ) -> LossOutput<Storage> {
        let (s, t, w) = (self, target.0, weight.map(|w| w.0));
        let wl = weight.map(|w| w.1);
        on_device!("cross_entropy", |wrap| [s, t] ? [w] => {
            s.class_probability_loss(layout, dims, (t, target.1), w.zip(wl), smoothing, request)
                .map(|o| o.map(wrap))
        })
    }
}
