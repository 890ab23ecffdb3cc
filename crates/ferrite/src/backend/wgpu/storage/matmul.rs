//! The wgpu implementation of [`crate::backend::MatmulOps`]: one tiled product kernel that
//! every matrix product of the backend runs on (batched `matmul`, and `linear` with its bias
//! added in the kernel's epilogue).
//!
//! Each workgroup of 256 threads computes one square tile of the output, 64×64 or 128×128,
//! each thread a 4×4 or 8×8 block of it in registers. K is stepped in slices staged in
//! workgroup memory: a `BM×BK` slice of A and a `BK×BN` slice of B, both stored k-major, so
//! that the inner loop reads a thread's rows of A and columns of B as `vec4` loads. Operands
//! are read through their strides (a transposed view costs no copy), with the load pattern
//! chosen so that neighbouring threads read neighbouring addresses of either orientation.
//! Edges (M, N, K not multiples of the tile) are padded with zeros on load and masked on
//! store.

use super::WgpuStorage;
use crate::backend::wgpu::context::Launch;
use crate::backend::wgpu::kernel::{source, to_u32};
use crate::backend::{BackendResult, MatmulOps};
use crate::core::{DType, Layout};

/// Most workgroups along one grid dimension (WebGPU's guaranteed limit).
const MAX_GROUPS_PER_DIM: usize = 65535;

/// The large tile is used only when its grid still has this many workgroups: below that a
/// big GPU would sit partly idle, and the small tile's four times as many groups fill it
/// better.
const LARGE_TILE_MIN_GROUPS: usize = 256;

/// The shape of the work of one workgroup of the product kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Tiling {
    /// Rows (and columns) of a thread's register block; the tile is `16·r` square, as the
    /// 256 threads form a 16×16 grid.
    r: usize,
    /// The K extent of one slice staged in workgroup memory.
    bk: usize,
    /// Elements appended to each k-row of a staged slice, so that stores of a slice read
    /// k-fast (row-major A) land in distinct memory banks.
    pad: usize,
}

impl Tiling {
    /// The tile for a product of `count` matrices of `m×n`, in `t`. Staged slices stay
    /// within 16 KiB of workgroup memory (the guaranteed limit).
    fn choose(t: DType, count: usize, m: usize, n: usize) -> Tiling {
        let large_groups = count * m.div_ceil(128) * n.div_ceil(128);
        let large = m > 64 && n > 64 && large_groups >= LARGE_TILE_MIN_GROUPS;
        match (large, t) {
            // 2 · 8 · 128 · 8 bytes = 16 KiB: no room for padding.
            (true, DType::F64) => Tiling {
                r: 8,
                bk: 8,
                pad: 0,
            },
            (true, _) => Tiling {
                r: 8,
                bk: 8,
                pad: 4,
            },
            (false, DType::F64) => Tiling {
                r: 4,
                bk: 8,
                pad: 4,
            },
            (false, _) => Tiling {
                r: 4,
                bk: 16,
                pad: 4,
            },
        }
    }

    /// The tile's side.
    fn side(&self) -> usize {
        16 * self.r
    }
}

/// The WGSL of the product kernel for `tiling`, with or without a bias added to each row.
///
/// A thread's `r×r` block is made of 4×4 quads spaced 64 apart in both directions (thread
/// `(tx, ty)` owns rows `ty·4 + 64·p + i` and columns `tx·4 + 64·q + j`), so that the
/// `vec4` reads of a staged slice by neighbouring threads are neighbouring (no bank
/// conflicts) and a warp's stores cover whole runs of columns. The next slice is fetched into
/// registers while the current one is multiplied, hiding the global loads' latency.
///
/// Parameters: `m n k tiles_n tiles_m groups a_off a_rs a_cs b_off b_rs b_cs a_kfast b_nfast
/// bias_off bias_stride rank dims[rank] a_batch_strides[rank] b_batch_strides[rank]`.
fn product_source(t: DType, tiling: Tiling, bias: bool) -> String {
    let Tiling { r, bk, pad } = tiling;
    let bm = tiling.side();
    let ld = bm + pad;
    let loads = bm * bk / 256;
    let quads = r / 4;
    let lanes = ["x", "y", "z", "w"];
    // Per staged element a thread loads: its slot in the slice and its address at k0 = 0,
    // computed once; then the fetch of a slice into registers, and their store.
    let mut setup = String::new();
    let mut fetch = String::new();
    let mut stage = String::new();
    for j in 0..loads {
        setup.push_str(&format!(
            "    let e_{j} = local + {off}u;
    var ra_{j} = e_{j} % BM;
    var ka_{j} = e_{j} / BM;
    if (a_kfast) {{
        ra_{j} = e_{j} / BK;
        ka_{j} = e_{j} % BK;
    }}
    let slot_a_{j} = ka_{j} * LD + ra_{j};
    let in_a_{j} = row0 + ra_{j} < m;
    let at_a_{j} = a_base + (row0 + ra_{j}) * a_rs + ka_{j} * a_cs;
    var cb_{j} = e_{j} % BM;
    var kb_{j} = e_{j} / BM;
    if (!b_nfast) {{
        cb_{j} = e_{j} / BK;
        kb_{j} = e_{j} % BK;
    }}
    let slot_b_{j} = kb_{j} * LD + cb_{j};
    let in_b_{j} = col0 + cb_{j} < n;
    let at_b_{j} = b_base + kb_{j} * b_rs + (col0 + cb_{j}) * b_cs;
    var va_{j} = T(0.0);
    var vb_{j} = T(0.0);
",
            off = 256 * j
        ));
        fetch.push_str(&format!(
            "    va_{j} = T(0.0);
    if (in_a_{j} && k0 + ka_{j} < k) {{
        va_{j} = a[at_a_{j} + k0 * a_cs];
    }}
    vb_{j} = T(0.0);
    if (in_b_{j} && k0 + kb_{j} < k) {{
        vb_{j} = b[at_b_{j} + k0 * b_rs];
    }}
"
        ));
        stage.push_str(&format!(
            "        tile_a[slot_a_{j} >> 2u][slot_a_{j} & 3u] = va_{j};
        tile_b[slot_b_{j} >> 2u][slot_b_{j} & 3u] = vb_{j};
"
        ));
    }
    let mut decl = String::new();
    let mut step = String::new();
    let mut store = String::new();
    for q in 0..quads {
        step.push_str(&format!(
            "            let a{q} = tile_a[(kk * LD + {q}u * 64u + ty * 4u) >> 2u];
            let b{q} = tile_b[(kk * LD + {q}u * 64u + tx * 4u) >> 2u];
"
        ));
    }
    let bias_term = if bias {
        " + bias[params[14] + gc * params[15]]"
    } else {
        ""
    };
    for i in 0..r {
        let a = format!("a{}.{}", i / 4, lanes[i % 4]);
        let mut cols = String::new();
        for q in 0..quads {
            decl.push_str(&format!("    var acc_{i}_{q} = vec4<T>(T(0.0));\n"));
            step.push_str(&format!(
                "            acc_{i}_{q} = acc_{i}_{q} + {a} * b{q};\n"
            ));
            cols.push_str(&format!(
                "            for (var c = 0u; c < 4u; c = c + 1u) {{
                let gc = col0 + {q}u * 64u + tx * 4u + c;
                if (gc < n) {{
                    c_out[out_row + gc] = acc_{i}_{q}[c]{bias_term};
                }}
            }}
"
            ));
        }
        store.push_str(&format!(
            "        let gr_{i} = row0 + {p}u * 64u + ty * 4u + {c}u;
        if (gr_{i} < m) {{
            let out_row = out_base + gr_{i} * n;
{cols}        }}
",
            p = i / 4,
            c = i % 4,
        ));
    }
    let (bias_binding, out_binding) = if bias {
        (
            "@group(0) @binding(3) var<storage, read> bias: array<T>;\n",
            4,
        )
    } else {
        ("", 3)
    };
    let body = format!(
        "const BM: u32 = {bm}u;
const BK: u32 = {bk}u;
const LD: u32 = {ld}u;
// The staged slices, k-major: element (kk, i) at kk * LD + i.
var<workgroup> tile_a: array<vec4<T>, {slice}>;
var<workgroup> tile_b: array<vec4<T>, {slice}>;
@group(0) @binding(1) var<storage, read> a: array<T>;
@group(0) @binding(2) var<storage, read> b: array<T>;
{bias_binding}@group(0) @binding({out_binding}) var<storage, read_write> c_out: array<T>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>, @builtin(local_invocation_index) local: u32) {{
    let m = params[0];
    let n = params[1];
    let k = params[2];
    // The grid may hold a few groups past the work (it is spread over two dimensions):
    // they compute a copy of the last tile and store nothing, so that every thread reaches
    // every barrier.
    let linear_group = group.y * groups.x + group.x;
    let live = linear_group < params[5];
    let cell = min(linear_group, params[5] - 1u);
    let tn = cell % params[3];
    let rest = cell / params[3];
    let tm = rest % params[4];
    let batch_index = rest / params[4];
    var a_base = params[6];
    var b_base = params[9];
    let rank = params[16];
    var left = batch_index;
    for (var d = i32(rank) - 1; d >= 0; d = d - 1) {{
        let size = params[17u + u32(d)];
        let at = left % size;
        left = left / size;
        a_base = a_base + at * params[17u + rank + u32(d)];
        b_base = b_base + at * params[17u + 2u * rank + u32(d)];
    }}
    let a_rs = params[7];
    let a_cs = params[8];
    let b_rs = params[10];
    let b_cs = params[11];
    // Consecutive threads load consecutive addresses: along k when A's rows are contiguous,
    // along m when its columns are (a transposed view); likewise for B.
    let a_kfast = params[12] != 0u;
    let b_nfast = params[13] != 0u;
    let row0 = tm * BM;
    let col0 = tn * BM;
    let tx = local % 16u;
    let ty = local / 16u;
{setup}{decl}    var k0 = 0u;
{fetch}    for (var kt = 0u; kt < k; kt = kt + BK) {{
{stage}        workgroupBarrier();
        // The next slice's loads are in flight while this one is multiplied.
        k0 = kt + BK;
        if (k0 < k) {{
{fetch_next}        }}
        for (var kk = 0u; kk < BK; kk = kk + 1u) {{
{step}        }}
        workgroupBarrier();
    }}
    if (live) {{
        let out_base = batch_index * m * n;
{store}    }}
}}
",
        slice = bk * ld / 4,
        fetch_next = fetch
            .lines()
            .map(|l| format!("        {l}\n"))
            .collect::<String>(),
    );
    source(t, &body)
}

/// The broadcast strides of the leading (batch) dimensions of `l` over `batch`, as the CPU
/// backend computes them.
fn batch_strides(l: &Layout, batch: &[usize]) -> Vec<usize> {
    let r = l.dims().len();
    let lead = Layout {
        shape: l.dims()[..r - 2].to_vec().into(),
        strides: l.strides[..r - 2].to_vec(),
        offset: l.offset,
    };
    lead.broadcast_strides(batch, "matmul")
}

/// Whether the load pattern of a matrix with strides `(outer, inner)` should walk `inner`:
/// it should unless `outer` is the unit-stride one.
fn walk_inner(outer: usize, inner: usize) -> bool {
    !(outer == 1 && inner != 1)
}

/// The batched product `a[b] · b[b]` (plus `bias` on every row, when given) on the tiled
/// kernel: the reusable matrix product of the wgpu backend.
///
/// `a` and `b` are (storage, layout) pairs: the last two dimensions of each layout are the
/// matrix, `(m×k)` and `(k×n)`, read through its strides (so a transposed view is read in
/// place), and the leading dimensions broadcast to `batch`. `bias`, when given, is a
/// length-`n` vector (any stride) added to each output row in the kernel's epilogue. The
/// result is row-major `(batch…, m, n)`, in the operands' dtype (f32 or f64).
pub(crate) fn batched_product(
    a: (&WgpuStorage, &Layout),
    b: (&WgpuStorage, &Layout),
    batch: &[usize],
    bias: Option<(&WgpuStorage, &Layout)>,
) -> BackendResult<WgpuStorage> {
    let ((sa, la), (sb, lb)) = (a, b);
    let t = sa.compute_dtype("matmul");
    assert_eq!(sb.dtype, t, "matmul: operands of different dtypes");
    let (ad, bd) = (la.dims(), lb.dims());
    assert!(
        ad.len() >= 2 && bd.len() >= 2,
        "matmul: operands need two matrix dimensions, got {ad:?} and {bd:?}"
    );
    let (m, k) = (ad[ad.len() - 2], ad[ad.len() - 1]);
    let (k2, n) = (bd[bd.len() - 2], bd[bd.len() - 1]);
    assert_eq!(k, k2, "matmul: inner dimensions {k} and {k2} differ");
    let count: usize = batch.iter().product();
    let ctx = sa.ctx();
    let out = WgpuStorage::empty(ctx, count * m * n, t)?;
    if count * m * n == 0 {
        return Ok(out);
    }
    let (a_rs, a_cs) = (la.strides[ad.len() - 2], la.strides[ad.len() - 1]);
    let (b_rs, b_cs) = (lb.strides[bd.len() - 2], lb.strides[bd.len() - 1]);
    let tiling = Tiling::choose(t, count, m, n);
    let side = tiling.side();
    let (tiles_m, tiles_n) = (m.div_ceil(side), n.div_ceil(side));
    let groups = count * tiles_m * tiles_n;
    let (bias_off, bias_stride) = match bias {
        Some((bs, bl)) => {
            assert_eq!(bs.dtype, t, "linear: bias of a different dtype");
            assert_eq!(
                bl.dims(),
                [n],
                "linear: bias of {:?} for {n} outputs",
                bl.dims()
            );
            (bl.offset, bl.strides[0])
        }
        None => (0, 0),
    };
    let mut meta: Vec<u32> = [
        m,
        n,
        k,
        tiles_n,
        tiles_m,
        groups,
        la.offset,
        a_rs,
        a_cs,
        lb.offset,
        b_rs,
        b_cs,
        usize::from(walk_inner(a_rs, a_cs)),
        usize::from(walk_inner(b_rs, b_cs)),
        bias_off,
        bias_stride,
        batch.len(),
    ]
    .iter()
    .map(|&v| to_u32(v))
    .collect();
    meta.extend(batch.iter().map(|&d| to_u32(d)));
    meta.extend(batch_strides(la, batch).iter().map(|&s| to_u32(s)));
    meta.extend(batch_strides(lb, batch).iter().map(|&s| to_u32(s)));
    let key = format!(
        "matmul_{}_r{}_k{}_p{}{}",
        t.name(),
        tiling.r,
        tiling.bk,
        tiling.pad,
        if bias.is_some() { "_bias" } else { "" }
    );
    let src = || product_source(t, tiling, bias.is_some());
    let mut buffers = vec![&sa.buffer, &sb.buffer];
    if let Some((bs, _)) = bias {
        buffers.push(&bs.buffer);
    }
    buffers.push(&out.buffer);
    let x = groups.min(MAX_GROUPS_PER_DIM);
    let y = groups.div_ceil(x);
    ctx.launch_groups(
        Launch {
            key: &key,
            source: &src,
            buffers: &buffers,
            meta: &meta,
            threads: 0,
        },
        (to_u32(x), to_u32(y), 1),
    );
    Ok(out)
}

impl MatmulOps for WgpuStorage {
    fn matmul(&self, la: &Layout, rhs: &Self, lb: &Layout, batch: &[usize]) -> BackendResult<Self> {
        batched_product((self, la), (rhs, lb), batch, None)
    }
}
