//! f32 matrix products on the AMX tile unit of Intel processors (Sapphire Rapids and later),
//! at f32 accuracy from bf16 products ("bf16×3", the method of oneMKL's `FLOAT_TO_BF16X3`
//! mode). Every f32 splits without loss into three bf16 parts, `x = hi + mid + lo` (8
//! significant bits each, so `|mid| < 2⁻⁷·|x|` and `|lo| < 2⁻¹⁵·|x|`), and
//!
//! `a·b ≈ hi·hi + hi·mid + mid·hi + mid·mid + hi·lo + lo·hi`
//!
//! where each bf16 product is exact in f32 and the three dropped terms (`mid·lo`, `lo·mid`,
//! `lo·lo`) are below `2⁻²¹·|a·b|` together: a few units of f32's own rounding (`2⁻²⁴` per
//! step). Measured over whole products, the error is within 1.3× of the f32 kernel's (a
//! test holds it within 2×). The tile unit does 512 bf16 multiply-adds a cycle, 16 times
//! the AVX-512 f32 rate, so the six products still run about 2.5 times faster than the f32
//! kernel ([`super::sgemm`]).
//!
//! The tile unit reads subnormal bf16 as zero and flushes subnormal results to zero. So a
//! product with a subnormal input, or with ±∞ or NaN (where `∞·0` of a zero part would give
//! NaN, not ±∞), runs on the f32 kernel instead; what remains is that the `lo` part of a
//! value below about `2⁻¹¹⁰` is lost (a relative error of at most `2⁻¹⁶` on such values) and
//! that results below `2⁻¹²⁶` flush to zero. `FERRITE_ISA=avx512` (or the older `FERRITE_AMX=0`)
//! turns the path off; see [`super::isa`].
//!
//! Layout: a 32×32 block of C lives in four 16×16 f32 tiles while the kernel walks k in
//! chunks of 32. Per chunk, A's rows are packed as three 32×32 bf16 parts (each two tiles
//! of 16 rows) and B's columns in the pair-interleaved ("VNNI") layout the tile unit reads:
//! row `k/2` of a B tile holds, for each of 16 columns, the bf16 pair `(B[k][j], B[k+1][j])`.

use super::avx512::{lanes, transpose16};
use super::isa::{isa, Isa};
use super::sgemm::{split_over_threads, Destination, Operand, Share};
use std::arch::asm;
use std::arch::x86_64::*;
use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// Depth of k per packed panel (a multiple of 32): the micro-panels of A and B of one
/// kernel call (32 × KC × 3 parts each) stay in L2, and C is read and written K/KC times.
const KC: usize = 512;
/// Rows of A packed at once (a multiple of 32).
const MC: usize = 128;
/// Columns of B packed at once (a multiple of 32).
const NC: usize = 512;
/// bf16 elements per tile (16 rows of 64 bytes).
const TILE: usize = 512;
/// bf16 elements per packed chunk of one micro-panel: 3 parts × 2 tiles.
const CHUNK: usize = 6 * TILE;
/// Work (m·n·k) from which a product runs here: below, packing three parts of every
/// operand costs more than the faster multiply saves (measured: 160³ gains, 128³ loses).
const MIN_WORK: usize = 160 * 160 * 160;

/// True when the tile products may run: [`isa`] is [`Isa::Amx`], which it is only when the
/// processor has AVX-512F/BW, AMX-TILE and AMX-BF16, the operating system granted this
/// process the tile state, and neither `FERRITE_ISA` nor `FERRITE_AMX=0` lowers the level.
pub(crate) fn available() -> bool {
    isa() == Isa::Amx
}

/// Asks Linux for the tile-data state component (`arch_prctl(ARCH_REQ_XCOMP_PERM,
/// XFEATURE_XTILEDATA)`), without which the first tile instruction faults. Called once, by
/// [`isa`], when the processor has the tile unit.
#[cfg(target_os = "linux")]
pub(super) fn request_tile_state() -> bool {
    const SYS_ARCH_PRCTL: i64 = 158;
    const ARCH_REQ_XCOMP_PERM: i64 = 0x1023;
    const XFEATURE_XTILEDATA: i64 = 18;
    let result: i64;
    // SAFETY: a plain system call; it changes nothing but this process's permission.
    unsafe {
        asm!(
            "syscall",
            inlateout("rax") SYS_ARCH_PRCTL => result,
            in("rdi") ARCH_REQ_XCOMP_PERM,
            in("rsi") XFEATURE_XTILEDATA,
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    result == 0
}

/// Other systems: the tile state is not requested, so the tile unit is not used.
#[cfg(not(target_os = "linux"))]
pub(super) fn request_tile_state() -> bool {
    false
}

/// Whether an `m×k · k×n` product is large enough to gain from the tile unit. Each packed
/// element of A serves n columns and each of B m rows: with fewer than about 96, packing
/// dominates (measured on 64×1024×1024 and 1024×64×1024); so does C's traffic for k < 64.
pub(crate) fn worthwhile(m: usize, n: usize, k: usize) -> bool {
    m >= 96 && n >= 96 && k >= 64 && m * n * k >= MIN_WORK
}

/// One 64-byte line of packed bf16 values; buffers of lines are aligned as tile rows need.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Line([u16; 32]);

thread_local! {
    static PACKED: RefCell<(Vec<Line>, Vec<Line>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

/// A 64-byte-aligned pointer to at least `len` bf16 elements of `buf`.
fn lines(buf: &mut Vec<Line>, len: usize) -> *mut u16 {
    let needed = len.div_ceil(32);
    if buf.len() < needed {
        *buf = vec![Line([0; 32]); needed];
    }
    buf.as_mut_ptr() as *mut u16
}

/// The tile configuration: palette 1, eight tiles of 16 rows × 64 bytes.
#[repr(C, align(64))]
struct TileConfig([u8; 64]);

impl TileConfig {
    fn all_full() -> Self {
        let mut c = [0u8; 64];
        c[0] = 1;
        for t in 0..8 {
            c[16 + 2 * t] = 64; // bytes per row (u16, little-endian)
            c[48 + t] = 16; // rows
        }
        TileConfig(c)
    }
}

/// Splits 16 f32 lanes into their three bf16 parts, each in the high half of a 32-bit lane
/// (low half zero), and the mask of lanes the tile unit cannot take exactly: ±∞, NaN and
/// subnormals (which it reads as zero). NaN keeps a quiet NaN in `hi`; ±∞ and NaN have zero
/// `mid` and `lo`.
///
/// # Safety
/// The processor must have AVX-512F.
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn split(x: __m512) -> ([__m512i; 3], __mmask16) {
    let high = _mm512_set1_epi32(0xffff_0000u32 as i32);
    let bits = _mm512_castps_si512(x);
    let hi = _mm512_and_si512(bits, high);
    let rest = _mm512_sub_ps(x, _mm512_castsi512_ps(hi));
    let mid = _mm512_and_si512(_mm512_castps_si512(rest), high);
    let lo = _mm512_castps_si512(_mm512_sub_ps(rest, _mm512_castsi512_ps(mid)));
    let exponent = _mm512_set1_epi32(0x7f80_0000);
    let biased = _mm512_and_si512(bits, exponent);
    let special = _mm512_cmpeq_epi32_mask(biased, exponent);
    let nan = _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(x, x);
    let hi = _mm512_mask_mov_epi32(hi, nan, _mm512_set1_epi32(0x7fc0_0000));
    let zero = _mm512_setzero_si512();
    let subnormal = _mm512_cmpeq_epi32_mask(biased, zero)
        & _mm512_test_epi32_mask(bits, _mm512_set1_epi32(0x007f_ffff));
    let parts = [
        hi,
        _mm512_mask_mov_epi32(mid, special, zero),
        _mm512_mask_mov_epi32(lo, special, zero),
    ];
    (parts, special | subnormal)
}

/// The scalar form of [`split`], as bf16 bit patterns.
fn split_scalar(x: f32) -> [u16; 3] {
    if !x.is_finite() {
        let hi = if x.is_nan() {
            0x7fc0
        } else {
            (x.to_bits() >> 16) as u16
        };
        return [hi, 0, 0];
    }
    let hi = f32::from_bits(x.to_bits() & 0xffff_0000);
    let rest = x - hi;
    let mid = f32::from_bits(rest.to_bits() & 0xffff_0000);
    let lo = rest - mid;
    [
        (hi.to_bits() >> 16) as u16,
        (mid.to_bits() >> 16) as u16,
        (lo.to_bits() >> 16) as u16,
    ]
}

/// Per part, lane q: the bf16 pair (depth 2q, depth 2q+1), from the parts of 16 even and
/// 16 odd depths (each in the high halves of its lanes).
///
/// # Safety
/// The processor must have AVX-512F.
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn pairs(even: [__m512i; 3], odd: [__m512i; 3]) -> [__m512i; 3] {
    std::array::from_fn(|p| _mm512_or_si512(_mm512_srli_epi32::<16>(even[p]), odd[p]))
}

/// Per part, the bf16 values of 32 consecutive depths in order (lane q holds the pair
/// 2q, 2q+1), from the parts of depths 0..16 and 16..32.
///
/// # Safety
/// The processor must have AVX-512F.
#[inline]
#[target_feature(enable = "avx512f")]
unsafe fn in_order(first: [__m512i; 3], second: [__m512i; 3]) -> [__m512i; 3] {
    std::array::from_fn(|p| {
        let lo = _mm512_cvtepi32_epi16(_mm512_srli_epi32::<16>(first[p]));
        let hi = _mm512_cvtepi32_epi16(_mm512_srli_epi32::<16>(second[p]));
        _mm512_inserti64x4::<1>(_mm512_castsi256_si512(lo), hi)
    })
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
unsafe fn pack_a(a: Operand, i0: usize, rows: usize, p0: usize, kc: usize, dst: *mut u16) -> bool {
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
unsafe fn pack_b(b: Operand, j0: usize, cols: usize, p0: usize, kc: usize, dst: *mut u16) -> bool {
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

/// `C (32×32, rows `ldc` bytes apart) = [C +] Σ over `chunks` packed chunks`, the six bf16
/// products of each chunk in four 16×16 accumulator tiles (tmm0–3), with A's two row
/// tiles in tmm4–5 and B's two column tiles in tmm6–7.
///
/// # Safety
/// The tile configuration of [`TileConfig::all_full`] must be loaded; `a` and `b` hold
/// `chunks ≥ 1` packed chunks, 64-byte aligned; C is valid for 32 rows of 32 f32; this
/// process was granted the tile state ([`available`]).
unsafe fn kernel(a: *const u16, b: *const u16, chunks: usize, c: *mut f32, ldc: usize, load: bool) {
    // wrapping: row 16 of C, inside it as the caller promises.
    let c16 = (c as *mut u8).wrapping_add(16 * ldc);
    // SAFETY: the tile instructions run under the loaded configuration and the granted tile
    // state; tile loads read 16 rows of 64 bytes of C (at c and c16, ldc apart), or of a
    // packed chunk of A or B (1024 bytes per tile, six tiles per chunk, `chunks` chunks), and
    // tile stores write the same 32×32 of C: all inside what the caller promises is valid.
    unsafe {
        if load {
            asm!(
                "tileloadd tmm0, [{c} + {ldc}*1]",
                "tileloadd tmm1, [{c} + {ldc}*1 + 64]",
                "tileloadd tmm2, [{c16} + {ldc}*1]",
                "tileloadd tmm3, [{c16} + {ldc}*1 + 64]",
                c = in(reg) c,
                c16 = in(reg) c16,
                ldc = in(reg) ldc,
                options(nostack, readonly),
            );
        } else {
            asm!(
                "tilezero tmm0",
                "tilezero tmm1",
                "tilezero tmm2",
                "tilezero tmm3",
                options(nostack, nomem)
            );
        }
        // Byte offsets in a chunk: hi at 0, mid at 2048, lo at 4096; the second tile +1024.
        // The order reuses loaded tiles: A.hi·(B.hi, B.mid, B.lo), A.mid·(B.mid, B.hi), A.lo·B.hi.
        asm!(
            "2:",
            "tileloadd tmm4, [{a} + {s}*1]",
            "tileloadd tmm5, [{a} + {s}*1 + 1024]",
            "tileloadd tmm6, [{b} + {s}*1]",
            "tileloadd tmm7, [{b} + {s}*1 + 1024]",
            "tdpbf16ps tmm0, tmm4, tmm6",
            "tdpbf16ps tmm1, tmm4, tmm7",
            "tdpbf16ps tmm2, tmm5, tmm6",
            "tdpbf16ps tmm3, tmm5, tmm7",
            "tileloadd tmm6, [{b} + {s}*1 + 2048]",
            "tileloadd tmm7, [{b} + {s}*1 + 3072]",
            "tdpbf16ps tmm0, tmm4, tmm6",
            "tdpbf16ps tmm1, tmm4, tmm7",
            "tdpbf16ps tmm2, tmm5, tmm6",
            "tdpbf16ps tmm3, tmm5, tmm7",
            "tileloadd tmm6, [{b} + {s}*1 + 4096]",
            "tileloadd tmm7, [{b} + {s}*1 + 5120]",
            "tdpbf16ps tmm0, tmm4, tmm6",
            "tdpbf16ps tmm1, tmm4, tmm7",
            "tdpbf16ps tmm2, tmm5, tmm6",
            "tdpbf16ps tmm3, tmm5, tmm7",
            "tileloadd tmm4, [{a} + {s}*1 + 2048]",
            "tileloadd tmm5, [{a} + {s}*1 + 3072]",
            "tileloadd tmm6, [{b} + {s}*1 + 2048]",
            "tileloadd tmm7, [{b} + {s}*1 + 3072]",
            "tdpbf16ps tmm0, tmm4, tmm6",
            "tdpbf16ps tmm1, tmm4, tmm7",
            "tdpbf16ps tmm2, tmm5, tmm6",
            "tdpbf16ps tmm3, tmm5, tmm7",
            "tileloadd tmm6, [{b} + {s}*1]",
            "tileloadd tmm7, [{b} + {s}*1 + 1024]",
            "tdpbf16ps tmm0, tmm4, tmm6",
            "tdpbf16ps tmm1, tmm4, tmm7",
            "tdpbf16ps tmm2, tmm5, tmm6",
            "tdpbf16ps tmm3, tmm5, tmm7",
            "tileloadd tmm4, [{a} + {s}*1 + 4096]",
            "tileloadd tmm5, [{a} + {s}*1 + 5120]",
            "tdpbf16ps tmm0, tmm4, tmm6",
            "tdpbf16ps tmm1, tmm4, tmm7",
            "tdpbf16ps tmm2, tmm5, tmm6",
            "tdpbf16ps tmm3, tmm5, tmm7",
            "add {a}, 6144",
            "add {b}, 6144",
            "dec {n}",
            "jnz 2b",
            a = inout(reg) a => _,
            b = inout(reg) b => _,
            n = inout(reg) chunks => _,
            s = in(reg) 64usize,
            options(nostack, readonly),
        );
        asm!(
            "tilestored [{c} + {ldc}*1], tmm0",
            "tilestored [{c} + {ldc}*1 + 64], tmm1",
            "tilestored [{c16} + {ldc}*1], tmm2",
            "tilestored [{c16} + {ldc}*1 + 64], tmm3",
            c = in(reg) c,
            c16 = in(reg) c16,
            ldc = in(reg) ldc,
            options(nostack),
        );
    }
}

/// A 32×32 f32 block, aligned for tile loads and stores.
#[repr(C, align(64))]
struct Block([f32; 1024]);

/// Runs the kernel on the `rows × cols` block of C at (i, j): in place when the block is
/// whole and C's rows are contiguous, otherwise through a local 32×32 copy.
///
/// # Safety
/// As [`kernel`] for `a` and `b`; the `rows × cols` (each ≤ 32) elements of C at (i, j)
/// must be valid.
#[allow(clippy::too_many_arguments)]
unsafe fn block(
    a: *const u16,
    b: *const u16,
    chunks: usize,
    c: Destination,
    i: usize,
    j: usize,
    rows: usize,
    cols: usize,
    load: bool,
) {
    // SAFETY: (i, j) is element (0, 0) of the block, which the caller promises is valid.
    let at = unsafe { c.shifted(i, j).ptr };
    if rows == 32 && cols == 32 && c.col_stride == 1 {
        // SAFETY: a whole block with contiguous rows: 32 rows of 32 f32, row_stride apart.
        return unsafe { kernel(a, b, chunks, at, 4 * c.row_stride, load) };
    }
    let mut local = Block([0.0; 1024]);
    if load {
        for r in 0..rows {
            for s in 0..cols {
                // SAFETY: (r, s) lies inside the block.
                local.0[32 * r + s] = unsafe { *at.add(r * c.row_stride + s * c.col_stride) };
            }
        }
    }
    // SAFETY: `local` is 32 rows of 32 f32 (128 bytes apart), 64-byte aligned.
    unsafe { kernel(a, b, chunks, local.0.as_mut_ptr(), 128, load) };
    for r in 0..rows {
        for s in 0..cols {
            // SAFETY: (r, s) lies inside the block.
            unsafe { *at.add(r * c.row_stride + s * c.col_stride) = local.0[32 * r + s] };
        }
    }
}

/// The tile-unit product on the calling thread; false (with C partly written) when an
/// input is ±∞, NaN or subnormal.
///
/// # Safety
/// As [`sgemm_bf16x3`], with k ≥ 1.
#[target_feature(enable = "avx512f,avx512bw")]
unsafe fn tiles(
    m: usize,
    n: usize,
    k: usize,
    a: Operand,
    b: Operand,
    c: Destination,
    accumulate: bool,
) -> bool {
    let mut exact = true;
    let config = TileConfig::all_full();
    // SAFETY: the tile state was granted (`available()`); the configuration is 64 valid bytes.
    unsafe { asm!("ldtilecfg [{}]", in(reg) config.0.as_ptr(), options(nostack, readonly)) };
    // SAFETY: the packing buffers hold (MC/32)·(KC/32) and (NC/32)·(KC/32) chunks, 64-byte
    // aligned, and every panel offset stays inside them (t < MC/32 or NC/32, chunks ≤
    // KC/32); every block is inside A, B and C (ic + ir < m, jc + jr < n, pc < k), which the
    // caller promises are valid; the configuration is loaded for `block`'s kernel.
    PACKED.with(|bufs| unsafe {
        let (abuf, bbuf) = &mut *bufs.borrow_mut();
        let pa = lines(abuf, (MC / 32) * (KC / 32) * CHUNK);
        let pb = lines(bbuf, (NC / 32) * (KC / 32) * CHUNK);
        for jc in (0..n).step_by(NC) {
            let nc = NC.min(n - jc);
            for pc in (0..k).step_by(KC) {
                let kc = KC.min(k - pc);
                let chunks = kc.div_ceil(32);
                let panel = chunks * CHUNK;
                for (t, jr) in (0..nc).step_by(32).enumerate() {
                    exact &= pack_b(b, jc + jr, (nc - jr).min(32), pc, kc, pb.add(t * panel));
                }
                let load = accumulate || pc > 0;
                for ic in (0..m).step_by(MC) {
                    let mc = MC.min(m - ic);
                    for (t, ir) in (0..mc).step_by(32).enumerate() {
                        exact &= pack_a(a, ic + ir, (mc - ir).min(32), pc, kc, pa.add(t * panel));
                    }
                    if !exact {
                        return;
                    }
                    for (tj, jr) in (0..nc).step_by(32).enumerate() {
                        for (ti, ir) in (0..mc).step_by(32).enumerate() {
                            block(
                                pa.add(ti * panel),
                                pb.add(tj * panel),
                                chunks,
                                c,
                                ic + ir,
                                jc + jr,
                                (mc - ir).min(32),
                                (nc - jr).min(32),
                                load,
                            );
                        }
                    }
                }
            }
        }
    });
    // Hands the tile state back, so that context switches stop saving it.
    // SAFETY: releasing the tile state has no precondition beyond AMX, which is present.
    unsafe { asm!("tilerelease", options(nostack, nomem)) };
    exact
}

/// A block of C (where it starts, its rows and columns) and its elements as they were.
type SavedBlock = (Destination, usize, usize, Vec<f32>);

/// The `rows × cols` elements of C, row by row.
///
/// # Safety
/// They must be valid.
unsafe fn read_block(c: Destination, rows: usize, cols: usize) -> Vec<f32> {
    let mut v = Vec::with_capacity(rows * cols);
    for i in 0..rows {
        for j in 0..cols {
            // SAFETY: (i, j) is inside the block, which the caller promises is valid.
            v.push(unsafe { *c.shifted(i, j).ptr });
        }
    }
    v
}

/// `C = [C +] A (m×k) · B (k×n)` on the tile unit, split by columns (or rows) of C over
/// `threads` threads of the backend pool.
///
/// A product with ±∞, NaN or a subnormal among its inputs runs on the f32 kernel instead:
/// split into parts, `∞·b` would meet a zero part of `b` and give NaN where f32 gives ±∞,
/// and the tile unit reads subnormals as zero. That choice is made for the whole product,
/// never per thread's share: a share whose columns held no such value would otherwise keep
/// its tile result beside another share's f32 one, and the bits of C would depend on how
/// many threads cut it (see [`super::parallel`]). Every element of the tile result is the
/// same sequence of roundings wherever its 32×32 block falls, so the split changes nothing
/// else.
///
/// # Safety
/// A, B and C must be valid for the given shapes and strides, C's m×n elements must be
/// distinct (threads write disjoint blocks of them) and overlap neither A nor B, and
/// [`available`] must be true.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn sgemm_bf16x3(
    m: usize,
    n: usize,
    k: usize,
    a: Operand,
    b: Operand,
    c: Destination,
    accumulate: bool,
    threads: usize,
) {
    if m == 0 || n == 0 || k == 0 {
        // Nothing to multiply: the f32 kernel clears (or keeps) C.
        // SAFETY: the caller's promises are the f32 kernel's; AMX implies AVX-512F.
        return unsafe { super::sgemm::sgemm(m, n, k, a, b, c, accumulate, 1) };
    }
    // Tiles store rows of C: a column-major C is computed as Cᵀ = Bᵀ·Aᵀ.
    let (m, n, a, b, c) = if c.col_stride != 1 && c.row_stride == 1 {
        (n, m, b.transposed(), a.transposed(), c.transposed())
    } else {
        (m, n, a, b, c)
    };
    let threads = threads.max(1);
    let exact = AtomicBool::new(true);
    // The blocks of C the shares wrote, as they were before (when accumulating onto C), to
    // start over from when the f32 kernel must redo the product.
    let before: Mutex<Vec<SavedBlock>> = Mutex::new(Vec::new());
    let share: Share = &|m, n, a, b, c| {
        // SAFETY: this block of C is the caller's (or a share of it, which
        // `split_over_threads` hands out only inside C), valid for m×n elements.
        let saved = accumulate.then(|| unsafe { read_block(c, m, n) });
        // A share started after another found a value the tiles cannot take would be
        // redone anyway.
        // SAFETY: the block and its operands are the caller's valid product, or a share of
        // it with the operands shifted to it; `available()` implies AVX-512F/BW.
        if exact.load(Ordering::Relaxed) && !unsafe { tiles(m, n, k, a, b, c, accumulate) } {
            exact.store(false, Ordering::Relaxed);
        }
        if let Some(saved) = saved {
            let mut before = before.lock().unwrap_or_else(|e| e.into_inner());
            before.push((c, m, n, saved));
        }
    };
    if threads == 1 {
        share(m, n, a, b, c);
    } else {
        // Each thread packs all of the operand it does not split: split the larger side.
        // SAFETY: the caller's promises; the shares are disjoint blocks of C, whose elements
        // are distinct, so no two threads write the same element.
        unsafe { split_over_threads((m, n), (a, b, c), threads, n >= m, (32, 32), share) };
    }
    // (`split_over_threads` returns after every share, so the flag is final.)
    if exact.into_inner() {
        return;
    }
    for (block, rows, cols, saved) in before.into_inner().unwrap_or_else(|e| e.into_inner()) {
        for i in 0..rows {
            for j in 0..cols {
                // SAFETY: the block was read from C above, so (i, j) lies inside C.
                unsafe { *block.shifted(i, j).ptr = saved[i * cols + j] };
            }
        }
    }
    // The whole product on the f32 kernel, whose result does not depend on its split either.
    // SAFETY: the caller's promises are the f32 kernel's, and `available()` (AMX) implies
    // AVX-512F.
    unsafe { super::sgemm::sgemm(m, n, k, a, b, c, accumulate, threads) };
}

#[cfg(test)]
mod tests {
    use super::super::matmul::{gemm_into_strided, MatRef};
    use super::*;

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
                        let error =
                            worst_error((m, n, k), sa, sb, sc, accumulate, threads, 1.0, path);
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
}
