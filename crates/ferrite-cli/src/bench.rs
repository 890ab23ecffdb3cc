//! `ferrite bench`: the reference workloads of `shared/bench/torch_reference.py`, the same
//! work under the same names, timed as the median of repeats after a warm-up. With
//! `--device wgpu`, the GPU set of `shared/bench/torch_gpu_reference.py` (its names without
//! the `cuda_` prefix), each repeat waiting for the device to finish, as that script
//! synchronises.

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

/// Median seconds of `repeat` runs of `f` after `warmup` runs, each run waiting until the
/// default device has finished its work.
pub fn time_median(mut f: impl FnMut(), warmup: usize, repeat: usize) -> f64 {
    let device = ferrite::default_device();
    for _ in 0..warmup {
        f();
    }
    device.synchronize();
    let mut times: Vec<f64> = (0..repeat)
        .map(|_| {
            let t = Instant::now();
            f();
            device.synchronize();
            t.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(|a, b| a.total_cmp(b));
    times[times.len() / 2]
}

/// A training step's backward: under mpirun (every rank stepping on its share of the
/// batch, as data-parallel training does) with the gradients averaged across the ranks in
/// buckets sent while backward runs, else a plain `loss.backward()`.
fn distributed_backward(params: &[Tensor]) -> impl Fn(&Tensor) {
    use ferrite::distributed::{default_group, GradientReducer, BUCKET_BYTES};
    let group = default_group().filter(|g| g.world_size() > 1);
    let reducer = GradientReducer::new(params, BUCKET_BYTES);
    move |loss: &Tensor| match &group {
        Some(g) => reducer
            .backward(loss, g.as_ref())
            .expect("the gradient all-reduce"),
        None => loss.backward(),
    }
}

/// This rank's share of a step's `batch` samples (all of them outside an MPI job).
fn rank_batch(batch: usize) -> usize {
    (batch / ferrite::distributed::world_size()).max(1)
}

/// The all-reduce (sum) of a 4 MiB f32 tensor across the ranks of an MPI job, as
/// data-parallel training sends its gradient buckets. Work: 4 MiB per all-reduce, reported
/// as GB/s of tensor data reduced (the "algorithm bandwidth" of MPI benchmarks).
fn allreduce_4mib() -> Report {
    use ferrite::distributed::{default_group, ReduceOp};
    let n = ferrite::distributed::BUCKET_BYTES / 4;
    let t = Tensor::randn([n]);
    let group = default_group();
    let s = time_median(
        || {
            if let Some(g) = &group {
                g.all_reduce(&t, ReduceOp::Sum).expect("all-reduce");
            }
        },
        5,
        31,
    );
    Report {
        workload: "allreduce_4mib",
        median_s: s,
        rate: (n * 4) as f64 / 1e9 / s,
        unit: "GB/s",
    }
}

/// C = A·B, A and B n×n f32 random. Work: 2·n³ FLOP.
fn matmul(workload: &'static str, n: usize, warmup: usize, repeat: usize) -> Report {
    let a = Tensor::randn([n, n]);
    let b = Tensor::randn([n, n]);
    let _g = no_grad();
    let s = time_median(
        || {
            std::hint::black_box(a.matmul(&b));
        },
        warmup,
        repeat,
    );
    Report {
        workload,
        median_s: s,
        rate: 2.0 * (n as f64).powi(3) / 1e9 / s,
        unit: "GFLOP/s",
    }
}

fn matmul_1024() -> Report {
    matmul("matmul_1024", 1024, 5, 9)
}

/// One epoch over 455 samples × 30 features, MLP 30-64-ReLU-32-ReLU-1, BCEWithLogits, Adam
/// lr 1e-3, batch 32, shuffled each epoch (15 steps). Work: 455 samples.
fn mlp_breast_cancer_epoch() -> Report {
    mlp_breast_cancer_epoch_timed(5, 9)
}

fn mlp_breast_cancer_epoch_timed(warmup: usize, repeat: usize) -> Report {
    use ferrite::nn::loss::{BCEWithLogitsLoss, Loss};
    use ferrite::nn::{Linear, Module, ReLU, Sequential};
    use ferrite::optim::{Adam, AdamConfig, Optimizer};
    let mut g = ferrite::Generator::new(0);
    let x = Tensor::randn_with([455, 30], &mut g);
    let y = Tensor::from_vec((0..455).map(|_| g.below(2) as f32).collect(), [455, 1]);
    let mlp = Sequential::new()
        .add(Linear::new(30, 64).expect("valid Linear"))
        .add(ReLU)
        .add(Linear::new(64, 32).expect("valid Linear"))
        .add(ReLU)
        .add(Linear::new(32, 1).expect("valid Linear"));
    let mut opt = Adam::new(
        mlp.parameters(),
        AdamConfig {
            lr: 1e-3,
            ..Default::default()
        },
    )
    .expect("valid Adam");
    let loss_fn = BCEWithLogitsLoss::new();
    let s = time_median(
        || {
            let perm = g.permutation(455);
            for idx in perm.chunks(32) {
                opt.zero_grad();
                let (xb, yb) = (x.index_select(0, idx), y.index_select(0, idx));
                let loss = loss_fn
                    .forward(&mlp.forward(&xb), &yb)
                    .expect("matching shapes");
                loss.backward();
                opt.step();
            }
        },
        warmup,
        repeat,
    );
    Report {
        workload: "mlp_breast_cancer_epoch",
        median_s: s,
        rate: 455.0 / s,
        unit: "samples/s",
    }
}

/// One training step of MLP 784-512-ReLU-512-ReLU-10, CrossEntropyLoss, SGD lr 0.01,
/// batch 128. Work: 128 samples.
fn mlp784_train_step_b128() -> Report {
    mlp784_train_step("mlp784_train_step_b128", 128, 5, 21)
}

fn mlp784_train_step(workload: &'static str, batch: usize, warmup: usize, repeat: usize) -> Report {
    use ferrite::nn::loss::{CrossEntropyLoss, Loss};
    use ferrite::nn::{Linear, Module, ReLU, Sequential};
    use ferrite::optim::{Optimizer, SGDConfig, SGD};
    let mut g = ferrite::Generator::new(0);
    let big = Sequential::new()
        .add(Linear::new(784, 512).expect("valid Linear"))
        .add(ReLU)
        .add(Linear::new(512, 512).expect("valid Linear"))
        .add(ReLU)
        .add(Linear::new(512, 10).expect("valid Linear"));
    let mut opt = SGD::new(
        big.parameters(),
        SGDConfig {
            lr: 0.01,
            ..Default::default()
        },
    )
    .expect("valid SGD");
    let ce = CrossEntropyLoss::new();
    let local = rank_batch(batch);
    let x = Tensor::randn_with([local, 784], &mut g);
    let y = Tensor::from_vec((0..local).map(|_| g.below(10) as f32).collect(), [local]);
    let backward = distributed_backward(&big.parameters());
    let s = time_median(
        || {
            opt.zero_grad();
            let loss = ce.forward(&big.forward(&x), &y).expect("valid targets");
            backward(&loss);
            opt.step();
        },
        warmup,
        repeat,
    );
    Report {
        workload,
        median_s: s,
        rate: batch as f64 / s,
        unit: "samples/s",
    }
}

/// One training step: LSTM(input 1, hidden 50, batch_first) over 5 time steps, Linear(50, 1)
/// on the last hidden state, MSELoss, backward, Adam lr 1e-3; batch 32. Work: 32 sequences.
fn lstm_train_step_b32() -> Report {
    lstm_train_step_b32_timed(5, 21)
}

fn lstm_train_step_b32_timed(warmup: usize, repeat: usize) -> Report {
    use ferrite::nn::loss::{Loss, MSELoss};
    use ferrite::nn::{Linear, Module, RecurrentConfig, LSTM};
    use ferrite::optim::{Adam, AdamConfig, Optimizer};
    let mut g = ferrite::Generator::new(0);
    let lstm = LSTM::new(RecurrentConfig::new(1, 50).batch_first(true)).expect("valid LSTM");
    let head = Linear::new(50, 1).expect("valid Linear");
    let mut params = lstm.parameters();
    params.extend(head.parameters());
    let mut opt = Adam::new(
        params,
        AdamConfig {
            lr: 1e-3,
            ..Default::default()
        },
    )
    .expect("valid Adam");
    let mse = MSELoss::new();
    let x = Tensor::randn_with([32, 5, 1], &mut g);
    let y = Tensor::randn_with([32, 1], &mut g);
    let s = time_median(
        || {
            opt.zero_grad();
            let (_, (h_n, _)) = lstm.forward_with_state(&x, None);
            // h_n[0] is the last time step's hidden state of the (only) layer.
            let loss = mse
                .forward(&head.forward(&h_n.get(0)), &y)
                .expect("matching shapes");
            loss.backward();
            opt.step();
        },
        warmup,
        repeat,
    );
    Report {
        workload: "lstm_train_step_b32",
        median_s: s,
        rate: 32.0 / s,
        unit: "sequences/s",
    }
}

/// One training step of LeNet-5 (ReLU, max-pool, 2 classes) on a batch of 64 1x32x32
/// images: forward, CrossEntropyLoss, backward, SGD lr 0.01 momentum 0.9. Work: 64 images.
fn lenet5_train_step_b64() -> Report {
    lenet5_train_step("lenet5_train_step_b64", 64, 5, 21)
}

fn lenet5_train_step(workload: &'static str, batch: usize, warmup: usize, repeat: usize) -> Report {
    use ferrite::nn::loss::{CrossEntropyLoss, Loss};
    use ferrite::nn::models::LeNet5;
    use ferrite::nn::Module;
    use ferrite::optim::{Optimizer, SGDConfig, SGD};
    let mut g = ferrite::Generator::new(0);
    let net = LeNet5::new(2).expect("valid LeNet5");
    let config = SGDConfig {
        lr: 0.01,
        momentum: 0.9,
        ..Default::default()
    };
    let mut opt = SGD::new(net.parameters(), config).expect("valid SGD");
    let ce = CrossEntropyLoss::new();
    let local = rank_batch(batch);
    let x = Tensor::randn_with([local, 1, 32, 32], &mut g);
    let y = Tensor::from_vec((0..local).map(|_| g.below(2) as f32).collect(), [local]);
    let backward = distributed_backward(&net.parameters());
    let s = time_median(
        || {
            opt.zero_grad();
            let loss = ce.forward(&net.forward(&x), &y).expect("valid targets");
            backward(&loss);
            opt.step();
        },
        warmup,
        repeat,
    );
    Report {
        workload,
        median_s: s,
        rate: batch as f64 / s,
        unit: "images/s",
    }
}

/// Forward only, no autograd: Conv2d(3, 64, 3, padding 1, bias) on 64x3x32x32. Work: 64 images.
fn conv2d_fwd_b64_3to64_32px() -> Report {
    use ferrite::nn::{Conv2d, Conv2dOptions, Module};
    let conv =
        Conv2d::with_options(3, 64, 3, Conv2dOptions::new().padding(1)).expect("valid Conv2d");
    let x = Tensor::randn([64, 3, 32, 32]);
    let _g = no_grad();
    let s = time_median(
        || {
            std::hint::black_box(conv.forward(&x));
        },
        10,
        21,
    );
    Report {
        workload: "conv2d_fwd_b64_3to64_32px",
        median_s: s,
        rate: 64.0 / s,
        unit: "images/s",
    }
}

/// A workload's name and the function that measures it.
pub type Workload = (&'static str, fn() -> Report);

/// Every workload Ferrite can run, in the reference script's order.
pub const WORKLOADS: &[Workload] = &[
    ("matmul_1024", matmul_1024),
    ("mlp_breast_cancer_epoch", mlp_breast_cancer_epoch),
    ("lenet5_train_step_b64", lenet5_train_step_b64),
    ("lstm_train_step_b32", lstm_train_step_b32),
    ("mlp784_train_step_b128", mlp784_train_step_b128),
    ("conv2d_fwd_b64_3to64_32px", conv2d_fwd_b64_3to64_32px),
];

/// The set `ferrite bench` runs under `mpirun -np N`: the two training steps with the same
/// global batch split across the ranks (each rank's gradients all-reduced before its step,
/// as in data-parallel training), and the all-reduce of one gradient bucket.
pub const DISTRIBUTED_WORKLOADS: &[Workload] = &[
    ("lenet5_train_step_b64", lenet5_train_step_b64),
    ("mlp784_train_step_b128", mlp784_train_step_b128),
    ("allreduce_4mib", allreduce_4mib),
];

/// The GPU set, as `shared/bench/torch_gpu_reference.py` runs it (10 warm-ups and 30
/// repeats; 3 and 9 for the epoch), under its names without the `cuda_` prefix.
pub const GPU_WORKLOADS: &[Workload] = &[
    ("matmul_1024_fp32", || {
        matmul("matmul_1024_fp32", 1024, 10, 30)
    }),
    ("matmul_4096_fp32", || {
        matmul("matmul_4096_fp32", 4096, 10, 30)
    }),
    ("lenet5_train_step_b64", || {
        lenet5_train_step("lenet5_train_step_b64", 64, 10, 30)
    }),
    ("lenet5_train_step_b1024", || {
        lenet5_train_step("lenet5_train_step_b1024", 1024, 10, 30)
    }),
    ("mlp784_train_step_b128", || {
        mlp784_train_step("mlp784_train_step_b128", 128, 10, 30)
    }),
    ("mlp784_train_step_b4096", || {
        mlp784_train_step("mlp784_train_step_b4096", 4096, 10, 30)
    }),
    ("lstm_train_step_b32", || lstm_train_step_b32_timed(10, 30)),
    ("mlp_breast_cancer_epoch", || {
        mlp_breast_cancer_epoch_timed(3, 9)
    }),
];
