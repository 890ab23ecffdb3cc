//! The wgpu implementation of [`crate::backend::LossOps`].
//!
//! Each fused loss is one kernel that writes the unreduced losses and, when asked, the
//! gradients (one thread per element, or per position for the class losses, which walk their
//! lane of classes as the CPU does). The total is a workgroup reduction of the losses into one
//! partial sum per workgroup; the partials come back to the host, which adds them in f64 (the
//! trait returns the total as a host value, so one read-back per loss is inherent). The checks
//! on the data (`first_outside_unit_interval`, `class_target_weight`) are workgroup reductions
//! too: the first offending position, and the weight sum, per workgroup.
//!
//! Operands are read as dense runs of buffers in the input's float type ([`dense`]): a strided
//! or broadcast view, or an operand of another type, is copied first. Absent optional operands
//! are skipped by a flag in the parameters, with another bound buffer standing in for them.

use super::norm::dense;
use super::WgpuStorage;
use crate::backend::wgpu::context::{Context, Launch};
use crate::backend::wgpu::kernel::{bytes_for, source, to_u32, Meta, ENTRY};
use crate::backend::{
    BackendResult, ClassDims, ClassIndexOptions, LossOps, LossOutput, LossRequest,
};
use crate::core::{DType, Layout};

/// Values one workgroup of a reduction folds: 256 threads, 16 values each.
const CHUNK: usize = 4096;

/// The grid of `groups` workgroups, within the per-dimension limit (surplus groups of the
/// second dimension find no values and write nothing).
fn grid(groups: usize) -> (u32, u32, u32) {
    let g = to_u32(groups);
    const MAX: u32 = 65535;
    if g <= MAX {
        (g, 1, 1)
    } else {
        (MAX, g.div_ceil(MAX), 1)
    }
}

/// The opening of a chunked reduction: group `g` folds values `start..end`; `n`, the chunk
/// size and the number of groups are `params[0..3]`.
const REDUCE_ENTRY: &str = "@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>, @builtin(local_invocation_index) local: u32) {
    let n = params[0];
    let g = group.y * groups.x + group.x;
    let live = g < params[2];
    let start = select(n, g * params[1], live);
    let end = min(start + params[1], n);";

/// The sum of a buffer's first `n` values, one partial per workgroup.
const SUM: &str = "
@group(0) @binding(1) var<storage, read> src: array<T>;
@group(0) @binding(2) var<storage, read_write> partial: array<T>;
var<workgroup> tile: array<T, 256>;
";

const SUM_BODY: &str = "
    var acc = T(0.0);
    for (var k = start + local; k < end; k = k + WORKGROUP) {
        acc = acc + src[k];
    }
    tile[local] = acc;
    workgroupBarrier();
    for (var w = WORKGROUP / 2u; w > 0u; w = w >> 1u) {
        if (local < w) {
            tile[local] = tile[local] + tile[local + w];
        }
        workgroupBarrier();
    }
    if (live && local == 0u) {
        partial[g] = tile[0];
    }
}
";

/// The first position whose value lies outside [0, 1] (NaN included) per workgroup, or
/// `0xffffffff`. params[3]: the offset of the values.
const FIRST_OUTSIDE: &str = "
@group(0) @binding(1) var<storage, read> x: array<T>;
@group(0) @binding(2) var<storage, read_write> partial: array<u32>;
var<workgroup> tile: array<u32, 256>;
";

const FIRST_OUTSIDE_BODY: &str = "
    var found = 0xffffffffu;
    for (var k = start + local; k < end; k = k + WORKGROUP) {
        let v = x[params[3] + k];
        // A thread meets its positions in increasing order: its first hit is its least.
        // (Ordered comparisons are false for NaN; `is_nan` adds the f32 bit test, as some
        // compilers fold the comparisons of a NaN.)
        if (is_nan(v) || !(v >= T(0.0) && v <= T(1.0))) {
            found = k;
            break;
        }
    }
    tile[local] = found;
    workgroupBarrier();
    for (var w = WORKGROUP / 2u; w > 0u; w = w >> 1u) {
        if (local < w) {
            tile[local] = min(tile[local], tile[local + w]);
        }
        workgroupBarrier();
    }
    if (live && local == 0u) {
        partial[g] = tile[0];
    }
}
";

/// Class-index targets checked (whole numbers in `0..classes`, or `ignore_index`), and the
/// weights of the counted ones summed, per workgroup: the first bad position (or
/// `0xffffffff`) and the weight sum. params: …, target offset, weight offset, has weight,
/// classes, ignore_index.
const TARGET_WEIGHT: &str = "
@group(0) @binding(1) var<storage, read> tgt: array<T>;
@group(0) @binding(2) var<storage, read> weight: array<T>;
@group(0) @binding(3) var<storage, read_write> partial_sum: array<T>;
@group(0) @binding(4) var<storage, read_write> partial_bad: array<u32>;
var<workgroup> tile_s: array<T, 256>;
var<workgroup> tile_b: array<u32, 256>;
";

const TARGET_WEIGHT_BODY: &str = "
    let classes = T(params[6]);
    let ignore = scalar(7u);
    var acc = T(0.0);
    var bad = 0xffffffffu;
    for (var k = start + local; k < end; k = k + WORKGROUP) {
        let v = tgt[params[3] + k];
        if (v == ignore) {
            continue;
        }
        if (is_nan(v) || !(v >= T(0.0)) || v != floor(v) || !(v < classes)) {
            bad = k;
            break;
        }
        if (params[5] != 0u) {
            acc = acc + weight[params[4] + u32(v)];
        } else {
            acc = acc + T(1.0);
        }
    }
    tile_s[local] = acc;
    tile_b[local] = bad;
    workgroupBarrier();
    for (var w = WORKGROUP / 2u; w > 0u; w = w >> 1u) {
        if (local < w) {
            tile_s[local] = tile_s[local] + tile_s[local + w];
            tile_b[local] = min(tile_b[local], tile_b[local + w]);
        }
        workgroupBarrier();
    }
    if (live && local == 0u) {
        partial_sum[g] = tile_s[0];
        partial_bad[g] = tile_b[0];
    }
}
";

/// BCE on probabilities, per element. params: n, x offset, y offset, w offset, has w,
/// want ∂x, want ∂y, scale.
const BCE: &str = "
@group(0) @binding(1) var<storage, read> x: array<T>;
@group(0) @binding(2) var<storage, read> y: array<T>;
@group(0) @binding(3) var<storage, read> weight: array<T>;
@group(0) @binding(4) var<storage, read_write> losses: array<T>;
@group(0) @binding(5) var<storage, read_write> gx: array<T>;
@group(0) @binding(6) var<storage, read_write> gy: array<T>;

// max(ln v, -100), with the -100 for v <= 0 (and NaN) as Rust's `ln().max(-100)` gives.
fn clamped_log(v: T) -> T {
    if (!(v > T(0.0))) {
        return T(-100.0);
    }
    return max(t_log(v), T(-100.0));
}

// max(ln(1 - v), -100), the same way.
fn clamped_log1m(v: T) -> T {
    if (!(v < T(1.0))) {
        return T(-100.0);
    }
    return max(t_log1p(-v), T(-100.0));
}
";

const BCE_BODY: &str = "
    let xi = x[params[1] + i];
    let yi = y[params[2] + i];
    var wi = T(1.0);
    if (params[4] != 0u) {
        wi = weight[params[3] + i];
    }
    let log_x = clamped_log(xi);
    let log_1mx = clamped_log1m(xi);
    losses[i] = -wi * (yi * log_x + (T(1.0) - yi) * log_1mx);
    let scale = scalar(7u);
    if (params[5] != 0u) {
        gx[i] = scale * wi * (xi - yi) / max((T(1.0) - xi) * xi, T(1e-12));
    }
    if (params[6] != 0u) {
        gy[i] = scale * wi * (log_1mx - log_x);
    }
}
";

/// BCE on logits, per element, stable for any logit. params: n, x offset, y offset,
/// w offset, pos-weight offset, has w, has pos weight, want ∂x, want ∂y, scale.
const BCE_LOGITS: &str = "
@group(0) @binding(1) var<storage, read> x: array<T>;
@group(0) @binding(2) var<storage, read> y: array<T>;
@group(0) @binding(3) var<storage, read> weight: array<T>;
@group(0) @binding(4) var<storage, read> pos_weight: array<T>;
@group(0) @binding(5) var<storage, read_write> losses: array<T>;
@group(0) @binding(6) var<storage, read_write> gx: array<T>;
@group(0) @binding(7) var<storage, read_write> gy: array<T>;
";

const BCE_LOGITS_BODY: &str = "
    let xi = x[params[1] + i];
    let yi = y[params[2] + i];
    var wi = T(1.0);
    if (params[5] != 0u) {
        wi = weight[params[3] + i];
    }
    var pw = T(1.0);
    if (params[6] != 0u) {
        pw = pos_weight[params[4] + i];
    }
    let e = t_exp(-abs(xi));
    let log_sig = min(xi, T(0.0)) - t_log1p(e);
    let lw = T(1.0) + (pw - T(1.0)) * yi;
    losses[i] = wi * ((T(1.0) - yi) * xi - lw * log_sig);
    let scale = scalar(9u);
    if (params[7] != 0u) {
        // σ(−x) from e = e^−|x| without overflow.
        var sig_neg = T(1.0) / (T(1.0) + e);
        if (xi >= T(0.0)) {
            sig_neg = e / (T(1.0) + e);
        }
        gx[i] = scale * wi * ((T(1.0) - yi) - lw * sig_neg);
    }
    if (params[8] != 0u) {
        gy[i] = scale * wi * (-xi - (pw - T(1.0)) * log_sig);
    }
}
";

/// The log-sum-exp of one lane of classes, shared by the class losses: `lane_max` (0 when
/// the max is not finite, as the CPU takes it) and `lane_sum` = Σ e^(x_c − max).
const LANE: &str = "
fn lane_max(lane0: u32, classes: u32, inner: u32) -> T {
    var m = -infinity();
    for (var c = 0u; c < classes; c = c + 1u) {
        m = max(m, x[lane0 + c * inner]);
    }
    if (!is_finite(m)) {
        return T(0.0);
    }
    return m;
}

fn lane_sum(lane0: u32, classes: u32, inner: u32, m: T) -> T {
    var sum = T(0.0);
    for (var c = 0u; c < classes; c = c + 1u) {
        sum = sum + t_exp(x[lane0 + c * inner] - m);
    }
    return sum;
}
";

/// Cross-entropy or NLL against class indices, one thread per position. params: positions,
/// classes, inner, x offset, target offset, weight offset, has weight, logits, want ∂x,
/// ignore_index, smoothing, scale.
const CLASS_INDEX: &str = "
@group(0) @binding(1) var<storage, read> x: array<T>;
@group(0) @binding(2) var<storage, read> tgt: array<T>;
@group(0) @binding(3) var<storage, read> weight: array<T>;
@group(0) @binding(4) var<storage, read_write> losses: array<T>;
@group(0) @binding(5) var<storage, read_write> grad: array<T>;

fn class_weight(c: u32) -> T {
    if (params[6] != 0u) {
        return weight[params[5] + c];
    }
    return T(1.0);
}
";

const CLASS_INDEX_BODY: &str = "
    let classes = params[1];
    let inner = params[2];
    let o = i / inner;
    let base = o * classes * inner + (i - o * inner);
    let lane0 = params[3] + base;
    let want_grad = params[8] != 0u;
    let tv = tgt[params[4] + i];
    if (tv == scalar(9u)) {
        losses[i] = T(0.0);
        if (want_grad) {
            for (var c = 0u; c < classes; c = c + 1u) {
                grad[base + c * inner] = T(0.0);
            }
        }
        return;
    }
    // Validated by class_target_weight: a class in range.
    let y = u32(tv);
    let wy = class_weight(y);
    let logits = params[7] != 0u;
    let n_classes = T(classes);
    let eps = scalar(10u);
    let smooth_share = eps / n_classes;
    var m = T(0.0);
    var lse = T(0.0);
    var inv_sum = T(0.0);
    if (logits) {
        m = lane_max(lane0, classes, inner);
        let sum = lane_sum(lane0, classes, inner, m);
        lse = m + t_log(sum);
        inv_sum = T(1.0) / sum;
    }
    var loss = -(wy * (x[lane0 + y * inner] - lse)) * (T(1.0) - eps);
    if (eps > T(0.0)) {
        var smooth_sum = T(0.0);
        for (var c = 0u; c < classes; c = c + 1u) {
            smooth_sum = smooth_sum - class_weight(c) * (x[lane0 + c * inner] - lse);
        }
        loss = loss + smooth_share * smooth_sum;
    }
    losses[i] = loss;
    if (want_grad) {
        let scale = scalar(11u);
        var w_total = n_classes;
        if (params[6] != 0u) {
            w_total = T(0.0);
            for (var c = 0u; c < classes; c = c + 1u) {
                w_total = w_total + class_weight(c);
            }
        }
        let hit = (T(1.0) - eps) * wy;
        for (var c = 0u; c < classes; c = c + 1u) {
            let onehot = select(T(0.0), hit, c == y);
            if (logits) {
                let sm = t_exp(x[lane0 + c * inner] - m) * inv_sum;
                grad[base + c * inner] = scale * (hit * sm - onehot + smooth_share * (w_total * sm - class_weight(c)));
            } else {
                grad[base + c * inner] = scale * (-onehot - smooth_share * class_weight(c));
            }
        }
    }
}
";

/// Cross-entropy of logits against class probabilities, one thread per position. params:
/// positions, classes, inner, x offset, target offset, weight offset, has weight, want ∂x,
/// want ∂t, smoothing, scale.
const CLASS_PROBABILITY: &str = "
@group(0) @binding(1) var<storage, read> x: array<T>;
@group(0) @binding(2) var<storage, read> tgt: array<T>;
@group(0) @binding(3) var<storage, read> weight: array<T>;
@group(0) @binding(4) var<storage, read_write> losses: array<T>;
@group(0) @binding(5) var<storage, read_write> gx: array<T>;
@group(0) @binding(6) var<storage, read_write> gt: array<T>;

fn class_weight(c: u32) -> T {
    if (params[6] != 0u) {
        return weight[params[5] + c];
    }
    return T(1.0);
}
";

const CLASS_PROBABILITY_BODY: &str = "
    let classes = params[1];
    let inner = params[2];
    let o = i / inner;
    let base = o * classes * inner + (i - o * inner);
    let lane0 = params[3] + base;
    let tfirst = params[4] + base;
    let eps = scalar(9u);
    let smooth_share = eps / T(classes);
    let m = lane_max(lane0, classes, inner);
    let sum = lane_sum(lane0, classes, inner, m);
    let lse = m + t_log(sum);
    let inv_sum = T(1.0) / sum;
    var loss = T(0.0);
    var mass = T(0.0);
    for (var c = 0u; c < classes; c = c + 1u) {
        let wt = class_weight(c) * (tgt[tfirst + c * inner] * (T(1.0) - eps) + smooth_share);
        loss = loss - wt * (x[lane0 + c * inner] - lse);
        mass = mass + wt;
    }
    losses[i] = loss;
    let scale = scalar(10u);
    if (params[7] != 0u) {
        for (var c = 0u; c < classes; c = c + 1u) {
            let wt = class_weight(c) * (tgt[tfirst + c * inner] * (T(1.0) - eps) + smooth_share);
            let e = t_exp(x[lane0 + c * inner] - m);
            gx[base + c * inner] = scale * (e * inv_sum * mass - wt);
        }
    }
    if (params[8] != 0u) {
        for (var c = 0u; c < classes; c = c + 1u) {
            gt[base + c * inner] = -scale * (T(1.0) - eps) * class_weight(c) * (x[lane0 + c * inner] - lse);
        }
    }
}
";

/// Records a chunked reduction over `n` values (`meta` continues after the three common
/// words) and returns the number of partials it writes.
fn launch_reduction(
    ctx: &'static Context,
    key: &str,
    text: &str,
    t: DType,
    buffers: &[&std::sync::Arc<crate::backend::wgpu::context::GpuBuffer>],
    n: usize,
    extra: Meta,
) -> usize {
    let groups = n.div_ceil(CHUNK);
    let mut meta = Meta::new().u(n).u(CHUNK).u(groups);
    meta.0.extend(extra.0);
    let src = || source(t, text);
    ctx.launch_groups(
        Launch {
            key,
            source: &src,
            buffers,
            meta: &meta.0,
            threads: to_u32(n),
        },
        grid(groups),
    );
    groups
}

/// The host values of the first `n` elements of a float buffer, widened to f64.
fn read_floats(s: &WgpuStorage, n: usize) -> BackendResult<Vec<f64>> {
    let bytes = s.ctx().read(&s.buffer, bytes_for(s.dtype, n))?;
    Ok(match s.dtype {
        DType::F64 => bytemuck::pod_collect_to_vec::<u8, f64>(&bytes),
        _ => bytemuck::pod_collect_to_vec::<u8, f32>(&bytes)
            .into_iter()
            .map(f64::from)
            .collect(),
    })
}

/// The first of a reduction's per-group positions that found something, if any.
fn first_position(partial: &WgpuStorage, groups: usize) -> BackendResult<Option<usize>> {
    let bytes = partial.ctx().read(&partial.buffer, 4 * groups as u64)?;
    let words: Vec<u32> = bytemuck::pod_collect_to_vec(&bytes);
    Ok(words
        .into_iter()
        .filter(|&w| w != u32::MAX)
        .min()
        .map(|w| w as usize))
}

/// Element `k` of the dense float buffer `s`, as f32 (read back on its own).
fn element_f32(s: &WgpuStorage, k: usize) -> BackendResult<f32> {
    let ctx = s.ctx();
    let one = WgpuStorage::empty(ctx, 1, s.dtype)?;
    ctx.copy(
        &s.buffer,
        bytes_for(s.dtype, k),
        &one.buffer,
        0,
        bytes_for(s.dtype, 1),
    );
    Ok(read_floats(&one, 1)?[0] as f32)
}

/// The sum of the first `n` values of `values` (a float buffer): per-workgroup partials on
/// the device, added in f64 on the host.
fn total(values: &WgpuStorage, n: usize) -> BackendResult<f64> {
    if n == 0 {
        return Ok(0.0);
    }
    let t = values.dtype;
    let ctx = values.ctx();
    let partial = WgpuStorage::empty(ctx, n.div_ceil(CHUNK), t)?;
    let text = format!("{SUM}{REDUCE_ENTRY}{SUM_BODY}");
    let groups = launch_reduction(
        ctx,
        &format!("loss_sum_{}", t.name()),
        &text,
        t,
        &[&values.buffer, &partial.buffer],
        n,
        Meta::new(),
    );
    Ok(read_floats(&partial, groups)?.into_iter().sum())
}

/// The buffers a fused loss writes: the losses (always, since the total is summed from them)
/// and each gradient asked for, or a one-element stand-in for the binding.
struct Outputs {
    losses: WgpuStorage,
    grad_input: WgpuStorage,
    grad_target: WgpuStorage,
}

impl Outputs {
    fn new(
        ctx: &'static Context,
        t: DType,
        request: &LossRequest,
        n_losses: usize,
        n_input: usize,
        n_target: usize,
    ) -> BackendResult<Self> {
        let sized = |want: bool, n: usize| WgpuStorage::empty(ctx, if want { n } else { 1 }, t);
        Ok(Outputs {
            losses: WgpuStorage::empty(ctx, n_losses, t)?,
            grad_input: sized(request.grad_input, n_input)?,
            grad_target: sized(request.grad_target, n_target)?,
        })
    }

    /// The output: the total of the first `n_losses` losses, and the buffers asked for.
    fn finish(
        self,
        request: &LossRequest,
        n_losses: usize,
    ) -> BackendResult<LossOutput<WgpuStorage>> {
        let total = total(&self.losses, n_losses)?;
        Ok(LossOutput {
            total,
            losses: request.losses.then_some(self.losses),
            grad_input: request.grad_input.then_some(self.grad_input),
            grad_target: request.grad_target.then_some(self.grad_target),
        })
    }
}

impl LossOps for WgpuStorage {
    fn first_outside_unit_interval(&self, layout: &Layout) -> BackendResult<Option<f32>> {
        let t = self.compute_dtype("binary_cross_entropy");
        let n = layout.numel();
        if n == 0 {
            return Ok(None);
        }
        let ctx = self.ctx();
        let (x, xo) = dense(self, layout, t)?;
        let partial = WgpuStorage::empty(ctx, n.div_ceil(CHUNK), DType::F32)?;
        let text = format!("{FIRST_OUTSIDE}{REDUCE_ENTRY}{FIRST_OUTSIDE_BODY}");
        let groups = launch_reduction(
            ctx,
            &format!("first_outside_unit_{}", t.name()),
            &text,
            t,
            &[&x.buffer, &partial.buffer],
            n,
            Meta::new().u(xo),
        );
        first_position(&partial, groups)?
            .map(|k| element_f32(&x, xo + k))
            .transpose()
    }

    fn binary_cross_entropy(
        &self,
        layout: &Layout,
        target: (&Self, &Layout),
        weight: Option<(&Self, &Layout)>,
        request: LossRequest,
    ) -> BackendResult<LossOutput<Self>> {
        let t = self.compute_dtype("binary_cross_entropy");
        let ctx = self.ctx();
        let n = layout.numel();
        let (x, xo) = dense(self, layout, t)?;
        let (y, yo) = dense(target.0, target.1, t)?;
        let w = weight.map(|(w, l)| dense(w, l, t)).transpose()?;
        let (wb, wo) = w.as_ref().map_or((&x.buffer, 0), |(w, o)| (&w.buffer, *o));
        let out = Outputs::new(ctx, t, &request, n, n, target.1.numel())?;
        let text = format!("{BCE}{ENTRY}{BCE_BODY}");
        let src = || source(t, &text);
        let meta = Meta::new()
            .u(n)
            .u(xo)
            .u(yo)
            .u(wo)
            .u(w.is_some() as usize)
            .u(request.grad_input as usize)
            .u(request.grad_target as usize)
            .f(request.scale);
        WgpuStorage::run(
            ctx,
            &format!("bce_{}", t.name()),
            &src,
            &[
                &x.buffer,
                &y.buffer,
                wb,
                &out.losses.buffer,
                &out.grad_input.buffer,
                &out.grad_target.buffer,
            ],
            meta,
            n,
        );
        out.finish(&request, n)
    }

    fn binary_cross_entropy_with_logits(
        &self,
        layout: &Layout,
        target: (&Self, &Layout),
        weight: Option<(&Self, &Layout)>,
        pos_weight: Option<(&Self, &Layout)>,
        request: LossRequest,
    ) -> BackendResult<LossOutput<Self>> {
        let t = self.compute_dtype("binary_cross_entropy_with_logits");
        let ctx = self.ctx();
        let n = layout.numel();
        let (x, xo) = dense(self, layout, t)?;
        let (y, yo) = dense(target.0, target.1, t)?;
        let w = weight.map(|(w, l)| dense(w, l, t)).transpose()?;
        let pw = pos_weight.map(|(p, l)| dense(p, l, t)).transpose()?;
        let (wb, wo) = w.as_ref().map_or((&x.buffer, 0), |(w, o)| (&w.buffer, *o));
        let (pb, po) = pw.as_ref().map_or((&x.buffer, 0), |(p, o)| (&p.buffer, *o));
        let out = Outputs::new(ctx, t, &request, n, n, target.1.numel())?;
        let text = format!("{BCE_LOGITS}{ENTRY}{BCE_LOGITS_BODY}");
        let src = || source(t, &text);
        let meta = Meta::new()
            .u(n)
            .u(xo)
            .u(yo)
            .u(wo)
            .u(po)
            .u(w.is_some() as usize)
            .u(pw.is_some() as usize)
            .u(request.grad_input as usize)
            .u(request.grad_target as usize)
            .f(request.scale);
        WgpuStorage::run(
            ctx,
            &format!("bce_logits_{}", t.name()),
            &src,
            &[
                &x.buffer,
                &y.buffer,
                wb,
                pb,
                &out.losses.buffer,
                &out.grad_input.buffer,
                &out.grad_target.buffer,
            ],
            meta,
            n,
        );
        out.finish(&request, n)
    }

    fn class_target_weight(
        &self,
        layout: &Layout,
        classes: usize,
        ignore_index: f32,
        weight: Option<(&Self, &Layout)>,
    ) -> BackendResult<Result<f64, f32>> {
        // `self` is the target: f32 targets are checked in f32, others (f64, or i64 indices)
        // in f64, which holds every index exactly, as on the CPU.
        let ctx = self.ctx();
        let t = if self.dtype == DType::F32 || !ctx.has_f64() {
            DType::F32
        } else {
            DType::F64
        };
        let n = layout.numel();
        if n == 0 {
            return Ok(Ok(0.0));
        }
        let (tg, to) = dense(self, layout, t)?;
        let w = weight.map(|(w, l)| dense(w, l, t)).transpose()?;
        let (wb, wo) = w.as_ref().map_or((&tg.buffer, 0), |(w, o)| (&w.buffer, *o));
        let groups = n.div_ceil(CHUNK);
        let sums = WgpuStorage::empty(ctx, groups, t)?;
        let bad = WgpuStorage::empty(ctx, groups, DType::F32)?;
        let text = format!("{TARGET_WEIGHT}{REDUCE_ENTRY}{TARGET_WEIGHT_BODY}");
        let extra = Meta::new()
            .u(to)
            .u(wo)
            .u(w.is_some() as usize)
            .u(classes)
            .f(ignore_index);
        launch_reduction(
            ctx,
            &format!("class_target_weight_{}", t.name()),
            &text,
            t,
            &[&tg.buffer, wb, &sums.buffer, &bad.buffer],
            n,
            extra,
        );
        if let Some(k) = first_position(&bad, groups)? {
            return Ok(Err(element_f32(&tg, to + k)?));
        }
        Ok(Ok(read_floats(&sums, groups)?.into_iter().sum()))
    }

    fn class_index_loss(
        &self,
        layout: &Layout,
        dims: ClassDims,
        target: (&Self, &Layout),
        weight: Option<(&Self, &Layout)>,
        options: ClassIndexOptions,
        request: LossRequest,
    ) -> BackendResult<LossOutput<Self>> {
        let t = self.compute_dtype("cross_entropy");
        let ctx = self.ctx();
        // Class-index targets have no gradient.
        let request = LossRequest {
            grad_target: false,
            ..request
        };
        let positions = dims.positions();
        let (x, xo) = dense(self, layout, t)?;
        let (tg, to) = dense(target.0, target.1, t)?;
        let w = weight.map(|(w, l)| dense(w, l, t)).transpose()?;
        let (wb, wo) = w.as_ref().map_or((&x.buffer, 0), |(w, o)| (&w.buffer, *o));
        let out = Outputs::new(ctx, t, &request, positions, layout.numel(), 0)?;
        let text = format!("{CLASS_INDEX}{LANE}{ENTRY}{CLASS_INDEX_BODY}");
        let src = || source(t, &text);
        let meta = Meta::new()
            .u(positions)
            .u(dims.classes)
            .u(dims.inner)
            .u(xo)
            .u(to)
            .u(wo)
            .u(w.is_some() as usize)
            .u(options.logits as usize)
            .u(request.grad_input as usize)
            .f(options.ignore_index)
            .f(options.smoothing)
            .f(request.scale);
        WgpuStorage::run(
            ctx,
            &format!("class_index_loss_{}", t.name()),
            &src,
            &[
                &x.buffer,
                &tg.buffer,
                wb,
                &out.losses.buffer,
                &out.grad_input.buffer,
            ],
            meta,
            positions,
        );
        out.finish(&request, positions)
    }

    fn class_probability_loss(
        &self,
        layout: &Layout,
        dims: ClassDims,
        target: (&Self, &Layout),
        weight: Option<(&Self, &Layout)>,
        smoothing: f32,
        request: LossRequest,
    ) -> BackendResult<LossOutput<Self>> {
        let t = self.compute_dtype("cross_entropy");
        let ctx = self.ctx();
        let positions = dims.positions();
        let (x, xo) = dense(self, layout, t)?;
        let (tg, to) = dense(target.0, target.1, t)?;
        let w = weight.map(|(w, l)| dense(w, l, t)).transpose()?;
        let (wb, wo) = w.as_ref().map_or((&x.buffer, 0), |(w, o)| (&w.buffer, *o));
        let out = Outputs::new(
            ctx,
            t,
            &request,
            positions,
            layout.numel(),
            target.1.numel(),
        )?;
        let text = format!("{CLASS_PROBABILITY}{LANE}{ENTRY}{CLASS_PROBABILITY_BODY}");
        let src = || source(t, &text);
        let meta = Meta::new()
            .u(positions)
            .u(dims.classes)
            .u(dims.inner)
            .u(xo)
            .u(to)
            .u(wo)
            .u(w.is_some() as usize)
            .u(request.grad_input as usize)
            .u(request.grad_target as usize)
            .f(smoothing)
            .f(request.scale);
        WgpuStorage::run(
            ctx,
            &format!("class_probability_loss_{}", t.name()),
            &src,
            &[
                &x.buffer,
                &tg.buffer,
                wb,
                &out.losses.buffer,
                &out.grad_input.buffer,
                &out.grad_target.buffer,
            ],
            meta,
            positions,
        );
        out.finish(&request, positions)
    }
}
