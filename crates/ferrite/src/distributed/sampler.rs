//! Each rank's share of an epoch's order (PyTorch's `DistributedSampler`).

/// The number of samples each of `world_size` ranks reads from `n`: `ceil(n / world_size)`.
pub fn shard_len(n: usize, world_size: usize) -> usize {
    n.div_ceil(world_size.max(1))
}

/// Rank `rank`'s positions of `order`, as PyTorch's `DistributedSampler` (without
/// `drop_last`) picks them: `order` is padded to `world_size · ceil(n / world_size)` by
/// repeating it from its start, and rank `r` takes every `world_size`-th element from
/// position `r`. Every rank gets the same number of samples, so every rank runs the same
/// number of steps.
///
/// ```
/// use ferrite::distributed::shard_indices;
/// let order = [4, 0, 3, 1, 2];
/// assert_eq!(shard_indices(&order, 0, 2), vec![4, 3, 2]);
/// assert_eq!(shard_indices(&order, 1, 2), vec![0, 1, 4]); // padded with order[0]
/// ```
pub fn shard_indices(order: &[usize], rank: usize, world_size: usize) -> Vec<usize> {
    let world_size = world_size.max(1);
    if order.is_empty() {
        return Vec::new();
    }
    let total = shard_len(order.len(), world_size) * world_size;
    (rank..total)
        .step_by(world_size)
        .map(|i| order[i % order.len()])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_cover_the_order_once_when_it_divides_evenly() {
        let order: Vec<usize> = (0..12).rev().collect();
        let mut all: Vec<usize> = (0..3).flat_map(|r| shard_indices(&order, r, 3)).collect();
        assert_eq!(shard_indices(&order, 1, 3), vec![10, 7, 4, 1]);
        all.sort();
        assert_eq!(all, (0..12).collect::<Vec<_>>());
    }

    #[test]
    fn padding_repeats_the_start_as_pytorch_does() {
        // DistributedSampler(range(5), num_replicas=4, shuffle=False): total 8, padded with
        // indices[:3] -> [0,1,2,3,4,0,1,2]; rank 1 takes [1, 0], rank 3 takes [3, 2].
        let order: Vec<usize> = (0..5).collect();
        assert_eq!(shard_indices(&order, 1, 4), vec![1, 0]);
        assert_eq!(shard_indices(&order, 3, 4), vec![3, 2]);
        // Fewer samples than ranks: the order repeats as often as needed.
        assert_eq!(shard_indices(&[7], 2, 3), vec![7]);
        assert_eq!(shard_len(5, 4), 2);
        assert!(shard_indices(&[], 0, 2).is_empty());
    }
}
