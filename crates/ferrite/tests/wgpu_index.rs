//! The wgpu backend's gathers and scatters (index_select, gather, scatter_add, cat, and
//! index_add through index_select's backward) against the CPU, forward and backward, in f32
//! and f64, on row-major and strided inputs, and for the dtypes that are only moved.

use ferrite::{DType, Device, Tensor};

fn gpu() -> Device {
    Device::Wgpu(0)
}

/// Deterministic values in [-2, 2) with untidy fractions, so that summation order shows.
fn data(n: usize, seed: u64) -> Vec<f64> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 11) as f64 / (1u64 << 53) as f64) * 4.0 - 2.0
        })
        .collect()
}

/// An input of `op`: its values and shape.
type Input = (Vec<f64>, Vec<usize>);

/// What one run gives: the output's shape and values, and each input's gradient.
type Outcome = (Vec<usize>, Vec<f64>, Vec<Option<Vec<f64>>>);

/// Runs `op` on leaves made from `inputs` (in `dtype`, on `device`), then backward with a
/// fixed output gradient; everything comes back to the host.
fn run(
    device: &Device,
    dtype: DType,
    inputs: &[&Input],
    op: &dyn Fn(&[Tensor]) -> Tensor,
) -> Outcome {
    let leaves: Vec<Tensor> = inputs
        .iter()
        .map(|(d, s)| {
            Tensor::from_f64(d.clone(), s.clone())
                .to(&Device::Cpu)
                .to_dtype(dtype)
                .to(device)
                .requires_grad()
        })
        .collect();
    let out = op(&leaves);
    assert_eq!(out.device(), *device, "the op ran where its inputs are");
    assert_eq!(out.dtype(), dtype);
    let dims = out.dims().to_vec();
    let values = out.to(&Device::Cpu).to_vec_f64();
    let g = Tensor::from_f64(data(out.numel(), 99), dims.clone())
        .to(&Device::Cpu)
        .to_dtype(dtype)
        .to(device);
    out.backward_with(&g);
    let grads = leaves
        .iter()
        .map(|l| l.grad().map(|g| g.to(&Device::Cpu).to_vec_f64()))
        .collect();
    (dims, values, grads)
}

fn assert_close(what: &str, got: &[f64], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= tol * (1.0 + w.abs()),
            "{what}[{i}]: wgpu gives {g}, the cpu {w}"
        );
    }
}

/// `op` on the GPU matches `op` on the CPU, outputs and gradients, in f32 and f64. The
/// accumulating kernels add in the CPU's order, so the results are asked to agree exactly
/// when `exact` is set.
fn check(name: &str, inputs: &[&Input], exact: bool, op: &dyn Fn(&[Tensor]) -> Tensor) {
    for (dtype, tol) in [(DType::F32, 1e-5), (DType::F64, 1e-10)] {
        let want = run(&Device::Cpu, dtype, inputs, op);
        let got = run(&gpu(), dtype, inputs, op);
        let what = format!("{name} ({dtype})");
        assert_eq!(got.0, want.0, "{what}: output shape");
        assert_close(&format!("{what} output"), &got.1, &want.1, tol);
        if exact {
            assert_eq!(got.1, want.1, "{what}: output differs from the cpu's bits");
        }
        for (k, (g, w)) in got.2.iter().zip(&want.2).enumerate() {
            match (g, w) {
                (Some(g), Some(w)) => {
                    assert_close(&format!("{what} grad {k}"), g, w, tol);
                    if exact {
                        assert_eq!(g, w, "{what}: grad {k} differs from the cpu's bits");
                    }
                }
                (None, None) => {}
                _ => panic!("{what}: grad {k} present on one device only"),
            }
        }
    }
}

/// An i64 tensor on `like`'s device.
fn indices(values: &[i64], dims: &[usize], like: &Tensor) -> Tensor {
    Tensor::from_i64(values.to_vec(), dims.to_vec())
        .to(&Device::Cpu)
        .to(&like.device())
}

#[test]
fn index_select_and_its_backward() {
    let x = (data(20, 1), vec![4, 5]);
    // Repeated indices make the backward (index_add) sum several blocks into one.
    check("select dim 0", &[&x], true, &|t| {
        t[0].index_select(0, &[2, 0, 2, 3, 2])
    });
    check("select dim 1", &[&x], true, &|t| {
        t[0].index_select(1, &[4, 4, 1, 0, 4, 4, 3])
    });
    check("select transposed", &[&x], true, &|t| {
        t[0].t().index_select(1, &[3, 1, 1])
    });
    check("select of a slice", &[&x], true, &|t| {
        t[0].slice(1, 1..4).index_select(0, &[1, 3, 1])
    });
    let y = (data(60, 2), vec![3, 4, 5]);
    check("select middle dim of 3-d", &[&y], true, &|t| {
        t[0].permute(&[2, 0, 1]).index_select(2, &[0, 3, 3, 1, 0])
    });
    // Its gradient strided too: the incoming gradient is a transposed view.
    check("select then transpose", &[&y], true, &|t| {
        t[0].index_select(1, &[2, 2, 0]).transpose(0, 2)
    });
    check("select nothing", &[&x], true, &|t| {
        t[0].index_select(1, &[])
    });
}

#[test]
fn index_add_over_many_workgroups() {
    // 300 rows, 700 picks: several workgroups in each of the three index_add launches,
    // with rows picked up to five times and rows never picked.
    let picks: Vec<usize> = (0..700).map(|k| (k * 37 + k / 3) % 250).collect();
    check(
        "large select",
        &[&(data(900, 3), vec![300, 3])],
        true,
        &|t| t[0].index_select(0, &picks),
    );
}

#[test]
fn gather_and_its_backward() {
    let x = (data(12, 4), vec![3, 4]);
    // The index may be smaller than x away from `dim`, and repeat positions.
    check("gather dim 1", &[&x], true, &|t| {
        t[0].gather(1, &indices(&[3, 0, 3, 1, 1, 1], &[2, 3], &t[0]))
    });
    check("gather dim 0, longer than x", &[&x], true, &|t| {
        t[0].gather(0, &indices(&[2, 0, 1, 2, 2, 2, 0, 1], &[4, 2], &t[0]))
    });
    check("gather float-valued index", &[&x], true, &|t| {
        let idx = Tensor::from_vec(vec![1.0, 2.0, 0.0, 0.0], [2, 2])
            .to(&Device::Cpu)
            .to(&t[0].device());
        t[0].gather(1, &idx)
    });
    // Strided source and strided index.
    check("gather transposed", &[&x], true, &|t| {
        let idx = indices(&[0, 1, 2, 2, 2, 1, 0, 0, 1], &[3, 3], &t[0]).t();
        t[0].t().gather(1, &idx)
    });
    let y = (data(60, 5), vec![3, 4, 5]);
    check("gather 3-d sliced", &[&y], true, &|t| {
        let idx = indices(&[1, 0, 3, 2, 2, 2, 0, 1, 3, 3, 1, 0], &[2, 3, 2], &t[0]);
        t[0].slice(2, 1..4).gather(1, &idx)
    });
}

#[test]
fn scatter_add_and_its_backward() {
    let base = (data(15, 6), vec![3, 5]);
    let src = (data(8, 7), vec![2, 4]);
    // Index smaller than the base in dim 1, with collisions along dim 0.
    check("scatter dim 0", &[&base, &src], true, &|t| {
        let idx = indices(&[2, 0, 2, 1, 2, 2, 0, 1], &[2, 4], &t[0]);
        t[0].scatter_add(0, &idx, &t[1])
    });
    check("scatter dim 1", &[&base, &src], true, &|t| {
        let idx = indices(&[4, 4, 0, 4, 1, 3, 3, 3], &[2, 4], &t[0]);
        t[0].scatter_add(1, &idx, &t[1])
    });
    // Strided base, source and index.
    check(
        "scatter transposed",
        &[&base, &(data(6, 8), vec![3, 2])],
        true,
        &|t| {
            let idx = indices(&[0, 1, 1, 1, 2, 0], &[3, 2], &t[0]).t();
            t[0].t().scatter_add(1, &idx, &t[1].t())
        },
    );
    // The source a view of the base's own buffer (two read bindings of one buffer).
    check("scatter from itself", &[&base], true, &|t| {
        let idx = indices(&[1, 2, 2, 0, 1], &[1, 5], &t[0]);
        t[0].scatter_add(0, &idx, &t[0].slice(0, 2..3))
    });
    let b3 = (data(24, 9), vec![2, 3, 4]);
    let s3 = (data(12, 10), vec![3, 2, 2]);
    check("scatter 3-d", &[&b3, &s3], true, &|t| {
        let idx = indices(&[1, 0, 2, 2, 1, 1, 0, 0, 2, 1, 1, 1], &[2, 3, 2], &t[0]);
        t[0].scatter_add(1, &idx, &t[1].permute(&[1, 0, 2]))
    });
}

#[test]
fn cat_and_its_backward() {
    let a = (data(6, 11), vec![2, 3]);
    let b = (data(4, 12), vec![2, 2]);
    let c = (data(8, 13), vec![4, 2]);
    check("cat dim 1", &[&a, &b], true, &|t| {
        Tensor::cat(&[t[0].clone(), t[1].clone()], 1)
    });
    let d = (data(6, 15), vec![3, 2]);
    let e = (data(12, 16), vec![4, 3]);
    check("cat dim 0 (copies)", &[&a, &d, &e], true, &|t| {
        Tensor::cat(
            &[
                t[0].clone(),
                t[1].t(),
                t[2].slice(0, 1..3),
                t[0].slice(0, 1..2),
            ],
            0,
        )
    });
    check("cat transposed parts", &[&a, &c], true, &|t| {
        Tensor::cat(&[t[0].t(), t[1].slice(0, 1..4)], 1)
    });
    check("cat with an empty part", &[&a, &b], true, &|t| {
        Tensor::cat(&[t[0].clone(), t[1].slice(1, 0..0), t[1].clone()], 1)
    });
    check("stack", &[&a, &(data(6, 14), vec![3, 2])], true, &|t| {
        Tensor::stack(&[t[0].clone(), t[1].t()], 2)
    });
}

/// Selections and joins move any element: i64, bool and the 16-bit floats (two to a word,
/// so odd sizes and offsets split words).
#[test]
fn moves_of_other_dtypes() {
    let on = |t: Tensor, d: &Device| t.to(&Device::Cpu).to(d);
    let both = |f: &dyn Fn(&Device) -> Tensor| {
        let (want, got) = (f(&Device::Cpu), f(&gpu()));
        assert_eq!(got.device(), gpu());
        assert_eq!(got.dims(), want.dims());
        assert_eq!(got.dtype(), want.dtype());
        assert_eq!(got.to_bits(), want.to_bits(), "{:?}", want.dtype());
    };
    let ints: Vec<i64> = (0..15).map(|v| v * 1_000_003 - 7_000_000_000).collect();
    let mask: Vec<bool> = (0..15).map(|v| v % 3 == 1).collect();
    let halves = Tensor::from_f64(data(15, 15), [3, 5]).to(&Device::Cpu);
    for dtype in [DType::I64, DType::Bool, DType::F16, DType::BF16] {
        let make = |d: &Device| match dtype {
            DType::I64 => on(Tensor::from_i64(ints.clone(), [3, 5]), d),
            DType::Bool => on(Tensor::from_bool(mask.clone(), [3, 5]), d),
            _ => on(halves.to_dtype(dtype), d),
        };
        both(&|d| make(d).index_select(1, &[4, 1, 1]));
        both(&|d| make(d).t().index_select(0, &[3, 0, 4]));
        both(&|d| {
            make(d).gather(
                0,
                &indices(&[2, 0, 1, 1, 0, 2, 2], &[1, 7], &make(d)).slice(1, 0..5),
            )
        });
        both(&|d| Tensor::cat(&[make(d), make(d).slice(0, 1..2), make(d)], 0));
        both(&|d| {
            Tensor::cat(
                &[
                    make(d).slice(1, 1..4),
                    make(d).t().t(),
                    make(d).slice(1, 0..1),
                ],
                1,
            )
        });
    }
}

#[test]
#[should_panic(expected = "out of bounds")]
fn index_select_out_of_range_panics() {
    let x = Tensor::from_vec(vec![1.0, 2.0, 3.0], [3])
        .to(&Device::Cpu)
        .to(&gpu());
    let _ = x.index_select(0, &[1, 3]);
}

#[test]
#[should_panic(expected = "out of bounds")]
fn gather_out_of_range_panics() {
    let x = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], [2, 2])
        .to(&Device::Cpu)
        .to(&gpu());
    let _ = x.gather(1, &indices(&[0, 2], &[2, 1], &x));
}

#[test]
#[should_panic(expected = "out of bounds")]
fn scatter_add_negative_index_panics() {
    let x = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], [2, 2])
        .to(&Device::Cpu)
        .to(&gpu());
    let _ = x.scatter_add(0, &indices(&[-1, 0], &[1, 2], &x), &x.slice(0, 0..1));
}
