//! Charts with `plotters`, saved as PNG or SVG (chosen by the file extension): training
//! curves, true against predicted values, series over time, ROC curves, confusion matrices
//! and feature-map grids.
//!
//! Every chart is a value implementing [`Figure`]; [`Figure::save`] renders it. Text uses a
//! font embedded in the library (DejaVu Sans, see `plot/font/LICENSE-DejaVu.txt`), so plots
//! render the same on machines without system fonts.
//!
//! ```no_run
//! use ferrite::plot::{Figure, LineChart};
//! LineChart::new("Loss")
//!     .labels("epoch", "loss")
//!     .series("train", vec![(1.0, 0.9), (2.0, 0.5), (3.0, 0.3)])
//!     .save("loss.png")
//!     .unwrap();
//! ```

mod confusion;
mod curves;
mod feature_maps;
mod image_grid;
mod roc;
mod scatter;

pub use confusion::ConfusionMatrixChart;
pub use curves::{LineChart, TrainingCurves};
pub use feature_maps::FeatureMapGrid;
pub use image_grid::ImageGrid;
pub use roc::RocChart;
pub use scatter::TrueVsPredicted;

use std::io::Cursor;
use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::error::{FerriteError, Result};

/// The font family name every chart uses; registered once with the embedded font.
pub(crate) const FONT: &str = "sans-serif";

/// Makes the embedded font available to plotters under [`FONT`].
fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let bytes: &'static [u8] = include_bytes!("font/DejaVuSans-subset.ttf");
        if plotters::style::register_font(FONT, FontStyle::Normal, bytes).is_err() {
            panic!("the embedded DejaVu Sans font is not a valid font file");
        }
    });
}

/// A chart that can be drawn on any plotters backend and saved as PNG or SVG.
pub trait Figure {
    /// Width and height in pixels.
    fn size(&self) -> (u32, u32);

    /// Draws the chart on `root` (already filled white).
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> std::result::Result<(), String>;

    /// Renders the chart to `path`: PNG for `.png`, SVG for `.svg`. The file is written
    /// atomically (a temporary file renamed over `path`).
    fn save(&self, path: impl AsRef<Path>) -> Result<()>
    where
        Self: Sized,
    {
        let path = path.as_ref();
        let bytes = match path
            .extension()
            .and_then(|e| e.to_str())
            .map(|e| e.to_ascii_lowercase())
            .as_deref()
        {
            Some("png") => self.render_png()?,
            Some("svg") => self.render_svg()?.into_bytes(),
            _ => {
                return Err(FerriteError::invalid(
                    "plot file",
                    format!("{}: the extension must be .png or .svg", path.display()),
                ))
            }
        };
        crate::train::write_atomic(path, &bytes)
    }

    /// The chart as PNG bytes.
    fn render_png(&self) -> Result<Vec<u8>>
    where
        Self: Sized,
    {
        register_font();
        let (w, h) = self.size();
        let mut rgb = vec![0u8; w as usize * h as usize * 3];
        {
            let root = BitMapBackend::with_buffer(&mut rgb, (w, h)).into_drawing_area();
            root.fill(&WHITE).map_err(plot_error)?;
            self.draw(&root)
                .map_err(|m| FerriteError::invalid("plot", m))?;
            root.present().map_err(plot_error)?;
        }
        let image = image::RgbImage::from_raw(w, h, rgb).expect("the buffer has w*h*3 bytes");
        let mut png = Cursor::new(Vec::new());
        image
            .write_to(&mut png, image::ImageFormat::Png)
            .map_err(|e| FerriteError::invalid("plot", format!("PNG encoding failed: {e}")))?;
        Ok(png.into_inner())
    }

    /// The chart as an SVG document.
    fn render_svg(&self) -> Result<String>
    where
        Self: Sized,
    {
        register_font();
        let mut svg = String::new();
        {
            let root = SVGBackend::with_string(&mut svg, self.size()).into_drawing_area();
            root.fill(&WHITE).map_err(plot_error)?;
            self.draw(&root)
                .map_err(|m| FerriteError::invalid("plot", m))?;
            root.present().map_err(plot_error)?;
        }
        Ok(svg)
    }
}

fn plot_error(e: impl std::fmt::Display) -> FerriteError {
    FerriteError::invalid("plot", e.to_string())
}

/// Converts a plotters error to the message [`Figure::draw`] returns.
pub(crate) fn draw_err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Distinct colours for series (matplotlib's "tab10" palette).
pub(crate) fn palette(i: usize) -> RGBColor {
    const TAB10: [(u8, u8, u8); 10] = [
        (31, 119, 180),
        (255, 127, 14),
        (44, 160, 44),
        (214, 39, 40),
        (148, 103, 189),
        (140, 86, 75),
        (227, 119, 194),
        (127, 127, 127),
        (188, 189, 34),
        (23, 190, 207),
    ];
    let (r, g, b) = TAB10[i % TAB10.len()];
    RGBColor(r, g, b)
}

/// A tick label: at most 4 decimals, trailing zeros dropped, and no "-0".
pub(crate) fn tick_label(v: &f64) -> String {
    let text = format!("{v:.4}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" || text.is_empty() {
        "0".to_string()
    } else {
        text.to_string()
    }
}

/// The range covering the finite values of `values`, widened by 5% on each side (and to
/// ±1 around a single value), for axes.
pub(crate) fn padded_range(values: impl IntoIterator<Item = f64>) -> std::ops::Range<f64> {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.into_iter().filter(|v| v.is_finite()) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if lo > hi {
        return 0.0..1.0;
    }
    if hi - lo < 1e-12 {
        return (lo - 1.0)..(hi + 1.0);
    }
    let pad = 0.05 * (hi - lo);
    (lo - pad)..(hi + pad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padded_range_ignores_non_finite_values() {
        let r = padded_range([0.0, 10.0, f64::NAN, f64::INFINITY]);
        assert!((r.start + 0.5).abs() < 1e-12 && (r.end - 10.5).abs() < 1e-12);
        assert_eq!(padded_range([2.0]), 1.0..3.0);
        assert_eq!(padded_range([]), 0.0..1.0);
    }

    #[test]
    fn tick_labels_are_short_and_never_negative_zero() {
        assert_eq!(tick_label(&-0.00001), "0");
        assert_eq!(tick_label(&2.0), "2");
        assert_eq!(tick_label(&0.25), "0.25");
        assert_eq!(tick_label(&-1.5), "-1.5");
    }
}
