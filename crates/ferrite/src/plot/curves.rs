//! Line charts: named series of (x, y) points (a forecast against the truth over time), and
//! the training curves of a [`History`](crate::train::History).

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{draw_err, padded_range, palette, tick_label, Figure, FONT};
use crate::train::History;

/// One or more named lines on shared axes, with a legend.
///
/// ```
/// use ferrite::plot::{Figure, LineChart};
/// // A forecast over the truth: time steps on x.
/// let truth: Vec<(f64, f64)> = (0..50).map(|t| (t as f64, (t as f64 / 5.0).sin())).collect();
/// let forecast: Vec<(f64, f64)> = (40..50).map(|t| (t as f64, (t as f64 / 5.0).sin() + 0.1)).collect();
/// let chart = LineChart::new("Forecast").labels("time step", "value")
///     .series("truth", truth).series("forecast", forecast);
/// assert_eq!(chart.size(), (800, 500));
/// ```
#[derive(Clone, Debug)]
pub struct LineChart {
    title: String,
    x_label: String,
    y_label: String,
    series: Vec<(String, Vec<(f64, f64)>)>,
    size: (u32, u32),
    legend: SeriesLabelPosition,
}

impl LineChart {
    /// An empty chart titled `title`, 800×500 pixels.
    pub fn new(title: impl Into<String>) -> LineChart {
        LineChart {
            title: title.into(),
            x_label: "x".into(),
            y_label: "y".into(),
            series: Vec::new(),
            size: (800, 500),
            legend: SeriesLabelPosition::UpperRight,
        }
    }

    /// Axis descriptions.
    pub fn labels(mut self, x: impl Into<String>, y: impl Into<String>) -> Self {
        self.x_label = x.into();
        self.y_label = y.into();
        self
    }

    /// Adds a line named `name` through `points` (drawn in order; non-finite points skipped).
    pub fn series(mut self, name: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        self.series.push((name.into(), points));
        self
    }

    /// Adds a line through `values` at x = 0, 1, 2, ... (a series over time steps).
    pub fn values(self, name: impl Into<String>, values: &[f32]) -> Self {
        let points = values
            .iter()
            .enumerate()
            .map(|(i, &v)| (i as f64, v as f64))
            .collect();
        self.series(name, points)
    }

    /// Sets the size in pixels.
    pub fn with_size(mut self, width: u32, height: u32) -> Self {
        self.size = (width, height);
        self
    }

    /// Puts the legend in the lower right corner (for curves that rise, like accuracy).
    pub fn legend_lower_right(mut self) -> Self {
        self.legend = SeriesLabelPosition::LowerRight;
        self
    }

    /// Draws the chart on `area` (any part of a figure).
    pub(crate) fn draw_on<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
    ) -> Result<(), String> {
        let points = || self.series.iter().flat_map(|(_, p)| p.iter());
        let x_range = padded_range(points().map(|p| p.0));
        let mut y_range = padded_range(points().map(|p| p.1));
        // Head room for the legend box, so it does not hide the lines' ends.
        let legend_room = 0.06 * self.series.len() as f64 * (y_range.end - y_range.start);
        match self.legend {
            SeriesLabelPosition::UpperRight => y_range.end += legend_room,
            _ => y_range.start -= legend_room,
        }
        let mut chart = ChartBuilder::on(area)
            .caption(&self.title, (FONT, 22))
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(65)
            .build_cartesian_2d(x_range, y_range)
            .map_err(draw_err)?;
        chart
            .configure_mesh()
            .x_desc(&self.x_label)
            .y_desc(&self.y_label)
            .x_label_formatter(&tick_label)
            .y_label_formatter(&tick_label)
            .label_style((FONT, 14))
            .axis_desc_style((FONT, 16))
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(draw_err)?;
        for (i, (name, pts)) in self.series.iter().enumerate() {
            let color = palette(i);
            let finite = pts
                .iter()
                .copied()
                .filter(|(x, y)| x.is_finite() && y.is_finite());
            let drawn = chart
                .draw_series(LineSeries::new(finite, color.stroke_width(2)))
                .map_err(draw_err)?;
            drawn.label(name.as_str()).legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 22, y)], color.stroke_width(3))
            });
            // Markers too when there are few points (epochs), so single epochs show.
            if pts.len() <= 60 {
                let finite = pts
                    .iter()
                    .copied()
                    .filter(|(x, y)| x.is_finite() && y.is_finite());
                chart
                    .draw_series(finite.map(|p| Circle::new(p, 3, color.filled())))
                    .map_err(draw_err)?;
            }
        }
        if !self.series.is_empty() {
            chart
                .configure_series_labels()
                .label_font((FONT, 15))
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK.mix(0.5))
                .position(self.legend.clone())
                .draw()
                .map_err(draw_err)?;
        }
        Ok(())
    }
}

impl Figure for LineChart {
    fn size(&self) -> (u32, u32) {
        self.size
    }
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        self.draw_on(root)
    }
}

/// Loss per epoch (training and validation), and beside it the accuracy when the history
/// has one: Keras's `history.history` plots.
///
/// ```no_run
/// # fn demo(history: &ferrite::train::History) -> ferrite::Result<()> {
/// use ferrite::plot::{Figure, TrainingCurves};
/// TrainingCurves::new(history).save("curves.png")?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct TrainingCurves {
    loss: LineChart,
    accuracy: Option<LineChart>,
}

impl TrainingCurves {
    /// The curves of `history`: 700×480 for loss alone, 1400×480 with accuracy.
    pub fn new(history: &History) -> TrainingCurves {
        let curve = |name: &str| -> Vec<(f64, f64)> {
            history
                .epochs
                .iter()
                .filter_map(|e| e.get(name).map(|v| (e.epoch as f64, v)))
                .collect()
        };
        let chart = |title: &str, y: &str, train: &str, val: &str| {
            let mut c = LineChart::new(title)
                .labels("epoch", y)
                .series("training", curve(train));
            let v = curve(val);
            if !v.is_empty() {
                c = c.series("validation", v);
            }
            c
        };
        let loss = chart("Loss", "loss", "loss", "val_loss");
        let has_accuracy = history.epochs.iter().any(|e| e.accuracy.is_some());
        let accuracy = has_accuracy.then(|| {
            chart("Accuracy", "accuracy", "accuracy", "val_accuracy").legend_lower_right()
        });
        TrainingCurves { loss, accuracy }
    }
}

impl Figure for TrainingCurves {
    fn size(&self) -> (u32, u32) {
        if self.accuracy.is_some() {
            (1400, 480)
        } else {
            (700, 480)
        }
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        match &self.accuracy {
            Some(acc) => {
                let panels = root.split_evenly((1, 2));
                self.loss.draw_on(&panels[0])?;
                acc.draw_on(&panels[1])
            }
            None => self.loss.draw_on(root),
        }
    }
}
