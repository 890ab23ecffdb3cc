//! The tile products against f64 and the f32 kernel, and the split's exactness.

use super::super::matmul::{gemm_into_strided, MatRef};
use super::split::{split, split_scalar};
use super::*;
use std::arch::x86_64::*;

/// Where a test product runs.
#[derive(Clone, Copy, PartialEq)]
enum Path {
    /// The tile unit ([`sgemm_bf16x3`]); only where [`available`].
    Tiles,
    /// The best f32 path [`isa`] allows: the AVX-512 kernel, or the portable one that
    /// `matmul` takes without it.
    F32,
}

/// The path the tile tests check: the tile unit, or where [`isa`] rules it out (no unit
/// here, or `FERRITE_ISA` below `amx`), the f32 path `matmul` falls back to.
fn tested_path() -> Path {
    if available() {
        Path::Tiles
    } else {
        assert!(
            isa() < Isa::Amx,
            "the tile unit is off, so isa() must say so"
        );
        Path::F32
    }
}

#[test]
fn split_is_exact_and_keeps_non_finite_values() {
    let bf = |h: u16| f32::from_bits((h as u32) << 16) as f64;
    for &x in &[
        1.0f32,
        -0.1,
        std::f32::consts::PI,
        1e-30,
        -7.5e20,
        0.0,
        -0.0,
        1.000_000_1,
    ] {
        let [h, m, l] = split_scalar(x);
        assert_eq!(bf(h) + bf(m) + bf(l), x as f64, "{x}");
        let mut lanes = [0u32; 16];
        // The vector form runs where the AVX-512 kernels do; the scalar form, checked
        // above, is what the packing of odd strides uses everywhere.
        if super::super::avx512::available() {
            // SAFETY: `available()` says the processor has AVX-512F.
            unsafe {
                for (p, part) in split(_mm512_set1_ps(x)).0.into_iter().enumerate() {
                    _mm512_storeu_si512(lanes.as_mut_ptr() as *mut __m512i, part);
                    assert_eq!(lanes[0] >> 16, [h, m, l][p] as u32, "{x} part {p}");
                    assert_eq!(lanes[0] & 0xffff, 0);
                }
            }
        }
    }
    assert!(bf(split_scalar(f32::NAN)[0]).is_nan());
    assert_eq!(split_scalar(f32::INFINITY), [0x7f80, 0, 0]);
    assert_eq!(split_scalar(f32::NEG_INFINITY), [0xff80, 0, 0]);
}

/// A deterministic pseudo-random matrix with entries in [-1, 1) times `scale`.
fn values(len: usize, seed: u64, scale: f32) -> Vec<f32> {
    let mut s = seed;
    (0..len)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 23) as f32 - 1.0) * scale
        })
        .collect()
}

/// Runs one product on `path` and returns the largest error against an f64 triple loop, relative to Σ|a·b| of the
/// element: the measure in which f32's own error bound is stated.
#[allow(clippy::too_many_arguments)]
fn worst_error(
    (m, n, k): (usize, usize, usize),
    sa: (usize, usize),
    sb: (usize, usize),
    sc: (usize, usize),
    accumulate: bool,
    threads: usize,
    scale: f32,
    path: Path,
) -> f64 {
    // Buffers as long as the strides reach (strides of 2 leave gaps).
    let extent =
        |rows: usize, cols: usize, s: (usize, usize)| (rows - 1) * s.0 + (cols - 1) * s.1 + 1;
    let a = values(extent(m, k, sa), 1, scale);
    let b = values(extent(k, n, sb), 2, 1.0 / scale);
    let c0 = values(extent(m, n, sc), 3, 1.0);
    let mut c = c0.clone();
    let op = |d: &[f32], s: (usize, usize)| Operand {
        ptr: d.as_ptr(),
        row_stride: s.0 as isize,
        col_stride: s.1 as isize,
    };
    let dst = Destination {
        ptr: c.as_mut_ptr(),
        row_stride: sc.0,
        col_stride: sc.1,
    };
    let (lhs, rhs) = (op(&a, sa), op(&b, sb));
    if path == Path::Tiles {
        // SAFETY: every buffer holds exactly its matrix, C's layouts have distinct
        // elements, and `tested_path` checked `available()`.
        unsafe { sgemm_bf16x3(m, n, k, lhs, rhs, dst, accumulate, threads) };
    } else if super::super::sgemm::available() {
        // SAFETY: as above; `available()` says the processor has AVX-512F.
        unsafe { super::super::sgemm::sgemm(m, n, k, lhs, rhs, dst, accumulate, threads) };
    } else {
        let mat = |data, s: (usize, usize)| MatRef {
            data,
            offset: 0,
            row_stride: s.0,
            col_stride: s.1,
        };
        let (lhs, rhs) = (mat(&a, sa), mat(&b, sb));
        gemm_into_strided(&mut c, sc, accumulate, m, n, k, lhs, rhs, threads > 1);
    }
    let mut worst = 0.0f64;
    for i in 0..m {
        for j in 0..n {
            let terms =
                (0..k).map(|p| a[i * sa.0 + p * sa.1] as f64 * b[p * sb.0 + j * sb.1] as f64);
            let (mut want, mut size) = (0.0, 0.0);
            for t in terms {
                want += t;
                size += t.abs();
            }
            if accumulate {
                want += c0[i * sc.0 + j * sc.1] as f64;
                size += c0[i * sc.0 + j * sc.1].abs() as f64;
            }
            let got = c[i * sc.0 + j * sc.1] as f64;
            worst = worst.max((got - want).abs() / size.max(f64::MIN_POSITIVE));
        }
    }
    worst
}

#[test]
fn products_match_f64_to_f32_accuracy_for_every_shape_and_layout() {
    let path = tested_path();
    // Partial tiles and chunks, several panels deep and wide, both thread splits.
    for &(m, n, k) in &[
        (32, 32, 32),
        (33, 47, 70),
        (100, 300, 513),
        (300, 40, 1100),
        (64, 600, 96),
    ] {
        for (sa, sb, sc) in [
            ((k, 1), (n, 1), (n, 1)),
            ((1, m), (1, k), (n, 1)),
            ((k, 1), (n, 1), (1, m)),
            ((1, m), (n, 1), (1, m)),
            ((2 * k, 2), (1, 2 * k), (2 * n, 2)),
        ] {
            for accumulate in [false, true] {
                for threads in [1, 2] {
                    let error = worst_error((m, n, k), sa, sb, sc, accumulate, threads, 1.0, path);
                    // f32's own bound for a k-term sum is about k·2⁻²⁴ of Σ|a·b|; in
                    // practice (random rounding) the error is far below it.
                    assert!(
                        error < 4e-7 * (k as f64).sqrt(),
                        "{m}x{n}x{k} {sa:?} {sb:?} {sc:?} acc {accumulate} threads {threads}: \
                         relative error {error:e}"
                    );
                }
            }
        }
    }
}

#[test]
fn accuracy_is_that_of_the_f32_kernel_at_every_scale() {
    let path = tested_path();
    for scale in [1.0, 1e-20, 1e18] {
        let shape = (128, 128, 1024);
        let rows = ((1024, 1), (128, 1), (128, 1));
        let tested = worst_error(shape, rows.0, rows.1, rows.2, false, 1, scale, path);
        let fp32 = worst_error(shape, rows.0, rows.1, rows.2, false, 1, scale, Path::F32);
        assert!(
            tested < 2.0 * fp32.max(1e-7),
            "scale {scale}: tested path {tested:e}, f32 {fp32:e}"
        );
        // Where the tested path is the f32 one, the comparison above is trivial: hold it
        // to f32's own bound too, at every scale.
        assert!(
            fp32 < 4e-7 * (shape.2 as f64).sqrt(),
            "scale {scale}: f32 {fp32:e}"
        );
    }
}

/// `C = A·B` for 64×64 matrices on the tile unit's entry point, or where [`isa`] rules
/// the unit out, on the path `matmul` takes instead.
fn product_64(a: &[f32], b: &[f32]) -> Vec<f32> {
    let mut c = vec![0.0; 64 * 64];
    let mat = |data| MatRef {
        data,
        offset: 0,
        row_stride: 64,
        col_stride: 1,
    };
    if tested_path() == Path::F32 {
        gemm_into_strided(&mut c, (64, 1), false, 64, 64, 64, mat(a), mat(b), false);
        return c;
    }
    let op = |d: &[f32]| Operand {
        ptr: d.as_ptr(),
        row_stride: 64,
        col_stride: 1,
    };
    let dst = Destination {
        ptr: c.as_mut_ptr(),
        row_stride: 64,
        col_stride: 1,
    };
    // SAFETY: every buffer holds exactly its 64×64 matrix; `tested_path` checked
    // `available()`.
    unsafe { sgemm_bf16x3(64, 64, 64, op(a), op(b), dst, false, 1) };
    c
}

#[test]
fn infinities_nans_and_subnormals_keep_their_f32_results() {
    let b = values(64 * 64, 2, 1.0);
    let mut a = values(64 * 64, 1, 1.0);
    a[0] = f32::INFINITY; // row 0 of C: ±∞ (split into parts, ∞·0 would give NaN)
    a[64] = f32::NAN; // row 1: NaN
    let c = product_64(&a, &b);
    for j in 0..64 {
        assert_eq!(c[j], f32::INFINITY * b[j].signum(), "C[0,{j}]");
        assert!(c[64 + j].is_nan(), "C[1,{j}]");
        assert!(c[128 + j].is_finite());
    }
    // Row 0 of A is one subnormal, 1e-39; row 0 of B is scaled to 1e30, so C[0,j] is
    // about 1e-9·b[0,j], which reading the subnormal as zero would lose.
    let mut a = values(64 * 64, 1, 1.0);
    a[..64].fill(0.0);
    a[0] = 1e-39;
    let mut b = b;
    for x in &mut b[..64] {
        *x *= 1e30;
    }
    let c = product_64(&a, &b);
    for j in 0..64 {
        let want = 1e-39f64 as f32 as f64 * b[j] as f64;
        assert!(
            (c[j] as f64 - want).abs() <= 1e-6 * want.abs(),
            "C[0,{j}] = {}, want {want}",
            c[j]
        );
    }
}
