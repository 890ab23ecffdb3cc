//! Decoding image files into `(N, C, H, W)` tensors, and telling colour images from gray
//! ones: the pixel work behind [`ImageOptions`](super::ImageOptions).

use std::path::{Path, PathBuf};

use image::imageops::FilterType;
use image::{DynamicImage, ImageDecoder, ImageReader};
use rayon::prelude::*;

use super::images::ColorMode;
use super::memory::{available_memory, check_memory};
use crate::error::{FerriteError, Result};
use crate::Tensor;

/// Whether the image file at `path` is a colour image: stored with colour channels (RGB or
/// RGBA; palette images are decoded to those) **and** at least one pixel whose red, green
/// and blue values differ. A gray or gray-with-alpha file is gray from its header alone,
/// without decoding its pixels; an RGB file whose every pixel is gray (a grayscale photo
/// saved as RGB, common for scans and X-rays) is gray too, since reading it with three
/// channels would only repeat one channel three times. Alpha is ignored. Values are compared
/// at the file's own bit depth.
///
/// The format is chosen by the file's extension, as when the images are loaded. A file that
/// cannot be opened or decoded is an error naming it.
///
/// ```no_run
/// use ferrite::data::is_color_image;
/// assert!(is_color_image("photos/cat.jpg").unwrap());
/// assert!(!is_color_image("scans/xray.png").unwrap());
/// ```
pub fn is_color_image(path: impl AsRef<Path>) -> Result<bool> {
    let path = path.as_ref();
    image_is_color(path).map_err(|e| unreadable(path, e, None))
}

/// Whether any of the image files `paths` is a colour image (see [`is_color_image`]): the
/// files are checked in parallel, and the check stops at the first colour image found, so
/// a colour data set costs a few decodes. A data set of files stored as gray costs only
/// their headers; one of gray pictures stored as RGB is decoded once in full. An error
/// names the first file (of those checked) that cannot be read.
pub fn any_color_image(paths: &[PathBuf]) -> Result<bool> {
    any_color(paths, None)
}

/// [`any_color_image`], with the labels file and line of each path for error messages.
pub(super) fn any_color(paths: &[PathBuf], listed_in: Option<(&Path, &[usize])>) -> Result<bool> {
    let found = paths
        .par_iter()
        .enumerate()
        .find_map_any(|(i, path)| match image_is_color(path) {
            Ok(true) => Some(Ok(())),
            Ok(false) => None,
            Err(e) => Some(Err(unreadable(
                path,
                e,
                listed_in.map(|(csv, lines)| (csv, lines[i])),
            ))),
        });
    match found {
        Some(Ok(())) => Ok(true),
        Some(Err(e)) => Err(e),
        None => Ok(false),
    }
}

fn image_is_color(path: &Path) -> image::ImageResult<bool> {
    let decoder = ImageReader::open(path)?.into_decoder()?;
    if !decoder.color_type().has_color() {
        return Ok(false);
    }
    Ok(match DynamicImage::from_decoder(decoder)? {
        DynamicImage::ImageRgb8(img) => channels_differ(img.as_raw(), 3),
        DynamicImage::ImageRgba8(img) => channels_differ(img.as_raw(), 4),
        DynamicImage::ImageRgb16(img) => channels_differ(img.as_raw(), 3),
        DynamicImage::ImageRgba16(img) => channels_differ(img.as_raw(), 4),
        DynamicImage::ImageRgb32F(img) => channels_differ(img.as_raw(), 3),
        DynamicImage::ImageRgba32F(img) => channels_differ(img.as_raw(), 4),
        // Gray variants (a header that said colour but decoded to gray), and any layout a
        // later `image` adds: compare what the loader would read.
        other => channels_differ(other.to_rgb8().as_raw(), 3),
    })
}

/// Whether any pixel of interleaved `raw` (`stride` values a pixel, red, green and blue
/// first) has red, green and blue not all equal.
fn channels_differ<T: PartialEq>(raw: &[T], stride: usize) -> bool {
    raw.chunks_exact(stride)
        .any(|p| p[0] != p[1] || p[1] != p[2])
}

/// How [`decode_images`] reads each file.
pub(super) struct DecodeSettings<'a> {
    /// The channels to convert to.
    pub color: ColorMode,
    /// `(height, width)` to resize to; none: every image must have the first one's size.
    pub size: Option<(usize, usize)>,
    /// Per-channel mean and std to normalise with, after scaling to [0, 1].
    pub normalize: Option<(&'a [f32], &'a [f32])>,
}

/// Decodes `paths` in parallel into one `(N, C, H, W)` tensor, scaled to [0, 1] and then
/// normalised when asked. `listed_in`: the labels file and the line of each path, for
/// error messages.
pub(super) fn decode_images(
    paths: &[PathBuf],
    listed_in: Option<(&Path, &[usize])>,
    settings: &DecodeSettings,
) -> Result<Tensor> {
    let c = settings.color.channels();
    let (h, w) = decoded_size(paths, listed_in, settings.size)?;
    check_image_memory(paths.len(), c, h, w, available_memory())?;
    let plane = c * h * w;
    let mut data = vec![0f32; paths.len() * plane];
    data.par_chunks_mut(plane)
        .zip(paths.par_iter().enumerate())
        .try_for_each(|(out, (i, path))| {
            let listed = listed_in.map(|(csv, lines)| (csv, lines[i]));
            decode_into(
                path,
                listed,
                (h, w),
                settings.size.is_some(),
                settings.color,
                out,
            )?;
            if let Some((mean, std)) = settings.normalize {
                normalize_planes(out, h * w, mean, std);
            }
            Ok(())
        })?;
    Ok(Tensor::from_vec(data, [paths.len(), c, h, w]))
}

/// Decodes the image file `path` into `out` (`C · h · w` values, channel planes in [0, 1],
/// `C` from `color`), resizing it to `h × w` when `resize` is set and refusing another size
/// otherwise. `listed`: the labels file and line that list it, for the error message.
pub(super) fn decode_into(
    path: &Path,
    listed: Option<(&Path, usize)>,
    (h, w): (usize, usize),
    resize: bool,
    color: ColorMode,
    out: &mut [f32],
) -> Result<()> {
    let img = image::open(path).map_err(|e| unreadable(path, e, listed))?;
    let img = if (img.width() as usize, img.height() as usize) == (w, h) {
        img
    } else if resize {
        img.resize_exact(w as u32, h as u32, FilterType::Triangle)
    } else {
        return Err(data_error(
            path,
            &format!(
                "the image is {}x{} but the first one is {w}x{h}; set a size to resize them all",
                img.width(),
                img.height()
            ),
        ));
    };
    match color {
        // `image`'s luma: 0.2126 R + 0.7152 G + 0.0722 B (Rec. 709), rounded.
        ColorMode::Gray => to_planes(img.to_luma8().as_raw(), 1, out),
        ColorMode::Rgb => to_planes(img.to_rgb8().as_raw(), 3, out),
    }
    Ok(())
}

/// The `(height, width)` images are decoded at: `size`, or the first image's.
pub(super) fn decoded_size(
    paths: &[PathBuf],
    listed_in: Option<(&Path, &[usize])>,
    size: Option<(usize, usize)>,
) -> Result<(usize, usize)> {
    Ok(match size {
        Some(size) => size,
        None => match paths.first() {
            Some(p) => {
                let (w, h) = image::image_dimensions(p)
                    .map_err(|e| unreadable(p, e, listed_in.map(|(csv, l)| (csv, l[0]))))?;
                (h as usize, w as usize)
            }
            None => (1, 1),
        },
    })
}

/// Maps channel `k` of channel-major `values` (planes of `plane` values, repeated image
/// after image) to `(x - mean[k]) / std[k]`, in f32. Decoding and
/// [`ChannelStats::normalize`](super::ChannelStats::normalize) both use it, so that images
/// normalised after loading equal images normalised while decoding, bit for bit.
pub(super) fn normalize_planes(values: &mut [f32], plane: usize, mean: &[f32], std: &[f32]) {
    let c = mean.len();
    for (k, channel) in values.chunks_mut(plane.max(1)).enumerate() {
        let (m, s) = (mean[k % c], std[k % c]);
        channel.iter_mut().for_each(|v| *v = (*v - m) / s);
    }
}

/// Bytes a decoding thread may hold per output pixel besides the output: the resized image
/// (up to four 32-bit channels) and its 8-bit conversion.
const DECODE_BYTES_PER_PIXEL: u64 = 16 + 4;

/// Refuses to decode `n` images of `h × w` pixels and `c` channels when the output tensor
/// (4 bytes a value) and one decode buffer per thread need more than `available` bytes,
/// naming the largest square size that fits.
pub(super) fn check_image_memory(
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    available: Option<u64>,
) -> Result<()> {
    let threads = rayon::current_num_threads() as u64;
    let per_pixel = (n as u64)
        .checked_mul(4 * c as u64)
        .and_then(|b| b.checked_add(threads * DECODE_BYTES_PER_PIXEL));
    let bytes = (h as u64)
        .checked_mul(w as u64)
        .zip(per_pixel)
        .and_then(|(pixels, per)| pixels.checked_mul(per));
    let fix = match (available, per_pixel) {
        (Some(free), Some(per)) if per > 0 => {
            let side = ((free / per) as f64).sqrt().floor() as u64;
            if side > 0 {
                format!("choose a smaller size: at most about {side}x{side} pixels fit")
            } else {
                "load fewer images".to_string()
            }
        }
        _ => "choose a smaller size".to_string(),
    };
    check_memory(
        bytes,
        available,
        &format!("{n} image(s) of {h}x{w} pixels with {c} channel(s)"),
        &fix,
    )
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

/// An error about a whole file or folder (no line): displayed `path: message`.
pub(super) fn data_error(path: &Path, message: &str) -> FerriteError {
    FerriteError::Data {
        path: path.to_path_buf(),
        line: 0,
        message: message.to_string(),
    }
}

/// The error for an image that cannot be opened or decoded, naming its path (and the line of
/// the labels file that lists it).
pub(super) fn unreadable(
    path: &Path,
    e: image::ImageError,
    listed: Option<(&Path, usize)>,
) -> FerriteError {
    let hint = match listed {
        Some((csv, line)) => format!(" (listed on line {line} of {})", csv.display()),
        None => "; every file in an image folder is read as an image (PNG or JPEG): replace \
                 it, or remove it"
            .to_string(),
    };
    data_error(path, &format!("cannot read the image: {e}{hint}"))
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

    #[test]
    fn colour_is_a_pixel_whose_channels_differ() {
        assert!(!channels_differ(&[7u8, 7, 7, 0, 0, 0], 3));
        assert!(channels_differ(&[7u8, 7, 7, 0, 0, 1], 3));
        // Alpha (the fourth value) does not count.
        assert!(!channels_differ(&[9u16, 9, 9, 1, 4, 4, 4, 200], 4));
        assert!(channels_differ(&[0.5f32, 0.5, 0.25], 3));
    }

    #[test]
    fn planes_are_normalised_per_channel_image_after_image() {
        // Two images of two channels of two pixels.
        let mut v = [0.5f32, 1.0, 0.0, 0.25, 0.5, 1.0, 0.0, 0.25];
        normalize_planes(&mut v, 2, &[0.5, 0.0], &[0.5, 0.25]);
        assert_eq!(v, [0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0]);
    }

    #[test]
    fn image_memory_is_refused_with_the_size_that_fits() {
        // 1 GiB free, 20 gray images: 100000x100000 does not fit; 64x64 does.
        let free = Some(1u64 << 30);
        let msg = check_image_memory(20, 1, 100_000, 100_000, free)
            .unwrap_err()
            .to_string();
        assert!(
            msg.contains("20 image(s) of 100000x100000 pixels") && msg.contains("at most about"),
            "{msg}"
        );
        assert!(check_image_memory(20, 1, 64, 64, free).is_ok());
        // A count that overflows is refused even where the free memory is unknown.
        assert!(check_image_memory(usize::MAX, 3, 1 << 20, 1 << 20, None).is_err());
    }
}
