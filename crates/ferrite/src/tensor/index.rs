//! Indexing and joining: index_select, gather, scatter_add, masked_fill, where, cat, stack,
//! split and chunk.

use super::{normalize_dim, Layout, Tensor};
use crate::autograd::Op;
use crate::backend::cpu::strided::contiguous_cow;
use crate::backend::cpu::{elementwise, index as kernels};
use crate::backend::Storage;
use std::sync::Arc;

/// Reads a tensor of integer-valued floats as indices below `bound`, naming `op` on failure.
pub(crate) fn to_indices(t: &Tensor, bound: usize, op: &str) -> Vec<usize> {
    t.to_vec()
        .into_iter()
        .map(|v| {
            assert!(
                v >= 0.0 && v.fract() == 0.0 && (v as usize) < bound,
                "{op}: index {v} is out of bounds for dimension with size {bound}"
            );
            v as usize
        })
        .collect()
}

impl Tensor {
    /// Entries `indices` along `dim` (PyTorch's `index_select`, or `x[idx]` for dim 0).
    pub fn index_select(&self, dim: isize, indices: &[usize]) -> Tensor {
        let d = normalize_dim(dim, self.rank(), "index_select");
        let size = self.dims()[d];
        if let Some(&bad) = indices.iter().find(|&&i| i >= size) {
            panic!("index_select: index {bad} is out of bounds for dimension {d} with size {size}");
        }
        let data = {
            // Borrow the buffer when the layout is row-major; copy only strided views.
            let s = self.storage();
            let src = contiguous_cow(s.as_slice(), self.layout());
            kernels::index_select(&src, self.dims(), d, indices)
        };
        let mut dims = self.dims().to_vec();
        dims[d] = indices.len();
        Tensor::from_op(
            Storage::Cpu(data),
            Layout::contiguous(dims),
            Op::IndexSelect {
                dim: d,
                indices: Arc::new(indices.to_vec()),
            },
            vec![self.clone()],
        )
    }

    /// Zeros of `dims` with the rows of `self` added at `indices` along `dim`.
    pub(crate) fn index_add_into(&self, dims: &[usize], dim: usize, indices: &[usize]) -> Tensor {
        let data = {
            let s = self.storage();
            kernels::index_add(
                dims,
                dim,
                indices,
                &contiguous_cow(s.as_slice(), self.layout()),
            )
        };
        Tensor::from_data(data, dims.to_vec())
    }

    /// `out[i][j] = self[i][index[i][j]]` for `dim = 1` (and likewise for any dim).
    /// `index` holds integer values and has the same rank as `self`.
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
        let idx = to_indices(index, self.dims()[d], "gather");
        let out = self.gather_raw(d, &idx, index.dims());
        out.attach(
            Op::Gather {
                dim: d,
                index: Arc::new(idx),
                index_dims: index.dims().to_vec(),
            },
            vec![self.clone()],
        )
    }

    pub(crate) fn gather_raw(&self, dim: usize, index: &[usize], index_dims: &[usize]) -> Tensor {
        let data = {
            let s = self.storage();
            kernels::gather(
                &contiguous_cow(s.as_slice(), self.layout()),
                self.dims(),
                dim,
                index,
                index_dims,
            )
        };
        Tensor::from_data(data, index_dims.to_vec())
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
        let idx = to_indices(index, self.dims()[d], "scatter_add");
        let out = self.scatter_add_raw(d, &idx, index.dims(), src);
        out.attach(
            Op::ScatterAdd {
                dim: d,
                index: Arc::new(idx),
                index_dims: index.dims().to_vec(),
            },
            vec![self.clone(), src.clone()],
        )
    }

    pub(crate) fn scatter_add_raw(
        &self,
        dim: usize,
        index: &[usize],
        index_dims: &[usize],
        src: &Tensor,
    ) -> Tensor {
        let data = {
            let s = src.storage();
            let src = contiguous_cow(s.as_slice(), src.layout());
            kernels::scatter_add(self.to_vec(), self.dims(), dim, index, index_dims, &src)
        };
        Tensor::from_data(data, self.dims().to_vec())
    }

    /// `self` with `value` wherever `mask` (0/1, broadcastable to `self`) is non-zero.
    pub fn masked_fill(&self, mask: &Tensor, value: f32) -> Tensor {
        let dims = self.dims().to_vec();
        let mask_layout = mask.layout().clone();
        let data = {
            let s = self.storage();
            let m = mask.storage();
            let mask_view = Layout {
                strides: mask_layout.broadcast_strides(&dims, "masked_fill"),
                shape: dims.clone().into(),
                offset: mask_layout.offset,
            };
            elementwise::binary_map(
                s.as_slice(),
                self.layout(),
                m.as_slice(),
                &mask_view,
                &dims,
                |x, k| {
                    if k != 0.0 {
                        value
                    } else {
                        x
                    }
                },
            )
        };
        let out = Tensor::from_data(data, dims);
        out.attach(Op::MaskedFill(mask.detach()), vec![self.clone()])
    }

    /// Picks from `a` where `cond` is non-zero, else from `b` (all three broadcast together).
    pub fn where_cond(cond: &Tensor, a: &Tensor, b: &Tensor) -> Tensor {
        let dims = super::broadcast_shapes(
            &super::broadcast_shapes(cond.dims(), a.dims(), "where"),
            b.dims(),
            "where",
        );
        let data = {
            let (c, sa, sb) = (cond.storage(), a.storage(), b.storage());
            elementwise::ternary_map(
                [
                    (c.as_slice(), cond.layout()),
                    (sa.as_slice(), a.layout()),
                    (sb.as_slice(), b.layout()),
                ],
                &dims,
                |k, x, y| if k != 0.0 { x } else { y },
            )
        };
        let out = Tensor::from_data(data, dims.clone());
        if !(crate::autograd::is_grad_enabled()
            && (a.requires_grad_flag() || b.requires_grad_flag()))
        {
            return out;
        }
        // The full-size condition is kept for backward only when there will be one.
        let cond_full = cond.expand(dims).contiguous_owned();
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
        let data = {
            // Row-major inputs are read in place; only strided views are copied first.
            let guards: Vec<_> = tensors.iter().map(|t| t.storage()).collect();
            let views: Vec<_> = guards
                .iter()
                .zip(tensors)
                .map(|(g, t)| contiguous_cow(g.as_slice(), t.layout()))
                .collect();
            let parts: Vec<(&[f32], &[usize])> = views
                .iter()
                .zip(tensors)
                .map(|(v, t)| (&v[..], t.dims()))
                .collect();
            kernels::cat(&parts, d)
        };
        let mut dims = first.dims().to_vec();
        dims[d] = tensors.iter().map(|t| t.dims()[d]).sum();
        Tensor::from_op(
            Storage::Cpu(data),
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
