//! Feature maps: the activations of one convolutional layer for one image, drawn as a grid of
//! grayscale tiles (one per channel) and as the sum over channels (the course's way to look
//! inside a CNN). Each tile is stretched to the full gray range on its own.

use crate::error::{FerriteError, Result};
use crate::Tensor;
use image::GrayImage;
use std::path::{Path, PathBuf};

/// Tiles are enlarged (nearest neighbour) until their longer side reaches this many pixels.
const MIN_TILE_PIXELS: usize = 64;
/// Gray gap between tiles, in pixels.
const GAP: usize = 2;

/// `(channels, height, width)` of an activation `(C, H, W)` or `(1, C, H, W)`.
fn maps_shape(activation: &Tensor) -> Result<(usize, usize, usize)> {
    let d = activation.dims();
    let shape = match d.len() {
        3 => (d[0], d[1], d[2]),
        4 if d[0] == 1 => (d[1], d[2], d[3]),
        _ => {
            return Err(FerriteError::Shape {
                op: "feature maps".into(),
                message: format!(
                    "expected the activations of a convolutional layer for one image, (C, H, W) or (1, C, H, W), got {d:?}; choose a layer before the flatten"
                ),
            })
        }
    };
    if shape.0 == 0 || shape.1 == 0 || shape.2 == 0 {
        return Err(FerriteError::Shape {
            op: "feature maps".into(),
            message: format!("empty activation {d:?}"),
        });
    }
    Ok(shape)
}

/// One map as gray levels: min → 0, max → 255 (a constant map is mid-gray).
fn to_gray(map: &[f32]) -> Vec<u8> {
    let (lo, hi) = map
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), &v| {
            (l.min(v), h.max(v))
        });
    let span = hi - lo;
    map.iter()
        .map(|&v| {
            if span > 0.0 && span.is_finite() {
                ((v - lo) / span * 255.0).round() as u8
            } else {
                128
            }
        })
        .collect()
}

fn scale_for(h: usize, w: usize) -> usize {
    (MIN_TILE_PIXELS / h.max(w)).max(1)
}

/// Draws `gray (h×w)` enlarged by `scale` at `(x0, y0)` of `img`.
fn blit(img: &mut GrayImage, gray: &[u8], h: usize, w: usize, scale: usize, x0: usize, y0: usize) {
    for y in 0..h * scale {
        for x in 0..w * scale {
            img.put_pixel(
                (x0 + x) as u32,
                (y0 + y) as u32,
                image::Luma([gray[(y / scale) * w + x / scale]]),
            );
        }
    }
}

/// The channels of an activation `(C, H, W)` (or `(1, C, H, W)`) as a grid of grayscale
/// tiles, `⌈√C⌉` per row, each normalised to the full gray range.
///
/// ```
/// use ferrite::nn::models::feature_map_grid;
/// use ferrite::Tensor;
/// let act = Tensor::arange(0.0, 6.0 * 4.0 * 4.0, 1.0).reshape([6, 4, 4]);
/// let img = feature_map_grid(&act).unwrap();
/// // 3 tiles per row, 2 rows, tiles enlarged 16x to 64 px, 2 px gaps
/// assert_eq!((img.width(), img.height()), (3 * 64 + 4 * 2, 2 * 64 + 3 * 2));
/// assert!(feature_map_grid(&Tensor::zeros([2, 10])).is_err());
/// ```
pub fn feature_map_grid(activation: &Tensor) -> Result<GrayImage> {
    let (c, h, w) = maps_shape(activation)?;
    let data = activation.to_vec();
    let cols = (c as f64).sqrt().ceil() as usize;
    let rows = c.div_ceil(cols);
    let s = scale_for(h, w);
    let (tw, th) = (w * s, h * s);
    let mut img = GrayImage::from_pixel(
        (cols * tw + (cols + 1) * GAP) as u32,
        (rows * th + (rows + 1) * GAP) as u32,
        image::Luma([40]),
    );
    for (ch, map) in data.chunks_exact(h * w).enumerate() {
        let (r, col) = (ch / cols, ch % cols);
        blit(
            &mut img,
            &to_gray(map),
            h,
            w,
            s,
            GAP + col * (tw + GAP),
            GAP + r * (th + GAP),
        );
    }
    Ok(img)
}

/// The sum over channels of an activation `(C, H, W)` as one grayscale image.
pub fn channel_sum_image(activation: &Tensor) -> Result<GrayImage> {
    let (c, h, w) = maps_shape(activation)?;
    let sum = activation.reshape([c, h * w]).sum_dim(0, false).to_vec();
    let s = scale_for(h, w);
    let mut img = GrayImage::new((w * s) as u32, (h * s) as u32);
    blit(&mut img, &to_gray(&sum), h, w, s, 0, 0);
    Ok(img)
}

/// The two PNG files [`save_feature_maps`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeatureMapFiles {
    /// The grid of per-channel tiles.
    pub grid: PathBuf,
    /// The sum over channels.
    pub sum: PathBuf,
}

/// Writes `dir/{stem}_maps.png` (one tile per channel) and `dir/{stem}_sum.png` (the channel
/// sum) for an activation `(C, H, W)` or `(1, C, H, W)`, creating `dir` if needed.
///
/// ```no_run
/// use ferrite::nn::models::{save_feature_maps, LeNet5};
/// use ferrite::Tensor;
/// let net = LeNet5::new(10).unwrap();
/// let image = Tensor::rand([1, 1, 32, 32]);
/// let acts = net.activations(&image);
/// // "features.1": the ReLU after the first convolution, 6 maps of 28x28
/// let (_, conv1) = acts.iter().find(|(name, _)| name == "features.1").unwrap();
/// let files = save_feature_maps(conv1, std::path::Path::new("maps"), "conv1").unwrap();
/// println!("{}", files.grid.display());
/// ```
pub fn save_feature_maps(activation: &Tensor, dir: &Path, stem: &str) -> Result<FeatureMapFiles> {
    let grid = feature_map_grid(activation)?;
    let sum = channel_sum_image(activation)?;
    std::fs::create_dir_all(dir).map_err(|source| FerriteError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let files = FeatureMapFiles {
        grid: dir.join(format!("{stem}_maps.png")),
        sum: dir.join(format!("{stem}_sum.png")),
    };
    for (img, path) in [(&grid, &files.grid), (&sum, &files.sum)] {
        img.save_with_format(path, image::ImageFormat::Png)
            .map_err(|e| FerriteError::Io {
                path: path.clone(),
                source: std::io::Error::other(e),
            })?;
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiles_are_normalised_per_channel_and_the_sum_adds_channels() {
        // channel 0 rises left to right, channel 1 is constant, channel 2 falls.
        let mut v = Vec::new();
        for ch in 0..3 {
            for _y in 0..2 {
                for x in 0..2 {
                    v.push(match ch {
                        0 => x as f32,
                        1 => 5.0,
                        _ => -10.0 * x as f32,
                    });
                }
            }
        }
        let act = Tensor::from_vec(v, [1, 3, 2, 2]);
        let grid = feature_map_grid(&act).unwrap();
        let s = 32; // 64 / 2
        assert_eq!(grid.width() as usize, 2 * 2 * s + 3 * GAP);
        let px = |x: usize, y: usize| grid.get_pixel(x as u32, y as u32)[0];
        assert_eq!(px(GAP, GAP), 0);
        assert_eq!(px(GAP + s, GAP), 255);
        assert_eq!(px(GAP + 2 * s + GAP, GAP), 128); // constant map
        assert_eq!(px(GAP, GAP + 2 * s + GAP), 255); // channel 2 starts at its max
                                                     // sum = [5, 5 + 1 − 10] per row → left white, right black
        let sum = channel_sum_image(&act).unwrap();
        assert_eq!(
            (sum.get_pixel(0, 0)[0], sum.get_pixel(s as u32, 0)[0]),
            (255, 0)
        );
        let dir = std::env::temp_dir().join(format!("ferrite_fmaps_{}", std::process::id()));
        let files = save_feature_maps(&act, &dir, "layer").unwrap();
        let back = image::open(&files.grid).unwrap().to_luma8();
        assert_eq!(back, grid);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
