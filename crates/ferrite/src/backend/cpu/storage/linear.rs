//! The CPU implementation of [`crate::backend::LinearOps`], at f32 or f64.

use super::{float_dispatch, CpuStorage, Element};
use crate::backend::cpu::linear::{linear_forward, sum_rows};
use crate::backend::cpu::matmul::MatRef;
use crate::backend::{BackendResult, LinearOps};
use crate::core::Layout;

/// The 2-D matrix `layout` sees inside `data`, read through its strides.
fn mat<'a, T>(data: &'a [T], layout: &Layout) -> MatRef<'a, T> {
    MatRef {
        data,
        offset: layout.offset,
        row_stride: layout.strides[0],
        col_stride: layout.strides[1],
    }
}

impl LinearOps for CpuStorage {
    fn linear(
        &self,
        layout: &Layout,
        weight: &Self,
        weight_layout: &Layout,
        bias: Option<(&Self, &Layout)>,
    ) -> BackendResult<Self> {
        let (m, k) = (layout.dims()[0], layout.dims()[1]);
        let n = weight_layout.dims()[0];
        assert_eq!(
            self.dtype(),
            weight.dtype(),
            "linear: input and weight of different dtypes"
        );
        float_dispatch!("linear", self.dtype(), |T| {
            let bias = bias.map(|(b, l)| b.view_as::<T>(l));
            Ok(T::wrap(linear_forward(
                m,
                k,
                n,
                mat(self.data::<T>(), layout),
                mat(weight.data::<T>(), weight_layout),
                bias.as_deref(),
            )))
        })
    }

    fn linear_bias_grad(&self, layout: &Layout) -> BackendResult<Self> {
        let (m, n) = (layout.dims()[0], layout.dims()[1]);
        float_dispatch!("linear", self.dtype(), |T| Ok(T::wrap(sum_rows(
            &self.view_as::<T>(layout),
            m,
            n
        ))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `y = x·Wᵀ + b` and its bias gradient in f64, by hand.
    #[test]
    fn f64_linear_and_bias_grad() {
        let x = CpuStorage::F64(vec![0.1, 0.2, 0.3, 0.4]); // (2, 2)
        let w = CpuStorage::F64(vec![1., 0., 1., 1.]); // (2, 2)
        let b = CpuStorage::F64(vec![0.5, -1.]);
        let l = Layout::contiguous([2, 2]);
        let y = x
            .linear(&l, &w, &l, Some((&b, &Layout::contiguous([2]))))
            .unwrap();
        let want = [0.1 + 0.5, 0.1 + 0.2 - 1., 0.3 + 0.5, 0.3 + 0.4 - 1.];
        for (g, w) in y.data::<f64>().iter().zip(want) {
            assert!((g - w).abs() < 1e-15, "{g} vs {w}");
        }
        let g = x.linear_bias_grad(&l).unwrap();
        assert_eq!(g.data::<f64>(), &[0.1 + 0.3, 0.2 + 0.4]);
    }
}
