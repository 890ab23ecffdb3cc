//! Finite-difference checks of the gradients of the shape, indexing, reduction and product ops
//! in `autograd/backprop.rs` (views, index_select/gather/scatter_add, cat/stack/split, sum, mean,
//! max, min, prod with zeros, var, std, norm, logsumexp, softmax, matmul in every rank
//! combination), with non-contiguous inputs. Pointwise ops are in
//! `autograd_gradcheck_pointwise.rs`.

// Each check gets its own input list; `&[x.clone()]` (a cheap handle clone) reads better here
// than `std::slice::from_ref(&x)`.
#![allow(clippy::cloned_ref_to_slice_refs)]

mod autograd_support;

use autograd_support::{check, leaf, leaf_away_from, sliced_leaf, transposed_leaf};
use ferrite::{Generator, Tensor};

#[test]
fn views() {
    let x = leaf(&[2, 3, 4], 60);
    let w = Tensor::randn_with([2, 3, 4], &mut Generator::new(61));
    // Multiplying by fixed weights makes a wrong routing of gradients visible.
    check("reshape", |v| v[0].reshape([6, 4]).exp(), &[x.clone()]);
    check(
        "reshape_infer",
        |v| &v[0].reshape_infer(&[-1, 2]) * &w.reshape([12, 2]),
        &[x.clone()],
    );
    check(
        "reshape of a transposed view",
        |v| v[0].transpose(0, 2).reshape([4, 6]).sin(),
        &[x.clone()],
    );
    check(
        "reshape of a transposed leaf",
        |v| v[0].reshape([12]).exp(),
        &[transposed_leaf(3, 4, 62)],
    );
    check("flatten", |v| v[0].flatten(1, 2).sin(), &[x.clone()]);
    check(
        "permute",
        |v| &v[0].permute(&[2, 0, 1]) * &w.permute(&[2, 0, 1]).exp(),
        &[x.clone()],
    );
    check("transpose", |v| v[0].transpose(-1, 0).sin(), &[x.clone()]);
    check("t", |v| v[0].t().exp(), &[leaf(&[3, 2], 63)]);
    check(
        "squeeze / unsqueeze",
        |v| v[0].unsqueeze(1).unsqueeze(-1).squeeze(1).sin(),
        &[leaf(&[3, 2], 64)],
    );
    check(
        "squeeze_all",
        |v| v[0].squeeze_all().sin(),
        &[leaf(&[1, 3, 1], 65)],
    );
    check(
        "expand",
        |v| &v[0].expand([2, 3, 4]) * &w,
        &[leaf(&[3, 1], 66)],
    );
    check(
        "expand of a transposed leaf",
        |v| v[0].expand([2, 4, 3]).sin(),
        &[transposed_leaf(4, 3, 67)],
    );
    check("narrow", |v| v[0].narrow(1, 1, 2).exp(), &[x.clone()]);
    check(
        "slice of a sliced leaf",
        |v| v[0].slice(0, 1..3).sin(),
        &[sliced_leaf(4, 3, 68)],
    );
    check("get", |v| v[0].get(1).exp(), &[x.clone()]);
    check(
        "contiguous",
        |v| v[0].t().contiguous().exp(),
        &[leaf(&[3, 2], 69)],
    );
    check(
        "deep_clone",
        |v| v[0].deep_clone().exp(),
        &[transposed_leaf(2, 3, 70)],
    );
    check(
        "view reused twice",
        |v| &v[0].t() * &v[0].t().exp(),
        &[leaf(&[3, 3], 71)],
    );
}

#[test]
fn indexing() {
    let x = leaf(&[4, 3], 80);
    let w = Tensor::randn_with([5, 3], &mut Generator::new(81));
    check(
        "index_select dim 0 with repeats",
        |v| &v[0].index_select(0, &[3, 0, 3, 1, 3]) * &w,
        &[x.clone()],
    );
    check(
        "index_select dim 1",
        |v| v[0].index_select(1, &[2, 0]).exp(),
        &[x.clone()],
    );
    check(
        "index_select of a transposed leaf",
        |v| v[0].index_select(0, &[1, 1, 0]).exp(),
        &[transposed_leaf(3, 4, 82)],
    );
    let idx = Tensor::from_vec(vec![2.0, 0.0, 1.0, 1.0, 0.0, 2.0, 2.0, 2.0], [4, 2]);
    check("gather dim 1", |v| v[0].gather(1, &idx).exp(), &[x.clone()]);
    check(
        "gather of a sliced leaf",
        |v| v[0].gather(1, &idx).exp(),
        &[sliced_leaf(4, 3, 83)],
    );
    let idx0 = Tensor::from_vec(vec![3.0, 0.0, 3.0, 1.0, 1.0, 3.0], [2, 3]);
    check(
        "gather dim 0",
        |v| v[0].gather(0, &idx0).sin(),
        &[x.clone()],
    );
    check(
        "scatter_add into base and src",
        |v| v[0].scatter_add(0, &idx0, &v[1]).exp(),
        &[x.clone(), leaf(&[2, 3], 84)],
    );
    check(
        "scatter_add of strided operands",
        |v| v[0].scatter_add(1, &idx, &v[1]).sin(),
        &[sliced_leaf(4, 3, 85), transposed_leaf(4, 2, 86)],
    );
}

#[test]
fn joining_and_splitting() {
    let w = Tensor::randn_with([2, 7], &mut Generator::new(90));
    check(
        "cat dim 1 of three, one transposed",
        |v| &Tensor::cat(&[v[0].clone(), v[1].t(), v[2].clone()], 1) * &w,
        &[leaf(&[2, 3], 91), leaf(&[2, 2], 92), sliced_leaf(2, 2, 93)],
    );
    check(
        "cat dim 0",
        |v| Tensor::cat(&v[..2], 0).exp(),
        &[leaf(&[1, 3], 94), leaf(&[2, 3], 95)],
    );
    check(
        "cat of one input with itself",
        |v| Tensor::cat(&[v[0].clone(), v[0].clone()], 0).exp(),
        &[leaf(&[2], 96)],
    );
    check(
        "stack dim 1",
        |v| Tensor::stack(&v[..2], 1).exp(),
        &[leaf(&[2, 3], 97), transposed_leaf(2, 3, 98)],
    );
    check(
        "split pieces recombined",
        |v| {
            let parts = v[0].split(2, 1);
            &parts[0].exp() + &(&parts[1].sum_dim(1, true) * &parts[2])
        },
        &[leaf(&[3, 5], 99)],
    );
    check(
        "chunk",
        |v| v[0].chunk(2, 0)[1].exp(),
        &[leaf(&[5, 2], 100)],
    );
}

#[test]
fn sums_and_means() {
    let x = leaf(&[2, 3, 4], 110);
    check("sum", |v| v[0].sum(), &[x.clone()]);
    check("sum_dim", |v| v[0].sum_dim(1, false).exp(), &[x.clone()]);
    check(
        "sum_dim keepdim",
        |v| v[0].sum_dim(-1, true).sin(),
        &[x.clone()],
    );
    check(
        "sum_dims",
        |v| v[0].sum_dims(&[0, 2], false).exp(),
        &[x.clone()],
    );
    check(
        "sum of a transposed leaf",
        |v| v[0].sum_dim(0, false).exp(),
        &[transposed_leaf(3, 4, 111)],
    );
    check("mean", |v| v[0].mean(), &[x.clone()]);
    check("mean_dim", |v| v[0].mean_dim(0, true).exp(), &[x.clone()]);
    check(
        "mean_dims",
        |v| v[0].mean_dims(&[1, 2], false).exp(),
        &[sliced_leaf(3, 4, 112).unsqueeze(0).detach().requires_grad()],
    );
    check(
        "sum of a 0-d tensor",
        |v| v[0].sum() * 3.0,
        &[leaf(&[], 113)],
    );
}

#[test]
fn max_and_min() {
    let x = leaf(&[3, 4], 120);
    check("max", |v| v[0].max(), &[x.clone()]);
    check("min", |v| v[0].min() * 2.0, &[x.clone()]);
    check("max_dim", |v| v[0].max_dim(1, false).0.exp(), &[x.clone()]);
    check(
        "max_dim keepdim",
        |v| v[0].max_dim(0, true).0.exp(),
        &[x.clone()],
    );
    check("min_dim", |v| v[0].min_dim(0, false).0.exp(), &[x.clone()]);
    check(
        "max_dim of a transposed leaf",
        |v| v[0].max_dim(1, false).0.exp(),
        &[transposed_leaf(3, 4, 121)],
    );
    // Ties share the gradient of max over all elements evenly (PyTorch's rule).
    let tied = Tensor::from_vec(vec![1.0, 3.0, 3.0, -2.0], [4]).requires_grad();
    tied.max().backward();
    assert_eq!(tied.grad().unwrap().to_vec(), vec![0.0, 0.5, 0.5, 0.0]);
}

#[test]
fn products_with_zeros() {
    check("prod", |v| v[0].prod(), &[leaf(&[2, 3], 130)]);
    check(
        "prod_dim",
        |v| v[0].prod_dim(1, false),
        &[leaf(&[3, 4], 131)],
    );
    check(
        "prod_dim keepdim of a transposed leaf",
        |v| v[0].prod_dim(0, true),
        &[transposed_leaf(3, 2, 132)],
    );
    let one_zero = Tensor::from_vec(vec![2.0, 0.0, -1.5, 0.5, 3.0, 1.2], [2, 3]).requires_grad();
    check("prod with a zero", |v| v[0].prod(), &[one_zero.clone()]);
    check(
        "prod_dim with a zero",
        |v| v[0].prod_dim(1, false),
        &[one_zero.clone()],
    );
    // Only the zero's own gradient is non-zero: the product of the others.
    one_zero.prod().backward();
    let want = 2.0 * -1.5 * 0.5 * 3.0 * 1.2;
    let got = one_zero.grad().unwrap().to_vec();
    assert!(
        (got[1] - want).abs() < 1e-5,
        "d prod / d x[1] = {} (want {want})",
        got[1]
    );
    assert!(
        got.iter().enumerate().all(|(i, &g)| i == 1 || g == 0.0),
        "{got:?}"
    );
    let two_zeros = Tensor::from_vec(vec![0.0, 2.0, 0.0, 1.5], [4]).requires_grad();
    check("prod with two zeros", |v| v[0].prod(), &[two_zeros]);
}

#[test]
fn variance_and_norms() {
    let x = leaf(&[3, 4], 140);
    check("var unbiased", |v| v[0].var(true), &[x.clone()]);
    check("var biased", |v| v[0].var(false), &[x.clone()]);
    check("var_dim", |v| v[0].var_dim(1, true, false), &[x.clone()]);
    check(
        "var_dims keepdim",
        |v| v[0].var_dims(&[0], false, true).exp(),
        &[transposed_leaf(3, 4, 141)],
    );
    check("std", |v| v[0].std(true), &[x.clone()]);
    check(
        "std_dim",
        |v| v[0].std_dim(0, false, false),
        &[sliced_leaf(3, 4, 142)],
    );
    check("norm 2", |v| v[0].norm(2.0), &[x.clone()]);
    check(
        "norm 1",
        |v| v[0].norm(1.0),
        &[leaf_away_from(&[3, 4], 143, &[0.0], 0.05)],
    );
    check(
        "norm 3",
        |v| v[0].norm(3.0),
        &[leaf_away_from(&[3, 4], 144, &[0.0], 0.05)],
    );
    check("norm_dim 2", |v| v[0].norm_dim(2.0, 1, false), &[x.clone()]);
    check(
        "norm_dim 1.5 keepdim",
        |v| v[0].norm_dim(1.5, 0, true),
        &[leaf_away_from(&[3, 4], 145, &[0.0], 0.05)],
    );
    // The gradient of a zero norm is 0, not NaN (PyTorch's subgradient).
    let zero = Tensor::zeros([3]).requires_grad();
    zero.norm(2.0).backward();
    assert_eq!(zero.grad().unwrap().to_vec(), vec![0.0; 3]);
}

#[test]
fn logsumexp_and_softmax() {
    let x = leaf(&[3, 4], 150);
    let w = Tensor::randn_with([3, 4], &mut Generator::new(151));
    check(
        "logsumexp dim 1",
        |v| v[0].logsumexp(1, false),
        &[x.clone()],
    );
    check(
        "logsumexp dim 0 keepdim",
        |v| v[0].logsumexp(0, true).exp(),
        &[x.clone()],
    );
    check(
        "logsumexp_all",
        |v| v[0].logsumexp_all(),
        &[transposed_leaf(3, 4, 152)],
    );
    // Softmax rows sum to 1, so the weights must differ per element for a non-zero gradient.
    check("softmax dim 1", |v| &v[0].softmax(1) * &w, &[x.clone()]);
    check("softmax dim 0", |v| &v[0].softmax(0) * &w, &[x.clone()]);
    check(
        "softmax of a transposed leaf",
        |v| &v[0].softmax(-1) * &w,
        &[transposed_leaf(3, 4, 153)],
    );
    check(
        "log_softmax dim 1",
        |v| &v[0].log_softmax(1) * &w,
        &[x.clone()],
    );
    check(
        "log_softmax dim 0 of a sliced leaf",
        |v| &v[0].log_softmax(0) * &w,
        &[sliced_leaf(3, 4, 154)],
    );
    check(
        "log_softmax of 3-D, middle dim",
        |v| v[0].log_softmax(1).sin(),
        &[leaf(&[2, 3, 2], 155)],
    );
}

#[test]
fn matrix_products() {
    check(
        "vector · vector",
        |v| v[0].matmul(&v[1]),
        &[leaf(&[4], 160), leaf(&[4], 161)],
    );
    check(
        "vector · matrix",
        |v| v[0].matmul(&v[1]),
        &[leaf(&[4], 162), leaf(&[4, 3], 163)],
    );
    check(
        "matrix · vector",
        |v| v[0].matmul(&v[1]),
        &[leaf(&[3, 4], 164), leaf(&[4], 165)],
    );
    check(
        "matrix · matrix",
        |v| v[0].matmul(&v[1]),
        &[leaf(&[3, 4], 166), leaf(&[4, 2], 167)],
    );
    check(
        "transposed operands",
        |v| v[0].t().matmul(&v[1].t()),
        &[leaf(&[4, 3], 168), leaf(&[2, 4], 169)],
    );
    check(
        "transposed and sliced leaves",
        |v| v[0].matmul(&v[1]),
        &[transposed_leaf(3, 4, 170), sliced_leaf(4, 2, 171)],
    );
    check(
        "batched",
        |v| v[0].matmul(&v[1]),
        &[leaf(&[2, 3, 4], 172), leaf(&[2, 4, 2], 173)],
    );
    check(
        "batch broadcast both ways",
        |v| v[0].matmul(&v[1]),
        &[leaf(&[2, 1, 3, 4], 174), leaf(&[3, 4, 2], 175)],
    );
    check(
        "batched · matrix",
        |v| v[0].matmul(&v[1]),
        &[leaf(&[2, 3, 4], 176), leaf(&[4, 2], 177)],
    );
    check(
        "matrix · batched",
        |v| v[0].matmul(&v[1]),
        &[leaf(&[3, 4], 178), leaf(&[2, 4, 2], 179)],
    );
    check(
        "batched · vector",
        |v| v[0].matmul(&v[1]),
        &[leaf(&[2, 3, 4], 180), leaf(&[4], 181)],
    );
    check(
        "vector · batched",
        |v| v[0].matmul(&v[1]),
        &[leaf(&[4], 182), leaf(&[2, 4, 3], 183)],
    );
    check(
        "batched permuted operand",
        |v| v[0].permute(&[0, 2, 1]).matmul(&v[1]),
        &[leaf(&[2, 4, 3], 184), leaf(&[2, 4, 2], 185)],
    );
    check(
        "mm and dot",
        |v| v[0].mm(&v[1]).sum_dim(1, false).dot(&v[2]),
        &[leaf(&[3, 4], 186), leaf(&[4, 2], 187), leaf(&[3], 188)],
    );
}

#[test]
fn a_small_network_end_to_end() {
    // Linear → tanh → Linear → log_softmax → pick targets: the composition of many arms.
    let targets = Tensor::from_vec(vec![1.0, 0.0, 2.0, 1.0], [4, 1]);
    check(
        "two-layer classifier",
        |v| {
            let h = (&v[0].matmul(&v[1].t()) + &v[2]).tanh();
            let logits = &h.matmul(&v[3].t()) + &v[4];
            logits.log_softmax(1).gather(1, &targets).mean().neg()
        },
        &[
            leaf(&[4, 3], 190),
            leaf(&[5, 3], 191),
            leaf(&[5], 192),
            leaf(&[3, 5], 193),
            leaf(&[3], 194),
        ],
    );
}
