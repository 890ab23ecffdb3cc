//! The wgpu implementation of [`crate::backend::LinearOps`]: the forward pass on the tiled
//! product of `matmul.rs` with the bias added in its epilogue, and the bias gradient as a
//! column sum.

use super::matmul::batched_product;
use super::WgpuStorage;
use crate::backend::wgpu::context::Launch;
use crate::backend::wgpu::kernel::{source, to_u32};
use crate::backend::{BackendResult, LinearOps};
use crate::core::Layout;

/// Most workgroups along one grid dimension (WebGPU's guaranteed limit).
const MAX_GROUPS_PER_DIM: usize = 65535;
/// Columns one workgroup of the column sum covers (its threads are `COLS × LANES`).
const COLS: usize = 32;
/// Rows one workgroup of the column sum adds up, at least: more rows per group mean fewer
/// passes, fewer rows more groups at work.
const ROWS_PER_GROUP: usize = 1024;

/// The column sum: workgroup `(x, y)` adds rows `[y·R, (y+1)·R)` of 32 columns, each of its
/// 8 lanes of 32 threads every 8th row, then the lanes are combined in workgroup memory.
/// Consecutive threads read consecutive columns (coalesced for row-major gradients).
///
/// Parameters: `m n rows_per_group offset row_stride col_stride`; the output is
/// `(groups_y × n)` row-major.
const COLUMN_SUM: &str = "const COLS: u32 = 32u;
const LANES: u32 = 8u;
var<workgroup> partial: array<T, 256>;
@group(0) @binding(1) var<storage, read> g: array<T>;
@group(0) @binding(2) var<storage, read_write> sums: array<T>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>, @builtin(local_invocation_index) local: u32) {
    let m = params[0];
    let n = params[1];
    let per_group = params[2];
    let col = (group.z * groups.x + group.x) * COLS + local % COLS;
    let lane = local / COLS;
    let first = group.y * per_group;
    let end = min(m, first + per_group);
    var acc = T(0.0);
    if (col < n) {
        for (var row = first + lane; row < end; row = row + LANES) {
            acc = acc + g[params[3] + row * params[4] + col * params[5]];
        }
    }
    partial[local] = acc;
    workgroupBarrier();
    for (var half = LANES / 2u; half > 0u; half = half / 2u) {
        if (lane < half) {
            partial[local] = partial[local] + partial[local + half * COLS];
        }
        workgroupBarrier();
    }
    if (lane == 0u && col < n) {
        sums[group.y * n + col] = partial[local];
    }
}
";

impl LinearOps for WgpuStorage {
    fn linear(
        &self,
        layout: &Layout,
        weight: &Self,
        weight_layout: &Layout,
        bias: Option<(&Self, &Layout)>,
    ) -> BackendResult<Self> {
        let (wd, ws) = (weight_layout.dims(), &weight_layout.strides);
        assert_eq!(wd.len(), 2, "linear: a 2-D weight, got {wd:?}");
        // Wᵀ (k×n) is W (n×k) with its strides swapped: read in place, not copied.
        let wt = Layout {
            shape: vec![wd[1], wd[0]].into(),
            strides: vec![ws[1], ws[0]],
            offset: weight_layout.offset,
        };
        batched_product((self, layout), (weight, &wt), &[], bias)
    }

    fn linear_bias_grad(&self, layout: &Layout) -> BackendResult<Self> {
        let t = self.compute_dtype("linear_bias_grad");
        let (m, n) = (layout.dims()[0], layout.dims()[1]);
        let ctx = self.ctx();
        if n == 0 {
            return WgpuStorage::empty(ctx, 0, t);
        }
        let src = || source(t, COLUMN_SUM);
        let key = format!("linear_bias_grad_{}", t.name());
        let blocks = n.div_ceil(COLS);
        let (gx, gz) = (
            blocks.min(MAX_GROUPS_PER_DIM),
            blocks.div_ceil(MAX_GROUPS_PER_DIM),
        );
        // Each pass sums blocks of rows into one partial row per block, until one row is
        // left. The first pass reads the gradient through its strides.
        let mut input = self.shallow();
        let (mut rows, mut offset, mut rs, mut cs) =
            (m, layout.offset, layout.strides[0], layout.strides[1]);
        loop {
            let per_group = ROWS_PER_GROUP.max(rows.div_ceil(MAX_GROUPS_PER_DIM));
            let gy = rows.div_ceil(per_group).max(1);
            let out = WgpuStorage::empty(ctx, gy * n, t)?;
            let meta: Vec<u32> = [rows, n, per_group, offset, rs, cs]
                .iter()
                .map(|&v| to_u32(v))
                .collect();
            ctx.launch_groups(
                Launch {
                    key: &key,
                    source: &src,
                    buffers: &[&input.buffer, &out.buffer],
                    meta: &meta,
                    threads: 0,
                },
                (to_u32(gx), to_u32(gy), to_u32(gz)),
            );
            if gy == 1 {
                return Ok(out);
            }
            (input, rows, offset, rs, cs) = (out, gy, 0, n, 1);
        }
    }
}
