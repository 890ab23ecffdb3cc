//! Gradient clipping: by the global norm of all gradients, or elementwise by value.

use crate::backend::Storage;
use crate::tensor::Shape;
use crate::Tensor;

/// Scales every gradient by `min(max_norm / (total + 1e-6), 1)`, where `total` is the
/// 2-norm of all gradients taken together, and returns `total` as it was before clipping, a
/// 0-dimensional tensor of the gradients' type on their device (PyTorch's
/// `clip_grad_norm_(params, max_norm)`). Parameters without a gradient are skipped; with no
/// gradient at all nothing changes and the norm is 0. [`clip_grad_norm_with`] takes other
/// norms.
///
/// ```
/// use ferrite::optim::clip_grad_norm;
/// use ferrite::Tensor;
/// let w = Tensor::zeros([2]).requires_grad();
/// w.set_grad(Some(Tensor::from_vec(vec![3.0, 4.0], [2])));
/// let total = clip_grad_norm(&[w.clone()], 1.0);
/// assert_eq!((total.dims(), total.item()), (&[][..], 5.0));
/// let g = w.grad().unwrap().to_vec(); // scaled by 1/(5 + 1e-6)
/// assert!((g[0] - 0.6).abs() < 1e-6 && (g[1] - 0.8).abs() < 1e-6);
/// ```
pub fn clip_grad_norm(params: &[Tensor], max_norm: f32) -> Tensor {
    clip_grad_norm_with(params, max_norm, 2.0)
}

/// [`clip_grad_norm`] with the `norm_type`-norm (PyTorch's `clip_grad_norm_(params,
/// max_norm, norm_type)`): `(Σ|g|ᵖ)^(1/p)` over all gradients together, `f32::INFINITY` for
/// the largest |g|.
///
/// ```
/// use ferrite::optim::clip_grad_norm_with;
/// use ferrite::Tensor;
/// let w = Tensor::zeros([2]).requires_grad();
/// w.set_grad(Some(Tensor::from_vec(vec![-3.0, 1.0], [2])));
/// assert_eq!(clip_grad_norm_with(&[w.clone()], 100.0, 1.0).item(), 4.0);
/// assert_eq!(clip_grad_norm_with(&[w], 100.0, f32::INFINITY).item(), 3.0);
/// ```
pub fn clip_grad_norm_with(params: &[Tensor], max_norm: f32, norm_type: f32) -> Tensor {
    let grads: Vec<Tensor> = params.iter().filter_map(|p| p.grad()).collect();
    let Some(first) = grads.first() else {
        return Tensor::scalar(0.0);
    };
    let options = first.options();
    let partial: Vec<f64> = grads
        .iter()
        .map(|g| g.storage().pow_abs_sum(g.layout(), norm_type))
        .collect();
    let total = if norm_type.is_infinite() {
        partial.iter().copied().fold(0.0, f64::max)
    } else {
        partial.iter().sum::<f64>().powf(1.0 / norm_type as f64)
    };
    let coef = (max_norm / (total as f32 + 1e-6)).min(1.0);
    for (p, g) in params.iter().filter(|p| p.grad().is_some()).zip(&grads) {
        rewrite_grad(p, g, |s, l| s.scale_(l, coef));
    }
    Tensor::full_with(Shape(vec![]), total, options)
}

/// Clamps every gradient element to `[−clip_value, clip_value]` (PyTorch's
/// `clip_grad_value_`).
pub fn clip_grad_value(params: &[Tensor], clip_value: f32) {
    for p in params {
        if let Some(g) = p.grad() {
            rewrite_grad(p, &g, |s, l| s.clamp_abs_(l, clip_value));
        }
    }
}

/// Applies the in-place op `f` to the gradient's storage, or to a fresh copy (then made
/// `p`'s gradient) when the gradient is not contiguous.
fn rewrite_grad(p: &Tensor, g: &Tensor, f: impl Fn(&mut Storage, &crate::tensor::Layout)) {
    if g.is_contiguous() {
        f(&mut g.storage_mut(), g.layout());
    } else {
        let fresh = g.detach_copy();
        f(&mut fresh.storage_mut(), fresh.layout());
        p.set_grad(Some(fresh));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_grad(values: Vec<f32>) -> Tensor {
        let n = values.len();
        let p = Tensor::zeros([n]).requires_grad();
        p.set_grad(Some(Tensor::from_vec(values, [n])));
        p
    }

    #[test]
    fn global_norm_over_all_parameters() {
        // ‖(1, 2, 2, 4)‖₂ = 5; max_norm 10 leaves the gradients alone.
        let (a, b) = (with_grad(vec![1.0, 2.0]), with_grad(vec![2.0, 4.0]));
        let total = clip_grad_norm(&[a.clone(), b.clone()], 10.0);
        assert_eq!(total.dims(), &[] as &[usize]);
        assert!((total.item() - 5.0).abs() < 1e-6);
        assert_eq!(b.grad().unwrap().to_vec(), vec![2.0, 4.0]);
        // max_norm 2.5 halves them (up to the 1e-6 guard), and reports the norm before.
        let total = clip_grad_norm(&[a.clone(), b.clone()], 2.5);
        assert!((total.item() - 5.0).abs() < 1e-6);
        let got = b.grad().unwrap().to_vec();
        assert!((got[0] - 1.0).abs() < 1e-6 && (got[1] - 2.0).abs() < 1e-6);
        // L1, L3 and infinity norms: |−3| + |1| = 4; (27 + 1)^(1/3); max |g| = 3.
        let c = with_grad(vec![-3.0, 1.0]);
        let one = std::slice::from_ref(&c);
        assert_eq!(clip_grad_norm_with(one, 100.0, 1.0).item(), 4.0);
        let l3 = clip_grad_norm_with(one, 100.0, 3.0).item();
        assert!((l3 - 28f32.powf(1.0 / 3.0)).abs() < 1e-6, "{l3}");
        assert_eq!(clip_grad_norm_with(&[c], 100.0, f32::INFINITY).item(), 3.0);
    }

    #[test]
    fn the_norm_keeps_the_gradients_type_and_no_gradient_is_zero() {
        // f64 gradients: the norm is f64 and exact to f64 precision (√2 is not an f32).
        let p = Tensor::zeros([2]).requires_grad();
        p.set_grad(Some(Tensor::from_f64(vec![1.0, 1.0], [2])));
        let total = clip_grad_norm(std::slice::from_ref(&p), 10.0);
        assert_eq!(total.dtype(), crate::DType::F64);
        assert!((total.item_f64() - std::f64::consts::SQRT_2).abs() < 1e-15);
        // Parameters without a gradient: nothing to clip, norm 0.
        let bare = Tensor::zeros([3]).requires_grad();
        assert_eq!(clip_grad_norm(std::slice::from_ref(&bare), 1.0).item(), 0.0);
        assert!(bare.grad().is_none());
    }

    #[test]
    fn value_clipping_clamps_each_element() {
        let a = with_grad(vec![-3.0, 0.2, 5.0]);
        clip_grad_value(std::slice::from_ref(&a), 1.0);
        assert_eq!(a.grad().unwrap().to_vec(), vec![-1.0, 0.2, 1.0]);
    }
}
