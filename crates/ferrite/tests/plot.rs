//! Plots: every chart renders to a PNG of the expected size (decoded with `image`) showing
//! its data colours and text, and to an SVG with its title and legend.

use std::path::PathBuf;

use ferrite::metrics::{confusion_matrix, roc_curve, ConfusionMatrix};
use ferrite::plot::{
    ConfusionMatrixChart, FeatureMapGrid, Figure, LineChart, RocChart, TrainingCurves,
    TrueVsPredicted,
};
use ferrite::train::{EpochMetrics, History};
use ferrite::Tensor;

/// The folder for the files: `$FERRITE_KEEP_PLOTS` (kept there, to look at them) or a
/// temporary one (files removed after the checks).
fn out_dir() -> PathBuf {
    let dir = match std::env::var_os("FERRITE_KEEP_PLOTS") {
        Some(dir) => PathBuf::from(dir),
        None => std::env::temp_dir().join(format!("ferrite-plot-test-{}", std::process::id())),
    };
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Saves `fig` as PNG and SVG, checks sizes, and returns the decoded PNG and the SVG text.
fn render(fig: &impl Figure, name: &str) -> (image::RgbImage, String) {
    let dir = out_dir();
    let png_path = dir.join(format!("{name}.png"));
    let svg_path = dir.join(format!("{name}.svg"));
    fig.save(&png_path).unwrap();
    fig.save(&svg_path).unwrap();
    let (w, h) = fig.size();
    let img = image::open(&png_path).unwrap().to_rgb8();
    assert_eq!(img.dimensions(), (w, h), "{name}.png size");
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    assert!(svg.starts_with("<svg"), "{name}.svg is not an SVG document");
    assert!(
        svg.contains(&format!("width=\"{w}\"")) && svg.contains(&format!("height=\"{h}\"")),
        "{name}.svg size"
    );
    if std::env::var_os("FERRITE_KEEP_PLOTS").is_none() {
        std::fs::remove_file(png_path).unwrap();
        std::fs::remove_file(svg_path).unwrap();
    }
    (img, svg)
}

/// Pixels within 30 of `rgb` in every channel.
fn count_near(img: &image::RgbImage, rgb: [u8; 3]) -> usize {
    img.pixels()
        .filter(|p| {
            p.0.iter()
                .zip(rgb)
                .all(|(&a, b)| (a as i32 - b as i32).abs() <= 30)
        })
        .count()
}

/// Pixels of a blue hue (the first series colour, also blended with white).
fn count_bluish(img: &image::RgbImage) -> usize {
    img.pixels()
        .filter(|p| p.0[2] as i32 - p.0[0] as i32 > 60)
        .count()
}

/// The texts of an SVG's `<text>` elements, trimmed.
fn svg_texts(svg: &str) -> Vec<String> {
    svg.split("<text")
        .skip(1)
        .filter_map(|t| {
            let start = t.find('>')? + 1;
            let end = t.find("</text>")?;
            Some(t[start..end].trim().to_string())
        })
        .collect()
}

/// Panics unless the SVG has a `<text>` element reading exactly `text`.
fn assert_svg_text(svg: &str, text: &str) {
    let texts = svg_texts(svg);
    assert!(
        texts.iter().any(|t| t == text),
        "SVG has no text {text:?}; it has {texts:?}"
    );
}

/// Dark pixels: axes and text.
fn count_dark(img: &image::RgbImage) -> usize {
    img.pixels().filter(|p| p.0.iter().all(|&c| c < 80)).count()
}

const BLUE: [u8; 3] = [31, 119, 180];
const ORANGE: [u8; 3] = [255, 127, 14];

fn history(with_accuracy: bool) -> History {
    let epochs = (1..=12)
        .map(|e| {
            let t = e as f64;
            EpochMetrics {
                epoch: e,
                loss: 1.0 / t,
                accuracy: with_accuracy.then(|| 1.0 - 0.5 / t),
                val_loss: Some(1.2 / t + 0.01 * t),
                val_accuracy: with_accuracy.then(|| 0.95 - 0.5 / t),
                lr: 0.01,
                seconds: 0.1,
            }
        })
        .collect();
    History {
        epochs,
        stop_reason: None,
    }
}

#[test]
fn training_curves_show_loss_and_accuracy_panels() {
    let (img, svg) = render(&TrainingCurves::new(&history(true)), "curves");
    assert_eq!(img.dimensions(), (1400, 480));
    assert!(count_near(&img, BLUE) > 300, "training lines are drawn");
    assert!(count_near(&img, ORANGE) > 300, "validation lines are drawn");
    assert!(count_dark(&img) > 2000, "axes and text are drawn");
    for text in [
        "Loss",
        "Accuracy",
        "epoch",
        "loss",
        "accuracy",
        "training",
        "validation",
        "12",
    ] {
        assert_svg_text(&svg, text);
    }
    // Loss alone without accuracy.
    let (img, _) = render(&TrainingCurves::new(&history(false)), "loss-only");
    assert_eq!(img.dimensions(), (700, 480));
}

#[test]
fn series_chart_draws_every_line() {
    let truth: Vec<f32> = (0..120).map(|t| (t as f32 / 8.0).sin()).collect();
    let forecast: Vec<(f64, f64)> = (100..120)
        .map(|t| (t as f64, (t as f64 / 8.0).sin() * 0.9))
        .collect();
    let chart = LineChart::new("Forecast")
        .labels("time step", "value")
        .values("truth", &truth)
        .series("forecast", forecast);
    let (img, svg) = render(&chart, "series");
    assert_eq!(img.dimensions(), (800, 500));
    assert!(count_near(&img, BLUE) > 500 && count_near(&img, ORANGE) > 50);
    for text in ["Forecast", "time step", "value", "truth", "forecast"] {
        assert_svg_text(&svg, text);
    }
}

#[test]
fn true_vs_predicted_scatter() {
    let y: Vec<f32> = (0..100).map(|i| i as f32 / 10.0).collect();
    let p: Vec<f32> = y
        .iter()
        .enumerate()
        .map(|(i, v)| v + ((i * 7 % 11) as f32 - 5.0) * 0.05)
        .collect();
    let (img, svg) = render(&TrueVsPredicted::new("Regression", &y, &p), "scatter");
    assert_eq!(img.dimensions(), (600, 600));
    assert!(count_bluish(&img) > 1000, "the sample markers are drawn");
    for text in [
        "Regression",
        "true value",
        "predicted value",
        "perfect prediction (y = x)",
        "samples",
    ] {
        assert_svg_text(&svg, text);
    }
}

#[test]
fn roc_chart_puts_auc_of_each_model_in_the_legend() {
    let truth = [0usize, 0, 1, 1, 0, 1, 0, 1, 1, 0];
    let good = roc_curve(
        &truth,
        &[0.1, 0.2, 0.8, 0.7, 0.3, 0.9, 0.4, 0.6, 0.75, 0.35],
        false,
    );
    let weak = roc_curve(
        &truth,
        &[0.5, 0.2, 0.4, 0.7, 0.6, 0.9, 0.1, 0.3, 0.8, 0.45],
        false,
    );
    let chart = RocChart::new("ROC")
        .curve("good", &good)
        .curve("weak", &weak);
    // Closed form: "good" separates the classes perfectly; "weak" ranks 19 of 25 (positive, negative) pairs right.
    assert_eq!(
        chart.legend_entries(),
        vec![
            "good (AUC = 1.000)".to_string(),
            "weak (AUC = 0.760)".to_string()
        ]
    );
    let (img, svg) = render(&chart, "roc");
    assert_eq!(img.dimensions(), (600, 600));
    assert!(count_near(&img, BLUE) > 200 && count_near(&img, ORANGE) > 200);
    for text in [
        "good (AUC = 1.000)",
        "weak (AUC = 0.760)",
        "false positive rate",
        "true positive rate",
    ] {
        assert_svg_text(&svg, text);
    }
}

#[test]
fn confusion_matrix_heat_map_writes_counts() {
    let y_true = [0usize, 0, 0, 1, 1, 2, 2, 2, 2, 1];
    let y_pred = [0usize, 0, 1, 1, 1, 2, 2, 0, 2, 1];
    let cm: ConfusionMatrix = confusion_matrix(&y_true, &y_pred, None);
    let chart =
        ConfusionMatrixChart::new("Iris", &cm).class_names(&["setosa", "versicolor", "virginica"]);
    let (img, svg) = render(&chart, "confusion");
    assert_eq!(img.dimensions(), (640, 600));
    // The largest count (3) is the darkest blue of the map.
    assert!(
        count_near(&img, [8, 48, 107]) > 1000,
        "the darkest cell is drawn"
    );
    for text in [
        "Iris",
        "setosa",
        "versicolor",
        "virginica",
        "predicted class",
        "true class",
        "3",
        "2",
        "1",
        "0",
    ] {
        assert_svg_text(&svg, text);
    }
    // One cell per count: 9 numbers, no empty extra row or column of tick labels.
    let numbers = svg_texts(&svg)
        .iter()
        .filter(|t| t.parse::<usize>().is_ok())
        .count();
    assert_eq!(numbers, 9);
}

#[test]
fn feature_map_grid_shows_each_channel_scaled() {
    // Channel k is a horizontal ramp: its left column black, its right column white.
    let (c, h, w) = (5, 12, 12);
    let data: Vec<f32> = (0..c * h * w)
        .map(|i| (i % w) as f32 * (1 + i / (h * w)) as f32)
        .collect();
    let grid = FeatureMapGrid::new("conv1 feature maps", &Tensor::from_vec(data, [c, h, w]))
        .cell_size(100);
    assert_eq!(grid.size(), (300, 240));
    let (img, svg) = render(&grid, "feature-maps");
    assert!(
        count_near(&img, [0, 0, 0]) > 5 * 40,
        "black columns of every map"
    );
    assert!(
        count_near(&img, [128, 128, 128]) > 5 * 40,
        "mid-grey columns of every map"
    );
    assert_svg_text(&svg, "channel 4");
    assert!(!svg_texts(&svg).iter().any(|t| t == "channel 5"));
}

#[test]
fn unknown_extension_is_an_error() {
    let err = LineChart::new("x")
        .save(out_dir().join("chart.jpg"))
        .unwrap_err();
    assert!(err.to_string().contains(".png or .svg"), "{err}");
}
