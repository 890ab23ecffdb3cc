//! Reductions over all elements or over chosen dimensions, with `keepdim` as in PyTorch.

use super::{normalize_dim, Tensor};
use crate::autograd::Op;
use crate::core::{DType, Layout, ReduceKind, ScanKind, UnaryOp};

/// The mask of reduced dimensions for `dims` (empty: all of them).
fn dims_mask(t: &Tensor, dims: &[isize], op: &str) -> Vec<bool> {
    let mut mask = vec![dims.is_empty(); t.rank()];
    for &d in dims {
        mask[normalize_dim(d, t.rank(), op)] = true;
    }
    mask
}

/// The output shape of a reduction over `mask`.
fn reduced_dims(dims: &[usize], mask: &[bool], keepdim: bool) -> Vec<usize> {
    dims.iter()
        .zip(mask)
        .filter_map(|(&d, &m)| match (m, keepdim) {
            (false, _) => Some(d),
            (true, true) => Some(1),
            (true, false) => None,
        })
        .collect()
}

impl Tensor {
    /// The fold `kind` over `mask`, without history, in the keepdim or reduced shape.
    fn reduce_raw(&self, mask: &[bool], keepdim: bool, kind: ReduceKind) -> Tensor {
        if !matches!(self.dtype(), DType::F32 | DType::F64) {
            // Kernels run in f32 and f64; the result keeps this tensor's type.
            return self
                .in_compute_dtype()
                .reduce_raw(mask, keepdim, kind)
                .to_dtype(self.dtype());
        }
        let storage = self.storage().reduce(self.layout(), mask, kind);
        Tensor::from_storage(
            storage,
            Layout::contiguous(reduced_dims(self.dims(), mask, keepdim)),
        )
    }

    pub(crate) fn sum_mask(&self, mask: &[bool], keepdim: bool) -> Tensor {
        self.reduce_raw(mask, keepdim, ReduceKind::Sum).attach(
            Op::Sum {
                mask: mask.to_vec(),
                keepdim,
            },
            vec![self.clone()],
        )
    }

    pub(crate) fn mean_mask(&self, mask: &[bool], keepdim: bool) -> Tensor {
        let sum = self.reduce_raw(mask, keepdim, ReduceKind::Sum);
        let n: usize = self
            .dims()
            .iter()
            .zip(mask)
            .filter(|(_, &m)| m)
            .map(|(&d, _)| d)
            .product();
        sum.map_detached(UnaryOp::MulScalar(1.0 / n as f32)).attach(
            Op::Mean {
                mask: mask.to_vec(),
                keepdim,
            },
            vec![self.clone()],
        )
    }

    /// Sum of all elements (a 0-dimensional tensor).
    pub fn sum(&self) -> Tensor {
        self.sum_mask(&vec![true; self.rank()], false)
    }
    /// Sum over `dim`.
    pub fn sum_dim(&self, dim: isize, keepdim: bool) -> Tensor {
        self.sum_mask(&dims_mask(self, &[dim], "sum"), keepdim)
    }
    /// Sum over several dimensions.
    pub fn sum_dims(&self, dims: &[isize], keepdim: bool) -> Tensor {
        self.sum_mask(&dims_mask(self, dims, "sum"), keepdim)
    }
    /// Mean of all elements.
    pub fn mean(&self) -> Tensor {
        self.mean_mask(&vec![true; self.rank()], false)
    }
    /// Mean over `dim`.
    pub fn mean_dim(&self, dim: isize, keepdim: bool) -> Tensor {
        self.mean_mask(&dims_mask(self, &[dim], "mean"), keepdim)
    }
    /// Mean over several dimensions.
    pub fn mean_dims(&self, dims: &[isize], keepdim: bool) -> Tensor {
        self.mean_mask(&dims_mask(self, dims, "mean"), keepdim)
    }

    fn max_min_all(&self, kind: ReduceKind, op: &str) -> Tensor {
        assert!(self.numel() > 0, "{op}: expected a non-empty tensor");
        self.reduce_raw(&vec![true; self.rank()], false, kind)
            .attach(Op::MaxMinAll, vec![self.clone()])
    }

    /// Largest element.
    pub fn max(&self) -> Tensor {
        self.max_min_all(ReduceKind::Max, "max")
    }
    /// Smallest element.
    pub fn min(&self) -> Tensor {
        self.max_min_all(ReduceKind::Min, "min")
    }

    fn max_min_dim(&self, dim: isize, keepdim: bool, largest: bool) -> (Tensor, Tensor) {
        let name = if largest { "max" } else { "min" };
        let d = normalize_dim(dim, self.rank(), name);
        assert!(
            self.dims().get(d).copied().unwrap_or(1) > 0,
            "{name}: cannot reduce an empty dimension"
        );
        let (values, idx) = self.storage().arg_reduce(self.layout(), d, largest);
        let mut mask = vec![false; self.rank()];
        if !mask.is_empty() {
            mask[d] = true;
        }
        let dims = reduced_dims(self.dims(), &mask, keepdim);
        // The lanes' indices in the keepdim shape, saved for the gradient's scatter.
        let argmax = Tensor::from_storage(
            idx,
            Layout::contiguous(reduced_dims(self.dims(), &mask, true)),
        );
        let indices = argmax.indices_as_float().reshape(dims.clone());
        let values = Tensor::from_storage(values, Layout::contiguous(dims)).attach(
            Op::MaxMinDim {
                dim: d,
                keepdim,
                argmax,
            },
            vec![self.clone()],
        );
        (values, indices)
    }

    /// Largest values along `dim` and their indices (as integer-valued floats).
    pub fn max_dim(&self, dim: isize, keepdim: bool) -> (Tensor, Tensor) {
        self.max_min_dim(dim, keepdim, true)
    }
    /// Smallest values along `dim` and their indices.
    pub fn min_dim(&self, dim: isize, keepdim: bool) -> (Tensor, Tensor) {
        self.max_min_dim(dim, keepdim, false)
    }
    /// Index of the largest value along `dim` (the first one on ties).
    pub fn argmax(&self, dim: isize, keepdim: bool) -> Tensor {
        self.max_dim(dim, keepdim).1
    }
    /// Index of the smallest value along `dim`.
    pub fn argmin(&self, dim: isize, keepdim: bool) -> Tensor {
        self.min_dim(dim, keepdim).1
    }
    /// Flat index of the largest element.
    pub fn argmax_all(&self) -> usize {
        self.reshape([self.numel()]).argmax(0, false).item() as usize
    }

    pub(crate) fn var_mask(&self, mask: &[bool], correction: f32, keepdim: bool) -> Tensor {
        let data = {
            let _g = crate::no_grad();
            let mean = self.mean_mask(mask, true);
            let centered = (self - &mean).square();
            let n: usize = self
                .dims()
                .iter()
                .zip(mask)
                .filter(|(_, &m)| m)
                .map(|(&d, _)| d)
                .product();
            let denom = Tensor::scalar((n as f32 - correction).max(0.0)).to(&self.device());
            &centered.reduce_raw(mask, keepdim, ReduceKind::Sum) / &denom
        };
        data.attach(
            Op::Var {
                mask: mask.to_vec(),
                keepdim,
                correction,
            },
            vec![self.clone()],
        )
    }

    /// Variance of all elements; `unbiased` divides by n − 1 (Bessel), else by n.
    pub fn var(&self, unbiased: bool) -> Tensor {
        self.var_mask(&vec![true; self.rank()], unbiased as u8 as f32, false)
    }
    /// Variance over `dim`.
    pub fn var_dim(&self, dim: isize, unbiased: bool, keepdim: bool) -> Tensor {
        self.var_mask(
            &dims_mask(self, &[dim], "var"),
            unbiased as u8 as f32,
            keepdim,
        )
    }
    /// Variance over several dimensions.
    pub fn var_dims(&self, dims: &[isize], unbiased: bool, keepdim: bool) -> Tensor {
        self.var_mask(
            &dims_mask(self, dims, "var"),
            unbiased as u8 as f32,
            keepdim,
        )
    }
    /// Standard deviation of all elements.
    pub fn std(&self, unbiased: bool) -> Tensor {
        self.var(unbiased).sqrt()
    }
    /// Standard deviation over `dim`.
    pub fn std_dim(&self, dim: isize, unbiased: bool, keepdim: bool) -> Tensor {
        self.var_dim(dim, unbiased, keepdim).sqrt()
    }

    /// Product of all elements.
    pub fn prod(&self) -> Tensor {
        self.reduce_raw(&vec![true; self.rank()], false, ReduceKind::Prod)
            .attach(
                Op::Prod {
                    dim: None,
                    keepdim: false,
                },
                vec![self.clone()],
            )
    }
    /// Product over `dim`.
    pub fn prod_dim(&self, dim: isize, keepdim: bool) -> Tensor {
        let d = normalize_dim(dim, self.rank(), "prod");
        self.reduce_raw(&dims_mask(self, &[dim], "prod"), keepdim, ReduceKind::Prod)
            .attach(
                Op::Prod {
                    dim: Some(d),
                    keepdim,
                },
                vec![self.clone()],
            )
    }
    /// For each element, the product of the other elements of its lane along `dim`.
    pub(crate) fn exclusive_prod(&self, dim: usize) -> Tensor {
        let storage = self
            .storage()
            .scan(self.layout(), dim, ScanKind::ExclusiveProd);
        Tensor::from_storage(storage, Layout::contiguous(self.dims().to_vec()))
    }

    fn norm_mask(&self, p: f32, mask: &[bool], keepdim: bool) -> Tensor {
        assert!(p > 0.0, "norm: only p > 0 is supported, got {p}");
        let data = {
            let _g = crate::no_grad();
            let powered = if p == 2.0 {
                self.square()
            } else {
                self.abs().pow_scalar(p)
            };
            let sum = powered.reduce_raw(mask, keepdim, ReduceKind::Sum);
            sum.map_detached(if p == 2.0 {
                UnaryOp::Sqrt
            } else {
                UnaryOp::PowScalar(1.0 / p)
            })
        };
        data.attach(
            Op::Norm {
                p,
                mask: mask.to_vec(),
                keepdim,
            },
            vec![self.clone()],
        )
    }

    /// The p-norm of all elements (`p = 2`: Euclidean).
    pub fn norm(&self, p: f32) -> Tensor {
        self.norm_mask(p, &vec![true; self.rank()], false)
    }
    /// The p-norm over `dim`.
    pub fn norm_dim(&self, p: f32, dim: isize, keepdim: bool) -> Tensor {
        self.norm_mask(p, &dims_mask(self, &[dim], "norm"), keepdim)
    }

    /// The max over `mask` (keepdim), with non-finite maxima replaced by 0 so that
    /// subtracting it never makes NaN: the shift of stable exp-sums.
    fn finite_max_mask(&self, mask: &[bool]) -> Tensor {
        self.reduce_raw(mask, true, ReduceKind::Max)
            .map_detached(UnaryOp::FiniteOrZero)
    }

    /// `e^(x − m) / Σ e^(x − m)` over the dimensions in `mask` (records no graph): the
    /// gradient of logsumexp, computed without reading the rounded logsumexp back, so it is
    /// exact to f32 even where the logsumexp is large (`[1000, 1000]` gives `[½, ½]`).
    pub(crate) fn softmax_mask(&self, mask: &[bool]) -> Tensor {
        let _g = crate::no_grad();
        let e = (self - &self.finite_max_mask(mask)).exp();
        let s = e.sum_mask(mask, true);
        &e / &s
    }

    fn logsumexp_mask(&self, mask: &[bool], keepdim: bool) -> Tensor {
        let data = {
            let _g = crate::no_grad();
            // log Σ eˣ = m + log Σ e^(x − m), with m the max (finite for any finite input).
            let m = self.finite_max_mask(mask);
            let sums = (self - &m).exp().reduce_raw(mask, keepdim, ReduceKind::Sum);
            let m = m.reshape(sums.dims().to_vec());
            &sums.map_detached(UnaryOp::Log) + &m
        };
        data.detach().attach(
            Op::LogSumExp {
                mask: mask.to_vec(),
                keepdim,
            },
            vec![self.clone()],
        )
    }

    /// `log Σ exp` over `dim`, stable for large inputs.
    pub fn logsumexp(&self, dim: isize, keepdim: bool) -> Tensor {
        self.logsumexp_mask(&dims_mask(self, &[dim], "logsumexp"), keepdim)
    }
    /// `log Σ exp` of all elements.
    pub fn logsumexp_all(&self) -> Tensor {
        self.logsumexp_mask(&vec![true; self.rank()], false)
    }

    /// Running sum along `dim`. Computed on data: the result records no gradient.
    pub fn cumsum(&self, dim: isize) -> Tensor {
        let d = normalize_dim(dim, self.rank(), "cumsum");
        let storage = self.storage().scan(self.layout(), d, ScanKind::CumSum);
        Tensor::from_storage(storage, Layout::contiguous(self.dims().to_vec()))
    }
}
