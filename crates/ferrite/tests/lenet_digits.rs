//! LeNet-5 and the image-classifier builder learn real handwritten digits (`data/digits.csv`,
//! 8x8 scans from UCI, upsampled 4x to LeNet's 32x32 input): accuracies on held-out digits that
//! only a working convolution, pooling, batch norm and their gradients reach. Then the feature
//! maps of the trained LeNet's first layer are written as PNG.

use ferrite::nn::loss::{CrossEntropyLoss, Loss};
use ferrite::nn::models::{save_feature_maps, ImageClassifier, LeNet5};
use ferrite::nn::Module;
use ferrite::optim::{Optimizer, SGDConfig, SGD};
use ferrite::{no_grad, Tensor};

/// `(images (N, 1, 8·scale, 8·scale) in [0, 1], labels (N))` of the first `n` digits.
fn digits(n: usize, scale: usize) -> (Tensor, Tensor) {
    let path = format!("{}/../../data/digits.csv", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(path).expect("data/digits.csv is embedded");
    let side = 8 * scale;
    let (mut pixels, mut labels) = (Vec::new(), Vec::new());
    for line in text.lines().skip(1).take(n) {
        let v: Vec<f32> = line
            .split(',')
            .map(|f| f.trim().parse().expect("a number"))
            .collect();
        let (px, label) = v.split_at(64);
        labels.push(label[0]);
        for y in 0..side {
            for x in 0..side {
                pixels.push(px[(y / scale) * 8 + x / scale] / 16.0);
            }
        }
    }
    let count = labels.len();
    (
        Tensor::from_vec(pixels, [count, 1, side, side]),
        Tensor::from_vec(labels, [count]),
    )
}

fn accuracy(model: &dyn Module, x: &Tensor, y: &Tensor) -> f32 {
    let _g = no_grad();
    let pred = model.forward(x).argmax(1, false).to_vec();
    pred.iter()
        .zip(y.to_vec())
        .filter(|(p, t)| **p == *t)
        .count() as f32
        / pred.len() as f32
}

fn train(model: &dyn Module, x: &Tensor, y: &Tensor, epochs: usize, lr: f32) {
    let mut opt = SGD::new(
        model.parameters(),
        SGDConfig {
            lr,
            momentum: 0.9,
            ..Default::default()
        },
    )
    .unwrap();
    let ce = CrossEntropyLoss::new();
    let n = x.dims()[0];
    let mut gen = ferrite::Generator::new(1);
    for _ in 0..epochs {
        for idx in gen.permutation(n).chunks(32) {
            opt.zero_grad();
            let loss = ce
                .forward(
                    &model.forward(&x.index_select(0, idx)),
                    &y.index_select(0, idx),
                )
                .unwrap();
            loss.backward();
            opt.step();
        }
    }
}

#[test]
fn lenet5_learns_digits_and_shows_its_feature_maps() {
    ferrite::manual_seed(0);
    let (x, y) = digits(1000, 4);
    let (x_train, y_train) = (x.slice(0, 0..700), y.slice(0, 0..700));
    let (x_test, y_test) = (x.slice(0, 700..1000), y.slice(0, 700..1000));
    let mut net = LeNet5::new(10).unwrap();
    let chance = accuracy(&net, &x_test, &y_test);
    train(&net, &x_train, &y_train, 10, 0.03);
    net.eval();
    let acc = accuracy(&net, &x_test, &y_test);
    assert!(
        acc > 0.85,
        "LeNet-5 test accuracy {acc} (untrained {chance})"
    );

    // Feature maps of the first convolution (after its ReLU) for one test digit.
    let acts = net.activations(&x_test.slice(0, 0..1));
    let (_, conv1) = acts.iter().find(|(n, _)| n == "features.1").unwrap();
    assert_eq!(conv1.dims(), &[1, 6, 28, 28]);
    let dir = std::env::temp_dir().join(format!("ferrite_lenet_maps_{}", std::process::id()));
    let files = save_feature_maps(conv1, &dir, "conv1").unwrap();
    let grid = image::open(&files.grid).unwrap().to_luma8();
    // 6 maps → 3 per row, 2 rows of 28·2 = 56 px tiles with 2 px gaps
    assert_eq!(
        (grid.width(), grid.height()),
        (3 * 56 + 4 * 2, 2 * 56 + 3 * 2)
    );
    let sum = image::open(&files.sum).unwrap().to_luma8();
    assert_eq!((sum.width(), sum.height()), (56, 56));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn conv_bn_relu_pool_blocks_learn_digits() {
    ferrite::manual_seed(1);
    let (x, y) = digits(900, 1);
    let mut net = ImageClassifier::builder(1, (8, 8))
        .conv_block(8, 3)
        .conv_block(16, 3)
        .build(10)
        .unwrap();
    assert_eq!(net.flat_features(), 16 * 2 * 2);
    train(&net, &x.slice(0, 0..600), &y.slice(0, 0..600), 6, 0.05);
    net.eval();
    let acc = accuracy(&net, &x.slice(0, 600..900), &y.slice(0, 600..900));
    assert!(acc > 0.85, "conv-block classifier test accuracy {acc}");
    // The batch norms' running statistics moved away from their start (0 and 1).
    let state = net.state_dict();
    let rm = state.get("features.1.running_mean").unwrap().to_vec();
    assert!(rm.iter().any(|v| v.abs() > 1e-3));
}
