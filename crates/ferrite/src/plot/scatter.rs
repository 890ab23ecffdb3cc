//! True against predicted values of a regression: a scatter with the line y = x.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{draw_err, padded_range, palette, tick_label, Figure, FONT};

/// A scatter of predictions (y) against true values (x), with the diagonal a perfect model
/// would sit on; both axes share one range so distances from the diagonal read truly.
///
/// ```
/// use ferrite::plot::{Figure, TrueVsPredicted};
/// let chart = TrueVsPredicted::new("House prices", &[1.0, 2.0, 3.0], &[1.1, 1.8, 3.2]);
/// assert_eq!(chart.size(), (600, 600));
/// ```
#[derive(Clone, Debug)]
pub struct TrueVsPredicted {
    title: String,
    points: Vec<(f64, f64)>,
    size: (u32, u32),
}

impl TrueVsPredicted {
    /// The chart of `predicted[i]` against `y_true[i]`, 600×600 pixels.
    /// Panics when the lengths differ.
    pub fn new(title: impl Into<String>, y_true: &[f32], predicted: &[f32]) -> TrueVsPredicted {
        assert_eq!(
            y_true.len(),
            predicted.len(),
            "TrueVsPredicted: {} true values but {} predictions",
            y_true.len(),
            predicted.len()
        );
        let points = y_true
            .iter()
            .zip(predicted)
            .map(|(&t, &p)| (t as f64, p as f64))
            .collect();
        TrueVsPredicted {
            title: title.into(),
            points,
            size: (600, 600),
        }
    }

    /// Sets the size in pixels.
    pub fn with_size(mut self, width: u32, height: u32) -> Self {
        self.size = (width, height);
        self
    }
}

impl Figure for TrueVsPredicted {
    fn size(&self) -> (u32, u32) {
        self.size
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let range = padded_range(self.points.iter().flat_map(|&(t, p)| [t, p]));
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, (FONT, 22))
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(65)
            .build_cartesian_2d(range.clone(), range.clone())
            .map_err(draw_err)?;
        chart
            .configure_mesh()
            .x_desc("true value")
            .y_desc("predicted value")
            .x_label_formatter(&tick_label)
            .y_label_formatter(&tick_label)
            .label_style((FONT, 14))
            .axis_desc_style((FONT, 16))
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(draw_err)?;
        let diagonal = vec![(range.start, range.start), (range.end, range.end)];
        chart
            .draw_series(LineSeries::new(diagonal, BLACK.mix(0.6).stroke_width(1)))
            .map_err(draw_err)?
            .label("perfect prediction (y = x)")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 22, y)], BLACK.mix(0.6)));
        let color = palette(0);
        let finite = self
            .points
            .iter()
            .copied()
            .filter(|(t, p)| t.is_finite() && p.is_finite());
        chart
            .draw_series(finite.map(|p| Circle::new(p, 3, color.mix(0.7).filled())))
            .map_err(draw_err)?
            .label("samples")
            .legend(move |(x, y)| Circle::new((x + 11, y), 4, color.filled()));
        chart
            .configure_series_labels()
            .label_font((FONT, 15))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.5))
            .position(SeriesLabelPosition::UpperLeft)
            .draw()
            .map_err(draw_err)?;
        Ok(())
    }
}
