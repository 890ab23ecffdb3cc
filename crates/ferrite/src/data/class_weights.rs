//! Class weights for imbalanced classification: [`balanced_class_weights`], scikit-learn's
//! `compute_class_weight("balanced")`.

use crate::error::{FerriteError, Result};

/// One weight per class, inversely proportional to its frequency: `n / (K · n_k)` for `n`
/// labels, `K = classes` and `n_k` labels of class `k` (a class without labels counts as
/// one, so its weight stays finite). Pass them to a weighted loss, e.g.
/// `CrossEntropyLoss::new().weight(...)`.
///
/// Errors when `classes` is 0 or a label is not below `classes`.
///
/// ```
/// use ferrite::data::balanced_class_weights;
/// // 6 labels, 2 classes: class 0 has 4 (weight 6 / (2 · 4)), class 1 has 2 (6 / (2 · 2)).
/// assert_eq!(balanced_class_weights(&[0, 0, 1, 0, 1, 0], 2).unwrap(), vec![0.75, 1.5]);
/// ```
pub fn balanced_class_weights(labels: &[usize], classes: usize) -> Result<Vec<f32>> {
    if classes == 0 {
        return Err(FerriteError::invalid(
            "classes",
            "must be at least 1 to weight classes",
        ));
    }
    let mut counts = vec![0usize; classes];
    for (i, &l) in labels.iter().enumerate() {
        let slot = counts.get_mut(l).ok_or_else(|| {
            FerriteError::invalid(
                "labels",
                format!(
                    "label {} (position {}) is not below the {classes} classes; give labels \
                     0..{classes}",
                    l,
                    i + 1
                ),
            )
        })?;
        *slot += 1;
    }
    Ok(counts
        .iter()
        .map(|&c| labels.len() as f32 / (classes as f32 * c.max(1) as f32))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_are_inverse_frequencies_and_bad_labels_are_errors() {
        // 8 labels over 3 classes: 5, 2 and 1 of them; class 3 absent (counted as 1).
        let labels = [0, 0, 1, 0, 2, 0, 1, 0];
        let w = balanced_class_weights(&labels, 4).unwrap();
        assert_eq!(w, vec![8.0 / 20.0, 8.0 / 8.0, 8.0 / 4.0, 8.0 / 4.0]);
        let err = balanced_class_weights(&[0, 3], 2).unwrap_err().to_string();
        assert!(err.contains("label 3 (position 2)"), "{err}");
        assert!(balanced_class_weights(&[], 0).is_err());
    }
}
