//! The fused affine map of a fully connected layer: `y = x·Wᵀ + b` in one pass, the bias
//! written first and the product accumulated onto it by `gemm` (PyTorch's `addmm`).

use super::matmul::{gemm_into, MatRef};
use crate::core::Float;

/// `y (m×n, row-major) = x (m×k) · Wᵀ + b`, with `W` stored (n×k) and read transposed
/// through its strides, so no copy of the weight is made.
pub fn linear_forward<T: Float>(
    m: usize,
    k: usize,
    n: usize,
    x: MatRef<T>,
    w: MatRef<T>,
    bias: Option<&[T]>,
) -> Vec<T> {
    let mut out = match bias {
        Some(b) => {
            debug_assert_eq!(b.len(), n);
            let mut out = Vec::with_capacity(m * n);
            for _ in 0..m {
                out.extend_from_slice(b);
            }
            out
        }
        None => vec![T::zero(); m * n],
    };
    // Wᵀ (k×n) is W (n×k) with its row and column strides swapped.
    let wt = MatRef {
        data: w.data,
        offset: w.offset,
        row_stride: w.col_stride,
        col_stride: w.row_stride,
    };
    gemm_into(&mut out, true, m, n, k, x, wt, true);
    out
}

/// Σ over rows of a row-major (m×n) matrix: the bias gradient of a linear layer.
pub fn sum_rows<T: Float>(src: &[T], m: usize, n: usize) -> Vec<T> {
    let mut out = vec![T::zero(); n];
    for row in src[..m * n].chunks_exact(n.max(1)) {
        for (o, &v) in out.iter_mut().zip(row) {
            *o += v;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn affine_map_matches_hand_computation() {
        // x = [[1, 2]], W = [[1, 0], [0, 1], [1, 1]], b = [0.5, -1, 2] → [1.5, 1, 5]
        let x = [1.0f32, 2.0];
        let w = [1.0f32, 0.0, 0.0, 1.0, 1.0, 1.0];
        let xr = MatRef {
            data: &x,
            offset: 0,
            row_stride: 2,
            col_stride: 1,
        };
        let wr = MatRef {
            data: &w,
            offset: 0,
            row_stride: 2,
            col_stride: 1,
        };
        assert_eq!(
            linear_forward(1, 2, 3, xr, wr, Some(&[0.5, -1.0, 2.0])),
            vec![1.5, 1.0, 5.0]
        );
        assert_eq!(sum_rows(&[1.0f32, 2.0, 3.0, 4.0], 2, 2), vec![4.0, 6.0]);
    }

    /// The f64 path against the same hand computation, with values f32 cannot hold.
    #[test]
    fn f64_affine_map_matches_hand_computation() {
        let x = [0.1f64, 0.2];
        let w = [1.0f64, 0.0, 0.0, 1.0, 1.0, 1.0];
        let r = |data| MatRef {
            data,
            offset: 0,
            row_stride: 2,
            col_stride: 1,
        };
        let y = linear_forward(1, 2, 3, r(&x[..]), r(&w[..]), Some(&[0.5, -1.0, 2.0]));
        let want = [0.5 + 0.1, -1.0 + 0.2, 2.0 + (0.1 + 0.2)];
        for (g, w) in y.iter().zip(want) {
            assert!((g - w).abs() < 1e-15, "{g} vs {w}");
        }
        assert_eq!(linear_forward(1, 2, 3, r(&x[..]), r(&w[..]), None).len(), 3);
        assert_eq!(
            sum_rows(&[0.1f64, 0.2, 0.3, 0.4], 2, 2),
            vec![0.1 + 0.3, 0.2 + 0.4]
        );
    }
}
