//! Matrix products. Large ones run on the AMX tile unit where there is one ([`super::amx`],
//! bf16×3 at f32 accuracy); others on processors with AVX-512 on Ferrite's own packed kernel
//! ([`super::sgemm`]); elsewhere on the `gemm` crate. All read any row and column strides,
//! so transposed views are multiplied without a copy.

use super::parallel;

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
const PARALLEL_WORK: usize = 64 * 64 * 64;

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
    gemm_into_strided(dst, (n, 1), accumulate, m, n, k, lhs, rhs, parallel);
}

/// `dst = [dst +] lhs (m×k) · rhs (k×n)` with element (i, j) of the destination at
/// `i·dst_strides.0 + j·dst_strides.1` (a column-major destination is `(1, m)`).
#[allow(clippy::too_many_arguments)]
pub fn gemm_into_strided(
    dst: &mut [f32],
    dst_strides: (usize, usize),
    accumulate: bool,
    m: usize,
    n: usize,
    k: usize,
    lhs: MatRef,
    rhs: MatRef,
    parallel: bool,
) {
    if m == 0 || n == 0 {
        return;
    }
    assert!(
        (m - 1) * dst_strides.0 + (n - 1) * dst_strides.1 < dst.len(),
        "gemm_into: destination too small"
    );
    if k > 0 {
        let last_l = lhs.offset + (m - 1) * lhs.row_stride + (k - 1) * lhs.col_stride;
        let last_r = rhs.offset + (k - 1) * rhs.row_stride + (n - 1) * rhs.col_stride;
        assert!(
            last_l < lhs.data.len() && last_r < rhs.data.len(),
            "gemm_into: operand out of bounds"
        );
    }
    let threads = if parallel && m * n * k >= PARALLEL_WORK {
        parallel::threads()
    } else {
        1
    };
    #[cfg(target_arch = "x86_64")]
    if super::sgemm::available() {
        use super::sgemm::{sgemm, Destination, Operand};
        let operand = |x: MatRef| Operand {
            // SAFETY: offset is in bounds (checked above, or unused when k = 0).
            ptr: x.data.as_ptr().wrapping_add(x.offset),
            row_stride: x.row_stride as isize,
            col_stride: x.col_stride as isize,
        };
        let c = Destination {
            ptr: dst.as_mut_ptr(),
            row_stride: dst_strides.0,
            col_stride: dst_strides.1,
        };
        // SAFETY: every element read or written was bounds-checked above; dst is borrowed
        // exclusively, so it overlaps neither operand; the processor was checked.
        unsafe {
            if super::amx::worthwhile(m, n, k) && super::amx::available() {
                super::amx::sgemm_bf16x3(
                    m,
                    n,
                    k,
                    operand(lhs),
                    operand(rhs),
                    c,
                    accumulate,
                    threads,
                );
            } else {
                sgemm(m, n, k, operand(lhs), operand(rhs), c, accumulate, threads);
            }
        }
        return;
    }
    if k == 0 {
        if !accumulate {
            for i in 0..m {
                for j in 0..n {
                    dst[i * dst_strides.0 + j * dst_strides.1] = 0.0;
                }
            }
        }
        return;
    }
    let parallelism = if threads > 1 {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    };
    // SAFETY: the bounds of all three operands were checked above; dst is exclusively borrowed.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            dst_strides.1 as isize,
            dst_strides.0 as isize,
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
        parallel::for_each_chunk_mut(&mut out, m * n, |b, dst| one(b, dst, false));
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
