//! The wgpu implementation of [`crate::backend::IndexOps`].
//!
//! Selection, gathering and concatenation move raw words, so they take any dtype (indices
//! and masks included), as on the CPU. The accumulating ops (`index_add`, `scatter_add`)
//! compute in f32 or f64 without float atomics (WGSL has no portable ones): one thread per
//! destination element walks the source positions that land on it in increasing order,
//! which is the order the CPU adds them in, so the sums agree with the CPU's bit for bit
//! and do not change from run to run.
//!
//! Index values are read as their low 32-bit word: the tensor layer checks that they lie in
//! `0..size` before it dispatches, and buffers are far smaller than 2³².

use super::{WgpuStorage, ENTRY_WORDS};
use crate::backend::wgpu::kernel::{bytes_for, source, Meta, ENTRY};
use crate::backend::{BackendResult, IndexOps, PrimitiveOps};
use crate::core::{DType, Layout};

/// Splits `dims` around `dim` into (outer count, size of `dim`, inner block size).
fn split_at_dim(dims: &[usize], dim: usize) -> (usize, usize, usize) {
    let outer = dims[..dim].iter().product();
    let inner = dims[dim + 1..].iter().product();
    (outer, dims[dim], inner)
}

/// The bindings of a move kernel: the source and the result as raw words, and the i64
/// indices between them.
const MOVE_BINDINGS: &str = "@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<storage, read> idx: array<u32>;
@group(0) @binding(3) var<storage, read_write> dst: array<u32>;
";

/// Launches a kernel that writes `n` elements of `dtype`, row-major, into `dst`, element
/// `e` copied from element `source_element(e)` of `src` (`picker` defines that WGSL
/// function; it reads `idx` and the params). `params[0]` must be `n`. The copy goes by the
/// dtype's word width, as `contiguous_view` copies.
fn run_move(
    op: &str,
    picker: &str,
    (src, idx, dst): (&WgpuStorage, &WgpuStorage, &WgpuStorage),
    meta: Meta,
    n: usize,
) {
    let (width, body, threads) = match src.dtype {
        DType::F32 | DType::Bool => (
            32,
            format!("{ENTRY}\n    dst[i] = src[source_element(i)];\n}}\n"),
            n,
        ),
        DType::F64 | DType::I64 => (
            64,
            format!(
                "{ENTRY}
    let s = source_element(i);
    dst[2u * i] = src[2u * s];
    dst[2u * i + 1u] = src[2u * s + 1u];
}}
"
            ),
            n,
        ),
        // Two 16-bit elements share a word: one thread per output word, so that no two
        // threads write one word.
        DType::F16 | DType::BF16 => (
            16,
            format!(
                "{ENTRY_WORDS}
    var word = 0u;
    for (var j = 0u; j < 2u; j = j + 1u) {{
        let e = 2u * i + j;
        if (e < params[0]) {{
            let s = source_element(e);
            let half = (src[s >> 1u] >> ((s & 1u) * 16u)) & 0xffffu;
            word = word | (half << (16u * j));
        }}
    }}
    dst[i] = word;
}}
"
            ),
            n.div_ceil(2),
        ),
    };
    let text = format!("{MOVE_BINDINGS}{picker}{body}");
    let s = || source(DType::F32, &text);
    WgpuStorage::run(
        src.ctx(),
        &format!("{op}_w{width}"),
        &s,
        &[&src.buffer, &idx.buffer, &dst.buffer],
        meta,
        threads,
    );
}

/// `index_select`'s source position. Params: n, index count, size of the dim, inner block
/// size, then the source view.
const SELECT_PICKER: &str = "fn source_element(e: u32) -> u32 {
    let inner = params[3u];
    let r = e % inner;
    let t = e / inner;
    let k = t % params[1u];
    let o = t / params[1u];
    let pick = idx[2u * k];
    return strided_offset(4u, (o * params[2u] + pick) * inner + r);
}
";

/// `gather`'s source position: the coordinates of `e` in the index's shape, with the one
/// along `dim` replaced by the index value, placed in the source view. Params: n, dim, the
/// source view, the index view.
const GATHER_PICKER: &str = "fn source_element(e: u32) -> u32 {
    let sb = 2u;
    let ib = sb + view_words(sb);
    let rank = params[ib];
    let pick = idx[2u * strided_offset(ib, e)];
    var off = params[sb + 1u];
    var rest = e;
    for (var d = i32(rank) - 1; d >= 0; d = d - 1) {
        let ud = u32(d);
        let size = params[ib + 2u + ud];
        var c = rest % size;
        rest = rest / size;
        if (ud == params[1u]) {
            c = pick;
        }
        off = off + c * params[sb + 2u + rank + ud];
    }
    return off;
}
";

/// `index_add`, step one (threads: size + count). The link table holds `size` list heads,
/// then `count` next-links: `next[k]` is the first `k' > k` with the same index value, so
/// each destination's list visits its source blocks in increasing order. Heads start empty;
/// step two fills them. Params: threads, size, count. A thread scans forward only to the
/// next repeat of its value, so the work is about count × (distinct values) at worst, and
/// the table costs nothing per element of the blocks (the third step is linear in them).
const LINKS: &str = "const NONE: u32 = 0xffffffffu;
@group(0) @binding(1) var<storage, read> idx: array<u32>;
@group(0) @binding(2) var<storage, read_write> links: array<u32>;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>, @builtin(local_invocation_index) local: u32) {
    let i = thread_index(group, groups, local);
    if (i >= params[0]) {
        return;
    }
    let size = params[1u];
    if (i < size) {
        links[i] = NONE;
        return;
    }
    let k = i - size;
    let v = idx[2u * k];
    var next = NONE;
    for (var m = k + 1u; m < params[2u]; m = m + 1u) {
        if (idx[2u * m] == v) {
            next = m;
            break;
        }
    }
    links[i] = next;
}
";

/// `index_add`, step two (threads: count): each list's head is its smallest position.
/// Atomics on u32 are portable, and a minimum does not depend on the order threads run.
const HEADS: &str = "@group(0) @binding(1) var<storage, read> idx: array<u32>;
@group(0) @binding(2) var<storage, read_write> links: array<atomic<u32>>;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>, @builtin(local_invocation_index) local: u32) {
    let i = thread_index(group, groups, local);
    if (i >= params[0]) {
        return;
    }
    atomicMin(&links[idx[2u * i]], i);
}
";

/// `index_add`, step three (threads: output elements): each sums its list of source
/// blocks, starting from zero as the CPU does. Params: n, size, inner, count, source view.
const INDEX_ADD: &str = "const NONE: u32 = 0xffffffffu;
@group(0) @binding(1) var<storage, read> src: array<T>;
@group(0) @binding(2) var<storage, read> links: array<u32>;
@group(0) @binding(3) var<storage, read_write> dst: array<T>;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>, @builtin(local_invocation_index) local: u32) {
    let i = thread_index(group, groups, local);
    if (i >= params[0]) {
        return;
    }
    let size = params[1u];
    let inner = params[2u];
    let count = params[3u];
    let r = i % inner;
    let t = i / inner;
    let j = t % size;
    let o = t / size;
    var acc = T(0.0);
    var k = links[j];
    loop {
        if (k == NONE) {
            break;
        }
        acc = acc + src[strided_offset(4u, (o * count + k) * inner + r)];
        k = links[size + k];
    }
    dst[i] = acc;
}
";

/// `scatter_add` (threads: elements of the base): each output element starts from its base
/// value and adds, in increasing position along `dim`, the sources whose index names it.
/// Those positions differ from it only along `dim`, and the CPU adds them in that order.
/// Params: n, dim, base view, index view, source view (index and source share a shape).
const SCATTER_ADD: &str = "@group(0) @binding(1) var<storage, read> base: array<T>;
@group(0) @binding(2) var<storage, read> idx: array<u32>;
@group(0) @binding(3) var<storage, read> src: array<T>;
@group(0) @binding(4) var<storage, read_write> dst: array<T>;
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>, @builtin(local_invocation_index) local: u32) {
    let i = thread_index(group, groups, local);
    if (i >= params[0]) {
        return;
    }
    let dim = params[1u];
    let bb = 2u;
    let ib = bb + view_words(bb);
    let vb = ib + view_words(ib);
    let rank = params[bb];
    var rest = i;
    var base_off = params[bb + 1u];
    var idx_off = params[ib + 1u];
    var src_off = params[vb + 1u];
    var want = 0u;
    var inside = true;
    for (var d = i32(rank) - 1; d >= 0; d = d - 1) {
        let ud = u32(d);
        let size = params[bb + 2u + ud];
        let c = rest % size;
        rest = rest / size;
        base_off = base_off + c * params[bb + 2u + rank + ud];
        if (ud == dim) {
            want = c;
        } else {
            // The index may be smaller than the base away from `dim`.
            inside = inside && c < params[ib + 2u + ud];
            idx_off = idx_off + c * params[ib + 2u + rank + ud];
            src_off = src_off + c * params[vb + 2u + rank + ud];
        }
    }
    var acc = base[base_off];
    if (inside) {
        let along = params[ib + 2u + dim];
        let idx_step = params[ib + 2u + rank + dim];
        let src_step = params[vb + 2u + rank + dim];
        for (var m = 0u; m < along; m = m + 1u) {
            if (idx[2u * (idx_off + m * idx_step)] == want) {
                acc = acc + src[src_off + m * src_step];
            }
        }
    }
    dst[i] = acc;
}
";

impl IndexOps for WgpuStorage {
    fn index_select(&self, layout: &Layout, dim: usize, indices: &Self) -> BackendResult<Self> {
        let (outer, size, inner) = split_at_dim(layout.dims(), dim);
        let count = indices.len;
        let n = outer * count * inner;
        let out = WgpuStorage::empty(self.ctx(), n, self.dtype)?;
        let meta = Meta::new().u(n).u(count).u(size).u(inner).view(layout);
        run_move(
            "index_select",
            SELECT_PICKER,
            (self, indices, &out),
            meta,
            n,
        );
        Ok(out)
    }

    fn index_add(
        &self,
        layout: &Layout,
        out_dims: &[usize],
        dim: usize,
        indices: &Self,
    ) -> BackendResult<Self> {
        let t = self.compute_dtype("index_add");
        let ctx = self.ctx();
        let (outer, size, inner) = split_at_dim(out_dims, dim);
        let count = indices.len;
        assert_eq!(
            layout.numel(),
            outer * count * inner,
            "index_add: a source of {:?} does not hold {count} blocks of {out_dims:?} along dimension {dim}",
            layout.dims()
        );
        let n = outer * size * inner;
        let out = WgpuStorage::empty(ctx, n, t)?;
        if n == 0 {
            return Ok(out);
        }
        // The link table: u32 words, sized as f32 elements are.
        let links = WgpuStorage::empty(ctx, size + count, DType::F32)?;
        let s = || source(DType::F32, LINKS);
        let meta = Meta::new().u(size + count).u(size).u(count);
        WgpuStorage::run(
            ctx,
            "index_add_links",
            &s,
            &[&indices.buffer, &links.buffer],
            meta,
            size + count,
        );
        let s = || source(DType::F32, HEADS);
        WgpuStorage::run(
            ctx,
            "index_add_heads",
            &s,
            &[&indices.buffer, &links.buffer],
            Meta::new().u(count),
            count,
        );
        let s = || source(t, INDEX_ADD);
        let meta = Meta::new().u(n).u(size).u(inner).u(count).view(layout);
        WgpuStorage::run(
            ctx,
            &format!("index_add_{}", t.name()),
            &s,
            &[&self.buffer, &links.buffer, &out.buffer],
            meta,
            n,
        );
        Ok(out)
    }

    fn gather(&self, layout: &Layout, dim: usize, index: (&Self, &Layout)) -> BackendResult<Self> {
        let n = index.1.numel();
        let out = WgpuStorage::empty(self.ctx(), n, self.dtype)?;
        let meta = Meta::new().u(n).u(dim).view(layout).view(index.1);
        run_move("gather", GATHER_PICKER, (self, index.0, &out), meta, n);
        Ok(out)
    }

    fn scatter_add(
        &self,
        layout: &Layout,
        dim: usize,
        index: (&Self, &Layout),
        src: (&Self, &Layout),
    ) -> BackendResult<Self> {
        let t = self.compute_dtype("scatter_add");
        assert_eq!(
            src.0.dtype, t,
            "scatter_add: base and source of different dtypes"
        );
        let (dims, index_dims) = (layout.dims(), index.1.dims());
        // Away from `dim` every index position must name a base element (PyTorch's rule).
        assert!(
            index_dims.len() == dims.len()
                && src.1.dims() == index_dims
                && index_dims
                    .iter()
                    .zip(dims)
                    .enumerate()
                    .all(|(d, (a, b))| d == dim || a <= b),
            "scatter_add: expected index {index_dims:?} to be no larger than self {dims:?} apart from dimension {dim}, and src {:?} shaped like index",
            src.1.dims()
        );
        let n = layout.numel();
        let out = WgpuStorage::empty(self.ctx(), n, t)?;
        let meta = Meta::new()
            .u(n)
            .u(dim)
            .view(layout)
            .view(index.1)
            .view(src.1);
        let s = || source(t, SCATTER_ADD);
        WgpuStorage::run(
            self.ctx(),
            &format!("scatter_add_{}", t.name()),
            &s,
            &[&self.buffer, &index.0.buffer, &src.0.buffer, &out.buffer],
            meta,
            n,
        );
        Ok(out)
    }

    fn cat(parts: &[(&Self, &Layout)], dim: usize) -> BackendResult<Self> {
        let Some(&(first, first_layout)) = parts.first() else {
            panic!("cat: expected a non-empty list of tensors");
        };
        let dtype = first.dtype;
        let mut out_dims = first_layout.dims().to_vec();
        out_dims[dim] = parts.iter().map(|(_, l)| l.dims()[dim]).sum();
        let (outer, total, inner) = split_at_dim(&out_dims, dim);
        let mut out = WgpuStorage::empty(first.ctx(), outer * total * inner, dtype)?;
        let strides = Layout::contiguous(out_dims.clone()).strides;
        let mut start = 0;
        for &(part, l) in parts {
            assert_eq!(part.dtype, dtype, "cat: parts of different dtypes");
            let len = l.dims()[dim];
            let numel = l.numel();
            if numel > 0 {
                // With nothing before `dim`, a row-major part is one block of the output:
                // a plain copy, when its byte ranges are word-aligned.
                let from = bytes_for(dtype, l.offset);
                let to = bytes_for(dtype, start * inner);
                let bytes = bytes_for(dtype, numel);
                let aligned = [from, to, bytes].iter().all(|b| b.is_multiple_of(4));
                if outer == 1 && l.is_contiguous() && aligned {
                    out.ctx().copy(&part.buffer, from, &out.buffer, to, bytes);
                } else {
                    // Otherwise a strided copy of the part into its slice of the output.
                    let slice = Layout {
                        shape: l.shape.clone(),
                        strides: strides.clone(),
                        offset: start * inner,
                    };
                    out.assign(&slice, part, l)?;
                }
            }
            start += len;
        }
        Ok(out)
    }
}
