//! The wgpu implementation of [`crate::backend::ConvOps`].
//!
//! A convolution and both of its operand gradients are matrix products over one group, with
//! one operand gathered on the fly from the image instead of unfolded into memory (an
//! implicit GEMM):
//! - forward: `y (cog, N·oh·ow) = W (cog, cig·kh·kw) · col (cig·kh·kw, N·oh·ow)`, `col`
//!   read from `x` (zero in the padding);
//! - input gradient, a transposed convolution: `dx (cig, N·H·W) = Wᵀ (cig, cog·kh·kw) ·
//!   G (cog·kh·kw, N·H·W)`, where `G` picks the output gradient each tap of each input
//!   position came from (zero where the stride skips it), so every input element is
//!   written once, without atomics;
//! - weight gradient: `dW (cog, cig·kh·kw) = g (cog, N·oh·ow) · colᵀ`, its long reduction
//!   split into slices whose partial products are then added in a fixed order.
//!
//! One tiled kernel template runs all three: a workgroup of 16×16 threads computes a
//! `BM × BN` tile of the product, staging `BK`-deep slices of both operands in workgroup
//! memory, each thread accumulating `BM/16 × BN/16` outputs. Only the gathers and the store
//! differ between the passes. The bias gradient is a workgroup tree reduction per channel.
//! Everything is deterministic: no atomics, fixed reduction orders.

use super::pool::flat_view;
use super::{WgpuStorage, ENTRY};
use crate::backend::wgpu::context::{Context, GpuBuffer, Launch};
use crate::backend::wgpu::kernel::{source, Meta};
use crate::backend::{conv::ConvGrads, BackendResult, ConvOps};
use crate::core::{ConvGeometry, DType, Layout};
use std::sync::Arc;

/// Depth of the reduction slice a tile stages at a time.
const BK: usize = 8;
/// Most workgroups along one grid dimension; kernels loop over the tiles past it.
const MAX_GROUPS: usize = 65535;
/// Workgroups the weight gradient aims for, by splitting its reduction.
const TARGET_GROUPS: usize = 256;
/// The least reduction length worth a slice of its own in the weight gradient.
const MIN_SLICE: usize = 512;
/// Most slices of the weight gradient's reduction (bounds the scratch buffer).
const MAX_SLICES: usize = 64;

/// The three products a convolution's kernels compute.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Pass {
    /// The output, with or without a bias to add.
    Forward { bias: bool },
    /// The input gradient.
    InputGrad,
    /// The weight gradient (slices of it, when its reduction is split).
    WeightGrad,
}

impl Pass {
    fn name(self) -> &'static str {
        match self {
            Pass::Forward { bias: true } => "conv2d_bias",
            Pass::Forward { bias: false } => "conv2d",
            Pass::InputGrad => "conv2d_dx",
            Pass::WeightGrad => "conv2d_dw",
        }
    }

    /// The bindings (1, 2, …) and the pass's `load_a`, `load_b` and `store`.
    fn code(self) -> &'static str {
        match self {
            Pass::Forward { bias: true } => FORWARD_BIAS,
            Pass::Forward { bias: false } => FORWARD,
            Pass::InputGrad => INPUT_GRAD,
            Pass::WeightGrad => WEIGHT_GRAD,
        }
    }
}

/// The tile `(BM, BN)` for a product with `m` rows: a few output channels are the common
/// case (LeNet has 6 and 16), and a 64-row tile would mostly compute padding for them.
fn tile_for(m: usize) -> (usize, usize) {
    if m <= 16 {
        (16, 128)
    } else {
        (64, 64)
    }
}

/// The parameter words of a convolution (what `conv_params()` reads), after the product's
/// sizes: rows, columns, reduction length, z-slices (groups × splits), splits, slice length.
fn conv_meta(geo: &ConvGeometry, product: [usize; 6], offsets: [usize; 4]) -> Meta {
    let mut meta = Meta::new();
    for v in product {
        meta = meta.u(v);
    }
    let words = [
        geo.batch,
        geo.in_channels,
        geo.out_channels,
        geo.groups,
        geo.group_in(),
        geo.group_out(),
        geo.in_size[0],
        geo.in_size[1],
        geo.out_size[0],
        geo.out_size[1],
        geo.kernel[0],
        geo.kernel[1],
        geo.stride[0],
        geo.stride[1],
        geo.pad[0],
        geo.pad[1],
        geo.dilation[0],
        geo.dilation[1],
    ];
    for v in words.into_iter().chain(offsets) {
        meta = meta.u(v);
    }
    meta
}

/// WGSL: the convolution's parameters, and the tap gather of the forward pass and the weight
/// gradient (needs a binding `x`).
const CONV_COMMON: &str = "
struct Conv {
    m: u32, n: u32, k: u32, zs: u32, splits: u32, chunk: u32,
    batch: u32, cin: u32, cout: u32, groups: u32, cig: u32, cog: u32,
    h: u32, w: u32, oh: u32, ow: u32, kh: u32, kw: u32,
    sh: u32, sw: u32, ph: u32, pw: u32, dh: u32, dw: u32,
    x_off: u32, w_off: u32, g_off: u32, b_off: u32,
}

fn conv_params() -> Conv {
    return Conv(params[0], params[1], params[2], params[3], params[4], params[5],
        params[6], params[7], params[8], params[9], params[10], params[11],
        params[12], params[13], params[14], params[15], params[16], params[17],
        params[18], params[19], params[20], params[21], params[22], params[23],
        params[24], params[25], params[26], params[27]);
}
";

/// WGSL: the input pixel that tap `k = (channel, ki, kj)` of group `gi` meets at output
/// position `p` of image `img` (0 in the padding): an entry of the unfolded `col` matrix.
const INPUT_TAP: &str = "
fn input_tap(c: Conv, gi: u32, k: u32, img: u32, p: u32) -> T {
    let khw = c.kh * c.kw;
    let ch = k / khw;
    let r = k % khw;
    let iy = i32((p / c.ow) * c.sh + (r / c.kw) * c.dh) - i32(c.ph);
    let ix = i32((p % c.ow) * c.sw + (r % c.kw) * c.dw) - i32(c.pw);
    if (iy < 0 || ix < 0 || iy >= i32(c.h) || ix >= i32(c.w)) {
        return T(0.0);
    }
    return x[c.x_off + ((img * c.cin + gi * c.cig + ch) * c.h + u32(iy)) * c.w + u32(ix)];
}
";

/// The forward product's operands: `A = W_g (cog, cig·kh·kw)`, `B = col (cig·kh·kw, N·oh·ow)`.
const FORWARD_OPERANDS: &str = "
fn load_a(c: Conv, gi: u32, m: u32, k: u32) -> T {
    return wt[c.w_off + (gi * c.cog + m) * c.k + k];
}

fn load_b(c: Conv, gi: u32, k: u32, n: u32) -> T {
    let ohw = c.oh * c.ow;
    return input_tap(c, gi, k, n / ohw, n % ohw);
}
";

const FORWARD: &str = "
@group(0) @binding(1) var<storage, read> x: array<T>;
@group(0) @binding(2) var<storage, read> wt: array<T>;
@group(0) @binding(3) var<storage, read_write> y: array<T>;

fn store(c: Conv, gi: u32, split: u32, m: u32, n: u32, v: T) {
    let ohw = c.oh * c.ow;
    y[((n / ohw) * c.cout + gi * c.cog + m) * ohw + n % ohw] = v;
}
";

const FORWARD_BIAS: &str = "
@group(0) @binding(1) var<storage, read> x: array<T>;
@group(0) @binding(2) var<storage, read> wt: array<T>;
@group(0) @binding(3) var<storage, read> bias: array<T>;
@group(0) @binding(4) var<storage, read_write> y: array<T>;

fn store(c: Conv, gi: u32, split: u32, m: u32, n: u32, v: T) {
    let ohw = c.oh * c.ow;
    let o = gi * c.cog + m;
    y[((n / ohw) * c.cout + o) * ohw + n % ohw] = bias[c.b_off + o] + v;
}
";

/// The input gradient's operands: `A = W_gᵀ (cig, cog·kh·kw)`; `B (cog·kh·kw, N·H·W)` holds,
/// for tap `(o, ki, kj)` and input position `(iy, ix)`, the gradient of the output that tap
/// read it for: `(iy + ph − ki·dh) / sh` when that divides, and likewise for columns.
const INPUT_GRAD: &str = "
@group(0) @binding(1) var<storage, read> gout: array<T>;
@group(0) @binding(2) var<storage, read> wt: array<T>;
@group(0) @binding(3) var<storage, read_write> dx: array<T>;

fn load_a(c: Conv, gi: u32, m: u32, k: u32) -> T {
    let khw = c.kh * c.kw;
    return wt[c.w_off + ((gi * c.cog + k / khw) * c.cig + m) * khw + k % khw];
}

fn load_b(c: Conv, gi: u32, k: u32, n: u32) -> T {
    let khw = c.kh * c.kw;
    let o = k / khw;
    let r = k % khw;
    let hw = c.h * c.w;
    let q = n % hw;
    let ty = i32(q / c.w + c.ph) - i32((r / c.kw) * c.dh);
    let tx = i32(q % c.w + c.pw) - i32((r % c.kw) * c.dw);
    if (ty < 0 || tx < 0) {
        return T(0.0);
    }
    let oy = u32(ty) / c.sh;
    let ox = u32(tx) / c.sw;
    if (oy * c.sh != u32(ty) || ox * c.sw != u32(tx) || oy >= c.oh || ox >= c.ow) {
        return T(0.0);
    }
    return gout[c.g_off + (((n / hw) * c.cout + gi * c.cog + o) * c.oh + oy) * c.ow + ox];
}

fn store(c: Conv, gi: u32, split: u32, m: u32, n: u32, v: T) {
    let hw = c.h * c.w;
    dx[((n / hw) * c.cin + gi * c.cig + m) * hw + n % hw] = v;
}
";

/// The weight gradient's operands: `A = g_g (cog, N·oh·ow)`, `B = colᵀ (N·oh·ow, cig·kh·kw)`;
/// slice `split` of the reduction goes to its own part of `dst`.
const WEIGHT_GRAD: &str = "
@group(0) @binding(1) var<storage, read> gout: array<T>;
@group(0) @binding(2) var<storage, read> x: array<T>;
@group(0) @binding(3) var<storage, read_write> dst: array<T>;

fn load_a(c: Conv, gi: u32, m: u32, k: u32) -> T {
    let ohw = c.oh * c.ow;
    return gout[c.g_off + ((k / ohw) * c.cout + gi * c.cog + m) * ohw + k % ohw];
}

fn load_b(c: Conv, gi: u32, k: u32, n: u32) -> T {
    let ohw = c.oh * c.ow;
    return input_tap(c, gi, n, k / ohw, k % ohw);
}

fn store(c: Conv, gi: u32, split: u32, m: u32, n: u32, v: T) {
    dst[split * c.cout * c.n + (gi * c.cog + m) * c.n + n] = v;
}
";

/// The tiled product. Grid: x over column tiles, y over row tiles, z over (group, slice),
/// each looping past the grid's size. Every thread reaches every barrier: the loops around
/// them depend only on the workgroup and the parameters.
const GEMM: &str = "
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>, @builtin(local_invocation_index) local: u32) {
    let c = conv_params();
    let tiles_m = (c.m + BM - 1u) / BM;
    let tiles_n = (c.n + BN - 1u) / BN;
    let tx = local % 16u;
    let ty = local / 16u;
    for (var z = group.z; z < c.zs; z = z + groups.z) {
        let gi = z / c.splits;
        let split = z % c.splits;
        let k_begin = split * c.chunk;
        let k_end = min(k_begin + c.chunk, c.k);
        for (var tm = group.y; tm < tiles_m; tm = tm + groups.y) {
            for (var tn = group.x; tn < tiles_n; tn = tn + groups.x) {
                let m0 = tm * BM;
                let n0 = tn * BN;
                var acc: array<T, TM * TN>;
                for (var e = 0u; e < TM * TN; e = e + 1u) {
                    acc[e] = T(0.0);
                }
                for (var k0 = k_begin; k0 < k_end; k0 = k0 + BK) {
                    // Consecutive threads take consecutive reduction steps of A and
                    // consecutive columns of B: the contiguous directions of the operands.
                    for (var e = local; e < BM * BK; e = e + 256u) {
                        let mm = e / BK;
                        let kk = e % BK;
                        var v = T(0.0);
                        if (m0 + mm < c.m && k0 + kk < k_end) {
                            v = load_a(c, gi, m0 + mm, k0 + kk);
                        }
                        tile_a[kk * BM + mm] = v;
                    }
                    for (var e = local; e < BK * BN; e = e + 256u) {
                        let kk = e / BN;
                        let nn = e % BN;
                        var v = T(0.0);
                        if (n0 + nn < c.n && k0 + kk < k_end) {
                            v = load_b(c, gi, k0 + kk, n0 + nn);
                        }
                        tile_b[kk * BN + nn] = v;
                    }
                    workgroupBarrier();
                    for (var kk = 0u; kk < BK; kk = kk + 1u) {
                        var a: array<T, TM>;
                        for (var r = 0u; r < TM; r = r + 1u) {
                            a[r] = tile_a[kk * BM + ty + 16u * r];
                        }
                        for (var q = 0u; q < TN; q = q + 1u) {
                            let b = tile_b[kk * BN + tx + 16u * q];
                            for (var r = 0u; r < TM; r = r + 1u) {
                                acc[r * TN + q] = acc[r * TN + q] + a[r] * b;
                            }
                        }
                    }
                    workgroupBarrier();
                }
                for (var r = 0u; r < TM; r = r + 1u) {
                    for (var q = 0u; q < TN; q = q + 1u) {
                        let m = m0 + ty + 16u * r;
                        let n = n0 + tx + 16u * q;
                        if (m < c.m && n < c.n) {
                            store(c, gi, split, m, n, acc[r * TN + q]);
                        }
                    }
                }
            }
        }
    }
}
";

/// The full text of the tiled product for `pass` with `bm × bn` tiles.
fn gemm_source(t: DType, pass: Pass, (bm, bn): (usize, usize)) -> String {
    let consts = format!(
        "const BM: u32 = {bm}u;\nconst BN: u32 = {bn}u;\nconst BK: u32 = {BK}u;\nconst TM: u32 = {}u;\nconst TN: u32 = {}u;\nvar<workgroup> tile_a: array<T, {}>;\nvar<workgroup> tile_b: array<T, {}>;\n",
        bm / 16,
        bn / 16,
        bm * BK,
        bn * BK
    );
    let operands = match pass {
        Pass::Forward { .. } => FORWARD_OPERANDS,
        _ => "",
    };
    let tap = match pass {
        Pass::InputGrad => "",
        _ => INPUT_TAP,
    };
    source(
        t,
        &format!("{consts}{}{CONV_COMMON}{tap}{operands}{GEMM}", pass.code()),
    )
}

/// Adds the `splits` slices of the weight gradient, in order: `params[0]` elements each.
const SUM_SLICES: &str = "
@group(0) @binding(1) var<storage, read> part: array<T>;
@group(0) @binding(2) var<storage, read_write> total: array<T>;
";
const SUM_SLICES_BODY: &str = "
    var acc = T(0.0);
    for (var s = 0u; s < params[1]; s = s + 1u) {
        acc = acc + part[s * params[0] + i];
    }
    total[i] = acc;
}
";

/// The bias gradient: one workgroup per output channel (looping past the grid), each thread
/// summing a strided share of the channel's `N·oh·ow` gradients, then a tree reduction.
/// params: channels, positions per image, images, the gradient's first element.
const BIAS_GRAD: &str = "
@group(0) @binding(1) var<storage, read> gout: array<T>;
@group(0) @binding(2) var<storage, read_write> db: array<T>;
var<workgroup> partial: array<T, 256>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>, @builtin(local_invocation_index) local: u32) {
    let cout = params[0];
    let per = params[1];
    let total = per * params[2];
    for (var o = group.x; o < cout; o = o + groups.x) {
        var acc = T(0.0);
        for (var r = local; r < total; r = r + 256u) {
            acc = acc + gout[params[3] + ((r / per) * cout + o) * per + r % per];
        }
        partial[local] = acc;
        workgroupBarrier();
        for (var s = 128u; s > 0u; s = s >> 1u) {
            if (local < s) {
                partial[local] = partial[local] + partial[local + s];
            }
            workgroupBarrier();
        }
        if (local == 0u) {
            db[o] = partial[0];
        }
        // The next channel overwrites `partial`: everyone is past reading it first.
        workgroupBarrier();
    }
}
";

/// One tiled product: which pass, its sizes `[rows, columns, reduction]`, the reduction's
/// `(slices, slice length)`, and the first elements of `[x, w, g, b]` in their buffers.
struct Gemm {
    pass: Pass,
    product: [usize; 3],
    split: (usize, usize),
    offsets: [usize; 4],
}

/// Records one launch of `gemm` for every group of `geo`.
fn launch_gemm(
    ctx: &'static Context,
    t: DType,
    geo: &ConvGeometry,
    gemm: Gemm,
    buffers: &[&Arc<GpuBuffer>],
) {
    let Gemm {
        pass,
        product: [m, n, k],
        split: (splits, chunk),
        offsets,
    } = gemm;
    let zs = geo.groups * splits;
    if m == 0 || n == 0 || zs == 0 {
        return;
    }
    let tile = tile_for(m);
    let meta = conv_meta(geo, [m, n, k, zs, splits, chunk], offsets);
    let key = format!("{}_{}x{}_{}", pass.name(), tile.0, tile.1, t.name());
    let src = || gemm_source(t, pass, tile);
    let grid = |count: usize| count.clamp(1, MAX_GROUPS) as u32;
    let groups = (grid(n.div_ceil(tile.1)), grid(m.div_ceil(tile.0)), grid(zs));
    let launch = Launch {
        key: &key,
        source: &src,
        buffers,
        meta: &meta.0,
        threads: 0,
    };
    ctx.launch_groups(launch, groups);
}

/// How the weight gradient splits its reduction of `k` for `tiles` output tiles: `(slices,
/// slice length)`, the length a multiple of the staged depth.
fn weight_grad_split(k: usize, tiles: usize) -> (usize, usize) {
    let wanted = (TARGET_GROUPS / tiles.max(1))
        .min(k.div_ceil(MIN_SLICE))
        .clamp(1, MAX_SLICES);
    let chunk = k.div_ceil(wanted).next_multiple_of(BK).max(BK);
    (k.div_ceil(chunk).max(1), chunk)
}

impl ConvOps for WgpuStorage {
    fn conv2d(
        &self,
        layout: &Layout,
        weight: (&Self, &Layout),
        bias: Option<(&Self, &Layout)>,
        geo: &ConvGeometry,
    ) -> BackendResult<Self> {
        let t = self.compute_dtype("conv2d");
        assert_eq!(weight.0.dtype, t, "conv2d: input and weight of one dtype");
        let ctx = self.ctx();
        let (x, x0) = flat_view(self, layout)?;
        let (w, w0) = flat_view(weight.0, weight.1)?;
        let out = WgpuStorage::empty(ctx, geo.batch * geo.out_channels * geo.out_plane(), t)?;
        let (m, n, k) = (geo.group_out(), geo.batch * geo.out_plane(), geo.col_rows());
        match bias {
            Some((b, bl)) => {
                assert_eq!(b.dtype, t, "conv2d: input and bias of one dtype");
                let (b, b0) = flat_view(b, bl)?;
                let gemm = Gemm {
                    pass: Pass::Forward { bias: true },
                    product: [m, n, k],
                    split: (1, k),
                    offsets: [x0, w0, 0, b0],
                };
                let buffers = [&x.buffer, &w.buffer, &b.buffer, &out.buffer];
                launch_gemm(ctx, t, geo, gemm, &buffers);
            }
            None => {
                let gemm = Gemm {
                    pass: Pass::Forward { bias: false },
                    product: [m, n, k],
                    split: (1, k),
                    offsets: [x0, w0, 0, 0],
                };
                launch_gemm(ctx, t, geo, gemm, &[&x.buffer, &w.buffer, &out.buffer]);
            }
        }
        Ok(out)
    }

    fn conv2d_backward(
        &self,
        layout: &Layout,
        input: (&Self, &Layout),
        weight: (&Self, &Layout),
        geo: &ConvGeometry,
        needs: [bool; 3],
    ) -> BackendResult<ConvGrads<Self>> {
        let t = self.compute_dtype("conv2d_backward");
        assert!(
            input.0.dtype == t && weight.0.dtype == t,
            "conv2d_backward: gradient, input and weight of one dtype"
        );
        let ctx = self.ctx();
        let [need_x, need_w, need_b] = needs;
        if !(need_x || need_w || need_b) {
            return Ok((None, None, None));
        }
        let (g, g0) = flat_view(self, layout)?;
        let ohw = geo.out_plane();

        let dx = if need_x {
            let (w, w0) = flat_view(weight.0, weight.1)?;
            let dx = WgpuStorage::empty(ctx, geo.batch * geo.in_channels * geo.in_plane(), t)?;
            let k = geo.group_out() * geo.kernel[0] * geo.kernel[1];
            let gemm = Gemm {
                pass: Pass::InputGrad,
                product: [geo.group_in(), geo.batch * geo.in_plane(), k],
                split: (1, k),
                offsets: [0, w0, g0, 0],
            };
            launch_gemm(ctx, t, geo, gemm, &[&g.buffer, &w.buffer, &dx.buffer]);
            Some(dx)
        } else {
            None
        };

        let dw = if need_w {
            let (x, x0) = flat_view(input.0, input.1)?;
            let (m, n, k) = (geo.group_out(), geo.col_rows(), geo.batch * ohw);
            let len = geo.out_channels * n;
            let dw = WgpuStorage::empty(ctx, len, t)?;
            let (bm, bn) = tile_for(m);
            let tiles = m.div_ceil(bm) * n.div_ceil(bn) * geo.groups;
            let (splits, chunk) = weight_grad_split(k, tiles);
            let gemm = Gemm {
                pass: Pass::WeightGrad,
                product: [m, n, k],
                split: (splits, chunk),
                offsets: [x0, 0, g0, 0],
            };
            if splits == 1 {
                launch_gemm(ctx, t, geo, gemm, &[&g.buffer, &x.buffer, &dw.buffer]);
            } else {
                // Each slice writes its own copy of dW; they are added in slice order.
                let part = WgpuStorage::empty(ctx, splits * len, t)?;
                launch_gemm(ctx, t, geo, gemm, &[&g.buffer, &x.buffer, &part.buffer]);
                let src = || source(t, &format!("{SUM_SLICES}{ENTRY}{SUM_SLICES_BODY}"));
                let key = format!("conv2d_dw_slices_{}", t.name());
                let meta = Meta::new().u(len).u(splits);
                WgpuStorage::run(ctx, &key, &src, &[&part.buffer, &dw.buffer], meta, len);
            }
            Some(dw)
        } else {
            None
        };

        let db = if need_b {
            let cout = geo.out_channels;
            let db = WgpuStorage::empty(ctx, cout, t)?;
            let meta = Meta::new().u(cout).u(ohw).u(geo.batch).u(g0);
            let key = format!("conv2d_db_{}", t.name());
            let src = || source(t, BIAS_GRAD);
            if cout > 0 {
                ctx.launch_groups(
                    Launch {
                        key: &key,
                        source: &src,
                        buffers: &[&g.buffer, &db.buffer],
                        meta: &meta.0,
                        threads: 0,
                    },
                    (cout.min(MAX_GROUPS) as u32, 1, 1),
                );
            }
            Some(db)
        } else {
            None
        };
        Ok((dx, dw, db))
    }
}
