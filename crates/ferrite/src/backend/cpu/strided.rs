//! Walking strided layouts: the one loop every non-contiguous kernel is built on.

use crate::core::Layout;

/// Calls `f` with the storage offsets of each of `K` operands for every index of `dims`,
/// in row-major order. The innermost dimension runs as a tight loop.
#[inline]
pub fn for_each_strided<const K: usize>(
    dims: &[usize],
    strides: [&[usize]; K],
    offsets: [usize; K],
    mut f: impl FnMut([usize; K]),
) {
    let rank = dims.len();
    if dims.contains(&0) {
        return;
    }
    if rank == 0 {
        f(offsets);
        return;
    }
    let inner = dims[rank - 1];
    let inner_strides: [usize; K] = std::array::from_fn(|k| strides[k][rank - 1]);
    let mut index = vec![0usize; rank - 1];
    let mut base = offsets;
    loop {
        let mut offs = base;
        for _ in 0..inner {
            f(offs);
            for k in 0..K {
                offs[k] += inner_strides[k];
            }
        }
        // Advance the outer multi-index like an odometer.
        let mut d = rank - 1;
        loop {
            if d == 0 {
                return;
            }
            d -= 1;
            index[d] += 1;
            for k in 0..K {
                base[k] += strides[k][d];
            }
            if index[d] < dims[d] {
                break;
            }
            for k in 0..K {
                base[k] -= strides[k][d] * dims[d];
            }
            index[d] = 0;
        }
    }
}

/// Copies the elements a layout sees into a new row-major buffer.
pub fn to_contiguous<T: Copy + Default>(src: &[T], layout: &Layout) -> Vec<T> {
    if let Some(r) = layout.contiguous_range() {
        return src[r].to_vec();
    }
    // Writing through an index into a sized buffer (not `push`) keeps the inner loop tight.
    let mut out = vec![T::default(); layout.numel()];
    let mut n = 0;
    for_each_strided(layout.dims(), [&layout.strides], [layout.offset], |[o]| {
        out[n] = src[o];
        n += 1;
    });
    out
}

/// Borrows the data as one row-major slice when possible, else copies it.
pub fn contiguous_cow<'a, T: Copy + Default>(
    src: &'a [T],
    layout: &Layout,
) -> std::borrow::Cow<'a, [T]> {
    match layout.contiguous_range() {
        Some(r) => std::borrow::Cow::Borrowed(&src[r]),
        None => std::borrow::Cow::Owned(to_contiguous(src, layout)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::Shape;

    #[test]
    fn transposed_copy_reorders() {
        // [[0,1,2],[3,4,5]] transposed is [[0,3],[1,4],[2,5]]
        let src: Vec<f32> = (0..6).map(|x| x as f32).collect();
        let l = Layout {
            shape: Shape(vec![3, 2]),
            strides: vec![1, 3],
            offset: 0,
        };
        assert_eq!(to_contiguous(&src, &l), vec![0., 3., 1., 4., 2., 5.]);
    }
}
