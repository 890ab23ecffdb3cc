//! The CPU implementation of [`crate::backend::ReduceOps`].

use super::CpuStorage;
use crate::backend::cpu::reduce::{map_lanes, reduce_dims};
use crate::backend::{BackendResult, ReduceOps};
use crate::core::{Layout, ReduceKind, ScanKind};

impl ReduceOps for CpuStorage {
    fn reduce(&self, layout: &Layout, mask: &[bool], kind: ReduceKind) -> BackendResult<Self> {
        Ok(CpuStorage::from_vec(reduce_dims(
            self.f32(),
            layout,
            mask,
            kind,
        )))
    }

    fn arg_reduce(
        &self,
        layout: &Layout,
        dim: usize,
        largest: bool,
    ) -> BackendResult<(Self, Self)> {
        let mut idx = Vec::new();
        let values = map_lanes(self.f32(), layout, dim, 1, |lane, out| {
            let mut best = 0;
            for (i, &v) in lane.iter().enumerate() {
                let b = lane[best];
                // The first extreme wins; NaN counts as the extreme, as in PyTorch.
                if !b.is_nan() && (v.is_nan() || if largest { v > b } else { v < b }) {
                    best = i;
                }
            }
            out[0] = lane[best];
            idx.push(best as i64);
        });
        Ok((CpuStorage::from_vec(values), CpuStorage::from_indices(idx)))
    }

    fn scan(&self, layout: &Layout, dim: usize, kind: ScanKind) -> BackendResult<Self> {
        let n = layout.dims().get(dim).copied().unwrap_or(1);
        let data = match kind {
            ScanKind::CumSum => map_lanes(self.f32(), layout, dim, n, |lane, out| {
                let mut acc = 0.0;
                for (o, &v) in out.iter_mut().zip(lane) {
                    acc += v;
                    *o = acc;
                }
            }),
            ScanKind::ExclusiveProd => map_lanes(self.f32(), layout, dim, n, |lane, out| {
                // prefix · suffix products avoid dividing by zero.
                let mut acc = 1.0;
                for i in 0..lane.len() {
                    out[i] = acc;
                    acc *= lane[i];
                }
                acc = 1.0;
                for i in (0..lane.len()).rev() {
                    out[i] *= acc;
                    acc *= lane[i];
                }
            }),
        };
        Ok(CpuStorage::from_vec(data))
    }

    fn softmax(&self, layout: &Layout, dim: usize, log: bool) -> BackendResult<Self> {
        let n = layout.dims().get(dim).copied().unwrap_or(1);
        let data = map_lanes(self.f32(), layout, dim, n, |lane, out| {
            // Subtracting the max keeps every exponent ≤ 0.
            let m = lane.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let m = if m.is_finite() { m } else { 0.0 };
            let mut sum = 0.0f32;
            for (o, &x) in out.iter_mut().zip(lane) {
                *o = (x - m).exp();
                sum += *o;
            }
            if log {
                let lse = sum.ln();
                for (o, &x) in out.iter_mut().zip(lane) {
                    *o = x - m - lse;
                }
            } else {
                let inv = 1.0 / sum;
                out.iter_mut().for_each(|o| *o *= inv);
            }
        });
        Ok(CpuStorage::from_vec(data))
    }
}
