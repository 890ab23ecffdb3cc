//! [`ImageFolder`]: images decoded when a batch asks for them, with a cache of decoded images
//! up to a memory budget, so that a folder larger than memory trains in bounded memory.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use rayon::prelude::*;

use super::image_decode::{check_image_memory, decode_into, normalize_planes};
use super::images::{ColorMode, ImageList};
use super::memory::available_memory;
use super::{ChannelStats, Dataset};
use crate::error::{FerriteError, Result};
use crate::Tensor;

/// Images taken at a time by the passes over a folder, so that progress is reported often
/// and only a chunk's pixels are held at once.
const CHUNK_IMAGES: usize = 512;

/// A dataset of image files decoded on demand, like torchvision's `ImageFolder`: each
/// [`gather`](Dataset::gather) of a batch decodes its images (on a
/// [`DataLoader`](super::DataLoader)'s background workers with
/// [`num_workers`](super::DataLoader::num_workers), so decoding overlaps training).
/// Decoded images are kept in a cache up to [`cache_memory`](Self::cache_memory) bytes
/// (none by default), so that a folder that fits is decoded once and one that does not is
/// read again each epoch, in bounded memory.
///
/// Made by [`ImageOptions::folder`](super::ImageOptions::folder) from a listing.
/// [`subset`](Self::subset) views share the files and the cache; [`normalized`](Self::normalized)
/// maps channel `c` to `(x − mean[c]) / std[c]` when gathering, bit for bit as loading with
/// [`ImageOptions::normalize`](super::ImageOptions::normalize) does.
///
/// A file that cannot be decoded is an error from [`check`](Self::check) and
/// [`channel_stats`](Self::channel_stats), which decode every image of their view once:
/// run them before training. A file that fails later (changed on disk while training)
/// panics in `gather`, naming it, since a batch cannot be skipped without changing the
/// training.
///
/// ```no_run
/// use ferrite::data::{DataLoader, ImageOptions};
/// let options = ImageOptions::new().size(28, 28);
/// let list = options.list_class_folders("train/").unwrap();
/// let folder = options.folder(&list).unwrap().cache_memory(256 << 20); // 256 MiB of cache
/// let stats = folder.channel_stats(&|_| {}).unwrap();
/// let (mean, std) = stats.as_f32();
/// let loader = DataLoader::new(folder.normalized(&mean, &std), 64).unwrap().num_workers(1);
/// # let _ = loader;
/// ```
#[derive(Clone, Debug)]
pub struct ImageFolder {
    files: Arc<Files>,
    /// The images of this view, as indices into `files`.
    indices: Arc<Vec<usize>>,
    /// The label of each image of this view.
    labels: Arc<Vec<f32>>,
    normalize: Option<(Vec<f32>, Vec<f32>)>,
}

/// The files every view shares, how they decode, and the cache.
#[derive(Debug)]
struct Files {
    paths: Vec<PathBuf>,
    listed_in: Option<(PathBuf, Vec<usize>)>,
    color: ColorMode,
    size: (usize, usize),
    resize: bool,
    cache: Cache,
}

/// Decoded images (unnormalised), each kept while the bytes kept stay within the budget.
#[derive(Debug)]
struct Cache {
    slots: Vec<OnceLock<Arc<[f32]>>>,
    budget: u64,
    used: AtomicU64,
}

impl Cache {
    fn new(n: usize, budget: u64) -> Cache {
        Cache {
            slots: if budget > 0 {
                (0..n).map(|_| OnceLock::new()).collect()
            } else {
                Vec::new()
            },
            budget,
            used: AtomicU64::new(0),
        }
    }
}

impl ImageFolder {
    pub(super) fn new(
        list: &ImageList,
        color: ColorMode,
        size: (usize, usize),
        resize: bool,
    ) -> ImageFolder {
        let n = list.paths.len();
        ImageFolder {
            files: Arc::new(Files {
                paths: list.paths.clone(),
                listed_in: list.listed_in.clone(),
                color,
                size,
                resize,
                cache: Cache::new(n, 0),
            }),
            indices: Arc::new((0..n).collect()),
            labels: Arc::new(list.labels.clone()),
            normalize: None,
        }
    }

    /// Keeps decoded images in memory up to `bytes` (4 bytes a value, `C · H · W` values
    /// an image), shared by every [`subset`](Self::subset) taken afterwards; images beyond
    /// the budget are decoded each time they are asked for. Replaces any earlier cache.
    pub fn cache_memory(self, bytes: u64) -> ImageFolder {
        let f = &self.files;
        let files = Files {
            paths: f.paths.clone(),
            listed_in: f.listed_in.clone(),
            color: f.color,
            size: f.size,
            resize: f.resize,
            cache: Cache::new(f.paths.len(), bytes),
        };
        ImageFolder {
            files: Arc::new(files),
            ..self
        }
    }

    /// Bytes of decoded images the cache holds now (at most the budget).
    pub fn cached_bytes(&self) -> u64 {
        self.files.cache.used.load(Ordering::Relaxed)
    }

    /// The images `indices` (positions in this view) as a view of their own, sharing the
    /// files, the cache and the normalisation.
    pub fn subset(&self, indices: &[usize]) -> ImageFolder {
        ImageFolder {
            files: self.files.clone(),
            indices: Arc::new(indices.iter().map(|&i| self.indices[i]).collect()),
            labels: Arc::new(indices.iter().map(|&i| self.labels[i]).collect()),
            normalize: self.normalize.clone(),
        }
    }

    /// The same images with other labels, `labels[i]` for image `i` of the view (a model's
    /// class indices for a folder's classes, say). Panics unless there is one per image.
    pub fn relabelled(&self, labels: &[f32]) -> ImageFolder {
        assert_eq!(
            labels.len(),
            self.len(),
            "ImageFolder::relabelled: {} labels for {} images",
            labels.len(),
            self.len()
        );
        ImageFolder {
            labels: Arc::new(labels.to_vec()),
            ..self.clone()
        }
    }

    /// The same view, gathering channel `c` as `(x − mean[c]) / std[c]`. Panics unless
    /// there is one mean and one std per channel (the options it came from were checked).
    pub fn normalized(&self, mean: &[f32], std: &[f32]) -> ImageFolder {
        let c = self.channels();
        assert!(
            mean.len() == c && std.len() == c,
            "ImageFolder::normalized: {c} channel(s) but {} means and {} stds",
            mean.len(),
            std.len()
        );
        ImageFolder {
            normalize: Some((mean.to_vec(), std.to_vec())),
            ..self.clone()
        }
    }

    /// The channels images are decoded with: 1 (gray) or 3 (RGB).
    pub fn channels(&self) -> usize {
        self.files.color.channels()
    }

    /// `(height, width)` of the decoded images.
    pub fn size(&self) -> (usize, usize) {
        self.files.size
    }

    /// The label of every image of this view.
    pub fn labels(&self) -> Vec<f32> {
        self.labels.to_vec()
    }

    /// The file of every image of this view.
    pub fn paths(&self) -> Vec<&Path> {
        self.indices
            .iter()
            .map(|&i| self.files.paths[i].as_path())
            .collect()
    }

    /// Values of one decoded image, `C · H · W`.
    fn plane(&self) -> usize {
        let (h, w) = self.files.size;
        self.channels() * h * w
    }

    /// The unnormalised pixels of file `file`, from the cache or decoded (and cached while
    /// the budget allows).
    fn pixels(&self, file: usize) -> Result<Arc<[f32]>> {
        let files = &self.files;
        if let Some(hit) = files.cache.slots.get(file).and_then(OnceLock::get) {
            return Ok(hit.clone());
        }
        let mut out = vec![0f32; self.plane()];
        let listed = files
            .listed_in
            .as_ref()
            .map(|(csv, lines)| (csv.as_path(), lines[file]));
        decode_into(
            &files.paths[file],
            listed,
            files.size,
            files.resize,
            files.color,
            &mut out,
        )?;
        let pixels: Arc<[f32]> = out.into();
        if let Some(slot) = files.cache.slots.get(file) {
            let bytes = 4 * pixels.len() as u64;
            let cache = &files.cache;
            // Reserve the bytes first, so that threads racing for the last room cannot go
            // over the budget together.
            let reserved = cache
                .used
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |used| {
                    (used + bytes <= cache.budget).then_some(used + bytes)
                })
                .is_ok();
            if reserved && slot.set(pixels.clone()).is_err() {
                // Another thread cached it first: give the room back.
                cache.used.fetch_sub(bytes, Ordering::Relaxed);
            }
        }
        Ok(pixels)
    }

    /// Writes image `position` of this view into `out`, normalised when asked.
    fn write(&self, position: usize, out: &mut [f32]) -> Result<()> {
        let pixels = self.pixels(self.indices[position])?;
        out.copy_from_slice(&pixels);
        if let Some((mean, std)) = &self.normalize {
            let (h, w) = self.files.size;
            normalize_planes(out, h * w, mean, std);
        }
        Ok(())
    }

    /// Runs `f` on the unnormalised pixels of every image of the view, in parallel, chunk
    /// by chunk, calling `progress` with the images done after each chunk; returns `f`'s
    /// results in the view's order.
    fn map_images<T: Send>(
        &self,
        progress: &(dyn Fn(usize) + Sync),
        f: impl Fn(&[f32]) -> T + Sync,
    ) -> Result<Vec<T>> {
        let done = AtomicUsize::new(0);
        let mut results = Vec::with_capacity(self.len());
        for chunk in self.indices.chunks(CHUNK_IMAGES) {
            let part: Result<Vec<T>> = chunk
                .par_iter()
                .map(|&file| self.pixels(file).map(|p| f(&p)))
                .collect();
            results.extend(part?);
            progress(done.fetch_add(chunk.len(), Ordering::Relaxed) + chunk.len());
        }
        Ok(results)
    }

    /// Decodes every image of the view once (in parallel, filling the cache while its
    /// budget allows), so that a file that cannot be read is an error now, naming it, and
    /// not a failure in the middle of training. `progress` gets the images done so far.
    pub fn check(&self, progress: &(dyn Fn(usize) + Sync)) -> Result<()> {
        self.map_images(progress, |_| ()).map(|_| ())
    }

    /// The per-channel mean and deviation of the view's images, unnormalised, computed as
    /// [`ChannelStats::of`] computes them on the decoded tensor (bit for bit: the same sums
    /// in the same order), without holding the images: two passes, each decoding the
    /// images not in the cache. Every image is checked as [`check`](Self::check) does.
    /// `progress` gets the images done so far, counting both passes (up to `2 · len()`).
    pub fn channel_stats(&self, progress: &(dyn Fn(usize) + Sync)) -> Result<ChannelStats> {
        let n = self.len();
        let (h, w) = self.files.size;
        let (c, hw) = (self.channels(), h * w);
        if n == 0 || hw == 0 {
            return Err(FerriteError::invalid(
                "images",
                "no pixels to compute channel statistics from; give at least one image",
            ));
        }
        let count = (n * hw) as f64;
        let sums_of = |pixels: &[f32]| -> Vec<f64> {
            pixels
                .chunks(hw)
                .map(|p| p.iter().map(|&v| v as f64).sum::<f64>())
                .collect()
        };
        let mut sums = vec![0f64; c];
        for image in self.map_images(progress, sums_of)? {
            for (k, s) in image.into_iter().enumerate() {
                sums[k] += s;
            }
        }
        let mean: Vec<f64> = sums.iter().map(|s| s / count).collect();
        let second = |done: usize| progress(n + done);
        let squares_of = |pixels: &[f32]| -> Vec<f64> {
            pixels
                .chunks(hw)
                .enumerate()
                .map(|(k, p)| p.iter().map(|&v| (v as f64 - mean[k]).powi(2)).sum::<f64>())
                .collect()
        };
        let mut squares = vec![0f64; c];
        for image in self.map_images(&second, squares_of)? {
            for (k, s) in image.into_iter().enumerate() {
                squares[k] += s;
            }
        }
        let std = squares
            .iter()
            .map(|s| (s / count).sqrt())
            .map(|s| if s >= ChannelStats::MIN_STD { s } else { 1.0 })
            .collect();
        Ok(ChannelStats { mean, std })
    }

    /// Every image of the view as one `(N, C, H, W)` tensor (normalised when asked), once
    /// the memory it needs is checked against the free memory.
    pub fn to_tensor(&self) -> Result<Tensor> {
        let (h, w) = self.files.size;
        let c = self.channels();
        check_image_memory(self.len(), c, h, w, available_memory())?;
        let plane = self.plane();
        let mut data = vec![0f32; self.len() * plane];
        data.par_chunks_mut(plane.max(1))
            .enumerate()
            .try_for_each(|(k, out)| self.write(k, out))?;
        Ok(Tensor::from_vec(data, [self.len(), c, h, w]))
    }
}

impl Dataset for ImageFolder {
    fn len(&self) -> usize {
        self.indices.len()
    }

    /// Image `index` `(C, H, W)` and its label (a 0-dim tensor).
    fn get(&self, index: usize) -> (Tensor, Tensor) {
        let (h, w) = self.files.size;
        let mut out = vec![0f32; self.plane()];
        if let Err(e) = self.write(index, &mut out) {
            panic!("ImageFolder: {e} (the file changed after it was checked)");
        }
        let label = self.labels[index];
        (
            Tensor::from_vec(out, [self.channels(), h, w]),
            Tensor::from_vec(vec![label], Vec::<usize>::new()),
        )
    }

    fn gather(
        &self,
        indices: &[usize],
        features: &mut Vec<f32>,
        targets: &mut Vec<f32>,
    ) -> (Vec<usize>, Vec<usize>) {
        let plane = self.plane();
        features.clear();
        features.resize(indices.len() * plane, 0.0);
        targets.clear();
        for (out, &i) in features.chunks_mut(plane.max(1)).zip(indices) {
            if let Err(e) = self.write(i, out) {
                panic!("ImageFolder: {e} (the file changed after it was checked)");
            }
            targets.push(self.labels[i]);
        }
        let (h, w) = self.files.size;
        (vec![self.channels(), h, w], Vec::new())
    }
}
