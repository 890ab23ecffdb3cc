//! ROC curves of one or more models on one axes, each labelled with its AUC.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{draw_err, palette, tick_label, Figure, FONT};
use crate::metrics::{auc, RocCurve};

/// A curve's name, its (fpr, tpr) points and its AUC.
type NamedCurve = (String, Vec<(f64, f64)>, f64);

/// Receiver operating characteristic curves (false positive rate on x, true positive rate
/// on y) with the chance diagonal; the legend gives each curve's area under it.
///
/// ```
/// use ferrite::metrics::roc_curve;
/// use ferrite::plot::{Figure, RocChart};
/// let roc = roc_curve(&[0, 0, 1, 1], &[0.1, 0.4, 0.35, 0.8], true);
/// let chart = RocChart::new("ROC").curve("logistic regression", &roc);
/// assert_eq!(chart.size(), (600, 600));
/// ```
#[derive(Clone, Debug)]
pub struct RocChart {
    title: String,
    curves: Vec<NamedCurve>,
    size: (u32, u32),
}

impl RocChart {
    /// An empty chart titled `title`, 600×600 pixels.
    pub fn new(title: impl Into<String>) -> RocChart {
        RocChart {
            title: title.into(),
            curves: Vec::new(),
            size: (600, 600),
        }
    }

    /// Adds a model's curve; its legend entry reads `name (AUC = 0.912)`.
    pub fn curve(mut self, name: impl Into<String>, roc: &RocCurve) -> Self {
        let area = auc(&roc.fpr, &roc.tpr);
        let points = roc
            .fpr
            .iter()
            .copied()
            .zip(roc.tpr.iter().copied())
            .collect();
        self.curves.push((name.into(), points, area));
        self
    }

    /// The legend texts, in order.
    pub fn legend_entries(&self) -> Vec<String> {
        self.curves
            .iter()
            .map(|(name, _, area)| format!("{name} (AUC = {area:.3})"))
            .collect()
    }

    /// Sets the size in pixels.
    pub fn with_size(mut self, width: u32, height: u32) -> Self {
        self.size = (width, height);
        self
    }
}

impl Figure for RocChart {
    fn size(&self) -> (u32, u32) {
        self.size
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let mut chart = ChartBuilder::on(root)
            .caption(&self.title, (FONT, 22))
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(60)
            .build_cartesian_2d(-0.01f64..1.01, -0.01f64..1.01)
            .map_err(draw_err)?;
        chart
            .configure_mesh()
            .x_desc("false positive rate")
            .y_desc("true positive rate")
            .x_label_formatter(&tick_label)
            .y_label_formatter(&tick_label)
            .label_style((FONT, 14))
            .axis_desc_style((FONT, 16))
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(draw_err)?;
        let grey = BLACK.mix(0.5);
        chart
            .draw_series(DashedLineSeries::new(
                vec![(0.0, 0.0), (1.0, 1.0)],
                6,
                4,
                grey.stroke_width(1),
            ))
            .map_err(draw_err)?
            .label("chance (AUC = 0.500)")
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 22, y)], grey));
        for (i, ((_, points, _), label)) in
            self.curves.iter().zip(self.legend_entries()).enumerate()
        {
            let color = palette(i);
            chart
                .draw_series(LineSeries::new(
                    points.iter().copied(),
                    color.stroke_width(2),
                ))
                .map_err(draw_err)?
                .label(label)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 22, y)], color.stroke_width(3))
                });
        }
        chart
            .configure_series_labels()
            .label_font((FONT, 15))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK.mix(0.5))
            .position(SeriesLabelPosition::LowerRight)
            .draw()
            .map_err(draw_err)?;
        Ok(())
    }
}
