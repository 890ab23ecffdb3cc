//! Tables from CSV files: a header row, numeric feature columns and a numeric or text target
//! chosen by name, missing values handled by a [`MissingPolicy`], and errors that name the
//! file, the line and the column.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::impute::fill_value;
use super::{FillStrategy, Imputer, LabelEncoder, TensorDataset};
use crate::error::{FerriteError, Result};
use crate::Tensor;

mod lines;
mod rows;
mod table;
mod text;

pub(crate) use lines::LineCounter;
use lines::{csv_error, line_breaks};
use rows::RawRows;
use text::*;

/// What to do with missing values (an empty field, `NA`, `NaN` or `null`, any case, and the
/// markers given to [`CsvOptions::na_values`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum MissingPolicy {
    /// Fail with an error naming the first missing value's line and column.
    #[default]
    Refuse,
    /// Drop every row with a missing value in a selected column.
    DropRows,
    /// Fill each feature with its mean over the fit rows; rows missing the target are dropped.
    FillMean,
    /// Fill each feature with its median over the fit rows; rows missing the target are dropped.
    FillMedian,
    /// Keep missing values as NaN (to fill later with an [`Imputer`] fitted after a split).
    Keep,
}

/// How the target column is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TargetKind {
    /// Numeric when every present value is a number; text labels when at most half of them
    /// are. A column where more than half of the values are numbers but some are not is an
    /// error naming the first such value, since it is most likely a missing-value marker
    /// (declare it with [`CsvOptions::na_values`]) and reading the column as labels would
    /// silently turn a regression into a classification.
    #[default]
    Auto,
    /// Numbers (regression values or class indices); text is an error.
    Numeric,
    /// Text labels encoded as class indices `0..K` by a [`LabelEncoder`] (sorted labels).
    Categorical,
}

/// What loading did about missing values.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MissingReport {
    /// Data rows in the file (after the header).
    pub rows_read: usize,
    /// Rows kept in the table.
    pub rows_kept: usize,
    /// The file line of each dropped row.
    pub dropped_lines: Vec<usize>,
    /// Missing values per selected column (features, then the target), counted over all rows.
    pub missing: Vec<(String, usize)>,
    /// Values filled per feature column.
    pub filled: Vec<(String, usize)>,
}

impl fmt::Display for MissingReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} rows read, {} kept, {} dropped",
            self.rows_read,
            self.rows_kept,
            self.dropped_lines.len()
        )?;
        let list = |v: &[(String, usize)]| {
            v.iter()
                .filter(|(_, n)| *n > 0)
                .map(|(c, n)| format!("{c}: {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let (missing, filled) = (list(&self.missing), list(&self.filled));
        if !missing.is_empty() {
            write!(f, "; missing {missing}")?;
        }
        if !filled.is_empty() {
            write!(f, "; filled {filled}")?;
        }
        Ok(())
    }
}

/// A table loaded from CSV: features `(N, F)`, an optional target `(N)`, and how it was made.
#[derive(Clone, Debug)]
pub struct CsvTable {
    /// Feature values, one row per kept data row, in the order of `feature_names`.
    pub features: Tensor,
    /// The target of each row: a number, or a class index for text labels.
    pub targets: Option<Tensor>,
    /// The feature columns' names.
    pub feature_names: Vec<String>,
    /// The target column's name.
    pub target_name: Option<String>,
    /// The mapping of text labels to class indices (save it to encode new data the same way).
    pub label_encoder: Option<LabelEncoder>,
    /// The fill values used, with a fill policy.
    pub imputer: Option<Imputer>,
    /// The file line of each kept row.
    pub lines: Vec<usize>,
    /// Rows dropped and values filled.
    pub report: MissingReport,
    /// The field separator used: the one given, or the one detected from the header (record
    /// it to read new files of the same kind the same way).
    pub delimiter: u8,
}

impl CsvTable {
    /// The table as a [`TensorDataset`] of (features, target). Panics without a target.
    pub fn dataset(&self) -> TensorDataset {
        let targets = self
            .targets
            .clone()
            .expect("CsvTable::dataset: the table was loaded without a target column");
        TensorDataset::new(self.features.clone(), targets)
    }
}

/// How to read a CSV file into a [`CsvTable`].
///
/// ```
/// use ferrite::data::{CsvOptions, MissingPolicy};
/// # let dir = std::env::temp_dir().join("ferrite_csv_doc");
/// # std::fs::create_dir_all(&dir).unwrap();
/// # let path = dir.join("flowers.csv");
/// std::fs::write(&path, "width,height,kind\n1.5,2,rose\nNA,3,tulip\n2.5,4,rose\n").unwrap();
/// let table = CsvOptions::new().target("kind").missing(MissingPolicy::FillMean).load(&path).unwrap();
/// assert_eq!(table.features.to_vec2(), vec![vec![1.5, 2.], vec![2., 3.], vec![2.5, 4.]]);
/// assert_eq!(table.targets.unwrap().to_vec(), vec![0., 1., 0.]); // rose = 0, tulip = 1
/// assert_eq!(table.report.filled, vec![("width".to_string(), 1), ("height".to_string(), 0)]);
/// ```
#[derive(Clone, Debug, Default)]
pub struct CsvOptions {
    target: Option<String>,
    features: Option<Vec<String>>,
    target_kind: TargetKind,
    missing: MissingPolicy,
    fit_rows: Option<Vec<usize>>,
    label_encoder: Option<LabelEncoder>,
    delimiter: Option<u8>,
    na_values: Vec<String>,
}
impl CsvOptions {
    /// Defaults: no target, every column a feature, missing values refused, comma-separated.
    pub fn new() -> Self {
        Self::default()
    }

    /// The target column's name; the other columns are the features unless chosen.
    pub fn target(mut self, name: &str) -> Self {
        self.target = Some(name.to_string());
        self
    }

    /// The feature columns, by name, in this order.
    pub fn features<S: AsRef<str>>(mut self, names: &[S]) -> Self {
        self.features = Some(names.iter().map(|s| s.as_ref().to_string()).collect());
        self
    }

    /// How the target is read (default [`TargetKind::Auto`]).
    pub fn target_kind(mut self, kind: TargetKind) -> Self {
        self.target_kind = kind;
        self
    }

    /// The missing-value policy (default [`MissingPolicy::Refuse`]).
    pub fn missing(mut self, policy: MissingPolicy) -> Self {
        self.missing = policy;
        self
    }

    /// The data rows (0 = first row after the header) whose statistics fill missing values,
    /// normally the training rows, so nothing leaks from test rows. Default: all rows.
    pub fn fit_rows(mut self, rows: &[usize]) -> Self {
        self.fit_rows = Some(rows.to_vec());
        self
    }

    /// Encodes text labels with a saved mapping instead of fitting one; a label it does not
    /// know is an error naming its line.
    pub fn label_encoder(mut self, encoder: LabelEncoder) -> Self {
        self.label_encoder = Some(encoder);
        self
    }

    /// The field separator. Without one it is detected from the header line: of `,`, `;`,
    /// tab and `|`, the one that splits the header into the most fields (quotes respected),
    /// comma on ties.
    pub fn delimiter(mut self, delimiter: u8) -> Self {
        self.delimiter = Some(delimiter);
        self
    }

    /// Extra markers of a missing value, besides an empty field, `NA`, `NaN` and `null`
    /// (like pandas' `na_values`): a field equal to one of them (after trimming spaces)
    /// counts as missing, in the features and in the target.
    ///
    /// ```
    /// use ferrite::data::{CsvOptions, MissingPolicy};
    /// # let dir = std::env::temp_dir().join("ferrite_csv_na_doc");
    /// # std::fs::create_dir_all(&dir).unwrap();
    /// # let path = dir.join("prices.csv");
    /// std::fs::write(&path, "a,price\n1,2.5\n2,?\n3,4.5\n").unwrap();
    /// // Without the marker, "?" in a numeric column is an error naming line 3.
    /// let err = CsvOptions::new().target("price").load(&path).unwrap_err();
    /// assert!(err.to_string().contains(":3:"));
    /// let table = CsvOptions::new()
    ///     .target("price")
    ///     .na_values(&["?"])
    ///     .missing(MissingPolicy::DropRows)
    ///     .load(&path)
    ///     .unwrap();
    /// assert_eq!(table.targets.unwrap().to_vec(), vec![2.5, 4.5]);
    /// ```
    pub fn na_values<S: AsRef<str>>(mut self, markers: &[S]) -> Self {
        self.na_values = markers
            .iter()
            .map(|s| s.as_ref().trim().to_string())
            .collect();
        self
    }

    /// True for a missing value: a built-in spelling or a declared marker.
    fn is_missing(&self, field: &str) -> bool {
        is_default_missing(field) || self.na_values.iter().any(|m| m == field)
    }

    /// Reads a field as a finite f32 or a missing value; the reason otherwise.
    fn cell(&self, text: &str) -> std::result::Result<Cell, String> {
        if self.is_missing(text) {
            return Ok(Cell::Missing);
        }
        parse_number(text)
    }

    /// Reads `path`. Every problem with the file is a [`FerriteError::Data`] naming the file,
    /// the line and the column.
    ///
    /// Only a regular file is read (a folder, a device such as `/dev/zero` or a pipe is
    /// refused before reading), and only when it fits in the free memory.
    pub fn load(&self, path: impl AsRef<Path>) -> Result<CsvTable> {
        use std::io::Read;
        let path = path.as_ref();
        let io = |source| FerriteError::Io {
            path: path.to_path_buf(),
            source,
        };
        let not_a_file = |what: &str| {
            FerriteError::invalid(
                "csv",
                format!(
                    "{} is {what}, not a CSV file; give the path of a CSV file",
                    path.display()
                ),
            )
        };
        // Checked before opening: opening a FIFO for reading would wait for a writer.
        let meta = std::fs::metadata(path).map_err(io)?;
        if meta.is_dir() {
            return Err(not_a_file("a folder"));
        }
        if !meta.is_file() {
            return Err(not_a_file("not a regular file (a device, pipe or socket)"));
        }
        let mut file = std::fs::File::open(path).map_err(io)?;
        // The handle's own metadata, in case the path was replaced since.
        let meta = file.metadata().map_err(io)?;
        if !meta.is_file() {
            return Err(not_a_file("not a regular file (a device, pipe or socket)"));
        }
        // The text and the values parsed from it are both held: about twice the file.
        super::check_memory(
            meta.len().checked_mul(2),
            super::available_memory(),
            &format!(
                "reading {} ({:.1} MiB)",
                path.display(),
                meta.len() as f64 / (1u64 << 20) as f64
            ),
            "use a smaller file, or free memory",
        )?;
        let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
        file.read_to_end(&mut bytes).map_err(io)?;
        self.parse(path, &bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(opts: &CsvOptions, text: &[u8]) -> Result<CsvTable> {
        opts.parse(Path::new("mem.csv"), text)
    }

    #[test]
    fn median_and_mean_fill_use_only_the_fit_rows() {
        let text = b"a,y\n1,0\n2,0\nNA,1\n10,1\n100,0\n";
        let mean = parse(
            &CsvOptions::new()
                .target("y")
                .missing(MissingPolicy::FillMean)
                .fit_rows(&[0, 1, 2, 3]),
            text,
        )
        .unwrap();
        // Mean of the fit rows 1, 2, 10 (row 2 is missing, row 4 is not a fit row).
        assert_eq!(mean.features.to_vec(), vec![1., 2., 13. / 3., 10., 100.]);
        let median = parse(
            &CsvOptions::new()
                .target("y")
                .missing(MissingPolicy::FillMedian),
            text,
        )
        .unwrap();
        assert_eq!(median.imputer.unwrap().fill_values(), &[6.]); // median of 1, 2, 10, 100
        assert_eq!(median.report.filled, vec![("a".to_string(), 1)]);
        assert_eq!(median.lines, vec![2, 3, 4, 5, 6]);
    }

    #[test]
    fn target_kinds_and_saved_mappings() {
        let text = b"x,label\n1,b\n2,a\n3,b\n";
        let t = parse(&CsvOptions::new().target("label"), text).unwrap();
        assert_eq!(t.targets.unwrap().to_vec(), vec![1., 0., 1.]);
        let saved = serde_json::to_string(&t.label_encoder.unwrap()).unwrap();
        let enc: LabelEncoder = serde_json::from_str(&saved).unwrap();
        let unknown = parse(
            &CsvOptions::new().target("label").label_encoder(enc),
            b"x,label\n1,a\n2,c\n",
        );
        let msg = unknown.unwrap_err().to_string();
        assert!(msg.contains("mem.csv:3") && msg.contains("\"c\""), "{msg}");
        assert!(parse(
            &CsvOptions::new()
                .target("label")
                .target_kind(TargetKind::Numeric),
            text
        )
        .is_err());
        let numeric_as_labels = parse(
            &CsvOptions::new()
                .target("label")
                .target_kind(TargetKind::Categorical),
            b"x,label\n1,5\n2,7\n3,5\n",
        )
        .unwrap();
        assert_eq!(
            numeric_as_labels.targets.unwrap().to_vec(),
            vec![0., 1., 0.]
        );
    }

    #[test]
    fn byte_order_mark_crlf_quotes_and_other_delimiters_are_read() {
        let text = "\u{feff}\"a\";b;y\r\n\"1.5\";2;x\r\n3; 4 ;y\r\n".as_bytes();
        let t = parse(&CsvOptions::new().target("y").delimiter(b';'), text).unwrap();
        assert_eq!(t.feature_names, vec!["a".to_string(), "b".to_string()]);
        assert_eq!(t.features.to_vec2(), vec![vec![1.5, 2.], vec![3., 4.]]);
        assert_eq!(t.lines, vec![2, 3]);
    }

    #[test]
    fn a_lone_carriage_return_ends_a_line_and_a_feature_twice_is_refused() {
        // Both found by the fuzz targets: rows after a lone CR were numbered one line early,
        // and `features(&["b", "b"])` loaded b twice.
        let t = parse(&CsvOptions::new().target("y"), b"a,y\r\n0,1\r2,3\r\n4,5\n").unwrap();
        assert_eq!(t.lines, vec![2, 3, 4]);
        let msg = parse(
            &CsvOptions::new().target("y").features(&["b", "a", "b"]),
            b"a,b,y\n1,2,3\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            msg.contains("mem.csv:1:") && msg.contains("column 2 (\"b\") is chosen twice"),
            "{msg}"
        );
    }

    #[test]
    fn overflow_and_infinity_are_rejected() {
        assert!(matches!(parse_number("3.5e38"), Err(m) if m.contains("overflows f32")));
        assert!(matches!(parse_number("-inf"), Err(m) if m.contains("not a finite")));
        assert!(matches!(parse_number("1e-50"), Ok(Cell::Number(v)) if v == 0.0));
        assert!(matches!(parse_number("Null"), Ok(Cell::Missing)));
    }

    #[test]
    fn a_table_with_only_the_target_column_is_an_error_naming_the_file() {
        // Once a panic in the imputer (a chunk size of zero features).
        let Err(err) = CsvOptions::new()
            .target("y")
            .parse(Path::new("only.csv"), b"y\n1.5\n2.5\n")
        else {
            panic!("a table without features must be refused");
        };
        let text = err.to_string();
        assert!(
            text.contains("only.csv")
                && text.contains("no feature columns")
                && text.contains("\"y\""),
            "{text}"
        );
    }
}
