//! Categorical labels: [`LabelEncoder`] (text labels ↔ class indices, sorted like
//! scikit-learn) and [`one_hot`].

use serde::{Deserialize, Serialize};

use crate::error::{FerriteError, Result};
use crate::Tensor;

/// Maps text labels to class indices `0..K` in sorted order (byte order, as NumPy sorts
/// strings: upper case before lower case) and back.
///
/// ```
/// use ferrite::data::LabelEncoder;
/// let mut enc = LabelEncoder::new();
/// enc.fit(&["M", "B", "M"]);
/// assert_eq!(enc.classes(), &["B".to_string(), "M".to_string()]);
/// assert_eq!(enc.transform(&["M", "B"]).unwrap(), vec![1, 0]);
/// assert_eq!(enc.inverse_transform(&[1]).unwrap(), vec!["M".to_string()]);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabelEncoder {
    classes: Vec<String>,
}

impl LabelEncoder {
    /// An unfitted encoder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Learns the sorted distinct labels.
    pub fn fit<S: AsRef<str>>(&mut self, labels: &[S]) -> &mut Self {
        let mut classes: Vec<String> = labels.iter().map(|s| s.as_ref().to_string()).collect();
        classes.sort();
        classes.dedup();
        self.classes = classes;
        self
    }

    /// The classes, sorted; index `i` is class `i`.
    pub fn classes(&self) -> &[String] {
        &self.classes
    }

    /// The class index of each label. Errors on a label not seen in `fit`.
    pub fn transform<S: AsRef<str>>(&self, labels: &[S]) -> Result<Vec<usize>> {
        labels
            .iter()
            .map(|s| {
                let s = s.as_ref();
                self.classes
                    .binary_search_by(|c| c.as_str().cmp(s))
                    .map_err(|_| {
                        FerriteError::invalid(
                            "label",
                            format!(
                                "{:?} was not seen when the encoder was fitted (classes: {})",
                                crate::metrics::report::display_label(s),
                                shown_classes(&self.classes)
                            ),
                        )
                    })
            })
            .collect()
    }

    /// `fit` then `transform`.
    pub fn fit_transform<S: AsRef<str>>(&mut self, labels: &[S]) -> Vec<usize> {
        self.fit(labels);
        // Every label was just seen, so the lookup cannot fail.
        self.transform(labels).unwrap_or_default()
    }

    /// The label of each class index. Errors on an index `>= classes().len()`.
    pub fn inverse_transform(&self, indices: &[usize]) -> Result<Vec<String>> {
        indices
            .iter()
            .map(|&i| {
                self.classes.get(i).cloned().ok_or_else(|| {
                    FerriteError::invalid(
                        "index",
                        format!("{i} is not a class index (0..{})", self.classes.len()),
                    )
                })
            })
            .collect()
    }
}

/// Up to 10 classes for a message, each shortened for display (a label file can hold
/// thousands of classes, or one of 65,536 characters).
fn shown_classes(classes: &[String]) -> String {
    let mut text = classes
        .iter()
        .take(10)
        .map(|c| format!("{:?}", crate::metrics::report::display_label(c)))
        .collect::<Vec<_>>()
        .join(", ");
    if classes.len() > 10 {
        text += &format!(" and {} more", classes.len() - 10);
    }
    text
}

/// One-hot rows `(n, num_classes)`: row `i` has a 1 in column `indices[i]`.
/// Errors when an index is `>= num_classes`.
///
/// ```
/// use ferrite::data::one_hot;
/// let t = one_hot(&[2, 0], 3).unwrap();
/// assert_eq!(t.to_vec2(), vec![vec![0., 0., 1.], vec![1., 0., 0.]]);
/// ```
pub fn one_hot(indices: &[usize], num_classes: usize) -> Result<Tensor> {
    if let Some(&bad) = indices.iter().find(|&&i| i >= num_classes) {
        return Err(FerriteError::invalid(
            "indices",
            format!("class index {bad} is out of range for {num_classes} classes"),
        ));
    }
    let n = indices.len();
    let idx = Tensor::from_vec(indices.iter().map(|&i| i as f32).collect(), [n, 1]);
    let _no_grad = crate::no_grad();
    Ok(Tensor::zeros([n, num_classes]).scatter_add(1, &idx, &Tensor::ones([n, 1])))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_labels_and_indices_are_errors() {
        let mut enc = LabelEncoder::new();
        enc.fit(&["a", "b"]);
        let msg = enc.transform(&["c"]).unwrap_err().to_string();
        assert!(
            msg.contains("\"c\" was not seen") && msg.contains("\"a\", \"b\""),
            "{msg}"
        );
        let mut many = LabelEncoder::new();
        many.fit(&(0..100).map(|i| format!("{i:03}")).collect::<Vec<_>>());
        let msg = many.transform(&["x"]).unwrap_err().to_string();
        assert!(
            msg.contains("\"009\" and 90 more") && msg.len() < 200,
            "{msg}"
        );
        assert!(enc.inverse_transform(&[2]).is_err());
        assert!(one_hot(&[3], 3).is_err());
    }
}
