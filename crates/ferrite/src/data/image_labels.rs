//! The labels CSV of an image folder: reading it (image names, label texts, lines) and
//! turning its labels into numbers or classes, with errors that name the line, the column
//! and the value.

use std::path::Path;

use super::csv::LineCounter;
use super::image_decode::data_error;
use super::images::io;
use super::memory::{available_memory, check_memory};
use super::LabelEncoder;
use crate::error::{FerriteError, Result};

/// Label values, class names and encoder for the labels of a labels file.
pub(super) fn encode_labels(
    label_classes: bool,
    csv_path: &Path,
    file: &LabelFile,
) -> Result<(Vec<f32>, Vec<String>, Option<LabelEncoder>)> {
    // `+ 0.0` turns -0 into 0, so that "-0" and "0" are one class.
    let numbers: Vec<Option<f64>> = file
        .labels
        .iter()
        .map(|l| {
            l.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .map(|v| v + 0.0)
        })
        .collect();
    let numeric = numbers.iter().filter(|v| v.is_some()).count();
    if numeric == numbers.len() {
        let values: Vec<f64> = numbers.into_iter().flatten().collect();
        if label_classes {
            let (indices, classes) = numeric_classes(&values, &file.labels);
            return Ok((indices, classes, None));
        }
        if let Some(i) = values.iter().position(|v| v.abs() > f32::MAX as f64) {
            return Err(file.error_at(
                csv_path,
                i,
                "is beyond the range of 32-bit floats (about 3.4e38); scale the labels, or \
                 read them as classes",
            ));
        }
        return Ok((values.iter().map(|&v| v as f32).collect(), Vec::new(), None));
    }
    if !label_classes && numeric * 2 > numbers.len() {
        // Mostly numbers: a stray marker is a typo or a missing value, not a reason to
        // turn every number into a class name.
        let i = numbers.iter().position(|v| v.is_none()).unwrap_or(0);
        return Err(file.error_at(
            csv_path,
            i,
            &format!(
                "is not a number, but {numeric} of the {} labels are; correct the value or \
                 remove the row",
                numbers.len()
            ),
        ));
    }
    let mut encoder = LabelEncoder::new();
    let indices = encoder.fit_transform(&file.labels);
    let classes = encoder.classes().to_vec();
    Ok((
        indices.into_iter().map(|i| i as f32).collect(),
        classes,
        Some(encoder),
    ))
}

/// Distinct numeric labels as classes in ascending order: the class index of each label and
/// the class names (the text of each value's first occurrence).
fn numeric_classes(values: &[f64], texts: &[String]) -> (Vec<f32>, Vec<String>) {
    let mut order: Vec<usize> = (0..values.len()).collect();
    // A stable sort keeps first occurrences first among equal values.
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut distinct: Vec<f64> = Vec::new();
    let mut classes: Vec<String> = Vec::new();
    for &i in &order {
        if distinct.last() != Some(&values[i]) {
            distinct.push(values[i]);
            classes.push(texts[i].clone());
        }
    }
    let indices = values
        .iter()
        .map(|v| distinct.partition_point(|d| d < v) as f32)
        .collect();
    (indices, classes)
}

/// A value for a message: long values are cut, so that the message stays readable.
fn shown(value: &str) -> String {
    const MOST: usize = 40;
    if value.chars().count() <= MOST {
        format!("{value:?}")
    } else {
        let head: String = value.chars().take(MOST).collect();
        format!("{head:?}… ({} characters)", value.chars().count())
    }
}

/// The rows of a labels CSV: image names, label texts, the line of each, and where the label
/// column is (for messages).
pub(super) struct LabelFile {
    pub(super) names: Vec<String>,
    pub(super) labels: Vec<String>,
    pub(super) lines: Vec<usize>,
    /// `column 2 ("label")`.
    label_column: String,
}

impl LabelFile {
    /// An error about the label of row `i`: `path:line: column k ("name"): "value" <what>`.
    fn error_at(&self, path: &Path, i: usize, what: &str) -> FerriteError {
        FerriteError::Data {
            path: path.to_path_buf(),
            line: self.lines[i],
            message: format!("{}: {} {what}", self.label_column, shown(&self.labels[i])),
        }
    }
}

/// `column 2 ("label")` for the 0-based `index` of column `name`.
fn column(index: usize, name: &str) -> String {
    format!("column {} ({name:?})", index + 1)
}

/// Reads a labels CSV: a regular text file, with the two columns named.
pub(super) fn read_label_file(
    path: &Path,
    image_column: &str,
    label_column: &str,
) -> Result<LabelFile> {
    let err = |line: usize, message: String| FerriteError::Data {
        path: path.to_path_buf(),
        line,
        message,
    };
    let meta = std::fs::metadata(path).map_err(|e| io(path, e))?;
    if !meta.is_file() {
        // A device or a pipe could be read forever.
        return Err(data_error(
            path,
            "is not a regular file; give the labels as a CSV file",
        ));
    }
    check_memory(
        Some(meta.len()),
        available_memory(),
        "reading the labels file",
        "split it, or free memory",
    )?;
    let bytes = std::fs::read(path).map_err(|e| io(path, e))?;
    if let Some(at) = bytes.iter().take(8192).position(|&b| b == 0) {
        return Err(data_error(
            path,
            &format!(
                "is not a text CSV file (a NUL byte at offset {at}); give the labels as a CSV file"
            ),
        ));
    }
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(bytes.as_slice());
    let header = reader.headers().map_err(|e| err(1, e.to_string()))?.clone();
    if header.is_empty() {
        return Err(err(
            1,
            "the file is empty; expected a header row of column names".into(),
        ));
    }
    let find = |name: &str| {
        header.iter().position(|h| h.trim() == name).ok_or_else(|| {
            err(
                1,
                format!(
                    "no column named {name:?}; the columns are {}; name the image file column \
                     {image_column:?} and the label column {label_column:?}",
                    header
                        .iter()
                        .map(|h| format!("{h:?}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        })
    };
    let (ic, lc) = (find(image_column)?, find(label_column)?);
    let mut file = LabelFile {
        names: Vec::new(),
        labels: Vec::new(),
        lines: Vec::new(),
        label_column: column(lc, label_column),
    };
    let mut lines_of = LineCounter::new(&bytes);
    for record in reader.records() {
        let record = record.map_err(|e| err(lines_of.line(e.position()), e.to_string()))?;
        let line = lines_of.line(record.position());
        if record.len() != header.len() {
            return Err(err(
                line,
                format!(
                    "the row has {} fields but the header has {} columns",
                    record.len(),
                    header.len()
                ),
            ));
        }
        let (name, label) = (record[ic].trim(), record[lc].trim());
        for (value, index, heading) in [(name, ic, image_column), (label, lc, label_column)] {
            if value.is_empty() {
                return Err(err(
                    line,
                    format!(
                        "{}: the value is missing; give every image a file name and a label",
                        column(index, heading)
                    ),
                ));
            }
        }
        file.names.push(name.to_string());
        file.labels.push(label.to_string());
        file.lines.push(line);
    }
    if file.names.is_empty() {
        return Err(err(1, "the file has a header but no data rows".into()));
    }
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_classes_are_the_values_that_occur_in_numeric_order() {
        let texts: Vec<String> = ["10", "2", "1e8", "2.0", "-0", "0"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let values: Vec<f64> = texts
            .iter()
            .map(|t| t.parse::<f64>().unwrap() + 0.0)
            .collect();
        let (indices, classes) = numeric_classes(&values, &texts);
        assert_eq!(classes, ["-0", "2", "10", "1e8"]);
        assert_eq!(indices, [2., 1., 3., 1., 0., 0.]);
    }
}
