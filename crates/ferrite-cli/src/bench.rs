//! `ferrite bench`: the reference workloads of `shared/bench/torch_reference.py`, the same
//! work under the same names, timed as the median of repeats after a warm-up.

use ferrite::{no_grad, Tensor};
use std::time::Instant;

/// One measured workload, printed as the same JSON fields as the PyTorch script.
pub struct Report {
    /// The workload's name, as in the reference script.
    pub workload: &'static str,
    /// Median seconds per repeat.
    pub median_s: f64,
    /// Work per second in `unit`.
    pub rate: f64,
    /// What `rate` counts.
    pub unit: &'static str,
}

impl Report {
    /// The JSON line the reference script prints.
    pub fn json(&self) -> String {
        // Field order as the reference script prints it.
        format!(
            "{{\"workload\": \"{}\", \"median_s\": {:.6}, \"rate\": {:.1}, \"unit\": \"{}\"}}",
            self.workload, self.median_s, self.rate, self.unit
        )
    }
}

/// Median seconds of `repeat` runs of `f` after `warmup` runs.
pub fn time_median(mut f: impl FnMut(), warmup: usize, repeat: usize) -> f64 {
    for _ in 0..warmup {
        f();
    }
    let mut times: Vec<f64> = (0..repeat)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(|a, b| a.total_cmp(b));
    times[times.len() / 2]
}

/// C = A·B, A and B 1024×1024 f32 random. Work: 2·1024³ FLOP.
fn matmul_1024() -> Report {
    let a = Tensor::randn([1024, 1024]);
    let b = Tensor::randn([1024, 1024]);
    let _g = no_grad();
    let s = time_median(
        || {
            std::hint::black_box(a.matmul(&b));
        },
        5,
        9,
    );
    Report { workload: "matmul_1024", median_s: s, rate: 2.0 * 1024f64.powi(3) / 1e9 / s, unit: "GFLOP/s" }
}

/// Every workload Ferrite can run, in the reference script's order.
pub const WORKLOADS: &[(&str, fn() -> Report)] = &[("matmul_1024", matmul_1024)];
