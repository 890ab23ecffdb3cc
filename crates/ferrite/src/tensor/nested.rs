//! Tensors from nested fixed-size arrays of any rank: `Tensor::from([[1.0, 2.0], [3.0, 4.0]])`
//! (PyTorch's `torch.tensor([[1.0, 2.0], [3.0, 4.0]])`).
//!
//! The shape is read from the array's type, so every row has the same length by
//! construction and nothing can fail at run time.

use super::{Shape, Tensor};

mod sealed {
    /// Keeps [`super::ArrayElement`] and [`super::NestedArray`] to the types below: a new impl
    /// elsewhere could make a float literal's type ambiguous (see `From<[T; N]>`).
    pub trait Sealed {}
}

/// A scalar a nested array can hold: `f32`, `f64`, `i64` or `bool`, each making a tensor of
/// that type (float32, float64, int64, bool).
pub trait ArrayElement: Copy + sealed::Sealed {
    /// A tensor of `shape` from row-major `data` of this type.
    #[doc(hidden)]
    fn make_tensor(data: Vec<Self>, shape: Shape) -> Tensor;
}

/// A scalar, or a fixed-size array of `NestedArray`s nested to any depth (`[[[E; K]; N]; M]`),
/// holding elements of type `E`. Implemented for every such array; not meant to be
/// implemented elsewhere.
pub trait NestedArray<E: ArrayElement>: sealed::Sealed {
    /// Appends the array's dimensions, outermost first (none for a scalar).
    #[doc(hidden)]
    fn push_dims(dims: &mut Vec<usize>);
    /// Appends the elements in row-major order.
    #[doc(hidden)]
    fn push_elements(&self, out: &mut Vec<E>);
}

macro_rules! scalar_element {
    ($($t:ty => $make:ident),*) => {$(
        impl sealed::Sealed for $t {}
        impl ArrayElement for $t {
            fn make_tensor(data: Vec<Self>, shape: Shape) -> Tensor {
                Tensor::$make(data, shape)
            }
        }
        impl NestedArray<$t> for $t {
            fn push_dims(_: &mut Vec<usize>) {}
            fn push_elements(&self, out: &mut Vec<$t>) {
                out.push(*self);
            }
        }
    )*};
}
scalar_element!(f32 => from_vec, f64 => from_f64, i64 => from_i64, bool => from_bool);

impl<T: sealed::Sealed, const N: usize> sealed::Sealed for [T; N] {}

impl<E: ArrayElement, T: NestedArray<E>, const N: usize> NestedArray<E> for [T; N] {
    fn push_dims(dims: &mut Vec<usize>) {
        dims.push(N);
        // From the type, not from `self[0]`: a zero-length dimension has no element to ask.
        T::push_dims(dims);
    }
    fn push_elements(&self, out: &mut Vec<E>) {
        self.iter().for_each(|t| t.push_elements(out));
    }
}

impl Tensor {
    /// A tensor of the array's shape and element type (f32, f64, i64 or bool), from a nested
    /// fixed-size array of any rank (a bare scalar gives a 0-dimensional tensor). Like NumPy's
    /// `np.array`, the element type decides the dtype; Rust types an unsuffixed float literal
    /// `f64` here, so write `1.0f32` or use `Tensor::from`, which is always float32.
    ///
    /// ```
    /// use ferrite::{DType, Tensor};
    /// let t = Tensor::from_array([[0.1f64, 0.2], [0.3, 0.4]]);
    /// assert_eq!((t.dims(), t.dtype()), (&[2, 2][..], DType::F64));
    /// assert_eq!(t.to_vec_f64(), vec![0.1, 0.2, 0.3, 0.4]);
    /// let labels = Tensor::from_array([[1i64], [0]]);
    /// assert_eq!((labels.dims(), labels.dtype()), (&[2, 1][..], DType::I64));
    /// ```
    pub fn from_array<E: ArrayElement, A: NestedArray<E>>(array: A) -> Tensor {
        let mut dims = Vec::new();
        A::push_dims(&mut dims);
        let mut data = Vec::with_capacity(dims.iter().product());
        array.push_elements(&mut data);
        E::make_tensor(data, Shape(dims))
    }
}

/// A float32 tensor from a nested `f32` array of any rank ≥ 1, its shape the array's
/// (PyTorch's `torch.tensor(...)` with the default dtype). Float literals need no suffix:
/// this is the only float element type `From` takes, so they are typed `f32`.
///
/// ```
/// use ferrite::{DType, Tensor};
/// let m = Tensor::from([[1.0, 2.0], [3.0, 4.0]]);
/// assert_eq!((m.dims(), m.dtype()), (&[2, 2][..], DType::F32));
/// assert_eq!(m.to_vec2(), vec![vec![1.0, 2.0], vec![3.0, 4.0]]);
/// let batch: Tensor = [[[[0.5; 5]; 4]; 3]; 2].into();
/// assert_eq!(batch.dims(), &[2, 3, 4, 5]);
/// ```
impl<T: NestedArray<f32>, const N: usize> From<[T; N]> for Tensor {
    fn from(array: [T; N]) -> Tensor {
        Tensor::from_array(array)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DType;

    #[test]
    fn shapes_and_values_of_every_rank() {
        let v = Tensor::from([1.0, -2.0, 3.5]);
        assert_eq!((v.dims(), v.to_vec()), (&[3][..], vec![1.0, -2.0, 3.5]));
        // Rows of a 3×2 matrix stay rows: row-major order.
        let m = Tensor::from([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]);
        assert_eq!(m.dims(), &[3, 2]);
        assert_eq!(m.to_vec(), vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let r3 = Tensor::from([[[1.0, 2.0, 3.0]], [[4.0, 5.0, 6.0]]]);
        assert_eq!(r3.dims(), &[2, 1, 3]);
        assert_eq!(r3.to_vec(), vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        // Rank 4 and 5; element [i][j][k][l] lands at the row-major offset.
        let (i, j, k, l) = (1, 0, 2, 1);
        let mut a = [[[[0f32; 2]; 3]; 2]; 2];
        a[i][j][k][l] = 7.0;
        let r4 = Tensor::from(a);
        assert_eq!(r4.dims(), &[2, 2, 3, 2]);
        let offset = ((i * 2 + j) * 3 + k) * 2 + l;
        assert_eq!(r4.to_vec()[offset], 7.0);
        assert_eq!(r4.to_vec().iter().sum::<f32>(), 7.0);
        assert_eq!(Tensor::from([[[[[1.0]]]]]).dims(), &[1, 1, 1, 1, 1]);
    }

    #[test]
    fn zero_length_dimensions_keep_the_inner_shape() {
        let empty: [[f32; 3]; 0] = [];
        assert_eq!(Tensor::from(empty).dims(), &[0, 3]);
        let hollow: [[f32; 0]; 2] = [[], []];
        let t = Tensor::from(hollow);
        assert_eq!((t.dims(), t.numel()), (&[2, 0][..], 0));
    }

    #[test]
    fn element_types_make_their_dtypes() {
        let f = Tensor::from_array([[1.5f64, 2.5]]);
        assert_eq!((f.dtype(), f.dims()), (DType::F64, &[1, 2][..]));
        assert_eq!(f.to_vec_f64(), vec![1.5, 2.5]);
        let i = Tensor::from_array([[3i64, -4], [5, 6]]);
        assert_eq!(i.dtype(), DType::I64);
        assert_eq!(i.to_vec_i64(), vec![3, -4, 5, 6]);
        let b = Tensor::from_array([true, false, true]);
        assert_eq!((b.dtype(), b.dims()), (DType::Bool, &[3][..]));
        // A bare scalar is 0-dimensional.
        let s = Tensor::from_array(2.0f32);
        assert_eq!((s.dims(), s.item()), (&[][..], 2.0));
    }
}
