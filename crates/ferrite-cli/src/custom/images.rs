//! `ferrite train --images` on a user's image folder, and `evaluate` / `predict` of the
//! models it trains: images decoded batch by batch, normalised per channel with the
//! training split's statistics.

use super::{csv_text, load_run, tabular_preprocessing, write_predictions};
use crate::classify::{
    pixel_rows_to_images, train_classifier_on, ImagePreprocessing, ImageSource, ImageTraining,
    LrSchedule, ScoredImages,
};
use crate::examples::gold::SeriesPreprocessing;
use crate::examples::save_run;
use crate::run_dir::RunDir;
use crate::scan_progress::ScanProgress;
use crate::spec::ModelSpec;
use crate::tabular::OptimizerChoice;
use ferrite::data::{
    balanced_class_weights, ColorMode, DataLoader, Dataset, NestedSplit, TrainTestSplit,
};
use ferrite::nn::Module;
use ferrite::plot::{ConfusionMatrixChart, Figure, TrainingCurves};
use ferrite::train::ModelCard;
use std::path::{Path, PathBuf};

/// Checks that an image model's recorded channels (and normalisation) are those its first
/// layer takes, so that a hand-edited or corrupt model.json is an error, never a panic in
/// the convolution.
pub(super) fn check_image_channels(
    pre: &ImagePreprocessing,
    card: &ModelCard,
) -> anyhow::Result<()> {
    pre.stats()?;
    let takes = match ModelSpec::from_json(&card.architecture)? {
        ModelSpec::ConvBlocks { in_channels, .. } => in_channels,
        // LeNet-5 reads one channel.
        ModelSpec::LeNet5 { .. } => 1,
        _ => return Ok(()),
    };
    if takes != pre.channels {
        anyhow::bail!(
            "model.json: the preprocessing reads images with {} channel(s) but the model's \
             first layer takes {takes}; the file was edited or is corrupt: retrain the model",
            pre.channels
        );
    }
    Ok(())
}

/// `ferrite evaluate RUN --images DIR`: an image-folder model's accuracy and confusion matrix
/// on the class sub-folders of `dir` (`dir/<class>/<image>`), read with the run's recorded
/// preprocessing. `dir` may hold only some of the model's classes.
pub fn evaluate_images(run_dir: &Path, dir: &Path) -> anyhow::Result<()> {
    let (mut model, card) = load_run(run_dir)?;
    let Ok(images) = serde_json::from_value::<ImagePreprocessing>(card.preprocessing.clone())
    else {
        let kind = card.preprocessing.get("kind").and_then(|k| k.as_str());
        if let Some(set) = kind.and_then(|k| k.strip_prefix("idx images")) {
            // The kind names the data set in parentheses: "idx images (Fashion-MNIST)".
            let set = set.trim();
            anyhow::bail!(
                "evaluate --images scores image folders; this run was trained on IDX files{}{set}, \
                 not on a folder of image files: `ferrite evaluate RUN` shows its test metrics",
                if set.is_empty() { "" } else { " " }
            );
        }
        if serde_json::from_value::<SeriesPreprocessing>(card.preprocessing.clone()).is_ok() {
            anyhow::bail!(
                "evaluate --images scores image models; this run forecasts a series: \
                 `ferrite evaluate RUN` scores its next-day forecasts"
            );
        }
        tabular_preprocessing(&card, "evaluate --images")?;
        anyhow::bail!(
            "evaluate --images scores image models; this run's model reads a table: \
             use `ferrite evaluate RUN --csv FILE`"
        );
    };
    check_image_channels(&images, &card)?;
    // Decoded batch by batch: the folder may be larger than memory.
    let folder = images.folder_images(dir, 0)?;
    let scored = ScoredImages::of_folder(model.as_mut(), &folder, images.classes.len())?;
    scored.print(
        &format!("{} images in {}", folder.len(), dir.display()),
        &images.classes,
    );
    Ok(())
}

/// `predict` for an image classifier: image files for a folder-trained model, pixel rows of
/// a CSV for a model trained on one. One line per image: its name (or row number), the
/// predicted class and every class's probability.
pub(super) fn predict_images(
    model: &mut dyn Module,
    pre: &ImagePreprocessing,
    csv: Option<&Path>,
    images: Option<&Path>,
    out: Option<&Path>,
) -> anyhow::Result<()> {
    let stats = pre.stats()?;
    let (x, names) = match (&pre.data, csv, images) {
        (ImageSource::Folder { size, .. }, None, Some(path)) => {
            let mut options = ferrite::data::ImageOptions::new()
                .color(pre.color()?)
                .size(*size, *size);
            if let Some(stats) = &stats {
                let (mean, std) = stats.as_f32();
                options = options.normalize(&mean, &std);
            }
            let (x, paths) = options.load_unlabelled(path)?;
            let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
            (x, names)
        }
        (ImageSource::Folder { .. }, _, _) => {
            anyhow::bail!(
                "this model was trained on image files: predict needs --images FILE_OR_FOLDER"
            )
        }
        (
            ImageSource::CsvPixels {
                target,
                scale,
                side,
                ..
            },
            Some(path),
            None,
        ) => {
            use ferrite::data::CsvOptions;
            // The label column may be there (it is ignored) or not.
            let table = CsvOptions::new()
                .target(target)
                .load(path)
                .or_else(|_| CsvOptions::new().load(path))?;
            let mut x = pixel_rows_to_images(&table.features, *side, *scale, path)?;
            if let Some(stats) = &stats {
                x = stats.normalize(&x)?;
            }
            let rows = x.dims()[0];
            (
                x,
                (1..=rows).map(|i| i.to_string()).collect::<Vec<String>>(),
            )
        }
        (ImageSource::CsvPixels { .. }, _, _) => {
            anyhow::bail!("this model was trained on pixel rows of a CSV: predict needs --csv FILE")
        }
    };
    let probs = ferrite::train::predict(model, &x, 256).softmax(1);
    let k = pre.classes.len();
    if probs.dims()[1] != k {
        anyhow::bail!(
            "the model gives {} outputs for {k} classes",
            probs.dims()[1]
        );
    }
    let p = probs.to_vec();
    let best = probs.argmax(1, false).to_vec();
    let mut records: Vec<Vec<String>> = vec![["image", "predicted"]
        .into_iter()
        .map(String::from)
        .chain(pre.classes.iter().map(|c| format!("p_{c}")))
        .collect()];
    for ((name, row), &b) in names.iter().zip(p.chunks_exact(k)).zip(&best) {
        let class = &pre.classes[b as usize];
        records.push(
            [name.clone(), class.clone()]
                .into_iter()
                .chain(row.iter().map(|v| format!("{v:.6}")))
                .collect(),
        );
    }
    write_predictions(&csv_text(&records)?, names.len(), out)
}

/// `--channels` of `ferrite train --images`: how many channels the images are read with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Channels {
    /// Grayscale (colour images are converted with the Rec. 709 luma weights).
    #[value(name = "1")]
    Gray,
    /// Red, green and blue (grayscale images repeat their level on all three).
    #[value(name = "3")]
    Rgb,
}

impl Channels {
    /// The library's colour mode.
    pub fn color(self) -> ColorMode {
        match self {
            Channels::Gray => ColorMode::Gray,
            Channels::Rgb => ColorMode::Rgb,
        }
    }
}

/// What `ferrite train --images` was asked for.
pub struct ImageFolderTraining {
    /// The folder.
    pub dir: PathBuf,
    /// A labels CSV (columns `image`, `label`); none: one sub-folder per class.
    pub labels: Option<PathBuf>,
    /// Side length after resizing.
    pub size: usize,
    /// The channels to read (none: 3 when any training image is colour, else 1).
    pub channels: Option<Channels>,
    /// Epochs.
    pub epochs: usize,
    /// Images per step.
    pub batch_size: usize,
    /// Learning rate.
    pub lr: f32,
    /// The update rule.
    pub optimizer: OptimizerChoice,
    /// Held-out fraction (unused with `test_images`).
    pub test_size: f64,
    /// A separate folder of test images, one sub-folder per class: the held-out metrics are
    /// measured on it, and all of `dir` is for training and validation.
    pub test_images: Option<PathBuf>,
    /// Seed.
    pub seed: u64,
    /// Verbosity.
    pub verbose: u8,
    /// Run folder.
    pub out: Option<PathBuf>,
    /// Clip the gradients' global 2-norm to this before every step.
    pub clip_grad_norm: Option<f32>,
    /// MiB of decoded images kept in memory (none: half the free memory).
    pub cache_mb: Option<u64>,
}

/// The bytes of decoded images to keep: `cache_mb` MiB, or half the free memory (1 GiB
/// where the free memory is unknown).
fn cache_bytes(cache_mb: Option<u64>) -> u64 {
    match cache_mb {
        Some(mb) => mb.saturating_mul(1 << 20),
        None => ferrite::data::available_memory().map_or(1 << 30, |free| free / 2),
    }
}

/// How the images of `dir` are read, said before training: the channels, and why.
fn channels_note(dir: &Path, channels: usize, asked: Option<Channels>) -> String {
    match (asked, channels) {
        (Some(_), 3) => format!(
            "{}: read in colour, 3 channels (--channels 3)",
            dir.display()
        ),
        (Some(_), _) => format!(
            "{}: read in grayscale, 1 channel (--channels 1)",
            dir.display()
        ),
        (None, 3) => format!(
            "{}: colour images, read with 3 channels (--channels 1 reads them in grayscale)",
            dir.display()
        ),
        (None, _) => format!("{}: grayscale images, read with 1 channel", dir.display()),
    }
}

/// Trains a Conv-BN-ReLU-Pool network on a user's image folder: read in colour when any
/// image is (or as `--channels` says), normalised per channel with the training split's
/// mean and deviation.
pub fn train_images(c: &ImageFolderTraining) -> anyhow::Result<PathBuf> {
    if c.size < 8 {
        anyhow::bail!("--size must be at least 8 pixels");
    }
    let source = ImageSource::Folder {
        dir: c.dir.clone(),
        labels: c.labels.clone(),
        image_column: "image".into(),
        label_column: "label".into(),
        size: c.size,
        positive_threshold: None,
    };
    // Listed, not decoded: the images are decoded batch by batch, and kept decoded up to
    // the cache's budget.
    let (folder, text_classes) =
        source.folder_as(c.channels.map(Channels::color), cache_bytes(c.cache_mb))?;
    let channels = folder.channels();
    if c.verbose > 0 {
        println!("{}", channels_note(&c.dir, channels, c.channels));
    }
    let y: Vec<usize> = folder.labels().iter().map(|&v| v as usize).collect();
    // A folder source without a threshold names its classes, each with at least one image.
    let names: Vec<String> = text_classes.unwrap_or_default();
    let classes = names.len();
    if classes < 2 {
        anyhow::bail!(
            "{}: found {} class(es); at least 2 are needed",
            c.dir.display(),
            classes
        );
    }
    let n = y.len();
    let mut record =
        ImagePreprocessing::new(source, names.clone(), Vec::new()).with_channels(channels);
    let (train, val, test) = match &c.test_images {
        Some(test_dir) => {
            // Listed before training, so that a test folder with a class the model will not
            // know fails at once.
            let test = record.folder_images(test_dir, 0)?;
            record = record.with_test_folder(test_dir.clone());
            let inner = TrainTestSplit::new(0.15)
                .seed(c.seed.wrapping_add(1))
                .split(n)?;
            (
                folder.subset(&inner.train),
                folder.subset(&inner.test),
                test,
            )
        }
        None => {
            let NestedSplit { outer, inner } = TrainTestSplit::new(c.test_size)
                .seed(c.seed)
                .stratify_named(&y, &names)
                .nested(n, 0.15, false)?;
            record.test_rows = outer.test.clone();
            let rest = folder.subset(&outer.train);
            (
                rest.subset(&inner.train),
                rest.subset(&inner.test),
                folder.subset(&outer.test),
            )
        }
    };
    // Every file is decoded once before training, so that an unreadable one is an error
    // now: the training images first (they fill the cache first, being read every epoch),
    // twice for the per-channel statistics, then the validation and test images.
    let progress = ScanProgress::new(
        c.dir.display().to_string(),
        2 * train.len() + val.len() + test.len(),
        c.verbose,
    );
    // Per-channel statistics of the training images only: validation and test images must
    // not shape the preprocessing they are scored with.
    let stats = train.channel_stats(&|done| progress.at(done))?;
    let after_train = 2 * train.len();
    val.check(&|done| progress.at(after_train + done))?;
    let after_val = after_train + val.len();
    test.check(&|done| progress.at(after_val + done))?;
    progress.finish();
    let (mean, std) = stats.as_f32();
    let (train, val, test) = (
        train.normalized(&mean, &std),
        val.normalized(&mean, &std),
        test.normalized(&mean, &std),
    );
    record = record.with_stats(&stats);
    let train_y: Vec<usize> = train.labels().iter().map(|&v| v as usize).collect();
    let spec = ModelSpec::ConvBlocks {
        in_channels: channels,
        image: c.size,
        channels: vec![16, 32],
        hidden: 64,
        classes,
        dropout: None,
    };
    let settings = ImageTraining {
        epochs: c.epochs,
        batch_size: c.batch_size,
        lr: c.lr,
        optimizer: c.optimizer,
        class_weights: Some(balanced_class_weights(&train_y, classes)?),
        seed: c.seed,
        verbose: c.verbose,
        clip_grad_norm: c.clip_grad_norm,
        schedule: LrSchedule::Constant,
        augmentation: None,
        label_smoothing: 0.0,
    };
    let mut val = DataLoader::new(val, 256)?.num_workers(1);
    let (mut model, history) = train_classifier_on(&spec, train, &mut val, true, &settings)?;
    let scored = ScoredImages::of_folder(model.as_mut(), &test, classes)?;
    let accuracy = scored.accuracy;
    let test_images = test.len();
    match &c.test_images {
        Some(test_dir) => println!(
            "{}: {n} images for training and validation, {classes} classes; {test_images} test \
             images in {}; test accuracy {accuracy:.4}",
            c.dir.display(),
            test_dir.display()
        ),
        None => println!(
            "{}: {n} images, {classes} classes; test accuracy {accuracy:.4}",
            c.dir.display()
        ),
    }
    let split = if c.test_images.is_some() {
        "test folder"
    } else {
        "test split"
    };
    let run = RunDir::create(c.out.as_deref(), "images")?;
    TrainingCurves::new(&history).save(run.file("training_curves.png"))?;
    ConfusionMatrixChart::new(format!("Confusion matrix ({split})"), &scored.confusion)
        .class_names(&names)
        .save(run.file("confusion_matrix.png"))?;
    scored.save_misclassified_of_folder(
        &format!("Misclassified images ({split})"),
        &test,
        &names,
        Some(&stats),
        &run.file("misclassified.png"),
    )?;
    let preprocessing = serde_json::to_value(&record)?;
    let metrics = serde_json::json!({
        "accuracy": accuracy,
        "test_images": test_images,
        "confusion_matrix": scored.confusion.counts,
    });
    // The test folder is fingerprinted like the training data: `evaluate` re-scores it only
    // while it is unchanged.
    let recorded: Vec<&Path> = std::iter::once(c.dir.as_path())
        .chain(c.labels.as_deref())
        .chain(c.test_images.as_deref())
        .collect();
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
