//! Finite-difference checks of the gradients of the pointwise ops in `autograd/backprop.rs`
//! (unary math, activations, binary ops with broadcasting both ways, where, masked_fill),
//! with non-contiguous (transposed, sliced) leaves. Shape ops are in
//! `autograd_gradcheck_shapes.rs`.

// Each check gets its own input list; `&[x.clone()]` (a cheap handle clone) reads better here
// than `std::slice::from_ref(&x)`.
#![allow(clippy::cloned_ref_to_slice_refs)]

mod autograd_support;

use autograd_support::{check, leaf, leaf_away_from, leaf_in, sliced_leaf, transposed_leaf};
use ferrite::Tensor;

#[test]
fn unary_math() {
    let x = leaf(&[2, 3], 1);
    let pos = leaf_in(&[2, 3], 2, 0.2, 2.0);
    check("neg", |v| v[0].neg(), &[x.clone()]);
    check("exp", |v| v[0].exp(), &[x.clone()]);
    check("log", |v| v[0].log(), &[pos.clone()]);
    check("log1p", |v| v[0].log1p(), &[pos.clone()]);
    check("sqrt", |v| v[0].sqrt(), &[pos.clone()]);
    check(
        "abs",
        |v| v[0].abs(),
        &[leaf_away_from(&[2, 3], 3, &[0.0], 0.05)],
    );
    check(
        "sign",
        |v| &v[0].sign() * &v[0],
        &[leaf_away_from(&[6], 4, &[0.0], 0.05)],
    );
    check("square", |v| v[0].square(), &[x.clone()]);
    check("pow_scalar 3", |v| v[0].pow_scalar(3.0), &[x.clone()]);
    check("pow_scalar 0.5", |v| v[0].pow_scalar(0.5), &[pos.clone()]);
    check("pow_scalar -1.5", |v| v[0].pow_scalar(-1.5), &[pos.clone()]);
    check("scalar_pow", |v| v[0].scalar_pow(2.5), &[x.clone()]);
    check("recip", |v| v[0].recip(), &[pos.clone()]);
    check(
        "scalar ops",
        |v| &(&(2.0 - &v[0]) * 3.0) / 4.0 + 1.5,
        &[x.clone()],
    );
    check("scalar divided by tensor", |v| 3.0 / &v[0], &[pos.clone()]);
    check("sin", |v| v[0].sin(), &[x.clone()]);
    check("cos", |v| v[0].cos(), &[x.clone()]);
    check("erf", |v| v[0].erf(), &[x.clone()]);
    check(
        "clamp",
        |v| v[0].clamp(-0.5, 0.5),
        &[leaf_away_from(&[3, 4], 5, &[-0.5, 0.5], 0.05)],
    );
    check(
        "clamp_min",
        |v| v[0].clamp_min(0.2),
        &[leaf_away_from(&[3, 4], 6, &[0.2], 0.05)],
    );
}

#[test]
fn activations() {
    let x = leaf_away_from(&[3, 4], 7, &[0.0], 0.05);
    check("sigmoid", |v| v[0].sigmoid(), &[x.clone()]);
    check("tanh", |v| v[0].tanh(), &[x.clone()]);
    check("relu", |v| v[0].relu(), &[x.clone()]);
    check("leaky_relu", |v| v[0].leaky_relu(0.1), &[x.clone()]);
    check("elu", |v| v[0].elu(1.3), &[x.clone()]);
    check("gelu", |v| v[0].gelu(), &[x.clone()]);
    check("gelu_tanh", |v| v[0].gelu_tanh(), &[x.clone()]);
    check("softplus", |v| v[0].softplus(2.0, 20.0), &[x.clone()]);
    // Above the threshold softplus is linear: x·β = 3 > 2 for some of these.
    check(
        "softplus threshold",
        |v| v[0].softplus(1.0, 2.0),
        &[leaf_in(&[8], 8, -4.0, 1.9)],
    );
    check(
        "softplus linear part",
        |v| v[0].softplus(1.0, 2.0),
        &[leaf_in(&[4], 9, 2.1, 5.0)],
    );
    check(
        "log_sigmoid",
        |v| v[0].log_sigmoid(),
        &[(&x * 3.0).detach().requires_grad()],
    );
    check(
        "activations of a transposed leaf",
        |v| v[0].tanh() * v[0].sigmoid(),
        &[transposed_leaf(3, 4, 10)],
    );
}

/// Each binary op with equal shapes, broadcasting in either direction, and strided operands.
#[test]
fn binary_ops_with_broadcasting() {
    type BinFn = fn(&Tensor, &Tensor) -> Tensor;
    let ops: [(&str, BinFn); 7] = [
        ("add", |a, b| a + b),
        ("sub", |a, b| a - b),
        ("mul", |a, b| a * b),
        ("div", |a, b| a / b),
        ("pow", |a, b| a.abs().add_scalar(0.5).pow(b)),
        ("maximum", |a, b| a.maximum(b)),
        ("minimum", |a, b| a.minimum(b)),
    ];
    // (lhs, rhs) pairs: same shape; rhs broadcast; lhs broadcast; both broadcast; 0-d operand.
    let shapes: [(&[usize], &[usize]); 5] = [
        (&[2, 3], &[2, 3]),
        (&[2, 3], &[3]),
        (&[4], &[3, 4]),
        (&[3, 1, 4], &[2, 4]),
        (&[], &[2, 2]),
    ];
    for (name, op) in ops {
        for (k, (sa, sb)) in shapes.iter().enumerate() {
            let a = leaf(sa, 20 + k as u64);
            // Divisors kept away from 0, maximum/minimum operands apart from each other.
            let b = if name == "div" {
                leaf_away_from(sb, 30 + k as u64, &[0.0], 0.5)
            } else {
                leaf(sb, 30 + k as u64)
            };
            check(
                &format!("{name} {sa:?} with {sb:?}"),
                |v| op(&v[0], &v[1]),
                &[a, b],
            );
        }
        let (a, b) = (transposed_leaf(3, 2, 40), sliced_leaf(3, 2, 41));
        let b = if name == "div" {
            (b.abs() + 0.5).detach().requires_grad()
        } else {
            b
        };
        check(
            &format!("{name} of strided leaves"),
            |v| op(&v[0], &v[1]),
            &[a, b],
        );
    }
}

#[test]
fn pow_exponent_gradient_is_zero_at_a_zero_base() {
    let base = Tensor::from_vec(vec![0.0, 0.0, 2.0], [3]).requires_grad();
    let exponent = Tensor::from_vec(vec![2.0, 3.0, 1.5], [3]).requires_grad();
    base.pow(&exponent).sum().backward();
    assert_eq!(exponent.grad().unwrap().to_vec()[..2], [0.0, 0.0]);
    let want = 2f32.powf(1.5) * 2f32.ln();
    assert!((exponent.grad().unwrap().to_vec()[2] - want).abs() < 1e-5);
}

#[test]
fn where_and_masks() {
    let cond = Tensor::from_vec(vec![1.0, 0.0, 0.0, 1.0], [4]);
    let full_cond = Tensor::from_vec(
        vec![1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 0.0],
        [3, 4],
    );
    check(
        "where same shape",
        |v| Tensor::where_cond(&full_cond, &v[0], &v[1]),
        &[leaf(&[3, 4], 50), leaf(&[3, 4], 51)],
    );
    check(
        "where broadcast cond and a",
        |v| Tensor::where_cond(&cond, &v[0], &v[1]),
        &[leaf(&[3, 1], 52), leaf(&[3, 4], 53)],
    );
    check(
        "where broadcast b",
        |v| Tensor::where_cond(&full_cond, &v[0], &v[1]),
        &[transposed_leaf(3, 4, 54), leaf(&[], 55)],
    );
    check(
        "masked_fill broadcast mask",
        |v| v[0].masked_fill(&cond, 7.0) * 2.0,
        &[leaf(&[3, 4], 56)],
    );
    check(
        "masked_fill of a sliced leaf",
        |v| v[0].masked_fill(&full_cond, -1.0).exp(),
        &[sliced_leaf(3, 4, 57)],
    );
}
