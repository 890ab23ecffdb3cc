//! Per-channel mean and standard deviation of images, to normalise them with statistics of
//! the training images only (the test images must not leak into the preprocessing).

use super::image_decode::normalize_planes;
use crate::error::{FerriteError, Result};
use crate::Tensor;

/// Images taken at a time by [`ChannelStats::of`], so that only one chunk is copied out of
/// the tensor at once.
const CHUNK_IMAGES: usize = 1024;

/// The mean and standard deviation of every channel of a set of images `(N, C, H, W)`,
/// computed in f64 over all `N · H · W` values of the channel (the population deviation,
/// dividing by the count, as torchvision recipes compute them). Normalising maps channel `c`
/// to `(x - mean[c]) / std[c]`, as [`ImageOptions::normalize`](super::ImageOptions::normalize)
/// does while decoding.
///
/// A channel that barely varies (a deviation under 1e-6, far below one 8-bit level of
/// 1/255) gets `std` 1: normalising only centres it, instead of dividing by almost zero.
///
/// ```
/// use ferrite::data::ChannelStats;
/// use ferrite::Tensor;
/// // Two 1x2 RGB images: red is 0 and 1, green always 0.5, blue 0, 0, 1 and 1.
/// let images = Tensor::from_vec(
///     vec![0., 1., 0.5, 0.5, 0., 0., /* image 2 */ 0., 1., 0.5, 0.5, 1., 1.],
///     [2, 3, 1, 2],
/// );
/// let stats = ChannelStats::of(&images).unwrap();
/// assert_eq!(stats.mean, [0.5, 0.5, 0.5]);
/// assert_eq!(stats.std, [0.5, 1.0, 0.5]); // green is constant: std 1
/// let normalised = stats.normalize(&images).unwrap();
/// assert_eq!(normalised.get(0).to_vec(), [-1., 1., 0., 0., -1., -1.]);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct ChannelStats {
    /// The mean of each channel.
    pub mean: Vec<f64>,
    /// The standard deviation of each channel (1 where it is under 1e-6).
    pub std: Vec<f64>,
}

impl ChannelStats {
    /// The smallest deviation kept; below it a channel's `std` is 1.
    pub const MIN_STD: f64 = 1e-6;

    /// The statistics of `images` `(N, C, H, W)`. An error for another rank, no image, or a
    /// value that is not finite.
    pub fn of(images: &Tensor) -> Result<ChannelStats> {
        let (n, c, plane) = dims(images)?;
        if n == 0 || plane == 0 {
            return Err(FerriteError::invalid(
                "images",
                format!(
                    "no pixels to compute channel statistics from (shape {:?}); give at least \
                     one image",
                    images.dims()
                ),
            ));
        }
        let count = (n * plane) as f64;
        // Two passes (the mean, then the squared deviations from it) keep the deviation
        // exact where sums of squares would cancel.
        let mut sums = vec![0f64; c];
        for_each_chunk(images, n, |values| {
            for (k, channel) in values.chunks(plane).enumerate() {
                sums[k % c] += channel.iter().map(|&v| v as f64).sum::<f64>();
            }
        });
        if let Some(k) = sums.iter().position(|s| !s.is_finite()) {
            return Err(FerriteError::invalid(
                "images",
                format!("channel {k} holds values that are not finite numbers; check the images"),
            ));
        }
        let mean: Vec<f64> = sums.iter().map(|s| s / count).collect();
        let mut squares = vec![0f64; c];
        for_each_chunk(images, n, |values| {
            for (k, channel) in values.chunks(plane).enumerate() {
                let m = mean[k % c];
                squares[k % c] += channel.iter().map(|&v| (v as f64 - m).powi(2)).sum::<f64>();
            }
        });
        let std = squares
            .iter()
            .map(|s| (s / count).sqrt())
            .map(|s| if s >= Self::MIN_STD { s } else { 1.0 })
            .collect();
        Ok(ChannelStats { mean, std })
    }

    /// The number of channels.
    pub fn channels(&self) -> usize {
        self.mean.len()
    }

    /// The means and deviations as f32, the precision pixels are normalised in (what
    /// [`ImageOptions::normalize`](super::ImageOptions::normalize) takes).
    pub fn as_f32(&self) -> (Vec<f32>, Vec<f32>) {
        (
            self.mean.iter().map(|&m| m as f32).collect(),
            self.std.iter().map(|&s| s as f32).collect(),
        )
    }

    /// `images` `(N, C, H, W)` with channel `c` mapped to `(x - mean[c]) / std[c]`, in f32:
    /// bit for bit what loading with `ImageOptions::normalize` and [`as_f32`](Self::as_f32)
    /// gives. An error when the images do not have this many channels.
    pub fn normalize(&self, images: &Tensor) -> Result<Tensor> {
        let (_, c, plane) = dims(images)?;
        if c != self.channels() {
            return Err(FerriteError::invalid(
                "images",
                format!(
                    "images of {c} channel(s) cannot be normalised with statistics of {} \
                     channel(s)",
                    self.channels()
                ),
            ));
        }
        let (mean, std) = self.as_f32();
        let mut values = images.to_vec();
        normalize_planes(&mut values, plane, &mean, &std);
        Ok(Tensor::from_vec(values, images.dims().to_vec()))
    }
}

/// `(N, C, H·W)` of a rank-4 tensor.
fn dims(images: &Tensor) -> Result<(usize, usize, usize)> {
    match *images.dims() {
        [n, c, h, w] if c > 0 => Ok((n, c, h * w)),
        _ => Err(FerriteError::invalid(
            "images",
            format!(
                "expected images (N, C, H, W) with at least one channel, got shape {:?}",
                images.dims()
            ),
        )),
    }
}

/// Calls `f` with the values of up to [`CHUNK_IMAGES`] images at a time (channel-major
/// within each image).
fn for_each_chunk(images: &Tensor, n: usize, mut f: impl FnMut(&[f32])) {
    let _no_grad = crate::no_grad();
    let mut start = 0;
    while start < n {
        let len = CHUNK_IMAGES.min(n - start);
        f(&images.detach().narrow(0, start, len).to_vec());
        start += len;
    }
}
