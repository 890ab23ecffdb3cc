//! Scoring an image classifier: accuracy, confusion matrix and the misclassified images, on
//! images in memory or decoded batch by batch.

use ferrite::data::{ChannelStats, DataLoader, Dataset, ImageFolder};
use ferrite::metrics::{accuracy_score, confusion_matrix, ConfusionMatrix};
use ferrite::nn::Module;
use ferrite::plot::{Figure, ImageGrid};
use ferrite::Tensor;

/// Accuracy and confusion matrix (over `classes` labels) of a classifier on images `x`
/// with true classes `y`.
pub fn score_images(
    model: &mut dyn Module,
    x: &Tensor,
    y: &Tensor,
    classes: usize,
) -> (f64, ConfusionMatrix) {
    let scored = ScoredImages::of(model, x, y, classes);
    (scored.accuracy, scored.confusion)
}

/// A classifier's predictions on labelled images, with their accuracy and confusion matrix.
pub struct ScoredImages {
    /// The true class of every image.
    pub y_true: Vec<usize>,
    /// The predicted class of every image.
    pub y_pred: Vec<usize>,
    /// The fraction predicted right.
    pub accuracy: f64,
    /// Counts over all the model's classes (rows: true, columns: predicted).
    pub confusion: ConfusionMatrix,
}

impl ScoredImages {
    /// Predicts the images `x` (true classes `y`) with `model`, scored over `classes` labels.
    pub fn of(model: &mut dyn Module, x: &Tensor, y: &Tensor, classes: usize) -> ScoredImages {
        let y_true: Vec<usize> = y.to_vec().iter().map(|&v| v as usize).collect();
        let y_pred = predict_classes(model, x);
        let labels: Vec<usize> = (0..classes).collect();
        ScoredImages {
            accuracy: accuracy_score(&y_true, &y_pred),
            confusion: confusion_matrix(&y_true, &y_pred, Some(&labels)),
            y_true,
            y_pred,
        }
    }

    /// [`of`](Self::of) for the images of `folder`, decoded 256 at a time, so that only one
    /// batch of images is in memory beyond the folder's cache.
    pub fn of_folder(
        model: &mut dyn Module,
        folder: &ImageFolder,
        classes: usize,
    ) -> anyhow::Result<ScoredImages> {
        let mut loader = DataLoader::new(folder.clone(), 256)?.num_workers(1);
        let (mut y_true, mut y_pred) = (Vec::new(), Vec::new());
        for (x, y) in loader.iter() {
            y_true.extend(y.to_vec().iter().map(|&v| v as usize));
            y_pred.extend(predict_classes(model, &x));
        }
        let labels: Vec<usize> = (0..classes).collect();
        Ok(ScoredImages {
            accuracy: accuracy_score(&y_true, &y_pred),
            confusion: confusion_matrix(&y_true, &y_pred, Some(&labels)),
            y_true,
            y_pred,
        })
    }

    /// [`save_misclassified`](Self::save_misclassified) for images scored with
    /// [`of_folder`](Self::of_folder): only the misclassified images drawn are decoded.
    pub fn save_misclassified_of_folder<S: AsRef<str>>(
        &self,
        title: &str,
        folder: &ImageFolder,
        names: &[S],
        stats: Option<&ChannelStats>,
        path: &std::path::Path,
    ) -> anyhow::Result<()> {
        let wrong: Vec<usize> = (0..self.y_true.len())
            .filter(|&i| self.y_true[i] != self.y_pred[i])
            .take(ImageGrid::MAX_IMAGES)
            .collect();
        let picked = ScoredImages {
            y_true: wrong.iter().map(|&i| self.y_true[i]).collect(),
            y_pred: wrong.iter().map(|&i| self.y_pred[i]).collect(),
            accuracy: self.accuracy,
            confusion: self.confusion.clone(),
        };
        let x = folder.subset(&wrong).to_tensor()?;
        picked.save_misclassified(title, &x, names, stats, path)
    }

    /// Draws the first misclassified images of `x` (the images scored, in order) with their
    /// true and predicted class names into `path` (see [`ImageGrid::misclassified`]); images
    /// normalised per channel with `stats` are drawn with the normalisation undone, in their
    /// own colours.
    pub fn save_misclassified<S: AsRef<str>>(
        &self,
        title: &str,
        x: &Tensor,
        names: &[S],
        stats: Option<&ChannelStats>,
        path: &std::path::Path,
    ) -> anyhow::Result<()> {
        let mut grid = ImageGrid::misclassified(title, x, &self.y_true, &self.y_pred, names)?;
        if let Some(stats) = stats {
            let (mean, std) = stats.as_f32();
            grid = grid.unnormalize(&mean, &std)?;
        }
        grid.save(path)?;
        Ok(())
    }

    /// Prints the accuracy after `what` (how many images, from where) and the confusion
    /// matrix with the class names, as `evaluate` shows them.
    pub fn print(&self, what: &str, names: &[String]) {
        println!("{what}; accuracy {:.4}", self.accuracy);
        println!(
            "confusion matrix (rows: true, columns: predicted; {}):",
            names.join(", ")
        );
        for row in &self.confusion.counts {
            println!(
                "  {}",
                row.iter().map(|v| format!("{v:>5}")).collect::<String>()
            );
        }
    }
}

/// Predicted classes of `x`, in batches, in evaluation mode.
pub fn predict_classes(model: &mut dyn Module, x: &Tensor) -> Vec<usize> {
    let out = ferrite::train::predict(model, x, 256);
    out.argmax(1, false)
        .to_vec()
        .iter()
        .map(|&v| v as usize)
        .collect()
}

/// Held-out images to score: pixel rows already in memory, or image files decoded batch by
/// batch.
pub enum HeldOut {
    /// Images `(N, C, H, W)` and class indices `(N)`.
    Tensors(Tensor, Tensor),
    /// Image files with their class indices.
    Folder(ImageFolder),
}

impl HeldOut {
    /// The number of images.
    pub fn len(&self) -> usize {
        match self {
            HeldOut::Tensors(_, y) => y.numel(),
            HeldOut::Folder(folder) => folder.len(),
        }
    }

    /// The model's accuracy and confusion matrix on these images.
    pub fn score(&self, model: &mut dyn Module, classes: usize) -> anyhow::Result<ScoredImages> {
        match self {
            HeldOut::Tensors(x, y) => Ok(ScoredImages::of(model, x, y, classes)),
            HeldOut::Folder(folder) => ScoredImages::of_folder(model, folder, classes),
        }
    }
}
