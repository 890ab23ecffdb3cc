//! The wgpu implementation of [`crate::backend::NormOps`].
//!
//! The data is seen as `(N, C, S)`. Per-channel sums (the statistics and the affine
//! gradients) are workgroup reductions, one workgroup per channel; the per-element passes
//! (normalise, input gradient) are one thread per element. Operands are read as dense
//! buffers from an offset: a strided view is copied row-major first (per-channel operands are
//! `C` values, so that copy is small; the input is usually contiguous already).

use super::WgpuStorage;
use crate::backend::wgpu::context::Launch;
use crate::backend::wgpu::kernel::{source, to_u32, Meta, ENTRY};
use crate::backend::{norm::BatchNormGrads, BackendResult, NormOps, PrimitiveOps};
use crate::core::{DType, Layout};
use std::sync::Arc;

/// `(n, c, s)`: an `(N, C, *)` input seen as batch × channels × positions.
fn ncs(layout: &Layout) -> (usize, usize, usize) {
    let d = layout.dims();
    (d[0], d[1], d[2..].iter().product())
}

/// What `layout` sees of `s`, in the float type `t`, as a row-major run of a buffer starting
/// at the returned element offset: `s` itself when the view is already such a run, else a
/// converted or compacted copy (widening an operand of another type, as the CPU's views do).
pub(crate) fn dense(
    s: &WgpuStorage,
    layout: &Layout,
    t: DType,
) -> BackendResult<(WgpuStorage, usize)> {
    if s.dtype != t {
        return Ok((s.to_dtype(layout, t)?, 0));
    }
    if layout.is_contiguous() {
        return Ok((s.shallow(), layout.offset));
    }
    Ok((s.contiguous_view(layout)?, 0))
}

/// The grid of one workgroup per channel, within the per-dimension limit.
fn channel_grid(c: usize) -> (u32, u32, u32) {
    let c = to_u32(c);
    const MAX: u32 = 65535;
    if c <= MAX {
        (c, 1, 1)
    } else {
        (MAX, c.div_ceil(MAX), 1)
    }
}

/// The opening of a one-workgroup-per-channel kernel: `ch` is the channel, `live` whether it
/// exists (threads of a surplus group still reach every barrier), and `sum_tile` reduces a
/// workgroup tile in place so that `tile[0]` holds the total.
const CHANNEL_ENTRY: &str = "fn sum_tile(local: u32) {
    for (var w = WORKGROUP / 2u; w > 0u; w = w >> 1u) {
        if (local < w) {
            tile_a[local] = tile_a[local] + tile_a[local + w];
            tile_b[local] = tile_b[local] + tile_b[local + w];
        }
        workgroupBarrier();
    }
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>, @builtin(local_invocation_index) local: u32) {
    let n = params[0];
    let c = params[1];
    let s = params[2];
    let ch = group.y * groups.x + group.x;
    let live = ch < c;
    let count = select(0u, n * s, live);";

/// Per-channel mean and biased variance, two passes over the channel's `n·s` values (the
/// mean first, then the squared deviations from it), as the CPU computes them.
const STATS: &str = "
@group(0) @binding(1) var<storage, read> x: array<T>;
@group(0) @binding(2) var<storage, read_write> mean_out: array<T>;
@group(0) @binding(3) var<storage, read_write> var_out: array<T>;
var<workgroup> tile_a: array<T, 256>;
var<workgroup> tile_b: array<T, 256>;
";

const STATS_BODY: &str = "
    let xo = params[3];
    var acc = T(0.0);
    for (var j = local; j < count; j = j + WORKGROUP) {
        let b = j / s;
        acc = acc + x[xo + (b * c + ch) * s + (j - b * s)];
    }
    tile_a[local] = acc;
    tile_b[local] = T(0.0);
    workgroupBarrier();
    sum_tile(local);
    let mean = tile_a[0] / T(count);
    workgroupBarrier();
    var sq = T(0.0);
    for (var j = local; j < count; j = j + WORKGROUP) {
        let b = j / s;
        let d = x[xo + (b * c + ch) * s + (j - b * s)] - mean;
        sq = sq + d * d;
    }
    tile_a[local] = sq;
    workgroupBarrier();
    sum_tile(local);
    if (live && local == 0u) {
        mean_out[ch] = mean;
        var_out[ch] = tile_a[0] / T(count);
    }
}
";

/// Per-channel `(Σ g, Σ g·x̂)` with `x̂ = (x − mean)·invstd`: the bias and weight gradients.
const GRAD_SUMS: &str = "
@group(0) @binding(1) var<storage, read> g: array<T>;
@group(0) @binding(2) var<storage, read> x: array<T>;
@group(0) @binding(3) var<storage, read> mean: array<T>;
@group(0) @binding(4) var<storage, read> invstd: array<T>;
@group(0) @binding(5) var<storage, read_write> sum_gx: array<T>;
@group(0) @binding(6) var<storage, read_write> sum_g: array<T>;
var<workgroup> tile_a: array<T, 256>;
var<workgroup> tile_b: array<T, 256>;
";

const GRAD_SUMS_BODY: &str = "
    let go = params[3];
    let xo = params[4];
    var m = T(0.0);
    var istd = T(0.0);
    if (live) {
        m = mean[params[5] + ch];
        istd = invstd[params[6] + ch];
    }
    var sg = T(0.0);
    var sgx = T(0.0);
    for (var j = local; j < count; j = j + WORKGROUP) {
        let b = j / s;
        let e = (b * c + ch) * s + (j - b * s);
        let gv = g[go + e];
        sg = sg + gv;
        sgx = sgx + gv * ((x[xo + e] - m) * istd);
    }
    tile_a[local] = sg;
    tile_b[local] = sgx;
    workgroupBarrier();
    sum_tile(local);
    if (live && local == 0u) {
        sum_g[ch] = tile_a[0];
        sum_gx[ch] = tile_b[0];
    }
}
";

/// `invstd = 1/√(var + eps)` per channel.
const INVSTD: &str = "
@group(0) @binding(1) var<storage, read> v: array<T>;
@group(0) @binding(2) var<storage, read_write> invstd: array<T>;
";

/// `y = (x − mean)·(γ·invstd) + β` per element, γ·invstd rounded first as the CPU does.
/// params: count, c, s, x offset, mean offset, γ offset, β offset, has γ, has β.
const AFFINE: &str = "
@group(0) @binding(1) var<storage, read> x: array<T>;
@group(0) @binding(2) var<storage, read> mean: array<T>;
@group(0) @binding(3) var<storage, read> invstd: array<T>;
@group(0) @binding(4) var<storage, read> gamma: array<T>;
@group(0) @binding(5) var<storage, read> beta: array<T>;
@group(0) @binding(6) var<storage, read_write> y: array<T>;
";

const AFFINE_BODY: &str = "
    let ch = (i / params[2]) % params[1];
    var scale = invstd[ch];
    if (params[7] != 0u) {
        scale = gamma[params[5] + ch] * scale;
    }
    var shift = T(0.0);
    if (params[8] != 0u) {
        shift = beta[params[6] + ch];
    }
    y[i] = (x[params[3] + i] - mean[params[4] + ch]) * scale + shift;
}
";

/// The input gradient per element. Training: `dx = k·(M·g − Σg − x̂·Σ(g·x̂))` with
/// `k = γ·invstd/M`; evaluation (fixed statistics): `dx = g·(γ·invstd)`.
/// params: count, c, s, g offset, x offset, mean offset, invstd offset, γ offset, training.
const INPUT_GRAD: &str = "
@group(0) @binding(1) var<storage, read> g: array<T>;
@group(0) @binding(2) var<storage, read> x: array<T>;
@group(0) @binding(3) var<storage, read> mean: array<T>;
@group(0) @binding(4) var<storage, read> invstd: array<T>;
@group(0) @binding(5) var<storage, read> gamma: array<T>;
@group(0) @binding(6) var<storage, read> sum_g: array<T>;
@group(0) @binding(7) var<storage, read> sum_gx: array<T>;
@group(0) @binding(8) var<storage, read_write> dx: array<T>;
";

const INPUT_GRAD_BODY: &str = "
    let c = params[1];
    let s = params[2];
    let ch = (i / s) % c;
    let gv = g[params[3] + i];
    let istd = invstd[params[6] + ch];
    let gm = gamma[params[7] + ch];
    if (params[8] != 0u) {
        let m = T(params[9]);
        let k = gm * istd / m;
        let xh = (x[params[4] + i] - mean[params[5] + ch]) * istd;
        dx[i] = k * (m * gv - sum_g[ch] - xh * sum_gx[ch]);
    } else {
        dx[i] = gv * (gm * istd);
    }
}
";

/// `r ← (1 − momentum)·r + momentum·stat·scale` through `r`'s (possibly strided) view.
/// params: count, momentum, scale, stat offset, then the view of `r`.
const RUNNING: &str = "
@group(0) @binding(1) var<storage, read> stat: array<T>;
@group(0) @binding(2) var<storage, read_write> r: array<T>;
";

const RUNNING_BODY: &str = "
    let o = strided_offset(4u, i);
    let momentum = scalar(1u);
    r[o] = (T(1.0) - momentum) * r[o] + momentum * stat[params[3] + i] * scalar(2u);
}
";

/// Records a one-workgroup-per-channel kernel.
fn launch_channels(
    ctx: &'static crate::backend::wgpu::context::Context,
    key: &str,
    text: &str,
    t: DType,
    buffers: &[&Arc<crate::backend::wgpu::context::GpuBuffer>],
    meta: Meta,
    c: usize,
) {
    let src = || source(t, text);
    ctx.launch_groups(
        Launch {
            key,
            source: &src,
            buffers,
            meta: &meta.0,
            threads: to_u32(c),
        },
        channel_grid(c),
    );
}

impl NormOps for WgpuStorage {
    fn batch_norm_stats(&self, layout: &Layout) -> BackendResult<(Self, Self)> {
        let t = self.compute_dtype("batch_norm");
        let (n, c, s) = ncs(layout);
        let ctx = self.ctx();
        let (x, xo) = dense(self, layout, t)?;
        let mean = WgpuStorage::empty(ctx, c, t)?;
        let var = WgpuStorage::empty(ctx, c, t)?;
        let text = format!("{STATS}{CHANNEL_ENTRY}{STATS_BODY}");
        let meta = Meta::new().u(n).u(c).u(s).u(xo);
        launch_channels(
            ctx,
            &format!("batch_norm_stats_{}", t.name()),
            &text,
            t,
            &[&x.buffer, &mean.buffer, &var.buffer],
            meta,
            c,
        );
        Ok((mean, var))
    }

    fn batch_norm(
        &self,
        layout: &Layout,
        mean: (&Self, &Layout),
        var: (&Self, &Layout),
        weight: Option<(&Self, &Layout)>,
        bias: Option<(&Self, &Layout)>,
        eps: f32,
    ) -> BackendResult<(Self, Self)> {
        let t = self.compute_dtype("batch_norm");
        let (_, c, s) = ncs(layout);
        let ctx = self.ctx();
        let numel = layout.numel();
        let (x, xo) = dense(self, layout, t)?;
        let (m, mo) = dense(mean.0, mean.1, t)?;
        let (v, vo) = dense(var.0, var.1, t)?;
        let invstd = WgpuStorage::empty(ctx, c, t)?;
        let text = format!(
            "{INVSTD}{ENTRY}\n    invstd[i] = T(1.0) / sqrt(v[params[1] + i] + scalar(2u));\n}}\n"
        );
        let src = || source(t, &text);
        let meta = Meta::new().u(c).u(vo).f(eps);
        WgpuStorage::run(
            ctx,
            &format!("batch_norm_invstd_{}", t.name()),
            &src,
            &[&v.buffer, &invstd.buffer],
            meta,
            c,
        );
        // Absent affine parameters: the flag skips them, and `x` stands in for the binding.
        let w = weight.map(|(w, l)| dense(w, l, t)).transpose()?;
        let b = bias.map(|(b, l)| dense(b, l, t)).transpose()?;
        let (wb, wo) = w.as_ref().map_or((&x.buffer, 0), |(w, o)| (&w.buffer, *o));
        let (bb, bo) = b.as_ref().map_or((&x.buffer, 0), |(b, o)| (&b.buffer, *o));
        let y = WgpuStorage::empty(ctx, numel, t)?;
        let text = format!("{AFFINE}{ENTRY}{AFFINE_BODY}");
        let src = || source(t, &text);
        let meta = Meta::new()
            .u(numel)
            .u(c)
            .u(s)
            .u(xo)
            .u(mo)
            .u(wo)
            .u(bo)
            .u(w.is_some() as usize)
            .u(b.is_some() as usize);
        WgpuStorage::run(
            ctx,
            &format!("batch_norm_affine_{}", t.name()),
            &src,
            &[&x.buffer, &m.buffer, &invstd.buffer, wb, bb, &y.buffer],
            meta,
            numel,
        );
        Ok((y, invstd))
    }

    fn batch_norm_backward(
        &self,
        layout: &Layout,
        input: (&Self, &Layout),
        mean: (&Self, &Layout),
        invstd: (&Self, &Layout),
        weight: (&Self, &Layout),
        training: bool,
        need_input: bool,
    ) -> BackendResult<BatchNormGrads<Self>> {
        let t = self.compute_dtype("batch_norm_backward");
        let (n, c, s) = ncs(input.1);
        let ctx = self.ctx();
        let numel = input.1.numel();
        let (g, go) = dense(self, layout, t)?;
        let (x, xo) = dense(input.0, input.1, t)?;
        let (m, mo) = dense(mean.0, mean.1, t)?;
        let (is, io) = dense(invstd.0, invstd.1, t)?;
        let sum_gx = WgpuStorage::empty(ctx, c, t)?;
        let sum_g = WgpuStorage::empty(ctx, c, t)?;
        let text = format!("{GRAD_SUMS}{CHANNEL_ENTRY}{GRAD_SUMS_BODY}");
        let meta = Meta::new().u(n).u(c).u(s).u(go).u(xo).u(mo).u(io);
        launch_channels(
            ctx,
            &format!("batch_norm_grad_sums_{}", t.name()),
            &text,
            t,
            &[
                &g.buffer,
                &x.buffer,
                &m.buffer,
                &is.buffer,
                &sum_gx.buffer,
                &sum_g.buffer,
            ],
            meta,
            c,
        );
        let dx = if need_input {
            let (gm, gmo) = dense(weight.0, weight.1, t)?;
            let dx = WgpuStorage::empty(ctx, numel, t)?;
            let text = format!("{INPUT_GRAD}{ENTRY}{INPUT_GRAD_BODY}");
            let src = || source(t, &text);
            let meta = Meta::new()
                .u(numel)
                .u(c)
                .u(s)
                .u(go)
                .u(xo)
                .u(mo)
                .u(io)
                .u(gmo)
                .u(training as usize)
                .u(n * s);
            WgpuStorage::run(
                ctx,
                &format!("batch_norm_input_grad_{}", t.name()),
                &src,
                &[
                    &g.buffer,
                    &x.buffer,
                    &m.buffer,
                    &is.buffer,
                    &gm.buffer,
                    &sum_g.buffer,
                    &sum_gx.buffer,
                    &dx.buffer,
                ],
                meta,
                numel,
            );
            Some(dx)
        } else {
            None
        };
        Ok((dx, sum_gx, sum_g))
    }

    fn running_stat_update(
        &mut self,
        layout: &Layout,
        stat: (&Self, &Layout),
        momentum: f32,
        scale: f32,
    ) -> BackendResult<()> {
        let t = self.compute_dtype("batch_norm");
        let ctx = self.ctx();
        let count = layout.numel();
        // A statistic in this very buffer is copied out: one buffer cannot be bound both for
        // reading and for writing.
        let (st, so) = if Arc::ptr_eq(&stat.0.buffer, &self.buffer) {
            // (a conversion always writes a new buffer)
            (stat.0.to_dtype(stat.1, t)?, 0)
        } else {
            dense(stat.0, stat.1, t)?
        };
        let text = format!("{RUNNING}{ENTRY}{RUNNING_BODY}");
        let src = || source(t, &text);
        let meta = Meta::new().u(count).f(momentum).f(scale).u(so).view(layout);
        WgpuStorage::run(
            ctx,
            &format!("batch_norm_running_{}", t.name()),
            &src,
            &[&st.buffer, &self.buffer],
            meta,
            count,
        );
        Ok(())
    }
}
