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
//!
//! Files, by idea: [`split`] (an f32 into its three bf16 parts), [`pack`] (operand panels in
//! the tile layout), [`kernel`] (the tile configuration, the 32×32 kernel and its blocking
//! loops); this file decides whether and where a product runs, and falls back to the f32
//! kernel when the tiles cannot give f32's result.

mod kernel;
mod pack;
mod split;
#[cfg(test)]
mod tests;

use super::isa::{isa, Isa};
use super::sgemm::{split_over_threads, Destination, Operand, Share};
use kernel::tiles;
#[cfg(target_os = "linux")]
use std::arch::asm;
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
