//! Packing: A's rows and B's columns into micro-panels of bf16 parts in the layout the tile
//! unit loads (A row by row, B pair-interleaved), into aligned per-thread buffers.

use super::super::avx512::{lanes, transpose16};
use super::super::sgemm::Operand;
use super::split::{in_order, pairs, split, split_scalar};
use super::{CHUNK, TILE};
use std::arch::x86_64::*;
use std::cell::RefCell;

/// One 64-byte line of packed bf16 values; buffers of lines are aligned as tile rows need.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
pub(super) struct Line([u16; 32]);

thread_local! {
    pub(super) static PACKED: RefCell<(Vec<Line>, Vec<Line>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

/// A 64-byte-aligned pointer to at least `len` bf16 elements of `buf`.
pub(super) fn lines(buf: &mut Vec<Line>, len: usize) -> *mut u16 {
    let needed = len.div_ceil(32);
    if buf.len() < needed {
        *buf = vec![Line([0; 32]); needed];
    }
    buf.as_mut_ptr() as *mut u16
}

/// The parts of 32 consecutive depths read from `src` (the first `depth` of them, the rest
/// zero), in order, and the mask of values the tile unit cannot take exactly.
///
/// # Safety
/// The processor must have AVX-512F; `src` must be valid for `depth` reads.
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn read_depths(src: *const f32, depth: usize) -> ([__m512i; 3], __mmask16) {
    // SAFETY: the masked loads read only the first `depth` values from `src`; wrapping_add
    // because `src + 16` may lie past the row when depth ≤ 16 (it is then never read).
    let (first, second) = unsafe {
        (
            _mm512_maskz_loadu_ps(lanes(depth), src),
            _mm512_maskz_loadu_ps(lanes(depth.saturating_sub(16)), src.wrapping_add(16)),
        )
    };
    // SAFETY: this function runs with AVX-512F enabled.
    let ((x0, s0), (x1, s1)) = unsafe { (split(first), split(second)) };
    // SAFETY: as above.
    (unsafe { in_order(x0, x1) }, s0 | s1)
}

/// The parts of the depth pairs (2q, 2q+1) of 16 lanes, the first `width` of which are read
/// from `even` and `odd` (None: a depth past the panel, all zero), and the mask of values
/// the tile unit cannot take exactly.
///
/// # Safety
/// The processor must have AVX-512F; `even` and `odd`, where given, must be valid for
/// `width` reads.
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn read_pairs(
    even: Option<*const f32>,
    odd: Option<*const f32>,
    width: usize,
) -> ([__m512i; 3], __mmask16) {
    let read = |p: Option<*const f32>| match p {
        // SAFETY: the masked load reads only the first `width` values, which the caller
        // promises are valid.
        Some(p) if width > 0 => unsafe { _mm512_maskz_loadu_ps(lanes(width), p) },
        _ => _mm512_setzero_ps(),
    };
    // SAFETY: this function runs with AVX-512F enabled.
    unsafe {
        let (even, s0) = split(read(even));
        let (odd, s1) = split(read(odd));
        (pairs(even, odd), s0 | s1)
    }
}

/// Sets row (or column) `i` of each part's 16 vectors.
fn put(parts: &mut [[__m512i; 16]; 3], i: usize, values: [__m512i; 3]) {
    for (part, v) in parts.iter_mut().zip(values) {
        part[i] = v;
    }
}

/// Stores 16 lines of 32 bf16 each, one part's 16 rows of a tile, turned 16×16 (as 32-bit
/// pairs) on the way when `turn` is set.
///
/// # Safety
/// The processor must have AVX-512F; `dst` must be valid for 16·32 writes.
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn store_tile(mut rows: [__m512i; 16], turn: bool, dst: *mut u16) {
    if turn {
        // SAFETY: `__m512i` and `__m512` are both 64 bytes of plain bits with the same
        // alignment, so the array may be viewed as either; AVX-512F is enabled here.
        unsafe {
            let as_ps = &mut *(&mut rows as *mut [__m512i; 16] as *mut [__m512; 16]);
            transpose16(as_ps);
        }
    }
    for (r, v) in rows.iter().enumerate() {
        // SAFETY: line r of 32 values lies inside the 16·32 the caller promises.
        unsafe { _mm512_storeu_si512(dst.add(32 * r) as *mut __m512i, *v) };
    }
}

/// The scalar packing of any strides: `value(r, d)` is the element of tile row r (< 16) at
/// depth d (< 32) or None outside the matrix; `at(r, d)` where its bf16 part 0 goes (parts
/// 1 and 2 follow 2·TILE apart). Returns false when a value is ±∞, NaN or subnormal.
///
/// # Safety
/// `dst` must be valid for writes at `p·2·TILE + at(r, d)` for every part p < 3, r < 16 and
/// d < 32.
unsafe fn pack_scalar(
    value: impl Fn(usize, usize) -> Option<f32>,
    at: impl Fn(usize, usize) -> usize,
    dst: *mut u16,
) -> bool {
    let mut exact = true;
    for r in 0..16 {
        for d in 0..32 {
            let parts = match value(r, d) {
                Some(x) => {
                    exact &= x.is_normal() || x == 0.0;
                    split_scalar(x)
                }
                None => [0; 3],
            };
            for (p, &v) in parts.iter().enumerate() {
                // SAFETY: the caller promises this position is valid.
                unsafe { *dst.add(p * 2 * TILE + at(r, d)) = v };
            }
        }
    }
    exact
}

/// Packs rows `i0..i0+rows` (rows ≤ 32, the rest zero) and depths `p0..p0+kc` of A into a
/// micro-panel of `⌈kc/32⌉` chunks at `dst`: chunk c, part p, row r, depth d is at
/// `c·CHUNK + p·2·TILE + (r/16)·TILE + (r%16)·32 + d`. Row-major and column-major A are
/// read as vectors; false when a value is ±∞, NaN or subnormal.
///
/// # Safety
/// The processor must have AVX-512F/BW; rows `i0..i0+rows` at depths `p0..p0+kc` must lie
/// inside A, and `dst` must hold `⌈kc/32⌉·CHUNK` values.
#[target_feature(enable = "avx512f,avx512bw")]
pub(super) unsafe fn pack_a(
    a: Operand,
    i0: usize,
    rows: usize,
    p0: usize,
    kc: usize,
    dst: *mut u16,
) -> bool {
    let mut special: __mmask16 = 0;
    let mut exact = true;
    // SAFETY: reads are of the block's real rows (r < height) and depths (masked to
    // `depth`, or d < depth), which the caller promises lie inside A; writes stay inside
    // chunk c < ⌈kc/32⌉ of `dst`; the features the helpers need are enabled here.
    unsafe {
        for c in 0..kc.div_ceil(32) {
            let depth = (kc - 32 * c).min(32);
            let d0 = p0 + 32 * c;
            for half in 0..2 {
                let tile = dst.add(c * CHUNK + half * TILE);
                let height = rows.saturating_sub(16 * half).min(16);
                let r0 = i0 + 16 * half;
                let element = |r: usize, d: usize| {
                    r0 as isize * a.row_stride
                        + r as isize * a.row_stride
                        + (d0 + d) as isize * a.col_stride
                };
                let mut parts = [[_mm512_setzero_si512(); 16]; 3];
                if a.col_stride == 1 {
                    for r in 0..height {
                        let (values, s) = read_depths(a.ptr.offset(element(r, 0)), depth);
                        special |= s;
                        put(&mut parts, r, values);
                    }
                } else if a.row_stride == 1 {
                    // Column-major: 16 rows of one depth are contiguous; pair depths, then turn.
                    let column = |d: usize| (d < depth).then(|| a.ptr.offset(element(0, d)));
                    for q in 0..16 {
                        let (values, s) = read_pairs(column(2 * q), column(2 * q + 1), height);
                        special |= s;
                        put(&mut parts, q, values);
                    }
                } else {
                    exact &= pack_scalar(
                        |r, d| (r < height && d < depth).then(|| *a.ptr.offset(element(r, d))),
                        |r, d| 32 * r + d,
                        tile,
                    );
                    continue;
                }
                for (p, part) in parts.into_iter().enumerate() {
                    store_tile(part, a.col_stride != 1, tile.add(p * 2 * TILE));
                }
            }
        }
    }
    exact && special == 0
}

/// Packs depths `p0..p0+kc` and columns `j0..j0+cols` (cols ≤ 32, the rest zero) of B into
/// a micro-panel at `dst` in the pair-interleaved layout: chunk c, part p, column j and depth
/// d = 2·q + s is at `c·CHUNK + p·2·TILE + (j/16)·TILE + q·32 + (j%16)·2 + s`. Row-major and
/// column-major B are read as vectors; false when a value is ±∞, NaN or subnormal.
///
/// # Safety
/// The processor must have AVX-512F/BW; depths `p0..p0+kc` of columns `j0..j0+cols` must
/// lie inside B, and `dst` must hold `⌈kc/32⌉·CHUNK` values.
#[target_feature(enable = "avx512f,avx512bw")]
pub(super) unsafe fn pack_b(
    b: Operand,
    j0: usize,
    cols: usize,
    p0: usize,
    kc: usize,
    dst: *mut u16,
) -> bool {
    let mut special: __mmask16 = 0;
    let mut exact = true;
    // SAFETY: reads are of the block's real columns (masked to `width`, or j < width) and
    // depths (d < depth), which the caller promises lie inside B; writes stay inside chunk
    // c < ⌈kc/32⌉ of `dst`; the features the helpers need are enabled here.
    unsafe {
        for c in 0..kc.div_ceil(32) {
            let depth = (kc - 32 * c).min(32);
            let d0 = p0 + 32 * c;
            for half in 0..2 {
                let tile = dst.add(c * CHUNK + half * TILE);
                let width = cols.saturating_sub(16 * half).min(16);
                let first = j0 + 16 * half;
                let element = |d: usize, j: usize| {
                    (d0 + d) as isize * b.row_stride
                        + first as isize * b.col_stride
                        + j as isize * b.col_stride
                };
                let mut parts = [[_mm512_setzero_si512(); 16]; 3];
                if b.col_stride == 1 {
                    let row = |d: usize| (d < depth).then(|| b.ptr.offset(element(d, 0)));
                    for q in 0..16 {
                        let (values, s) = read_pairs(row(2 * q), row(2 * q + 1), width);
                        special |= s;
                        put(&mut parts, q, values);
                    }
                } else if b.row_stride == 1 {
                    // Column-major (a transposed weight): each column's depths are contiguous;
                    // put them in order, then turn.
                    for j in 0..width {
                        let (values, s) = read_depths(b.ptr.offset(element(0, j)), depth);
                        special |= s;
                        put(&mut parts, j, values);
                    }
                } else {
                    exact &= pack_scalar(
                        |j, d| (j < width && d < depth).then(|| *b.ptr.offset(element(d, j))),
                        |j, d| 32 * (d / 2) + 2 * j + d % 2,
                        tile,
                    );
                    continue;
                }
                for (p, part) in parts.into_iter().enumerate() {
                    store_tile(part, b.col_stride != 1, tile.add(p * 2 * TILE));
                }
            }
        }
    }
    exact && special == 0
}
