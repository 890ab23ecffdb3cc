//! Ferrite's ops against PyTorch: outputs and gradients from `tools/golden_tensor.py`
//! (fixture `fixtures/tensor_golden.json`), to 1e-5 relative with a 1e-6 absolute floor.

use ferrite::Tensor;
use serde_json::Value;

/// What each fixture case computes, written with Ferrite's API (the same as the script's lambda).
fn op_for(name: &str) -> fn(&[Tensor]) -> Tensor {
    match name {
        "add_broadcast" => |x| &x[0] + &x[1],
        "sub_broadcast" => |x| &x[0] - &x[1],
        "mul_broadcast" => |x| &x[0] * &x[1],
        "div_broadcast" => |x| &x[0] / &x[1],
        "pow_tensor" => |x| x[0].pow(&x[1]),
        "pow_scalar" => |x| x[0].pow_scalar(2.5),
        "neg_exp" => |x| x[0].neg().exp(),
        "log" => |x| x[0].log(),
        "log1p" => |x| x[0].log1p(),
        "sqrt" => |x| x[0].sqrt(),
        "abs" => |x| x[0].abs(),
        "clamp" => |x| x[0].clamp(-0.5, 0.7),
        "maximum" => |x| x[0].maximum(&x[1]),
        "minimum" => |x| x[0].minimum(&x[1]),
        "sigmoid" => |x| x[0].sigmoid(),
        "tanh" => |x| x[0].tanh(),
        "relu" => |x| x[0].relu(),
        "leaky_relu" => |x| x[0].leaky_relu(0.01),
        "elu" => |x| x[0].elu(1.0),
        "gelu" => |x| x[0].gelu(),
        "gelu_tanh" => |x| x[0].gelu_tanh(),
        "softplus" => |x| x[0].softplus(1.0, 20.0),
        "log_sigmoid" => |x| x[0].log_sigmoid(),
        "softmax_dim1" => |x| x[0].softmax(1),
        "softmax_dim0_transposed" => |x| x[0].t().softmax(0),
        "log_softmax_dim1" => |x| x[0].log_softmax(1),
        "logsumexp_dim0" => |x| x[0].logsumexp(0, false),
        "sum_all" => |x| x[0].sum(),
        "sum_dim_keepdim" => |x| x[0].sum_dim(1, true),
        "mean_dims" => |x| x[0].mean_dims(&[0, 2], false),
        "max_dim" => |x| x[0].max_dim(1, false).0,
        "min_all" => |x| x[0].min(),
        "prod_dim" => |x| x[0].prod_dim(1, false),
        "var_dim_unbiased" => |x| x[0].var_dim(1, true, false),
        "std_biased" => |x| x[0].std(false),
        "norm_2" => |x| x[0].norm(2.0),
        "norm_3_dim" => |x| x[0].norm_dim(3.0, 1, false),
        "matmul_2d"
        | "matmul_vec_mat"
        | "matmul_mat_vec"
        | "matmul_dot"
        | "matmul_batched_broadcast" => |x| x[0].matmul(&x[1]),
        "matmul_transposed" => |x| x[0].t().matmul(&x[1].t()),
        "permute_reshape" => {
            |x| &x[0].permute(&[2, 0, 1]).reshape([4, 6]) * &Tensor::arange(0.0, 6.0, 1.0)
        }
        "narrow_slice" => |x| x[0].slice(0, 1..3).slice(1, 2..5).exp(),
        "expand" => |x| &x[0].expand([2, 3, 4]) * &Tensor::arange(0.0, 4.0, 1.0),
        "index_select" => |x| x[0].index_select(0, &[2, 0, 2, 3]),
        "gather" => |x| x[0].gather(1, &x[1]),
        "scatter_add" => |x| x[0].scatter_add(0, &x[1], &x[2]),
        "masked_fill" => |x| x[0].masked_fill(&x[1], -2.0),
        "where" => |x| Tensor::where_cond(&x[0], &x[1], &x[2]),
        "cat_dim1" => |x| Tensor::cat(&x[..2], 1),
        "stack_dim0" => |x| Tensor::stack(&x[..2], 0),
        "split_second" => |x| &x[0].split(2, 0)[1] * 3.0,
        other => panic!("fixture case {other} has no Ferrite counterpart in this test"),
    }
}

fn tensor_of(v: &Value) -> Tensor {
    let shape: Vec<usize> = v["shape"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_u64().unwrap() as usize)
        .collect();
    let data: Vec<f32> = v["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect();
    Tensor::from_vec(data, shape)
}

/// Compares shapes and every element to 1e-5 relative plus a 1e-6 absolute floor.
fn assert_close(case: &str, what: &str, got: &Tensor, want: &Tensor) {
    assert_eq!(got.dims(), want.dims(), "{case}: {what} shape");
    for (i, (g, w)) in got.to_vec().iter().zip(want.to_vec()).enumerate() {
        let tol = 1e-6 + 1e-5 * w.abs();
        assert!(
            (g - w).abs() <= tol,
            "{case}: {what}[{i}] is {g}, PyTorch gives {w}"
        );
    }
}

#[test]
fn ops_match_pytorch_values_and_gradients() {
    let text = include_str!("fixtures/tensor_golden.json");
    let fixture: Value = serde_json::from_str(text).expect("fixture parses");
    let cases = fixture["cases"].as_array().unwrap();
    assert!(
        cases.len() >= 50,
        "the fixture covers the representative set of ops"
    );
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let inputs: Vec<Tensor> = case["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| {
                let t = tensor_of(i);
                if i["requires_grad"].as_bool().unwrap() {
                    t.requires_grad()
                } else {
                    t
                }
            })
            .collect();
        let out = op_for(name)(&inputs);
        assert_close(name, "output", &out, &tensor_of(&case["output"]));
        out.backward_with(&tensor_of(&case["grad_out"]));
        for (k, (input, want)) in inputs
            .iter()
            .zip(case["grads"].as_array().unwrap())
            .enumerate()
        {
            if want.is_null() {
                assert!(
                    input.grad().is_none(),
                    "{name}: input {k} needs no gradient"
                );
                continue;
            }
            let got = input
                .grad()
                .unwrap_or_else(|| panic!("{name}: input {k} got no gradient"));
            assert_close(name, &format!("grad of input {k}"), &got, &tensor_of(want));
        }
    }
}
