//! Ranking metrics of binary scores, as scikit-learn computes them: ROC curve (with tied
//! scores grouped and collinear points dropped), AUC, precision–recall curve and average
//! precision. Label 1 is the positive class; every other label is negative.

use serde::{Deserialize, Serialize};

use super::check_lengths;

/// Receiver operating characteristic: `fpr[i]`, `tpr[i]` are the rates when predicting
/// positive for scores `>= thresholds[i]`. The first threshold is `+∞` (the point (0, 0)).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RocCurve {
    /// False positive rates, increasing.
    pub fpr: Vec<f64>,
    /// True positive rates, increasing.
    pub tpr: Vec<f64>,
    /// Decreasing score thresholds, `+∞` first.
    pub thresholds: Vec<f64>,
}

/// Precision and recall when predicting positive for scores `>= thresholds[i]`, ordered by
/// increasing threshold; the last point is precision 1, recall 0 (no threshold).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrecisionRecallCurve {
    /// `thresholds.len() + 1` precisions.
    pub precision: Vec<f64>,
    /// `thresholds.len() + 1` recalls, decreasing.
    pub recall: Vec<f64>,
    /// Distinct scores, increasing.
    pub thresholds: Vec<f64>,
}

/// Cumulative false and true positives at each distinct score, scores decreasing
/// (scikit-learn's `_binary_clf_curve`): `(fps, tps, thresholds)`.
fn binary_clf_curve(
    metric: &str,
    y_true: &[usize],
    y_score: &[f32],
) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    check_lengths(metric, y_true.len(), y_score.len());
    assert!(!y_true.is_empty(), "{metric}: no samples");
    assert!(
        y_score.iter().all(|s| !s.is_nan()),
        "{metric}: y_score contains NaN"
    );
    let mut order: Vec<usize> = (0..y_true.len()).collect();
    order.sort_by(|&a, &b| y_score[b].total_cmp(&y_score[a]));
    let (mut fps, mut tps, mut thresholds) = (Vec::new(), Vec::new(), Vec::new());
    let mut tp = 0.0;
    for (rank, &i) in order.iter().enumerate() {
        tp += f64::from(u8::from(y_true[i] == 1));
        // One point per distinct score: at the last sample of each tie group.
        let last_of_group = order
            .get(rank + 1)
            .is_none_or(|&next| y_score[next] != y_score[i]);
        if last_of_group {
            tps.push(tp);
            fps.push((rank + 1) as f64 - tp);
            thresholds.push(y_score[i] as f64);
        }
    }
    (fps, tps, thresholds)
}

/// The ROC curve of scores for the positive class (label 1). With `drop_intermediate`
/// (scikit-learn's default) points collinear with their neighbours are dropped; the area is
/// the same.
///
/// Without negatives (or positives) the false (true) positive rates are NaN, as in
/// scikit-learn (which also warns).
///
/// ```
/// use ferrite::metrics::roc_curve;
/// let roc = roc_curve(&[0, 0, 1, 1], &[0.1, 0.4, 0.35, 0.8], true);
/// assert_eq!(roc.fpr, vec![0.0, 0.0, 0.5, 0.5, 1.0]);
/// assert_eq!(roc.tpr, vec![0.0, 0.5, 0.5, 1.0, 1.0]);
/// ```
pub fn roc_curve(y_true: &[usize], y_score: &[f32], drop_intermediate: bool) -> RocCurve {
    let (mut fps, mut tps, mut thresholds) = binary_clf_curve("roc_curve", y_true, y_score);
    if drop_intermediate && fps.len() > 2 {
        // Keep the ends and every point where the second difference of fps or tps is non-zero.
        let keep: Vec<usize> = (0..fps.len())
            .filter(|&i| {
                i == 0
                    || i == fps.len() - 1
                    || fps[i - 1] - 2.0 * fps[i] + fps[i + 1] != 0.0
                    || tps[i - 1] - 2.0 * tps[i] + tps[i + 1] != 0.0
            })
            .collect();
        fps = keep.iter().map(|&i| fps[i]).collect();
        tps = keep.iter().map(|&i| tps[i]).collect();
        thresholds = keep.iter().map(|&i| thresholds[i]).collect();
    }
    fps.insert(0, 0.0);
    tps.insert(0, 0.0);
    thresholds.insert(0, f64::INFINITY);
    let rate = |v: &[f64]| {
        let last = *v.last().unwrap_or(&0.0);
        v.iter()
            .map(|&x| if last > 0.0 { x / last } else { f64::NAN })
            .collect()
    };
    RocCurve {
        fpr: rate(&fps),
        tpr: rate(&tps),
        thresholds,
    }
}

/// Area under a curve by the trapezoidal rule; `x` must be monotonic (increasing or
/// decreasing), as scikit-learn's `auc` requires.
///
/// # Panics
/// If `x` is not monotonic or the lengths differ.
pub fn auc(x: &[f64], y: &[f64]) -> f64 {
    check_lengths("auc", x.len(), y.len());
    assert!(
        x.len() >= 2,
        "auc: at least 2 points are needed, got {}",
        x.len()
    );
    let increasing = x.windows(2).all(|w| w[1] >= w[0]);
    let decreasing = x.windows(2).all(|w| w[1] <= w[0]);
    assert!(
        increasing || decreasing,
        "auc: x is neither increasing nor decreasing"
    );
    let area: f64 = x
        .windows(2)
        .zip(y.windows(2))
        .map(|(xs, ys)| (xs[1] - xs[0]) * (ys[0] + ys[1]) / 2.0)
        .sum();
    if decreasing && !increasing {
        -area
    } else {
        area
    }
}

/// Area under the ROC curve: the probability that a random positive scores above a random
/// negative (ties count half). NaN when `y_true` holds one class only (scikit-learn raises).
pub fn roc_auc_score(y_true: &[usize], y_score: &[f32]) -> f64 {
    let roc = roc_curve(y_true, y_score, true);
    if roc.fpr.iter().chain(&roc.tpr).any(|v| v.is_nan()) {
        return f64::NAN;
    }
    auc(&roc.fpr, &roc.tpr)
}

/// Precision and recall at every distinct score (scikit-learn's `precision_recall_curve`,
/// `drop_intermediate=False`). Precision is 0 where nothing is predicted positive; without
/// positives recall is 1 everywhere (scikit-learn warns).
pub fn precision_recall_curve(y_true: &[usize], y_score: &[f32]) -> PrecisionRecallCurve {
    let (fps, tps, thresholds) = binary_clf_curve("precision_recall_curve", y_true, y_score);
    let total_pos = *tps.last().unwrap_or(&0.0);
    let mut precision: Vec<f64> = tps
        .iter()
        .zip(&fps)
        .map(|(&tp, &fp)| if tp + fp != 0.0 { tp / (tp + fp) } else { 0.0 })
        .collect();
    let mut recall: Vec<f64> = tps
        .iter()
        .map(|&tp| {
            if total_pos == 0.0 {
                1.0
            } else {
                tp / total_pos
            }
        })
        .collect();
    let mut thresholds = thresholds;
    precision.reverse();
    recall.reverse();
    thresholds.reverse();
    precision.push(1.0);
    recall.push(0.0);
    PrecisionRecallCurve {
        precision,
        recall,
        thresholds,
    }
}

/// Average precision `Σ (R_k − R_{k−1}) P_k`: the step-wise area under the precision–recall
/// curve (no interpolation), as scikit-learn's `average_precision_score`.
pub fn average_precision_score(y_true: &[usize], y_score: &[f32]) -> f64 {
    let pr = precision_recall_curve(y_true, y_score);
    let ap: f64 = -pr
        .recall
        .windows(2)
        .zip(&pr.precision)
        .map(|(r, p)| (r[1] - r[0]) * p)
        .sum::<f64>();
    ap.max(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_is_the_pairwise_ranking_probability() {
        // Positives 0.8, 0.35; negatives 0.1, 0.4: pairs won 3 of 4.
        assert!((roc_auc_score(&[0, 0, 1, 1], &[0.1, 0.4, 0.35, 0.8]) - 0.75).abs() < 1e-12);
        // A tie between a positive and a negative counts half.
        assert!((roc_auc_score(&[0, 1], &[0.5, 0.5]) - 0.5).abs() < 1e-12);
        assert!(roc_auc_score(&[1, 1], &[0.5, 0.7]).is_nan());
    }

    #[test]
    fn perfect_ranking_has_unit_average_precision() {
        assert!(
            (average_precision_score(&[0, 1, 0, 1], &[0.1, 0.9, 0.2, 0.8]) - 1.0).abs() < 1e-12
        );
    }
}
