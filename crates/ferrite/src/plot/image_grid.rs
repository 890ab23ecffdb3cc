//! A grid of images, each with a caption under it: what a classifier got wrong.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{draw_err, Figure, FONT};
use crate::error::{FerriteError, Result};
use crate::Tensor;

/// Width of one cell (image and caption) in pixels.
const CELL_WIDTH: u32 = 200;
/// Height of one cell in pixels: a margin, the image area, a gap and the caption line.
const CELL_HEIGHT: u32 = 164;
/// The side of the square each image is fitted into, in pixels.
const IMAGE_SIDE: u32 = 128;
/// Space above the image inside its cell.
const IMAGE_TOP: u32 = 6;
/// Height of the title band at the top.
const TITLE_HEIGHT: u32 = 40;
/// The colour of the frame drawn around every image, so that a white image shows on the
/// white page.
const FRAME: RGBColor = RGBColor(150, 150, 150);

/// Images `(C, H, W)` side by side, six to a row, each with a caption: grayscale images
/// (one channel) in grey levels, three-channel images in colour (red, green, blue).
/// [`ImageGrid::misclassified`] builds the usual one, the test images a classifier got
/// wrong, captioned `true: X / pred: Y`.
///
/// Pixel values in `[0, 1]` (what [`ImageOptions`](crate::data::ImageOptions) loads) are
/// drawn as they are. Normalised images are shown either by undoing the normalisation
/// ([`ImageGrid::unnormalize`], exact colours) or, without it, when any value lies outside
/// `[0, 1]`, by stretching each image to its own minimum (black) and maximum (white).
///
/// Every image is scaled to fit a 128-pixel square (nearest pixel, so small images stay
/// sharp), framed in grey, in a cell of 200 × 164 pixels; the title takes 40 pixels on top.
///
/// ```
/// use ferrite::plot::{Figure, ImageGrid};
/// use ferrite::Tensor;
/// // Eight 4x4 grayscale test images; the model got images 1, 2 and 5 wrong.
/// let images = Tensor::rand([8, 1, 4, 4]);
/// let (y_true, y_pred) = ([0, 1, 1, 0, 1, 0, 0, 1], [0, 0, 0, 0, 1, 1, 0, 1]);
/// let grid = ImageGrid::misclassified("Test images", &images, &y_true, &y_pred, &["cat", "dog"])
///     .unwrap();
/// assert_eq!(grid.len(), 3);
/// assert_eq!(grid.size(), (3 * 200, 40 + 164));
/// ```
#[derive(Clone, Debug)]
pub struct ImageGrid {
    title: String,
    channels: usize,
    height: usize,
    width: usize,
    /// Per image, its `C · H · W` values (channel-major, rows top to bottom).
    pixels: Vec<Vec<f32>>,
    captions: Vec<String>,
    /// Mean and standard deviation per channel, to undo a normalisation.
    unnormalize: Option<(Vec<f32>, Vec<f32>)>,
    columns: usize,
    /// What the body says when there is no image.
    empty_note: String,
}

impl ImageGrid {
    /// The most images a grid shows: the first ones given.
    pub const MAX_IMAGES: usize = 36;

    /// The first [`MAX_IMAGES`](Self::MAX_IMAGES) of `images` `(N, C, H, W)` (C = 1 or 3),
    /// image `i` captioned `captions[i]`. An error when the shape or the number of captions
    /// does not fit.
    pub fn new<S: AsRef<str>>(
        title: impl Into<String>,
        images: &Tensor,
        captions: &[S],
    ) -> Result<ImageGrid> {
        let (n, c, h, w) = image_dims(images)?;
        if captions.len() != n {
            return Err(FerriteError::invalid(
                "captions",
                format!(
                    "{} captions for {n} images; give one caption per image",
                    captions.len()
                ),
            ));
        }
        let shown: Vec<usize> = (0..n.min(Self::MAX_IMAGES)).collect();
        let captions = shown
            .iter()
            .map(|&i| captions[i].as_ref().to_string())
            .collect();
        Ok(Self::from_rows(
            title.into(),
            images,
            &shown,
            captions,
            (c, h, w),
        ))
    }

    /// The images a classifier got wrong: those of `images` `(N, C, H, W)` whose predicted
    /// class `y_pred[i]` differs from the true class `y_true[i]`, the first
    /// [`MAX_IMAGES`](Self::MAX_IMAGES) in their order, each captioned
    /// `true: X / pred: Y` with the names `class_names[k]` of the classes. The title is
    /// followed by how many images were missed and how many are shown. An error when the
    /// lengths differ or a class has no name.
    pub fn misclassified<S: AsRef<str>>(
        title: impl Into<String>,
        images: &Tensor,
        y_true: &[usize],
        y_pred: &[usize],
        class_names: &[S],
    ) -> Result<ImageGrid> {
        let (n, c, h, w) = image_dims(images)?;
        if y_true.len() != n || y_pred.len() != n {
            return Err(FerriteError::invalid(
                "labels",
                format!(
                    "{} true and {} predicted classes for {n} images; give one of each per image",
                    y_true.len(),
                    y_pred.len()
                ),
            ));
        }
        let k = class_names.len();
        if let Some(&bad) = y_true.iter().chain(y_pred).find(|&&v| v >= k) {
            return Err(FerriteError::invalid(
                "class_names",
                format!("class {bad} has no name: {k} class names were given"),
            ));
        }
        let missed: Vec<usize> = (0..n).filter(|&i| y_true[i] != y_pred[i]).collect();
        let shown: Vec<usize> = missed.iter().copied().take(Self::MAX_IMAGES).collect();
        let name = |v: usize| class_names[v].as_ref();
        let captions = shown
            .iter()
            .map(|&i| format!("true: {} / pred: {}", name(y_true[i]), name(y_pred[i])))
            .collect();
        let title = title.into();
        let title = if missed.len() > shown.len() {
            format!(
                "{title}: {} of {n} misclassified, the first {} shown",
                missed.len(),
                shown.len()
            )
        } else {
            format!("{title}: {} of {n} misclassified", missed.len())
        };
        let mut grid = Self::from_rows(title, images, &shown, captions, (c, h, w));
        grid.empty_note = "every image is classified correctly".into();
        Ok(grid)
    }

    /// The grid of rows `shown` of `images`.
    fn from_rows(
        title: String,
        images: &Tensor,
        shown: &[usize],
        captions: Vec<String>,
        (channels, height, width): (usize, usize, usize),
    ) -> ImageGrid {
        let per_image = channels * height * width;
        let values = if shown.is_empty() {
            Vec::new()
        } else {
            let _no_grad = crate::no_grad();
            images.detach().index_select(0, shown).to_vec()
        };
        let pixels = values
            .chunks(per_image.max(1))
            .map(<[f32]>::to_vec)
            .collect();
        ImageGrid {
            title,
            channels,
            height,
            width,
            pixels,
            captions,
            unnormalize: None,
            columns: shown.len().clamp(3, 6),
            empty_note: "no images".into(),
        }
    }

    /// Draws channel `c` of every image as `x · std[c] + mean[c]` (then clipped to
    /// `[0, 1]`), undoing a normalisation `(x - mean) / std` such as
    /// [`ImageOptions::normalize`](crate::data::ImageOptions::normalize). An error unless
    /// there is one finite mean and one positive finite deviation per channel.
    pub fn unnormalize(mut self, mean: &[f32], std: &[f32]) -> Result<Self> {
        let c = self.channels;
        if mean.len() != c || std.len() != c {
            return Err(FerriteError::invalid(
                "unnormalize",
                format!(
                    "{} means and {} deviations for images of {c} channel(s); give one of each per channel",
                    mean.len(),
                    std.len()
                ),
            ));
        }
        if mean.iter().any(|m| !m.is_finite()) || std.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
            return Err(FerriteError::invalid(
                "unnormalize",
                format!("means {mean:?} and deviations {std:?}: the means must be finite and the deviations positive"),
            ));
        }
        self.unnormalize = Some((mean.to_vec(), std.to_vec()));
        Ok(self)
    }

    /// The number of images per row (6 by default, fewer for fewer images, at least 3).
    pub fn columns(mut self, columns: usize) -> Self {
        self.columns = columns.max(1);
        self
    }

    /// The number of images shown.
    pub fn len(&self) -> usize {
        self.pixels.len()
    }

    /// Whether the grid shows no image (a classifier that missed nothing).
    pub fn is_empty(&self) -> bool {
        self.pixels.is_empty()
    }

    /// The captions of the images shown, in order.
    pub fn captions(&self) -> &[String] {
        &self.captions
    }

    /// Where image `k` is drawn in the rendered figure: `(left, top, right, bottom)` in
    /// pixels, right and bottom exclusive; `None` past the last image.
    pub fn image_bounds(&self, k: usize) -> Option<(u32, u32, u32, u32)> {
        if k >= self.len() {
            return None;
        }
        let (row, col) = ((k / self.columns) as u32, (k % self.columns) as u32);
        let (dw, dh) = self.display_size();
        let left = col * CELL_WIDTH + (CELL_WIDTH - dw) / 2;
        let top = TITLE_HEIGHT + row * CELL_HEIGHT + IMAGE_TOP + (IMAGE_SIDE - dh) / 2;
        Some((left, top, left + dw, top + dh))
    }

    fn rows(&self) -> usize {
        self.len().div_ceil(self.columns).max(1)
    }

    /// The drawn width and height of every image: the image scaled to fit the square.
    fn display_size(&self) -> (u32, u32) {
        let side = self.height.max(self.width).max(1) as f64;
        let scale = IMAGE_SIDE as f64 / side;
        let fit = |v: usize| ((v as f64 * scale).round() as u32).clamp(1, IMAGE_SIDE);
        (fit(self.width), fit(self.height))
    }

    /// Maps stored values to `[0, 1]` display levels for image `k`, channel-major.
    fn levels(&self, k: usize, stretch: bool) -> Vec<f64> {
        let values = &self.pixels[k];
        let plane = self.height * self.width;
        if let Some((mean, std)) = &self.unnormalize {
            return values
                .iter()
                .enumerate()
                .map(|(i, &v)| {
                    let c = i / plane.max(1);
                    (v as f64 * std[c] as f64 + mean[c] as f64).clamp(0.0, 1.0)
                })
                .collect();
        }
        if !stretch {
            return values.iter().map(|&v| (v as f64).clamp(0.0, 1.0)).collect();
        }
        let finite = values.iter().filter(|v| v.is_finite()).map(|&v| v as f64);
        let lo = finite.clone().fold(f64::INFINITY, f64::min);
        let hi = finite.fold(f64::NEG_INFINITY, f64::max);
        values
            .iter()
            .map(|&v| {
                if hi - lo > 1e-12 {
                    ((v as f64 - lo) / (hi - lo)).clamp(0.0, 1.0)
                } else {
                    // A flat image has no contrast to stretch.
                    0.5
                }
            })
            .collect()
    }

    /// The colour of every pixel of image `k`, row-major.
    fn colours(&self, k: usize, stretch: bool) -> Vec<RGBColor> {
        let levels = self.levels(k, stretch);
        let plane = self.height * self.width;
        let byte = |v: f64| {
            if v.is_finite() {
                (v * 255.0).round() as u8
            } else {
                0
            }
        };
        (0..plane)
            .map(|p| {
                if self.channels == 3 {
                    RGBColor(
                        byte(levels[p]),
                        byte(levels[plane + p]),
                        byte(levels[2 * plane + p]),
                    )
                } else {
                    let g = byte(levels[p]);
                    RGBColor(g, g, g)
                }
            })
            .collect()
    }

    /// Draws image `k` with its frame.
    fn draw_image<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
        k: usize,
        stretch: bool,
    ) -> std::result::Result<(), String> {
        let Some((left, top, right, bottom)) = self.image_bounds(k) else {
            return Ok(());
        };
        let (left, top, right, bottom) = (left as i32, top as i32, right as i32, bottom as i32);
        root.draw(&Rectangle::new(
            [(left - 1, top - 1), (right, bottom)],
            FRAME.stroke_width(1),
        ))
        .map_err(draw_err)?;
        let colours = self.colours(k, stretch);
        let (h, w) = (self.height, self.width);
        let (dw, dh) = ((right - left) as usize, (bottom - top) as usize);
        // Upscaled (the usual case): one block per image pixel; downscaled: one display pixel
        // per block, sampling the nearest image pixel. Both draw at most max(h·w, 128²) blocks.
        let (bw, bh) = (w.min(dw), h.min(dh));
        for by in 0..bh {
            let (y0, y1) = (by * dh / bh, (by + 1) * dh / bh);
            let src_row = if h <= dh { by } else { y0 * h / dh };
            for bx in 0..bw {
                let (x0, x1) = (bx * dw / bw, (bx + 1) * dw / bw);
                let src_col = if w <= dw { bx } else { x0 * w / dw };
                let colour = colours[src_row * w + src_col];
                // A filled rectangle covers [x0, x1) × [y0, y1) on both backends.
                root.draw(&Rectangle::new(
                    [
                        (left + x0 as i32, top + y0 as i32),
                        (left + x1 as i32, top + y1 as i32),
                    ],
                    colour.filled(),
                ))
                .map_err(draw_err)?;
            }
        }
        Ok(())
    }
}

/// `(N, C, H, W)` of an image batch with 1 or 3 channels and non-empty images, or an error.
fn image_dims(images: &Tensor) -> Result<(usize, usize, usize, usize)> {
    let d = images.dims();
    if d.len() != 4 || !(d[1] == 1 || d[1] == 3) || d[2] == 0 || d[3] == 0 {
        return Err(FerriteError::invalid(
            "images",
            format!(
                "expected images (N, C, H, W) with 1 (gray) or 3 (red, green, blue) channels, got shape {d:?}"
            ),
        ));
    }
    Ok((d[0], d[1], d[2], d[3]))
}

/// `text` in the largest font size from `largest` down to 8 that fits `width` pixels, cut
/// short with an ellipsis when even the smallest does not.
fn fitted<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    largest: u32,
    width: u32,
) -> std::result::Result<(String, u32), String> {
    let fits = |t: &str, size: u32| -> std::result::Result<bool, String> {
        let (w, _) = area
            .estimate_text_size(t, &(FONT, size as f64).into_text_style(area))
            .map_err(draw_err)?;
        Ok(w <= width)
    };
    for size in (8..=largest).rev() {
        if fits(text, size)? {
            return Ok((text.to_string(), size));
        }
    }
    let mut chars: Vec<char> = text.chars().collect();
    while !chars.is_empty() {
        chars.pop();
        let cut: String = chars.iter().collect::<String>() + "\u{2026}";
        if fits(&cut, 8)? {
            return Ok((cut, 8));
        }
    }
    Ok((String::new(), 8))
}

impl Figure for ImageGrid {
    /// `columns × 200` wide; `rows × 164` plus 40 pixels for the title high (one row when
    /// there is no image).
    fn size(&self) -> (u32, u32) {
        (
            self.columns as u32 * CELL_WIDTH,
            self.rows() as u32 * CELL_HEIGHT + TITLE_HEIGHT,
        )
    }

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> std::result::Result<(), String> {
        let (width, _) = self.size();
        let centred = |size: u32| {
            (FONT, size as f64)
                .into_font()
                .color(&BLACK)
                .pos(Pos::new(HPos::Center, VPos::Center))
        };
        let (title, size) = fitted(root, &self.title, 20, width.saturating_sub(16))?;
        root.draw(&Text::new(
            title,
            ((width / 2) as i32, (TITLE_HEIGHT / 2) as i32),
            centred(size),
        ))
        .map_err(draw_err)?;
        if self.is_empty() {
            root.draw(&Text::new(
                self.empty_note.clone(),
                ((width / 2) as i32, (TITLE_HEIGHT + CELL_HEIGHT / 2) as i32),
                centred(16),
            ))
            .map_err(draw_err)?;
            return Ok(());
        }
        // One decision for the whole grid, so that every image is drawn on the same scale
        // when the values are plain pixels.
        let stretch = self.unnormalize.is_none()
            && self
                .pixels
                .iter()
                .flatten()
                .any(|v| !(0.0..=1.0).contains(v));
        for k in 0..self.len() {
            self.draw_image(root, k, stretch)?;
            let (row, col) = ((k / self.columns) as u32, (k % self.columns) as u32);
            let (caption, size) = fitted(root, &self.captions[k], 13, CELL_WIDTH - 8)?;
            let y = TITLE_HEIGHT + row * CELL_HEIGHT + IMAGE_TOP + IMAGE_SIDE + 14;
            root.draw(&Text::new(
                caption,
                ((col * CELL_WIDTH + CELL_WIDTH / 2) as i32, y as i32),
                centred(size),
            ))
            .map_err(draw_err)?;
        }
        Ok(())
    }
}
