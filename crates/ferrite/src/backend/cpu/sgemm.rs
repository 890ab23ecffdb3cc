//! Single-precision matrix product for AVX-512 processors, BLIS-style: operands are packed
//! into cache-sized panels, then a micro-kernel computes MR×NR tiles of C with all 24
//! accumulators in registers. Packing reads any row and column strides (transposed blocks
//! are turned in registers, 16×16 at a time), so a transposed view costs no extra pass; this
//! is what makes `x·Wᵀ` of a linear layer as fast as a plain product. Threads split C into
//! column (or row) ranges on the backend's spinning pool, which hands work over in under a
//! microsecond: the mid-sized products of a training step gain from two cores.

pub(crate) use super::avx512::available;
use super::avx512::{lanes, transpose16};
use std::arch::x86_64::*;
use std::cell::RefCell;

/// Depth of one packed panel: an MR×KC panel of A stays in L1 while B streams from L2.
const KC: usize = 256;
/// Rows of A packed at once (MC×KC stays in L2); a multiple of every tile height.
const MC: usize = 144;
/// Columns of B packed at once (KC×NC stays in L2); a multiple of every tile width.
const NC: usize = 1536;
/// How many k steps ahead the kernel prefetches B.
const PF: usize = 8;
/// The micro-tile shapes (MR rows, NV vectors of 16 columns), best first. Each keeps 24
/// accumulators in registers; the shorter ones waste less of a tile when C has few rows
/// (the output channels of a small convolution).
const SHAPES: [(usize, usize); 3] = [(12, 2), (8, 3), (6, 4)];
/// Elements of every micro-tile (MR·16·NV).
const TILE: usize = 384;
/// Work (m·n·k) below which one thread does the whole product.
const PARALLEL_WORK: usize = 64 * 64 * 64;

/// A strided matrix operand by raw pointer.
#[derive(Clone, Copy)]
pub(crate) struct Operand {
    /// Element (0, 0).
    pub(crate) ptr: *const f32,
    /// Step between rows, in elements.
    pub(crate) row_stride: isize,
    /// Step between columns, in elements.
    pub(crate) col_stride: isize,
}

/// The destination: `C (m×n)` at `ptr` with the given strides.
#[derive(Clone, Copy)]
pub(crate) struct Destination {
    /// Element (0, 0).
    pub(crate) ptr: *mut f32,
    /// Step between rows, in elements.
    pub(crate) row_stride: usize,
    /// Step between columns, in elements.
    pub(crate) col_stride: usize,
}

impl Destination {
    /// The same destination starting at element (row, col).
    ///
    /// # Safety
    /// Element (row, col) must lie inside the allocation C points into.
    pub(super) unsafe fn shifted(self, row: usize, col: usize) -> Self {
        Destination {
            // SAFETY: the caller promises the element is inside C's allocation.
            ptr: unsafe { self.ptr.add(row * self.row_stride + col * self.col_stride) },
            ..self
        }
    }

    /// The transpose, as a view.
    pub(super) fn transposed(self) -> Self {
        Destination {
            ptr: self.ptr,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
        }
    }
}

// SAFETY: the pointer is only dereferenced inside `sgemm` and `amx::sgemm_bf16x3`, whose
// callers guarantee it is valid and that C's elements are distinct, and each thread writes
// a disjoint block of C's rows or columns.
unsafe impl Send for Destination {}
// SAFETY: as for Send: threads share a Destination only to write disjoint blocks of it.
unsafe impl Sync for Destination {}

impl Operand {
    /// The transpose, as a view.
    pub(super) fn transposed(self) -> Self {
        Operand {
            ptr: self.ptr,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
        }
    }

    /// The same operand starting at element (row, col).
    ///
    /// # Safety
    /// Element (row, col) must lie inside the allocation the operand points into.
    pub(super) unsafe fn shifted(self, row: usize, col: usize) -> Self {
        let offset = row as isize * self.row_stride + col as isize * self.col_stride;
        Operand {
            // SAFETY: the caller promises the element is inside the operand's allocation.
            ptr: unsafe { self.ptr.offset(offset) },
            ..self
        }
    }
}

// SAFETY: operands are only read, while the caller of `sgemm` keeps them alive.
unsafe impl Send for Operand {}
// SAFETY: as for Send: shared reads only.
unsafe impl Sync for Operand {}

thread_local! {
    static PACKED: RefCell<(AlignedBuf, AlignedBuf)> = const { RefCell::new((AlignedBuf::new(), AlignedBuf::new())) };
}

/// A reusable 64-byte-aligned f32 buffer.
struct AlignedBuf {
    storage: Vec<f32>,
}

impl AlignedBuf {
    const fn new() -> Self {
        AlignedBuf {
            storage: Vec::new(),
        }
    }
    fn get(&mut self, len: usize) -> *mut f32 {
        if self.storage.len() < len + 16 {
            self.storage = vec![0.0; len + 16];
        }
        let p = self.storage.as_mut_ptr();
        let skip = p.align_offset(64);
        // SAFETY: skip < 16, the buffer has 16 spare elements.
        unsafe { p.add(skip) }
    }
}

/// `C = [C +] A (m×k) · B (k×n)` on the calling thread.
///
/// # Safety
/// A, B and C must be valid for the given shapes and strides, C's elements distinct and
/// overlapping neither A nor B; `available()` must be true.
unsafe fn sgemm_serial(
    m: usize,
    n: usize,
    k: usize,
    a: Operand,
    b: Operand,
    c: Destination,
    accumulate: bool,
) {
    // The kernel stores rows of C as vectors: a column-major C is computed as Cᵀ = Bᵀ·Aᵀ.
    // So is a tall, narrow C, which would waste most of each tile's width.
    let transpose = if c.col_stride == 1 {
        n < 32 && m > 2 * n
    } else {
        c.row_stride == 1
    };
    let (m, n, a, b, c) = if transpose {
        (n, m, b.transposed(), a.transposed(), c.transposed())
    } else {
        (m, n, a, b, c)
    };
    // The tile shape that issues the fewest multiply-adds, counting padding.
    let cost = |(mr, nv): (usize, usize)| m.div_ceil(mr) * n.div_ceil(16 * nv);
    let best = SHAPES
        .into_iter()
        .min_by_key(|&s| cost(s))
        .unwrap_or(SHAPES[0]);
    // SAFETY: the caller's promises, which the transpose keeps (it swaps the roles of rows
    // and columns of all three matrices alike); `available()` implies AVX-512F.
    unsafe {
        match best {
            (8, 3) => product::<8, 3>(m, n, k, a, b, c, accumulate),
            (6, 4) => product::<6, 4>(m, n, k, a, b, c, accumulate),
            _ => product::<12, 2>(m, n, k, a, b, c, accumulate),
        }
    }
}

/// The blocked loops over (NC, KC, MC) blocks and MR×(16·NV) tiles.
///
/// # Safety
/// As [`sgemm_serial`], with k ≥ 1.
#[target_feature(enable = "avx512f")]
unsafe fn product<const MR: usize, const NV: usize>(
    m: usize,
    n: usize,
    k: usize,
    a: Operand,
    b: Operand,
    c: Destination,
    accumulate: bool,
) {
    let nr_full = 16 * NV;
    // B is read in place when it is row-major and each of its panels would serve few tiles.
    let pack_b_needed = !(b.col_stride == 1 && m <= 2 * MR);
    // SAFETY: the packing buffers hold MC·KC and KC·NC values, and every block and tile
    // offset below stays inside them (ir < mc ≤ MC, jr < nc ≤ NC) and inside A, B and C
    // (ic + ir < m, jc + jr < n, pc < k), which the caller promises are valid; this function
    // runs only with AVX-512F enabled, as the kernels it calls need.
    PACKED.with(|bufs| unsafe {
        let (abuf, bbuf) = &mut *bufs.borrow_mut();
        let pa = abuf.get(MC * KC);
        let pb = bbuf.get(KC * NC);
        for jc in (0..n).step_by(NC) {
            let nc = NC.min(n - jc);
            for pc in (0..k).step_by(KC) {
                let kc = KC.min(k - pc);
                if pack_b_needed {
                    pack_b::<NV>(kc, nc, b, pc, jc, pb);
                }
                let add = accumulate || pc > 0;
                for ic in (0..m).step_by(MC) {
                    let mc = MC.min(m - ic);
                    pack_a::<MR>(mc, kc, a, ic, pc, pa);
                    for ir in (0..mc).step_by(MR) {
                        let mr = MR.min(mc - ir);
                        for jr in (0..nc).step_by(nr_full) {
                            let nr = nr_full.min(nc - jr);
                            let (bp, b_step) = if pack_b_needed {
                                (pb.add(jr * kc) as *const f32, nr_full)
                            } else {
                                (b.shifted(pc, jc + jr).ptr, b.row_stride as usize)
                            };
                            let tile = Tile {
                                c: c.shifted(ic + ir, jc + jr),
                                rows: mr,
                                cols: nr,
                            };
                            kernel::<MR, NV>(kc, pa.add(ir * kc), bp, b_step, tile, add);
                        }
                    }
                }
            }
        }
    })
}

/// Where one micro-tile of C lies, and how much of it is real.
struct Tile {
    c: Destination,
    rows: usize,
    cols: usize,
}

/// Packs rows `r0..r0+mc`, columns `p0..p0+kc` of A into MR-row panels, k-major within a
/// panel (`dst[p·MR + i]`), zero-padding the last panel.
///
/// # Safety
/// The block must lie inside A, and `dst` must hold `⌈mc/MR⌉·MR·kc` values.
#[target_feature(enable = "avx512f")]
unsafe fn pack_a<const MR: usize>(
    mc: usize,
    kc: usize,
    a: Operand,
    r0: usize,
    p0: usize,
    dst: *mut f32,
) {
    // SAFETY: reads stay inside the block of A (masked loads touch only the `mr` or `kw`
    // real lanes), writes inside `dst`'s panels, as the caller promises.
    unsafe {
        let base = a.shifted(r0, p0);
        for ir in (0..mc).step_by(MR) {
            let mr = MR.min(mc - ir);
            let panel = dst.add(ir * kc);
            let src = base.shifted(ir, 0);
            if a.row_stride == 1 {
                // Column-major A: the panel's rows are contiguous for each p.
                let mask = lanes(mr);
                for p in 0..kc {
                    let v = _mm512_maskz_loadu_ps(mask, src.ptr.offset(p as isize * a.col_stride));
                    _mm512_mask_storeu_ps(panel.add(p * MR), lanes(MR), v);
                }
            } else if a.col_stride == 1 {
                // Row-major A: transpose 16-wide blocks of k in registers.
                for p in (0..kc).step_by(16) {
                    let kw = 16.min(kc - p);
                    let mut r = [_mm512_setzero_ps(); 16];
                    for (i, row) in r.iter_mut().enumerate().take(mr) {
                        *row = _mm512_maskz_loadu_ps(
                            lanes(kw),
                            src.ptr.offset(i as isize * a.row_stride + p as isize),
                        );
                    }
                    transpose16(&mut r);
                    for (q, col) in r.iter().enumerate().take(kw) {
                        _mm512_mask_storeu_ps(panel.add((p + q) * MR), lanes(MR), *col);
                    }
                }
            } else {
                for p in 0..kc {
                    for i in 0..MR {
                        *panel.add(p * MR + i) = if i < mr { *src.shifted(i, p).ptr } else { 0.0 };
                    }
                }
            }
        }
    }
}

/// Packs rows `p0..p0+kc`, columns `c0..c0+nc` of B into NR-column panels, k-major within a
/// panel (`dst[p·NR + j]`), zero-padding the last panel.
///
/// # Safety
/// The block must lie inside B, and `dst` must hold `⌈nc/NR⌉·NR·kc` values, 64-byte aligned.
#[target_feature(enable = "avx512f")]
unsafe fn pack_b<const NV: usize>(
    kc: usize,
    nc: usize,
    b: Operand,
    p0: usize,
    c0: usize,
    dst: *mut f32,
) {
    let nr_full = 16 * NV;
    // SAFETY: reads stay inside the block of B (masked loads touch only the `nr` or `kw`
    // real lanes), aligned writes inside `dst`'s panels (each panel row is NR = 16·NV
    // values, so every vector store is 64-byte aligned), as the caller promises.
    unsafe {
        let base = b.shifted(p0, c0);
        for jr in (0..nc).step_by(nr_full) {
            let nr = nr_full.min(nc - jr);
            let panel = dst.add(jr * kc);
            let src = base.shifted(0, jr);
            if b.col_stride == 1 {
                for p in 0..kc {
                    let s = src.ptr.offset(p as isize * b.row_stride);
                    let d = panel.add(p * nr_full);
                    for v in 0..NV {
                        let mask = lanes(nr.saturating_sub(16 * v));
                        _mm512_store_ps(d.add(16 * v), _mm512_maskz_loadu_ps(mask, s.add(16 * v)));
                    }
                }
            } else if b.row_stride == 1 {
                // Column-major B: transpose 16×16 blocks in registers.
                for half in 0..NV {
                    let cols = nr.saturating_sub(half * 16).min(16);
                    for p in (0..kc).step_by(16) {
                        let kw = 16.min(kc - p);
                        let mut r = [_mm512_setzero_ps(); 16];
                        for (j, row) in r.iter_mut().enumerate().take(cols) {
                            *row = _mm512_maskz_loadu_ps(
                                lanes(kw),
                                src.ptr
                                    .offset((half * 16 + j) as isize * b.col_stride + p as isize),
                            );
                        }
                        transpose16(&mut r);
                        for (q, row) in r.iter().enumerate().take(kw) {
                            _mm512_store_ps(panel.add((p + q) * nr_full + half * 16), *row);
                        }
                    }
                }
            } else {
                for p in 0..kc {
                    for j in 0..nr_full {
                        *panel.add(p * nr_full + j) =
                            if j < nr { *src.shifted(p, j).ptr } else { 0.0 };
                    }
                }
            }
        }
    }
}

/// One MR×NR tile: `C = [C +] Apanel · B` over depth kc, B read `b_step` apart per k.
///
/// # Safety
/// `a` must hold kc·MR packed values; `b` kc rows of `tile.cols` values `b_step` apart; the
/// tile's `rows × cols` elements of C must be valid and distinct.
// Indexed loops over several register arrays at once read more plainly than zips here.
#[allow(clippy::needless_range_loop)]
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn kernel<const MR: usize, const NV: usize>(
    kc: usize,
    a: *const f32,
    b: *const f32,
    b_step: usize,
    tile: Tile,
    add: bool,
) {
    let mut masks = [0 as __mmask16; NV];
    for (v, m) in masks.iter_mut().enumerate() {
        *m = lanes(tile.cols.saturating_sub(16 * v));
    }
    // SAFETY: loads and stores of B and C are masked to the tile's real columns and loops
    // run over its real rows, so they touch only what the caller promises is valid; A is
    // read for exactly kc·MR values; prefetches never fault.
    unsafe {
        if tile.c.col_stride == 1 {
            for i in 0..tile.rows {
                let p = tile.c.ptr.add(i * tile.c.row_stride);
                for v in 0..NV {
                    _mm_prefetch::<_MM_HINT_T0>(p.add(16 * v) as *const i8);
                }
            }
        }
        let mut acc = [[_mm512_setzero_ps(); NV]; MR];
        let mut a = a;
        let mut b = b;
        for _ in 0..kc {
            let mut bv = [_mm512_setzero_ps(); NV];
            for v in 0..NV {
                // wrapping: the prefetch may point past the panel, which is never dereferenced.
                _mm_prefetch::<_MM_HINT_T0>(b.wrapping_add(PF * b_step + 16 * v) as *const i8);
                bv[v] = _mm512_maskz_loadu_ps(masks[v], b.add(16 * v));
            }
            for (i, row) in acc.iter_mut().enumerate() {
                let ai = _mm512_set1_ps(*a.add(i));
                for v in 0..NV {
                    row[v] = _mm512_fmadd_ps(ai, bv[v], row[v]);
                }
            }
            a = a.add(MR);
            b = b.add(b_step);
        }
        if tile.c.col_stride == 1 {
            for (i, row) in acc.iter().enumerate().take(tile.rows) {
                let p = tile.c.ptr.add(i * tile.c.row_stride);
                for v in 0..NV {
                    let mut x = row[v];
                    if add {
                        x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(masks[v], p.add(16 * v)));
                    }
                    _mm512_mask_storeu_ps(p.add(16 * v), masks[v], x);
                }
            }
        } else {
            let mut spill = [0.0f32; TILE];
            let nr_full = 16 * NV;
            for (i, row) in acc.iter().enumerate() {
                for v in 0..NV {
                    _mm512_storeu_ps(spill.as_mut_ptr().add(i * nr_full + 16 * v), row[v]);
                }
            }
            for i in 0..tile.rows {
                for j in 0..tile.cols {
                    let p = tile
                        .c
                        .ptr
                        .add(i * tile.c.row_stride + j * tile.c.col_stride);
                    let v = spill[i * nr_full + j];
                    *p = if add { *p + v } else { v };
                }
            }
        }
    }
}

/// `C = [C +] A (m×k) · B (k×n)`, split by columns (or rows) of C over `threads` threads
/// of the backend pool when the product is large enough to gain from it.
///
/// # Safety
/// A, B and C must be valid for the given shapes and strides, C's m×n elements must be
/// distinct (threads write disjoint blocks of them) and overlap neither A nor B, and
/// `available()` must be true.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn sgemm(
    m: usize,
    n: usize,
    k: usize,
    a: Operand,
    b: Operand,
    c: Destination,
    accumulate: bool,
    threads: usize,
) {
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            for i in 0..m {
                for j in 0..n {
                    // SAFETY: (i, j) is inside C, which the caller promises is valid.
                    unsafe { *c.shifted(i, j).ptr = 0.0 };
                }
            }
        }
        return;
    }
    let threads = threads.max(1);
    if threads == 1 || m * n * k < PARALLEL_WORK {
        // SAFETY: the caller's promises are sgemm_serial's.
        return unsafe { sgemm_serial(m, n, k, a, b, c, accumulate) };
    }
    // Ranges are multiples of every tile width (or height).
    let by_columns = n >= threads * 64;
    let share: Share = &|m, n, a, b, c| {
        // SAFETY: `split_over_threads` calls this only with blocks of the caller's valid
        // product, the operands shifted to them.
        unsafe { sgemm_serial(m, n, k, a, b, c, accumulate) }
    };
    // SAFETY: the caller's promises; the shares are disjoint blocks of C, whose elements
    // are distinct, so no two threads write the same element.
    unsafe { split_over_threads((m, n), (a, b, c), threads, by_columns, (64, 24), share) };
}

/// One thread's share of a product: `serial(m, n, A, B, C)` on a block of C's columns or
/// rows, with the operands shifted to it.
pub(super) type Share<'a> = &'a (dyn Fn(usize, usize, Operand, Operand, Destination) + Sync);

/// Splits C (m×n) over `threads` threads of the pool, by columns in ranges that are
/// multiples of `steps.0` when `by_columns`, else by rows in multiples of `steps.1`, and runs
/// `serial` on each share.
///
/// # Safety
/// A, B and C must be valid for the given shapes and strides, and C's elements distinct,
/// so that the shares (disjoint blocks of C) never write the same element.
pub(super) unsafe fn split_over_threads(
    (m, n): (usize, usize),
    (a, b, c): (Operand, Operand, Destination),
    threads: usize,
    by_columns: bool,
    steps: (usize, usize),
    serial: Share,
) {
    if by_columns {
        super::parallel::run_ranges(n, steps.0, threads, &|j| {
            // SAFETY: j lies within C's columns.
            let (b, c) = unsafe { (b.shifted(0, j.start), c.shifted(0, j.start)) };
            serial(m, j.len(), a, b, c);
        });
    } else {
        super::parallel::run_ranges(m, steps.1, threads, &|i| {
            // SAFETY: i lies within C's rows.
            let (a, c) = unsafe { (a.shifted(i.start, 0), c.shifted(i.start, 0)) };
            serial(i.len(), n, a, b, c);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::super::isa::{isa, Isa};
    use super::super::matmul::{gemm_into_strided, MatRef};
    use super::*;

    /// A deterministic pseudo-random matrix with entries in [-0.5, 0.5).
    fn values(len: usize, seed: u64) -> Vec<f32> {
        let mut s = seed;
        (0..len)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (s >> 40) as f32 / (1u64 << 24) as f32 - 0.5
            })
            .collect()
    }

    /// Checks one product against an f64 triple loop, for every operand and destination
    /// layout, with and without accumulation, serial and split across threads.
    fn check(m: usize, n: usize, k: usize) {
        let a = values(m * k, 1);
        let b = values(k * n, 2);
        let c0 = values(m * n, 3);
        for (a_rows, b_rows, c_rows) in [
            (true, true, true),
            (true, false, true),
            (false, true, true),
            (false, false, false),
            (true, true, false),
        ] {
            let sa = if a_rows { (k, 1) } else { (1, m) };
            let sb = if b_rows { (n, 1) } else { (1, k) };
            let sc = if c_rows { (n, 1) } else { (1, m) };
            for accumulate in [false, true] {
                for threads in [1, 2] {
                    let mut c = c0.clone();
                    product(
                        (m, n, k),
                        (&a, sa),
                        (&b, sb),
                        (&mut c, sc),
                        accumulate,
                        threads,
                    );
                    for i in 0..m {
                        for j in 0..n {
                            let mut want: f64 = (0..k)
                                .map(|p| {
                                    a[i * sa.0 + p * sa.1] as f64 * b[p * sb.0 + j * sb.1] as f64
                                })
                                .sum();
                            if accumulate {
                                want += c0[i * sc.0 + j * sc.1] as f64;
                            }
                            let got = c[i * sc.0 + j * sc.1] as f64;
                            assert!(
                                (got - want).abs() <= 1e-5 * (k as f64).sqrt().max(1.0),
                                "{m}x{n}x{k} layouts {a_rows}/{b_rows}/{c_rows} acc {accumulate} \
                                 threads {threads}: C[{i},{j}] = {got}, want {want}"
                            );
                        }
                    }
                }
            }
        }
    }

    /// `C = [C +] A·B` on the AVX-512 kernel where [`isa`] allows it, else on the portable
    /// path that `matmul` then takes (the `gemm` crate), so that both are held to the same
    /// reference.
    fn product(
        (m, n, k): (usize, usize, usize),
        (a, sa): (&[f32], (usize, usize)),
        (b, sb): (&[f32], (usize, usize)),
        (c, sc): (&mut [f32], (usize, usize)),
        accumulate: bool,
        threads: usize,
    ) {
        if available() {
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
            // SAFETY: every buffer holds exactly its matrix, C's layouts have distinct
            // elements, and `available()` says the processor has AVX-512F.
            unsafe { sgemm(m, n, k, op(a, sa), op(b, sb), dst, accumulate, threads) };
        } else {
            assert!(
                isa() < Isa::Avx512,
                "the kernel is off, so isa() must say so"
            );
            let mat = |data, s: (usize, usize)| MatRef {
                data,
                offset: 0,
                row_stride: s.0,
                col_stride: s.1,
            };
            let (lhs, rhs) = (mat(a, sa), mat(b, sb));
            gemm_into_strided(c, sc, accumulate, m, n, k, lhs, rhs, threads > 1);
        }
    }

    #[test]
    fn products_match_a_triple_loop_for_every_shape_and_layout() {
        // Edges of every tile shape, k across panel depths, narrow and tall outputs.
        for &(m, n, k) in &[
            (1, 1, 1),
            (6, 25, 100),
            (7, 33, 17),
            (12, 32, 256),
            (13, 49, 257),
            (16, 100, 150),
            (37, 45, 19),
            (128, 10, 70),
            (10, 130, 3),
            (70, 70, 600),
            (3, 200, 0),
        ] {
            check(m, n, k);
        }
    }
}
