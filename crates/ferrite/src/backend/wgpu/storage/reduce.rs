//! The wgpu implementation of [`crate::backend::ReduceOps`]: folds over any set of
//! dimensions, extrema with their indices, scans and (log-)softmax along one dimension.
//!
//! Every op works lane by lane. A short lane is one thread's loop, in the CPU's order. A
//! long lane is one workgroup's: its 256 threads each fold
//! a share of the lane and a tree in workgroup memory combines their partial results, so a
//! sum over 10^5 elements is 8 steps of a tree rather than one thread's 10^5 additions. A
//! fold over very long lanes, when there are too few of them to fill the device, splits
//! each lane over several workgroups and folds their partial results in a second pass.

use super::super::context::{GpuBuffer, Launch, WORKGROUP};
use super::super::kernel::{source, to_u32, Meta, ENTRY};
use super::WgpuStorage;
use crate::backend::{BackendResult, ReduceOps};
use crate::core::{DType, Layout, ReduceKind, ScanKind};
use std::sync::Arc;

/// Lanes at most this long are one thread's loop; longer ones are one workgroup's.
const SHORT_LANE: usize = 64;
/// Elements one workgroup folds before a lane is split over several workgroups.
const GROUP_ELEMENTS: usize = 256 * 64;
/// With at least this many lanes the device is busy without splitting them.
const MANY_LANES: usize = 256;
/// Most workgroups along one grid dimension (WebGPU's guaranteed limit).
const MAX_GROUPS_PER_DIM: u32 = 65535;

/// A view split into lanes: the kept dimensions index the lanes (row-major, as the output
/// holds them) and the reduced dimensions index the elements within a lane.
struct Lanes {
    kept_dims: Vec<usize>,
    kept_strides: Vec<usize>,
    reduced_dims: Vec<usize>,
    reduced_strides: Vec<usize>,
    offset: usize,
}

impl Lanes {
    /// The lanes of `layout` along the dimensions flagged in `mask` (a rank-0 view is one
    /// lane of one element).
    fn split(layout: &Layout, mask: &[bool]) -> Lanes {
        let mut lanes = Lanes {
            kept_dims: Vec::new(),
            kept_strides: Vec::new(),
            reduced_dims: Vec::new(),
            reduced_strides: Vec::new(),
            offset: layout.offset,
        };
        for ((&d, &s), &m) in layout.dims().iter().zip(&layout.strides).zip(mask) {
            if m {
                lanes.reduced_dims.push(d);
                lanes.reduced_strides.push(s);
            } else {
                lanes.kept_dims.push(d);
                lanes.kept_strides.push(s);
            }
        }
        lanes
    }

    /// How many lanes there are.
    fn count(&self) -> usize {
        self.kept_dims.iter().product()
    }

    /// How many elements each lane has.
    fn len(&self) -> usize {
        self.reduced_dims.iter().product()
    }
}

/// The lanes along one dimension, for the kernels that walk one lane with a stride, and
/// the parameter block they share: lanes, lane length, the lane's stride in the input, the
/// lanes per outer index (the output's layout), `mode`, then the kept dimensions' view.
fn lanes_along(layout: &Layout, dim: usize, mode: u32) -> (usize, usize, Meta) {
    let dims = layout.dims();
    let (lanes, n, step, inner) = if dims.is_empty() {
        (Lanes::split(layout, &[]), 1, 0, 1)
    } else {
        let mut mask = vec![false; dims.len()];
        mask[dim] = true;
        let inner = dims[dim + 1..].iter().product();
        (
            Lanes::split(layout, &mask),
            dims[dim],
            layout.strides[dim],
            inner,
        )
    };
    let count = lanes.count();
    let meta = Meta::new()
        .u(count)
        .u(n)
        .u(step)
        .u(inner)
        .u(mode as usize)
        .view_with(&lanes.kept_dims, &lanes.kept_strides, lanes.offset);
    (count, n, meta)
}

/// The WGSL name of a float dtype.
fn wgsl_float(dtype: DType) -> &'static str {
    match dtype {
        DType::F64 => "f64",
        _ => "f32",
    }
}

/// A WGSL expression saying whether `v`, of the float `dtype`, is NaN. In f32, from its
/// bits. In f64 (whose bits WGSL cannot take apart) as `!(v == v)`: naga compiles `!=` on
/// floats to an ordered comparison, false for NaN, so the `v != v` of `math_f64.wgsl`'s
/// `is_nan` never sees one, while the ordered `==` is false exactly for NaN.
fn nan_test(dtype: DType) -> &'static str {
    match dtype {
        DType::F64 => "!(v == v)",
        _ => "(bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u",
    }
}

/// Records a kernel with one workgroup per lane (or per piece of a lane), `groups` in all,
/// spread over a two-dimensional grid when one dimension cannot hold them.
fn launch_per_group(
    storage: &WgpuStorage,
    key: &str,
    source: &dyn Fn() -> String,
    buffers: &[&Arc<GpuBuffer>],
    meta: Meta,
    groups: usize,
) {
    let groups = to_u32(groups);
    let grid = if groups <= MAX_GROUPS_PER_DIM {
        (groups, 1, 1)
    } else {
        (MAX_GROUPS_PER_DIM, groups.div_ceil(MAX_GROUPS_PER_DIM), 1)
    };
    storage.ctx().launch_groups(
        Launch {
            key,
            source,
            buffers,
            meta: &meta.0,
            threads: groups.saturating_mul(WORKGROUP),
        },
        grid,
    );
}

/// The opening of a kernel with one workgroup per lane: `g` is the group's lane, and
/// `live` says whether it has one (the grid may be rounded up). Dead groups skip the work
/// but still reach every barrier, as WGSL requires.
const GROUP_ENTRY: &str = "@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>, @builtin(local_invocation_index) local: u32) {
    let g = group.y * groups.x + group.x;
    let live = g < params[0];";

/// The folds of `reduce`, on the accumulator type `A`. Parameters: lanes × pieces, lane
/// length, pieces per lane, elements per piece, the fold (0 sum, 1 max, 2 min, 3 product),
/// the kept dimensions' view, the reduced dimensions' view.
const REDUCE_FOLDS: &str = "
fn fold_init(kind: u32) -> A {
    switch kind {
        case 1u: { return -A(infinity()); }
        case 2u: { return A(infinity()); }
        case 3u: { return A(1.0); }
        default: { return A(0.0); }
    }
}

// One step of the fold. NaN propagates through max and min, as in PyTorch. The same step
// merges two partial folds, since each is the max, min, sum or product of its elements.
fn fold(kind: u32, acc: A, v: A) -> A {
    switch kind {
        case 1u: { return select(acc, v, v > acc || acc_is_nan(v)); }
        case 2u: { return select(acc, v, v < acc || acc_is_nan(v)); }
        case 3u: { return acc * v; }
        default: { return acc + v; }
    }
}

// Element k of the lane whose kept dimensions put it at `base`.
fn element(base: u32, k: u32) -> A {
    return A(x[base + strided_offset(5u + view_words(5u), k)]);
}
";

/// `reduce` with one thread per lane.
const REDUCE_THREAD: &str = "
    let kind = params[4];
    let base = strided_offset(5u, i);
    var acc = fold_init(kind);
    for (var k = 0u; k < params[1]; k = k + 1u) {
        acc = fold(kind, acc, element(base, k));
    }
    y[i] = store(acc);
}
";

/// `reduce` with one workgroup per piece of a lane. Sums, maxima and minima: each thread
/// folds every 256th element of the piece (neighbouring threads read neighbouring
/// elements), then a tree folds the 256 partial results. Products: each thread folds one
/// contiguous chunk and thread 0 multiplies the chunks in order, since where an infinity
/// meets a product that underflowed to 0 depends on the order (the CPU's is left to right).
const REDUCE_GROUP: &str = "
    let kind = params[4];
    let ordered = kind == 3u;
    var acc = fold_init(kind);
    if (live) {
        let pieces = params[2];
        let start = (g % pieces) * params[3];
        let end = min(params[1], start + params[3]);
        let base = strided_offset(5u, g / pieces);
        var first = start + local;
        var last = end;
        var step = WORKGROUP;
        if (ordered) {
            let chunk = (end - min(start, end) + WORKGROUP - 1u) / WORKGROUP;
            first = min(end, start + local * chunk);
            last = min(end, first + chunk);
            step = 1u;
        }
        for (var k = first; k < last; k = k + step) {
            acc = fold(kind, acc, element(base, k));
        }
    }
    partial[local] = acc;
    workgroupBarrier();
    for (var width = WORKGROUP / 2u; width > 0u; width = width >> 1u) {
        if (local < width && !ordered) {
            partial[local] = fold(kind, partial[local], partial[local + width]);
        }
        workgroupBarrier();
    }
    if (live && local == 0u) {
        var total = partial[0];
        if (ordered) {
            for (var j = 1u; j < WORKGROUP; j = j + 1u) {
                total = fold(kind, total, partial[j]);
            }
        }
        y[g] = store(total);
    }
}
";

/// The source of one `reduce` pass computing in `t`, folding in `acc`, reading `input`
/// elements and writing `output` ones, by threads or by workgroups.
fn reduce_source(t: DType, acc: DType, input: DType, output: DType, per_group: bool) -> String {
    let nan = nan_test(acc);
    let (a, xin, yout) = (wgsl_float(acc), wgsl_float(input), wgsl_float(output));
    let body = if per_group {
        format!("var<workgroup> partial: array<A, 256>;\n{GROUP_ENTRY}{REDUCE_GROUP}")
    } else {
        format!("{ENTRY}{REDUCE_THREAD}")
    };
    source(
        t,
        &format!(
            "alias A = {a};
@group(0) @binding(1) var<storage, read> x: array<{xin}>;
@group(0) @binding(2) var<storage, read_write> y: array<{yout}>;
fn acc_is_nan(v: A) -> bool {{
    return {nan};
}}
fn store(v: A) -> {yout} {{
    return {yout}(v);
}}
{REDUCE_FOLDS}{body}"
        ),
    )
}

/// How many pieces each of `lanes` lanes of `len` elements is split into: one, unless the
/// lanes are few and long.
fn pieces_per_lane(lanes: usize, len: usize) -> usize {
    if lanes >= MANY_LANES || len <= GROUP_ELEMENTS {
        1
    } else {
        len.div_ceil(GROUP_ELEMENTS)
    }
}

/// Bindings and helpers shared by the kernels that walk one lane with a stride (the
/// parameters of [`lanes_along`]).
const LANE_COMMON: &str = "
// Element k of the lane whose other dimensions put it at `base`.
fn lane_element(base: u32, k: u32) -> T {
    return x[base + k * params[2]];
}

// Where element k of lane `lane` goes in the row-major output: the lane's number splits
// into the dimensions before the lane's (outer) and those after it (params[3] lanes).
fn out_index(lane: u32, k: u32) -> u32 {
    let inner = params[3];
    return ((lane / inner) * params[1] + k) * inner + lane % inner;
}
";

/// The extremes and their indices. `params[4]` is 1 for the largest.
const ARG_COMMON: &str = "
@group(0) @binding(1) var<storage, read> x: array<T>;
@group(0) @binding(2) var<storage, read_write> values: array<T>;
@group(0) @binding(3) var<storage, read_write> indices: array<u32>;

// The index of no element yet: it loses to any element.
const NONE: u32 = 0xffffffffu;

// Whether element (vb, ib) beats the best so far (va, ia). NaN counts as the extreme, and
// the first extreme wins: ties go to the lower index, whichever order they are met in.
fn beats(va: T, ia: u32, vb: T, ib: u32) -> bool {
    if (ib == NONE) {
        return false;
    }
    if (ia == NONE) {
        return true;
    }
    let na = value_is_nan(va);
    let nb = value_is_nan(vb);
    if (na || nb) {
        return nb && (!na || ib < ia);
    }
    if (vb == va) {
        return ib < ia;
    }
    return (vb > va) == (params[4] == 1u);
}

// The lane's extreme and its index (an i64: low word, high word).
fn store_arg(lane: u32, v: T, k: u32) {
    values[lane] = v;
    indices[2u * lane] = k;
    indices[2u * lane + 1u] = 0u;
}
";

/// `arg_reduce` with one thread per lane (lanes are never empty).
const ARG_THREAD: &str = "
    let base = strided_offset(5u, i);
    var bv = lane_element(base, 0u);
    var bk = 0u;
    for (var k = 1u; k < params[1]; k = k + 1u) {
        let v = lane_element(base, k);
        if (beats(bv, bk, v, k)) {
            bv = v;
            bk = k;
        }
    }
    store_arg(i, bv, bk);
}
";

/// `arg_reduce` with one workgroup per lane: each thread finds the best of every 256th
/// element, then a tree merges the 256 candidates.
const ARG_GROUP: &str = "
    var bv = T(0.0);
    var bk = NONE;
    if (live) {
        let base = strided_offset(5u, g);
        for (var k = local; k < params[1]; k = k + WORKGROUP) {
            let v = lane_element(base, k);
            if (beats(bv, bk, v, k)) {
                bv = v;
                bk = k;
            }
        }
    }
    best_v[local] = bv;
    best_k[local] = bk;
    workgroupBarrier();
    for (var width = WORKGROUP / 2u; width > 0u; width = width >> 1u) {
        if (local < width && beats(best_v[local], best_k[local], best_v[local + width], best_k[local + width])) {
            best_v[local] = best_v[local + width];
            best_k[local] = best_k[local + width];
        }
        workgroupBarrier();
    }
    if (live && local == 0u) {
        store_arg(g, best_v[0], best_k[0]);
    }
}
";

/// Input and output of the scans and of softmax.
const LANE_IO: &str = "
@group(0) @binding(1) var<storage, read> x: array<T>;
@group(0) @binding(2) var<storage, read_write> y: array<T>;
";

/// `scan` with one thread per lane, in the CPU's order. `params[4]`: 0 running sum,
/// 1 exclusive product.
const SCAN_THREAD: &str = "
    let base = strided_offset(5u, i);
    let n = params[1];
    if (params[4] == 0u) {
        var acc = T(0.0);
        for (var k = 0u; k < n; k = k + 1u) {
            acc = acc + lane_element(base, k);
            y[out_index(i, k)] = acc;
        }
    } else {
        // Prefix times suffix products: no division, so zeros are fine.
        var acc = T(1.0);
        for (var k = 0u; k < n; k = k + 1u) {
            y[out_index(i, k)] = acc;
            acc = acc * lane_element(base, k);
        }
        acc = T(1.0);
        for (var j = n; j > 0u; j = j - 1u) {
            let o = out_index(i, j - 1u);
            y[o] = y[o] * acc;
            acc = acc * lane_element(base, j - 1u);
        }
    }
}
";

/// `scan` with one workgroup per lane. Each thread takes one contiguous chunk of the lane
/// and folds it; scans of the 256 chunk totals in workgroup memory (from the left, and from
/// the right for the products) give each chunk what comes before and after it; then each
/// thread walks its chunk again from those.
const SCAN_GROUP: &str = "
    let n = params[1];
    let prod = params[4] == 1u;
    let identity = select(T(0.0), T(1.0), prod);
    let chunk = (n + WORKGROUP - 1u) / WORKGROUP;
    let start = min(n, local * chunk);
    let end = min(n, start + chunk);
    var base = 0u;
    var total = identity;
    if (live) {
        base = strided_offset(5u, g);
        for (var k = start; k < end; k = k + 1u) {
            total = combine(prod, total, lane_element(base, k));
        }
    }
    from_left[local] = total;
    from_right[local] = total;
    workgroupBarrier();
    // Hillis–Steele inclusive scans of the chunk totals.
    for (var d = 1u; d < WORKGROUP; d = d << 1u) {
        var left = from_left[local];
        var right = from_right[local];
        if (local >= d) {
            left = combine(prod, from_left[local - d], left);
        }
        if (local + d < WORKGROUP) {
            right = combine(prod, right, from_right[local + d]);
        }
        workgroupBarrier();
        from_left[local] = left;
        from_right[local] = right;
        workgroupBarrier();
    }
    var before = identity;
    if (local > 0u) {
        before = from_left[local - 1u];
    }
    var after = identity;
    if (local + 1u < WORKGROUP) {
        after = from_right[local + 1u];
    }
    if (live) {
        var acc = before;
        if (!prod) {
            for (var k = start; k < end; k = k + 1u) {
                acc = acc + lane_element(base, k);
                y[out_index(g, k)] = acc;
            }
        } else {
            for (var k = start; k < end; k = k + 1u) {
                y[out_index(g, k)] = acc;
                acc = acc * lane_element(base, k);
            }
            acc = after;
            for (var j = end; j > start; j = j - 1u) {
                let o = out_index(g, j - 1u);
                y[o] = y[o] * acc;
                acc = acc * lane_element(base, j - 1u);
            }
        }
    }
}
";

/// The scans' combining step.
const SCAN_COMBINE: &str = "
var<workgroup> from_left: array<T, 256>;
var<workgroup> from_right: array<T, 256>;

fn combine(prod: bool, a: T, b: T) -> T {
    if (prod) {
        return a * b;
    }
    return a + b;
}
";

/// Softmax with one thread per lane, in the CPU's order. `params[4]` is 1 for the log.
const SOFTMAX_THREAD: &str = "
    let base = strided_offset(5u, i);
    let n = params[1];
    // Subtracting the max keeps every exponent <= 0; the max skips NaN, and a lane without
    // a finite max is not shifted.
    var m = -infinity();
    for (var k = 0u; k < n; k = k + 1u) {
        let v = lane_element(base, k);
        if (v > m) {
            m = v;
        }
    }
    if (!is_finite(m)) {
        m = T(0.0);
    }
    var total = T(0.0);
    for (var k = 0u; k < n; k = k + 1u) {
        total = total + t_exp(lane_element(base, k) - m);
    }
    if (params[4] == 1u) {
        let lse = t_log(total);
        for (var k = 0u; k < n; k = k + 1u) {
            y[out_index(i, k)] = lane_element(base, k) - m - lse;
        }
    } else {
        let inv = T(1.0) / total;
        for (var k = 0u; k < n; k = k + 1u) {
            y[out_index(i, k)] = t_exp(lane_element(base, k) - m) * inv;
        }
    }
}
";

/// Softmax with one workgroup per lane: trees in workgroup memory find the lane's max and
/// then the sum of its exponentials; each thread handles every 256th element.
const SOFTMAX_GROUP: &str = "
    let n = params[1];
    var base = 0u;
    var m = -infinity();
    if (live) {
        base = strided_offset(5u, g);
        for (var k = local; k < n; k = k + WORKGROUP) {
            let v = lane_element(base, k);
            if (v > m) {
                m = v;
            }
        }
    }
    partial[local] = m;
    workgroupBarrier();
    for (var width = WORKGROUP / 2u; width > 0u; width = width >> 1u) {
        if (local < width && partial[local + width] > partial[local]) {
            partial[local] = partial[local + width];
        }
        workgroupBarrier();
    }
    var shift = partial[0];
    // Every thread has read the max before the sums reuse the memory.
    workgroupBarrier();
    if (!is_finite(shift)) {
        shift = T(0.0);
    }
    var total = T(0.0);
    if (live) {
        for (var k = local; k < n; k = k + WORKGROUP) {
            total = total + t_exp(lane_element(base, k) - shift);
        }
    }
    partial[local] = total;
    workgroupBarrier();
    for (var width = WORKGROUP / 2u; width > 0u; width = width >> 1u) {
        if (local < width) {
            partial[local] = partial[local] + partial[local + width];
        }
        workgroupBarrier();
    }
    let sum_all = partial[0];
    if (live) {
        if (params[4] == 1u) {
            let lse = t_log(sum_all);
            for (var k = local; k < n; k = k + WORKGROUP) {
                y[out_index(g, k)] = lane_element(base, k) - shift - lse;
            }
        } else {
            let inv = T(1.0) / sum_all;
            for (var k = local; k < n; k = k + WORKGROUP) {
                y[out_index(g, k)] = t_exp(lane_element(base, k) - shift) * inv;
            }
        }
    }
}
";

impl WgpuStorage {
    /// One pass of `reduce`: folds `pieces` pieces of each of `lanes` lanes of `len`
    /// elements of `input` (seen through `kept` and `reduced`) into `out`, in `acc`.
    #[allow(clippy::too_many_arguments)]
    fn reduce_pass(
        input: &WgpuStorage,
        out: &WgpuStorage,
        t: DType,
        acc: DType,
        kept: &(Vec<usize>, Vec<usize>, usize),
        reduced: &(Vec<usize>, Vec<usize>),
        (lanes, len, pieces): (usize, usize, usize),
        kind: ReduceKind,
    ) {
        let code = match kind {
            ReduceKind::Sum => 0,
            ReduceKind::Max => 1,
            ReduceKind::Min => 2,
            ReduceKind::Prod => 3,
        };
        let meta = Meta::new()
            .u(lanes * pieces)
            .u(len)
            .u(pieces)
            .u(len.div_ceil(pieces))
            .u(code)
            .view_with(&kept.0, &kept.1, kept.2)
            .view_with(&reduced.0, &reduced.1, 0);
        let per_group = pieces > 1 || len > SHORT_LANE;
        let (xin, yout) = (input.dtype, out.dtype);
        let key = format!(
            "reduce_{}_{}_{}_{}_{}",
            if per_group { "group" } else { "thread" },
            wgsl_float(t),
            wgsl_float(acc),
            wgsl_float(xin),
            wgsl_float(yout)
        );
        let src = || reduce_source(t, acc, xin, yout, per_group);
        let buffers = [&input.buffer, &out.buffer];
        if per_group {
            launch_per_group(input, &key, &src, &buffers, meta, lanes * pieces);
        } else {
            Self::run(input.ctx(), &key, &src, &buffers, meta, lanes);
        }
    }
}

impl ReduceOps for WgpuStorage {
    fn reduce(&self, layout: &Layout, mask: &[bool], kind: ReduceKind) -> BackendResult<Self> {
        let t = self.compute_dtype("reduce");
        let ctx = self.ctx();
        // Sums of f32 accumulate in f64 where the adapter has it, as the CPU's do.
        let acc = if kind == ReduceKind::Sum && t == DType::F32 && ctx.has_f64() {
            DType::F64
        } else {
            t
        };
        let split = Lanes::split(layout, mask);
        let (lanes, mut len) = (split.count(), split.len());
        let out = WgpuStorage::empty(ctx, lanes, t)?;
        if lanes == 0 {
            return Ok(out);
        }
        let mut input = self.shallow();
        let mut kept = (split.kept_dims, split.kept_strides, split.offset);
        let mut reduced = (split.reduced_dims, split.reduced_strides);
        // Few long lanes: each pass folds pieces of the lanes into partial results (in the
        // accumulator's type), which the next pass folds, until one piece is left.
        loop {
            // Products stay whole: their chunks are multiplied in order (see REDUCE_GROUP).
            let pieces = if kind == ReduceKind::Prod {
                1
            } else {
                pieces_per_lane(lanes, len)
            };
            let dst = if pieces == 1 {
                out.shallow()
            } else {
                WgpuStorage::empty(ctx, lanes * pieces, acc)?
            };
            Self::reduce_pass(
                &input,
                &dst,
                t,
                acc,
                &kept,
                &reduced,
                (lanes, len, pieces),
                kind,
            );
            if pieces == 1 {
                return Ok(out);
            }
            input = dst;
            kept = (vec![lanes], vec![pieces], 0);
            reduced = (vec![pieces], vec![1]);
            len = pieces;
        }
    }

    fn arg_reduce(
        &self,
        layout: &Layout,
        dim: usize,
        largest: bool,
    ) -> BackendResult<(Self, Self)> {
        let t = self.compute_dtype("argmax");
        let ctx = self.ctx();
        let (lanes, n, meta) = lanes_along(layout, dim, largest as u32);
        let values = WgpuStorage::empty(ctx, lanes, t)?;
        let indices = WgpuStorage::empty(ctx, lanes, DType::I64)?;
        if lanes == 0 {
            return Ok((values, indices));
        }
        assert!(n > 0, "max: cannot reduce an empty dimension");
        let per_group = n > SHORT_LANE;
        let common = format!(
            "fn value_is_nan(v: T) -> bool {{\n    return {};\n}}\n{ARG_COMMON}{LANE_COMMON}",
            nan_test(t)
        );
        let text = if per_group {
            format!("var<workgroup> best_v: array<T, 256>;\nvar<workgroup> best_k: array<u32, 256>;\n{common}{GROUP_ENTRY}{ARG_GROUP}")
        } else {
            format!("{common}{ENTRY}{ARG_THREAD}")
        };
        let src = || source(t, &text);
        let key = format!(
            "arg_reduce_{}_{}",
            if per_group { "group" } else { "thread" },
            wgsl_float(t)
        );
        let buffers = [&self.buffer, &values.buffer, &indices.buffer];
        if per_group {
            launch_per_group(self, &key, &src, &buffers, meta, lanes);
        } else {
            Self::run(ctx, &key, &src, &buffers, meta, lanes);
        }
        Ok((values, indices))
    }

    fn scan(&self, layout: &Layout, dim: usize, kind: ScanKind) -> BackendResult<Self> {
        let t = self.compute_dtype("cumsum");
        let ctx = self.ctx();
        let mode = match kind {
            ScanKind::CumSum => 0,
            ScanKind::ExclusiveProd => 1,
        };
        let (lanes, n, meta) = lanes_along(layout, dim, mode);
        let out = WgpuStorage::empty(ctx, layout.numel(), t)?;
        if layout.numel() == 0 {
            return Ok(out);
        }
        let per_group = n > SHORT_LANE;
        let text = if per_group {
            format!("{LANE_IO}{LANE_COMMON}{SCAN_COMBINE}{GROUP_ENTRY}{SCAN_GROUP}")
        } else {
            format!("{LANE_IO}{LANE_COMMON}{ENTRY}{SCAN_THREAD}")
        };
        let src = || source(t, &text);
        let key = format!(
            "scan_{}_{}",
            if per_group { "group" } else { "thread" },
            wgsl_float(t)
        );
        let buffers = [&self.buffer, &out.buffer];
        if per_group {
            launch_per_group(self, &key, &src, &buffers, meta, lanes);
        } else {
            Self::run(ctx, &key, &src, &buffers, meta, lanes);
        }
        Ok(out)
    }

    fn softmax(&self, layout: &Layout, dim: usize, log: bool) -> BackendResult<Self> {
        let t = self.compute_dtype("softmax");
        let ctx = self.ctx();
        let (lanes, n, meta) = lanes_along(layout, dim, log as u32);
        let out = WgpuStorage::empty(ctx, layout.numel(), t)?;
        if layout.numel() == 0 {
            return Ok(out);
        }
        let per_group = n > SHORT_LANE;
        let text = if per_group {
            format!("var<workgroup> partial: array<T, 256>;\n{LANE_IO}{LANE_COMMON}{GROUP_ENTRY}{SOFTMAX_GROUP}")
        } else {
            format!("{LANE_IO}{LANE_COMMON}{ENTRY}{SOFTMAX_THREAD}")
        };
        let src = || source(t, &text);
        let key = format!(
            "softmax_{}_{}",
            if per_group { "group" } else { "thread" },
            wgsl_float(t)
        );
        let buffers = [&self.buffer, &out.buffer];
        if per_group {
            launch_per_group(self, &key, &src, &buffers, meta, lanes);
        } else {
            Self::run(ctx, &key, &src, &buffers, meta, lanes);
        }
        Ok(out)
    }
}
