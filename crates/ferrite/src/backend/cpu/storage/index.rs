//! The CPU implementation of [`crate::backend::IndexOps`]. Selection, gathering and
//! concatenation move elements of any type (indices and masks included); the accumulating
//! ops (`index_add`, `scatter_add`) compute in f32 or f64.

use super::{float_dispatch, CpuStorage, Element};
use crate::backend::cpu::index as kernels;
use crate::backend::{BackendResult, IndexOps};
use crate::core::{DType, Layout};

/// Runs `$body` with the type `$t` bound to the element type of `$dtype`, whatever it is:
/// for the ops that only move elements.
macro_rules! any_dtype {
    ($dtype:expr, |$t:ident| $body:expr) => {
        match $dtype {
            DType::F32 => {
                type $t = f32;
                $body
            }
            DType::F64 => {
                type $t = f64;
                $body
            }
            DType::F16 => {
                type $t = half::f16;
                $body
            }
            DType::BF16 => {
                type $t = half::bf16;
                $body
            }
            DType::I64 => {
                type $t = i64;
                $body
            }
            DType::Bool => {
                type $t = bool;
                $body
            }
        }
    };
}

/// Index values as positions (the tensor layer has checked that they are in bounds).
fn positions(indices: &[i64]) -> Vec<usize> {
    indices.iter().map(|&i| i as usize).collect()
}

/// Concatenates parts that all hold `T`.
fn cat_typed<T: Element>(parts: &[(&CpuStorage, &Layout)], dim: usize) -> CpuStorage {
    // Row-major inputs are read in place; only strided views are copied first.
    let views: Vec<_> = parts.iter().map(|(s, l)| s.view_as::<T>(l)).collect();
    let pieces: Vec<(&[T], &[usize])> = views
        .iter()
        .zip(parts)
        .map(|(v, (_, l))| (&v[..], l.dims()))
        .collect();
    T::wrap(kernels::cat(&pieces, dim))
}

impl IndexOps for CpuStorage {
    fn index_select(&self, layout: &Layout, dim: usize, indices: &Self) -> BackendResult<Self> {
        let idx = positions(indices.i64());
        any_dtype!(self.dtype(), |T| {
            let src = self.view_as::<T>(layout);
            Ok(T::wrap(kernels::index_select(
                &src,
                layout.dims(),
                dim,
                &idx,
            )))
        })
    }

    fn index_add(
        &self,
        layout: &Layout,
        out_dims: &[usize],
        dim: usize,
        indices: &Self,
    ) -> BackendResult<Self> {
        let idx = positions(indices.i64());
        float_dispatch!("index_add", self.dtype(), |T| Ok(T::wrap(
            kernels::index_add(out_dims, dim, &idx, &self.view_as::<T>(layout))
        )))
    }

    fn gather(&self, layout: &Layout, dim: usize, index: (&Self, &Layout)) -> BackendResult<Self> {
        let idx = positions(&index.0.index_view(index.1));
        any_dtype!(self.dtype(), |T| Ok(T::wrap(kernels::gather(
            &self.view_as::<T>(layout),
            layout.dims(),
            dim,
            &idx,
            index.1.dims(),
        ))))
    }

    fn scatter_add(
        &self,
        layout: &Layout,
        dim: usize,
        index: (&Self, &Layout),
        src: (&Self, &Layout),
    ) -> BackendResult<Self> {
        let idx = positions(&index.0.index_view(index.1));
        assert_eq!(
            self.dtype(),
            src.0.dtype(),
            "scatter_add: base and source of different dtypes"
        );
        float_dispatch!("scatter_add", self.dtype(), |T| {
            let base = self.view_as::<T>(layout).into_owned();
            Ok(T::wrap(kernels::scatter_add(
                base,
                layout.dims(),
                dim,
                &idx,
                index.1.dims(),
                &src.0.view_as::<T>(src.1),
            )))
        })
    }

    fn cat(parts: &[(&Self, &Layout)], dim: usize) -> BackendResult<Self> {
        // The tensor layer gives every part one dtype; an empty list has none to follow.
        let dtype = parts.first().map_or(DType::F32, |(s, _)| s.dtype());
        any_dtype!(dtype, |T| Ok(cat_typed::<T>(parts, dim)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// f64 runs select, add, gather and scatter; indices and masks are selected and
    /// concatenated in their own types.
    #[test]
    fn f64_and_non_float_storages() {
        let l = Layout::contiguous([2, 3]);
        let x = CpuStorage::F64(vec![1., 2., 3., 4., 5., 6.]);
        let idx = CpuStorage::I64(vec![2, 0]);
        let sel = x.index_select(&l, 1, &idx).unwrap();
        assert_eq!(sel.data::<f64>(), &[3., 1., 6., 4.]);
        let back = sel
            .index_add(&Layout::contiguous([2, 2]), &[2, 3], 1, &idx)
            .unwrap();
        assert_eq!(back.data::<f64>(), &[1., 0., 3., 4., 0., 6.]);
        let il = Layout::contiguous([2, 1]);
        let g = x
            .gather(&l, 1, (&CpuStorage::I64(vec![1, 2]), &il))
            .unwrap();
        assert_eq!(g.data::<f64>(), &[2., 6.]);
        let src = CpuStorage::F64(vec![0.5, 0.25]);
        let s = x
            .scatter_add(&l, 1, (&CpuStorage::I64(vec![0, 0]), &il), (&src, &il))
            .unwrap();
        assert_eq!(s.data::<f64>(), &[1.5, 2., 3., 4.25, 5., 6.]);
        let ids = CpuStorage::I64(vec![7, 8, 9]);
        let l3 = Layout::contiguous([3]);
        let picked = ids
            .index_select(&l3, 0, &CpuStorage::I64(vec![2, 1]))
            .unwrap();
        assert_eq!(picked.data::<i64>(), &[9, 8]);
        let m = CpuStorage::Bool(vec![true, false]);
        let l2 = Layout::contiguous([2]);
        let joined = <CpuStorage as IndexOps>::cat(&[(&m, &l2), (&m, &l2)], 0).unwrap();
        assert_eq!(joined.data::<bool>(), &[true, false, true, false]);
    }
}
