//! Metrics with scikit-learn's definitions, on plain slices so that they work with any model:
//! class labels are `&[usize]`, scores, probabilities and regression values `&[f32]`; results
//! are `f64`.
//!
//! - [`classification`](mod@classification): confusion matrix, accuracy, precision, recall,
//!   specificity, F1/F-beta per class or averaged (micro, macro, weighted), log loss.
//! - [`report`](mod@report): the `classification_report` table.
//! - [`roc`](mod@roc): ROC curve, AUC, precision–recall curve, average precision.
//! - [`regression`](mod@regression): MAE, MSE, RMSE, MAPE, R², explained variance.
//!
//! Inputs of different lengths are programming errors and panic with both lengths, as
//! scikit-learn raises.

pub mod classification;
pub mod regression;
pub mod report;
pub mod roc;

pub use classification::{
    accuracy_score, confusion_matrix, f1_score, fbeta_score, log_loss, precision_recall_fscore,
    precision_recall_fscore_support, precision_score, recall_score, specificity_score, Average,
    ClassScores, ConfusionMatrix, Scores, ZeroDivision,
};
pub use regression::{
    explained_variance_score, mean_absolute_error, mean_absolute_percentage_error,
    mean_squared_error, r2_score, root_mean_squared_error,
};
pub use report::classification_report;
pub use roc::{
    auc, average_precision_score, precision_recall_curve, roc_auc_score, roc_curve,
    PrecisionRecallCurve, RocCurve,
};

/// Panics unless both inputs have the same length (the metric's name in the message).
pub(crate) fn check_lengths(metric: &str, a: usize, b: usize) {
    assert!(
        a == b,
        "{metric}: y_true has {a} values but the predictions have {b}"
    );
}
