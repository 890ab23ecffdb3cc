//! Indexing kernels: select, gather, scatter, concatenation and writes through views.
//! All take row-major (contiguous) sources; callers make them so first. Moving elements is
//! generic over any element type (indices and masks are selected and concatenated too);
//! accumulating needs a float type.

use super::strided::for_each_strided;
use crate::core::{Float, Layout};

/// Splits `dims` around `dim` into (outer count, size of `dim`, inner block size).
fn split_at_dim(dims: &[usize], dim: usize) -> (usize, usize, usize) {
    let outer = dims[..dim].iter().product();
    let inner = dims[dim + 1..].iter().product();
    (outer, dims[dim], inner)
}

/// Picks `indices` along `dim` of a row-major tensor of shape `dims`.
pub fn index_select<T: Copy>(src: &[T], dims: &[usize], dim: usize, indices: &[usize]) -> Vec<T> {
    let (outer, size, inner) = split_at_dim(dims, dim);
    let mut out = Vec::with_capacity(outer * indices.len() * inner);
    for o in 0..outer {
        for &i in indices {
            let start = (o * size + i) * inner;
            out.extend_from_slice(&src[start..start + inner]);
        }
    }
    out
}

/// The adjoint of [`index_select`]: adds each selected block back at its index.
pub fn index_add<T: Float>(out_dims: &[usize], dim: usize, indices: &[usize], src: &[T]) -> Vec<T> {
    let (outer, size, inner) = split_at_dim(out_dims, dim);
    let mut out = vec![T::zero(); outer * size * inner];
    let mut s = 0;
    for o in 0..outer {
        for &i in indices {
            let start = (o * size + i) * inner;
            for (d, &v) in out[start..start + inner].iter_mut().zip(&src[s..s + inner]) {
                *d += v;
            }
            s += inner;
        }
    }
    out
}

/// Storage offsets into a row-major tensor of shape `src_dims` for each position of `index`
/// (shape `index_dims`), with the coordinate along `dim` replaced by the index value.
fn gather_offsets(
    src_dims: &[usize],
    dim: usize,
    index: &[usize],
    index_dims: &[usize],
) -> Vec<usize> {
    let src_strides = Layout::contiguous(src_dims.to_vec()).strides;
    let mut walk = src_strides.clone();
    walk[dim] = 0;
    let mut offs = Vec::with_capacity(index.len());
    let mut n = 0;
    for_each_strided(index_dims, [&walk], [0], |[o]| {
        offs.push(o + index[n] * src_strides[dim]);
        n += 1;
    });
    offs
}

/// `out[p] = src[p with coordinate dim := index[p]]`.
pub fn gather<T: Copy>(
    src: &[T],
    src_dims: &[usize],
    dim: usize,
    index: &[usize],
    index_dims: &[usize],
) -> Vec<T> {
    gather_offsets(src_dims, dim, index, index_dims)
        .into_iter()
        .map(|o| src[o])
        .collect()
}

/// `out = base; out[p with coordinate dim := index[p]] += src[p]`.
pub fn scatter_add<T: Float>(
    base: Vec<T>,
    base_dims: &[usize],
    dim: usize,
    index: &[usize],
    index_dims: &[usize],
    src: &[T],
) -> Vec<T> {
    let mut out = base;
    for (o, &v) in gather_offsets(base_dims, dim, index, index_dims)
        .into_iter()
        .zip(src)
    {
        out[o] += v;
    }
    out
}

/// Concatenates row-major parts along `dim`; `parts` pairs each buffer with its shape.
pub fn cat<T: Copy>(parts: &[(&[T], &[usize])], dim: usize) -> Vec<T> {
    let first = parts[0].1;
    let (outer, _, inner) = split_at_dim(first, dim);
    let total: usize = parts.iter().map(|(d, _)| d.len()).sum();
    let mut out = Vec::with_capacity(total);
    for o in 0..outer {
        for (data, dims) in parts {
            let block = dims[dim] * inner;
            out.extend_from_slice(&data[o * block..(o + 1) * block]);
        }
    }
    out
}

/// Writes the row-major `src` into the elements of `dst` that `view` addresses.
pub fn assign_strided<T: Copy>(dst: &mut [T], view: &Layout, src: &[T]) {
    if let Some(r) = view.contiguous_range() {
        dst[r].copy_from_slice(&src[..view.numel()]);
        return;
    }
    let mut n = 0;
    for_each_strided(view.dims(), [&view.strides], [view.offset], |[o]| {
        dst[o] = src[n];
        n += 1;
    });
}

/// Adds the row-major `src` into the elements of `dst` that `view` addresses.
pub fn add_strided<T: Float>(dst: &mut [T], view: &Layout, src: &[T]) {
    if let Some(r) = view.contiguous_range() {
        dst[r].iter_mut().zip(src).for_each(|(d, &s)| *d += s);
        return;
    }
    let mut n = 0;
    for_each_strided(view.dims(), [&view.strides], [view.offset], |[o]| {
        dst[o] += src[n];
        n += 1;
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn select_gather_scatter_cat() {
        let src = [1f32, 2., 3., 4., 5., 6.]; // 2x3
        assert_eq!(
            index_select(&src, &[2, 3], 1, &[2, 0]),
            vec![3., 1., 6., 4.]
        );
        assert_eq!(
            index_add(&[2, 3], 1, &[2, 2], &[1f32, 1., 1., 1.]),
            vec![0., 0., 2., 0., 0., 2.]
        );
        assert_eq!(gather(&src, &[2, 3], 1, &[1, 0], &[2, 1]), vec![2., 4.]);
        assert_eq!(
            scatter_add(vec![0f32; 6], &[2, 3], 1, &[1, 0], &[2, 1], &[7., 8.]),
            vec![0., 7., 0., 8., 0., 0.]
        );
        assert_eq!(
            cat(&[(&[1f32, 2.], &[2, 1]), (&[3., 4.], &[2, 1])], 1),
            vec![1., 3., 2., 4.]
        );
    }

    /// The f64 path, and selection of non-float elements (indices, masks).
    #[test]
    fn f64_and_non_float_elements() {
        let src = [1f64, 2., 3., 4., 5., 6.]; // 2x3
        assert_eq!(
            index_add(&[2, 3], 1, &[2, 0], &[0.5f64, 0.25, 1.5, 2.5]),
            vec![0.25, 0., 0.5, 2.5, 0., 1.5]
        );
        assert_eq!(
            scatter_add(src.to_vec(), &[2, 3], 1, &[1, 0], &[2, 1], &[0.5, 0.25]),
            vec![1., 2.5, 3., 4.25, 5., 6.]
        );
        assert_eq!(gather(&src, &[2, 3], 1, &[2, 1], &[2, 1]), vec![3., 5.]);
        let mut dst = vec![0f64; 4];
        let t = Layout {
            shape: crate::core::Shape(vec![2, 2]),
            strides: vec![1, 2],
            offset: 0,
        };
        add_strided(&mut dst, &t, &[1., 2., 3., 4.]);
        assert_eq!(dst, vec![1., 3., 2., 4.]);
        assert_eq!(
            index_select(&[7i64, 8, 9], &[3], 0, &[2, 2, 0]),
            vec![9, 9, 7]
        );
        assert_eq!(
            cat(
                &[(&[true][..], &[1][..]), (&[false, true][..], &[2][..])],
                0
            ),
            vec![true, false, true]
        );
    }
}
