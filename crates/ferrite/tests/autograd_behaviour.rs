//! How autograd behaves, as in PyTorch: gradients accumulate across backward calls, `no_grad`
//! and `detach` stop recording, a released graph cannot be walked twice unless retained.

use ferrite::{no_grad, Tensor};

fn x() -> Tensor {
    Tensor::from_vec(vec![1.0, -2.0, 3.0], [3]).requires_grad()
}

#[test]
fn gradients_accumulate_across_backward_calls() {
    let x = x();
    (&x * &x).sum().backward(); // 2x
    (&x * 3.0).sum().backward(); // + 3
    assert_eq!(x.grad().unwrap().to_vec(), vec![5.0, -1.0, 9.0]);
    x.zero_grad();
    assert!(x.grad().is_none());
    x.exp().sum().backward();
    let want: Vec<f32> = [1.0f32, -2.0, 3.0].iter().map(|v| v.exp()).collect();
    assert_eq!(x.grad().unwrap().to_vec(), want);
}

#[test]
fn a_tensor_used_twice_gets_both_contributions() {
    let x = x();
    let y = x.exp();
    // z = y·y + y: dz/dx = (2y + 1)·y
    (&(&y * &y) + &y).sum().backward();
    let want: Vec<f32> = [1.0f32, -2.0, 3.0]
        .iter()
        .map(|v| (2.0 * v.exp() + 1.0) * v.exp())
        .collect();
    let got = x.grad().unwrap().to_vec();
    assert!(
        got.iter()
            .zip(&want)
            .all(|(g, w)| (g - w).abs() <= 1e-5 * w.abs()),
        "{got:?} vs {want:?}"
    );
}

#[test]
fn only_leaves_that_require_grad_get_a_gradient() {
    let x = x();
    let c = Tensor::from_vec(vec![2.0, 2.0, 2.0], [3]);
    let y = &x * &c;
    assert!(x.is_leaf() && c.is_leaf() && !y.is_leaf());
    assert!(y.requires_grad_flag() && !c.requires_grad_flag());
    y.sum().backward();
    assert_eq!(x.grad().unwrap().to_vec(), vec![2.0; 3]);
    assert!(c.grad().is_none(), "a constant gets no gradient");
    assert!(
        y.grad().is_none(),
        "intermediate gradients are not kept (PyTorch's default)"
    );
}

#[test]
fn no_grad_records_nothing_and_restores_on_drop() {
    let x = x();
    {
        let _outer = no_grad();
        {
            let _inner = no_grad();
            assert!(!ferrite::is_grad_enabled());
        }
        // Dropping the inner guard restores the outer state, still disabled.
        assert!(!ferrite::is_grad_enabled());
        let y = &x * 2.0;
        assert!(!y.requires_grad_flag() && y.is_leaf());
    }
    assert!(ferrite::is_grad_enabled());
    assert!((&x * 2.0).requires_grad_flag());
}

#[test]
#[should_panic(expected = "element 0 of tensors does not require grad and does not have a grad_fn")]
fn backward_of_a_result_computed_under_no_grad_fails() {
    let x = x();
    let y = {
        let _g = no_grad();
        (&x * 2.0).sum()
    };
    y.backward();
}

#[test]
fn detach_shares_data_and_stops_gradients() {
    let x = x();
    let d = x.detach();
    assert!(!d.requires_grad_flag() && d.is_leaf());
    assert_eq!(d.to_vec(), x.to_vec());
    // y = x·stop(x): the detached factor is a constant, so dy/dx = stop(x) = x.
    (&x * &d).sum().backward();
    assert_eq!(x.grad().unwrap().to_vec(), vec![1.0, -2.0, 3.0]);
    // Same storage: an in-place write through the original is seen by the detached handle.
    x.narrow(0, 0, 1)
        .copy_(&ferrite::Tensor::from_vec(vec![10.0], [1]));
    assert_eq!(d.to_vec()[0], 10.0);
}

#[test]
#[should_panic(expected = "Trying to backward through the graph a second time")]
fn backward_twice_without_retaining_the_graph_fails() {
    let x = x();
    let loss = x.exp().sum();
    loss.backward();
    loss.backward();
}

#[test]
#[should_panic(expected = "Trying to backward through the graph a second time")]
fn backward_through_a_released_intermediate_fails() {
    let x = x();
    let y = x.exp();
    y.sum().backward();
    // y's node was released by the first backward; a new graph on top of it cannot reach x.
    (&y * 2.0).sum().backward();
}

#[test]
fn a_retained_graph_can_be_walked_again() {
    let x = x();
    let loss = (&x * &x).sum();
    loss.backward_retain_graph();
    loss.backward_retain_graph();
    loss.backward();
    // Three walks of d(x²) = 2x accumulate.
    assert_eq!(x.grad().unwrap().to_vec(), vec![6.0, -12.0, 18.0]);
}

#[test]
#[should_panic(expected = "you can only change requires_grad flags of leaf variables")]
fn requires_grad_cannot_be_turned_off_on_a_non_leaf() {
    let y = &x() * 2.0;
    y.set_requires_grad(false);
}

#[test]
fn backward_with_weights_the_output_gradient() {
    let x = x();
    (&x * &x).backward_with(&Tensor::from_vec(vec![1.0, 0.5, -1.0], [3]));
    assert_eq!(x.grad().unwrap().to_vec(), vec![2.0, -2.0, -6.0]);
}

#[test]
fn dropping_a_long_unreleased_graph_does_not_overflow_the_stack() {
    // 200 000 recorded ops never walked by backward: freeing them must not recurse per op.
    let x = Tensor::ones([1]).requires_grad();
    let mut y = x.clone();
    for _ in 0..200_000 {
        y = &y * 1.0;
    }
    assert!(y.requires_grad_flag());
    drop(y);
}

#[test]
fn a_leaf_used_by_several_ops_sums_their_gradients() {
    let w = x();
    // d/dw Σ (w·w + 3w + eʷ) = 2w + 3 + eʷ, accumulated into one buffer during one backward.
    (&(&(&w * &w) + &(&w * 3.0)) + &w.exp()).sum().backward();
    let want: Vec<f32> = [1.0f32, -2.0, 3.0]
        .iter()
        .map(|v| 2.0 * v + 3.0 + v.exp())
        .collect();
    let got = w.grad().unwrap().to_vec();
    assert!(
        got.iter()
            .zip(&want)
            .all(|(g, w)| (g - w).abs() <= 1e-5 * w.abs().max(1.0)),
        "{got:?} vs {want:?}"
    );
}

#[test]
fn a_gradient_the_caller_holds_is_not_changed_by_later_accumulation() {
    let x = x();
    (&x * 2.0).sum().backward();
    let first = x.grad().unwrap();
    (&x * 3.0).sum().backward();
    assert_eq!(
        first.to_vec(),
        vec![2.0; 3],
        "the handle taken after the first backward"
    );
    assert_eq!(x.grad().unwrap().to_vec(), vec![5.0; 3]);
}

#[test]
fn the_gradient_of_a_transposed_weight_is_contiguous_and_exact() {
    // y = x·Wᵀ as in a linear layer: dW = gᵀ·x.
    let x = Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [2, 3]);
    let w = Tensor::from_vec(vec![0.5, -1.0, 2.0, 1.5, 0.0, -0.5], [2, 3]).requires_grad();
    let g = Tensor::from_vec(vec![1.0, 2.0, -1.0, 0.5], [2, 2]);
    x.matmul(&w.t()).backward_with(&g);
    let dw = w.grad().unwrap();
    assert!(dw.is_contiguous());
    // gᵀ·x = [[1·1 − 1·4, 1·2 − 1·5, 1·3 − 1·6], [2·1 + .5·4, 2·2 + .5·5, 2·3 + .5·6]]
    assert_eq!(dw.to_vec(), vec![-3.0, -3.0, -3.0, 4.0, 6.5, 9.0]);
}
