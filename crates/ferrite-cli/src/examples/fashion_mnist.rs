//! `ferrite train fashion-mnist`: Zalando's Fashion-MNIST, 28×28 grayscale photos of ten kinds
//! of clothing, read from the standard IDX files. The course's Conv-BN-ReLU-Pool blocks train
//! on the 60,000 training images (a stratified tenth held out to pick the best epoch) and are
//! scored on the official 10,000 test images. The run folder holds the model, metrics.json
//! (test accuracy, recall per class, confusion matrix), the training curves, the confusion
//! matrix drawn with the class names, misclassified.csv (every missed test image) and
//! misclassified.png (the first 36 of them, with their true and predicted classes); see
//! [`super::idx_classifier`], which it shares with `mnist`.

use super::idx_classifier::IdxExample;
use super::ExampleOptions;
use crate::classify::LrSchedule;
use ferrite::data::Augmentation;
use std::path::PathBuf;

/// Where Debian's `dataset-fashion-mnist` package installs the four files: the default of
/// `--data`.
pub const DEFAULT_DATA: &str = "/usr/share/datasets/fashion-mnist";

/// The classes in label order (0 = T-shirt/top ... 9 = Ankle boot).
pub const CLASSES: [&str; 10] = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
];

/// The example: Conv-BN-ReLU-Pool 32 and 64, dropout 0.2 before each Linear of the head,
/// Linear 128, Adam at 1e-3 in batches of 64 with a cosine schedule to 0 over 20 epochs (3 in
/// the fast setting), training images flipped left-right at random (the clothes are roughly
/// symmetric), the best epoch by validation accuracy.
const EXAMPLE: IdxExample = IdxExample {
    title: "Fashion-MNIST",
    name: "fashion-mnist",
    classes: CLASSES,
    default_data: || Ok(PathBuf::from(DEFAULT_DATA)),
    how_to_get: || {
        format!(
            "Install Debian's package (`sudo apt-get install dataset-fashion-mnist`, which puts \
             the four files in {DEFAULT_DATA}), or download train-images-idx3-ubyte.gz, \
             train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz \
             from https://github.com/zalandoresearch/fashion-mnist (folder data/fashion) into a \
             folder and give it with --data DIR"
        )
    },
    channels: &[32, 64],
    hidden: 128,
    epochs: (20, 3),
    batch_size: 64,
    lr: 1e-3,
    dropout: Some(0.2),
    schedule: LrSchedule::Cosine,
    augmentation: || Some(Augmentation::new().horizontal_flip(0.5)),
    label_smoothing: 0.1,
    flip_averaging: true,
};

/// Trains the network, prints its test accuracy and writes the run folder.
pub fn run(opts: &ExampleOptions) -> anyhow::Result<PathBuf> {
    EXAMPLE.run(opts)
}
