//! What the IDX examples (`fashion-mnist`, `mnist`) share: the four files of a data set in the
//! MNIST family's IDX format found in a folder and read, a Conv-BN-ReLU-Pool network trained
//! on the training images (a stratified tenth held out to pick the best epoch) and scored on
//! the official test images, and the run folder: the model, metrics.json (test accuracy,
//! recall per class, confusion matrix), the training curves, the confusion matrix drawn with
//! the class names, misclassified.csv (every missed test image) and misclassified.png (the
//! first 36 of them, with their true and predicted classes).
//!
//! Each example is an [`IdxExample`]: its names, classes, where its files are and how to get
//! them, and its network and training defaults.

use super::{epochs, save_run, ExampleOptions};
use crate::classify::{predict_classes, train_classifier, ImageSplits, ImageTraining, LrSchedule};
use crate::run_dir::RunDir;
use crate::spec::ModelSpec;
use crate::tabular::OptimizerChoice;
use ferrite::data::{mnist_pair, Augmentation, TrainTestSplit};
use ferrite::metrics::{accuracy_score, confusion_matrix};
use ferrite::nn::Module;
use ferrite::plot::{ConfusionMatrixChart, Figure, ImageGrid, TrainingCurves};
use ferrite::{DType, Tensor};
use std::path::{Path, PathBuf};

/// The four files of an MNIST-family data set, by the names they are published under
/// (without `.gz`): training images and labels, then test images and labels.
pub const FILES: [&str; 4] = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];

/// The side of the images, in pixels: every data set of the family has 28x28 images.
const SIDE: usize = 28;

/// Training images and test images the fast setting keeps at most (the first ones of each
/// file; the files are shuffled, so every class is present in about equal numbers). A smaller
/// file is kept whole.
const FAST_TRAIN: usize = 6000;
const FAST_TEST: usize = 2000;

/// One built-in example on an MNIST-family data set: ten classes of 28x28 grayscale images.
pub struct IdxExample {
    /// The data set's name in messages, titles and the run's preprocessing record
    /// ("Fashion-MNIST").
    pub title: &'static str,
    /// The example's name, which also names its run folders ("fashion-mnist").
    pub name: &'static str,
    /// The classes in label order.
    pub classes: [&'static str; 10],
    /// The folder read when `--data` is not given, or why there is none.
    pub default_data: fn() -> anyhow::Result<PathBuf>,
    /// Where to get the files, and how to give their folder: the end of the error when some
    /// are missing.
    pub how_to_get: fn() -> String,
    /// The output channels of the convolution blocks.
    pub channels: &'static [usize],
    /// The width of the hidden linear layer.
    pub hidden: usize,
    /// Epochs of the full run and of the fast setting (`--epochs` overrides both).
    pub epochs: (usize, usize),
    /// Images per step.
    pub batch_size: usize,
    /// Adam's learning rate.
    pub lr: f32,
    /// Dropout probability before each Linear layer of the head, if any.
    pub dropout: Option<f32>,
    /// How the learning rate changes over the epochs.
    pub schedule: LrSchedule,
    /// The augmentation of the training images, if any.
    pub augmentation: fn() -> Option<Augmentation>,
    /// Cross-entropy's label smoothing ε (0 for none).
    pub label_smoothing: f32,
    /// Score each test image by the mean of the logits of the image and of its left-right
    /// mirror (test-time augmentation, for images the training flips too); the accuracy of
    /// single views is reported beside it.
    pub flip_averaging: bool,
}

impl IdxExample {
    /// The four files ([`FILES`]) in `dir`, each gzipped (`NAME.gz`, as published) or
    /// unpacked (`NAME`), or an error naming the folder, the files missing and how to get
    /// them.
    pub fn locate(&self, dir: &Path) -> anyhow::Result<[PathBuf; 4]> {
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
                "{} not found: {looked}. {}",
                self.title,
                (self.how_to_get)()
            );
        }
        let mut paths = found.into_iter().flatten();
        Ok(std::array::from_fn(|_| paths.next().unwrap_or_default()))
    }

    /// Images and labels of one pair of files, the labels as f32 class indices (as every
    /// image example's), checked to be 28x28 images of classes 0..9, keeping the first
    /// `limit` images when given.
    fn load(
        &self,
        images: &Path,
        labels: &Path,
        limit: Option<usize>,
    ) -> anyhow::Result<(Tensor, Tensor)> {
        let (x, y) = mnist_pair(images, labels)?;
        if x.dims()[2..] != [SIDE, SIDE] {
            anyhow::bail!(
                "{}: images of {}x{} pixels; {}'s are {SIDE}x{SIDE} (is this another data set?)",
                images.display(),
                x.dims()[2],
                x.dims()[3],
                self.title
            );
        }
        let values = y.to_vec_i64();
        let top = self.classes.len() - 1;
        if let Some((i, &v)) = values.iter().enumerate().find(|(_, &v)| v > top as i64) {
            anyhow::bail!(
                "{}: label {v} at position {} is not one of {}'s classes 0..{top}",
                labels.display(),
                i + 1,
                self.title
            );
        }
        let n = limit.map_or(x.dims()[0], |l| l.min(x.dims()[0]));
        Ok((x.narrow(0, 0, n), y.narrow(0, 0, n).to_dtype(DType::F32)))
    }

    /// Trains the network, prints its test accuracy and writes the run folder.
    pub fn run(&self, opts: &ExampleOptions) -> anyhow::Result<PathBuf> {
        let dir = match &opts.data {
            Some(d) => d.clone(),
            None => (self.default_data)()?,
        };
        let files = self.locate(&dir)?;
        let (train_limit, test_limit) = if opts.fast {
            (Some(FAST_TRAIN), Some(FAST_TEST))
        } else {
            (None, None)
        };
        let (x, y) = self.load(&files[0], &files[1], train_limit)?;
        let test = self.load(&files[2], &files[3], test_limit)?;
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
        let classes = self.classes.len();
        let spec = ModelSpec::ConvBlocks {
            in_channels: 1,
            image: SIDE,
            channels: self.channels.to_vec(),
            hidden: self.hidden,
            classes,
            dropout: self.dropout,
        };
        let settings = ImageTraining {
            epochs: epochs(opts, self.epochs.0, self.epochs.1),
            batch_size: self.batch_size,
            lr: self.lr,
            optimizer: OptimizerChoice::Adam,
            class_weights: None,
            seed: opts.seed,
            verbose: opts.verbose,
            clip_grad_norm: None,
            schedule: self.schedule,
            augmentation: (self.augmentation)(),
            label_smoothing: self.label_smoothing,
        };
        let started = std::time::Instant::now();
        let (mut model, history) = train_classifier(&spec, &data, &settings)?;
        let seconds = started.elapsed().as_secs_f64();
        let y_true: Vec<usize> = data.test.1.to_vec().iter().map(|&v| v as usize).collect();
        let single_view = predict_classes(model.as_mut(), &data.test.0);
        let single_view_accuracy = accuracy_score(&y_true, &single_view);
        let y_pred = if self.flip_averaging {
            flip_averaged_classes(model.as_mut(), &data.test.0)
        } else {
            single_view
        };
        let accuracy = accuracy_score(&y_true, &y_pred);
        let cm = confusion_matrix(&y_true, &y_pred, Some(&(0..classes).collect::<Vec<_>>()));
        let widths: Vec<String> = self.channels.iter().map(usize::to_string).collect();
        let scoring = if self.flip_averaging {
            format!(" with left-right flip averaging ({single_view_accuracy:.4} on single views)")
        } else {
            String::new()
        };
        println!(
            "{}: {} training, {} validation images; {} official test images; \
             Conv-BN-ReLU-Pool {} test accuracy {accuracy:.4}{scoring} (trained in \
             {seconds:.0} s)",
            self.title,
            data.train.1.numel(),
            data.val.1.numel(),
            data.test.1.numel(),
            widths.join("-")
        );
        let run = RunDir::create(opts.out.as_deref(), self.name)?;
        TrainingCurves::new(&history).save(run.file("training_curves.png"))?;
        ConfusionMatrixChart::new(
            format!("{} confusion matrix (official test set)", self.title),
            &cm,
        )
        .class_names(&self.classes)
        .save(run.file("confusion_matrix.png"))?;
        // Which test images were missed, by their position in the official test file, to
        // look at.
        let mut missed = String::from("test_image,true_class,predicted_class\n");
        for (i, (&t, &p)) in y_true.iter().zip(&y_pred).enumerate() {
            if t != p {
                missed.push_str(&format!("{i},{},{}\n", self.classes[t], self.classes[p]));
            }
        }
        run.write_text("misclassified.csv", &missed)?;
        // And the first of them drawn, to see what the model confuses (pixels are in [0, 1]).
        ImageGrid::misclassified(
            format!("{}, misclassified official test images", self.title),
            &data.test.0,
            &y_true,
            &y_pred,
            &self.classes,
        )?
        .save(run.file("misclassified.png"))?;
        // The data is recorded by file, not as an image folder: `evaluate` and `predict` do
        // not read IDX files, and say so from this kind.
        let preprocessing = serde_json::json!({
            "kind": format!("idx images ({})", self.title),
            "data": dir,
            "files": files,
            "scale": "pixel / 255",
            "classes": self.classes,
            "train_images": data.train.1.numel() + data.val.1.numel(),
            "test_images": data.test.1.numel(),
            "test_time_augmentation": if self.flip_averaging {
                "the mean of the logits of each image and of its left-right mirror"
            } else {
                "none"
            },
        });
        let per_class: serde_json::Map<String, serde_json::Value> = self
            .classes
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
            "accuracy_single_view": single_view_accuracy,
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
}

/// Predicted classes of images `x` `(N, C, H, W)` from the mean of the logits of each image
/// and of its left-right mirror, in evaluation mode.
fn flip_averaged_classes(model: &mut dyn Module, x: &Tensor) -> Vec<usize> {
    let width = x.dims()[3];
    let mirrored: Vec<usize> = (0..width).rev().collect();
    let logits = &ferrite::train::predict(model, x, 256)
        + &ferrite::train::predict(model, &x.index_select(3, &mirrored), 256);
    logits
        .argmax(1, false)
        .to_vec()
        .iter()
        .map(|&v| v as usize)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::flip_averaged_classes;
    use ferrite::nn::{Flatten, Linear, Sequential};
    use ferrite::Tensor;

    #[test]
    fn flip_averaging_scores_the_mean_of_an_image_and_its_mirror() {
        // Logits (x0 - x1, 0.1): class 0 when the left pixel is brighter by more than 0.1.
        let fc = Linear::from_tensors(
            Tensor::from([[1.0, -1.0], [0.0, 0.0]]),
            Some(Tensor::from([0.0, 0.1])),
        )
        .unwrap();
        let mut model = Sequential::new().add(Flatten::new()).add(fc);
        // One 1x1x2 image: alone it is class 0 (0.5 > 0.1); its mirror gives -0.5, so the
        // mean logit of class 0 is 0 < 0.1: class 1.
        let x = Tensor::from_vec(vec![0.75, 0.25], [1, 1, 1, 2]);
        assert_eq!(super::predict_classes(&mut model, &x), [0]);
        assert_eq!(flip_averaged_classes(&mut model, &x), [1]);
        // Averaged, class 0's logit x0 - x1 cancels for every image: class 1 always, for a
        // symmetric image as for one brighter on the left.
        let same = Tensor::from_vec(vec![0.5, 0.5, 0.9, 0.1], [2, 1, 1, 2]);
        assert_eq!(flip_averaged_classes(&mut model, &same), [1, 1]);
    }
}
