//! Views: new shapes over the same storage, without copying where the layout allows.

use super::{normalize_dim, Layout, Shape, Tensor};
use crate::autograd::Op;
use crate::backend::Storage;

impl Tensor {
    /// The same elements with a new shape of equal size. A view when the tensor is contiguous,
    /// else a copy.
    ///
    /// ```
    /// let t = ferrite::Tensor::arange(0.0, 6.0, 1.0).reshape([2, 3]);
    /// assert_eq!(t.dims(), &[2, 3]);
    /// ```
    pub fn reshape(&self, shape: impl Into<Shape>) -> Tensor {
        let shape = shape.into();
        assert_eq!(
            shape.numel(),
            self.numel(),
            "reshape: shape {:?} is invalid for input of size {} (shape {:?})",
            shape,
            self.numel(),
            self.dims()
        );
        if shape.dims() == self.dims() {
            return self.clone();
        }
        let src = if self.is_contiguous() {
            self.clone()
        } else {
            self.contiguous()
        };
        let mut layout = Layout::contiguous(shape);
        layout.offset = src.layout().offset;
        src.view_with(layout, Op::Reshape)
    }

    /// Like [`Tensor::reshape`] with one size given as -1 and inferred (PyTorch's `view(-1, n)`).
    pub fn reshape_infer(&self, dims: &[isize]) -> Tensor {
        let known: usize = dims
            .iter()
            .filter(|&&d| d >= 0)
            .map(|&d| d as usize)
            .product();
        let unknown = dims.iter().filter(|&&d| d < 0).count();
        assert!(
            unknown <= 1,
            "reshape_infer: only one dimension can be inferred, got {dims:?}"
        );
        let shape: Vec<usize> = dims
            .iter()
            .map(|&d| {
                if d < 0 {
                    assert!(
                        known > 0 && self.numel().is_multiple_of(known),
                        "reshape_infer: shape {dims:?} is invalid for input of size {}",
                        self.numel()
                    );
                    self.numel() / known
                } else {
                    d as usize
                }
            })
            .collect();
        self.reshape(shape)
    }

    /// Flattens dimensions `start..=end` into one (negative indices count from the end).
    pub fn flatten(&self, start: isize, end: isize) -> Tensor {
        if self.rank() == 0 {
            return self.reshape([1]);
        }
        let s = normalize_dim(start, self.rank(), "flatten");
        let e = normalize_dim(end, self.rank(), "flatten");
        assert!(
            s <= e,
            "flatten: start dim {start} must be before end dim {end}"
        );
        let d = self.dims();
        let mut shape: Vec<usize> = d[..s].to_vec();
        shape.push(d[s..=e].iter().product());
        shape.extend_from_slice(&d[e + 1..]);
        self.reshape(shape)
    }

    /// Flattens every dimension after the first (a batch of feature vectors).
    pub fn flatten_batch(&self) -> Tensor {
        if self.rank() <= 1 {
            return self.clone();
        }
        self.flatten(1, -1)
    }

    /// Removes dimension `dim` if it has size 1.
    pub fn squeeze(&self, dim: isize) -> Tensor {
        if self.rank() == 0 {
            return self.clone();
        }
        let d = normalize_dim(dim, self.rank(), "squeeze");
        if self.dims()[d] != 1 {
            return self.clone();
        }
        let mut shape = self.dims().to_vec();
        shape.remove(d);
        let mut strides = self.layout().strides.clone();
        strides.remove(d);
        self.view_with(
            Layout {
                shape: Shape(shape),
                strides,
                offset: self.layout().offset,
            },
            Op::Reshape,
        )
    }

    /// Removes every size-1 dimension.
    pub fn squeeze_all(&self) -> Tensor {
        let shape: Vec<usize> = self.dims().iter().copied().filter(|&d| d != 1).collect();
        self.reshape(shape)
    }

    /// Inserts a size-1 dimension at `dim` (from -(rank+1) to rank).
    pub fn unsqueeze(&self, dim: isize) -> Tensor {
        let d = normalize_dim(dim, self.rank() + 1, "unsqueeze");
        let mut shape = self.dims().to_vec();
        let mut strides = self.layout().strides.clone();
        let stride = if d < strides.len() {
            strides[d] * shape[d]
        } else {
            1
        };
        shape.insert(d, 1);
        strides.insert(d, stride);
        self.view_with(
            Layout {
                shape: Shape(shape),
                strides,
                offset: self.layout().offset,
            },
            Op::Reshape,
        )
    }

    /// Reorders dimensions: output dimension i is input dimension `perm[i]`.
    pub fn permute(&self, perm: &[usize]) -> Tensor {
        let rank = self.rank();
        let mut seen = vec![false; rank];
        assert!(
            perm.len() == rank
                && perm
                    .iter()
                    .all(|&p| p < rank && !std::mem::replace(&mut seen[p], true)),
            "permute: {perm:?} is not a permutation of the {rank} dimensions of shape {:?}",
            self.dims()
        );
        let l = self.layout();
        let layout = Layout {
            shape: Shape(perm.iter().map(|&p| l.dims()[p]).collect()),
            strides: perm.iter().map(|&p| l.strides[p]).collect(),
            offset: l.offset,
        };
        self.view_with(layout, Op::Permute(perm.to_vec()))
    }

    /// Swaps two dimensions.
    pub fn transpose(&self, a: isize, b: isize) -> Tensor {
        let rank = self.rank();
        let (a, b) = (
            normalize_dim(a, rank, "transpose"),
            normalize_dim(b, rank, "transpose"),
        );
        let mut perm: Vec<usize> = (0..rank).collect();
        perm.swap(a, b);
        self.permute(&perm)
    }

    /// The transpose of a matrix (a vector is returned as is).
    pub fn t(&self) -> Tensor {
        assert!(
            self.rank() <= 2,
            "t: expects a tensor with <= 2 dimensions, got shape {:?}",
            self.dims()
        );
        if self.rank() < 2 {
            return self.clone();
        }
        self.transpose(0, 1)
    }

    /// Elements `start..start + len` of dimension `dim`, as a view.
    pub fn narrow(&self, dim: isize, start: usize, len: usize) -> Tensor {
        let d = normalize_dim(dim, self.rank(), "narrow");
        assert!(
            start + len <= self.dims()[d],
            "narrow: start ({start}) + length ({len}) exceeds dimension size ({}) of shape {:?}",
            self.dims()[d],
            self.dims()
        );
        let l = self.layout();
        let mut shape = l.dims().to_vec();
        shape[d] = len;
        let layout = Layout {
            shape: Shape(shape),
            strides: l.strides.clone(),
            offset: l.offset + start * l.strides[d],
        };
        self.view_with(layout, Op::Narrow { dim: d, start })
    }

    /// Elements `range` of dimension `dim` (PyTorch's `x[:, a:b]`).
    pub fn slice(&self, dim: isize, range: std::ops::Range<usize>) -> Tensor {
        assert!(
            range.start <= range.end,
            "slice: empty or reversed range {range:?}"
        );
        self.narrow(dim, range.start, range.end - range.start)
    }

    /// Row `i` of dimension 0, with that dimension removed (PyTorch's `x[i]`).
    pub fn get(&self, i: usize) -> Tensor {
        self.narrow(0, i, 1).squeeze(0)
    }

    /// Repeats size-1 dimensions (and adds leading ones) to reach `shape`, without copying.
    pub fn expand(&self, shape: impl Into<Shape>) -> Tensor {
        let shape = shape.into();
        if shape.dims() == self.dims() {
            return self.clone();
        }
        let strides = self.layout().broadcast_strides(shape.dims(), "expand");
        let layout = Layout {
            shape,
            strides,
            offset: self.layout().offset,
        };
        self.view_with(layout, Op::Expand)
    }

    /// Same as [`Tensor::expand`] (NumPy's name).
    pub fn broadcast_to(&self, shape: impl Into<Shape>) -> Tensor {
        self.expand(shape)
    }

    /// A row-major tensor with the same elements, keeping the history (PyTorch's
    /// `contiguous()`): itself when already contiguous, else a copy gradients flow through.
    ///
    /// The three copies, after PyTorch (Rust's `Clone` is the cheap handle copy, sharing
    /// storage and history, so PyTorch's `clone()` needs another name):
    /// - [`contiguous`](Tensor::contiguous), PyTorch's `contiguous()`: row-major, keeps the
    ///   history, no copy when already row-major. Use before work that needs row-major data.
    /// - [`deep_clone`](Tensor::deep_clone), PyTorch's `clone()`: always its own storage, keeps
    ///   the history. Use when the result will be changed in place but gradients must flow.
    /// - [`detach_copy`](Tensor::detach_copy), PyTorch's `detach().clone()`: its own storage, no
    ///   history. Use to keep a value (a snapshot, a saved weight, a new leaf) apart from both.
    pub fn contiguous(&self) -> Tensor {
        if self.is_contiguous() {
            return self.clone();
        }
        let storage = self.storage().contiguous(self.layout());
        Tensor::from_op(
            storage,
            Layout::contiguous(self.shape().clone()),
            Op::Contiguous,
            vec![self.clone()],
        )
    }

    /// A fresh row-major copy with its own storage and no history (PyTorch's
    /// `detach().clone()`): gradients stop here, and changing either tensor in place leaves
    /// the other as it was.
    ///
    /// The three copies, after PyTorch (Rust's `Clone` is the cheap handle copy, sharing
    /// storage and history, so PyTorch's `clone()` needs another name):
    /// - [`contiguous`](Tensor::contiguous), PyTorch's `contiguous()`: row-major, keeps the
    ///   history, no copy when already row-major. Use before work that needs row-major data.
    /// - [`deep_clone`](Tensor::deep_clone), PyTorch's `clone()`: always its own storage, keeps
    ///   the history. Use when the result will be changed in place but gradients must flow.
    /// - [`detach_copy`](Tensor::detach_copy), PyTorch's `detach().clone()`: its own storage, no
    ///   history. Use to keep a value (a snapshot, a saved weight, a new leaf) apart from both.
    pub fn detach_copy(&self) -> Tensor {
        let storage = self.storage().contiguous(self.layout());
        Tensor::from_storage(storage, Layout::contiguous(self.shape().clone()))
    }

    /// A fresh row-major copy with its own storage that keeps the history (PyTorch's
    /// `clone()`): gradients flow back to `self`, but the storage is not shared.
    ///
    /// The three copies, after PyTorch (Rust's `Clone` is the cheap handle copy, sharing
    /// storage and history, so PyTorch's `clone()` needs another name):
    /// - [`contiguous`](Tensor::contiguous), PyTorch's `contiguous()`: row-major, keeps the
    ///   history, no copy when already row-major. Use before work that needs row-major data.
    /// - [`deep_clone`](Tensor::deep_clone), PyTorch's `clone()`: always its own storage, keeps
    ///   the history. Use when the result will be changed in place but gradients must flow.
    /// - [`detach_copy`](Tensor::detach_copy), PyTorch's `detach().clone()`: its own storage, no
    ///   history. Use to keep a value (a snapshot, a saved weight, a new leaf) apart from both.
    pub fn deep_clone(&self) -> Tensor {
        let storage = self.storage().contiguous(self.layout());
        Tensor::from_op(
            storage,
            Layout::contiguous(self.shape().clone()),
            Op::Contiguous,
            vec![self.clone()],
        )
    }

    /// Zeros of `full_dims` with `self` written at `start` along `dim` (the adjoint of narrow).
    pub(crate) fn embed_in_zeros(&self, full_dims: &[usize], dim: usize, start: usize) -> Tensor {
        let full = Layout::contiguous(full_dims.to_vec());
        let mut window = full.clone();
        window.shape.0[dim] = self.dims()[dim];
        window.offset = start * full.strides[dim];
        let mut data = Storage::full(full.numel(), 0.0, self.dtype(), self.device());
        data.assign(&window, &self.storage(), self.layout());
        Tensor::from_storage(data, full)
    }
}

#[cfg(test)]
mod tests {
    use crate::Tensor;

    #[test]
    fn the_three_copies_differ_only_in_storage_and_history() {
        let x = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [2, 3]).requires_grad();
        // contiguous: the same handle when already row-major, a row-major copy of a view.
        assert_eq!(x.contiguous().id(), x.id());
        let xt = x.t();
        let c = xt.contiguous();
        assert!(!xt.is_contiguous() && c.is_contiguous());
        assert_eq!(c.to_vec(), vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
        assert!(!c.is_leaf(), "contiguous keeps the history");

        // deep_clone: its own storage, gradients flow back.
        let d = x.deep_clone();
        assert_ne!(d.id(), x.id());
        (&d * 3.0).sum().backward();
        assert_eq!(x.grad().expect("gradient").to_vec(), vec![3.0; 6]);

        // detach_copy: its own storage, no history; writing to it leaves x as it was.
        let e = xt.detach_copy();
        assert!(e.is_leaf() && !e.requires_grad_flag() && e.is_contiguous());
        assert_eq!(e.to_vec(), c.to_vec());
        e.copy_(&Tensor::zeros([3, 2]));
        assert_eq!(e.to_vec(), vec![0.0; 6]);
        assert_eq!(x.to_vec(), vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    }
}
