//! End to end: Sequential + Linear + ReLU + Dropout, BCE-with-logits, Adam and a step schedule
//! learn the breast-cancer data set (569 samples, 30 features) to an accuracy only a working
//! model reaches on held-out rows; the same network with SGD + momentum and gradient clipping
//! also learns it.

use ferrite::nn::loss::{BCEWithLogitsLoss, Loss};
use ferrite::nn::{Dropout, Linear, Module, ReLU, Sequential};
use ferrite::optim::{
    clip_grad_norm, Adam, AdamConfig, LrScheduler, Optimizer, SGDConfig, StepLR, SGD,
};
use ferrite::{Generator, Tensor};

/// Standardised features and 0/1 labels (malignant = 1), split 450 train / 119 test.
fn breast_cancer() -> (Tensor, Tensor, Tensor, Tensor) {
    let path = format!(
        "{}/../../data/breast_cancer.csv",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(path).expect("data/breast_cancer.csv");
    let mut rows: Vec<(Vec<f32>, f32)> = text
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let cells: Vec<&str> = l.split(',').collect();
            let (label, features) = cells.split_last().unwrap();
            (
                features.iter().map(|c| c.parse::<f32>().unwrap()).collect(),
                (*label == "M") as u8 as f32,
            )
        })
        .collect();
    let order = Generator::new(1).permutation(rows.len());
    rows = order.into_iter().map(|i| rows[i].clone()).collect();
    let d = rows[0].0.len();
    let (train, test) = rows.split_at(450);
    // Scale with the training rows' statistics only.
    let mean: Vec<f32> = (0..d)
        .map(|j| train.iter().map(|r| r.0[j]).sum::<f32>() / train.len() as f32)
        .collect();
    let std: Vec<f32> = (0..d)
        .map(|j| {
            (train
                .iter()
                .map(|r| (r.0[j] - mean[j]).powi(2))
                .sum::<f32>()
                / train.len() as f32)
                .sqrt()
                .max(1e-6)
        })
        .collect();
    let to_tensors = |part: &[(Vec<f32>, f32)]| {
        let x: Vec<f32> = part
            .iter()
            .flat_map(|r| r.0.iter().enumerate().map(|(j, v)| (v - mean[j]) / std[j]))
            .collect();
        let y: Vec<f32> = part.iter().map(|r| r.1).collect();
        (
            Tensor::from_vec(x, [part.len(), d]),
            Tensor::from_vec(y, [part.len(), 1]),
        )
    };
    let (xtr, ytr) = to_tensors(train);
    let (xte, yte) = to_tensors(test);
    (xtr, ytr, xte, yte)
}

fn accuracy(model: &dyn Module, x: &Tensor, y: &Tensor) -> f32 {
    let _g = ferrite::no_grad();
    let pred = model.forward(x).gt_scalar(0.0);
    pred.eq(y).mean().item()
}

fn train(
    model: &mut Sequential,
    opt: &mut dyn Optimizer,
    epochs: usize,
    clip: Option<f32>,
) -> (f32, f32) {
    let (xtr, ytr, xte, yte) = breast_cancer();
    let loss_fn = BCEWithLogitsLoss::new();
    let mut sched = StepLR::new(opt, 10, 0.5).unwrap();
    let mut g = Generator::new(3);
    let mut first_loss = None;
    model.train();
    for _ in 0..epochs {
        for idx in g.permutation(450).chunks(32) {
            opt.zero_grad();
            let loss = loss_fn
                .forward(
                    &model.forward(&xtr.index_select(0, idx)),
                    &ytr.index_select(0, idx),
                )
                .unwrap();
            first_loss.get_or_insert(loss.item());
            loss.backward();
            if let Some(max) = clip {
                clip_grad_norm(&model.parameters(), max);
            }
            opt.step();
        }
        sched.step(opt);
    }
    model.eval();
    let final_loss = loss_fn.forward(&model.forward(&xtr), &ytr).unwrap().item();
    assert!(
        final_loss < 0.5 * first_loss.unwrap(),
        "training loss {final_loss} vs first {first_loss:?}"
    );
    (accuracy(model, &xtr, &ytr), accuracy(model, &xte, &yte))
}

fn mlp() -> Sequential {
    Sequential::new()
        .add(Linear::new(30, 32))
        .add(ReLU)
        .add(Dropout::new(0.2).unwrap().with_seed(5))
        .add(Linear::new(32, 16))
        .add(ReLU)
        .add(Linear::new(16, 1))
}

#[test]
fn adam_mlp_learns_breast_cancer() {
    ferrite::manual_seed(0);
    let mut model = mlp();
    let mut opt = Adam::new(
        model.parameters(),
        AdamConfig {
            lr: 3e-3,
            ..Default::default()
        },
    )
    .unwrap();
    let (train_acc, test_acc) = train(&mut model, &mut opt, 30, None);
    assert!(
        train_acc > 0.97 && test_acc > 0.94,
        "train {train_acc}, test {test_acc}"
    );
}

#[test]
fn sgd_momentum_with_clipping_learns_breast_cancer() {
    ferrite::manual_seed(1);
    let mut model = mlp();
    let config = SGDConfig {
        lr: 0.05,
        momentum: 0.9,
        nesterov: true,
        ..Default::default()
    };
    let mut opt = SGD::new(model.parameters(), config).unwrap();
    let (train_acc, test_acc) = train(&mut model, &mut opt, 30, Some(1.0));
    assert!(
        train_acc > 0.97 && test_acc > 0.94,
        "train {train_acc}, test {test_acc}"
    );
}
