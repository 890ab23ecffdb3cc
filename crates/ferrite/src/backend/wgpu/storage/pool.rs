//! The wgpu implementation of [`crate::backend::PoolOps`].
//!
//! Every kernel is one thread per element it writes, with the CPU kernels' (`cpu/pool.rs`)
//! window rules and summation order, so that results agree to rounding (and mostly to the
//! bit):
//! - the forward passes run one thread per output, looping over its window;
//! - the backward passes run one thread per input element, gathering the outputs whose
//!   window holds it in ascending output order (the order the CPU scatters them in). No
//!   atomics, so the result is deterministic.

use super::{WgpuStorage, ENTRY};
use crate::backend::wgpu::kernel::{source, Meta};
use crate::backend::{BackendResult, PoolOps};
use crate::core::{AvgDivisor, DType, Layout, PoolGeometry};

/// A storage whose row-major data for `layout` starts at the returned element: the storage
/// itself when the view is contiguous (kernels then read from that offset), a row-major copy
/// otherwise.
pub(crate) fn flat_view(s: &WgpuStorage, layout: &Layout) -> BackendResult<(WgpuStorage, usize)> {
    if layout.is_contiguous() {
        Ok((s.shallow(), layout.offset))
    } else {
        Ok((s.contiguous_view(layout)?, 0))
    }
}

/// The parameter words every pooling kernel reads after `params[0]` (the thread count) and
/// `params[1]` (the input's first element): the geometry.
fn geometry_meta(meta: Meta, geo: &PoolGeometry) -> Meta {
    meta.u(geo.in_size[0])
        .u(geo.in_size[1])
        .u(geo.out_size[0])
        .u(geo.out_size[1])
        .u(geo.kernel[0])
        .u(geo.kernel[1])
        .u(geo.stride[0])
        .u(geo.stride[1])
        .u(geo.pad[0])
        .u(geo.pad[1])
        .u(geo.dilation[0])
        .u(geo.dilation[1])
}

/// WGSL shared by the pooling kernels: the geometry's parameter words (see
/// [`geometry_meta`]) and the window rules of `cpu/pool.rs`.
const POOL_COMMON: &str = "
struct Geo {
    h: u32, w: u32, oh: u32, ow: u32,
    kh: u32, kw: u32, sh: u32, sw: u32,
    ph: u32, pw: u32, dh: u32, dw: u32,
}

fn geo() -> Geo {
    return Geo(params[2], params[3], params[4], params[5], params[6], params[7],
        params[8], params[9], params[10], params[11], params[12], params[13]);
}

// The taps k in [lo, hi) of a max-pooling window starting at `start` whose input position
// start + k·dil lies in [0, size) (cpu/pool.rs `taps`).
fn taps(start: i32, kernel: u32, dil: u32, size: u32) -> vec2<u32> {
    let d = i32(dil);
    var lo = 0u;
    if (start < 0) {
        lo = u32((-start + d - 1) / d);
    }
    let room = i32(size) - start;
    var hi = 0u;
    if (room > 0) {
        hi = min(u32((room + d - 1) / d), kernel);
    }
    return vec2<u32>(min(lo, hi), hi);
}

// An average-pooling window of output o: the input range [lo, hi) and the extent its divisor
// counts with the padding (cpu/pool.rs `window`).
fn window(o: u32, stride: u32, pad: u32, kernel: u32, size: u32) -> vec3<u32> {
    let start = i32(o * stride) - i32(pad);
    let end_padded = min(start + i32(kernel), i32(size + pad));
    let lo = max(start, 0);
    let hi = max(min(end_padded, i32(size)), lo);
    return vec3<u32>(u32(lo), u32(hi), u32(end_padded - start));
}

// The outputs [lo, hi) of `out` whose window span [o·s − p, o·s − p + (k − 1)·d] holds input i.
fn outputs_over(i: u32, kernel: u32, stride: u32, pad: u32, dil: u32, out: u32) -> vec2<u32> {
    let t = i + pad;
    let reach = (kernel - 1u) * dil;
    let hi = min(t / stride + 1u, out);
    var lo = 0u;
    if (t > reach) {
        lo = (t - reach + stride - 1u) / stride;
    }
    return vec2<u32>(min(lo, hi), hi);
}

// Adaptive pooling's window of output o of `out` over n inputs: [⌊o·n/out⌋, ⌈(o+1)·n/out⌉).
fn adaptive_range(o: u32, n: u32, out: u32) -> vec2<u32> {
    return vec2<u32>(o * n / out, ((o + 1u) * n + out - 1u) / out);
}
";

/// Max pooling, one thread per output: taps in row-major order, a later one winning when
/// larger or NaN; the arg-max starts at the first valid tap, as on the CPU. The input is
/// bound a second time as words (`xbits`), and NaN is recognised from its bits: a driver
/// may fold the f64 `x != x` to false (Mesa's llvmpipe does).
const MAX_FORWARD: &str = "
@group(0) @binding(1) var<storage, read> x: array<T>;
@group(0) @binding(2) var<storage, read> xbits: array<u32>;
@group(0) @binding(3) var<storage, read_write> y: array<T>;
@group(0) @binding(4) var<storage, read_write> arg: array<u32>;
";

/// Whether input element `k` is a NaN, from its f32 bits.
const NAN_AT_F32: &str = "
fn nan_at(k: u32) -> bool {
    return (xbits[k] & 0x7fffffffu) > 0x7f800000u;
}
";

/// Whether input element `k` is a NaN, from its f64 bits (low word, then high word).
const NAN_AT_F64: &str = "
fn nan_at(k: u32) -> bool {
    let hi = xbits[2u * k + 1u] & 0x7fffffffu;
    return hi > 0x7ff00000u || (hi == 0x7ff00000u && xbits[2u * k] != 0u);
}
";
const MAX_FORWARD_BODY: &str = "
    let g = geo();
    let op = g.oh * g.ow;
    let plane = i / op;
    let oy = (i % op) / g.ow;
    let ox = i % g.ow;
    let y0 = i32(oy * g.sh) - i32(g.ph);
    let x0 = i32(ox * g.sw) - i32(g.pw);
    let ty = taps(y0, g.kh, g.dh, g.h);
    let tx = taps(x0, g.kw, g.dw, g.w);
    let first_row = u32(max(y0 + i32(ty.x * g.dh), 0));
    let first_col = u32(max(x0 + i32(tx.x * g.dw), 0));
    let base = params[1] + plane * g.h * g.w;
    var best = -infinity();
    var best_at = first_row * g.w + first_col;
    for (var ki = ty.x; ki < ty.y; ki = ki + 1u) {
        let row = u32(y0 + i32(ki * g.dh)) * g.w;
        for (var kj = tx.x; kj < tx.y; kj = kj + 1u) {
            let at = row + u32(x0 + i32(kj * g.dw));
            let v = x[base + at];
            if (v > best || nan_at(base + at)) {
                best = v;
                best_at = at;
            }
        }
    }
    y[i] = best;
    arg[2u * i] = best_at;
    arg[2u * i + 1u] = 0u;
}
";

/// The max-pooling gradient, one thread per input element: the outputs whose window span
/// holds it and whose arg-max is it, summed in output order.
const MAX_BACKWARD: &str = "
@group(0) @binding(1) var<storage, read> gout: array<T>;
@group(0) @binding(2) var<storage, read> arg: array<u32>;
@group(0) @binding(3) var<storage, read_write> dx: array<T>;
";
const MAX_BACKWARD_BODY: &str = "
    let g = geo();
    let ip = g.h * g.w;
    let op = g.oh * g.ow;
    let plane = i / ip;
    let q = i % ip;
    let ry = outputs_over(q / g.w, g.kh, g.sh, g.ph, g.dh, g.oh);
    let rx = outputs_over(q % g.w, g.kw, g.sw, g.pw, g.dw, g.ow);
    let a0 = params[14];
    var acc = T(0.0);
    for (var oy = ry.x; oy < ry.y; oy = oy + 1u) {
        for (var ox = rx.x; ox < rx.y; ox = ox + 1u) {
            let o = plane * op + oy * g.ow + ox;
            let a = 2u * (a0 + o);
            if (arg[a] == q && arg[a + 1u] == 0u) {
                acc = acc + gout[params[1] + o];
            }
        }
    }
    dx[i] = acc;
}
";

/// Average pooling, one thread per output: row sums added up, over the divisor
/// `params[14]` selects (0: with the padding, 1: without, 2: `params[15]`).
const AVG_FORWARD: &str = "
@group(0) @binding(1) var<storage, read> x: array<T>;
@group(0) @binding(2) var<storage, read_write> y: array<T>;

fn divisor(ry: vec3<u32>, rx: vec3<u32>) -> T {
    switch params[14] {
        case 0u: { return T(ry.z * rx.z); }
        case 1u: { return T((ry.y - ry.x) * (rx.y - rx.x)); }
        default: { return T(params[15]); }
    }
}
";
const AVG_FORWARD_BODY: &str = "
    let g = geo();
    let op = g.oh * g.ow;
    let plane = i / op;
    let oy = (i % op) / g.ow;
    let ox = i % g.ow;
    let ry = window(oy, g.sh, g.ph, g.kh, g.h);
    let rx = window(ox, g.sw, g.pw, g.kw, g.w);
    let base = params[1] + plane * g.h * g.w;
    var sum = T(0.0);
    for (var iy = ry.x; iy < ry.y; iy = iy + 1u) {
        var row = T(0.0);
        for (var ix = rx.x; ix < rx.y; ix = ix + 1u) {
            row = row + x[base + iy * g.w + ix];
        }
        sum = sum + row;
    }
    y[i] = sum / divisor(ry, rx);
}
";

/// The average-pooling gradient, one thread per input element: each output whose window
/// holds it contributes its gradient over its divisor, in output order.
const AVG_BACKWARD: &str = "
@group(0) @binding(1) var<storage, read> gout: array<T>;
@group(0) @binding(2) var<storage, read_write> dx: array<T>;

fn divisor(ry: vec3<u32>, rx: vec3<u32>) -> T {
    switch params[14] {
        case 0u: { return T(ry.z * rx.z); }
        case 1u: { return T((ry.y - ry.x) * (rx.y - rx.x)); }
        default: { return T(params[15]); }
    }
}
";
const AVG_BACKWARD_BODY: &str = "
    let g = geo();
    let ip = g.h * g.w;
    let plane = i / ip;
    let iy = (i % ip) / g.w;
    let ix = i % g.w;
    // Average pooling has no dilation: the window spans kernel inputs.
    let cy = outputs_over(iy, g.kh, g.sh, g.ph, 1u, g.oh);
    let cx = outputs_over(ix, g.kw, g.sw, g.pw, 1u, g.ow);
    let base = params[1] + plane * g.oh * g.ow;
    var acc = T(0.0);
    for (var oy = cy.x; oy < cy.y; oy = oy + 1u) {
        let ry = window(oy, g.sh, g.ph, g.kh, g.h);
        if (iy < ry.x || iy >= ry.y) {
            continue;
        }
        for (var ox = cx.x; ox < cx.y; ox = ox + 1u) {
            let rx = window(ox, g.sw, g.pw, g.kw, g.w);
            if (ix < rx.x || ix >= rx.y) {
                continue;
            }
            acc = acc + gout[base + oy * g.ow + ox] / divisor(ry, rx);
        }
    }
    dx[i] = acc;
}
";

/// Adaptive average pooling, one thread per output.
const ADAPTIVE_FORWARD: &str = "
@group(0) @binding(1) var<storage, read> x: array<T>;
@group(0) @binding(2) var<storage, read_write> y: array<T>;
";
const ADAPTIVE_FORWARD_BODY: &str = "
    let g = geo();
    let op = g.oh * g.ow;
    let plane = i / op;
    let oy = (i % op) / g.ow;
    let ox = i % g.ow;
    let ry = adaptive_range(oy, g.h, g.oh);
    let rx = adaptive_range(ox, g.w, g.ow);
    let base = params[1] + plane * g.h * g.w;
    var sum = T(0.0);
    for (var iy = ry.x; iy < ry.y; iy = iy + 1u) {
        var row = T(0.0);
        for (var ix = rx.x; ix < rx.y; ix = ix + 1u) {
            row = row + x[base + iy * g.w + ix];
        }
        sum = sum + row;
    }
    y[i] = sum / T((ry.y - ry.x) * (rx.y - rx.x));
}
";

/// The adaptive-pooling gradient, one thread per input element: outputs
/// `⌊i·out/n⌋ .. ⌈(i+1)·out/n⌉` are the ones whose window holds input `i`.
const ADAPTIVE_BACKWARD: &str = "
@group(0) @binding(1) var<storage, read> gout: array<T>;
@group(0) @binding(2) var<storage, read_write> dx: array<T>;
";
const ADAPTIVE_BACKWARD_BODY: &str = "
    let g = geo();
    let ip = g.h * g.w;
    let plane = i / ip;
    let iy = (i % ip) / g.w;
    let ix = i % g.w;
    let cy = adaptive_range(iy, g.oh, g.h);
    let cx = adaptive_range(ix, g.ow, g.w);
    let base = params[1] + plane * g.oh * g.ow;
    var acc = T(0.0);
    for (var oy = cy.x; oy < min(cy.y, g.oh); oy = oy + 1u) {
        let ry = adaptive_range(oy, g.h, g.oh);
        if (iy < ry.x || iy >= ry.y) {
            continue;
        }
        for (var ox = cx.x; ox < min(cx.y, g.ow); ox = ox + 1u) {
            let rx = adaptive_range(ox, g.w, g.ow);
            if (ix < rx.x || ix >= rx.y) {
                continue;
            }
            acc = acc + gout[base + oy * g.ow + ox] / T((ry.y - ry.x) * (rx.y - rx.x));
        }
    }
    dx[i] = acc;
}
";

/// The full text of a pooling kernel: bindings (and helpers), the shared window rules, and
/// the body inside the standard entry point.
fn pool_source(t: DType, bindings: &str, body: &str) -> String {
    source(t, &format!("{bindings}{POOL_COMMON}{ENTRY}{body}"))
}

/// The divisor rule as `params[14]` and the fixed divisor as `params[15]`.
fn divisor_words(divisor: AvgDivisor) -> (usize, usize) {
    match divisor {
        AvgDivisor::IncludePad => (0, 0),
        AvgDivisor::ExcludePad => (1, 0),
        AvgDivisor::Fixed(d) => (2, d),
    }
}

/// The geometry of an adaptive pooling in the shape the shared kernels read (only sizes
/// matter to the adaptive kernels).
fn adaptive_geometry(planes: usize, in_size: [usize; 2], out_size: [usize; 2]) -> PoolGeometry {
    PoolGeometry {
        planes,
        in_size,
        kernel: [1, 1],
        stride: [1, 1],
        pad: [0, 0],
        dilation: [1, 1],
        out_size,
    }
}

impl WgpuStorage {
    /// One launch of a pooling kernel that reads `self` (binding 1) and writes a new buffer
    /// of `threads` elements (binding 2), one thread each; `tail` follows the geometry in
    /// the parameters.
    fn pool_launch(
        &self,
        layout: &Layout,
        name: &str,
        (bindings, body): (&str, &str),
        geo: &PoolGeometry,
        tail: &[usize],
        threads: usize,
    ) -> BackendResult<WgpuStorage> {
        let t = self.compute_dtype(name);
        let (x, x0) = flat_view(self, layout)?;
        let out = WgpuStorage::empty(self.ctx(), threads, t)?;
        let mut meta = geometry_meta(Meta::new().u(threads).u(x0), geo);
        for &w in tail {
            meta = meta.u(w);
        }
        let src = || pool_source(t, bindings, body);
        let key = format!("{name}_{}", t.name());
        WgpuStorage::run(
            self.ctx(),
            &key,
            &src,
            &[&x.buffer, &out.buffer],
            meta,
            threads,
        );
        Ok(out)
    }
}

impl PoolOps for WgpuStorage {
    fn max_pool2d(&self, layout: &Layout, geo: &PoolGeometry) -> BackendResult<(Self, Self)> {
        let t = self.compute_dtype("max_pool2d");
        let ctx = self.ctx();
        let n = geo.planes * geo.out_plane();
        let (x, x0) = flat_view(self, layout)?;
        let out = WgpuStorage::empty(ctx, n, t)?;
        let arg = WgpuStorage::empty(ctx, n, DType::I64)?;
        let meta = geometry_meta(Meta::new().u(n).u(x0), geo);
        let nan_at = if t == DType::F64 {
            NAN_AT_F64
        } else {
            NAN_AT_F32
        };
        let bindings = format!("{MAX_FORWARD}{nan_at}");
        let src = || pool_source(t, &bindings, MAX_FORWARD_BODY);
        let key = format!("max_pool2d_{}", t.name());
        let buffers = [&x.buffer, &x.buffer, &out.buffer, &arg.buffer];
        WgpuStorage::run(ctx, &key, &src, &buffers, meta, n);
        Ok((out, arg))
    }

    fn max_pool2d_backward(
        &self,
        layout: &Layout,
        argmax: (&Self, &Layout),
        geo: &PoolGeometry,
    ) -> BackendResult<Self> {
        let t = self.compute_dtype("max_pool2d_backward");
        assert_eq!(
            argmax.0.dtype,
            DType::I64,
            "max_pool2d_backward: the arg-max is an index (i64) storage"
        );
        let ctx = self.ctx();
        let n = geo.planes * geo.in_plane();
        let (g, g0) = flat_view(self, layout)?;
        let (a, a0) = flat_view(argmax.0, argmax.1)?;
        let dx = WgpuStorage::empty(ctx, n, t)?;
        let meta = geometry_meta(Meta::new().u(n).u(g0), geo).u(a0);
        let src = || pool_source(t, MAX_BACKWARD, MAX_BACKWARD_BODY);
        let key = format!("max_pool2d_backward_{}", t.name());
        WgpuStorage::run(
            ctx,
            &key,
            &src,
            &[&g.buffer, &a.buffer, &dx.buffer],
            meta,
            n,
        );
        Ok(dx)
    }

    fn avg_pool2d(
        &self,
        layout: &Layout,
        geo: &PoolGeometry,
        divisor: AvgDivisor,
    ) -> BackendResult<Self> {
        let (mode, fixed) = divisor_words(divisor);
        let n = geo.planes * geo.out_plane();
        let kernel = (AVG_FORWARD, AVG_FORWARD_BODY);
        self.pool_launch(layout, "avg_pool2d", kernel, geo, &[mode, fixed], n)
    }

    fn avg_pool2d_backward(
        &self,
        layout: &Layout,
        geo: &PoolGeometry,
        divisor: AvgDivisor,
    ) -> BackendResult<Self> {
        let (mode, fixed) = divisor_words(divisor);
        let n = geo.planes * geo.in_plane();
        let kernel = (AVG_BACKWARD, AVG_BACKWARD_BODY);
        self.pool_launch(
            layout,
            "avg_pool2d_backward",
            kernel,
            geo,
            &[mode, fixed],
            n,
        )
    }

    fn adaptive_avg_pool2d(
        &self,
        layout: &Layout,
        planes: usize,
        in_size: [usize; 2],
        out_size: [usize; 2],
    ) -> BackendResult<Self> {
        let geo = adaptive_geometry(planes, in_size, out_size);
        let n = planes * geo.out_plane();
        let kernel = (ADAPTIVE_FORWARD, ADAPTIVE_FORWARD_BODY);
        self.pool_launch(layout, "adaptive_avg_pool2d", kernel, &geo, &[], n)
    }

    fn adaptive_avg_pool2d_backward(
        &self,
        layout: &Layout,
        planes: usize,
        in_size: [usize; 2],
        out_size: [usize; 2],
    ) -> BackendResult<Self> {
        let geo = adaptive_geometry(planes, in_size, out_size);
        let n = planes * geo.in_plane();
        let kernel = (ADAPTIVE_BACKWARD, ADAPTIVE_BACKWARD_BODY);
        self.pool_launch(layout, "adaptive_avg_pool2d_backward", kernel, &geo, &[], n)
    }
}
