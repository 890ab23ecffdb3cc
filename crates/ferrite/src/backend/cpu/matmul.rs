//! Matrix products. Large ones run on the AMX tile unit where there is one ([`super::amx`],
//! bf16×3 at f32 accuracy); others on processors with AVX-512 on Ferrite's own packed kernel
//! ([`super::sgemm`]); elsewhere on the `gemm` crate. [`super::isa::isa`] (the
//! `FERRITE_ISA` switch) decides which may run. All read any row and column strides, so
//! transposed views are multiplied without a copy. Those fast kernels are f32 only; f64
//! products (gradcheck's) run on the `gemm` crate, which is generic.

use super::parallel;
use crate::core::Float;

/// A read-only strided matrix inside a buffer of `T` (f32 unless named).
pub(crate) struct MatRef<'a, T = f32> {
    /// The buffer.
    pub(crate) data: &'a [T],
    /// Position of element (0, 0).
    pub(crate) offset: usize,
    /// Step between rows, in elements.
    pub(crate) row_stride: usize,
    /// Step between columns, in elements.
    pub(crate) col_stride: usize,
}

// Written out rather than derived: a derive would demand `T: Clone`, which a reference does
// not need.
impl<T> Clone for MatRef<'_, T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for MatRef<'_, T> {}

/// Work (m·n·k) above which one product is split across threads.
const PARALLEL_WORK: usize = 64 * 64 * 64;

/// `dst (m×n, row-major) = [dst +] lhs (m×k) · rhs (k×n)`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn gemm_into<T: Float>(
    dst: &mut [T],
    accumulate: bool,
    m: usize,
    n: usize,
    k: usize,
    lhs: MatRef<T>,
    rhs: MatRef<T>,
    parallel: bool,
) {
    gemm_into_strided(dst, (n, 1), accumulate, m, n, k, lhs, rhs, parallel);
}

/// Position of the last element of an `rows × cols` matrix at `offset` with `strides`, or
/// None when it does not fit in a `usize` (so it cannot lie inside any buffer).
fn last_element(offset: usize, rows: usize, cols: usize, strides: (usize, usize)) -> Option<usize> {
    let down = (rows - 1).checked_mul(strides.0)?;
    let across = (cols - 1).checked_mul(strides.1)?;
    offset.checked_add(down)?.checked_add(across)
}

/// Whether the `m × n` positions `i·rs + j·cs` are all distinct. Two positions meet when
/// `a·rs = b·cs` for some `0 < a < m`, `0 < b < n`; with g = gcd(rs, cs) the smallest
/// solution is `(a, b) = (cs/g, rs/g)`, so the layout is one-to-one exactly when a zero
/// stride does not repeat a row or column and that solution lies outside the matrix.
/// Interleaved but one-to-one layouts (rows 3 apart, columns 2 apart, 2×2) are allowed.
fn distinct_positions(m: usize, n: usize, (rs, cs): (usize, usize)) -> bool {
    if m == 0 || n == 0 {
        return true;
    }
    if m == 1 || n == 1 {
        // A single row or column: only its own stride matters.
        return (m <= 1 || rs > 0) && (n <= 1 || cs > 0);
    }
    if rs == 0 || cs == 0 {
        return false;
    }
    let gcd = {
        let (mut x, mut y) = (rs, cs);
        while y != 0 {
            (x, y) = (y, x % y);
        }
        x
    };
    cs / gcd >= m || rs / gcd >= n
}

/// `dst = [dst +] lhs (m×k) · rhs (k×n)` with element (i, j) of the destination at
/// `i·dst_strides.0 + j·dst_strides.1` (a column-major destination is `(1, m)`).
///
/// # Panics
/// When an operand does not fit its buffer, and when the destination strides make two
/// elements of the result share a position (a zero stride, or rows and columns that
/// interleave onto each other): such a product has no single answer, and its threads would
/// write the same memory.
#[allow(clippy::too_many_arguments)]
pub(crate) fn gemm_into_strided<T: Float>(
    dst: &mut [T],
    dst_strides: (usize, usize),
    accumulate: bool,
    m: usize,
    n: usize,
    k: usize,
    lhs: MatRef<T>,
    rhs: MatRef<T>,
    parallel: bool,
) {
    if m == 0 || n == 0 {
        return;
    }
    // Checked arithmetic: a wrapped product of huge strides must not pass as in bounds.
    assert!(
        last_element(0, m, n, dst_strides).is_some_and(|last| last < dst.len()),
        "gemm_into: destination too small"
    );
    assert!(
        distinct_positions(m, n, dst_strides),
        "gemm_into: destination strides {dst_strides:?} make elements of the {m}x{n} result \
         overlap"
    );
    if k > 0 {
        let last_l = last_element(lhs.offset, m, k, (lhs.row_stride, lhs.col_stride));
        let last_r = last_element(rhs.offset, k, n, (rhs.row_stride, rhs.col_stride));
        assert!(
            last_l.is_some_and(|l| l < lhs.data.len())
                && last_r.is_some_and(|r| r < rhs.data.len()),
            "gemm_into: operand out of bounds"
        );
    }
    let threads = if parallel && m * n * k >= PARALLEL_WORK {
        parallel::threads()
    } else {
        1
    };
    // The packed kernels are f32 only (the test is a constant once monomorphised).
    #[cfg(target_arch = "x86_64")]
    if std::any::TypeId::of::<T>() == std::any::TypeId::of::<f32>() && super::sgemm::available() {
        use super::sgemm::{sgemm, Destination, Operand};
        // The casts are identities: T is f32 here.
        let operand = |x: MatRef<T>| Operand {
            // SAFETY: offset is in bounds (checked above, or unused when k = 0).
            ptr: x.data.as_ptr().wrapping_add(x.offset) as *const f32,
            row_stride: x.row_stride as isize,
            col_stride: x.col_stride as isize,
        };
        let c = Destination {
            ptr: dst.as_mut_ptr() as *mut f32,
            row_stride: dst_strides.0,
            col_stride: dst_strides.1,
        };
        // SAFETY: every element read or written was bounds-checked above, and the elements
        // written are distinct (checked above), so threads write disjoint memory; dst is
        // borrowed exclusively, so it overlaps neither operand; `available()` (from `isa()`)
        // guarantees the processor has what the kernel needs.
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
                    dst[i * dst_strides.0 + j * dst_strides.1] = T::zero();
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
    // SAFETY: the bounds of all three operands were checked above, and dst's elements are
    // distinct; dst is exclusively borrowed.
    unsafe {
        gemm::gemm::<T>(
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
            T::one(),
            T::one(),
            false,
            false,
            false,
            parallelism,
        );
    }
}

/// A batch of products: `dst[b] = lhs[b] · rhs[b]`, each operand addressed by a batch offset.
#[allow(clippy::too_many_arguments)]
pub(crate) fn batched_gemm<T: Float>(
    m: usize,
    n: usize,
    k: usize,
    lhs: &[T],
    lhs_offsets: &[usize],
    lhs_strides: (usize, usize),
    rhs: &[T],
    rhs_offsets: &[usize],
    rhs_strides: (usize, usize),
) -> Vec<T> {
    let batch = lhs_offsets.len();
    let mut out = vec![T::zero(); batch * m * n];
    if m * n == 0 {
        return out;
    }
    let one = |b: usize, dst: &mut [T], parallel: bool| {
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
        let a = [1f32, 2., 3., 4.];
        let b = [5f32, 6., 7., 8.];
        let mut c = [0f32; 4];
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

    fn mat(data: &[f32], row_stride: usize, col_stride: usize) -> MatRef<'_> {
        MatRef {
            data,
            offset: 0,
            row_stride,
            col_stride,
        }
    }

    #[test]
    fn distinct_positions_is_exact() {
        // Brute force over small shapes and strides.
        for m in 0..5 {
            for n in 0..5 {
                for rs in 0..7 {
                    for cs in 0..7 {
                        let mut seen = std::collections::HashSet::new();
                        let one_to_one =
                            (0..m).all(|i| (0..n).all(|j| seen.insert(i * rs + j * cs)));
                        assert_eq!(
                            distinct_positions(m, n, (rs, cs)),
                            one_to_one,
                            "{m}x{n} strides ({rs}, {cs})"
                        );
                    }
                }
            }
        }
    }

    /// Large enough to be split across threads (m·n·k ≥ PARALLEL_WORK): with strides (0, 1)
    /// every row of C is the same memory, which threads would write at once.
    #[test]
    #[should_panic(expected = "overlap")]
    fn a_destination_whose_rows_coincide_is_rejected() {
        let (m, n, k) = (64, 64, 64);
        let a = vec![1.0; m * k];
        let b = vec![1.0; k * n];
        let mut c = vec![0.0; n];
        gemm_into_strided(
            &mut c,
            (0, 1),
            true,
            m,
            n,
            k,
            mat(&a, k, 1),
            mat(&b, n, 1),
            true,
        );
    }

    #[test]
    #[should_panic(expected = "overlap")]
    fn interleaved_rows_and_columns_that_collide_are_rejected() {
        // Rows 2 apart, columns 1 apart, 3 columns: (0, 2) and (1, 0) share position 2.
        let (a, b) = ([1.0; 6], [1.0; 6]);
        let mut c = vec![0.0; 16];
        gemm_into_strided(
            &mut c,
            (2, 1),
            false,
            2,
            3,
            2,
            mat(&a, 2, 1),
            mat(&b, 3, 1),
            false,
        );
    }

    #[test]
    #[should_panic(expected = "too small")]
    fn strides_whose_extent_overflows_are_rejected() {
        let (a, b) = ([1.0; 4], [1.0; 4]);
        let mut c = vec![0.0; 4];
        let huge = usize::MAX / 2 + 1;
        gemm_into_strided(
            &mut c,
            (huge, 1),
            false,
            3,
            2,
            2,
            mat(&a, 2, 1),
            mat(&b, 2, 1),
            false,
        );
    }

    /// A one-to-one layout whose rows and columns interleave (rows 3 apart, columns 2 apart)
    /// is a valid destination, serial or split across threads, and matches the definition.
    #[test]
    fn interleaved_but_distinct_destinations_match_the_definition() {
        let (m, n, k) = (2, 2, 3);
        let a: Vec<f32> = (0..m * k).map(|v| v as f32).collect();
        let b: Vec<f32> = (0..k * n).map(|v| (v as f32) - 2.0).collect();
        for parallel in [false, true] {
            let mut c = vec![10.0; 6];
            let (lhs, rhs) = (mat(&a, k, 1), mat(&b, n, 1));
            gemm_into_strided(&mut c, (3, 2), true, m, n, k, lhs, rhs, parallel);
            for i in 0..m {
                for j in 0..n {
                    let want: f32 = 10.0 + (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum::<f32>();
                    assert_eq!(c[3 * i + 2 * j], want, "C[{i},{j}]");
                }
            }
            // Position 1 belongs to no element and stays untouched.
            assert_eq!(c[1], 10.0);
        }
    }

    /// A large interleaved-but-distinct layout on the threaded path (m·n·k ≥ PARALLEL_WORK)
    /// gives the serial path's numbers.
    #[test]
    fn threaded_and_serial_products_agree_on_a_strided_destination() {
        let (m, n, k) = (70, 90, 80);
        let a: Vec<f32> = (0..m * k)
            .map(|v| ((v * 37) % 101) as f32 / 101.0 - 0.5)
            .collect();
        let b: Vec<f32> = (0..k * n)
            .map(|v| ((v * 53) % 97) as f32 / 97.0 - 0.5)
            .collect();
        // Rows n + 3 apart (padded), columns 1 apart; and a column-major destination.
        for strides in [(n + 3, 1), (1, m)] {
            let len = (m - 1) * strides.0 + (n - 1) * strides.1 + 1;
            let run = |parallel| {
                let mut c = vec![0.5; len];
                let (lhs, rhs) = (mat(&a, k, 1), mat(&b, n, 1));
                gemm_into_strided(&mut c, strides, true, m, n, k, lhs, rhs, parallel);
                c
            };
            let (serial, threaded) = (run(false), run(true));
            for (s, t) in serial.iter().zip(&threaded) {
                assert!((s - t).abs() <= 1e-5, "{strides:?}: {s} vs {t}");
            }
        }
    }

    /// A product has the same bits however many threads split it (issue #13), on whichever
    /// kernel this machine runs it (tile unit, AVX-512 or the `gemm` crate): large and
    /// odd-sized, row- and column-major destinations, accumulating or not; and with a
    /// subnormal in one column of B, which sends the tile unit's product to the f32 kernel
    /// (for the whole product, not only the share holding that column).
    #[test]
    fn products_do_not_depend_on_the_thread_count() {
        let (m, n, k) = (200, 333, 150);
        let a: Vec<f32> = (0..m * k).map(|v| ((v as f32) * 0.37).sin()).collect();
        let mut b: Vec<f32> = (0..k * n).map(|v| ((v as f32) * 0.11).cos()).collect();
        for subnormal in [false, true] {
            if subnormal {
                b[5 * n + 300] = 1e-40;
            }
            for (strides, accumulate) in [((n, 1), false), ((1, m), true), ((n + 5, 1), true)] {
                let len = (m - 1) * strides.0 + (n - 1) * strides.1 + 1;
                let run = |threads: usize| -> Vec<u32> {
                    let mut c: Vec<f32> = (0..len).map(|v| (v % 7) as f32 - 3.0).collect();
                    let (lhs, rhs) = (mat(&a, k, 1), mat(&b, n, 1));
                    parallel::with_threads(threads, || {
                        gemm_into_strided(&mut c, strides, accumulate, m, n, k, lhs, rhs, true)
                    });
                    c.iter().map(|x| x.to_bits()).collect()
                };
                let one = run(1);
                for threads in [2, 3, 8] {
                    assert!(
                        run(threads) == one,
                        "{strides:?}, accumulate {accumulate}, subnormal {subnormal}: \
                         {threads} threads differ from 1"
                    );
                }
            }
        }
    }

    /// The f64 path (the `gemm` crate) against the f32 path, through strided operands and a
    /// batch, and against the definition.
    #[test]
    fn f64_products_match_the_f32_path() {
        let (m, n, k) = (5, 4, 7);
        let a32: Vec<f32> = (0..m * k)
            .map(|v| ((v * 7) % 11) as f32 / 4.0 - 1.0)
            .collect();
        let b32: Vec<f32> = (0..k * n)
            .map(|v| ((v * 5) % 13) as f32 / 8.0 - 0.5)
            .collect();
        let a64: Vec<f64> = a32.iter().map(|&x| x as f64).collect();
        let b64: Vec<f64> = b32.iter().map(|&x| x as f64).collect();
        // A read transposed: stored (k×m), strides (1, m).
        let at32: Vec<f32> = (0..k * m).map(|p| a32[(p % m) * k + p / m]).collect();
        let at64: Vec<f64> = at32.iter().map(|&x| x as f64).collect();
        let r32 = batched_gemm(m, n, k, &at32, &[0, 0], (1, m), &b32, &[0, 0], (n, 1));
        let r64 = batched_gemm(m, n, k, &at64, &[0, 0], (1, m), &b64, &[0, 0], (n, 1));
        assert_eq!(r64.len(), 2 * m * n);
        for i in 0..m {
            for j in 0..n {
                let want: f64 = (0..k).map(|p| a64[i * k + p] * b64[p * n + j]).sum();
                let got = r64[i * n + j];
                assert!((got - want).abs() < 1e-12, "C[{i},{j}]: {got} vs {want}");
                assert!(
                    (r32[i * n + j] as f64 - got).abs() < 1e-6,
                    "f32 vs f64 at C[{i},{j}]"
                );
                assert_eq!(r64[m * n + i * n + j], got);
            }
        }
        // k = 0 zeroes the destination.
        let mut c = vec![3.0f64; 4];
        gemm_into(
            &mut c,
            false,
            2,
            2,
            0,
            mat64(&[], 0, 1),
            mat64(&[], 2, 1),
            false,
        );
        assert_eq!(c, vec![0.0; 4]);
    }

    fn mat64(data: &[f64], row_stride: usize, col_stride: usize) -> MatRef<'_, f64> {
        MatRef {
            data,
            offset: 0,
            row_stride,
            col_stride,
        }
    }
}
