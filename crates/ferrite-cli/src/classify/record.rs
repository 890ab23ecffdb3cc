//! What `model.json` records of an image classifier's preprocessing
//! ([`ImagePreprocessing`]), and reading images the way the model reads them.

use ferrite::data::{ChannelStats, ColorMode, Dataset, ImageFolder};
use ferrite::Tensor;

use super::{HeldOut, ImageSource};

/// What `model.json` records for an image classifier.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct ImagePreprocessing {
    /// Always "image".
    pub kind: String,
    /// Where the images come from.
    pub data: ImageSource,
    /// Class names in index order.
    pub classes: Vec<String>,
    /// Positions (in the loaded set) of the held-out test images; empty when the test
    /// images are a separate folder (`test_folder`).
    pub test_rows: Vec<usize>,
    /// The separate folder of test images (`train --test-images`), one sub-folder per class,
    /// read with the same preprocessing; absent when the test split was cut from `data`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_folder: Option<std::path::PathBuf>,
    /// The channels the images are read with: 1 (grayscale, `image`'s Rec. 709 luma) or 3
    /// (red, green, blue). Runs from before colour images recorded none: 1.
    #[serde(default = "one_channel")]
    pub channels: usize,
    /// The mean of each channel over the training images (pixels scaled to [0, 1]), which
    /// inputs are normalised with, `(x - mean) / std`; empty for runs whose images are not
    /// normalised (those from before per-channel normalisation, and the built-in examples).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mean: Vec<f64>,
    /// The standard deviation of each channel over the training images (see `mean`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub std: Vec<f64>,
}

/// What a record without `channels` (written before colour images) read: grayscale.
fn one_channel() -> usize {
    1
}

impl ImagePreprocessing {
    /// The record for `data`, its classes and its test split.
    pub fn new(data: ImageSource, classes: Vec<String>, test_rows: Vec<usize>) -> Self {
        ImagePreprocessing {
            kind: "image".into(),
            data,
            classes,
            test_rows,
            test_folder: None,
            channels: 1,
            mean: Vec::new(),
            std: Vec::new(),
        }
    }

    /// The record of images read with `channels` channels (1 or 3).
    pub fn with_channels(mut self, channels: usize) -> Self {
        self.channels = channels;
        self
    }

    /// The record of images normalised with `stats`, one mean and deviation per channel.
    pub fn with_stats(mut self, stats: &ChannelStats) -> Self {
        self.mean = stats.mean.clone();
        self.std = stats.std.clone();
        self
    }

    /// The colour mode of the recorded channels, checking them: a hand-edited or corrupt
    /// model.json is an error naming the field, never a panic.
    pub fn color(&self) -> anyhow::Result<ColorMode> {
        match self.channels {
            1 => Ok(ColorMode::Gray),
            3 => Ok(ColorMode::Rgb),
            c => anyhow::bail!(
                "model.json: the preprocessing's channels is {c}, but images are read with 1 \
                 (grayscale) or 3 (colour) channels; the file was edited or is corrupt: retrain \
                 the model"
            ),
        }
    }

    /// The recorded normalisation (none for records without one), checked: one finite mean
    /// and one positive finite deviation per channel.
    pub fn stats(&self) -> anyhow::Result<Option<ChannelStats>> {
        let c = self.color()?.channels();
        if self.mean.is_empty() && self.std.is_empty() {
            return Ok(None);
        }
        let finite = self.mean.iter().all(|m| m.is_finite())
            && self.std.iter().all(|s| s.is_finite() && *s > 0.0);
        if self.mean.len() != c || self.std.len() != c || !finite {
            anyhow::bail!(
                "model.json: the preprocessing's mean {:?} and std {:?} are not one finite mean \
                 and one positive std for each of its {c} channel(s); the file was edited or is \
                 corrupt: retrain the model",
                self.mean,
                self.std
            );
        }
        Ok(Some(ChannelStats {
            mean: self.mean.clone(),
            std: self.std.clone(),
        }))
    }

    /// The recorded data (`data`) or another source read as this model reads its inputs:
    /// the recorded channels, normalised with the recorded statistics.
    fn load_source(
        &self,
        source: &ImageSource,
    ) -> anyhow::Result<(Tensor, Tensor, Option<Vec<String>>)> {
        let color = self.color()?;
        source.load_as(Some(color), self.stats()?.as_ref())
    }

    /// The record of a model scored on the separate test folder `dir` (no test rows).
    pub fn with_test_folder(mut self, dir: std::path::PathBuf) -> Self {
        self.test_rows.clear();
        self.test_folder = Some(dir);
        self
    }

    /// The images of the class sub-folders of `dir`, read with this model's preprocessing
    /// (decoded batch by batch, normalised as the model reads them, up to `cache_bytes` of
    /// them kept decoded), labelled with the model's class indices. `dir` may lack some of
    /// the model's classes; a class folder the model does not know is an error naming it.
    pub fn folder_images(
        &self,
        dir: &std::path::Path,
        cache_bytes: u64,
    ) -> anyhow::Result<ImageFolder> {
        let (folder, names) = self
            .data
            .class_folders(dir)?
            .folder_as(Some(self.color()?), cache_bytes)?;
        let names = names.unwrap_or_default();
        // The folder's class i is the model's class map[i] (a folder may lack classes, which
        // shifts its indices).
        let map: Vec<Option<usize>> = names
            .iter()
            .map(|n| self.classes.iter().position(|c| c == n))
            .collect();
        let unknown: Vec<String> = names
            .iter()
            .zip(&map)
            .filter(|(_, m)| m.is_none())
            .map(|(n, _)| dir.join(n).display().to_string())
            .collect();
        if !unknown.is_empty() {
            anyhow::bail!(
                "{}: the class folder(s) {} are not classes of the model, which knows {}; \
                 remove or rename them (images of a class the model was not trained on \
                 cannot be scored)",
                dir.display(),
                unknown.join(", "),
                self.classes.join(", ")
            );
        }
        let labels: Vec<f32> = folder
            .labels()
            .iter()
            .map(|&v| map[v as usize].unwrap_or_default() as f32)
            .collect();
        let folder = folder.relabelled(&labels);
        Ok(match self.stats()? {
            Some(stats) => {
                let (mean, std) = stats.as_f32();
                folder.normalized(&mean, &std)
            }
            None => folder,
        })
    }

    /// The held-out images: the recorded rows of the training data, or the separate test
    /// folder; image files are decoded batch by batch when scored.
    pub fn held_out(&self) -> anyhow::Result<HeldOut> {
        if let Some(dir) = &self.test_folder {
            return Ok(HeldOut::Folder(self.folder_images(dir, 0)?));
        }
        let check_classes = |names: Option<Vec<String>>| -> anyhow::Result<()> {
            // Class indices are positions in the class list: if the classes changed, the
            // recorded indices would score the wrong classes.
            if let Some(names) = names.filter(|n| *n != self.classes) {
                anyhow::bail!(
                    "the image data has changed since training: its classes are {} but the \
                     model was trained on {}; train again on the new data",
                    names.join(", "),
                    self.classes.join(", ")
                );
            }
            Ok(())
        };
        let changed = || {
            anyhow::anyhow!(
                "the image data has changed since training: it has fewer images than the \
                 recorded test split"
            )
        };
        if let ImageSource::Folder { .. } = &self.data {
            let (folder, names) = self.data.folder_as(Some(self.color()?), 0)?;
            check_classes(names)?;
            if self.test_rows.iter().any(|&r| r >= folder.len()) {
                return Err(changed());
            }
            let folder = folder.subset(&self.test_rows);
            return Ok(HeldOut::Folder(match self.stats()? {
                Some(stats) => {
                    let (mean, std) = stats.as_f32();
                    folder.normalized(&mean, &std)
                }
                None => folder,
            }));
        }
        let (x, y, names) = self.load_source(&self.data)?;
        check_classes(names)?;
        if self.test_rows.iter().any(|&r| r >= y.numel()) {
            return Err(changed());
        }
        Ok(HeldOut::Tensors(
            x.index_select(0, &self.test_rows),
            y.index_select(0, &self.test_rows),
        ))
    }
}
