//! Approximate equality: PyTorch's `isclose` and `allclose`.

use super::dtype::compute_dtype;
use super::{broadcast_shapes, Shape, Tensor, TensorOptions};
use crate::core::DType;

impl Tensor {
    /// 1 where `self` and `other` are close, else 0 (broadcasting, no gradient; PyTorch's
    /// `torch.isclose(self, other, rtol, atol, equal_nan)`): `|self − other| <= atol + rtol ·
    /// |other|`, with equal infinities close and an infinity never close to a finite value.
    /// NaN is close to nothing, unless `equal_nan`, when it is close to NaN. PyTorch's defaults
    /// are `rtol = 1e-5`, `atol = 1e-8`. The test is not symmetric: `rtol` scales `|other|`.
    /// Both operands are compared in their common type (see [`DType::result_type`]),
    /// computed in f32 or f64; the result has that type.
    ///
    /// Panics when the shapes cannot be broadcast together or a tolerance is negative or NaN
    /// (programming errors, as PyTorch raises).
    ///
    /// ```
    /// use ferrite::Tensor;
    /// let a = Tensor::from([1.0, f32::NAN, 3.0]);
    /// let b = Tensor::from([1.0 + 1e-6, f32::NAN, 3.1]);
    /// assert_eq!(a.isclose(&b, 1e-5, 1e-8, false).to_vec(), vec![1.0, 0.0, 0.0]);
    /// assert_eq!(a.isclose(&b, 1e-5, 1e-8, true).to_vec(), vec![1.0, 1.0, 0.0]);
    /// ```
    pub fn isclose(&self, other: &Tensor, rtol: f64, atol: f64, equal_nan: bool) -> Tensor {
        assert!(
            rtol >= 0.0 && atol >= 0.0,
            "isclose: rtol ({rtol}) and atol ({atol}) must be non-negative numbers"
        );
        broadcast_shapes(self.dims(), other.dims(), "isclose");
        let dtype = compute_dtype(DType::result_type(
            (self.dtype(), self.rank() == 0),
            (other.dtype(), other.rank() == 0),
        ));
        // Detached: closeness is a test on values, never part of a graph.
        let a = self.detach().to_dtype(dtype);
        let b = other.detach().to_dtype(dtype);
        let options = TensorOptions {
            dtype,
            device: b.device(),
        };
        let constant = |v: f64| Tensor::full_with(Shape(vec![]), v, options);
        // Exact equality first, as PyTorch: it makes inf close to inf, whose difference is NaN.
        let mut close = a.eq(&b);
        if equal_nan {
            close = close.maximum(&a.ne(&a).mul(&b.ne(&b)));
        }
        let error = a.sub(&b).abs();
        let allowed = b.abs().mul(&constant(rtol)).add(&constant(atol));
        // A finite error only: otherwise inf would be close to a finite value under an
        // infinite tolerance. NaN fails both comparisons.
        let within = error.le(&allowed).mul(&error.lt(&constant(f64::INFINITY)));
        close.maximum(&within)
    }

    /// Whether every element of `self` is close to `other`'s (broadcasting): `|self − other|
    /// <= atol + rtol · |other|` elementwise, PyTorch's `torch.allclose(self, other, rtol,
    /// atol)`, whose defaults are `rtol = 1e-5`, `atol = 1e-8`. NaN is never close (use
    /// [`Tensor::isclose`] with `equal_nan` to accept matching NaNs); equal infinities are.
    /// Empty tensors are close. Panics as [`Tensor::isclose`] does.
    ///
    /// ```
    /// use ferrite::Tensor;
    /// let x = Tensor::from([[1.0, 2.0], [3.0, 4.0]]);
    /// assert!(x.allclose(&(&x + 1e-6), 1e-5, 1e-8));
    /// assert!(!x.allclose(&(&x + 1e-3), 1e-5, 1e-8));
    /// // Broadcasting: each row against one row.
    /// let rows = Tensor::from([[1.0, 2.0], [1.0, 2.0]]);
    /// assert!(rows.allclose(&Tensor::from([1.0, 2.0]), 0.0, 0.0));
    /// assert!(!x.allclose(&Tensor::from([1.0, 2.0]), 1e-5, 1e-8));
    /// ```
    pub fn allclose(&self, other: &Tensor, rtol: f64, atol: f64) -> bool {
        let close = self.isclose(other, rtol, atol, false);
        close.numel() == 0 || close.min().item() == 1.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tolerance_is_atol_plus_rtol_times_the_other() {
        // |a − b| = 0.5: close exactly when 0.5 <= atol + rtol·|b|, with |b| = 8 (binary
        // fractions, so the bound itself is exact).
        let (a, b) = (Tensor::from([8.5]), Tensor::from([8.0]));
        assert!(a.allclose(&b, 0.0625, 0.0)); // 0.5 <= 0.5: the bound is inclusive
        assert!(!a.allclose(&b, 0.05, 0.0)); // 0.5 > 0.4
        assert!(a.allclose(&b, 0.05, 0.125)); // 0.5 <= 0.125 + 0.4
        assert!(!a.allclose(&b, 0.0, 0.49));
        assert!(!a.allclose(&b, 0.06, 0.0)); // 0.5 > 0.48

        // Not symmetric: rtol scales the second operand. |Δ| = 1, |b| = 10 or 11.
        let (x, y) = (Tensor::from([11.0]), Tensor::from([10.0]));
        let rtol = 1.0 / 10.5;
        assert!(!x.allclose(&y, rtol, 0.0)); // 1 > 10/10.5
        assert!(y.allclose(&x, rtol, 0.0)); // 1 <= 11/10.5

        // PyTorch's defaults at 1: a difference of 5e-6 is close, 2e-5 is not.
        let one = Tensor::from([1.0]);
        assert!(one.allclose(&Tensor::from([1.0 + 5e-6]), 1e-5, 1e-8));
        assert!(!one.allclose(&Tensor::from([1.0 + 2e-5]), 1e-5, 1e-8));
    }

    #[test]
    fn nan_and_infinities() {
        let nan = Tensor::from([f32::NAN]);
        assert!(!nan.allclose(&nan, 1e-5, 1e-8));
        assert!(!nan.allclose(&Tensor::from([1.0]), f64::INFINITY, f64::INFINITY));
        assert_eq!(nan.isclose(&nan, 0.0, 0.0, true).to_vec(), vec![1.0]);
        assert_eq!(
            nan.isclose(&Tensor::from([0.0]), 0.0, 0.0, true).to_vec(),
            vec![0.0]
        );
        let (inf, ninf) = (
            Tensor::from([f32::INFINITY]),
            Tensor::from([-f32::INFINITY]),
        );
        assert!(inf.allclose(&inf, 0.0, 0.0));
        assert!(!inf.allclose(&ninf, 1e-5, 1e-8));
        // An infinite tolerance still never makes inf close to a finite value.
        let big = Tensor::from([1e30]);
        assert!(!inf.allclose(&big, 0.0, f64::INFINITY));
        assert!(big.allclose(&Tensor::from([-1e30]), 0.0, f64::INFINITY));
    }

    #[test]
    fn broadcasting_and_elementwise_results() {
        let m = Tensor::from([[1.0, 2.0, 3.0], [1.0, 2.5, 3.0]]);
        let row = Tensor::from([1.0, 2.0, 3.0]);
        let close = m.isclose(&row, 0.0, 0.1, false);
        assert_eq!(close.dims(), &[2, 3]);
        assert_eq!(close.to_vec(), vec![1.0, 1.0, 1.0, 1.0, 0.0, 1.0]);
        assert!(!m.allclose(&row, 0.0, 0.1));
        assert!(m.allclose(&row, 0.0, 0.5));
        // A 0-dim operand broadcasts against everything; a column against rows.
        assert!(Tensor::from([[2.0, 2.0]]).allclose(&Tensor::scalar(2.0), 0.0, 0.0));
        let col = Tensor::from([[1.0], [2.0]]);
        assert_eq!(
            col.isclose(&Tensor::from([1.0, 2.0]), 0.0, 0.0, false)
                .to_vec(),
            vec![1.0, 0.0, 0.0, 1.0]
        );
        // Empty tensors are close to each other.
        let empty: [f32; 0] = [];
        assert!(Tensor::from(empty).allclose(&Tensor::from(empty), 0.0, 0.0));
    }

    #[test]
    fn mixed_types_compare_in_the_common_type() {
        // 0.1f32 and 0.1f64 differ by about 1.5e-9: not equal in f64, close with atol 1e-8.
        let (f, d) = (Tensor::from([0.1f32]), Tensor::from_array([0.1f64]));
        assert!(!f.allclose(&d, 0.0, 0.0));
        assert!(f.allclose(&d, 0.0, 1e-8));
        assert!(Tensor::from_array([3i64]).allclose(&Tensor::from([3.0]), 0.0, 0.0));
        // Gradients do not matter and are not recorded.
        let w = Tensor::from([1.0]).requires_grad();
        assert!(w.allclose(&Tensor::from([1.0]), 0.0, 0.0));
        assert!(!w.isclose(&w, 0.0, 0.0, false).requires_grad_flag());
    }

    #[test]
    #[should_panic(expected = "isclose: shapes [2] and [3] cannot be broadcast together")]
    fn unbroadcastable_shapes_panic_with_both_shapes() {
        Tensor::from([1.0, 2.0]).allclose(&Tensor::from([1.0, 2.0, 3.0]), 1e-5, 1e-8);
    }

    #[test]
    #[should_panic(expected = "rtol (-1) and atol (0) must be non-negative")]
    fn negative_tolerance_panics() {
        Tensor::from([1.0]).allclose(&Tensor::from([1.0]), -1.0, 0.0);
    }
}
