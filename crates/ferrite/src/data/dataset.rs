//! The [`Dataset`] trait (indexed samples of features and a target) and [`TensorDataset`],
//! a dataset over two tensors whose first dimension indexes the samples.

use crate::Tensor;

/// A collection of `len()` samples, each a pair (features, target), like PyTorch's
/// `torch.utils.data.Dataset`.
///
/// [`get`](Dataset::get) returns one sample as tensors. [`DataLoader`](super::DataLoader)
/// asks for whole batches through [`gather`](Dataset::gather), which copies the samples
/// straight into reusable buffers; the default implementation goes through `get`, and
/// datasets held in memory (like [`TensorDataset`]) override it with a direct row copy.
pub trait Dataset {
    /// The number of samples.
    fn len(&self) -> usize;

    /// True when there are no samples.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Sample `index` as (features, target). Panics when `index >= len()`, as indexing does.
    fn get(&self, index: usize) -> (Tensor, Tensor);

    /// Copies samples `indices` (in order) into `features` and `targets`, which are cleared
    /// first, and returns the shapes of one sample's features and one sample's target.
    /// The batch tensors are then `[indices.len(), feature_dims..]` and
    /// `[indices.len(), target_dims..]`.
    fn gather(
        &self,
        indices: &[usize],
        features: &mut Vec<f32>,
        targets: &mut Vec<f32>,
    ) -> (Vec<usize>, Vec<usize>) {
        features.clear();
        targets.clear();
        let mut dims = (Vec::new(), Vec::new());
        for (k, &i) in indices.iter().enumerate() {
            let (x, y) = self.get(i);
            if k == 0 {
                dims = (x.dims().to_vec(), y.dims().to_vec());
            } else {
                assert!(
                    x.dims() == dims.0.as_slice() && y.dims() == dims.1.as_slice(),
                    "Dataset::gather: sample {i} has shapes {:?}/{:?} but the first sample of the batch has {:?}/{:?}",
                    x.dims(),
                    y.dims(),
                    dims.0,
                    dims.1
                );
            }
            features.extend(x.to_vec());
            targets.extend(y.to_vec());
        }
        dims
    }
}

impl<D: Dataset + ?Sized> Dataset for &D {
    fn len(&self) -> usize {
        (**self).len()
    }
    fn get(&self, index: usize) -> (Tensor, Tensor) {
        (**self).get(index)
    }
    fn gather(
        &self,
        indices: &[usize],
        features: &mut Vec<f32>,
        targets: &mut Vec<f32>,
    ) -> (Vec<usize>, Vec<usize>) {
        (**self).gather(indices, features, targets)
    }
}

impl<D: Dataset + ?Sized> Dataset for Box<D> {
    fn len(&self) -> usize {
        (**self).len()
    }
    fn get(&self, index: usize) -> (Tensor, Tensor) {
        (**self).get(index)
    }
    fn gather(
        &self,
        indices: &[usize],
        features: &mut Vec<f32>,
        targets: &mut Vec<f32>,
    ) -> (Vec<usize>, Vec<usize>) {
        (**self).gather(indices, features, targets)
    }
}

impl<D: Dataset + ?Sized> Dataset for std::sync::Arc<D> {
    fn len(&self) -> usize {
        (**self).len()
    }
    fn get(&self, index: usize) -> (Tensor, Tensor) {
        (**self).get(index)
    }
    fn gather(
        &self,
        indices: &[usize],
        features: &mut Vec<f32>,
        targets: &mut Vec<f32>,
    ) -> (Vec<usize>, Vec<usize>) {
        (**self).gather(indices, features, targets)
    }
}

/// Samples taken along the first dimension of a features tensor and a targets tensor, like
/// PyTorch's `TensorDataset(x, y)`.
///
/// ```
/// use ferrite::data::{Dataset, TensorDataset};
/// use ferrite::Tensor;
/// let x = Tensor::from_vec(vec![1., 2., 3., 4., 5., 6.], [3, 2]);
/// let y = Tensor::from_vec(vec![0., 1., 0.], [3]);
/// let ds = TensorDataset::new(x, y);
/// assert_eq!(ds.len(), 3);
/// let (xi, yi) = ds.get(1);
/// assert_eq!((xi.to_vec(), yi.item()), (vec![3., 4.], 1.));
/// ```
#[derive(Clone, Debug)]
pub struct TensorDataset {
    features: Tensor,
    targets: Tensor,
}

impl TensorDataset {
    /// A dataset over `features` `(N, ..)` and `targets` `(N, ..)` (or `(N)`). The tensors
    /// are detached and made contiguous once, so batches are plain row copies.
    /// Panics when the first dimensions differ ("Size mismatch between tensors", as PyTorch).
    pub fn new(features: Tensor, targets: Tensor) -> Self {
        assert!(
            features.rank() >= 1 && targets.rank() >= 1 && features.dims()[0] == targets.dims()[0],
            "TensorDataset: Size mismatch between tensors: features {:?} and targets {:?} need the same first dimension",
            features.dims(),
            targets.dims()
        );
        TensorDataset {
            features: features.detach().contiguous(),
            targets: targets.detach().contiguous(),
        }
    }

    /// The features tensor `(N, ..)`.
    pub fn features(&self) -> &Tensor {
        &self.features
    }

    /// The targets tensor `(N, ..)`.
    pub fn targets(&self) -> &Tensor {
        &self.targets
    }

    /// The samples `indices` as one new dataset (for example the training part of a split).
    pub fn subset(&self, indices: &[usize]) -> TensorDataset {
        let _no_grad = crate::no_grad();
        TensorDataset {
            features: self.features.index_select(0, indices),
            targets: self.targets.index_select(0, indices),
        }
    }
}

/// Appends rows `indices` of a `(N, row..)` tensor to `out`, one slice copy per row.
fn copy_rows(t: &Tensor, indices: &[usize], out: &mut Vec<f32>) {
    t.storage().copy_rows_to_host(t.layout(), indices, out);
}

impl Dataset for TensorDataset {
    fn len(&self) -> usize {
        self.features.dims()[0]
    }

    fn get(&self, index: usize) -> (Tensor, Tensor) {
        (self.features.get(index), self.targets.get(index))
    }

    fn gather(
        &self,
        indices: &[usize],
        features: &mut Vec<f32>,
        targets: &mut Vec<f32>,
    ) -> (Vec<usize>, Vec<usize>) {
        copy_rows(&self.features, indices, features);
        copy_rows(&self.targets, indices, targets);
        (
            self.features.dims()[1..].to_vec(),
            self.targets.dims()[1..].to_vec(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gather_copies_rows_and_matches_get() {
        let x = Tensor::arange(0., 24., 1.).reshape([4, 3, 2]);
        let y = Tensor::from_vec(vec![10., 11., 12., 13.], [4]);
        let ds = TensorDataset::new(x.clone(), y);
        let (mut f, mut t) = (Vec::new(), Vec::new());
        let (fd, td) = ds.gather(&[3, 0], &mut f, &mut t);
        assert_eq!((fd, td), (vec![3, 2], vec![]));
        let expected: Vec<f32> = (18..24).chain(0..6).map(|v| v as f32).collect();
        assert_eq!(f, expected);
        assert_eq!(t, vec![13., 10.]);
        // The trait's default path (through `get`) gives the same batch.
        struct ViaGet<'a>(&'a TensorDataset);
        impl Dataset for ViaGet<'_> {
            fn len(&self) -> usize {
                self.0.len()
            }
            fn get(&self, i: usize) -> (Tensor, Tensor) {
                self.0.get(i)
            }
        }
        let (mut f2, mut t2) = (Vec::new(), Vec::new());
        let dims = ViaGet(&ds).gather(&[3, 0], &mut f2, &mut t2);
        assert_eq!(
            (dims, f2, t2),
            ((vec![3, 2], vec![]), expected, vec![13., 10.])
        );
    }

    #[test]
    fn views_are_made_contiguous_and_subsets_select_rows() {
        // A transposed view: rows of the dataset are columns of the original.
        let x = Tensor::from_vec(vec![1., 2., 3., 4., 5., 6.], [2, 3]).t();
        let ds = TensorDataset::new(x, Tensor::from_vec(vec![0., 1., 2.], [3]));
        let sub = ds.subset(&[2, 0]);
        assert_eq!(sub.features().to_vec2(), vec![vec![3., 6.], vec![1., 4.]]);
        assert_eq!(sub.targets().to_vec(), vec![2., 0.]);
    }

    #[test]
    #[should_panic(expected = "Size mismatch")]
    fn mismatched_lengths_panic() {
        TensorDataset::new(Tensor::zeros([3, 2]), Tensor::zeros([4]));
    }
}
