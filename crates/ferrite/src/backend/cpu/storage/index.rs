//! The CPU implementation of [`crate::backend::IndexOps`].

use super::CpuStorage;
use crate::backend::cpu::index as kernels;
use crate::backend::{BackendResult, IndexOps};
use crate::core::Layout;

/// Index values as positions (the tensor layer has checked that they are in bounds).
fn positions(indices: &[i64]) -> Vec<usize> {
    indices.iter().map(|&i| i as usize).collect()
}

impl IndexOps for CpuStorage {
    fn index_select(&self, layout: &Layout, dim: usize, indices: &Self) -> BackendResult<Self> {
        let idx = positions(indices.i64());
        let src = self.view(layout);
        Ok(CpuStorage::from_vec(kernels::index_select(
            &src,
            layout.dims(),
            dim,
            &idx,
        )))
    }

    fn index_add(
        &self,
        layout: &Layout,
        out_dims: &[usize],
        dim: usize,
        indices: &Self,
    ) -> BackendResult<Self> {
        let idx = positions(indices.i64());
        Ok(CpuStorage::from_vec(kernels::index_add(
            out_dims,
            dim,
            &idx,
            &self.view(layout),
        )))
    }

    fn gather(&self, layout: &Layout, dim: usize, index: (&Self, &Layout)) -> BackendResult<Self> {
        let idx = positions(&index.0.index_view(index.1));
        Ok(CpuStorage::from_vec(kernels::gather(
            &self.view(layout),
            layout.dims(),
            dim,
            &idx,
            index.1.dims(),
        )))
    }

    fn scatter_add(
        &self,
        layout: &Layout,
        dim: usize,
        index: (&Self, &Layout),
        src: (&Self, &Layout),
    ) -> BackendResult<Self> {
        let idx = positions(&index.0.index_view(index.1));
        let base = self.view(layout).into_owned();
        Ok(CpuStorage::from_vec(kernels::scatter_add(
            base,
            layout.dims(),
            dim,
            &idx,
            index.1.dims(),
            &src.0.view(src.1),
        )))
    }

    fn cat(parts: &[(&Self, &Layout)], dim: usize) -> BackendResult<Self> {
        // Row-major inputs are read in place; only strided views are copied first.
        let views: Vec<_> = parts.iter().map(|(s, l)| s.view(l)).collect();
        let pieces: Vec<(&[f32], &[usize])> = views
            .iter()
            .zip(parts)
            .map(|(v, (_, l))| (&v[..], l.dims()))
            .collect();
        Ok(CpuStorage::from_vec(kernels::cat(&pieces, dim)))
    }
}
