//! Matrix products through the `gemm` crate, which reads any row and column strides, so
//! transposed views are multiplied without a copy.

use gemm::Parallelism;
use rayon::prelude::*;

/// A read-only strided matrix inside a buffer.
#[derive(Clone, Copy)]
pub struct MatRef<'a> {
    /// The buffer.
    pub data: &'a [f32],
    /// Position of element (0, 0).
    pub offset: usize,
    /// Step between rows, in elements.
    pub row_stride: usize,
    /// Step between columns, in elements.
    pub col_stride: usize,
}

/// Work (m·n·k) above which one product is split across threads.
const PARALLEL_WORK: usize = 96 * 96 * 96;

/// `dst (m×n, row-major) = [dst +] lhs (m×k) · rhs (k×n)`.
#[allow(clippy::too_many_arguments)]
pub fn gemm_into(
    dst: &mut [f32],
    accumulate: bool,
    m: usize,
    n: usize,
    k: usize,
    lhs: MatRef,
    rhs: MatRef,
    parallel: bool,
) {
    assert!(dst.len() >= m * n, "gemm_into: destination too small");
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            dst[..m * n].fill(0.0);
        }
        return;
    }
    let last_l = lhs.offset + (m - 1) * lhs.row_stride + (k - 1) * lhs.col_stride;
    let last_r = rhs.offset + (k - 1) * rhs.row_stride + (n - 1) * rhs.col_stride;
    assert!(
        last_l < lhs.data.len() && last_r < rhs.data.len(),
        "gemm_into: operand out of bounds"
    );
    let parallelism = if parallel && m * n * k >= PARALLEL_WORK {
        Parallelism::Rayon(rayon::current_num_threads())
    } else {
        Parallelism::None
    };
    // SAFETY: the bounds of all three operands were checked above; dst is exclusively borrowed.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            lhs.data.as_ptr().add(lhs.offset),
            lhs.col_stride as isize,
            lhs.row_stride as isize,
            rhs.data.as_ptr().add(rhs.offset),
            rhs.col_stride as isize,
            rhs.row_stride as isize,
            1.0,
            1.0,
            false,
            false,
            false,
            parallelism,
        );
    }
}

/// A batch of products: `dst[b] = lhs[b] · rhs[b]`, each operand addressed by a batch offset.
#[allow(clippy::too_many_arguments)]
pub fn batched_gemm(
    m: usize,
    n: usize,
    k: usize,
    lhs: &[f32],
    lhs_offsets: &[usize],
    lhs_strides: (usize, usize),
    rhs: &[f32],
    rhs_offsets: &[usize],
    rhs_strides: (usize, usize),
) -> Vec<f32> {
    let batch = lhs_offsets.len();
    let mut out = vec![0.0; batch * m * n];
    if m * n == 0 {
        return out;
    }
    let one = |b: usize, dst: &mut [f32], parallel: bool| {
        gemm_into(
            dst,
            false,
            m,
            n,
            k,
            MatRef {
                data: lhs,
                offset: lhs_offsets[b],
                row_stride: lhs_strides.0,
                col_stride: lhs_strides.1,
            },
            MatRef {
                data: rhs,
                offset: rhs_offsets[b],
                row_stride: rhs_strides.0,
                col_stride: rhs_strides.1,
            },
            parallel,
        )
    };
    if batch > 1 && m * n * k < PARALLEL_WORK && batch * m * n * k >= PARALLEL_WORK {
        out.par_chunks_mut(m * n)
            .enumerate()
            .for_each(|(b, dst)| one(b, dst, false));
    } else {
        for (b, dst) in out.chunks_mut(m * n).enumerate() {
            one(b, dst, true);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_product_and_transposed_operand() {
        // [[1,2],[3,4]] · [[5,6],[7,8]] = [[19,22],[43,50]]
        let a = [1., 2., 3., 4.];
        let b = [5., 6., 7., 8.];
        let mut c = [0.0; 4];
        let r = |d: &'static [f32; 4], rs, cs| MatRef {
            data: d,
            offset: 0,
            row_stride: rs,
            col_stride: cs,
        };
        gemm_into(
            &mut c,
            false,
            2,
            2,
            2,
            r(&[1., 2., 3., 4.], 2, 1),
            r(&[5., 6., 7., 8.], 2, 1),
            false,
        );
        assert_eq!(c, [19., 22., 43., 50.]);
        // aᵀ · b with aᵀ read through strides: [[1,3],[2,4]]·b = [[26,30],[38,44]]
        gemm_into(
            &mut c,
            false,
            2,
            2,
            2,
            r(&[1., 2., 3., 4.], 1, 2),
            r(&[5., 6., 7., 8.], 2, 1),
            false,
        );
        assert_eq!(c, [26., 30., 38., 44.]);
        let _ = (a, b);
    }
}
