//! Image folders: a folder of images with a labels CSV, or one sub-folder per class, decoded
//! in parallel into one `(N, C, H, W)` tensor scaled to [0, 1].
//!
//! Input policy, as for every reader of user files: a malformed folder, image or labels file
//! is an error naming the file (and, in a labels file, the line, the column by 1-based number
//! and name, and the value) and what to do; nothing panics. What is skipped instead of
//! refused (an empty class folder) is reported in [`ImageSet::warnings`] for the caller to
//! show: the library prints nothing itself.

use std::path::{Path, PathBuf};

use super::csv::LineCounter;
use super::image_decode::{any_color, data_error, decode_images, DecodeSettings};
use super::memory::{available_memory, check_memory};
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
    /// The label of each image: a number, or a class index when labels are text, folders, or
    /// numbers read as classes ([`ImageOptions::labels_as_classes`]).
    pub labels: Tensor,
    /// The encoder of text labels or sub-folder names (index `i` is class `i`); `None` for
    /// numbers, also numbers read as classes, whose order is numeric, not the encoder's text
    /// order (see [`ImageSet::classes`]).
    pub label_encoder: Option<LabelEncoder>,
    /// The class names in index order, for every kind of class label (folders, text, numbers
    /// read as classes); only classes that have images are listed, so every index in
    /// `0..classes.len()` occurs. Empty when the labels are numbers.
    pub classes: Vec<String>,
    /// The file of each image.
    pub paths: Vec<PathBuf>,
    /// What loading skipped, one sentence each (an empty class folder), for the caller to
    /// show; the library does not print.
    pub warnings: Vec<String>,
}

impl ImageSet {
    /// The images and labels as a [`TensorDataset`].
    pub fn dataset(&self) -> TensorDataset {
        TensorDataset::new(self.images.clone(), self.labels.clone())
    }

    /// The channels of the images: 1 (grayscale) or 3 (red, green, blue), as chosen or as
    /// found by [`ImageOptions::auto_color`].
    pub fn channels(&self) -> usize {
        self.images.dims().get(1).copied().unwrap_or(1)
    }
}

/// How to load images: colour mode, size, normalisation, how labels are read.
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
///
/// Before decoding, the memory the images need (`N · C · H · W` 32-bit floats, plus a
/// decode buffer per thread) is compared with the free memory, and a load that cannot fit
/// is refused with the largest size that would.
#[derive(Clone, Debug, Default)]
pub struct ImageOptions {
    color: ColorChoice,
    size: Option<(usize, usize)>,
    normalize: Option<(Vec<f32>, Vec<f32>)>,
    label_classes: bool,
}

/// The colour mode asked for: one, or the one the images need.
#[derive(Clone, Copy, Debug)]
enum ColorChoice {
    Fixed(ColorMode),
    Auto,
}

impl Default for ColorChoice {
    fn default() -> Self {
        ColorChoice::Fixed(ColorMode::default())
    }
}

impl ImageOptions {
    /// Grayscale, native size, no normalisation, numeric labels kept as numbers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Converts every image to `color`.
    pub fn color(mut self, color: ColorMode) -> Self {
        self.color = ColorChoice::Fixed(color);
        self
    }

    /// Reads the images in colour ([`ColorMode::Rgb`]) when any of those loaded is a colour
    /// image, and in grayscale otherwise (see [`is_color_image`](super::is_color_image):
    /// an RGB file whose every pixel is gray counts as gray). The mode found is the
    /// images' channel count, [`ImageSet::channels`]. Finding it reads the files before
    /// decoding them: only the first colour ones in a colour set, only the headers of files
    /// stored as gray, and all of a set of gray pictures stored as RGB, which then decodes
    /// twice. A later [`color`](Self::color) replaces it.
    ///
    /// ```no_run
    /// use ferrite::data::ImageOptions;
    /// let set = ImageOptions::new().auto_color().size(32, 32).load_class_folders("food/").unwrap();
    /// assert_eq!(set.channels(), 3); // photos
    /// ```
    pub fn auto_color(mut self) -> Self {
        self.color = ColorChoice::Auto;
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

    /// With `true`, the labels of a labels CSV are classes even when they are numbers (a
    /// classification task): the distinct values that occur become classes `0..K` in
    /// ascending numeric order, named by their text (labels `1`, `2` are classes 0 and 1,
    /// named "1" and "2"; `1` and `1.0` are one class), so no class is empty and a large
    /// label value costs nothing. Text labels are classes either way.
    ///
    /// ```no_run
    /// use ferrite::data::ImageOptions;
    /// let set = ImageOptions::new()
    ///     .labels_as_classes(true)
    ///     .load_with_labels("cells/", "cells/grades.csv", "image", "grade")
    ///     .unwrap();
    /// assert_eq!(set.classes, ["1", "2", "10"]); // numeric order
    /// ```
    pub fn labels_as_classes(mut self, yes: bool) -> Self {
        self.label_classes = yes;
        self
    }

    /// Loads the images of `folder` listed in the CSV file `labels_csv`: column `image_column`
    /// holds file names relative to `folder`, column `label_column` the labels. Labels that
    /// are all numbers stay numbers (unless [`labels_as_classes`](Self::labels_as_classes));
    /// otherwise they are class names, encoded as sorted class indices. A column of mostly
    /// numbers with some text (a stray `?`) is an error naming the line and value, not a
    /// silent switch to classes.
    pub fn load_with_labels(
        &self,
        folder: impl AsRef<Path>,
        labels_csv: impl AsRef<Path>,
        image_column: &str,
        label_column: &str,
    ) -> Result<ImageSet> {
        self.check_options()?;
        let (folder, csv_path) = (folder.as_ref(), labels_csv.as_ref());
        let file = read_label_file(csv_path, image_column, label_column)?;
        let paths: Vec<PathBuf> = file.names.iter().map(|n| folder.join(n)).collect();
        let (labels, classes, encoder) = self.encode_labels(csv_path, &file)?;
        let images = self.decode_all(&paths, Some((csv_path, &file.lines)))?;
        Ok(ImageSet {
            labels: Tensor::from_vec(labels, [paths.len()]),
            images,
            label_encoder: encoder,
            classes,
            paths,
            warnings: Vec::new(),
        })
    }

    /// Loads `root/<class>/<image>` for every sub-folder `<class>` of `root` that holds
    /// image files (sorted by name, class `i` is the `i`-th), like torchvision's
    /// `ImageFolder`. Every file directly inside a class folder is read as an image (one that
    /// cannot be decoded is an error naming it); hidden files and folders (names starting
    /// with `.`) are ignored. A sub-folder without image files is not a class: it is skipped
    /// with a note in [`ImageSet::warnings`]. No class folder with images is an error.
    pub fn load_class_folders(&self, root: impl AsRef<Path>) -> Result<ImageSet> {
        self.check_options()?;
        let root = root.as_ref();
        let mut folders: Vec<(String, PathBuf)> = Vec::new();
        for entry in std::fs::read_dir(root).map_err(|e| io(root, e))? {
            let path = entry.map_err(|e| io(root, e))?.path();
            // `is_dir` follows symbolic links, so a linked class folder counts.
            if path.is_dir() && !is_hidden(&path) {
                let name = path
                    .file_name()
                    .map_or(String::new(), |n| n.to_string_lossy().into_owned());
                folders.push((name, path));
            }
        }
        folders.sort();
        if folders.is_empty() {
            return Err(data_error(
                root,
                "no class sub-folders; expected one sub-folder of images per class \
                 (root/<class>/<image>), or a labels file that lists the images",
            ));
        }
        let (mut classes, mut paths, mut labels) = (Vec::new(), Vec::new(), Vec::new());
        let mut warnings = Vec::new();
        for (name, dir) in &folders {
            let (mut files, mut nested) = (Vec::new(), 0usize);
            for entry in std::fs::read_dir(dir).map_err(|e| io(dir, e))? {
                let path = entry.map_err(|e| io(dir, e))?.path();
                if is_hidden(&path) {
                    continue;
                }
                if path.is_file() {
                    files.push(path);
                } else if path.is_dir() {
                    nested += 1;
                }
            }
            if files.is_empty() {
                // An empty folder must not become a class: it would shift every later
                // class index and leave a class no image has.
                let inside = if nested > 0 {
                    format!(
                        " (it holds {nested} folder(s); images must lie directly in a class folder)"
                    )
                } else {
                    String::new()
                };
                warnings.push(format!(
                    "{}: no image files{inside}, so it is not a class; skipped",
                    dir.display()
                ));
                continue;
            }
            files.sort();
            labels.extend(vec![classes.len() as f32; files.len()]);
            paths.extend(files);
            classes.push(name.clone());
        }
        if classes.is_empty() {
            return Err(data_error(
                root,
                &format!(
                    "none of its {} sub-folder(s) holds image files; put each class's images \
                     directly in its folder (root/<class>/<image>)",
                    folders.len()
                ),
            ));
        }
        let mut encoder = LabelEncoder::new();
        encoder.fit(&classes);
        let images = self.decode_all(&paths, None)?;
        Ok(ImageSet {
            labels: Tensor::from_vec(labels, [paths.len()]),
            images,
            label_encoder: Some(encoder),
            classes,
            paths,
            warnings,
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
        self.check_options()?;
        let path = path.as_ref();
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
                return Err(data_error(path, "no image files in this folder"));
            }
        } else {
            paths.push(path.to_path_buf());
        }
        let images = self.decode_all(&paths, None)?;
        Ok((images, paths))
    }

    /// Refuses options that cannot work, before any file is read (with automatic colour,
    /// the channel count of the normalisation is checked once it is known).
    fn check_options(&self) -> Result<()> {
        if let ColorChoice::Fixed(color) = self.color {
            self.check_normalize(color.channels())?;
        }
        if let Some((h, w)) = self.size {
            // The decoder counts pixels in u32.
            let most = u32::MAX as usize;
            if h == 0 || w == 0 || h > most || w > most {
                return Err(FerriteError::invalid(
                    "size",
                    format!("height and width must be between 1 and {most} pixels, got {h}x{w}"),
                ));
            }
        }
        Ok(())
    }

    /// Refuses a normalisation that does not give `c` channels finite values.
    fn check_normalize(&self, c: usize) -> Result<()> {
        if let Some((mean, std)) = &self.normalize {
            if mean.len() != c
                || std.len() != c
                || mean.iter().any(|m| !m.is_finite())
                || std.iter().any(|&s| s <= 0.0 || !s.is_finite())
            {
                return Err(FerriteError::invalid(
                    "normalize",
                    format!("needs {c} finite means and {c} positive stds for {c} channel(s), got {mean:?} and {std:?}"),
                ));
            }
            // Pixels lie in [0, 1]: (0 - mean) / std and (1 - mean) / std must stay finite.
            let overflows = mean
                .iter()
                .zip(std)
                .any(|(m, s)| !((0.0 - m) / s).is_finite() || !((1.0 - m) / s).is_finite());
            if overflows {
                return Err(FerriteError::invalid(
                    "normalize",
                    format!(
                        "means {mean:?} and stds {std:?} map pixel values in [0, 1] to infinity; \
                         use stds near the data's spread (about 0.1 to 1)"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Label values, class names and encoder for the labels of a labels file.
    fn encode_labels(
        &self,
        csv_path: &Path,
        file: &LabelFile,
    ) -> Result<(Vec<f32>, Vec<String>, Option<LabelEncoder>)> {
        // `+ 0.0` turns -0 into 0, so that "-0" and "0" are one class.
        let numbers: Vec<Option<f64>> = file
            .labels
            .iter()
            .map(|l| {
                l.parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite())
                    .map(|v| v + 0.0)
            })
            .collect();
        let numeric = numbers.iter().filter(|v| v.is_some()).count();
        if numeric == numbers.len() {
            let values: Vec<f64> = numbers.into_iter().flatten().collect();
            if self.label_classes {
                let (indices, classes) = numeric_classes(&values, &file.labels);
                return Ok((indices, classes, None));
            }
            if let Some(i) = values.iter().position(|v| v.abs() > f32::MAX as f64) {
                return Err(file.error_at(
                    csv_path,
                    i,
                    "is beyond the range of 32-bit floats (about 3.4e38); scale the labels, or \
                     read them as classes",
                ));
            }
            return Ok((values.iter().map(|&v| v as f32).collect(), Vec::new(), None));
        }
        if !self.label_classes && numeric * 2 > numbers.len() {
            // Mostly numbers: a stray marker is a typo or a missing value, not a reason to
            // turn every number into a class name.
            let i = numbers.iter().position(|v| v.is_none()).unwrap_or(0);
            return Err(file.error_at(
                csv_path,
                i,
                &format!(
                    "is not a number, but {numeric} of the {} labels are; correct the value or \
                     remove the row",
                    numbers.len()
                ),
            ));
        }
        let mut encoder = LabelEncoder::new();
        let indices = encoder.fit_transform(&file.labels);
        let classes = encoder.classes().to_vec();
        Ok((
            indices.into_iter().map(|i| i as f32).collect(),
            classes,
            Some(encoder),
        ))
    }

    /// Decodes `paths` in parallel into one `(N, C, H, W)` tensor, in the colour mode
    /// chosen or (with [`auto_color`](Self::auto_color)) found.
    fn decode_all(
        &self,
        paths: &[PathBuf],
        listed_in: Option<(&Path, &[usize])>,
    ) -> Result<Tensor> {
        let color = match self.color {
            ColorChoice::Fixed(color) => color,
            ColorChoice::Auto if any_color(paths, listed_in)? => ColorMode::Rgb,
            ColorChoice::Auto => ColorMode::Gray,
        };
        self.check_normalize(color.channels())?;
        let settings = DecodeSettings {
            color,
            size: self.size,
            normalize: self
                .normalize
                .as_ref()
                .map(|(m, s)| (m.as_slice(), s.as_slice())),
        };
        decode_images(paths, listed_in, &settings)
    }
}

fn is_hidden(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with('.'))
}

fn io(path: &Path, source: std::io::Error) -> FerriteError {
    FerriteError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Distinct numeric labels as classes in ascending order: the class index of each label and
/// the class names (the text of each value's first occurrence).
fn numeric_classes(values: &[f64], texts: &[String]) -> (Vec<f32>, Vec<String>) {
    let mut order: Vec<usize> = (0..values.len()).collect();
    // A stable sort keeps first occurrences first among equal values.
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut distinct: Vec<f64> = Vec::new();
    let mut classes: Vec<String> = Vec::new();
    for &i in &order {
        if distinct.last() != Some(&values[i]) {
            distinct.push(values[i]);
            classes.push(texts[i].clone());
        }
    }
    let indices = values
        .iter()
        .map(|v| distinct.partition_point(|d| d < v) as f32)
        .collect();
    (indices, classes)
}

/// A value for a message: long values are cut, so that the message stays readable.
fn shown(value: &str) -> String {
    const MOST: usize = 40;
    if value.chars().count() <= MOST {
        format!("{value:?}")
    } else {
        let head: String = value.chars().take(MOST).collect();
        format!("{head:?}… ({} characters)", value.chars().count())
    }
}

/// The rows of a labels CSV: image names, label texts, the line of each, and where the label
/// column is (for messages).
struct LabelFile {
    names: Vec<String>,
    labels: Vec<String>,
    lines: Vec<usize>,
    /// `column 2 ("label")`.
    label_column: String,
}

impl LabelFile {
    /// An error about the label of row `i`: `path:line: column k ("name"): "value" <what>`.
    fn error_at(&self, path: &Path, i: usize, what: &str) -> FerriteError {
        FerriteError::Data {
            path: path.to_path_buf(),
            line: self.lines[i],
            message: format!("{}: {} {what}", self.label_column, shown(&self.labels[i])),
        }
    }
}

/// `column 2 ("label")` for the 0-based `index` of column `name`.
fn column(index: usize, name: &str) -> String {
    format!("column {} ({name:?})", index + 1)
}

/// Reads a labels CSV: a regular text file, with the two columns named.
fn read_label_file(path: &Path, image_column: &str, label_column: &str) -> Result<LabelFile> {
    let err = |line: usize, message: String| FerriteError::Data {
        path: path.to_path_buf(),
        line,
        message,
    };
    let meta = std::fs::metadata(path).map_err(|e| io(path, e))?;
    if !meta.is_file() {
        // A device or a pipe could be read forever.
        return Err(data_error(
            path,
            "is not a regular file; give the labels as a CSV file",
        ));
    }
    check_memory(
        Some(meta.len()),
        available_memory(),
        "reading the labels file",
        "split it, or free memory",
    )?;
    let bytes = std::fs::read(path).map_err(|e| io(path, e))?;
    if let Some(at) = bytes.iter().take(8192).position(|&b| b == 0) {
        return Err(data_error(
            path,
            &format!(
                "is not a text CSV file (a NUL byte at offset {at}); give the labels as a CSV file"
            ),
        ));
    }
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
                    "no column named {name:?}; the columns are {}; name the image file column \
                     {image_column:?} and the label column {label_column:?}",
                    header
                        .iter()
                        .map(|h| format!("{h:?}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        })
    };
    let (ic, lc) = (find(image_column)?, find(label_column)?);
    let mut file = LabelFile {
        names: Vec::new(),
        labels: Vec::new(),
        lines: Vec::new(),
        label_column: column(lc, label_column),
    };
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
        for (value, index, heading) in [(name, ic, image_column), (label, lc, label_column)] {
            if value.is_empty() {
                return Err(err(
                    line,
                    format!(
                        "{}: the value is missing; give every image a file name and a label",
                        column(index, heading)
                    ),
                ));
            }
        }
        file.names.push(name.to_string());
        file.labels.push(label.to_string());
        file.lines.push(line);
    }
    if file.names.is_empty() {
        return Err(err(1, "the file has a header but no data rows".into()));
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_classes_are_the_values_that_occur_in_numeric_order() {
        let texts: Vec<String> = ["10", "2", "1e8", "2.0", "-0", "0"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let values: Vec<f64> = texts
            .iter()
            .map(|t| t.parse::<f64>().unwrap() + 0.0)
            .collect();
        let (indices, classes) = numeric_classes(&values, &texts);
        assert_eq!(classes, ["-0", "2", "10", "1e8"]);
        assert_eq!(indices, [2., 1., 3., 1., 0., 0.]);
    }
}
