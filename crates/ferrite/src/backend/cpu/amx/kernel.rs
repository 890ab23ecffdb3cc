//! The tile kernel: the tile configuration, the 32×32 block of six bf16 products per chunk
//! of depth, and the loops over panels and blocks that pack the operands and call it.

use super::super::sgemm::{Destination, Operand};
use super::pack::{lines, pack_a, pack_b, PACKED};
use super::{CHUNK, KC, MC, NC};
use std::arch::asm;

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

/// `C (32×32, rows `ldc` bytes apart) = [C +] Σ over `chunks` packed chunks`, the six bf16
/// products of each chunk in four 16×16 accumulator tiles (tmm0–3), with A's two row
/// tiles in tmm4–5 and B's two column tiles in tmm6–7.
///
/// # Safety
/// The tile configuration of [`TileConfig::all_full`] must be loaded; `a` and `b` hold
/// `chunks ≥ 1` packed chunks, 64-byte aligned; C is valid for 32 rows of 32 f32; this
/// process was granted the tile state ([`available`](super::available)).
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
/// As [`sgemm_bf16x3`](super::sgemm_bf16x3), with k ≥ 1.
#[target_feature(enable = "avx512f,avx512bw")]
pub(super) unsafe fn tiles(
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
