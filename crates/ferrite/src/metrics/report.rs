//! scikit-learn's `classification_report`: a text table of per-class precision, recall, F1
//! and support, then accuracy, macro and weighted averages.

use super::classification::{
    precision_recall_fscore, precision_recall_fscore_support, present_labels,
};
use super::{Average, ZeroDivision};

/// The most characters of a label shown in a report or a message; longer labels are cut.
pub const LABEL_DISPLAY_CHARS: usize = 40;

/// The most decimal digits a report shows (an f64 has about 17 significant digits; a larger
/// request would only pad with noise, and a huge one overflows the formatter).
pub const MAX_REPORT_DIGITS: usize = 17;

/// A label as reports and error messages show it: the first [`LABEL_DISPLAY_CHARS`]
/// characters, then `…` when it is longer, so that a huge label neither breaks a table's
/// layout nor floods a message.
///
/// ```
/// use ferrite::metrics::report::display_label;
/// assert_eq!(display_label("setosa"), "setosa");
/// let long = "x".repeat(65_536);
/// assert_eq!(display_label(&long).chars().count(), 41);
/// assert!(display_label(&long).ends_with('…'));
/// ```
pub fn display_label(label: &str) -> String {
    match label.char_indices().nth(LABEL_DISPLAY_CHARS) {
        None => label.to_string(),
        Some((cut, _)) => format!("{}…", &label[..cut]),
    }
}

/// `{:>width$.digits$}` as Python formats it, with `nan` for NaN.
fn fixed(v: f64, digits: usize) -> String {
    if v.is_nan() {
        "nan".to_string()
    } else {
        format!("{v:.digits$}")
    }
}

/// The text report scikit-learn's `classification_report` prints, character for character.
///
/// `labels` (default: sorted labels present in either input) picks and orders the rows;
/// `target_names` names them (default: the label numbers), each shortened by
/// [`display_label`] (scikit-learn prints long names whole; here a 65,536-character label
/// would make every row that wide). `digits` is capped at [`MAX_REPORT_DIGITS`]. The
/// "accuracy" row appears when all present labels are reported; otherwise a "micro avg" row
/// does, as in scikit-learn.
///
/// ```
/// use ferrite::metrics::{classification_report, ZeroDivision};
/// let r = classification_report(&[0, 1, 1], &[0, 1, 0], None, Some(&["no", "yes"]), 2, ZeroDivision::Zero);
/// assert!(r.contains("         yes       1.00      0.50      0.67         2"));
/// ```
///
/// # Panics
/// If `target_names` has a different length from the labels.
pub fn classification_report(
    y_true: &[usize],
    y_pred: &[usize],
    labels: Option<&[usize]>,
    target_names: Option<&[&str]>,
    digits: usize,
    zero_division: ZeroDivision,
) -> String {
    let present = present_labels(y_true, y_pred);
    let labels_given = labels.is_some();
    let labels: Vec<usize> = labels
        .map(<[usize]>::to_vec)
        .unwrap_or_else(|| present.clone());
    let names: Vec<String> = match target_names {
        Some(names) => {
            assert!(
                names.len() == labels.len(),
                "classification_report: {} labels but {} target names",
                labels.len(),
                names.len()
            );
            names.iter().map(|s| display_label(s)).collect()
        }
        None => labels.iter().map(|l| l.to_string()).collect(),
    };
    let digits = digits.min(MAX_REPORT_DIGITS);
    // Micro average equals accuracy when every label present is reported.
    let micro_is_accuracy = !labels_given || present.iter().all(|l| labels.contains(l));

    let per_class =
        precision_recall_fscore_support(y_true, y_pred, 1.0, Some(&labels), zero_division);
    let heading = "weighted avg";
    let width = names
        .iter()
        .map(|n| n.chars().count())
        .max()
        .unwrap_or(0)
        .max(heading.len())
        .max(digits);
    let mut report = format!("{:>width$} ", "");
    for h in ["precision", "recall", "f1-score", "support"] {
        report += &format!(" {h:>9}");
    }
    report += "\n\n";
    let row = |name: &str, p: f64, r: f64, f: f64, s: usize| {
        format!(
            "{name:>width$}  {:>9} {:>9} {:>9} {s:>9}\n",
            fixed(p, digits),
            fixed(r, digits),
            fixed(f, digits)
        )
    };
    for (i, name) in names.iter().enumerate() {
        report += &row(
            name,
            per_class.precision[i],
            per_class.recall[i],
            per_class.fscore[i],
            per_class.support[i],
        );
    }
    report += "\n";
    let total_support: usize = per_class.support.iter().sum();
    for (average, heading) in [
        (Average::Micro, "micro avg"),
        (Average::Macro, "macro avg"),
        (Average::Weighted, "weighted avg"),
    ] {
        let s = precision_recall_fscore(y_true, y_pred, 1.0, Some(&labels), average, zero_division);
        if average == Average::Micro && micro_is_accuracy {
            report += &format!(
                "{:>width$}  {:>9} {:>9} {:>9} {total_support:>9}\n",
                "accuracy",
                "",
                "",
                fixed(s.fscore, digits)
            );
        } else {
            report += &row(heading, s.precision, s.recall, s.fscore, total_support);
        }
    }
    report
}
