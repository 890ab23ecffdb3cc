//! The confusion matrix as a heat map with the count in every cell.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{draw_err, Figure, FONT};
use crate::metrics::ConfusionMatrix;

/// A heat map of a confusion matrix: true classes down the rows, predicted classes across
/// the columns (scikit-learn's layout), darker blue for larger counts, each count written
/// in its cell.
///
/// ```
/// use ferrite::metrics::ConfusionMatrix;
/// use ferrite::plot::{ConfusionMatrixChart, Figure};
/// let cm = ConfusionMatrix { labels: vec![0, 1], counts: vec![vec![50, 2], vec![5, 43]] };
/// let chart = ConfusionMatrixChart::new("Breast cancer", &cm).class_names(&["malignant", "benign"]);
/// assert_eq!(chart.size(), (640, 600));
/// ```
#[derive(Clone, Debug)]
pub struct ConfusionMatrixChart {
    title: String,
    names: Vec<String>,
    counts: Vec<Vec<usize>>,
    size: (u32, u32),
}

impl ConfusionMatrixChart {
    /// The heat map of `matrix`, its classes named by their labels; 640×600 pixels.
    pub fn new(title: impl Into<String>, matrix: &ConfusionMatrix) -> ConfusionMatrixChart {
        ConfusionMatrixChart {
            title: title.into(),
            names: matrix.labels.iter().map(|l| l.to_string()).collect(),
            counts: matrix.counts.clone(),
            size: (640, 600),
        }
    }

    /// Names the classes (in the matrix's label order). Panics when the number differs.
    pub fn class_names<S: AsRef<str>>(mut self, names: &[S]) -> Self {
        assert_eq!(
            names.len(),
            self.names.len(),
            "ConfusionMatrixChart: {} class names for {} classes",
            names.len(),
            self.names.len()
        );
        self.names = names.iter().map(|s| s.as_ref().to_string()).collect();
        self
    }

    /// Sets the size in pixels.
    pub fn with_size(mut self, width: u32, height: u32) -> Self {
        self.size = (width, height);
        self
    }
}

/// White (0) to dark blue (1): matplotlib's "Blues" ends, interpolated linearly.
fn blues(t: f64) -> RGBColor {
    let lerp = |a: f64, b: f64| (a + (b - a) * t.clamp(0.0, 1.0)).round() as u8;
    RGBColor(lerp(247.0, 8.0), lerp(251.0, 48.0), lerp(255.0, 107.0))
}

impl Figure for ConfusionMatrixChart {
    fn size(&self) -> (u32, u32) {
        self.size
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let n = self.names.len();
        if n == 0 {
            return Err("the confusion matrix has no classes".into());
        }
        let max = self
            .counts
            .iter()
            .flatten()
            .copied()
            .max()
            .unwrap_or(0)
            .max(1) as f64;
        let names = &self.names;
        let label = |v: &SegmentValue<usize>| match v {
            SegmentValue::CenterOf(i) if *i < n => names[*i].clone(),
            _ => String::new(),
        };
        // Row 0 at the top: y position of row i is n - 1 - i.
        let row_label = |v: &SegmentValue<usize>| match v {
            SegmentValue::CenterOf(i) if *i < n => names[n - 1 - *i].clone(),
            _ => String::new(),
        };
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, (FONT, 22))
            .margin(16)
            .x_label_area_size(50)
            .y_label_area_size(90)
            // A segmented 0..k range has the k + 1 segments 0..=k.
            .build_cartesian_2d((0..n - 1).into_segmented(), (0..n - 1).into_segmented())
            .map_err(draw_err)?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc("predicted class")
            .y_desc("true class")
            .x_labels(n)
            .y_labels(n)
            .x_label_formatter(&label)
            .y_label_formatter(&row_label)
            .label_style((FONT, 14))
            .axis_desc_style((FONT, 16))
            .draw()
            .map_err(draw_err)?;
        let cells = self
            .counts
            .iter()
            .enumerate()
            .flat_map(|(i, row)| row.iter().enumerate().map(move |(j, &c)| (i, j, c)));
        chart
            .draw_series(cells.clone().map(|(i, j, c)| {
                let y = n - 1 - i;
                Rectangle::new(
                    [
                        (SegmentValue::Exact(j), SegmentValue::Exact(y)),
                        (SegmentValue::Exact(j + 1), SegmentValue::Exact(y + 1)),
                    ],
                    blues(c as f64 / max).filled(),
                )
            }))
            .map_err(draw_err)?;
        let font_size = (36.0 - 2.0 * n as f64).clamp(11.0, 28.0);
        chart
            .draw_series(cells.map(|(i, j, c)| {
                // Dark text on light cells, white on dark ones.
                let color = if (c as f64 / max) > 0.5 { WHITE } else { BLACK };
                let style = (FONT, font_size)
                    .into_font()
                    .color(&color)
                    .pos(Pos::new(HPos::Center, VPos::Center));
                Text::new(
                    c.to_string(),
                    (SegmentValue::CenterOf(j), SegmentValue::CenterOf(n - 1 - i)),
                    style,
                )
            }))
            .map_err(draw_err)?;
        Ok(())
    }
}
