//! The wgpu implementation of [`crate::backend::OptimOps`].
//!
//! Each optimizer step is one fused launch, one thread per element: it reads the parameter,
//! its gradient (through the gradient's layout) and its state buffers, and writes them back
//! in place, with the CPU kernels' (`backend/cpu/optim.rs`) formulas in the same order, so
//! that trajectories agree to rounding. The optional state buffers (momentum, AMSGrad's
//! maximum, RMSprop's centered mean) select among a few shader variants, because every
//! binding a shader declares must be used; the other options are runtime parameters.
//!
//! `pow_abs_sum` is a grid-strided workgroup reduction to one partial per workgroup, read
//! back once and combined on the host in f64. It accumulates in f64 whenever the adapter
//! has f64 (as the CPU does), otherwise in f32.

use super::{WgpuStorage, ENTRY};
use crate::backend::wgpu::context::Launch;
use crate::backend::wgpu::kernel::{array_type, bytes_for, source, Meta};
use crate::backend::{AdagradStep, AdamStep, BackendResult, OptimOps, RmspropStep, SgdStep};
use crate::core::{DType, Layout};
use std::sync::Arc;

/// Workgroups of the norm reduction at most: enough to fill a GPU, few enough that the
/// partials read back are a few KiB.
const NORM_GROUPS: usize = 256;

/// NaN-aware helpers shared by the kernels: Rust's `f32::max` ignores a NaN operand (the
/// CPU's AMSGrad maximum), whereas WGSL's `max` leaves that case to the implementation.
const RUST_MAX: &str = "fn rust_max(a: T, b: T) -> T {
    if (is_nan(a)) {
        return b;
    }
    if (is_nan(b)) {
        return a;
    }
    return max(a, b);
}
";

/// The first element of the contiguous view `layout`, which in-place updates write.
/// Optimizers only hold contiguous parameters and clipping copies strided gradients first,
/// so anything else is a bug (as on the CPU).
#[track_caller]
fn contiguous_start(layout: &Layout, op: &str) -> usize {
    layout
        .contiguous_range()
        .unwrap_or_else(|| panic!("{op}: in-place updates need a contiguous tensor"))
        .start
}

/// Declarations of the buffers of an update kernel, bindings 1, 2, … in order: the
/// parameter and the state buffers read_write, the gradient read-only.
fn bindings(names: &[(&str, bool)]) -> String {
    names
        .iter()
        .enumerate()
        .map(|(k, (name, write))| {
            let access = if *write { "read_write" } else { "read" };
            format!(
                "@group(0) @binding({}) var<storage, {access}> {name}: array<T>;\n",
                k + 1
            )
        })
        .collect()
}

impl WgpuStorage {
    /// The gradient of an update of `self`, ready to bind beside it: same dtype (converted
    /// when it differs, as the CPU widens), and in a buffer of its own (copied when it
    /// shares the parameter's, which a kernel cannot bind twice).
    fn update_grad(&self, grad: (&WgpuStorage, &Layout)) -> BackendResult<(WgpuStorage, Layout)> {
        self.source_for_write(grad.0, grad.1)
    }

    /// Checks that a state buffer of an update fits the parameter and shares its dtype.
    #[track_caller]
    fn check_state(&self, state: &WgpuStorage, n: usize, op: &str) {
        assert_eq!(
            state.dtype, self.dtype,
            "{op}: state buffers share the parameter's dtype"
        );
        assert!(
            state.len >= n,
            "{op}: a state buffer of {} elements for a parameter of {n}",
            state.len
        );
        assert!(
            !Arc::ptr_eq(&state.buffer, &self.buffer),
            "{op}: a state buffer shares the parameter's storage"
        );
    }
}

impl OptimOps for WgpuStorage {
    fn sgd_step(
        &mut self,
        layout: &Layout,
        grad: (&Self, &Layout),
        momentum_buffer: Option<&mut Self>,
        step: SgdStep,
    ) -> BackendResult<()> {
        let t = self.compute_dtype("sgd");
        let n = layout.numel();
        let start = contiguous_start(layout, "sgd");
        let (g, gl) = self.update_grad(grad)?;
        // As on the CPU, momentum 0 ignores any buffer (plain SGD).
        let buf = if step.momentum != 0.0 {
            let b = momentum_buffer.unwrap_or_else(|| {
                panic!("sgd: momentum {} needs a momentum buffer", step.momentum)
            });
            self.check_state(b, n, "sgd");
            Some(b)
        } else {
            None
        };
        let momentum = buf.is_some();
        let mut names = vec![("prm", true), ("grd", false)];
        if momentum {
            names.push(("buf", true));
        }
        // params: n, start, lr, μ, τ, wd, nesterov, first step, then the gradient's view.
        let update = if momentum {
            "    var b = buf[i];
    if (params[7] != 0u) {
        b = g;
    } else {
        b = mu * b + (T(1.0) - scalar(4u)) * g;
    }
    buf[i] = b;
    var s = b;
    if (params[6] != 0u) {
        s = g + mu * b;
    }
    prm[k] = w + (-scalar(2u)) * s;"
        } else {
            "    prm[k] = w + (-scalar(2u)) * g;"
        };
        let text = format!(
            "{}{ENTRY}
    let k = params[1] + i;
    let w = prm[k];
    let mu = scalar(3u);
    let wd = scalar(5u);
    var g = grd[strided_offset(8u, i)];
    if (wd != T(0.0)) {{
        g = g + wd * w;
    }}
{update}
}}
",
            bindings(&names)
        );
        let src = || source(t, &text);
        let meta = Meta::new()
            .u(n)
            .u(start)
            .f(step.lr)
            .f(step.momentum)
            .f(step.dampening)
            .f(step.weight_decay)
            .u(step.nesterov as usize)
            .u(step.first_step as usize)
            .view(&gl);
        let mut buffers = vec![&self.buffer, &g.buffer];
        if let Some(b) = &buf {
            buffers.push(&b.buffer);
        }
        let key = format!("optim_sgd_{}_{}", momentum as u8, t.name());
        Self::run(self.ctx(), &key, &src, &buffers, meta, n);
        Ok(())
    }

    fn adam_step(
        &mut self,
        layout: &Layout,
        grad: (&Self, &Layout),
        exp_avg: &mut Self,
        exp_avg_sq: &mut Self,
        max_exp_avg_sq: Option<&mut Self>,
        step: AdamStep,
    ) -> BackendResult<()> {
        let t = self.compute_dtype("adam");
        let n = layout.numel();
        let start = contiguous_start(layout, "adam");
        let (g, gl) = self.update_grad(grad)?;
        self.check_state(exp_avg, n, "adam");
        self.check_state(exp_avg_sq, n, "adam");
        if let Some(vm) = &max_exp_avg_sq {
            self.check_state(vm, n, "adam");
        }
        let amsgrad = max_exp_avg_sq.is_some();
        let mut names = vec![("prm", true), ("grd", false), ("m", true), ("v", true)];
        if amsgrad {
            names.push(("vmax", true));
        }
        let second = if amsgrad {
            "    let second = rust_max(vmax[i], vi);
    vmax[i] = second;"
        } else {
            "    let second = vi;"
        };
        // params: n, start, β1, β2, eps, l2, step size, √(1−β2ᵗ), decay, the gradient's view.
        let text = format!(
            "{}{RUST_MAX}{ENTRY}
    let k = params[1] + i;
    let beta1 = scalar(2u);
    let beta2 = scalar(3u);
    let decay = scalar(8u);
    let l2 = scalar(5u);
    var w = prm[k];
    if (decay != T(1.0)) {{
        w = w * decay;
    }}
    var g = grd[strided_offset(9u, i)];
    if (l2 != T(0.0)) {{
        g = g + l2 * w;
    }}
    // m.lerp_(g, 1 − β1) as PyTorch writes it: m + (1 − β1)(g − m).
    var mi = m[i];
    mi = mi + (T(1.0) - beta1) * (g - mi);
    m[i] = mi;
    let vi = v[i] * beta2 + (T(1.0) - beta2) * g * g;
    v[i] = vi;
{second}
    let denom = sqrt(second) / scalar(7u) + scalar(4u);
    prm[k] = w + (-scalar(6u)) * (mi / denom);
}}
",
            bindings(&names)
        );
        let src = || source(t, &text);
        let meta = Meta::new()
            .u(n)
            .u(start)
            .f(step.beta1)
            .f(step.beta2)
            .f(step.eps)
            .f(step.l2)
            .f(step.step_size)
            .f(step.bias_correction2_sqrt)
            .f(step.decay_factor)
            .view(&gl);
        let mut buffers = vec![&self.buffer, &g.buffer, &exp_avg.buffer, &exp_avg_sq.buffer];
        if let Some(vm) = &max_exp_avg_sq {
            buffers.push(&vm.buffer);
        }
        let key = format!("optim_adam_{}_{}", amsgrad as u8, t.name());
        Self::run(self.ctx(), &key, &src, &buffers, meta, n);
        Ok(())
    }

    fn rmsprop_step(
        &mut self,
        layout: &Layout,
        grad: (&Self, &Layout),
        square_avg: &mut Self,
        grad_avg: Option<&mut Self>,
        momentum_buffer: Option<&mut Self>,
        step: RmspropStep,
    ) -> BackendResult<()> {
        let t = self.compute_dtype("rmsprop");
        let n = layout.numel();
        let start = contiguous_start(layout, "rmsprop");
        let (g, gl) = self.update_grad(grad)?;
        self.check_state(square_avg, n, "rmsprop");
        for s in [&grad_avg, &momentum_buffer].into_iter().flatten() {
            self.check_state(s, n, "rmsprop");
        }
        let (centered, momentum) = (grad_avg.is_some(), momentum_buffer.is_some());
        let mut names = vec![("prm", true), ("grd", false), ("sq", true)];
        if centered {
            names.push(("gavg", true));
        }
        if momentum {
            names.push(("mbuf", true));
        }
        let variance = if centered {
            "    var ga = gavg[i];
    ga = ga + (T(1.0) - alpha) * (g - ga);
    gavg[i] = ga;
    let variance = s2 - ga * ga;"
        } else {
            "    let variance = s2;"
        };
        let update = if momentum {
            "    let b = mbuf[i] * scalar(6u) + g / avg;
    mbuf[i] = b;
    prm[k] = w + (-scalar(2u)) * b;"
        } else {
            "    prm[k] = w + (-scalar(2u)) * (g / avg);"
        };
        // params: n, start, lr, α, eps, wd, μ, then the gradient's view.
        let text = format!(
            "{}{ENTRY}
    let k = params[1] + i;
    let alpha = scalar(3u);
    let wd = scalar(5u);
    let w = prm[k];
    var g = grd[strided_offset(7u, i)];
    if (wd != T(0.0)) {{
        g = g + wd * w;
    }}
    let s2 = sq[i] * alpha + (T(1.0) - alpha) * g * g;
    sq[i] = s2;
{variance}
    let avg = sqrt(variance) + scalar(4u);
{update}
}}
",
            bindings(&names)
        );
        let src = || source(t, &text);
        let meta = Meta::new()
            .u(n)
            .u(start)
            .f(step.lr)
            .f(step.alpha)
            .f(step.eps)
            .f(step.weight_decay)
            .f(step.momentum)
            .view(&gl);
        let mut buffers = vec![&self.buffer, &g.buffer, &square_avg.buffer];
        for s in [&grad_avg, &momentum_buffer].into_iter().flatten() {
            buffers.push(&s.buffer);
        }
        let key = format!(
            "optim_rmsprop_{}{}_{}",
            centered as u8,
            momentum as u8,
            t.name()
        );
        Self::run(self.ctx(), &key, &src, &buffers, meta, n);
        Ok(())
    }

    fn adagrad_step(
        &mut self,
        layout: &Layout,
        grad: (&Self, &Layout),
        sum: &mut Self,
        step: AdagradStep,
    ) -> BackendResult<()> {
        let t = self.compute_dtype("adagrad");
        let n = layout.numel();
        let start = contiguous_start(layout, "adagrad");
        let (g, gl) = self.update_grad(grad)?;
        self.check_state(sum, n, "adagrad");
        let names = [("prm", true), ("grd", false), ("acc", true)];
        // params: n, start, clr, eps, wd, then the gradient's view.
        let text = format!(
            "{}{ENTRY}
    let k = params[1] + i;
    let wd = scalar(4u);
    let w = prm[k];
    var g = grd[strided_offset(5u, i)];
    if (wd != T(0.0)) {{
        g = g + wd * w;
    }}
    let s = acc[i] + g * g;
    acc[i] = s;
    prm[k] = w + (-scalar(2u)) * (g / (sqrt(s) + scalar(3u)));
}}
",
            bindings(&names)
        );
        let src = || source(t, &text);
        let meta = Meta::new()
            .u(n)
            .u(start)
            .f(step.clr)
            .f(step.eps)
            .f(step.weight_decay)
            .view(&gl);
        let key = format!("optim_adagrad_{}", t.name());
        Self::run(
            self.ctx(),
            &key,
            &src,
            &[&self.buffer, &g.buffer, &sum.buffer],
            meta,
            n,
        );
        Ok(())
    }

    fn pow_abs_sum(&self, layout: &Layout, p: f32) -> BackendResult<f64> {
        let data = self.compute_dtype("clip_grad_norm_");
        let n = layout.numel();
        if n == 0 {
            return Ok(0.0);
        }
        let ctx = self.ctx();
        // The CPU accumulates in f64; so does this kernel wherever the adapter allows it.
        let acc = if ctx.has_f64() {
            DType::F64
        } else {
            DType::F32
        };
        // 0: Σ |x|ᵖ, 1: Σ x² (p = 2, exact squares as on the CPU), 2: max |x|.
        let mode = if p.is_infinite() {
            2
        } else if p == 2.0 {
            1
        } else {
            0
        };
        let groups = n.div_ceil(256).min(NORM_GROUPS);
        let out = WgpuStorage::empty(ctx, groups, acc)?;
        // The max skips NaN (`a > best` is false for it), as the CPU's fold of f64::max
        // does; sums propagate it.
        let text = format!(
            "@group(0) @binding(1) var<storage, read> x: {data_array};
@group(0) @binding(2) var<storage, read_write> partial: array<T>;
var<workgroup> tile: array<T, 256>;
fn combine(a: T, b: T) -> T {{
    if (params[1] == 2u) {{
        return select(a, b, b > a);
    }}
    return a + b;
}}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>, @builtin(local_invocation_index) local: u32) {{
    let n = params[0];
    let mode = params[1];
    let p = scalar(2u);
    var total = T(0.0);
    for (var j = group.x * 256u + local; j < n; j = j + groups.x * 256u) {{
        let a = abs(T(x[strided_offset(3u, j)]));
        if (mode == 2u) {{
            if (a > total) {{
                total = a;
            }}
        }} else if (mode == 1u) {{
            total = total + a * a;
        }} else {{
            total = total + t_pow(a, p);
        }}
    }}
    tile[local] = total;
    workgroupBarrier();
    for (var width = 128u; width > 0u; width = width >> 1u) {{
        if (local < width) {{
            tile[local] = combine(tile[local], tile[local + width]);
        }}
        workgroupBarrier();
    }}
    if (local == 0u) {{
        partial[group.x] = tile[0];
    }}
}}
",
            data_array = array_type(data)
        );
        let src = || source(acc, &text);
        let meta = Meta::new().u(n).u(mode).f(p).view(layout);
        let key = format!("optim_pow_abs_sum_{}_{}", data.name(), acc.name());
        ctx.launch_groups(
            Launch {
                key: &key,
                source: &src,
                buffers: &[&self.buffer, &out.buffer],
                meta: &meta.0,
                threads: 0,
            },
            (groups as u32, 1, 1),
        );
        let bytes = ctx.read(&out.buffer, bytes_for(acc, groups))?;
        let partials: Vec<f64> = match acc {
            DType::F64 => bytemuck::pod_collect_to_vec(&bytes),
            _ => bytemuck::pod_collect_to_vec::<u8, f32>(&bytes)
                .into_iter()
                .map(f64::from)
                .collect(),
        };
        Ok(if mode == 2 {
            partials.into_iter().fold(0.0f64, f64::max)
        } else {
            partials.into_iter().sum()
        })
    }

    fn scale_(&mut self, layout: &Layout, factor: f32) -> BackendResult<()> {
        let t = self.compute_dtype("scale_");
        let n = layout.numel();
        let start = contiguous_start(layout, "scale_");
        let text = format!(
            "@group(0) @binding(1) var<storage, read_write> x: array<T>;
{ENTRY}
    let k = params[1] + i;
    x[k] = x[k] * scalar(2u);
}}
"
        );
        let src = || source(t, &text);
        let meta = Meta::new().u(n).u(start).f(factor);
        let key = format!("optim_scale_{}", t.name());
        Self::run(self.ctx(), &key, &src, &[&self.buffer], meta, n);
        Ok(())
    }

    fn clamp_abs_(&mut self, layout: &Layout, limit: f32) -> BackendResult<()> {
        let t = self.compute_dtype("clamp_");
        // Rust's clamp (the CPU's) refuses an empty or NaN range.
        assert!(
            -limit <= limit,
            "clamp_: the limit must be non-negative, got {limit}"
        );
        let n = layout.numel();
        let start = contiguous_start(layout, "clamp_");
        // Two comparisons, as Rust's clamp: NaN stays NaN (WGSL's clamp leaves it open).
        let text = format!(
            "@group(0) @binding(1) var<storage, read_write> x: array<T>;
{ENTRY}
    let k = params[1] + i;
    let limit = scalar(2u);
    var v = x[k];
    if (v < -limit) {{
        v = -limit;
    }}
    if (v > limit) {{
        v = limit;
    }}
    x[k] = v;
}}
"
        );
        let src = || source(t, &text);
        let meta = Meta::new().u(n).u(start).f(limit);
        let key = format!("optim_clamp_abs_{}", t.name());
        Self::run(self.ctx(), &key, &src, &[&self.buffer], meta, n);
        Ok(())
    }
}
