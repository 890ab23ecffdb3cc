//! `ferrite train fashion-mnist`: Zalando's Fashion-MNIST, 28×28 grayscale photos of ten kinds
//! of clothing, read from the standard IDX files. The course's Conv-BN-ReLU-Pool blocks train
//! on the 60,000 training images (a stratified tenth held out to pick the best epoch) and are
//! scored on the official 10,000 test images. The run folder holds the model, metrics.json
//! (test accuracy, recall per class, confusion matrix), the training curves, the confusion
//! matrix drawn with the class names and misclassified.csv (every missed test image).

use super::{epochs, save_run, ExampleOptions};
use crate::classify::{predict_classes, train_classifier, ImageSplits, ImageTraining};
use crate::run_dir::RunDir;
use crate::spec::ModelSpec;
use crate::tabular::OptimizerChoice;
use ferrite::data::{mnist_pair, TrainTestSplit};
use ferrite::metrics::{accuracy_score, confusion_matrix};
use ferrite::plot::{ConfusionMatrixChart, Figure, TrainingCurves};
use ferrite::{DType, Tensor};
use std::path::{Path, PathBuf};

/// Where Debian's `dataset-fashion-mnist` package installs the four files: the default of
/// `--data`.
pub const DEFAULT_DATA: &str = "/usr/share/datasets/fashion-mnist";

/// The four files of the data set, by the names Zalando publishes them under (without `.gz`).
const FILES: [&str; 4] = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];

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

/// Training images and test images the fast setting keeps (the first ones of each file;
/// the files are shuffled, so every class is present in about equal numbers).
const FAST_TRAIN: usize = 6000;
const FAST_TEST: usize = 2000;

/// The four files in `dir`, each gzipped (`NAME.gz`, as published) or unpacked (`NAME`), or
/// an error saying where it looked and how to get them.
pub fn locate(dir: &Path) -> anyhow::Result<[PathBuf; 4]> {
    let find = |name: &str| {
        [format!("{name}.gz"), name.to_string()]
            .into_iter()
            .map(|f| dir.join(f))
            .find(|p| p.is_file())
    };
    let found: Vec<Option<PathBuf>> = FILES.iter().map(|n| find(n)).collect();
    let missing: Vec<String> = FILES
        .iter()
        .zip(&found)
        .filter(|(_, f)| f.is_none())
        .map(|(n, _)| format!("{n}.gz"))
        .collect();
    if !missing.is_empty() {
        let looked = if dir.is_dir() {
            format!("the folder {} has no {}", dir.display(), missing.join(", "))
        } else {
            format!("the folder {} does not exist", dir.display())
        };
        anyhow::bail!(
            "Fashion-MNIST not found: {looked}. Install Debian's package \
             (`sudo apt-get install dataset-fashion-mnist`, which puts the four files in \
             {DEFAULT_DATA}), or download train-images-idx3-ubyte.gz, \
             train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz \
             from https://github.com/zalandoresearch/fashion-mnist (folder data/fashion) into a \
             folder and give it with --data DIR"
        );
    }
    let mut paths = found.into_iter().flatten();
    Ok(std::array::from_fn(|_| paths.next().unwrap_or_default()))
}

/// Images and labels of one pair of files, the labels as f32 class indices (as every image
/// example's), checked to be classes 0..9, keeping the first `limit` images when given.
fn load(images: &Path, labels: &Path, limit: Option<usize>) -> anyhow::Result<(Tensor, Tensor)> {
    let (x, y) = mnist_pair(images, labels)?;
    if x.dims()[2..] != [28, 28] {
        anyhow::bail!(
            "{}: images of {}x{} pixels; Fashion-MNIST's are 28x28 (is this another data set?)",
            images.display(),
            x.dims()[2],
            x.dims()[3]
        );
    }
    let values = y.to_vec_i64();
    if let Some((i, &v)) = values.iter().enumerate().find(|(_, &v)| v > 9) {
        anyhow::bail!(
            "{}: label {v} at position {} is not one of Fashion-MNIST's classes 0..9",
            labels.display(),
            i + 1
        );
    }
    let n = limit.map_or(x.dims()[0], |l| l.min(x.dims()[0]));
    Ok((x.narrow(0, 0, n), y.narrow(0, 0, n).to_dtype(DType::F32)))
}

/// Trains the network, prints its test accuracy and writes the run folder.
pub fn run(opts: &ExampleOptions) -> anyhow::Result<PathBuf> {
    let dir = opts
        .data
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA));
    let files = locate(&dir)?;
    let (train_limit, test_limit) = if opts.fast {
        (Some(FAST_TRAIN), Some(FAST_TEST))
    } else {
        (None, None)
    };
    let (x, y) = load(&files[0], &files[1], train_limit)?;
    let test = load(&files[2], &files[3], test_limit)?;
    let labels: Vec<usize> = y.to_vec().iter().map(|&v| v as usize).collect();
    let split = TrainTestSplit::new(0.1)
        .seed(opts.seed)
        .stratify(&labels)
        .split(labels.len())?;
    let (x_train, x_val) = split.apply(&x);
    let (y_train, y_val) = split.apply(&y);
    let data = ImageSplits {
        train: (x_train, y_train),
        val: (x_val, y_val),
        test,
    };
    let spec = ModelSpec::ConvBlocks {
        in_channels: 1,
        image: 28,
        channels: vec![32, 64],
        hidden: 128,
        classes: 10,
    };
    let settings = ImageTraining {
        epochs: epochs(opts, 12, 3),
        batch_size: 64,
        lr: 1e-3,
        optimizer: OptimizerChoice::Adam,
        class_weights: None,
        seed: opts.seed,
        verbose: opts.verbose,
        clip_grad_norm: None,
    };
    let started = std::time::Instant::now();
    let (mut model, history) = train_classifier(&spec, &data, &settings)?;
    let seconds = started.elapsed().as_secs_f64();
    let y_true: Vec<usize> = data.test.1.to_vec().iter().map(|&v| v as usize).collect();
    let y_pred = predict_classes(model.as_mut(), &data.test.0);
    let accuracy = accuracy_score(&y_true, &y_pred);
    let cm = confusion_matrix(&y_true, &y_pred, Some(&(0..10).collect::<Vec<_>>()));
    println!(
        "Fashion-MNIST: {} training, {} validation images; {} official test images; \
         Conv-BN-ReLU-Pool 32-64 test accuracy {accuracy:.4} (trained in {seconds:.0} s)",
        data.train.1.numel(),
        data.val.1.numel(),
        data.test.1.numel()
    );
    let run = RunDir::create(opts.out.as_deref(), "fashion-mnist")?;
    TrainingCurves::new(&history).save(run.file("training_curves.png"))?;
    ConfusionMatrixChart::new("Fashion-MNIST confusion matrix (official test set)", &cm)
        .class_names(&CLASSES)
        .save(run.file("confusion_matrix.png"))?;
    // Which test images were missed, by their position in the official test file, to look at.
    let mut missed = String::from("test_image,true_class,predicted_class\n");
    for (i, (&t, &p)) in y_true.iter().zip(&y_pred).enumerate() {
        if t != p {
            missed.push_str(&format!("{i},{},{}\n", CLASSES[t], CLASSES[p]));
        }
    }
    run.write_text("misclassified.csv", &missed)?;
    // The data is recorded by file, not as an image folder: `evaluate` and `predict` do not
    // read IDX files, and say so from this kind.
    let preprocessing = serde_json::json!({
        "kind": "idx images (Fashion-MNIST)",
        "data": dir,
        "files": files,
        "scale": "pixel / 255",
        "classes": CLASSES,
        "train_images": data.train.1.numel() + data.val.1.numel(),
        "test_images": data.test.1.numel(),
    });
    let per_class: serde_json::Map<String, serde_json::Value> = CLASSES
        .iter()
        .enumerate()
        .map(|(k, name)| {
            let row: usize = cm.counts[k].iter().sum();
            let recall = cm.counts[k][k] as f64 / row.max(1) as f64;
            (name.to_string(), serde_json::json!(recall))
        })
        .collect();
    let metrics = serde_json::json!({
        "accuracy": accuracy,
        "test_images": data.test.1.numel(),
        "train_seconds": seconds,
        "recall_per_class": per_class,
        "confusion_matrix": cm.counts,
    });
    let recorded: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    save_run(
        &run,
        model.as_ref(),
        &spec,
        preprocessing,
        metrics,
        Some(&history),
        &recorded,
    )?;
    run.finish()
}
