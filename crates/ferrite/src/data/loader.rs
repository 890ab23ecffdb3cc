//! [`DataLoader`]: mini-batches over a [`Dataset`], optionally shuffled with a seed each
//! epoch, reusing its batch buffers.

use std::sync::Arc;

use super::prefetch::{spawner, Prefetch, Spawner};
use super::Dataset;
use crate::error::{FerriteError, Result};
use crate::{Generator, Tensor};

/// Mini-batches `(features, targets)` over a dataset, like PyTorch's
/// `DataLoader(dataset, batch_size, shuffle, drop_last, generator)`.
///
/// An epoch is one pass of [`iter`](DataLoader::iter): `ceil(n / batch_size)` batches, the
/// last one smaller when `batch_size` does not divide `n`, or `floor(n / batch_size)` full
/// batches with [`drop_last`](DataLoader::drop_last). With [`shuffle`](DataLoader::shuffle)
/// every epoch visits the samples in a new random order drawn from the seeded generator, so
/// the same seed gives the same sequence of epochs.
///
/// Each batch is gathered with one copy per sample row into a buffer; when the caller has
/// dropped the previous batch, its buffer is taken back and refilled instead of allocating.
///
/// ```
/// use ferrite::data::{DataLoader, TensorDataset};
/// use ferrite::Tensor;
/// let x = Tensor::arange(0., 10., 1.).reshape([5, 2]);
/// let y = Tensor::arange(0., 5., 1.);
/// let mut loader = DataLoader::new(TensorDataset::new(x, y), 2).unwrap().shuffle(42);
/// assert_eq!(loader.len(), 3); // ceil(5 / 2)
/// let mut seen = Vec::new();
/// for (xb, yb) in loader.iter() {
///     assert_eq!(xb.dims()[1], 2);
///     seen.extend(yb.to_vec());
/// }
/// seen.sort_by(f32::total_cmp);
/// assert_eq!(seen, vec![0., 1., 2., 3., 4.]);
/// ```
pub struct DataLoader<D> {
    dataset: Arc<D>,
    /// Starts the background workers of an epoch, when [`num_workers`](DataLoader::num_workers)
    /// asked for some.
    workers: Option<(usize, Spawner)>,
    /// The workers of the current epoch.
    prefetch: Option<Prefetch>,
    batch_size: usize,
    drop_last: bool,
    /// The generator of the shuffle order; `None` keeps the dataset's order.
    shuffle: Option<Generator>,
    /// This loader's rank and the number of ranks sharing each epoch ((0, 1): all of it).
    shard: (usize, usize),
    /// The order of the current epoch (this rank's share of it).
    order: Vec<usize>,
    /// Buffers of batches handed out earlier, reused once the caller no longer holds them.
    recent: Option<(Tensor, Tensor)>,
    spare: (Vec<f32>, Vec<f32>),
}

impl<D: Dataset> DataLoader<D> {
    /// Batches of `batch_size` samples of `dataset`, in order, keeping the last short batch.
    /// Errors when `batch_size` is 0 (PyTorch raises the same).
    pub fn new(dataset: D, batch_size: usize) -> Result<Self> {
        if batch_size == 0 {
            return Err(FerriteError::invalid(
                "batch_size",
                "must be a positive integer, got 0",
            ));
        }
        Ok(DataLoader {
            dataset: Arc::new(dataset),
            workers: None,
            prefetch: None,
            batch_size,
            drop_last: false,
            shuffle: None,
            shard: (0, 1),
            order: Vec::new(),
            recent: None,
            spare: (Vec::new(), Vec::new()),
        })
    }

    /// Shuffles the samples at the start of every epoch with a generator seeded by `seed`.
    pub fn shuffle(mut self, seed: u64) -> Self {
        self.shuffle = Some(Generator::new(seed));
        self
    }

    /// Drops the last batch of an epoch when it is smaller than `batch_size`.
    pub fn drop_last(mut self, drop_last: bool) -> Self {
        self.drop_last = drop_last;
        self
    }

    /// Reads only rank `rank`'s share of every epoch when `world_size` ranks train together,
    /// as PyTorch's `DistributedSampler`: every rank shuffles with the same seed, the order is
    /// padded to a multiple of `world_size` by repeating its start, and rank `r` takes every
    /// `world_size`-th sample from position `r` (see
    /// [`shard_indices`](crate::distributed::shard_indices)). Distributed
    /// [`fit`](crate::train::fit) sets this itself.
    ///
    /// ```
    /// use ferrite::data::{DataLoader, TensorDataset};
    /// use ferrite::Tensor;
    /// let data = TensorDataset::new(Tensor::arange(0., 5., 1.).reshape([5, 1]), Tensor::arange(0., 5., 1.));
    /// let mut rank1 = DataLoader::new(data, 2).unwrap().shard(1, 2).unwrap();
    /// assert_eq!(rank1.len(), 2); // 3 samples: ceil(5 / 2)
    /// let seen: Vec<f32> = rank1.iter().flat_map(|(_, y)| y.to_vec()).collect();
    /// assert_eq!(seen, vec![1., 3., 0.]); // positions 1, 3 and the padding (position 0)
    /// ```
    pub fn shard(mut self, rank: usize, world_size: usize) -> Result<Self> {
        self.set_shard(rank, world_size)?;
        Ok(self)
    }

    /// [`shard`](DataLoader::shard) in place.
    pub fn set_shard(&mut self, rank: usize, world_size: usize) -> Result<()> {
        if world_size == 0 || rank >= world_size {
            return Err(FerriteError::invalid(
                "shard",
                format!("rank {rank} is not one of {world_size} ranks"),
            ));
        }
        self.shard = (rank, world_size);
        Ok(())
    }

    /// The number of samples this loader reads per epoch: the dataset's, or this rank's
    /// share of it.
    pub fn samples_per_epoch(&self) -> usize {
        let n = self.dataset.len();
        if n == 0 {
            return 0;
        }
        crate::distributed::shard_len(n, self.shard.1)
    }

    /// The dataset.
    pub fn dataset(&self) -> &D {
        &self.dataset
    }

    /// The number of samples per batch.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// The number of batches in an epoch: `ceil(n / batch_size)`, or `floor` with `drop_last`
    /// (`n` the [samples per epoch](DataLoader::samples_per_epoch)).
    pub fn len(&self) -> usize {
        let n = self.samples_per_epoch();
        if self.drop_last {
            n / self.batch_size
        } else {
            n.div_ceil(self.batch_size)
        }
    }

    /// True when an epoch has no batches.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The number of background workers gathering batches ahead (0: on the caller).
    pub fn workers(&self) -> usize {
        self.workers.as_ref().map_or(0, |(n, _)| *n)
    }

    /// One epoch of batches `(features [b, ..], targets [b, ..])`, in a new order when
    /// shuffling.
    pub fn iter(&mut self) -> Batches<'_, D> {
        let n = self.dataset.len();
        self.order = match &mut self.shuffle {
            Some(gen) => gen.permutation(n),
            None => (0..n).collect(),
        };
        let (rank, world_size) = self.shard;
        if world_size > 1 {
            self.order = crate::distributed::shard_indices(&self.order, rank, world_size);
        }
        // A new epoch: the workers of an unfinished one stop once their channel is dropped.
        self.prefetch = self
            .workers
            .as_ref()
            .map(|(_, spawn)| spawn(Arc::new(self.order.clone()), self.batch_size, self.len()));
        Batches {
            batches: self.len(),
            loader: self,
            next: 0,
        }
    }

    /// Gathers the samples at positions `start..end` of the epoch's order into tensors.
    fn batch(&mut self, start: usize, end: usize) -> (Tensor, Tensor) {
        if let Some((fx, fy, x_dims, y_dims)) = self.prefetch.as_mut().and_then(Prefetch::take) {
            let b = end - start;
            return (
                Tensor::from_vec(fx, [vec![b], x_dims].concat()),
                Tensor::from_vec(fy, [vec![b], y_dims].concat()),
            );
        }
        // Take back the buffers of the previous batch when nobody else holds them.
        if let Some((x, y)) = self.recent.take() {
            if let Some(v) = reclaim_buffer(x) {
                self.spare.0 = v;
            }
            if let Some(v) = reclaim_buffer(y) {
                self.spare.1 = v;
            }
        }
        let (mut fx, mut fy) = std::mem::take(&mut self.spare);
        let indices = &self.order[start..end];
        let (x_dims, y_dims) = self.dataset.gather(indices, &mut fx, &mut fy);
        let b = indices.len();
        let x = Tensor::from_vec(fx, [vec![b], x_dims].concat());
        let y = Tensor::from_vec(fy, [vec![b], y_dims].concat());
        self.recent = Some((x.clone(), y.clone()));
        (x, y)
    }
}

impl<D: Dataset + Send + Sync + 'static> DataLoader<D> {
    /// Gathers batches on `workers` background threads, each a few batches ahead of
    /// training (PyTorch's `num_workers`): the dataset's `gather` (decoding files,
    /// augmenting) then runs while the previous batches train. The batches and their order
    /// are the same as with 0 workers (the default: gathered on the caller, when asked for).
    /// A panic in `gather` on a worker is raised again on the caller.
    ///
    /// ```
    /// use ferrite::data::{DataLoader, TensorDataset};
    /// use ferrite::Tensor;
    /// let data = || TensorDataset::new(Tensor::arange(0., 20., 1.).reshape([10, 2]), Tensor::arange(0., 10., 1.));
    /// let mut plain = DataLoader::new(data(), 3).unwrap().shuffle(1);
    /// let mut ahead = DataLoader::new(data(), 3).unwrap().shuffle(1).num_workers(2);
    /// let a: Vec<Vec<f32>> = plain.iter().map(|(x, _)| x.to_vec()).collect();
    /// let b: Vec<Vec<f32>> = ahead.iter().map(|(x, _)| x.to_vec()).collect();
    /// assert_eq!(a, b);
    /// ```
    pub fn num_workers(mut self, workers: usize) -> Self {
        self.workers = (workers > 0).then(|| (workers, spawner(self.dataset.clone(), workers)));
        self
    }
}

/// The buffer of `t` when this handle is its only owner (no clone, view or graph node holds
/// it); otherwise `None` and the tensor stays alive with its other owners.
fn reclaim_buffer(mut t: Tensor) -> Option<Vec<f32>> {
    // `get_mut` succeeds only for a unique owner (no other strong or weak handle).
    let inner = Arc::get_mut(&mut t.0)?;
    let storage = Arc::get_mut(&mut inner.storage)?.get_mut().ok()?;
    storage.take_host_buffer()
}

/// The batches of one epoch of a [`DataLoader`].
pub struct Batches<'a, D> {
    loader: &'a mut DataLoader<D>,
    next: usize,
    batches: usize,
}

impl<D: Dataset> Iterator for Batches<'_, D> {
    type Item = (Tensor, Tensor);

    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.batches {
            return None;
        }
        let bs = self.loader.batch_size;
        let start = self.next * bs;
        let end = (start + bs).min(self.loader.order.len());
        self.next += 1;
        Some(self.loader.batch(start, end))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.batches - self.next;
        (left, Some(left))
    }
}

impl<D: Dataset> ExactSizeIterator for Batches<'_, D> {}

impl<'a, D: Dataset> IntoIterator for &'a mut DataLoader<D> {
    type Item = (Tensor, Tensor);
    type IntoIter = Batches<'a, D>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::TensorDataset;

    fn numbered(n: usize) -> TensorDataset {
        // Row i of the features is [i, 100 + i], target i.
        let x: Vec<f32> = (0..n).flat_map(|i| [i as f32, 100. + i as f32]).collect();
        TensorDataset::new(
            Tensor::from_vec(x, [n, 2]),
            Tensor::arange(0., n as f32, 1.),
        )
    }

    #[test]
    fn epochs_have_ceil_batches_and_keep_rows_with_their_targets() {
        let mut loader = DataLoader::new(numbered(10), 4).unwrap();
        assert_eq!(loader.len(), 3);
        let batches: Vec<_> = loader.iter().collect();
        let sizes: Vec<_> = batches
            .iter()
            .map(|(x, y)| (x.dims().to_vec(), y.dims().to_vec()))
            .collect();
        assert_eq!(
            sizes,
            vec![
                (vec![4, 2], vec![4]),
                (vec![4, 2], vec![4]),
                (vec![2, 2], vec![2])
            ]
        );
        assert_eq!(batches[2].0.to_vec2(), vec![vec![8., 108.], vec![9., 109.]]);

        let mut dropping = DataLoader::new(numbered(10), 4).unwrap().drop_last(true);
        assert_eq!(dropping.len(), 2);
        assert_eq!(dropping.iter().count(), 2);
        assert!(DataLoader::new(numbered(3), 0).is_err());
    }

    #[test]
    fn shuffling_is_a_seeded_permutation_that_changes_each_epoch() {
        let epoch = |loader: &mut DataLoader<TensorDataset>| -> Vec<f32> {
            loader
                .iter()
                .flat_map(|(x, y)| {
                    // Features stay with their target: x = [y, 100 + y].
                    assert_eq!(
                        x.to_vec2().iter().map(|r| r[0]).collect::<Vec<_>>(),
                        y.to_vec()
                    );
                    y.to_vec()
                })
                .collect()
        };
        let mut a = DataLoader::new(numbered(20), 6).unwrap().shuffle(7);
        let mut b = DataLoader::new(numbered(20), 6).unwrap().shuffle(7);
        let (a1, a2, b1) = (epoch(&mut a), epoch(&mut a), epoch(&mut b));
        assert_eq!(a1, b1, "same seed, same order");
        assert_ne!(a1, a2, "a new order each epoch");
        let mut sorted = a1.clone();
        sorted.sort_by(f32::total_cmp);
        assert_eq!(sorted, (0..20).map(|i| i as f32).collect::<Vec<_>>());
        assert_ne!(a1, sorted, "shuffled");
    }

    #[test]
    fn buffers_are_reused_once_the_caller_drops_a_batch() {
        let mut loader = DataLoader::new(numbered(12), 4).unwrap();
        let mut it = loader.iter();
        let (x0, _) = it.next().unwrap();
        let ptr = x0.storage().data_ptr();
        drop(x0);
        let (x1, _) = it.next().unwrap();
        assert_eq!(
            x1.storage().data_ptr(),
            ptr,
            "the dropped batch's buffer is refilled"
        );
        // A batch the caller still holds keeps its own data.
        let (x2, _) = it.next().unwrap();
        assert_eq!(x1.to_vec2()[0], vec![4., 104.]);
        assert_eq!(x2.to_vec2()[0], vec![8., 108.]);
    }
}
