//! Elementwise kernels: unary maps, broadcasting binary maps and the ternary select. They are
//! generic over the element types (each monomorphises to the loop the f32 version was), so
//! one kernel serves f32, f64, and masks of another type than the values.

use super::parallel;
use super::strided::for_each_strided;
use crate::core::Layout;

/// Above this many elements contiguous maps are split across threads.
const PARALLEL_MIN: usize = 1 << 17;

/// `out[i] = f(a[i], b[i])` for two slices of one length, split across threads. The output
/// is written straight into fresh memory (no zero fill first: for a large tensor that is a
/// pass over memory as long as the map itself).
fn parallel_zip_map<A: Copy + Sync, B: Copy + Sync, R: Send>(
    a: &[A],
    b: &[B],
    f: impl Fn(A, B) -> R + Sync,
) -> Vec<R> {
    let n = a.len();
    assert_eq!(n, b.len(), "parallel_zip_map: lengths differ");
    let chunk = n.div_ceil(parallel::threads()).max(1);
    // SAFETY: each piece is written element by element (the inputs are at least as long as
    // every piece, as asserted).
    unsafe {
        parallel::collect_chunks(n, chunk, |c, o| {
            let (xs, ys) = (&a[c * chunk..], &b[c * chunk..]);
            assert!(xs.len() >= o.len() && ys.len() >= o.len());
            for ((o, &x), &y) in o.iter_mut().zip(xs).zip(ys) {
                o.write(f(x, y));
            }
        })
    }
}

/// `out[i] = f(src[i])` over the elements a layout sees, written row-major.
pub fn unary_map<T: Copy + Sync, R: Send>(
    src: &[T],
    layout: &Layout,
    f: impl Fn(T) -> R + Sync,
) -> Vec<R> {
    if let Some(r) = layout.contiguous_range() {
        let s = &src[r];
        if s.len() >= PARALLEL_MIN {
            return parallel_zip_map(s, s, |x, _| f(x));
        }
        return s.iter().map(|&x| f(x)).collect();
    }
    let mut out = Vec::with_capacity(layout.numel());
    for_each_strided(layout.dims(), [&layout.strides], [layout.offset], |[o]| {
        out.push(f(src[o]))
    });
    out
}

/// `out[idx] = f(a[idx], b[idx])` over the broadcast shape `out_dims`.
pub fn binary_map<A: Copy + Sync, B: Copy + Sync, R: Copy + Default + Send>(
    a: &[A],
    la: &Layout,
    b: &[B],
    lb: &Layout,
    out_dims: &[usize],
    f: impl Fn(A, B) -> R + Sync,
) -> Vec<R> {
    let n: usize = out_dims.iter().product();
    // Fast paths: same shape and both contiguous; or one side a single element.
    if la.dims() == out_dims && lb.dims() == out_dims {
        if let (Some(ra), Some(rb)) = (la.contiguous_range(), lb.contiguous_range()) {
            let (sa, sb) = (&a[ra], &b[rb]);
            if n >= PARALLEL_MIN {
                return parallel_zip_map(sa, sb, f);
            }
            return sa.iter().zip(sb).map(|(&x, &y)| f(x, y)).collect();
        }
    }
    if lb.numel() == 1 && la.dims() == out_dims {
        let y = b[lb.offset];
        return unary_map(a, la, |x| f(x, y));
    }
    if la.numel() == 1 && lb.dims() == out_dims {
        let x = a[la.offset];
        return unary_map(b, lb, |y| f(x, y));
    }
    let sa = la.broadcast_strides(out_dims, "binary op");
    let sb = lb.broadcast_strides(out_dims, "binary op");
    let mut out = vec![R::default(); n];
    let Some((&inner, outer_dims)) = out_dims.split_last() else {
        out[0] = f(a[la.offset], b[lb.offset]);
        return out;
    };
    if inner == 0 {
        return out;
    }
    // Row by row over the last dimension, with a tight loop for the common stride pairs
    // (both rows contiguous, or one operand broadcast along the row as a bias is).
    let (ia, ib) = (sa[sa.len() - 1], sb[sb.len() - 1]);
    let (outer_a, outer_b) = (&sa[..sa.len() - 1], &sb[..sb.len() - 1]);
    let mut rows = out.chunks_exact_mut(inner);
    for_each_strided(
        outer_dims,
        [outer_a, outer_b],
        [la.offset, lb.offset],
        |[i, j]| {
            let row = rows.next().expect("one output row per outer index");
            match (ia, ib) {
                (1, 1) => {
                    for ((o, &x), &y) in row.iter_mut().zip(&a[i..i + inner]).zip(&b[j..j + inner])
                    {
                        *o = f(x, y);
                    }
                }
                (1, 0) => {
                    let y = b[j];
                    for (o, &x) in row.iter_mut().zip(&a[i..i + inner]) {
                        *o = f(x, y);
                    }
                }
                (0, 1) => {
                    let x = a[i];
                    for (o, &y) in row.iter_mut().zip(&b[j..j + inner]) {
                        *o = f(x, y);
                    }
                }
                _ => {
                    for (k, o) in row.iter_mut().enumerate() {
                        *o = f(a[i + k * ia], b[j + k * ib]);
                    }
                }
            }
        },
    );
    out
}

/// One operand of a map: its buffer and the layout it is seen through.
pub type Operand<'a, T> = (&'a [T], &'a Layout);

/// `out[idx] = f(a[idx], b[idx], c[idx])` over the broadcast shape `out_dims`. The operands
/// may differ in type (a boolean condition selecting between floats).
pub fn ternary_map<A: Copy, B: Copy, C: Copy, R>(
    inputs: (Operand<A>, Operand<B>, Operand<C>),
    out_dims: &[usize],
    f: impl Fn(A, B, C) -> R,
) -> Vec<R> {
    let ((a, la), (b, lb), (c, lc)) = inputs;
    let sa = la.broadcast_strides(out_dims, "where");
    let sb = lb.broadcast_strides(out_dims, "where");
    let sc = lc.broadcast_strides(out_dims, "where");
    let mut out = Vec::with_capacity(out_dims.iter().product());
    for_each_strided(
        out_dims,
        [&sa, &sb, &sc],
        [la.offset, lb.offset, lc.offset],
        |[i, j, k]| out.push(f(a[i], b[j], c[k])),
    );
    out
}

/// In place: `dst[i] = f(dst[i], src[i])` for a contiguous destination and a source of the
/// same shape (any layout). Used by gradient accumulation and optimizers.
pub fn zip_assign<T: Copy>(dst: &mut [T], src: &[T], ls: &Layout, f: impl Fn(T, T) -> T) {
    if let Some(r) = ls.contiguous_range() {
        for (d, &s) in dst.iter_mut().zip(&src[r]) {
            *d = f(*d, s);
        }
        return;
    }
    let mut i = 0;
    for_each_strided(ls.dims(), [&ls.strides], [ls.offset], |[o]| {
        dst[i] = f(dst[i], src[o]);
        i += 1;
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::Shape;

    #[test]
    fn broadcasting_rows_columns_and_strided_operands() {
        let a = [1., 2., 3., 4., 5., 6.]; // 2x3
        let la = Layout::contiguous([2, 3]);
        let add = |x: f32, y: f32| x + y;
        // A row broadcast down the columns (a bias), and a column broadcast along the rows.
        let row = Layout::contiguous([3]);
        assert_eq!(
            binary_map(&a, &la, &[10., 20., 30.], &row, &[2, 3], add),
            vec![11., 22., 33., 14., 25., 36.]
        );
        let col = Layout::contiguous([2, 1]);
        assert_eq!(
            binary_map(&a, &la, &[10., 20.], &col, &[2, 3], add),
            vec![11., 12., 13., 24., 25., 26.]
        );
        assert_eq!(
            binary_map(&[10., 20.], &col, &a, &la, &[2, 3], add),
            vec![11., 12., 13., 24., 25., 26.]
        );
        // A transposed operand (3x2 seen through strides) against a contiguous one.
        let t = Layout {
            shape: Shape(vec![3, 2]),
            strides: vec![1, 3],
            offset: 0,
        };
        let c = Layout::contiguous([3, 2]);
        assert_eq!(
            binary_map(&a, &t, &[0.; 6], &c, &[3, 2], add),
            vec![1., 4., 2., 5., 3., 6.]
        );
        // Both operands broadcast into a larger shape: (2,1) with (3,) gives (2,3).
        assert_eq!(
            binary_map(
                &[1., 2.],
                &col,
                &[10., 20., 30.],
                &row,
                &[2, 3],
                |x: f32, y| x * y
            ),
            vec![10., 20., 30., 20., 40., 60.]
        );
        // 0-d operands.
        let scalar = Layout::contiguous(Vec::<usize>::new());
        assert_eq!(
            binary_map(&[2.], &scalar, &[3.], &scalar, &[], |x: f32, y| x * y),
            vec![6.]
        );
    }

    /// The f64 path: the same maps at f64 give what the f32 path gives (to 1e-6 on values
    /// f32 holds exactly), and a boolean mask selects between floats.
    #[test]
    fn f64_maps_match_the_f32_path() {
        let a32 = [1.5f32, -2.0, 3.25, 4.0, -5.5, 6.0];
        let a64: Vec<f64> = a32.iter().map(|&x| x as f64).collect();
        let la = Layout::contiguous([2, 3]);
        let row = Layout::contiguous([3]);
        let b32 = [0.5f32, 2.0, -1.0];
        let b64: Vec<f64> = b32.iter().map(|&x| x as f64).collect();
        let r32 = binary_map(&a32, &la, &b32, &row, &[2, 3], |x, y| x * y + x.exp());
        let r64 = binary_map(&a64, &la, &b64, &row, &[2, 3], |x, y| x * y + x.exp());
        for (p, q) in r32.iter().zip(&r64) {
            assert!(
                (*p as f64 - q).abs() <= 1e-6 * q.abs().max(1.0),
                "{p} vs {q}"
            );
        }
        let u64s = unary_map(&a64, &la, |x: f64| x.tanh());
        assert!((u64s[0] - 1.5f64.tanh()).abs() < 1e-12);
        let mask = [true, false, true];
        let picked = ternary_map(
            ((&mask[..], &row), (&a64[..], &la), (&b64[..], &row)),
            &[2, 3],
            |k, x, y| if k { x } else { y },
        );
        assert_eq!(picked, vec![1.5, 2.0, 3.25, 4.0, 2.0, 6.0]);
        let mut acc = vec![1.0f64; 3];
        zip_assign(&mut acc, &b64, &row, |d, s| d + s);
        assert_eq!(acc, vec![1.5, 3.0, 0.0]);
    }
}
