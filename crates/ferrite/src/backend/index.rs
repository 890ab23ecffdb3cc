//! Gathers and scatters: index_select, index_add, gather, scatter_add and cat. Indices are
//! index (`I64`) storages on the same device as the data; the tensor layer checks their
//! bounds before it dispatches.

use super::{on_device, BackendResult, Storage};
use crate::core::Layout;

/// Gathers and scatters. Results are row-major.
pub trait IndexOps: Sized {
    /// Entries `indices` (row-major, 1-D) along `dim` of what `layout` sees.
    fn index_select(&self, layout: &Layout, dim: usize, indices: &Self) -> BackendResult<Self>;
    /// Zeros of `out_dims` with the blocks of `src` (row-major view `layout`) added at
    /// `indices` along `dim`: the adjoint of [`IndexOps::index_select`].
    fn index_add(
        &self,
        layout: &Layout,
        out_dims: &[usize],
        dim: usize,
        indices: &Self,
    ) -> BackendResult<Self>;
    /// `out[p] = x[p with dim := index[p]]`, the output shaped like `index`.
    fn gather(&self, layout: &Layout, dim: usize, index: (&Self, &Layout)) -> BackendResult<Self>;
    /// `out = base; out[p with dim := index[p]] += src[p]`.
    fn scatter_add(
        &self,
        layout: &Layout,
        dim: usize,
        index: (&Self, &Layout),
        src: (&Self, &Layout),
    ) -> BackendResult<Self>;
    /// The parts joined along `dim` (all other sizes agree).
    fn cat(parts: &[(&Self, &Layout)], dim: usize) -> BackendResult<Self>;
}

impl Storage {
    /// Entries `indices` along `dim`.
    pub fn index_select(&self, layout: &Layout, dim: usize, indices: &Storage) -> Storage {
        let s = self;
        on_device!("index_select", |wrap| [s, indices] => s.index_select(layout, dim, indices).map(wrap))
    }

    /// Zeros of `out_dims` with `self`'s blocks added at `indices` along `dim`.
    pub fn index_add(
        &self,
        layout: &Layout,
        out_dims: &[usize],
        dim: usize,
        indices: &Storage,
    ) -> Storage {
        let s = self;
        on_device!("index_add", |wrap| [s, indices] => s.index_add(layout, out_dims, dim, indices).map(wrap))
    }

    /// `out[p] = x[p with dim := index[p]]`.
    pub fn gather(&self, layout: &Layout, dim: usize, index: (&Storage, &Layout)) -> Storage {
        let (s, i) = (self, index.0);
        on_device!("gather", |wrap| [s, i] => s.gather(layout, dim, (i, index.1)).map(wrap))
    }

    /// `out = base; out[p with dim := index[p]] += src[p]`.
    pub fn scatter_add(
        &self,
        layout: &Layout,
        dim: usize,
        index: (&Storage, &Layout),
        src: (&Storage, &Layout),
    ) -> Storage {
        let (s, i, v) = (self, index.0, src.0);
        on_device!("scatter_add", |wrap| [s, i, v] => {
            s.scatter_add(layout, dim, (i, index.1), (v, src.1)).map(wrap)
        })
    }

    /// The parts joined along `dim`.
    pub fn cat(parts: &[(&Storage, &Layout)], dim: usize) -> Storage {
        let here = parts[0].0.device();
        if let Some((p, _)) = parts.iter().find(|(p, _)| p.device() != here) {
            super::device_mismatch("cat", here, p.device());
        }
        match parts[0].0 {
            Storage::Cpu(_) => {
                let same: Vec<_> = parts
                    .iter()
                    .filter_map(|(p, l)| match p {
                        Storage::Cpu(p) => Some((p, *l)),
                        #[allow(unreachable_patterns)]
                        _ => None,
                    })
                    .collect();
                Storage::Cpu(super::expect_device(IndexOps::cat(&same, dim)))
            }
            #[cfg(feature = "wgpu")]
            Storage::Wgpu(_) => {
                let same: Vec<_> = parts
                    .iter()
                    .filter_map(|(p, l)| match p {
                        Storage::Wgpu(p) => Some((p, *l)),
                        _ => None,
                    })
                    .collect();
                Storage::Wgpu(super::expect_device(IndexOps::cat(&same, dim)))
            }
        }
    }
}
