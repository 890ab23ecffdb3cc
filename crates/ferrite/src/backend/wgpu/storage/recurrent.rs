//! The wgpu implementation of [`crate::backend::RecurrentOps`].
//!
//! The input projection `x·W_ihᵀ + b` of every time step arrives precomputed (`xproj`, one
//! product done by the caller), so each direction runs only the recurrence, as on the CPU
//! (`backend/cpu/rnn.rs`), with the same formulas in the same order:
//!
//! - forward, per step: one tiled product `h·W_hhᵀ` for all gates at once, then one fused
//!   cell kernel (one thread per batch entry and hidden unit) that adds the input
//!   projection, applies the gates' nonlinearities, updates the state and records what the
//!   backward pass needs;
//! - backward, per step in reverse: one fused cell-backward kernel (the gate gradients, which
//!   are also the rows of `dxproj`), then a product for the gradient of the previous hidden
//!   state (`d_gates·W_hh`) and one accumulating into `dW_hh` (`d_gatesᵀ·h_prev`).
//!
//! Operands are read where they lie: the weight and the initial states through their
//! strides (transposed views cost nothing), sequences through their offset when contiguous
//! (else they are copied once). Everything is recorded into the context's submission; nothing
//! is read back.
//!
//! The product kernel is this file's own (16×16 tiles in workgroup memory, operands and
//! result addressed through row and column strides), so that it does not depend on the
//! matmul family.

use super::WgpuStorage;
use crate::backend::wgpu::context::{GpuBuffer, Launch};
use crate::backend::wgpu::kernel::{bytes_for, source, Meta, ENTRY};
use crate::backend::{recurrent::LstmBuffers, BackendResult, RecurrentOps};
use crate::core::{CellActivation, DType, Layout, SeqDims};
use std::sync::Arc;

/// A matrix seen through strides: element `(r, c)` sits at `offset + r·rows + c·cols`.
#[derive(Clone, Copy, Debug)]
struct Mat {
    offset: usize,
    rows: usize,
    cols: usize,
}

impl Mat {
    /// The transpose (no data moves).
    fn t(self) -> Mat {
        Mat {
            offset: self.offset,
            rows: self.cols,
            cols: self.rows,
        }
    }
}

/// A buffer and where a matrix lies in it.
type Operand<'a> = (&'a Arc<GpuBuffer>, Mat);

/// A matrix operand `(·, width)` for `layout`: read through its strides when it has rank 2,
/// else row-major (copied first when not contiguous).
fn matrix(s: &WgpuStorage, layout: &Layout, width: usize) -> BackendResult<(WgpuStorage, Mat)> {
    if layout.dims().len() == 2 {
        let m = Mat {
            offset: layout.offset,
            rows: layout.strides[0],
            cols: layout.strides[1],
        };
        return Ok((s.shallow(), m));
    }
    let (flat, offset) = flat(s, layout)?;
    Ok((
        flat,
        Mat {
            offset,
            rows: width,
            cols: 1,
        },
    ))
}

/// A row-major buffer of what `layout` sees, and the element where it starts: the storage
/// itself when the view is contiguous, else a copy.
fn flat(s: &WgpuStorage, layout: &Layout) -> BackendResult<(WgpuStorage, usize)> {
    if layout.is_contiguous() {
        Ok((s.shallow(), layout.offset))
    } else {
        Ok((s.contiguous_view(layout)?, 0))
    }
}

/// The kernel's number for an activation.
fn act_code(act: CellActivation) -> usize {
    match act {
        CellActivation::Tanh => 0,
        CellActivation::Relu => 1,
    }
}

/// A 16×16-tiled product `C = A·B` (or `C += A·B`), every operand through its strides.
///
/// Params: `M, N, K`, then offset, row and column strides of `A`, `B` and `C`, then whether
/// to accumulate. One workgroup per 16×16 block of `C`; each thread one element of it.
const PRODUCT: &str = "@group(0) @binding(1) var<storage, read> lhs: array<T>;
@group(0) @binding(2) var<storage, read> rhs: array<T>;
@group(0) @binding(3) var<storage, read_write> res: array<T>;
var<workgroup> tile_l: array<T, 256>;
var<workgroup> tile_r: array<T, 256>;
@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) group: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
    let m_len = params[0];
    let n_len = params[1];
    let k_len = params[2];
    let row = group.y * 16u + lid.y;
    let col = group.x * 16u + lid.x;
    let slot = lid.y * 16u + lid.x;
    var acc = T(0.0);
    let tiles = (k_len + 15u) / 16u;
    for (var t = 0u; t < tiles; t = t + 1u) {
        // Each thread loads one element of each tile; zeros past the edges.
        let kl = t * 16u + lid.x;
        var lv = T(0.0);
        if (row < m_len && kl < k_len) {
            lv = lhs[params[3] + row * params[4] + kl * params[5]];
        }
        tile_l[slot] = lv;
        let kr = t * 16u + lid.y;
        var rv = T(0.0);
        if (kr < k_len && col < n_len) {
            rv = rhs[params[6] + kr * params[7] + col * params[8]];
        }
        tile_r[slot] = rv;
        workgroupBarrier();
        for (var k = 0u; k < 16u; k = k + 1u) {
            acc = acc + tile_l[lid.y * 16u + k] * tile_r[k * 16u + lid.x];
        }
        workgroupBarrier();
    }
    if (row < m_len && col < n_len) {
        let o = params[9] + row * params[10] + col * params[11];
        if (params[12] != 0u) {
            res[o] = res[o] + acc;
        } else {
            res[o] = acc;
        }
    }
}
";

/// The cell activation and its derivative through the output, by the kernel's number
/// (0 tanh, 1 relu), as `CellActivation` computes them on the CPU.
const ACTIVATION: &str = "fn cell_act(x: T, code: u32) -> T {
    if (code == 1u) {
        return max(x, T(0.0));
    }
    return t_tanh(x);
}
fn cell_act_grad(y: T, code: u32) -> T {
    if (code == 1u) {
        return select(T(0.0), T(1.0), y > T(0.0));
    }
    return T(1.0) - y * y;
}
";

/// One LSTM step, one thread per `(n, j)`: the gates (holding `h·W_hhᵀ`) get the input
/// projection added and are activated in place, then `c' = f·c + i·g`, `h' = o·act(c')`.
///
/// Params: `N·H, H`, xproj base and batch stride, gate base, cell base (`c` of this step),
/// out base and batch stride, activation.
const LSTM_CELL: &str = "@group(0) @binding(1) var<storage, read> xproj: array<T>;
@group(0) @binding(2) var<storage, read_write> gates: array<T>;
@group(0) @binding(3) var<storage, read_write> cells: array<T>;
@group(0) @binding(4) var<storage, read_write> hout: array<T>;
";

const LSTM_CELL_BODY: &str = "
    let h = params[1];
    let n = i / h;
    let j = i % h;
    let x = params[2] + n * params[3] + j;
    let g = params[4] + n * 4u * h + j;
    let code = params[8];
    let ig = t_sigmoid(gates[g] + xproj[x]);
    let fg = t_sigmoid(gates[g + h] + xproj[x + h]);
    let gg = cell_act(gates[g + 2u * h] + xproj[x + 2u * h], code);
    let og = t_sigmoid(gates[g + 3u * h] + xproj[x + 3u * h]);
    gates[g] = ig;
    gates[g + h] = fg;
    gates[g + 2u * h] = gg;
    gates[g + 3u * h] = og;
    let c = params[5] + i;
    let cn = fg * cells[c] + ig * gg;
    cells[c + params[0]] = cn;
    hout[params[6] + n * params[7] + j] = og * cell_act(cn, code);
}
";

/// One LSTM step backward, one thread per `(n, j)`: the gate gradients (rows of `dxproj`)
/// from `dh = g_out + dh_next` and the running `dc`, which it updates to `dc·f`.
///
/// Params: `N·H, H`, output-gradient base and batch stride, gate base, cell base, dxproj
/// base and batch stride, activation, whether this is the last step (no `dh_next` yet).
const LSTM_BACK: &str = "@group(0) @binding(1) var<storage, read> gout: array<T>;
@group(0) @binding(2) var<storage, read> dh_next: array<T>;
@group(0) @binding(3) var<storage, read> gates: array<T>;
@group(0) @binding(4) var<storage, read> cells: array<T>;
@group(0) @binding(5) var<storage, read_write> dc: array<T>;
@group(0) @binding(6) var<storage, read_write> dx: array<T>;
";

const LSTM_BACK_BODY: &str = "
    let h = params[1];
    let n = i / h;
    let j = i % h;
    let code = params[8];
    let g = params[4] + n * 4u * h + j;
    let ig = gates[g];
    let fg = gates[g + h];
    let gg = gates[g + 2u * h];
    let og = gates[g + 3u * h];
    let cp = cells[params[5] + i];
    let cn = cells[params[5] + params[0] + i];
    // The first step of the reverse walk has no later state (its buffer is unset).
    let dhn = select(dh_next[i], T(0.0), params[9] != 0u);
    let dh = gout[params[2] + n * params[3] + j] + dhn;
    let a = cell_act(cn, code);
    let dct = dc[i] + dh * og * cell_act_grad(a, code);
    let x = params[6] + n * params[7] + j;
    dx[x] = dct * gg * ig * (T(1.0) - ig);
    dx[x + h] = dct * cp * fg * (T(1.0) - fg);
    dx[x + 2u * h] = dct * ig * cell_act_grad(gg, code);
    dx[x + 3u * h] = dh * a * og * (T(1.0) - og);
    dc[i] = dct * fg;
}
";

/// One GRU step, one thread per `(n, j)`, on `hg = h·W_hhᵀ`: the gates `r, z, n`, the new
/// state, and the saved `r, z, n, hg_n + b_hn`.
///
/// Params: `N·H, H`, xproj base and batch stride, bias offset and stride, h0 offset and
/// strides, whether this is the first step (previous state from h0), previous state base,
/// out batch stride, out base, saved base.
const GRU_CELL: &str = "@group(0) @binding(1) var<storage, read> xproj: array<T>;
@group(0) @binding(2) var<storage, read> hg: array<T>;
@group(0) @binding(3) var<storage, read> bias: array<T>;
@group(0) @binding(4) var<storage, read> h0: array<T>;
@group(0) @binding(5) var<storage, read_write> saved: array<T>;
@group(0) @binding(6) var<storage, read_write> hout: array<T>;
";

const GRU_CELL_BODY: &str = "
    let h = params[1];
    let n = i / h;
    let j = i % h;
    var hp: T;
    if (params[9] != 0u) {
        hp = h0[params[6] + n * params[7] + j * params[8]];
    } else {
        hp = hout[params[10] + n * params[11] + j];
    }
    let x = params[2] + n * params[3] + j;
    let q = n * 3u * h + j;
    let b = params[4];
    let bs = params[5];
    let hn = hg[q + 2u * h] + bias[b + (2u * h + j) * bs];
    let r = t_sigmoid(xproj[x] + hg[q] + bias[b + j * bs]);
    let z = t_sigmoid(xproj[x + h] + hg[q + h] + bias[b + (h + j) * bs]);
    let nn = t_tanh(xproj[x + 2u * h] + r * hn);
    hout[params[12] + n * params[11] + j] = (T(1.0) - z) * nn + z * hp;
    let sv = params[13] + n * 4u * h + j;
    saved[sv] = r;
    saved[sv + h] = z;
    saved[sv + 2u * h] = nn;
    saved[sv + 3u * h] = hn;
}
";

/// One GRU step backward, one thread per `(n, j)`: the pre-activation gradients (rows of
/// `dxproj`), the gradient of `hg` (for `dh_prev`, `dW_hh`, `db_hh`), and `dh_next = dh·z`
/// (to which the product adds `dhg·W_hh`).
///
/// Params: `N·H, H`, output-gradient base and batch stride, saved base, h0 offset and
/// strides, whether this is the first step, previous state base, out batch stride, whether
/// this is the last step (no `dh_next` yet), dxproj base and batch stride.
const GRU_BACK: &str = "@group(0) @binding(1) var<storage, read> gout: array<T>;
@group(0) @binding(2) var<storage, read> saved: array<T>;
@group(0) @binding(3) var<storage, read> h0: array<T>;
@group(0) @binding(4) var<storage, read> fwd: array<T>;
@group(0) @binding(5) var<storage, read_write> dh_next: array<T>;
@group(0) @binding(6) var<storage, read_write> dx: array<T>;
@group(0) @binding(7) var<storage, read_write> dhg: array<T>;
";

const GRU_BACK_BODY: &str = "
    let h = params[1];
    let n = i / h;
    let j = i % h;
    let sv = params[4] + n * 4u * h + j;
    let r = saved[sv];
    let z = saved[sv + h];
    let nn = saved[sv + 2u * h];
    let hn = saved[sv + 3u * h];
    var hp: T;
    if (params[8] != 0u) {
        hp = h0[params[5] + n * params[6] + j * params[7]];
    } else {
        hp = fwd[params[9] + n * params[10] + j];
    }
    let dhn = select(dh_next[i], T(0.0), params[11] != 0u);
    let dh = gout[params[2] + n * params[3] + j] + dhn;
    let one = T(1.0);
    let dn_pre = dh * (one - z) * (one - nn * nn);
    let dz_pre = dh * (hp - nn) * z * (one - z);
    let dr_pre = dn_pre * hn * r * (one - r);
    let x = params[12] + n * params[13] + j;
    dx[x] = dr_pre;
    dx[x + h] = dz_pre;
    dx[x + 2u * h] = dn_pre;
    let q = n * 3u * h + j;
    dhg[q] = dr_pre;
    dhg[q + h] = dz_pre;
    dhg[q + 2u * h] = dn_pre * r;
    dh_next[i] = dh * z;
}
";

/// `db_hh (+)= Σ_n dhg[n]`, one thread per column, batch entries in order (as the CPU adds).
///
/// Params: `3H, N`, whether to accumulate.
const GRU_BIAS_GRAD: &str = "@group(0) @binding(1) var<storage, read> dhg: array<T>;
@group(0) @binding(2) var<storage, read_write> db: array<T>;
";

const GRU_BIAS_GRAD_BODY: &str = "
    var acc = T(0.0);
    if (params[2] != 0u) {
        acc = db[i];
    }
    for (var n = 0u; n < params[1]; n = n + 1u) {
        acc = acc + dhg[n * params[0] + i];
    }
    db[i] = acc;
}
";

/// One Elman step, one thread per `(n, j)`: `h' = act(h·W_hhᵀ + xproj)`.
///
/// Params: `N·H, H`, xproj base and batch stride, out base and batch stride, activation.
const RNN_CELL: &str = "@group(0) @binding(1) var<storage, read> xproj: array<T>;
@group(0) @binding(2) var<storage, read> pre: array<T>;
@group(0) @binding(3) var<storage, read_write> hout: array<T>;
";

const RNN_CELL_BODY: &str = "
    let h = params[1];
    let n = i / h;
    let j = i % h;
    let v = pre[i] + xproj[params[2] + n * params[3] + j];
    hout[params[4] + n * params[5] + j] = cell_act(v, params[6]);
}
";

/// One Elman step backward, one thread per `(n, j)`: `d pre = (g_out + dh_next)·act'(h')`.
///
/// Params: `N·H, H`, output-gradient base and batch stride, out base and batch stride,
/// dxproj base and batch stride, activation, whether this is the last step.
const RNN_BACK: &str = "@group(0) @binding(1) var<storage, read> gout: array<T>;
@group(0) @binding(2) var<storage, read> dh_next: array<T>;
@group(0) @binding(3) var<storage, read> fwd: array<T>;
@group(0) @binding(4) var<storage, read_write> dx: array<T>;
";

const RNN_BACK_BODY: &str = "
    let h = params[1];
    let n = i / h;
    let j = i % h;
    let dhn = select(dh_next[i], T(0.0), params[9] != 0u);
    let dh = gout[params[2] + n * params[3] + j] + dhn;
    let y = fwd[params[4] + n * params[5] + j];
    dx[params[6] + n * params[7] + j] = dh * cell_act_grad(y, params[8]);
}
";

/// The launches of one recurrent op: its context and float type.
struct Recorder {
    ctx: &'static crate::backend::wgpu::context::Context,
    t: DType,
}

impl Recorder {
    /// A new row-major buffer of `len` elements.
    fn empty(&self, len: usize) -> BackendResult<WgpuStorage> {
        WgpuStorage::empty(self.ctx, len, self.t)
    }

    /// Records a one-thread-per-element kernel `name` (bindings, then `ENTRY`, then body).
    fn cell(
        &self,
        name: &str,
        bindings: &str,
        body: &str,
        buffers: &[&Arc<GpuBuffer>],
        meta: Meta,
        threads: usize,
    ) {
        let key = format!("recurrent_{name}_{}", self.t.name());
        let t = self.t;
        let src = || source(t, &format!("{bindings}{ACTIVATION}{ENTRY}{body}"));
        WgpuStorage::run(self.ctx, &key, &src, buffers, meta, threads);
    }

    /// Records `c = a·b` (`(m × k)·(k × n)`), or `c += a·b` when `accumulate`.
    #[allow(clippy::too_many_arguments)]
    fn product(
        &self,
        a: Operand<'_>,
        b: Operand<'_>,
        c: Operand<'_>,
        m: usize,
        n: usize,
        k: usize,
        accumulate: bool,
    ) {
        let groups = (
            crate::backend::wgpu::kernel::to_u32(n.div_ceil(16)),
            crate::backend::wgpu::kernel::to_u32(m.div_ceil(16)),
            1,
        );
        assert!(
            groups.0 <= 65535 && groups.1 <= 65535,
            "recurrent: a {m}×{n} product is too large for one wgpu grid"
        );
        let meta = Meta::new()
            .u(m)
            .u(n)
            .u(k)
            .u(a.1.offset)
            .u(a.1.rows)
            .u(a.1.cols)
            .u(b.1.offset)
            .u(b.1.rows)
            .u(b.1.cols)
            .u(c.1.offset)
            .u(c.1.rows)
            .u(c.1.cols)
            .u(usize::from(accumulate));
        let key = format!("recurrent_product_{}", self.t.name());
        let t = self.t;
        let src = || source(t, PRODUCT);
        self.ctx.launch_groups(
            Launch {
                key: &key,
                source: &src,
                buffers: &[a.0, b.0, c.0],
                meta: &meta.0,
                threads: 0,
            },
            groups,
        );
    }

    /// Records a copy of `len` elements between buffers, at element offsets.
    fn copy(&self, src: &Arc<GpuBuffer>, from: usize, dst: &Arc<GpuBuffer>, to: usize, len: usize) {
        let e = bytes_for(self.t, 1);
        self.ctx
            .copy(src, from as u64 * e, dst, to as u64 * e, len as u64 * e);
    }
}

/// The hidden state a step starts from, as an `(N × H)` operand: `h0` at step 0, else the
/// rows of the previous time position in the output.
fn h_prev<'a>(
    d: &SeqDims,
    s: usize,
    h0: Operand<'a>,
    out: &'a Arc<GpuBuffer>,
    out_offset: usize,
) -> Operand<'a> {
    if s == 0 {
        h0
    } else {
        let h = d.hidden;
        let m = Mat {
            offset: out_offset + d.row(d.position(s - 1), 0) * h,
            rows: d.batch_row_stride() * h,
            cols: 1,
        };
        (out, m)
    }
}

/// Where the rows of time position `t` start in a sequence buffer of `width`-wide rows at
/// element `offset`, and the elements between consecutive batch entries.
fn rows_at(d: &SeqDims, t: usize, width: usize, offset: usize) -> (usize, usize) {
    (offset + d.row(t, 0) * width, d.batch_row_stride() * width)
}

/// The rows of time position `t` of a `width`-wide sequence buffer as an `(N × width)`
/// matrix.
fn step_rows(d: &SeqDims, t: usize, width: usize, offset: usize) -> Mat {
    let (base, stride) = rows_at(d, t, width, offset);
    Mat {
        offset: base,
        rows: stride,
        cols: 1,
    }
}

impl RecurrentOps for WgpuStorage {
    fn lstm_forward(
        &self,
        layout: &Layout,
        w_hh: (&Self, &Layout),
        h0: (&Self, &Layout),
        c0: (&Self, &Layout),
        d: SeqDims,
        activation: CellActivation,
    ) -> BackendResult<LstmBuffers<Self>> {
        let rec = Recorder {
            ctx: self.ctx(),
            t: self.compute_dtype("lstm"),
        };
        let (h, nb) = (d.hidden, d.batch);
        let (g4, nh) = (4 * h, nb * h);
        let (x, xo) = flat(self, layout)?;
        let (w, wm) = matrix(w_hh.0, w_hh.1, h)?;
        let (hz, hm) = matrix(h0.0, h0.1, h)?;
        let c_init = c0.0.contiguous_view(c0.1)?;
        let out = rec.empty(d.rows() * h + nh)?;
        let gates = rec.empty(d.steps * nb * g4)?;
        let cells = rec.empty((d.steps + 1) * nh)?;
        rec.copy(&c_init.buffer, 0, &cells.buffer, 0, nh);
        for s in 0..d.steps {
            let t = d.position(s);
            let gm = Mat {
                offset: s * nb * g4,
                rows: g4,
                cols: 1,
            };
            rec.product(
                h_prev(&d, s, (&hz.buffer, hm), &out.buffer, 0),
                (&w.buffer, wm.t()),
                (&gates.buffer, gm),
                nb,
                g4,
                h,
                false,
            );
            let (x_base, x_stride) = rows_at(&d, t, g4, xo);
            let (o_base, o_stride) = rows_at(&d, t, h, 0);
            let meta = Meta::new()
                .u(nh)
                .u(h)
                .u(x_base)
                .u(x_stride)
                .u(s * nb * g4)
                .u(s * nh)
                .u(o_base)
                .u(o_stride)
                .u(act_code(activation));
            rec.cell(
                "lstm_cell",
                LSTM_CELL,
                LSTM_CELL_BODY,
                &[&x.buffer, &gates.buffer, &cells.buffer, &out.buffer],
                meta,
                nh,
            );
        }
        rec.copy(&cells.buffer, d.steps * nh, &out.buffer, d.rows() * h, nh);
        Ok(LstmBuffers { out, gates, cells })
    }

    fn lstm_backward(
        &self,
        layout: &Layout,
        w_hh: (&Self, &Layout),
        h0: (&Self, &Layout),
        out: (&Self, &Layout),
        gates: &Self,
        cells: &Self,
        d: SeqDims,
        activation: CellActivation,
    ) -> BackendResult<[Self; 4]> {
        let rec = Recorder {
            ctx: self.ctx(),
            t: self.compute_dtype("lstm_backward"),
        };
        let (h, nb) = (d.hidden, d.batch);
        let (g4, nh) = (4 * h, nb * h);
        let (g, go) = flat(self, layout)?;
        let (w, wm) = matrix(w_hh.0, w_hh.1, h)?;
        let (hz, hm) = matrix(h0.0, h0.1, h)?;
        let (y, yo) = flat(out.0, out.1)?;
        let dx = rec.empty(d.rows() * g4)?;
        let dw = rec.empty(g4 * h)?;
        let dh = rec.empty(nh)?;
        let dc = rec.empty(nh)?;
        // dc starts as the gradient of the final cell state (after the hidden states).
        rec.copy(&g.buffer, go + d.rows() * h, &dc.buffer, 0, nh);
        for s in (0..d.steps).rev() {
            let t = d.position(s);
            let (g_base, g_stride) = rows_at(&d, t, h, go);
            let (x_base, x_stride) = rows_at(&d, t, g4, 0);
            let meta = Meta::new()
                .u(nh)
                .u(h)
                .u(g_base)
                .u(g_stride)
                .u(s * nb * g4)
                .u(s * nh)
                .u(x_base)
                .u(x_stride)
                .u(act_code(activation))
                .u(usize::from(s + 1 == d.steps));
            rec.cell(
                "lstm_back",
                LSTM_BACK,
                LSTM_BACK_BODY,
                &[
                    &g.buffer,
                    &dh.buffer,
                    &gates.buffer,
                    &cells.buffer,
                    &dc.buffer,
                    &dx.buffer,
                ],
                meta,
                nh,
            );
            let dgates = step_rows(&d, t, g4, 0);
            // dh_prev = d_gates·W_hh
            let dh_m = Mat {
                offset: 0,
                rows: h,
                cols: 1,
            };
            rec.product(
                (&dx.buffer, dgates),
                (&w.buffer, wm),
                (&dh.buffer, dh_m),
                nb,
                h,
                g4,
                false,
            );
            // dW_hh += d_gatesᵀ·h_prev
            let dw_m = Mat {
                offset: 0,
                rows: h,
                cols: 1,
            };
            rec.product(
                (&dx.buffer, dgates.t()),
                h_prev(&d, s, (&hz.buffer, hm), &y.buffer, yo),
                (&dw.buffer, dw_m),
                g4,
                h,
                nb,
                s + 1 != d.steps,
            );
        }
        if d.steps == 0 {
            // No step wrote them: the gradients of an empty sequence are zero.
            return Ok([dx, zeros(&rec, g4 * h)?, zeros(&rec, nh)?, dc]);
        }
        Ok([dx, dw, dh, dc])
    }

    fn gru_forward(
        &self,
        layout: &Layout,
        w_hh: (&Self, &Layout),
        b_hh: (&Self, &Layout),
        h0: (&Self, &Layout),
        d: SeqDims,
    ) -> BackendResult<(Self, Self)> {
        let rec = Recorder {
            ctx: self.ctx(),
            t: self.compute_dtype("gru"),
        };
        let (h, nb) = (d.hidden, d.batch);
        let (g3, nh) = (3 * h, nb * h);
        let (x, xo) = flat(self, layout)?;
        let (w, wm) = matrix(w_hh.0, w_hh.1, h)?;
        let (hz, hm) = matrix(h0.0, h0.1, h)?;
        let (b, bo, bs) = match b_hh.1.dims().len() {
            1 => (b_hh.0.shallow(), b_hh.1.offset, b_hh.1.strides[0]),
            _ => {
                let (f, o) = flat(b_hh.0, b_hh.1)?;
                (f, o, 1)
            }
        };
        let out = rec.empty(d.rows() * h)?;
        let saved = rec.empty(d.steps * nb * 4 * h)?;
        let hg = rec.empty(nb * g3)?;
        for s in 0..d.steps {
            let t = d.position(s);
            let hg_m = Mat {
                offset: 0,
                rows: g3,
                cols: 1,
            };
            rec.product(
                h_prev(&d, s, (&hz.buffer, hm), &out.buffer, 0),
                (&w.buffer, wm.t()),
                (&hg.buffer, hg_m),
                nb,
                g3,
                h,
                false,
            );
            let (x_base, x_stride) = rows_at(&d, t, g3, xo);
            let (o_base, o_stride) = rows_at(&d, t, h, 0);
            let prev = if s == 0 {
                0
            } else {
                rows_at(&d, d.position(s - 1), h, 0).0
            };
            let meta = Meta::new()
                .u(nh)
                .u(h)
                .u(x_base)
                .u(x_stride)
                .u(bo)
                .u(bs)
                .u(hm.offset)
                .u(hm.rows)
                .u(hm.cols)
                .u(usize::from(s == 0))
                .u(prev)
                .u(o_stride)
                .u(o_base)
                .u(s * nb * 4 * h);
            rec.cell(
                "gru_cell",
                GRU_CELL,
                GRU_CELL_BODY,
                &[
                    &x.buffer,
                    &hg.buffer,
                    &b.buffer,
                    &hz.buffer,
                    &saved.buffer,
                    &out.buffer,
                ],
                meta,
                nh,
            );
        }
        Ok((out, saved))
    }

    fn gru_backward(
        &self,
        layout: &Layout,
        w_hh: (&Self, &Layout),
        h0: (&Self, &Layout),
        out: (&Self, &Layout),
        gates: &Self,
        d: SeqDims,
    ) -> BackendResult<[Self; 4]> {
        let rec = Recorder {
            ctx: self.ctx(),
            t: self.compute_dtype("gru_backward"),
        };
        let (h, nb) = (d.hidden, d.batch);
        let (g3, nh) = (3 * h, nb * h);
        let (g, go) = flat(self, layout)?;
        let (w, wm) = matrix(w_hh.0, w_hh.1, h)?;
        let (hz, hm) = matrix(h0.0, h0.1, h)?;
        let (y, yo) = flat(out.0, out.1)?;
        let dx = rec.empty(d.rows() * g3)?;
        let dw = rec.empty(g3 * h)?;
        let db = rec.empty(g3)?;
        let dh = rec.empty(nh)?;
        let dhg = rec.empty(nb * g3)?;
        for s in (0..d.steps).rev() {
            let t = d.position(s);
            let last = s + 1 == d.steps;
            let (g_base, g_stride) = rows_at(&d, t, h, go);
            let (x_base, x_stride) = rows_at(&d, t, g3, 0);
            let (prev, o_stride) = if s == 0 {
                (yo, d.batch_row_stride() * h)
            } else {
                rows_at(&d, d.position(s - 1), h, yo)
            };
            let meta = Meta::new()
                .u(nh)
                .u(h)
                .u(g_base)
                .u(g_stride)
                .u(s * nb * 4 * h)
                .u(hm.offset)
                .u(hm.rows)
                .u(hm.cols)
                .u(usize::from(s == 0))
                .u(prev)
                .u(o_stride)
                .u(usize::from(last))
                .u(x_base)
                .u(x_stride);
            rec.cell(
                "gru_back",
                GRU_BACK,
                GRU_BACK_BODY,
                &[
                    &g.buffer,
                    &gates.buffer,
                    &hz.buffer,
                    &y.buffer,
                    &dh.buffer,
                    &dx.buffer,
                    &dhg.buffer,
                ],
                meta,
                nh,
            );
            rec.cell(
                "gru_bias_grad",
                GRU_BIAS_GRAD,
                GRU_BIAS_GRAD_BODY,
                &[&dhg.buffer, &db.buffer],
                Meta::new().u(g3).u(nb).u(usize::from(!last)),
                g3,
            );
            let dhg_m = Mat {
                offset: 0,
                rows: g3,
                cols: 1,
            };
            // dh_prev = dh·z + dhg·W_hh
            let dh_m = Mat {
                offset: 0,
                rows: h,
                cols: 1,
            };
            rec.product(
                (&dhg.buffer, dhg_m),
                (&w.buffer, wm),
                (&dh.buffer, dh_m),
                nb,
                h,
                g3,
                true,
            );
            // dW_hh += dhgᵀ·h_prev
            let dw_m = Mat {
                offset: 0,
                rows: h,
                cols: 1,
            };
            rec.product(
                (&dhg.buffer, dhg_m.t()),
                h_prev(&d, s, (&hz.buffer, hm), &y.buffer, yo),
                (&dw.buffer, dw_m),
                g3,
                h,
                nb,
                !last,
            );
        }
        if d.steps == 0 {
            return Ok([dx, zeros(&rec, g3 * h)?, zeros(&rec, g3)?, zeros(&rec, nh)?]);
        }
        Ok([dx, dw, db, dh])
    }

    fn rnn_forward(
        &self,
        layout: &Layout,
        w_hh: (&Self, &Layout),
        h0: (&Self, &Layout),
        d: SeqDims,
        activation: CellActivation,
    ) -> BackendResult<Self> {
        let rec = Recorder {
            ctx: self.ctx(),
            t: self.compute_dtype("rnn"),
        };
        let (h, nb) = (d.hidden, d.batch);
        let nh = nb * h;
        let (x, xo) = flat(self, layout)?;
        let (w, wm) = matrix(w_hh.0, w_hh.1, h)?;
        let (hz, hm) = matrix(h0.0, h0.1, h)?;
        let out = rec.empty(d.rows() * h)?;
        let pre = rec.empty(nh)?;
        for s in 0..d.steps {
            let t = d.position(s);
            let pre_m = Mat {
                offset: 0,
                rows: h,
                cols: 1,
            };
            rec.product(
                h_prev(&d, s, (&hz.buffer, hm), &out.buffer, 0),
                (&w.buffer, wm.t()),
                (&pre.buffer, pre_m),
                nb,
                h,
                h,
                false,
            );
            let (x_base, x_stride) = rows_at(&d, t, h, xo);
            let (o_base, o_stride) = rows_at(&d, t, h, 0);
            let meta = Meta::new()
                .u(nh)
                .u(h)
                .u(x_base)
                .u(x_stride)
                .u(o_base)
                .u(o_stride)
                .u(act_code(activation));
            rec.cell(
                "rnn_cell",
                RNN_CELL,
                RNN_CELL_BODY,
                &[&x.buffer, &pre.buffer, &out.buffer],
                meta,
                nh,
            );
        }
        Ok(out)
    }

    fn rnn_backward(
        &self,
        layout: &Layout,
        w_hh: (&Self, &Layout),
        h0: (&Self, &Layout),
        out: (&Self, &Layout),
        d: SeqDims,
        activation: CellActivation,
    ) -> BackendResult<[Self; 3]> {
        let rec = Recorder {
            ctx: self.ctx(),
            t: self.compute_dtype("rnn_backward"),
        };
        let (h, nb) = (d.hidden, d.batch);
        let nh = nb * h;
        let (g, go) = flat(self, layout)?;
        let (w, wm) = matrix(w_hh.0, w_hh.1, h)?;
        let (hz, hm) = matrix(h0.0, h0.1, h)?;
        let (y, yo) = flat(out.0, out.1)?;
        let dx = rec.empty(d.rows() * h)?;
        let dw = rec.empty(h * h)?;
        let dh = rec.empty(nh)?;
        for s in (0..d.steps).rev() {
            let t = d.position(s);
            let last = s + 1 == d.steps;
            let (g_base, g_stride) = rows_at(&d, t, h, go);
            let (y_base, y_stride) = rows_at(&d, t, h, yo);
            let (x_base, x_stride) = rows_at(&d, t, h, 0);
            let meta = Meta::new()
                .u(nh)
                .u(h)
                .u(g_base)
                .u(g_stride)
                .u(y_base)
                .u(y_stride)
                .u(x_base)
                .u(x_stride)
                .u(act_code(activation))
                .u(usize::from(last));
            rec.cell(
                "rnn_back",
                RNN_BACK,
                RNN_BACK_BODY,
                &[&g.buffer, &dh.buffer, &y.buffer, &dx.buffer],
                meta,
                nh,
            );
            let dpre = step_rows(&d, t, h, 0);
            let dh_m = Mat {
                offset: 0,
                rows: h,
                cols: 1,
            };
            rec.product(
                (&dx.buffer, dpre),
                (&w.buffer, wm),
                (&dh.buffer, dh_m),
                nb,
                h,
                h,
                false,
            );
            let dw_m = Mat {
                offset: 0,
                rows: h,
                cols: 1,
            };
            rec.product(
                (&dx.buffer, dpre.t()),
                h_prev(&d, s, (&hz.buffer, hm), &y.buffer, yo),
                (&dw.buffer, dw_m),
                h,
                h,
                nb,
                !last,
            );
        }
        if d.steps == 0 {
            return Ok([dx, zeros(&rec, h * h)?, zeros(&rec, nh)?]);
        }
        Ok([dx, dw, dh])
    }
}

/// A new buffer of `len` zeros (for gradients no step wrote).
fn zeros(rec: &Recorder, len: usize) -> BackendResult<WgpuStorage> {
    let z = rec.empty(len)?;
    rec.cell(
        "zeros",
        "@group(0) @binding(1) var<storage, read_write> dst: array<T>;\n",
        "\n    dst[i] = T(0.0);\n}\n",
        &[&z.buffer],
        Meta::new().u(len),
        len,
    );
    Ok(z)
}
