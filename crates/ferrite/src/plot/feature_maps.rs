//! A grid of feature maps (the channels of a convolution's output), each in grey levels.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{draw_err, Figure, FONT};
use crate::Tensor;

/// The channels of a `(C, H, W)` tensor side by side, `columns` to a row, each scaled to its
/// own minimum (black) and maximum (white) and titled by its index: what a convolution
/// layer "sees".
///
/// ```
/// use ferrite::plot::{FeatureMapGrid, Figure};
/// use ferrite::Tensor;
/// let maps = Tensor::arange(0.0, 6.0 * 8.0 * 8.0, 1.0).reshape([6, 8, 8]);
/// let grid = FeatureMapGrid::new("conv1", &maps).columns(3);
/// assert_eq!(grid.size(), (3 * 160, 2 * 160 + 40));
/// ```
#[derive(Clone, Debug)]
pub struct FeatureMapGrid {
    title: String,
    channels: usize,
    height: usize,
    width: usize,
    /// Per channel, values scaled to [0, 1], row-major.
    levels: Vec<Vec<f64>>,
    columns: usize,
    cell: u32,
}

impl FeatureMapGrid {
    /// The grid of `maps` `(C, H, W)` (or `(1, C, H, W)`), about square. Panics on other
    /// shapes.
    pub fn new(title: impl Into<String>, maps: &Tensor) -> FeatureMapGrid {
        let maps = if maps.rank() == 4 && maps.dims()[0] == 1 {
            maps.squeeze(0)
        } else {
            maps.clone()
        };
        assert_eq!(
            maps.rank(),
            3,
            "FeatureMapGrid: expected (C, H, W) feature maps, got shape {:?}",
            maps.dims()
        );
        let (c, h, w) = (maps.dims()[0], maps.dims()[1], maps.dims()[2]);
        // Per channel: (x - min) / (max - min), computed with tensor reductions.
        let levels = {
            let _no_grad = crate::no_grad();
            let flat = maps.detach().reshape([c, h * w]);
            let lo = flat.min_dim(1, true).0;
            let hi = flat.max_dim(1, true).0;
            let span = (&hi - &lo).clamp_min(1e-12);
            ((&flat - &lo) / span).to_vec()
        };
        let levels = levels
            .chunks(h * w)
            .map(|ch| ch.iter().map(|&v| v as f64).collect())
            .collect();
        let columns = (c as f64).sqrt().ceil().max(1.0) as usize;
        FeatureMapGrid {
            title: title.into(),
            channels: c,
            height: h,
            width: w,
            levels,
            columns,
            cell: 160,
        }
    }

    /// The number of maps per row.
    pub fn columns(mut self, columns: usize) -> Self {
        self.columns = columns.max(1);
        self
    }

    /// The side of one map's cell in pixels (160 by default).
    pub fn cell_size(mut self, pixels: u32) -> Self {
        self.cell = pixels.max(32);
        self
    }

    fn rows(&self) -> usize {
        self.channels.div_ceil(self.columns)
    }
}

impl Figure for FeatureMapGrid {
    /// `columns × cell` wide; `rows × cell` plus 40 pixels for the title high.
    fn size(&self) -> (u32, u32) {
        (
            self.columns as u32 * self.cell,
            self.rows() as u32 * self.cell + 40,
        )
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let root = root.titled(&self.title, (FONT, 22)).map_err(draw_err)?;
        let panels = root.split_evenly((self.rows(), self.columns));
        let (h, w) = (self.height, self.width);
        for (k, (panel, levels)) in panels.iter().zip(&self.levels).enumerate() {
            let mut chart = ChartBuilder::on(panel)
                .caption(format!("channel {k}"), (FONT, 13))
                .margin(4)
                .build_cartesian_2d(0..w, 0..h)
                .map_err(draw_err)?;
            // Pixel (r, c) of the map covers [c, c+1) × [h-1-r, h-r): row 0 at the top.
            chart
                .draw_series(levels.iter().enumerate().map(|(idx, &v)| {
                    let (r, c) = (idx / w, idx % w);
                    let g = (v * 255.0).round() as u8;
                    Rectangle::new([(c, h - 1 - r), (c + 1, h - r)], RGBColor(g, g, g).filled())
                }))
                .map_err(draw_err)?;
        }
        Ok(())
    }
}
