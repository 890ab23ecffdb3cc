//! The CPU implementation of [`crate::backend::ReduceOps`], at f32 or f64.

use super::{float_dispatch, CpuFloat, CpuStorage, Element};
use crate::backend::cpu::reduce::{map_lanes, reduce_dims};
use crate::backend::{BackendResult, ReduceOps};
use crate::core::{Layout, ReduceKind, ScanKind};

/// The index and value of the first extreme of each lane along `dim` (NaN counts as the
/// extreme, as in PyTorch).
fn arg_reduce_lanes<T: CpuFloat>(
    src: &[T],
    layout: &Layout,
    dim: usize,
    largest: bool,
) -> (CpuStorage, CpuStorage) {
    let mut idx = Vec::new();
    let values = map_lanes(src, layout, dim, 1, |lane, out| {
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
    (T::wrap(values), CpuStorage::from_indices(idx))
}

/// Running sums or exclusive products of each lane along `dim`.
fn scan_lanes<T: CpuFloat>(src: &[T], layout: &Layout, dim: usize, kind: ScanKind) -> Vec<T> {
    let n = layout.dims().get(dim).copied().unwrap_or(1);
    match kind {
        ScanKind::CumSum => map_lanes(src, layout, dim, n, |lane, out| {
            let mut acc = T::zero();
            for (o, &v) in out.iter_mut().zip(lane) {
                acc += v;
                *o = acc;
            }
        }),
        ScanKind::ExclusiveProd => map_lanes(src, layout, dim, n, |lane, out| {
            // prefix · suffix products avoid dividing by zero.
            let mut acc = T::one();
            for i in 0..lane.len() {
                out[i] = acc;
                acc *= lane[i];
            }
            acc = T::one();
            for i in (0..lane.len()).rev() {
                out[i] *= acc;
                acc *= lane[i];
            }
        }),
    }
}

/// Softmax (or log-softmax) of each lane along `dim`.
fn softmax_lanes<T: CpuFloat>(src: &[T], layout: &Layout, dim: usize, log: bool) -> Vec<T> {
    let n = layout.dims().get(dim).copied().unwrap_or(1);
    map_lanes(src, layout, dim, n, |lane, out| {
        // Subtracting the max keeps every exponent ≤ 0.
        let m = lane.iter().copied().fold(T::neg_infinity(), T::max);
        let m = if m.is_finite() { m } else { T::zero() };
        let mut sum = T::zero();
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
            let inv = T::one() / sum;
            out.iter_mut().for_each(|o| *o *= inv);
        }
    })
}

impl ReduceOps for CpuStorage {
    fn reduce(&self, layout: &Layout, mask: &[bool], kind: ReduceKind) -> BackendResult<Self> {
        float_dispatch!("reduce", self.dtype(), |T| Ok(T::wrap(reduce_dims(
            self.data::<T>(),
            layout,
            mask,
            kind
        ))))
    }

    fn arg_reduce(
        &self,
        layout: &Layout,
        dim: usize,
        largest: bool,
    ) -> BackendResult<(Self, Self)> {
        float_dispatch!("argmax", self.dtype(), |T| Ok(arg_reduce_lanes(
            self.data::<T>(),
            layout,
            dim,
            largest
        )))
    }

    fn scan(&self, layout: &Layout, dim: usize, kind: ScanKind) -> BackendResult<Self> {
        float_dispatch!("cumsum", self.dtype(), |T| Ok(T::wrap(scan_lanes(
            self.data::<T>(),
            layout,
            dim,
            kind
        ))))
    }

    fn softmax(&self, layout: &Layout, dim: usize, log: bool) -> BackendResult<Self> {
        float_dispatch!("softmax", self.dtype(), |T| Ok(T::wrap(softmax_lanes(
            self.data::<T>(),
            layout,
            dim,
            log
        ))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The f64 path of every reduction agrees with the f32 path to 1e-6.
    #[test]
    fn f64_matches_f32() {
        let v32 = vec![0.5f32, -1.25, 2.0, 3.5, -0.75, 1.0];
        let v64: Vec<f64> = v32.iter().map(|&x| x as f64).collect();
        let (s32, s64) = (CpuStorage::F32(v32), CpuStorage::F64(v64));
        let l = Layout::contiguous([2, 3]);
        let close = |a: &CpuStorage, b: &CpuStorage| {
            assert_eq!(b.dtype(), crate::core::DType::F64);
            for (x, y) in a.data::<f32>().iter().zip(b.data::<f64>()) {
                assert!((*x as f64 - y).abs() < 1e-6, "{x} vs {y}");
            }
        };
        let mask = [false, true];
        close(
            &s32.reduce(&l, &mask, ReduceKind::Sum).unwrap(),
            &s64.reduce(&l, &mask, ReduceKind::Sum).unwrap(),
        );
        for log in [false, true] {
            close(
                &s32.softmax(&l, 1, log).unwrap(),
                &s64.softmax(&l, 1, log).unwrap(),
            );
        }
        for kind in [ScanKind::CumSum, ScanKind::ExclusiveProd] {
            close(
                &s32.scan(&l, 0, kind).unwrap(),
                &s64.scan(&l, 0, kind).unwrap(),
            );
        }
        let ((v, i), (w, j)) = (
            s32.arg_reduce(&l, 1, true).unwrap(),
            s64.arg_reduce(&l, 1, true).unwrap(),
        );
        close(&v, &w);
        assert_eq!(i.i64(), j.i64());
        assert_eq!(j.i64(), &[2, 0]);
    }
}
