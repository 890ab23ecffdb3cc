//! Reductions: over everything, over a set of dimensions, and lane by lane along one dimension.
//! Generic over the float type; sums of f32 accumulate in f64 for accuracy, as do sums of f64.

use super::strided::for_each_strided;
pub use crate::core::ReduceKind;
use crate::core::{Float, Layout};

impl ReduceKind {
    /// The fold's starting value.
    pub(crate) fn init<T: Float>(self) -> T {
        match self {
            ReduceKind::Sum => T::zero(),
            ReduceKind::Max => T::neg_infinity(),
            ReduceKind::Min => T::infinity(),
            ReduceKind::Prod => T::one(),
        }
    }
    /// One step of the fold.
    #[inline(always)]
    pub(crate) fn fold<T: Float>(self, acc: T, x: T) -> T {
        match self {
            ReduceKind::Sum => acc + x,
            // NaN propagates, as in PyTorch.
            ReduceKind::Max => {
                if x > acc || x.is_nan() {
                    x
                } else {
                    acc
                }
            }
            ReduceKind::Min => {
                if x < acc || x.is_nan() {
                    x
                } else {
                    acc
                }
            }
            ReduceKind::Prod => acc * x,
        }
    }
}

/// Sum of a slice in f64, over eight interleaved partial sums: one running sum would wait
/// on each addition's latency (4 cycles an element); eight independent ones vectorise.
pub fn sum_slice<T: Float>(x: &[T]) -> f64 {
    let mut lanes = [0.0f64; 8];
    let mut pieces = x.chunks_exact(8);
    for piece in &mut pieces {
        for (l, &v) in lanes.iter_mut().zip(piece) {
            *l += v.f64();
        }
    }
    let tail: f64 = pieces.remainder().iter().map(|&v| v.f64()).sum();
    lanes.iter().sum::<f64>() + tail
}

/// Sum of all elements, accumulated in f64 for accuracy.
pub fn sum_all<T: Float>(src: &[T], layout: &Layout) -> T {
    if let Some(r) = layout.contiguous_range() {
        return T::of_f64(sum_slice(&src[r]));
    }
    let mut acc = 0.0f64;
    for_each_strided(layout.dims(), [&layout.strides], [layout.offset], |[o]| {
        acc += src[o].f64()
    });
    T::of_f64(acc)
}

/// Reduces the dimensions flagged in `mask`; the result is row-major in the keepdim shape.
pub fn reduce_dims<T: Float>(
    src: &[T],
    layout: &Layout,
    mask: &[bool],
    kind: ReduceKind,
) -> Vec<T> {
    let dims = layout.dims();
    let out_dims: Vec<usize> = dims
        .iter()
        .zip(mask)
        .map(|(&d, &m)| if m { 1 } else { d })
        .collect();
    let out_n: usize = out_dims.iter().product();
    if mask.iter().all(|&m| m) && kind == ReduceKind::Sum {
        return vec![sum_all(src, layout)];
    }
    let out_layout = Layout::contiguous(out_dims);
    let out_strides: Vec<usize> = out_layout
        .strides
        .iter()
        .zip(mask)
        .map(|(&s, &m)| if m { 0 } else { s })
        .collect();
    let mut out = vec![kind.init(); out_n];
    // Reducing the innermost dimension of a contiguous tensor: one tight loop per row.
    if let (Some(r), Some(&true)) = (layout.contiguous_range(), mask.last()) {
        if mask[..mask.len() - 1].iter().all(|&m| !m) {
            let row = *dims.last().unwrap_or(&1);
            if row > 0 {
                for (o, chunk) in out.iter_mut().zip(src[r].chunks_exact(row)) {
                    *o = chunk.iter().fold(kind.init(), |a, &x| kind.fold(a, x));
                }
            }
            return out;
        }
    }
    // Reducing leading dimensions of a contiguous tensor (a bias gradient summed over the
    // batch): fold whole rows into the output, a loop the compiler vectorises.
    if let Some(r) = layout.contiguous_range() {
        let lead = mask.iter().take_while(|&&m| m).count();
        if lead > 0 && mask[lead..].iter().all(|&m| !m) && out_n > 0 {
            for row in src[r].chunks_exact(out_n) {
                for (o, &x) in out.iter_mut().zip(row) {
                    *o = kind.fold(*o, x);
                }
            }
            return out;
        }
    }
    for_each_strided(
        dims,
        [&layout.strides, &out_strides],
        [layout.offset, 0],
        |[i, j]| out[j] = kind.fold(out[j], src[i]),
    );
    out
}

/// Applies `f` to every 1-D lane along `dim`. `f` reads the lane and writes `out_len` values;
/// the result is row-major with `dim` resized to `out_len`.
pub fn map_lanes<T: Float>(
    src: &[T],
    layout: &Layout,
    dim: usize,
    out_len: usize,
    mut f: impl FnMut(&[T], &mut [T]),
) -> Vec<T> {
    let dims = layout.dims();
    if dims.is_empty() {
        let mut out = vec![T::zero(); out_len];
        f(&[src[layout.offset]], &mut out);
        return out;
    }
    let n = dims[dim];
    let mut out_dims = dims.to_vec();
    out_dims[dim] = out_len;
    let out_strides = Layout::contiguous(out_dims.clone()).strides;
    let total: usize = out_dims.iter().product();
    let mut out = vec![T::zero(); total];
    // Each lane is addressed by the index with `dim` fixed at 0.
    let mut lane_dims = dims.to_vec();
    lane_dims[dim] = 1;
    let in_step = layout.strides[dim];
    let out_step = out_strides[dim];
    let mut lane_in = vec![T::zero(); n];
    let mut lane_out = vec![T::zero(); out_len];
    for_each_strided(
        &lane_dims,
        [&layout.strides, &out_strides],
        [layout.offset, 0],
        |[i, o]| {
            if in_step == 1 {
                if out_step == 1 {
                    f(&src[i..i + n], &mut out[o..o + out_len]);
                    return;
                }
                f(&src[i..i + n], &mut lane_out);
            } else {
                for (k, v) in lane_in.iter_mut().enumerate() {
                    *v = src[i + k * in_step];
                }
                if out_step == 1 {
                    f(&lane_in, &mut out[o..o + out_len]);
                    return;
                }
                f(&lane_in, &mut lane_out);
            }
            for (k, &v) in lane_out.iter().enumerate() {
                out[o + k * out_step] = v;
            }
        },
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reduce_rows_and_columns() {
        let src = [1f32, 2., 3., 4., 5., 6.];
        let l = Layout::contiguous([2, 3]);
        assert_eq!(
            reduce_dims(&src, &l, &[false, true], ReduceKind::Sum),
            vec![6., 15.]
        );
        assert_eq!(
            reduce_dims(&src, &l, &[true, false], ReduceKind::Max),
            vec![4., 5., 6.]
        );
        assert_eq!(
            reduce_dims(&src, &l, &[true, false], ReduceKind::Sum),
            vec![5., 7., 9.]
        );
        // The same reduction through a strided (transposed) view takes the general path.
        let t = Layout {
            shape: crate::tensor::Shape(vec![3, 2]),
            strides: vec![1, 3],
            offset: 0,
        };
        assert_eq!(
            reduce_dims(&src, &t, &[true, false], ReduceKind::Sum),
            vec![6., 15.]
        );
        assert_eq!(
            reduce_dims(&src, &t, &[false, true], ReduceKind::Min),
            vec![1., 2., 3.]
        );
        let lanes = map_lanes(&src, &l, 0, 1, |x, o| o[0] = x[0] * x[1]);
        assert_eq!(lanes, vec![4., 10., 18.]);
    }

    /// The f64 path against a hand computation: sums, extremes, products and lanes.
    #[test]
    fn f64_reductions() {
        let src = [1f64, 2., 3., 4., 5., 6.];
        let l = Layout::contiguous([2, 3]);
        assert_eq!(
            reduce_dims(&src, &l, &[false, true], ReduceKind::Sum),
            vec![6., 15.]
        );
        assert_eq!(
            reduce_dims(&src, &l, &[true, false], ReduceKind::Min),
            vec![1., 2., 3.]
        );
        assert_eq!(
            reduce_dims(&src, &l, &[true, true], ReduceKind::Prod),
            vec![720.]
        );
        // f64 sums keep f64 precision: no rounding through f32.
        assert_eq!(sum_all(&[0.1, 0.2], &Layout::contiguous([2])), 0.1f64 + 0.2);
        let t = Layout {
            shape: crate::core::Shape(vec![3, 2]),
            strides: vec![1, 3],
            offset: 0,
        };
        assert_eq!(
            reduce_dims(&src, &t, &[false, true], ReduceKind::Max),
            vec![4., 5., 6.]
        );
        let lanes = map_lanes(&src, &l, 0, 1, |x, o| o[0] = x[0] - x[1]);
        assert_eq!(lanes, vec![-3., -3., -3.]);
    }
}
