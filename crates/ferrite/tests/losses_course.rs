//! The course's loss examples (issue 3), reproduced to 4 decimals with the module forms.

use ferrite::nn::loss::{
    BCELoss, CosineEmbeddingLoss, CrossEntropyLoss, L1Loss, Loss, MSELoss, MarginRankingLoss,
    NLLLoss, Reduction, SoftMarginLoss,
};
use ferrite::Tensor;

fn assert_4dp(got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
    for (g, w) in got.iter().zip(want) {
        assert!(
            (g - w).abs() < 5e-5,
            "got {got:?}, the course gives {want:?}"
        );
    }
}

fn course_logits() -> (Tensor, Tensor) {
    (
        Tensor::from_rows(&[vec![1.0, 2.0], vec![1.0, 3.0], vec![1.0, 3.0]]),
        Tensor::from_vec(vec![0.0, 1.0, 1.0], [3]),
    )
}

#[test]
fn cross_entropy_mean() {
    let (x, y) = course_logits();
    assert_4dp(
        &CrossEntropyLoss::new().forward(&x, &y).unwrap().to_vec(),
        &[0.5224],
    );
}

#[test]
fn nll_of_raw_inputs_with_unit_weights() {
    let (x, y) = course_logits();
    let nll = NLLLoss::new().weight(Tensor::from_vec(vec![1.0, 1.0], [2]));
    assert_4dp(&nll.forward(&x, &y).unwrap().to_vec(), &[-2.3333]);
}

#[test]
fn bce_of_sigmoids_with_unit_weights() {
    let x = Tensor::from_rows(&[
        vec![1.0, 2.0],
        vec![2.0, 2.0],
        vec![3.0, 4.0],
        vec![4.0, 5.0],
    ])
    .sigmoid();
    let y = Tensor::from_rows(&[
        vec![1.0, 0.0],
        vec![1.0, 0.0],
        vec![0.0, 1.0],
        vec![0.0, 1.0],
    ]);
    let bce = BCELoss::new().weight(Tensor::from_vec(vec![1.0, 1.0], [2]));
    assert_4dp(&bce.forward(&x, &y).unwrap().to_vec(), &[1.4732]);
}

#[test]
fn l1_and_mse_unreduced() {
    let (x, y) = (Tensor::ones([2, 2]), Tensor::ones([2, 2]) * 3.0);
    let l1 = L1Loss::new()
        .reduction(Reduction::None)
        .forward(&x, &y)
        .unwrap();
    assert_eq!(l1.to_vec2(), vec![vec![2.0, 2.0], vec![2.0, 2.0]]);
    let mse = MSELoss::new()
        .reduction(Reduction::None)
        .forward(&x, &y)
        .unwrap();
    assert_eq!(mse.to_vec2(), vec![vec![4.0, 4.0], vec![4.0, 4.0]]);
}

#[test]
fn soft_margin_unreduced() {
    let x = Tensor::from_rows(&[vec![0.3, 0.7], vec![0.5, 0.5]]);
    let y = Tensor::from_rows(&[vec![-1.0, 1.0], vec![1.0, -1.0]]);
    let loss = SoftMarginLoss::new()
        .reduction(Reduction::None)
        .forward(&x, &y)
        .unwrap();
    assert_4dp(&loss.to_vec(), &[0.8544, 0.4032, 0.4741, 0.9741]);
}

#[test]
fn cosine_embedding_unreduced() {
    let x1 = Tensor::from_rows(&[vec![0.3, 0.5, 0.7], vec![0.3, 0.5, 0.7]]);
    let x2 = Tensor::from_rows(&[vec![0.1, 0.3, 0.5], vec![0.1, 0.3, 0.5]]);
    let y = Tensor::from_vec(vec![1.0, -1.0], [2]);
    let loss = CosineEmbeddingLoss::new()
        .margin(0.0)
        .reduction(Reduction::None)
        .forward(&[&x1, &x2], &y)
        .unwrap();
    assert_4dp(&loss.to_vec(), &[0.0167, 0.9833]);
}

#[test]
fn margin_ranking_unreduced_and_its_shape_error() {
    let x1 = Tensor::from_vec(vec![1.0, 2.0, 3.0], [3]);
    let x2 = Tensor::from_vec(vec![2.0, 2.0, 2.0], [3]);
    let y = Tensor::from_vec(vec![1.0, 1.0, -1.0], [3]);
    let loss = MarginRankingLoss::new()
        .margin(0.0)
        .reduction(Reduction::None);
    assert_4dp(
        &loss.forward(&[&x1, &x2], &y).unwrap().to_vec(),
        &[1.0, 0.0, 1.0],
    );
    let err = loss
        .forward(&[&x1.reshape([3, 1]), &x2.reshape([3, 1])], &y)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("All input tensors should have same dimension"),
        "{err}"
    );
}
