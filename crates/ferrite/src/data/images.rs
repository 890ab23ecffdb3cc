//! Image folders: a folder of images with a labels CSV, or one sub-folder per class, decoded
//! in parallel into one `(N, C, H, W)` tensor scaled to [0, 1].
//!
//! Input policy, as for every reader of user files: a malformed folder, image or labels file
//! is an error naming the file (and, in a labels file, the line, the column by 1-based number
//! and name, and the value) and what to do; nothing panics. What is skipped instead of
//! refused (an empty class folder) is reported in [`ImageSet::warnings`] for the caller to
//! show: the library prints nothing itself.

use std::path::{Path, PathBuf};

use super::image_decode::{any_color, data_error, decode_images, decoded_size, DecodeSettings};
use super::image_folder::ImageFolder;
use super::image_labels::{encode_labels, read_label_file};
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

/// Image files with their labels, listed but not decoded: what
/// [`ImageOptions::list_class_folders`] and [`ImageOptions::list_with_labels`] find, for
/// [`ImageOptions::folder`].
#[derive(Clone, Debug)]
pub struct ImageList {
    /// The file of each image.
    pub paths: Vec<PathBuf>,
    /// The label of each image (as in [`ImageSet::labels`]).
    pub labels: Vec<f32>,
    /// The encoder of text labels or sub-folder names, as in [`ImageSet::label_encoder`].
    pub label_encoder: Option<LabelEncoder>,
    /// The class names in index order, as in [`ImageSet::classes`].
    pub classes: Vec<String>,
    /// What listing skipped, as in [`ImageSet::warnings`].
    pub warnings: Vec<String>,
    /// The labels file and the line of each image in it, for messages.
    pub(super) listed_in: Option<(PathBuf, Vec<usize>)>,
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
        let list = self.list_with_labels(folder, labels_csv, image_column, label_column)?;
        self.decode_list(list)
    }

    /// What [`load_with_labels`](Self::load_with_labels) reads, without decoding the images:
    /// their paths and labels, for an [`ImageFolder`] that decodes them batch by batch.
    pub fn list_with_labels(
        &self,
        folder: impl AsRef<Path>,
        labels_csv: impl AsRef<Path>,
        image_column: &str,
        label_column: &str,
    ) -> Result<ImageList> {
        self.check_options()?;
        let (folder, csv_path) = (folder.as_ref(), labels_csv.as_ref());
        let file = read_label_file(csv_path, image_column, label_column)?;
        let paths: Vec<PathBuf> = file.names.iter().map(|n| folder.join(n)).collect();
        let (labels, classes, encoder) = encode_labels(self.label_classes, csv_path, &file)?;
        Ok(ImageList {
            paths,
            labels,
            label_encoder: encoder,
            classes,
            warnings: Vec::new(),
            listed_in: Some((csv_path.to_path_buf(), file.lines)),
        })
    }

    /// Decodes a listing into an [`ImageSet`].
    fn decode_list(&self, list: ImageList) -> Result<ImageSet> {
        let listed_in = list
            .listed_in
            .as_ref()
            .map(|(csv, lines)| (csv.as_path(), lines.as_slice()));
        let images = self.decode_all(&list.paths, listed_in)?;
        Ok(ImageSet {
            labels: Tensor::from_vec(list.labels, [list.paths.len()]),
            images,
            label_encoder: list.label_encoder,
            classes: list.classes,
            paths: list.paths,
            warnings: list.warnings,
        })
    }

    /// A dataset over the images of `list` that decodes them when a batch asks for them
    /// (in the colour mode and size of these options, resolved now: automatic colour reads
    /// the files as [`auto_color`](Self::auto_color) says), for folders larger than memory.
    /// See [`ImageFolder`].
    pub fn folder(&self, list: &ImageList) -> Result<ImageFolder> {
        self.check_options()?;
        let listed_in = list
            .listed_in
            .as_ref()
            .map(|(csv, lines)| (csv.as_path(), lines.as_slice()));
        let color = match self.color {
            ColorChoice::Fixed(color) => color,
            ColorChoice::Auto if any_color(&list.paths, listed_in)? => ColorMode::Rgb,
            ColorChoice::Auto => ColorMode::Gray,
        };
        self.check_normalize(color.channels())?;
        let size = decoded_size(&list.paths, listed_in, self.size)?;
        let folder = ImageFolder::new(list, color, size, self.size.is_some());
        Ok(match &self.normalize {
            Some((mean, std)) => folder.normalized(mean, std),
            None => folder,
        })
    }

    /// Loads `root/<class>/<image>` for every sub-folder `<class>` of `root` that holds
    /// image files (sorted by name, class `i` is the `i`-th), like torchvision's
    /// `ImageFolder`. Every file directly inside a class folder is read as an image (one that
    /// cannot be decoded is an error naming it); hidden files and folders (names starting
    /// with `.`) are ignored. A sub-folder without image files is not a class: it is skipped
    /// with a note in [`ImageSet::warnings`]. No class folder with images is an error.
    pub fn load_class_folders(&self, root: impl AsRef<Path>) -> Result<ImageSet> {
        let list = self.list_class_folders(root)?;
        self.decode_list(list)
    }

    /// What [`load_class_folders`](Self::load_class_folders) reads, without decoding the
    /// images: their paths, class labels and class names, for an [`ImageFolder`] that
    /// decodes them batch by batch.
    pub fn list_class_folders(&self, root: impl AsRef<Path>) -> Result<ImageList> {
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
        Ok(ImageList {
            paths,
            labels,
            label_encoder: Some(encoder),
            classes,
            warnings,
            listed_in: None,
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

pub(super) fn io(path: &Path, source: std::io::Error) -> FerriteError {
    FerriteError::Io {
        path: path.to_path_buf(),
        source,
    }
}
