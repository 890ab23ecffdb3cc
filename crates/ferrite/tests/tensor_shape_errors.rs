//! Shape errors panic with the op's name and both shapes, as PyTorch raises.

use ferrite::Tensor;

#[test]
#[should_panic(expected = "Add: shapes [2, 3] and [4] cannot be broadcast together")]
fn adding_unbroadcastable_shapes() {
    let _ = &Tensor::zeros([2, 3]) + &Tensor::zeros([4]);
}

#[test]
#[should_panic(expected = "Mul: shapes [3, 1, 5] and [2, 4] cannot be broadcast together")]
fn multiplying_unbroadcastable_shapes() {
    let _ = &Tensor::zeros([3, 1, 5]) * &Tensor::zeros([2, 4]);
}

#[test]
#[should_panic(expected = "Maximum: shapes [2] and [3] cannot be broadcast together")]
fn maximum_of_unbroadcastable_shapes() {
    let _ = Tensor::zeros([2]).maximum(&Tensor::zeros([3]));
}

#[test]
#[should_panic(expected = "where: shapes [2, 2] and [3] cannot be broadcast together")]
fn where_with_unbroadcastable_shapes() {
    let _ = Tensor::where_cond(
        &Tensor::ones([2, 2]),
        &Tensor::zeros([2, 2]),
        &Tensor::zeros([3]),
    );
}

#[test]
#[should_panic(expected = "expand: cannot broadcast shape [3] to [2, 4]")]
fn expanding_to_an_incompatible_shape() {
    let _ = Tensor::zeros([3]).expand([2, 4]);
}

#[test]
#[should_panic(expected = "matmul: shapes [2, 3] and [4, 5] cannot be multiplied (2x3 and 4x5)")]
fn matmul_with_mismatched_inner_sizes() {
    let _ = Tensor::zeros([2, 3]).matmul(&Tensor::zeros([4, 5]));
}

#[test]
#[should_panic(expected = "matmul: shapes [1, 3] and [2, 4] cannot be multiplied (1x3 and 2x4)")]
fn matmul_of_a_vector_with_a_mismatched_matrix() {
    // The vector is seen as a 1×3 row, as in PyTorch.
    let _ = Tensor::zeros([3]).matmul(&Tensor::zeros([2, 4]));
}

#[test]
#[should_panic(expected = "matmul: shapes [2] and [3] cannot be broadcast together")]
fn matmul_with_unbroadcastable_batches() {
    let _ = Tensor::zeros([2, 2, 2]).matmul(&Tensor::zeros([3, 2, 2]));
}

#[test]
#[should_panic(
    expected = "cat: sizes of tensors must match except in dimension 1: [2, 3] vs [3, 3]"
)]
fn cat_with_mismatched_sizes() {
    let _ = Tensor::cat(&[Tensor::zeros([2, 3]), Tensor::zeros([3, 3])], 1);
}

#[test]
#[should_panic(expected = "cat: sizes of tensors must match except in dimension 0: [2, 3] vs [3]")]
fn cat_with_mismatched_ranks() {
    let _ = Tensor::cat(&[Tensor::zeros([2, 3]), Tensor::zeros([3])], 0);
}

#[test]
#[should_panic(expected = "stack: expects each tensor to be equal size, but got [2] and [3]")]
fn stack_with_mismatched_shapes() {
    let _ = Tensor::stack(&[Tensor::zeros([2]), Tensor::zeros([3])], 0);
}

#[test]
#[should_panic(expected = "reshape: shape [4, 2] is invalid for input of size 6 (shape [2, 3])")]
fn reshape_to_a_different_size() {
    let _ = Tensor::zeros([2, 3]).reshape([4, 2]);
}

#[test]
#[should_panic(expected = "reshape_infer: shape [-1, 4] is invalid for input of size 6")]
fn reshape_with_an_impossible_inferred_size() {
    let _ = Tensor::zeros([2, 3]).reshape_infer(&[-1, 4]);
}

#[test]
#[should_panic(expected = "backward_with: gradient shape [3] does not match output shape [2]")]
fn backward_with_a_gradient_of_the_wrong_shape() {
    let x = Tensor::zeros([2]).requires_grad();
    (&x * 2.0).backward_with(&Tensor::ones([3]));
}
