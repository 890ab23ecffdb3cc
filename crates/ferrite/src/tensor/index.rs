//! Indexing and joining: index_select, gather, scatter_add, masked_fill, where, cat, stack,
//! split and chunk.

use super::{normalize_dim, Layout, Tensor};
use crate::autograd::Op;
use crate::backend::Storage;
use crate::core::DType;

/// An index tensor (dtype i64, on `like`'s device) for `index`, whose values must be integers
/// in `0..bound`: i64 tensors as they are, and integer-valued float tensors converted. Any
/// other value panics naming `op`, as PyTorch raises.
pub(crate) fn to_index_tensor(index: &Tensor, bound: usize, op: &str, like: &Tensor) -> Tensor {
    let values: Vec<i64> = match index.dtype() {
        DType::I64 => index.storage().to_host_i64(index.layout()),
        _ => index
            .to_vec()
            .into_iter()
            .map(|v| {
                assert!(
                    v >= 0.0 && v.fract() == 0.0 && (v as usize) < bound,
                    "{op}: index {v} is out of bounds for dimension with size {bound}"
                );
                v as i64
            })
            .collect(),
    };
    if let Some(&bad) = values.iter().find(|&&v| v < 0 || v as usize >= bound) {
        panic!("{op}: index {bad} is out of bounds for dimension with size {bound}");
    }
    Tensor::from_indices(values, index.dims().to_vec(), like)
}

impl Tensor {
    /// A row-major i64 tensor of `dims` holding `values`, on `like`'s device.
    pub(crate) fn from_indices(values: Vec<i64>, dims: Vec<usize>, like: &Tensor) -> Tensor {
        Tensor::from_storage(
            Storage::from_host_i64(values, like.device()),
            Layout::contiguous(dims),
        )
    }

    /// Entries `indices` along `dim` (PyTorch's `index_select`, or `x[idx]` for dim 0).
    pub fn index_select(&self, dim: isize, indices: &[usize]) -> Tensor {
        let d = normalize_dim(dim, self.rank(), "index_select");
        let size = self.dims()[d];
        if let Some(&bad) = indices.iter().find(|&&i| i >= size) {
            panic!("index_select: index {bad} is out of bounds for dimension {d} with size {size}");
        }
        let index = Tensor::from_indices(
            indices.iter().map(|&i| i as i64).collect(),
            vec![indices.len()],
            self,
        );
        let storage = self
            .storage()
            .index_select(self.layout(), d, &index.storage());
        let mut dims = self.dims().to_vec();
        dims[d] = indices.len();
        Tensor::from_op(
            storage,
            Layout::contiguous(dims),
            Op::IndexSelect {
                dim: d,
                indices: index,
            },
            vec![self.clone()],
        )
    }

    /// Zeros of `dims` with the blocks of `self` added at `indices` (an i64 tensor) along
    /// `dim`.
    pub(crate) fn index_add_into(&self, dims: &[usize], dim: usize, indices: &Tensor) -> Tensor {
        let storage = self
            .storage()
            .index_add(self.layout(), dims, dim, &indices.storage());
        Tensor::from_storage(storage, Layout::contiguous(dims.to_vec()))
    }

    /// `out[i][j] = self[i][index[i][j]]` for `dim = 1` (and likewise for any dim).
    /// `index` holds integer values (i64, or integer-valued floats) and has the same rank as
    /// `self`.
    pub fn gather(&self, dim: isize, index: &Tensor) -> Tensor {
        let d = normalize_dim(dim, self.rank(), "gather");
        assert_eq!(
            index.rank(),
            self.rank(),
            "gather: index tensor must have the same number of dimensions as input ({:?} vs {:?})",
            index.dims(),
            self.dims()
        );
        for (i, (&a, &b)) in index.dims().iter().zip(self.dims()).enumerate() {
            assert!(
                i == d || a <= b,
                "gather: size of index {:?} does not fit input {:?} in dimension {i}",
                index.dims(),
                self.dims()
            );
        }
        let index = to_index_tensor(index, self.dims()[d], "gather", self);
        let out = self.gather_raw(d, &index);
        out.attach(Op::Gather { dim: d, index }, vec![self.clone()])
    }

    /// [`Tensor::gather`] with a checked i64 index and no history.
    pub(crate) fn gather_raw(&self, dim: usize, index: &Tensor) -> Tensor {
        let storage = self
            .storage()
            .gather(self.layout(), dim, (&index.storage(), index.layout()));
        Tensor::from_storage(storage, Layout::contiguous(index.dims().to_vec()))
    }

    /// A copy of `self` with `src` added at the positions `index` names along `dim`.
    pub fn scatter_add(&self, dim: isize, index: &Tensor, src: &Tensor) -> Tensor {
        let d = normalize_dim(dim, self.rank(), "scatter_add");
        assert!(
            index.rank() == self.rank() && src.dims() == index.dims(),
            "scatter_add: index {:?} and src {:?} must have the same shape and the rank of input {:?}",
            index.dims(),
            src.dims(),
            self.dims()
        );
        let index = to_index_tensor(index, self.dims()[d], "scatter_add", self);
        let out = self.scatter_add_raw(d, &index, src);
        out.attach(
            Op::ScatterAdd { dim: d, index },
            vec![self.clone(), src.clone()],
        )
    }

    /// [`Tensor::scatter_add`] with a checked i64 index and no history.
    pub(crate) fn scatter_add_raw(&self, dim: usize, index: &Tensor, src: &Tensor) -> Tensor {
        let storage = self.storage().scatter_add(
            self.layout(),
            dim,
            (&index.storage(), index.layout()),
            (&src.storage(), src.layout()),
        );
        Tensor::from_storage(storage, Layout::contiguous(self.dims().to_vec()))
    }

    /// The values of an i64 tensor as floats (`tensor.float()` in PyTorch).
    pub(crate) fn indices_as_float(&self) -> Tensor {
        let storage = self.storage().to_dtype(self.layout(), DType::F32);
        Tensor::from_storage(storage, Layout::contiguous(self.dims().to_vec()))
    }

    /// `self` with `value` wherever `mask` (0/1, broadcastable to `self`) is non-zero.
    pub fn masked_fill(&self, mask: &Tensor, value: f32) -> Tensor {
        let dims = self.dims().to_vec();
        let mask_layout = mask.layout().clone();
        let storage = {
            let mask_view = Layout {
                strides: mask_layout.broadcast_strides(&dims, "masked_fill"),
                shape: dims.clone().into(),
                offset: mask_layout.offset,
            };
            self.storage()
                .masked_fill(self.layout(), &mask.storage(), &mask_view, value)
        };
        let out = Tensor::from_storage(storage, Layout::contiguous(dims));
        out.attach(Op::MaskedFill(mask.detach()), vec![self.clone()])
    }

    /// Picks from `a` where `cond` is non-zero, else from `b` (all three broadcast together).
    pub fn where_cond(cond: &Tensor, a: &Tensor, b: &Tensor) -> Tensor {
        if let Some(d) = crate::tensor::dtype::mixed_float_dtype(&[Some(a), Some(b)]) {
            return Tensor::where_cond(cond, &a.to_dtype(d), &b.to_dtype(d));
        }
        let dims = super::broadcast_shapes(
            &super::broadcast_shapes(cond.dims(), a.dims(), "where"),
            b.dims(),
            "where",
        );
        let storage = {
            let (c, sa, sb) = (cond.storage(), a.storage(), b.storage());
            Storage::where_cond(
                (&c, cond.layout()),
                (&sa, a.layout()),
                (&sb, b.layout()),
                &dims,
            )
        };
        let out = Tensor::from_storage(storage, Layout::contiguous(dims.clone()));
        if !(crate::autograd::is_grad_enabled()
            && (a.requires_grad_flag() || b.requires_grad_flag()))
        {
            return out;
        }
        // The full-size condition is kept for backward only when there will be one.
        let cond_full = cond.expand(dims).detach_copy();
        out.attach(Op::Where(cond_full), vec![a.clone(), b.clone()])
    }

    /// Joins tensors along `dim`; all other sizes must agree.
    pub fn cat(tensors: &[Tensor], dim: isize) -> Tensor {
        assert!(
            !tensors.is_empty(),
            "cat: expected a non-empty list of tensors"
        );
        let first = &tensors[0];
        let d = normalize_dim(dim, first.rank(), "cat");
        for t in tensors {
            assert!(
                t.rank() == first.rank()
                    && t.dims()
                        .iter()
                        .zip(first.dims())
                        .enumerate()
                        .all(|(i, (a, b))| i == d || a == b),
                "cat: sizes of tensors must match except in dimension {d}: {:?} vs {:?}",
                first.dims(),
                t.dims()
            );
        }
        let storage = {
            let guards: Vec<_> = tensors.iter().map(|t| t.storage()).collect();
            let parts: Vec<(&Storage, &Layout)> = guards
                .iter()
                .zip(tensors)
                .map(|(g, t)| (&**g, t.layout()))
                .collect();
            Storage::cat(&parts, d)
        };
        let mut dims = first.dims().to_vec();
        dims[d] = tensors.iter().map(|t| t.dims()[d]).sum();
        Tensor::from_op(
            storage,
            Layout::contiguous(dims),
            Op::Cat { dim: d },
            tensors.to_vec(),
        )
    }

    /// Joins equally shaped tensors along a new dimension `dim`.
    pub fn stack(tensors: &[Tensor], dim: isize) -> Tensor {
        assert!(
            !tensors.is_empty(),
            "stack: expected a non-empty list of tensors"
        );
        let rank = tensors[0].rank();
        for t in tensors {
            assert_eq!(
                t.dims(),
                tensors[0].dims(),
                "stack: expects each tensor to be equal size, but got {:?} and {:?}",
                tensors[0].dims(),
                t.dims()
            );
        }
        let d = normalize_dim(dim, rank + 1, "stack");
        let parts: Vec<Tensor> = tensors.iter().map(|t| t.unsqueeze(d as isize)).collect();
        Tensor::cat(&parts, d as isize)
    }

    /// Splits into pieces of `size` along `dim` (the last may be smaller).
    pub fn split(&self, size: usize, dim: isize) -> Vec<Tensor> {
        assert!(size > 0, "split: split size must be positive");
        let d = normalize_dim(dim, self.rank(), "split");
        let n = self.dims()[d];
        (0..n)
            .step_by(size)
            .map(|s| self.narrow(d as isize, s, size.min(n - s)))
            .collect()
    }

    /// Splits into `chunks` nearly equal pieces along `dim` (PyTorch's rule: ceil(n / chunks) each).
    pub fn chunk(&self, chunks: usize, dim: isize) -> Vec<Tensor> {
        assert!(chunks > 0, "chunk: number of chunks must be positive");
        let d = normalize_dim(dim, self.rank(), "chunk");
        let n = self.dims()[d];
        self.split(n.div_ceil(chunks).max(1), d as isize)
    }
}
