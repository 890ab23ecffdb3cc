//! Classification metrics with scikit-learn's definitions: confusion matrix, accuracy,
//! precision, recall, specificity, F-beta (per class, micro, macro, weighted) and log loss.

use serde::{Deserialize, Serialize};

use super::check_lengths;

/// The value a ratio takes when its denominator is zero (scikit-learn's `zero_division`;
/// its default `"warn"` gives 0 like [`ZeroDivision::Zero`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ZeroDivision {
    /// 0 (scikit-learn's default).
    #[default]
    Zero,
    /// 1.
    One,
    /// NaN; NaN classes are then left out of macro and weighted averages.
    NaN,
}

impl ZeroDivision {
    fn value(self) -> f64 {
        match self {
            ZeroDivision::Zero => 0.0,
            ZeroDivision::One => 1.0,
            ZeroDivision::NaN => f64::NAN,
        }
    }

    /// `num / den`, or the zero-division value when `den == 0`.
    fn divide(self, num: f64, den: f64) -> f64 {
        if den == 0.0 {
            self.value()
        } else {
            num / den
        }
    }
}

/// How per-class scores are combined into one number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Average {
    /// The score of one class, the positive one.
    Binary {
        /// The positive class (1 in scikit-learn's default).
        pos_label: usize,
    },
    /// Counts summed over classes first (for single-label data: micro precision = recall =
    /// F1 = accuracy when all classes are included).
    Micro,
    /// Unweighted mean of the per-class scores.
    Macro,
    /// Mean of the per-class scores weighted by support (number of true samples).
    Weighted,
}

/// Counts of (true, predicted) pairs: `counts[i][j]` samples of class `labels[i]` predicted as
/// `labels[j]` (rows: truth, columns: prediction, as scikit-learn).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfusionMatrix {
    /// Class labels in row/column order.
    pub labels: Vec<usize>,
    /// `labels.len()` rows of `labels.len()` counts.
    pub counts: Vec<Vec<usize>>,
}

impl ConfusionMatrix {
    /// Samples counted (those whose true and predicted labels are both in `labels`).
    pub fn total(&self) -> usize {
        self.counts.iter().flatten().sum()
    }

    /// For a 2×2 matrix, `(tn, fp, fn, tp)` with the second label as positive (scikit-learn's
    /// `confusion_matrix(...).ravel()`).
    ///
    /// # Panics
    /// If the matrix is not 2×2.
    pub fn binary_counts(&self) -> (usize, usize, usize, usize) {
        assert!(
            self.labels.len() == 2,
            "binary_counts: the matrix has {} labels, not 2",
            self.labels.len()
        );
        let c = &self.counts;
        (c[0][0], c[0][1], c[1][0], c[1][1])
    }
}

impl std::fmt::Display for ConfusionMatrix {
    /// A table with true labels down and predicted labels across.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let width = self
            .counts
            .iter()
            .flatten()
            .map(|c| c.to_string().len())
            .chain(self.labels.iter().map(|l| l.to_string().len()))
            .max()
            .unwrap_or(1);
        write!(f, "{:>w$} |", "t\\p", w = width.max(3))?;
        for l in &self.labels {
            write!(f, " {l:>width$}")?;
        }
        writeln!(f)?;
        for (l, row) in self.labels.iter().zip(&self.counts) {
            write!(f, "{l:>w$} |", w = width.max(3))?;
            for c in row {
                write!(f, " {c:>width$}")?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

/// Sorted labels present in either input.
pub(crate) fn present_labels(y_true: &[usize], y_pred: &[usize]) -> Vec<usize> {
    let mut labels: Vec<usize> = y_true.iter().chain(y_pred).copied().collect();
    labels.sort_unstable();
    labels.dedup();
    labels
}

/// The confusion matrix for `labels` (default: the sorted labels present in either input).
/// Samples whose true or predicted label is not in `labels` are not counted, as in
/// scikit-learn.
///
/// ```
/// use ferrite::metrics::confusion_matrix;
/// let cm = confusion_matrix(&[0, 1, 1, 2], &[0, 1, 0, 2], None);
/// assert_eq!(cm.counts, vec![vec![1, 0, 0], vec![1, 1, 0], vec![0, 0, 1]]);
/// ```
pub fn confusion_matrix(
    y_true: &[usize],
    y_pred: &[usize],
    labels: Option<&[usize]>,
) -> ConfusionMatrix {
    check_lengths("confusion_matrix", y_true.len(), y_pred.len());
    let labels = labels
        .map(<[usize]>::to_vec)
        .unwrap_or_else(|| present_labels(y_true, y_pred));
    let position = |l: usize| labels.iter().position(|&x| x == l);
    let mut counts = vec![vec![0usize; labels.len()]; labels.len()];
    for (&t, &p) in y_true.iter().zip(y_pred) {
        if let (Some(i), Some(j)) = (position(t), position(p)) {
            counts[i][j] += 1;
        }
    }
    ConfusionMatrix { labels, counts }
}

/// Fraction of exact matches.
pub fn accuracy_score(y_true: &[usize], y_pred: &[usize]) -> f64 {
    check_lengths("accuracy_score", y_true.len(), y_pred.len());
    assert!(!y_true.is_empty(), "accuracy_score: no samples");
    y_true.iter().zip(y_pred).filter(|(t, p)| t == p).count() as f64 / y_true.len() as f64
}

/// One-vs-rest counts of one class.
#[derive(Debug, Clone, Copy, Default)]
struct ClassCounts {
    tp: f64,
    /// Predicted as the class.
    pred: f64,
    /// Truly the class (support).
    truth: f64,
    /// All samples.
    n: f64,
}

impl ClassCounts {
    fn of(label: usize, y_true: &[usize], y_pred: &[usize]) -> Self {
        let mut c = ClassCounts {
            n: y_true.len() as f64,
            ..Default::default()
        };
        for (&t, &p) in y_true.iter().zip(y_pred) {
            c.tp += f64::from(u8::from(t == label && p == label));
            c.pred += f64::from(u8::from(p == label));
            c.truth += f64::from(u8::from(t == label));
        }
        c
    }

    fn add(self, o: ClassCounts) -> ClassCounts {
        ClassCounts {
            tp: self.tp + o.tp,
            pred: self.pred + o.pred,
            truth: self.truth + o.truth,
            n: self.n + o.n,
        }
    }

    /// `(precision, recall, f_beta, specificity)`.
    fn scores(self, beta: f64, zd: ZeroDivision) -> (f64, f64, f64, f64) {
        let precision = zd.divide(self.tp, self.pred);
        let recall = zd.divide(self.tp, self.truth);
        // F_β = (1 + β²) tp / ((1 + β²) tp + β² fn + fp) = (1 + β²) tp / (β² true + pred)
        let f = if beta.is_infinite() {
            recall
        } else if beta == 0.0 {
            precision
        } else {
            let b2 = beta * beta;
            zd.divide((1.0 + b2) * self.tp, b2 * self.truth + self.pred)
        };
        // specificity = tn / (tn + fp), tn = n − tp − fp − fn
        let fp = self.pred - self.tp;
        let tn = self.n - self.truth - fp;
        let specificity = zd.divide(tn, tn + fp);
        (precision, recall, f, specificity)
    }
}

/// Per-class scores, in the order of `labels`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassScores {
    /// The classes.
    pub labels: Vec<usize>,
    /// `tp / (tp + fp)` per class.
    pub precision: Vec<f64>,
    /// `tp / (tp + fn)` (sensitivity) per class.
    pub recall: Vec<f64>,
    /// F-beta per class.
    pub fscore: Vec<f64>,
    /// `tn / (tn + fp)` per class (one-vs-rest).
    pub specificity: Vec<f64>,
    /// Number of true samples per class.
    pub support: Vec<usize>,
}

/// Averaged scores.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Scores {
    /// Precision.
    pub precision: f64,
    /// Recall (sensitivity).
    pub recall: f64,
    /// F-beta.
    pub fscore: f64,
    /// Specificity (true negative rate).
    pub specificity: f64,
}

/// Precision, recall, F-beta, specificity and support for each class of `labels` (default:
/// sorted labels present in either input), like scikit-learn's
/// `precision_recall_fscore_support(average=None)`.
pub fn precision_recall_fscore_support(
    y_true: &[usize],
    y_pred: &[usize],
    beta: f64,
    labels: Option<&[usize]>,
    zero_division: ZeroDivision,
) -> ClassScores {
    check_lengths(
        "precision_recall_fscore_support",
        y_true.len(),
        y_pred.len(),
    );
    assert!(
        beta >= 0.0,
        "precision_recall_fscore_support: beta must be >= 0, got {beta}"
    );
    let labels = labels
        .map(<[usize]>::to_vec)
        .unwrap_or_else(|| present_labels(y_true, y_pred));
    let mut out = ClassScores {
        labels: labels.clone(),
        precision: vec![],
        recall: vec![],
        fscore: vec![],
        specificity: vec![],
        support: vec![],
    };
    for &l in &labels {
        let c = ClassCounts::of(l, y_true, y_pred);
        let (p, r, f, s) = c.scores(beta, zero_division);
        out.precision.push(p);
        out.recall.push(r);
        out.fscore.push(f);
        out.specificity.push(s);
        out.support.push(c.truth as usize);
    }
    out
}

/// Mean of the non-NaN values, weighted when `weights` is given (scikit-learn's
/// `_nanaverage`): NaN if all are NaN; plain mean of the rest if their weights sum to 0.
fn nan_average(values: &[f64], weights: Option<&[f64]>) -> f64 {
    let kept: Vec<(f64, f64)> = values
        .iter()
        .enumerate()
        .filter(|(_, v)| !v.is_nan())
        .map(|(i, &v)| (v, weights.map_or(1.0, |w| w[i])))
        .collect();
    if kept.is_empty() {
        return f64::NAN;
    }
    let wsum: f64 = kept.iter().map(|(_, w)| w).sum();
    if wsum == 0.0 {
        kept.iter().map(|(v, _)| v).sum::<f64>() / kept.len() as f64
    } else {
        kept.iter().map(|(v, w)| v * w).sum::<f64>() / wsum
    }
}

/// Precision, recall, F-beta and specificity averaged over `labels` (default: labels present
/// in either input) as `average` says, like scikit-learn's `precision_recall_fscore_support`.
pub fn precision_recall_fscore(
    y_true: &[usize],
    y_pred: &[usize],
    beta: f64,
    labels: Option<&[usize]>,
    average: Average,
    zero_division: ZeroDivision,
) -> Scores {
    let labels = match average {
        Average::Binary { pos_label } => vec![pos_label],
        _ => labels
            .map(<[usize]>::to_vec)
            .unwrap_or_else(|| present_labels(y_true, y_pred)),
    };
    if average == Average::Micro {
        check_lengths("precision_recall_fscore", y_true.len(), y_pred.len());
        let total = labels
            .iter()
            .map(|&l| ClassCounts::of(l, y_true, y_pred))
            .fold(ClassCounts::default(), ClassCounts::add);
        let (precision, recall, fscore, specificity) = total.scores(beta, zero_division);
        return Scores {
            precision,
            recall,
            fscore,
            specificity,
        };
    }
    let per_class =
        precision_recall_fscore_support(y_true, y_pred, beta, Some(&labels), zero_division);
    let support: Vec<f64> = per_class.support.iter().map(|&s| s as f64).collect();
    let weights = (average == Average::Weighted).then_some(support.as_slice());
    Scores {
        precision: nan_average(&per_class.precision, weights),
        recall: nan_average(&per_class.recall, weights),
        fscore: nan_average(&per_class.fscore, weights),
        specificity: nan_average(&per_class.specificity, weights),
    }
}

/// Precision `tp / (tp + fp)`, averaged as `average` says.
///
/// ```
/// use ferrite::metrics::{precision_score, Average, ZeroDivision};
/// let p = precision_score(&[0, 1, 1, 0], &[1, 1, 1, 0], Average::Binary { pos_label: 1 }, ZeroDivision::Zero);
/// assert!((p - 2.0 / 3.0).abs() < 1e-12);
/// ```
pub fn precision_score(
    y_true: &[usize],
    y_pred: &[usize],
    average: Average,
    zero_division: ZeroDivision,
) -> f64 {
    precision_recall_fscore(y_true, y_pred, 1.0, None, average, zero_division).precision
}

/// Recall (sensitivity, true positive rate) `tp / (tp + fn)`, averaged as `average` says.
pub fn recall_score(
    y_true: &[usize],
    y_pred: &[usize],
    average: Average,
    zero_division: ZeroDivision,
) -> f64 {
    precision_recall_fscore(y_true, y_pred, 1.0, None, average, zero_division).recall
}

/// Specificity (true negative rate) `tn / (tn + fp)`, one-vs-rest per class, averaged as
/// `average` says (scikit-learn has no direct equivalent; it equals the recall of the negative
/// class in the binary case).
pub fn specificity_score(
    y_true: &[usize],
    y_pred: &[usize],
    average: Average,
    zero_division: ZeroDivision,
) -> f64 {
    precision_recall_fscore(y_true, y_pred, 1.0, None, average, zero_division).specificity
}

/// F1 `2 tp / (2 tp + fp + fn)`, averaged as `average` says.
pub fn f1_score(
    y_true: &[usize],
    y_pred: &[usize],
    average: Average,
    zero_division: ZeroDivision,
) -> f64 {
    fbeta_score(y_true, y_pred, 1.0, average, zero_division)
}

/// F-beta `(1 + β²) tp / ((1 + β²) tp + β² fn + fp)`: recall counts β times as much as
/// precision.
pub fn fbeta_score(
    y_true: &[usize],
    y_pred: &[usize],
    beta: f64,
    average: Average,
    zero_division: ZeroDivision,
) -> f64 {
    precision_recall_fscore(y_true, y_pred, beta, None, average, zero_division).fscore
}

/// Mean cross-entropy `−mean log p[i, y_i]` of predicted probabilities, with probabilities
/// clipped to `[ε, 1 − ε]` (ε = f64 machine epsilon) as scikit-learn does.
///
/// `y_prob` is either one probability per sample (of class 1, binary problems) or `n × K`
/// values row-major, column `k` the probability of class `k`.
///
/// # Panics
/// If `y_prob.len()` is not a multiple of the number of samples, a label is not a column, or a
/// probability lies outside `[0, 1]`.
pub fn log_loss(y_true: &[usize], y_prob: &[f32]) -> f64 {
    let n = y_true.len();
    assert!(n > 0, "log_loss: no samples");
    let k = y_prob.len() / n;
    assert!(
        k * n == y_prob.len(),
        "log_loss: {} probabilities for {n} samples is not a whole number per sample",
        y_prob.len()
    );
    assert!(
        y_prob.iter().all(|p| (0.0..=1.0).contains(p)),
        "log_loss: probabilities must lie in [0, 1]"
    );
    let eps = f64::EPSILON;
    let mut total = 0.0;
    for (i, &label) in y_true.iter().enumerate() {
        let p = if k == 1 {
            assert!(
                label <= 1,
                "log_loss: label {label} with one probability per sample (binary)"
            );
            let p1 = y_prob[i] as f64;
            if label == 1 {
                p1
            } else {
                1.0 - p1
            }
        } else {
            assert!(
                label < k,
                "log_loss: label {label} but only {k} probability columns"
            );
            y_prob[i * k + label] as f64
        };
        total -= p.clamp(eps, 1.0 - eps).ln();
    }
    total / n as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_counts_and_scores_by_hand() {
        // tp = 2, fp = 1, fn = 1, tn = 2
        let t = [1, 1, 1, 0, 0, 0];
        let p = [1, 1, 0, 1, 0, 0];
        let cm = confusion_matrix(&t, &p, None);
        assert_eq!(cm.binary_counts(), (2, 1, 1, 2));
        let bin = Average::Binary { pos_label: 1 };
        assert!((precision_score(&t, &p, bin, ZeroDivision::Zero) - 2.0 / 3.0).abs() < 1e-12);
        assert!((recall_score(&t, &p, bin, ZeroDivision::Zero) - 2.0 / 3.0).abs() < 1e-12);
        assert!((specificity_score(&t, &p, bin, ZeroDivision::Zero) - 2.0 / 3.0).abs() < 1e-12);
        // F2 = 5·2 / (5·2 + 4·1 + 1)
        assert!((fbeta_score(&t, &p, 2.0, bin, ZeroDivision::Zero) - 10.0 / 15.0).abs() < 1e-12);
        assert!((accuracy_score(&t, &p) - 4.0 / 6.0).abs() < 1e-12);
    }

    #[test]
    fn zero_division_value_is_used_when_a_class_is_never_predicted() {
        let t = [0, 1, 2];
        let p = [0, 1, 1];
        for (zd, expect) in [(ZeroDivision::Zero, 0.0), (ZeroDivision::One, 1.0)] {
            let s = precision_recall_fscore_support(&t, &p, 1.0, None, zd);
            assert_eq!(s.precision[2], expect);
        }
        let s = precision_recall_fscore_support(&t, &p, 1.0, None, ZeroDivision::NaN);
        assert!(s.precision[2].is_nan());
        // Macro average skips the NaN: (1 + 0.5) / 2
        let macro_p = precision_score(&t, &p, Average::Macro, ZeroDivision::NaN);
        assert!((macro_p - 0.75).abs() < 1e-12);
    }

    #[test]
    fn confusion_matrix_follows_the_label_order_and_prints_rows_as_truth() {
        let cm = confusion_matrix(&[2, 0, 2, 5], &[2, 2, 0, 5], Some(&[5, 2, 0]));
        assert_eq!(cm.counts, vec![vec![1, 0, 0], vec![0, 1, 1], vec![0, 1, 0]]);
        assert_eq!(cm.total(), 4);
        assert_eq!(
            cm.to_string(),
            "t\\p | 5 2 0\n  5 | 1 0 0\n  2 | 0 1 1\n  0 | 0 1 0\n"
        );
    }

    #[test]
    fn log_loss_of_certain_predictions() {
        assert!(log_loss(&[0, 1], &[0.0, 1.0]) < 1e-15);
        let wrong = log_loss(&[1], &[0.0]);
        assert!((wrong + f64::EPSILON.ln()).abs() < 1e-9);
    }
}
