//! Shapes, strides and broadcasting: how a flat buffer is seen as an n-dimensional tensor.

use std::fmt;

/// The sizes of a tensor's dimensions, outermost first.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Shape(pub Vec<usize>);

impl Shape {
    /// The number of elements: the product of the sizes (1 for a scalar).
    pub fn numel(&self) -> usize {
        self.0.iter().product()
    }
    /// The number of dimensions.
    pub fn rank(&self) -> usize {
        self.0.len()
    }
    /// The sizes as a slice.
    pub fn dims(&self) -> &[usize] {
        &self.0
    }
    /// Row-major (C-order) strides for this shape.
    pub fn contiguous_strides(&self) -> Vec<usize> {
        let mut strides = vec![0; self.0.len()];
        let mut acc = 1;
        for (s, &d) in strides.iter_mut().zip(&self.0).rev() {
            *s = acc;
            acc *= d;
        }
        strides
    }
}

impl fmt::Debug for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl From<&[usize]> for Shape {
    fn from(d: &[usize]) -> Self {
        Shape(d.to_vec())
    }
}
impl From<Vec<usize>> for Shape {
    fn from(d: Vec<usize>) -> Self {
        Shape(d)
    }
}
impl<const N: usize> From<[usize; N]> for Shape {
    fn from(d: [usize; N]) -> Self {
        Shape(d.to_vec())
    }
}
impl<const N: usize> From<&[usize; N]> for Shape {
    fn from(d: &[usize; N]) -> Self {
        Shape(d.to_vec())
    }
}
impl From<&Vec<usize>> for Shape {
    fn from(d: &Vec<usize>) -> Self {
        Shape(d.clone())
    }
}
impl From<()> for Shape {
    fn from(_: ()) -> Self {
        Shape(vec![])
    }
}
impl From<usize> for Shape {
    fn from(d: usize) -> Self {
        Shape(vec![d])
    }
}
impl From<(usize, usize)> for Shape {
    fn from(d: (usize, usize)) -> Self {
        Shape(vec![d.0, d.1])
    }
}
impl From<(usize, usize, usize)> for Shape {
    fn from(d: (usize, usize, usize)) -> Self {
        Shape(vec![d.0, d.1, d.2])
    }
}
impl From<(usize, usize, usize, usize)> for Shape {
    fn from(d: (usize, usize, usize, usize)) -> Self {
        Shape(vec![d.0, d.1, d.2, d.3])
    }
}

/// How a tensor reads its storage: element `[i0, i1, ...]` lives at
/// `offset + i0 * strides[0] + i1 * strides[1] + ...`. A stride of 0 repeats an element
/// (broadcasting) without copying.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    /// The logical shape.
    pub shape: Shape,
    /// Steps in the storage, in elements, per dimension.
    pub strides: Vec<usize>,
    /// Position of element `[0, 0, ...]` in the storage.
    pub offset: usize,
}

impl Layout {
    /// A row-major layout starting at offset 0.
    pub fn contiguous(shape: impl Into<Shape>) -> Self {
        let shape = shape.into();
        let strides = shape.contiguous_strides();
        Layout {
            shape,
            strides,
            offset: 0,
        }
    }

    /// The sizes.
    pub fn dims(&self) -> &[usize] {
        &self.shape.0
    }

    /// The number of elements.
    pub fn numel(&self) -> usize {
        self.shape.numel()
    }

    /// True when the elements are laid out row-major with no gaps (offset may be non-zero).
    pub fn is_contiguous(&self) -> bool {
        let mut acc = 1;
        for (&d, &s) in self.shape.0.iter().zip(&self.strides).rev() {
            if d != 1 && s != acc {
                return false;
            }
            acc *= d;
        }
        true
    }

    /// The storage offset of every element, in row-major order.
    pub fn element_offsets(&self) -> Vec<usize> {
        let dims = self.dims();
        let mut offsets = Vec::with_capacity(self.numel());
        if dims.contains(&0) {
            return offsets;
        }
        let mut index = vec![0usize; dims.len()];
        let mut offset = self.offset;
        loop {
            offsets.push(offset);
            // Odometer step: bump the last coordinate, carrying into earlier ones.
            let mut d = dims.len();
            loop {
                if d == 0 {
                    return offsets;
                }
                d -= 1;
                index[d] += 1;
                offset += self.strides[d];
                if index[d] < dims[d] {
                    break;
                }
                offset -= self.strides[d] * dims[d];
                index[d] = 0;
            }
        }
    }

    /// The range of storage this contiguous layout covers.
    pub fn contiguous_range(&self) -> Option<std::ops::Range<usize>> {
        if self.is_contiguous() {
            Some(self.offset..self.offset + self.numel())
        } else {
            None
        }
    }

    /// Strides to read this layout as if it had shape `target` (broadcasting: size-1 or missing
    /// leading dimensions get stride 0). Panics with `op` and both shapes when not broadcastable.
    pub fn broadcast_strides(&self, target: &[usize], op: &str) -> Vec<usize> {
        let rank = target.len();
        let own = self.dims();
        assert!(
            own.len() <= rank,
            "{op}: cannot broadcast shape {own:?} to {target:?}"
        );
        let lead = rank - own.len();
        let mut strides = vec![0; rank];
        for i in 0..own.len() {
            if own[i] == target[lead + i] {
                strides[lead + i] = if own[i] == 1 { 0 } else { self.strides[i] };
            } else if own[i] == 1 {
                strides[lead + i] = 0;
            } else {
                panic!("{op}: cannot broadcast shape {own:?} to {target:?}");
            }
        }
        strides
    }
}

/// The broadcast shape of two shapes (NumPy rules), or a panic naming `op` and both shapes.
pub fn broadcast_shapes(a: &[usize], b: &[usize], op: &str) -> Vec<usize> {
    try_broadcast_shapes(a, b)
        .unwrap_or_else(|| panic!("{op}: shapes {a:?} and {b:?} cannot be broadcast together"))
}

/// The broadcast shape of two shapes, or `None` when they are incompatible.
pub fn try_broadcast_shapes(a: &[usize], b: &[usize]) -> Option<Vec<usize>> {
    let rank = a.len().max(b.len());
    let mut out = vec![0; rank];
    for i in 0..rank {
        let da = if i + a.len() >= rank {
            a[i + a.len() - rank]
        } else {
            1
        };
        let db = if i + b.len() >= rank {
            b[i + b.len() - rank]
        } else {
            1
        };
        out[i] = if da == db || db == 1 {
            da
        } else if da == 1 {
            db
        } else {
            return None;
        };
    }
    Some(out)
}

/// Normalises a possibly negative dimension index against `rank` (PyTorch's `dim=-1`).
pub fn normalize_dim(dim: isize, rank: usize, op: &str) -> usize {
    let r = rank.max(1) as isize;
    let d = if dim < 0 { dim + r } else { dim };
    assert!(
        d >= 0 && d < r,
        "{op}: dimension {dim} out of range for a tensor of {rank} dimensions"
    );
    d as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contiguous_strides_are_row_major() {
        assert_eq!(Shape(vec![2, 3, 4]).contiguous_strides(), vec![12, 4, 1]);
        assert!(Layout::contiguous([2, 3]).is_contiguous());
    }

    #[test]
    fn broadcasting_follows_numpy() {
        assert_eq!(broadcast_shapes(&[3, 1], &[4], "t"), vec![3, 4]);
        assert_eq!(broadcast_shapes(&[], &[2, 2], "t"), vec![2, 2]);
        assert!(try_broadcast_shapes(&[3], &[4]).is_none());
        let l = Layout::contiguous([3, 1]);
        assert_eq!(l.broadcast_strides(&[2, 3, 4], "t"), vec![0, 1, 0]);
    }

    #[test]
    fn transposed_layout_is_not_contiguous() {
        let l = Layout {
            shape: Shape(vec![3, 2]),
            strides: vec![1, 3],
            offset: 0,
        };
        assert!(!l.is_contiguous());
    }
}
