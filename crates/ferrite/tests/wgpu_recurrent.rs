//! The wgpu backend's recurrent ops (LSTM, GRU, Elman RNN, forward and backward through
//! time) against the CPU backend, through the public API: the fused sequence ops on their own
//! (strided and transposed operands, both row orders, both directions, both activations) and
//! the `nn` layers (stacked, bidirectional, with initial states), in f32 and f64, outputs and
//! every gradient.

use ferrite::nn::{CellActivation, Module, RecurrentConfig, GRU, LSTM, RNN};
use ferrite::{DType, Device, Tensor};

const GPU: Device = Device::Wgpu(0);
const CPU: Device = Device::Cpu;
/// Time steps, batch, input features, hidden units.
const T: usize = 5;
const N: usize = 3;
const I: usize = 4;
const H: usize = 6;

/// Deterministic values in about ±`scale`, different for each `seed`.
fn values(len: usize, seed: u64, scale: f32) -> Vec<f32> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let u = (s >> 40) as f32 / (1u64 << 24) as f32;
            (2.0 * u - 1.0) * scale
        })
        .collect()
}

/// A CPU tensor of `dims` and `dtype` from [`values`], not tracking gradients.
fn data(dims: &[usize], seed: u64, scale: f32, dtype: DType) -> Tensor {
    let len = dims.iter().product();
    Tensor::from_vec(values(len, seed, scale), dims.to_vec())
        .to(&CPU)
        .to_dtype(dtype)
        .detach()
}

/// A fresh CPU leaf with the values of `t`, tracking its gradient.
fn leaf(t: &Tensor) -> Tensor {
    t.detach_copy().requires_grad()
}

fn tol(dtype: DType) -> f64 {
    if dtype == DType::F64 {
        1e-10
    } else {
        1e-5
    }
}

/// `got` (any device) equals `want` within `tol`, relative to the larger of 1 and |want|.
fn assert_close(what: &str, got: &Tensor, want: &Tensor, tol: f64) {
    assert_eq!(got.dims(), want.dims(), "{what}: shape");
    let (a, b) = (got.to(&CPU).to_vec_f64(), want.to(&CPU).to_vec_f64());
    assert!(!b.is_empty(), "{what}: nothing to compare");
    for (i, (x, y)) in a.iter().zip(&b).enumerate() {
        assert!(
            (x - y).abs() <= tol * y.abs().max(1.0),
            "{what}[{i}]: wgpu {x} vs cpu {y}"
        );
    }
}

/// Which fused op a case runs.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Lstm(CellActivation),
    Gru,
    Rnn(CellActivation),
}

impl Kind {
    fn gates(self) -> usize {
        match self {
            Kind::Lstm(_) => 4,
            Kind::Gru => 3,
            Kind::Rnn(_) => 1,
        }
    }
}

/// The CPU leaves of one fused-op case. With `strided`, they are stored so that the op sees
/// views: `xproj` transposed (time and batch swapped), `w_hh` transposed, `h0` a column
/// slice, `b_hh` a strided row.
struct Leaves {
    xproj: Tensor,
    w_hh: Tensor,
    h0: Tensor,
    c0: Tensor,
    b_hh: Tensor,
}

impl Leaves {
    fn new(kind: Kind, c: Case, dtype: DType, seed: u64) -> Leaves {
        let (batch_first, strided, h) = (c.batch_first, c.strided, c.hidden);
        let g = kind.gates() * h;
        let seq = if batch_first == strided {
            [T, N, g]
        } else {
            [N, T, g]
        };
        let w = if strided { [h, g] } else { [g, h] };
        let hd = if strided { [N, h + 2] } else { [N, h] };
        let b: Vec<usize> = if strided { vec![g, 2] } else { vec![g] };
        Leaves {
            xproj: leaf(&data(&seq, seed, 1.0, dtype)),
            w_hh: leaf(&data(&w, seed + 1, 0.5, dtype)),
            h0: leaf(&data(&hd, seed + 2, 0.8, dtype)),
            c0: leaf(&data(&[N, h], seed + 3, 0.8, dtype)),
            b_hh: leaf(&data(&b, seed + 4, 0.5, dtype)),
        }
    }

    /// Fresh leaves with the same values.
    fn again(&self) -> Leaves {
        Leaves {
            xproj: leaf(&self.xproj),
            w_hh: leaf(&self.w_hh),
            h0: leaf(&self.h0),
            c0: leaf(&self.c0),
            b_hh: leaf(&self.b_hh),
        }
    }

    fn all(&self) -> [(&'static str, &Tensor); 5] {
        [
            ("xproj", &self.xproj),
            ("w_hh", &self.w_hh),
            ("h0", &self.h0),
            ("c0", &self.c0),
            ("b_hh", &self.b_hh),
        ]
    }
}

/// Runs one fused op on `device` from the CPU `leaves`, with the loss
/// `Σ output·w_out + Σ h_n·w_h (+ Σ c_n·w_c)`, and backpropagates. Returns the results
/// (output, h_n, c_n) on the CPU; the gradients land on the leaves.
fn run_op(kind: Kind, leaves: &Leaves, c: Case, device: &Device) -> Vec<Tensor> {
    let (batch_first, reverse, strided) = (c.batch_first, c.reverse, c.strided);
    let dtype = leaves.xproj.dtype();
    let x = leaves.xproj.to(device);
    let x = if strided { x.transpose(0, 1) } else { x };
    let w = leaves.w_hh.to(device);
    let w = if strided { w.t() } else { w };
    let h0 = leaves.h0.to(device);
    let h0 = if strided {
        h0.narrow(1, 1, c.hidden)
    } else {
        h0
    };
    let c0 = leaves.c0.to(device);
    let b = leaves.b_hh.to(device);
    let b = if strided { b.t().get(1) } else { b };
    let r = match kind {
        Kind::Lstm(act) => Tensor::lstm_sequence(&x, &w, &h0, &c0, batch_first, reverse, act),
        Kind::Gru => Tensor::gru_sequence(&x, &w, &b, &h0, batch_first, reverse),
        Kind::Rnn(act) => Tensor::rnn_sequence(&x, &w, &h0, batch_first, reverse, act),
    };
    let weights = |t: &Tensor, seed| data(t.dims(), seed, 1.0, dtype).to(device);
    let mut loss =
        (&r.output * &weights(&r.output, 91)).sum() + (&r.h_n * &weights(&r.h_n, 92)).sum();
    let mut results = vec![r.output.to(&CPU), r.h_n.to(&CPU)];
    if let Some(c) = &r.c_n {
        loss = loss + (c * &weights(c, 93)).sum();
        results.push(c.to(&CPU));
    }
    loss.backward();
    results
}

/// The fused op on the GPU matches the CPU: results and the gradients of every input.
fn check_op(kind: Kind, batch_first: bool, reverse: bool, strided: bool, dtype: DType) {
    check_case(
        kind,
        Case {
            batch_first,
            reverse,
            strided,
            hidden: H,
        },
        dtype,
    );
}

/// How one fused-op case lays out and runs its sequence.
#[derive(Clone, Copy, Debug)]
struct Case {
    batch_first: bool,
    reverse: bool,
    strided: bool,
    hidden: usize,
}

fn check_case(kind: Kind, c: Case, dtype: DType) {
    let name = format!("{kind:?} {c:?} {dtype:?}");
    let cpu = Leaves::new(kind, c, dtype, 7);
    let gpu = cpu.again();
    let want = run_op(kind, &cpu, c, &CPU);
    let got = run_op(kind, &gpu, c, &GPU);
    let tol = tol(dtype);
    for (k, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g.dtype(), dtype, "{name}: result {k} dtype");
        assert_close(&format!("{name} result {k}"), g, w, tol);
    }
    let mut compared = 0;
    for ((what, g), (_, w)) in gpu.all().into_iter().zip(cpu.all()) {
        match (g.grad(), w.grad()) {
            (Some(g), Some(w)) => {
                assert_close(&format!("{name} grad {what}"), &g, &w, tol);
                compared += 1;
            }
            (None, None) => {}
            (g, w) => panic!(
                "{name} grad {what}: wgpu has one: {}, cpu has one: {}",
                g.is_some(),
                w.is_some()
            ),
        }
    }
    let inputs = match kind {
        Kind::Lstm(_) => 4,
        Kind::Gru => 4,
        Kind::Rnn(_) => 3,
    };
    assert_eq!(compared, inputs, "{name}: gradients compared");
}

const DTYPES: [DType; 2] = [DType::F32, DType::F64];

#[test]
fn lstm_sequence_matches_cpu() {
    for dtype in DTYPES {
        for (bf, rev, act, strided) in [
            (false, false, CellActivation::Tanh, false),
            (true, true, CellActivation::Tanh, true),
            (false, true, CellActivation::Relu, true),
            (true, false, CellActivation::Relu, false),
        ] {
            check_op(Kind::Lstm(act), bf, rev, strided, dtype);
        }
    }
}

#[test]
fn gru_sequence_matches_cpu() {
    for dtype in DTYPES {
        for (bf, rev, strided) in [
            (false, false, false),
            (true, true, true),
            (false, true, true),
        ] {
            check_op(Kind::Gru, bf, rev, strided, dtype);
        }
    }
}

#[test]
fn rnn_sequence_matches_cpu() {
    for dtype in DTYPES {
        for (bf, rev, act, strided) in [
            (false, false, CellActivation::Tanh, false),
            (true, true, CellActivation::Tanh, true),
            (false, true, CellActivation::Relu, true),
            (true, false, CellActivation::Relu, false),
        ] {
            check_op(Kind::Rnn(act), bf, rev, strided, dtype);
        }
    }
}

/// A single time step and a single batch entry (the edges of the per-step loops).
#[test]
fn one_step_one_entry_matches_cpu() {
    for dtype in DTYPES {
        for kind in [
            Kind::Lstm(CellActivation::Tanh),
            Kind::Gru,
            Kind::Rnn(CellActivation::Relu),
        ] {
            let g = kind.gates() * H;
            let run = |device: &Device| {
                let x = leaf(&data(&[1, 1, g], 3, 1.0, dtype));
                let w = leaf(&data(&[g, H], 4, 0.5, dtype));
                let h0 = leaf(&data(&[1, H], 5, 0.5, dtype));
                let b = leaf(&data(&[g], 6, 0.5, dtype));
                let (xd, wd, hd, bd) = (x.to(device), w.to(device), h0.to(device), b.to(device));
                let r = match kind {
                    Kind::Lstm(act) => Tensor::lstm_sequence(&xd, &wd, &hd, &hd, false, false, act),
                    Kind::Gru => Tensor::gru_sequence(&xd, &wd, &bd, &hd, false, false),
                    Kind::Rnn(act) => Tensor::rnn_sequence(&xd, &wd, &hd, false, false, act),
                };
                let mut loss = (&r.output * &data(&[1, 1, H], 8, 1.0, dtype).to(device)).sum();
                if let Some(c) = &r.c_n {
                    loss = loss + (c * &data(&[1, H], 9, 1.0, dtype).to(device)).sum();
                }
                loss.backward();
                let mut v = vec![
                    r.output.to(&CPU),
                    x.grad().unwrap(),
                    w.grad().unwrap(),
                    h0.grad().unwrap(),
                ];
                if let (Kind::Gru, Some(gb)) = (kind, b.grad()) {
                    v.push(gb);
                }
                v
            };
            let (want, got) = (run(&CPU), run(&GPU));
            assert_eq!(want.len(), got.len());
            for (k, (g, w)) in got.iter().zip(&want).enumerate() {
                assert_close(
                    &format!("{kind:?} {dtype:?} one step, tensor {k}"),
                    g,
                    w,
                    tol(dtype),
                );
            }
        }
    }
}

/// A hidden size past one 16-wide tile in every product (the reduction too), in both types.
#[test]
fn wide_hidden_matches_cpu() {
    for dtype in DTYPES {
        for kind in [
            Kind::Lstm(CellActivation::Tanh),
            Kind::Gru,
            Kind::Rnn(CellActivation::Tanh),
        ] {
            let c = Case {
                batch_first: true,
                reverse: true,
                strided: true,
                hidden: 19,
            };
            check_case(kind, c, dtype);
        }
    }
}

/// Which `nn` layer a case builds.
enum Layer {
    Lstm(LSTM),
    Gru(GRU),
    Rnn(RNN),
}

impl Layer {
    fn new(kind: Kind, config: RecurrentConfig) -> Layer {
        match kind {
            Kind::Lstm(act) => Layer::Lstm(LSTM::with_activation(config, act).unwrap()),
            Kind::Gru => Layer::Gru(GRU::new(config).unwrap()),
            Kind::Rnn(act) => Layer::Rnn(RNN::with_nonlinearity(config, act).unwrap()),
        }
    }

    fn module(&self) -> &dyn Module {
        match self {
            Layer::Lstm(m) => m,
            Layer::Gru(m) => m,
            Layer::Rnn(m) => m,
        }
    }

    /// Output, h_n and (LSTM) c_n.
    fn run(&self, x: &Tensor, h0: &Tensor, c0: &Tensor) -> Vec<Tensor> {
        match self {
            Layer::Lstm(m) => {
                let (o, (h, c)) = m.forward_with_state(x, Some((h0, c0)));
                vec![o, h, c]
            }
            Layer::Gru(m) => {
                let (o, h) = m.forward_with_state(x, Some(h0));
                vec![o, h]
            }
            Layer::Rnn(m) => {
                let (o, h) = m.forward_with_state(x, Some(h0));
                vec![o, h]
            }
        }
    }
}

/// An `nn` layer with identical parameters on the CPU and the GPU, run on the same input and
/// initial states (in `dtype`: f64 inputs run the recurrence in f64 against f32 parameters),
/// loss `Σ results·weights`: results, parameter gradients and input/state gradients agree.
fn check_layer(kind: Kind, layers: usize, batch_first: bool, bidirectional: bool, dtype: DType) {
    let name = format!(
        "nn {kind:?} layers={layers} batch_first={batch_first} bidirectional={bidirectional} {dtype:?}"
    );
    let config = RecurrentConfig::new(I, H)
        .num_layers(layers)
        .batch_first(batch_first)
        .bidirectional(bidirectional);
    let cpu = Layer::new(kind, config.clone());
    let gpu = Layer::new(kind, config);
    for (p, q) in gpu
        .module()
        .parameters()
        .iter()
        .zip(cpu.module().parameters())
    {
        p.copy_(&q.to(&CPU));
    }
    cpu.module().to(&CPU);
    gpu.module().to(&GPU);
    let dirs = if bidirectional { 2 } else { 1 };
    let xdims = if batch_first { [N, T, I] } else { [T, N, I] };
    let x = data(&xdims, 21, 1.0, dtype);
    let h0 = data(&[layers * dirs, N, H], 22, 0.8, dtype);
    let c0 = data(&[layers * dirs, N, H], 23, 0.8, dtype);
    let run = |layer: &Layer, device: &Device| {
        let (x, h0, c0) = (leaf(&x), leaf(&h0), leaf(&c0));
        let results = layer.run(&x.to(device), &h0.to(device), &c0.to(device));
        let mut loss: Option<Tensor> = None;
        for (k, r) in results.iter().enumerate() {
            let term = (r * &data(r.dims(), 30 + k as u64, 1.0, r.dtype()).to(device)).sum();
            loss = Some(match loss {
                None => term,
                Some(l) => l + term,
            });
        }
        loss.expect("a result").backward();
        let mut inputs = vec![x.grad().expect("input grad"), h0.grad().expect("h0 grad")];
        if let Layer::Lstm(_) = layer {
            inputs.push(c0.grad().expect("c0 grad"));
        }
        (results, inputs)
    };
    let (want, want_in) = run(&cpu, &CPU);
    let (got, got_in) = run(&gpu, &GPU);
    let tol = tol(dtype);
    for (k, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g.device(), GPU, "{name}: result {k} device");
        assert_close(&format!("{name} result {k}"), g, w, tol);
    }
    for (k, (g, w)) in got_in.iter().zip(&want_in).enumerate() {
        assert_close(&format!("{name} input grad {k}"), g, w, tol);
    }
    let named = cpu.module().named_parameters();
    for ((pname, w), g) in named.iter().zip(gpu.module().parameters()) {
        let (g, w) = (g.grad().expect("gpu grad"), w.grad().expect("cpu grad"));
        // Parameters are f32: their gradients are rounded to f32 on both sides.
        assert_close(&format!("{name} grad {pname}"), &g, &w, 1e-5);
    }
}

#[test]
fn nn_lstm_matches_cpu() {
    check_layer(Kind::Lstm(CellActivation::Tanh), 2, true, true, DType::F32);
    check_layer(
        Kind::Lstm(CellActivation::Relu),
        1,
        false,
        false,
        DType::F32,
    );
    check_layer(Kind::Lstm(CellActivation::Tanh), 2, false, true, DType::F64);
}

#[test]
fn nn_gru_matches_cpu() {
    check_layer(Kind::Gru, 2, false, true, DType::F32);
    check_layer(Kind::Gru, 1, true, false, DType::F32);
    check_layer(Kind::Gru, 2, true, false, DType::F64);
}

#[test]
fn nn_rnn_matches_cpu() {
    check_layer(Kind::Rnn(CellActivation::Tanh), 2, true, true, DType::F32);
    check_layer(Kind::Rnn(CellActivation::Relu), 2, false, false, DType::F32);
    check_layer(Kind::Rnn(CellActivation::Relu), 1, true, true, DType::F64);
}
