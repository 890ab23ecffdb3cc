//! Image folders: a folder of images with a labels CSV, or one sub-folder per class, decoded
//! in parallel into one `(N, C, H, W)` tensor scaled to [0, 1].

use std::path::{Path, PathBuf};

use image::imageops::FilterType;
use rayon::prelude::*;

use super::csv::LineCounter;
use super::{LabelEncoder, TensorDataset};
use crate::error::{FerriteError, Result};
use crate::Tensor;

/// The channels images are converted to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ColorMode {
    /// One channel of luminance.
    #[default]
    Gray,
    /// Three channels, red, green, blue.
    Rgb,
}

impl ColorMode {
    /// The number of channels.
    pub fn channels(self) -> usize {
        match self {
            ColorMode::Gray => 1,
            ColorMode::Rgb => 3,
        }
    }
}

/// Images with their labels: `images` `(N, C, H, W)` and `labels` `(N)`.
#[derive(Clone, Debug)]
pub struct ImageSet {
    /// Pixel values scaled to [0, 1] (then normalised when asked), `(N, C, H, W)`.
    pub images: Tensor,
    /// The label of each image: a number, or a class index when labels are text or folders.
    pub labels: Tensor,
    /// The class names of text labels or sub-folders (index `i` is class `i`).
    pub label_encoder: Option<LabelEncoder>,
    /// The file of each image.
    pub paths: Vec<PathBuf>,
}

impl ImageSet {
    /// The images and labels as a [`TensorDataset`].
    pub fn dataset(&self) -> TensorDataset {
        TensorDataset::new(self.images.clone(), self.labels.clone())
    }
}

/// How to load images: colour mode, size, normalisation.
///
/// ```no_run
/// use ferrite::data::{ColorMode, ImageOptions};
/// let set = ImageOptions::new()
///     .color(ColorMode::Gray)
///     .size(64, 64)
///     .load_with_labels("data/elpv64/images", "data/elpv64/labels.csv", "image", "defect_probability")
///     .unwrap();
/// assert_eq!(set.images.dims(), &[2624, 1, 64, 64]);
/// let defective = set.labels.ge_scalar(0.5); // 1 for defect probability >= 0.5
/// # let _ = defective;
/// ```
#[derive(Clone, Debug, Default)]
pub struct ImageOptions {
    color: ColorMode,
    size: Option<(usize, usize)>,
    normalize: Option<(Vec<f32>, Vec<f32>)>,
}

impl ImageOptions {
    /// Grayscale, native size, no normalisation.
    pub fn new() -> Self {
        Self::default()
    }

    /// Converts every image to `color`.
    pub fn color(mut self, color: ColorMode) -> Self {
        self.color = color;
        self
    }

    /// Resizes every image to `height × width` (bilinear). Without it, all images must have
    /// the size of the first one.
    pub fn size(mut self, height: usize, width: usize) -> Self {
        self.size = Some((height, width));
        self
    }

    /// After scaling to [0, 1], maps channel `c` to `(x - mean[c]) / std[c]`, like
    /// torchvision's `Normalize`.
    pub fn normalize(mut self, mean: &[f32], std: &[f32]) -> Self {
        self.normalize = Some((mean.to_vec(), std.to_vec()));
        self
    }

    /// Loads the images of `folder` listed in the CSV file `labels_csv`: column `image_column`
    /// holds file names relative to `folder`, column `label_column` the labels (numbers, or
    /// text encoded as sorted class indices).
    pub fn load_with_labels(
        &self,
        folder: impl AsRef<Path>,
        labels_csv: impl AsRef<Path>,
        image_column: &str,
        label_column: &str,
    ) -> Result<ImageSet> {
        let (folder, csv_path) = (folder.as_ref(), labels_csv.as_ref());
        let (names, labels, lines) = read_label_file(csv_path, image_column, label_column)?;
        let paths: Vec<PathBuf> = names.iter().map(|n| folder.join(n)).collect();
        // Numbers stay numbers; any text makes every label a class name.
        let numbers: Option<Vec<f32>> = labels
            .iter()
            .map(|l| l.parse::<f32>().ok().filter(|v| v.is_finite()))
            .collect();
        let (labels, encoder) = match numbers {
            Some(values) => (values, None),
            None => {
                let mut enc = LabelEncoder::new();
                let idx = enc.fit_transform(&labels);
                (idx.into_iter().map(|i| i as f32).collect(), Some(enc))
            }
        };
        let images = self.decode_all(&paths, Some((csv_path, &lines)))?;
        Ok(ImageSet {
            labels: Tensor::from_vec(labels, [paths.len()]),
            images,
            label_encoder: encoder,
            paths,
        })
    }

    /// Loads `root/<class>/<image>` for every sub-folder `<class>` of `root` (sorted by name,
    /// class `i` is the `i`-th), like torchvision's `ImageFolder`.
    pub fn load_class_folders(&self, root: impl AsRef<Path>) -> Result<ImageSet> {
        let root = root.as_ref();
        let io = |path: &Path, source| FerriteError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut classes: Vec<(String, PathBuf)> = Vec::new();
        for entry in std::fs::read_dir(root).map_err(|e| io(root, e))? {
            let entry = entry.map_err(|e| io(root, e))?;
            if entry
                .file_type()
                .map_err(|e| io(&entry.path(), e))?
                .is_dir()
            {
                classes.push((
                    entry.file_name().to_string_lossy().into_owned(),
                    entry.path(),
                ));
            }
        }
        classes.sort();
        if classes.is_empty() {
            return Err(FerriteError::Data {
                path: root.to_path_buf(),
                line: 0,
                message: "no class sub-folders; expected one folder of images per class".into(),
            });
        }
        let (mut paths, mut labels) = (Vec::new(), Vec::new());
        for (k, (_, dir)) in classes.iter().enumerate() {
            let mut files: Vec<PathBuf> = Vec::new();
            for entry in std::fs::read_dir(dir).map_err(|e| io(dir, e))? {
                let path = entry.map_err(|e| io(dir, e))?.path();
                if path.is_file() && !is_hidden(&path) {
                    files.push(path);
                }
            }
            files.sort();
            labels.extend(vec![k as f32; files.len()]);
            paths.extend(files);
        }
        let mut encoder = LabelEncoder::new();
        encoder.fit(
            &classes
                .iter()
                .map(|(name, _)| name.as_str())
                .collect::<Vec<_>>(),
        );
        let images = self.decode_all(&paths, None)?;
        Ok(ImageSet {
            labels: Tensor::from_vec(labels, [paths.len()]),
            images,
            label_encoder: Some(encoder),
            paths,
        })
    }

    /// Loads images without labels, for prediction: `path` is one image file, or a folder
    /// whose image files (in it and its sub-folders, hidden ones skipped) are taken in sorted
    /// order. Returns the `(N, C, H, W)` images and their paths.
    ///
    /// ```no_run
    /// use ferrite::data::{ColorMode, ImageOptions};
    /// let (images, paths) = ImageOptions::new()
    ///     .color(ColorMode::Gray)
    ///     .size(64, 64)
    ///     .load_unlabelled("new_cells/")
    ///     .unwrap();
    /// assert_eq!(images.dims()[0], paths.len());
    /// ```
    pub fn load_unlabelled(&self, path: impl AsRef<Path>) -> Result<(Tensor, Vec<PathBuf>)> {
        let path = path.as_ref();
        let io = |p: &Path, source| FerriteError::Io {
            path: p.to_path_buf(),
            source,
        };
        let meta = std::fs::metadata(path).map_err(|e| io(path, e))?;
        let mut paths = Vec::new();
        if meta.is_dir() {
            let mut folders = vec![path.to_path_buf()];
            while let Some(dir) = folders.pop() {
                for entry in std::fs::read_dir(&dir).map_err(|e| io(&dir, e))? {
                    let p = entry.map_err(|e| io(&dir, e))?.path();
                    if is_hidden(&p) {
                        continue;
                    }
                    if p.is_dir() {
                        folders.push(p);
                    } else if p.is_file() {
                        paths.push(p);
                    }
                }
            }
            paths.sort();
            if paths.is_empty() {
                return Err(FerriteError::Data {
                    path: path.to_path_buf(),
                    line: 0,
                    message: "no image files in this folder".into(),
                });
            }
        } else {
            paths.push(path.to_path_buf());
        }
        let images = self.decode_all(&paths, None)?;
        Ok((images, paths))
    }

    /// Decodes `paths` in parallel into one `(N, C, H, W)` tensor.
    fn decode_all(
        &self,
        paths: &[PathBuf],
        listed_in: Option<(&Path, &[usize])>,
    ) -> Result<Tensor> {
        let c = self.color.channels();
        if let Some((mean, std)) = &self.normalize {
            if mean.len() != c || std.len() != c || std.iter().any(|&s| s <= 0.0 || !s.is_finite())
            {
                return Err(FerriteError::invalid(
                    "normalize",
                    format!("needs {c} means and {c} positive stds for {c} channel(s), got {mean:?} and {std:?}"),
                ));
            }
        }
        let (h, w) = match self.size {
            Some((h, w)) if h > 0 && w > 0 => (h, w),
            Some(_) => {
                return Err(FerriteError::invalid(
                    "size",
                    "height and width must be positive",
                ))
            }
            None => match paths.first() {
                // Without a size, the first image sets it.
                Some(p) => {
                    let (w, h) = image::image_dimensions(p).map_err(|e| unreadable(p, e, None))?;
                    (h as usize, w as usize)
                }
                None => (1, 1),
            },
        };
        let plane = c * h * w;
        let mut data = vec![0f32; paths.len() * plane];
        data.par_chunks_mut(plane).zip(paths.par_iter().enumerate()).try_for_each(|(out, (i, path))| {
            let listed = listed_in.map(|(csv, lines)| (csv, lines[i]));
            let img = image::open(path).map_err(|e| unreadable(path, e, listed))?;
            let img = if (img.width() as usize, img.height() as usize) == (w, h) {
                img
            } else if self.size.is_some() {
                img.resize_exact(w as u32, h as u32, FilterType::Triangle)
            } else {
                return Err(FerriteError::Data {
                    path: path.clone(),
                    line: 0,
                    message: format!(
                        "the image is {}x{} but the first one is {w}x{h}; set a size to resize them all",
                        img.width(),
                        img.height()
                    ),
                });
            };
            match self.color {
                ColorMode::Gray => to_planes(img.to_luma8().as_raw(), 1, out),
                ColorMode::Rgb => to_planes(img.to_rgb8().as_raw(), 3, out),
            }
            if let Some((mean, std)) = &self.normalize {
                for (k, channel) in out.chunks_mut(h * w).enumerate() {
                    channel.iter_mut().for_each(|v| *v = (*v - mean[k]) / std[k]);
                }
            }
            Ok(())
        })?;
        Ok(Tensor::from_vec(data, [paths.len(), c, h, w]))
    }
}

/// Interleaved 8-bit pixels (`h·w` pixels of `c` values) as channel planes in [0, 1].
fn to_planes(pixels: &[u8], c: usize, out: &mut [f32]) {
    let hw = out.len() / c;
    for (p, px) in pixels.chunks_exact(c).enumerate() {
        for (k, &v) in px.iter().enumerate() {
            out[k * hw + p] = v as f32 / 255.0;
        }
    }
}

fn is_hidden(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
}

/// The error for an image that cannot be opened or decoded, naming its path (and the line of
/// the labels file that lists it).
fn unreadable(path: &Path, e: image::ImageError, listed: Option<(&Path, usize)>) -> FerriteError {
    let listed = listed.map_or(String::new(), |(csv, line)| {
        format!(" (listed on line {line} of {})", csv.display())
    });
    FerriteError::Data {
        path: path.to_path_buf(),
        line: 0,
        message: format!("cannot read the image: {e}{listed}"),
    }
}

/// The image names, label texts and line numbers of a labels CSV.
fn read_label_file(
    path: &Path,
    image_column: &str,
    label_column: &str,
) -> Result<(Vec<String>, Vec<String>, Vec<usize>)> {
    let err = |line: usize, message: String| FerriteError::Data {
        path: path.to_path_buf(),
        line,
        message,
    };
    let bytes = std::fs::read(path).map_err(|source| FerriteError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(bytes.as_slice());
    let header = reader.headers().map_err(|e| err(1, e.to_string()))?.clone();
    if header.is_empty() {
        return Err(err(
            1,
            "the file is empty; expected a header row of column names".into(),
        ));
    }
    let find = |name: &str| {
        header.iter().position(|h| h.trim() == name).ok_or_else(|| {
            err(
                1,
                format!(
                    "no column named {name:?}; the columns are {}",
                    header.iter().collect::<Vec<_>>().join(", ")
                ),
            )
        })
    };
    let (ic, lc) = (find(image_column)?, find(label_column)?);
    let (mut names, mut labels, mut lines) = (Vec::new(), Vec::new(), Vec::new());
    let mut lines_of = LineCounter::new(&bytes);
    for record in reader.records() {
        let record = record.map_err(|e| err(lines_of.line(e.position()), e.to_string()))?;
        let line = lines_of.line(record.position());
        if record.len() != header.len() {
            return Err(err(
                line,
                format!(
                    "the row has {} fields but the header has {} columns",
                    record.len(),
                    header.len()
                ),
            ));
        }
        let (name, label) = (record[ic].trim(), record[lc].trim());
        if name.is_empty() || label.is_empty() {
            let column = if name.is_empty() {
                image_column
            } else {
                label_column
            };
            return Err(err(
                line,
                format!("column {column:?}: the value is missing"),
            ));
        }
        names.push(name.to_string());
        labels.push(label.to_string());
        lines.push(line);
    }
    if names.is_empty() {
        return Err(err(1, "the file has a header but no data rows".into()));
    }
    Ok((names, labels, lines))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interleaved_pixels_become_channel_planes() {
        let pixels = [0u8, 255, 51, 102, 0, 255]; // two RGB pixels
        let mut out = [0f32; 6];
        to_planes(&pixels, 3, &mut out);
        assert_eq!(out, [0.0, 0.4, 1.0, 0.0, 0.2, 1.0]);
    }
}
