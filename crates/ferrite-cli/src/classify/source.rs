//! Where an image classifier's images come from ([`ImageSource`]), read whole or as an
//! [`ImageFolder`] decoded batch by batch.

use ferrite::data::{ChannelStats, ColorMode, ImageFolder};
use ferrite::Tensor;

/// Where an image classifier's data comes from, saved in the model card so that `evaluate`
/// can reload exactly the held-out images.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum ImageSource {
    /// Image files: a folder plus a labels CSV, or one sub-folder per class.
    Folder {
        /// The image folder.
        dir: std::path::PathBuf,
        /// The labels CSV, if any.
        labels: Option<std::path::PathBuf>,
        /// Its file-name column.
        image_column: String,
        /// Its label column.
        label_column: String,
        /// Side length after resizing.
        size: usize,
        /// Labels become 1 where they are at least this, else 0 (a binary task).
        positive_threshold: Option<f32>,
    },
    /// Pixels stored as CSV rows (like digits.csv), one square grayscale image per row.
    CsvPixels {
        /// The table.
        csv: std::path::PathBuf,
        /// The label column.
        target: String,
        /// Multiplies every pixel (e.g. 1/16 for values 0..16).
        scale: f32,
        /// Side length.
        side: usize,
    },
}

impl ImageSource {
    /// Images (N, 1, H, W) in [0, 1] and class indices (N,), plus the class names in index
    /// order for a folder without a threshold (sub-folders with images, or the labels that
    /// occur, numbers in numeric order). Notes about skipped folders go to standard error.
    pub fn load(&self) -> anyhow::Result<(Tensor, Tensor, Option<Vec<String>>)> {
        self.load_as(Some(ColorMode::Gray), None)
    }

    /// [`load`](Self::load) in the colour mode `color` (none: RGB when any image file is
    /// colour, else grayscale; pixel rows of a CSV are grayscale), then normalised per
    /// channel with `normalize` (mean and std per channel), images `(N, C, H, W)`.
    pub fn load_as(
        &self,
        color: Option<ColorMode>,
        normalize: Option<&ChannelStats>,
    ) -> anyhow::Result<(Tensor, Tensor, Option<Vec<String>>)> {
        use ferrite::data::{CsvOptions, ImageOptions};
        match self {
            ImageSource::Folder {
                dir,
                labels,
                image_column,
                label_column,
                size,
                positive_threshold,
            } => {
                // Without a threshold the labels are classes, numbers included: labels 1
                // and 2 are two classes, not three with an empty class 0.
                let mut options = ImageOptions::new()
                    .auto_color()
                    .size(*size, *size)
                    .labels_as_classes(positive_threshold.is_none());
                if let Some(color) = color {
                    options = options.color(color);
                }
                if let Some(stats) = normalize {
                    let (mean, std) = stats.as_f32();
                    options = options.normalize(&mean, &std);
                }
                let set = match labels {
                    Some(l) => options.load_with_labels(dir, l, image_column, label_column),
                    None => options.load_class_folders(dir),
                }
                .map_err(|e| size_option_error(e, *size))?;
                for warning in &set.warnings {
                    eprintln!("warning: {warning}");
                }
                let names = (!set.classes.is_empty()).then(|| set.classes.clone());
                let y = match positive_threshold {
                    Some(t) => set.labels.ge_scalar(*t),
                    None => set.labels.clone(),
                };
                Ok((set.images, y, names))
            }
            ImageSource::CsvPixels {
                csv,
                target,
                scale,
                side,
            } => {
                if color == Some(ColorMode::Rgb) {
                    anyhow::bail!(
                        "{}: pixel rows of a CSV are grayscale images; they cannot be read with 3 \
                         channels",
                        csv.display()
                    );
                }
                let table = CsvOptions::new().target(target).load(csv)?;
                let mut images = pixel_rows_to_images(&table.features, *side, *scale, csv)?;
                if let Some(stats) = normalize {
                    images = stats.normalize(&images)?;
                }
                let labels = table
                    .targets
                    .clone()
                    .ok_or_else(|| anyhow::anyhow!("{}: no column {target}", csv.display()))?;
                Ok((images, labels, None))
            }
        }
    }
}

impl ImageSource {
    /// The images of a folder source as an [`ImageFolder`] that decodes them batch by batch
    /// (`color`: as in [`load_as`](Self::load_as)), keeping up to `cache_bytes` of decoded
    /// images in memory, with the class names as `load_as` gives them. An error for pixel
    /// rows of a CSV, which are read whole.
    pub fn folder_as(
        &self,
        color: Option<ColorMode>,
        cache_bytes: u64,
    ) -> anyhow::Result<(ImageFolder, Option<Vec<String>>)> {
        use ferrite::data::ImageOptions;
        let ImageSource::Folder {
            dir,
            labels,
            image_column,
            label_column,
            size,
            positive_threshold,
        } = self
        else {
            anyhow::bail!("pixel rows of a CSV are read whole, not as an image folder");
        };
        let mut options = ImageOptions::new()
            .auto_color()
            .size(*size, *size)
            .labels_as_classes(positive_threshold.is_none());
        if let Some(color) = color {
            options = options.color(color);
        }
        let mut list = match labels {
            Some(l) => options.list_with_labels(dir, l, image_column, label_column),
            None => options.list_class_folders(dir),
        }
        .map_err(|e| size_option_error(e, *size))?;
        for warning in &list.warnings {
            eprintln!("warning: {warning}");
        }
        if let Some(t) = positive_threshold {
            list.labels = list
                .labels
                .iter()
                .map(|&v| if v >= *t { 1.0 } else { 0.0 })
                .collect();
        }
        let names = (!list.classes.is_empty()).then(|| list.classes.clone());
        let folder = options
            .folder(&list)
            .map_err(|e| size_option_error(e, *size))?
            .cache_memory(cache_bytes);
        Ok((folder, names))
    }
}

impl ImageSource {
    /// The same preprocessing (size, colour, scaling) reading the class sub-folders of `dir`
    /// (`dir/<class>/<image>`) instead: how a folder-trained model scores other images. An
    /// error for pixel rows of a CSV, which have no image files to read.
    pub fn class_folders(&self, dir: &std::path::Path) -> anyhow::Result<ImageSource> {
        let mut source = self.clone();
        match &mut source {
            // A copy with only where and how labels are read replaced, so that every
            // preprocessing field (size, and any added later) carries over.
            ImageSource::Folder {
                dir: folder,
                labels,
                positive_threshold,
                ..
            } => {
                *folder = dir.to_path_buf();
                *labels = None;
                *positive_threshold = None;
                Ok(source)
            }
            ImageSource::CsvPixels { csv, .. } => anyhow::bail!(
                "--images scores image folders; this run was trained on pixel rows of a CSV \
                 ({}), which has no image files: `ferrite evaluate RUN --csv FILE` scores \
                 new rows",
                csv.display()
            ),
        }
    }
}

/// A refusal of the image size (it cannot fit in memory) names the `--size` option that set
/// it; other errors pass through.
fn size_option_error(e: ferrite::FerriteError, size: usize) -> anyhow::Error {
    match e {
        ferrite::FerriteError::InvalidArgument { name, message } if name == "size" => {
            anyhow::anyhow!("--size {size}: {message}")
        }
        e => e.into(),
    }
}

/// Square grayscale images `(n, 1, side, side)` from the pixel columns `(n, side²)` of a
/// table read from `csv`, each pixel multiplied by `scale`.
pub fn pixel_rows_to_images(
    pixels: &Tensor,
    side: usize,
    scale: f32,
    csv: &std::path::Path,
) -> anyhow::Result<Tensor> {
    let [n, columns] = [pixels.dims()[0], pixels.dims()[1]];
    if columns != side * side {
        anyhow::bail!(
            "{}: {columns} pixel columns do not make {side}x{side} images",
            csv.display()
        );
    }
    Ok((pixels * scale).reshape([n, 1, side, side]))
}
