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

/// The separators tried, in order of preference, when none is given.
const CANDIDATE_DELIMITERS: [u8; 4] = [b',', b';', b'\t', b'|'];

/// How many leading bytes are checked for NUL bytes, the sign of a binary file.
const BINARY_SNIFF_BYTES: usize = 8192;

/// True for the built-in spellings of a missing value.
fn is_default_missing(field: &str) -> bool {
    field.is_empty()
        || ["na", "nan", "null"]
            .iter()
            .any(|m| field.eq_ignore_ascii_case(m))
}

/// `column 3 ("y")`: the 1-based position and the name, as every message names a column.
fn column(names: &[String], j: usize) -> String {
    match names.get(j) {
        Some(name) => format!(
            "column {} ({:?})",
            j + 1,
            crate::metrics::report::display_label(name)
        ),
        None => format!("column {}", j + 1),
    }
}

/// A delimiter as it is typed on a command line (`tab` for a tab).
fn delimiter_name(d: u8) -> String {
    match d {
        b'\t' => "tab".to_string(),
        d => (d as char).to_string(),
    }
}

/// A value quoted for a shell command line, e.g. `'?'`.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// A numeric field: a number or a missing value.
#[derive(Clone, Copy, Debug)]
enum Cell {
    Number(f32),
    Missing,
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

    /// The delimiter given, or the one of [`CANDIDATE_DELIMITERS`] that splits the first
    /// record into the most fields (the first candidate on ties).
    fn detect_delimiter(&self, bytes: &[u8]) -> u8 {
        if let Some(d) = self.delimiter {
            return d;
        }
        let fields = |d: u8| {
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(false)
                .flexible(true)
                .delimiter(d)
                .from_reader(bytes);
            let mut record = csv::ByteRecord::new();
            match reader.read_byte_record(&mut record) {
                Ok(true) => record.len(),
                _ => 0,
            }
        };
        let mut best = (CANDIDATE_DELIMITERS[0], fields(CANDIDATE_DELIMITERS[0]));
        for &d in &CANDIDATE_DELIMITERS[1..] {
            let n = fields(d);
            if n > best.1 {
                best = (d, n);
            }
        }
        best.0
    }

    /// Reads the header and every data row: the selected features as numbers (NaN where
    /// missing), the target as text (decided numeric or categorical over all rows later).
    fn read_rows(&self, path: &Path, bytes: &[u8]) -> Result<RawRows> {
        let err = |line: usize, message: String| FerriteError::Data {
            path: path.to_path_buf(),
            line,
            message,
        };
        check_text(path, bytes)?;
        let delimiter = self.detect_delimiter(bytes);
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(delimiter)
            .from_reader(bytes);
        let mut records = reader.byte_records();
        let header = match records.next() {
            None => {
                return Err(err(
                    1,
                    "the file is empty; expected a header row of column names".into(),
                ))
            }
            Some(r) => r.map_err(|e| csv_error(path, bytes, e))?,
        };
        let mut lines_of = LineCounter::new(bytes);
        let header_line = lines_of.line(header.position());
        let names = header
            .iter()
            .enumerate()
            .map(|(j, f)| {
                std::str::from_utf8(f)
                    .map(|s| s.trim().to_string())
                    .map_err(|_| {
                        err(
                            header_line,
                            format!(
                                "column {}: the name in the header is not valid UTF-8; \
                                 save the file as UTF-8",
                                j + 1
                            ),
                        )
                    })
            })
            .collect::<Result<Vec<String>>>()?;
        for (j, name) in names.iter().enumerate() {
            if let Some(first) = names[..j].iter().position(|n| n == name) {
                return Err(err(
                    header_line,
                    format!(
                        "{}: the name is already used by column {}; column names must be \
                         unique, rename one of them",
                        column(&names, j),
                        first + 1
                    ),
                ));
            }
        }
        let find = |name: &str| {
            names
                .iter()
                .position(|n| n == name)
                .ok_or_else(|| err(header_line, missing_column_message(name, &names, delimiter)))
        };
        let target_col = self.target.as_deref().map(find).transpose()?;
        let feature_cols: Vec<usize> = match &self.features {
            Some(list) => {
                let cols: Vec<usize> = list.iter().map(|n| find(n)).collect::<Result<_>>()?;
                // The same column twice would be two identical inputs, most likely a typo.
                if let Some(k) = (1..cols.len()).find(|&k| cols[..k].contains(&cols[k])) {
                    return Err(err(
                        header_line,
                        format!(
                            "{} is chosen twice as a feature; list each feature column once",
                            column(&names, cols[k])
                        ),
                    ));
                }
                cols
            }
            None => (0..names.len())
                .filter(|&j| Some(j) != target_col)
                .collect(),
        };
        if feature_cols.is_empty() {
            let only = match target_col {
                Some(t) => format!("the only column is the target, {}", column(&names, t)),
                None => "no columns were chosen as features".to_string(),
            };
            return Err(err(
                header_line,
                format!("no feature columns: {only}; a model needs at least one input column"),
            ));
        }
        if let Some(t) = target_col.filter(|t| feature_cols.contains(t)) {
            return Err(err(
                header_line,
                format!(
                    "{} is chosen as both a feature and the target",
                    column(&names, t)
                ),
            ));
        }

        // Read every data row.
        let mut features: Vec<f32> = Vec::new();
        let mut targets: Vec<Option<String>> = Vec::new();
        let mut lines: Vec<usize> = Vec::new();
        for record in records {
            let record = record.map_err(|e| csv_error(path, bytes, e))?;
            let line = lines_of.line(record.position());
            if record.len() != names.len() {
                return Err(err(
                    line,
                    format!(
                        "the row has {} fields but the header has {} columns",
                        record.len(),
                        names.len()
                    ),
                ));
            }
            let field = |j: usize| {
                std::str::from_utf8(&record[j]).map(str::trim).map_err(|_| {
                    err(
                        line,
                        format!(
                            "{}: the value is not valid UTF-8; save the file as UTF-8",
                            column(&names, j)
                        ),
                    )
                })
            };
            for &j in &feature_cols {
                let text = field(j)?;
                features.push(match self.cell(text) {
                    Ok(Cell::Number(v)) => v,
                    Ok(_) => f32::NAN,
                    Err(why) => {
                        return Err(err(
                            line,
                            format!(
                                "{}: {why}; if it marks a missing value, declare it: {}",
                                column(&names, j),
                                na_advice(&[text])
                            ),
                        ))
                    }
                });
            }
            if let Some(t) = target_col {
                let text = field(t)?;
                if self.target_kind == TargetKind::Numeric {
                    if let Err(why) = self.cell(text) {
                        return Err(err(
                            line,
                            format!(
                                "{}: {why}; if it marks a missing value, declare it: {}",
                                column(&names, t),
                                na_advice(&[text])
                            ),
                        ));
                    }
                }
                // The text is kept; whether it is a number or a label is decided over all rows.
                targets.push((!self.is_missing(text)).then(|| text.to_string()));
            }
            lines.push(line);
        }
        if lines.is_empty() {
            return Err(err(
                header_line,
                "the file has a header but no data rows".into(),
            ));
        }
        Ok(RawRows {
            names,
            header_line,
            feature_cols,
            target_col,
            features,
            targets,
            lines,
            delimiter,
        })
    }

    /// Reads `bytes` (the contents of `path`), applies the missing-value policy (fill values
    /// from the kept fit rows) and encodes the target.
    fn parse(&self, path: &Path, bytes: &[u8]) -> Result<CsvTable> {
        let err = |line: usize, message: String| FerriteError::Data {
            path: path.to_path_buf(),
            line,
            message,
        };
        let RawRows {
            names,
            header_line,
            feature_cols,
            target_col,
            features,
            targets,
            lines,
            delimiter,
        } = self.read_rows(path, bytes)?;
        let (n, nf) = (lines.len(), feature_cols.len());
        let target_name = target_col.map(|t| names[t].clone());
        let feature_names: Vec<String> = feature_cols.iter().map(|&j| names[j].clone()).collect();

        // Count missing values, then apply the policy.
        let mut missing: Vec<(String, usize)> = feature_names
            .iter()
            .enumerate()
            .map(|(j, name)| {
                (
                    name.clone(),
                    (0..n).filter(|&i| features[i * nf + j].is_nan()).count(),
                )
            })
            .collect();
        let target_missing = |i: usize| matches!(targets.get(i), Some(None));
        if let Some(name) = &target_name {
            missing.push((name.clone(), (0..n).filter(|&i| target_missing(i)).count()));
        }
        let row_has_missing = |i: usize| {
            features[i * nf..(i + 1) * nf].iter().any(|v| v.is_nan()) || target_missing(i)
        };
        let keep: Vec<bool> = match self.missing {
            MissingPolicy::Refuse => {
                if let Some(i) = (0..n).find(|&i| row_has_missing(i)) {
                    // The first missing column in the file's order.
                    let feature_gaps = (0..nf)
                        .filter(|&j| features[i * nf + j].is_nan())
                        .map(|j| feature_cols[j]);
                    let target_gap = target_col.filter(|_| target_missing(i));
                    let gap = feature_gaps
                        .chain(target_gap)
                        .min()
                        .map_or_else(String::new, |j| column(&names, j));
                    return Err(err(
                        lines[i],
                        format!(
                            "{gap}: missing value; choose a missing-value policy \
                             (drop the rows, or fill with the training mean or median)"
                        ),
                    ));
                }
                vec![true; n]
            }
            MissingPolicy::DropRows => (0..n).map(|i| !row_has_missing(i)).collect(),
            MissingPolicy::FillMean | MissingPolicy::FillMedian => {
                (0..n).map(|i| !target_missing(i)).collect()
            }
            MissingPolicy::Keep => vec![true; n],
        };

        // Fill values come from the fit rows that are kept.
        let imputer = match self.missing {
            MissingPolicy::FillMean | MissingPolicy::FillMedian => {
                let strategy = if self.missing == MissingPolicy::FillMean {
                    FillStrategy::Mean
                } else {
                    FillStrategy::Median
                };
                let fit_rows: Vec<usize> = match &self.fit_rows {
                    Some(rows) => {
                        if let Some(&bad) = rows.iter().find(|&&r| r >= n) {
                            return Err(FerriteError::invalid(
                                "fit_rows",
                                format!(
                                    "row {bad} is out of range for {} with {n} data rows",
                                    path.display()
                                ),
                            ));
                        }
                        rows.iter().copied().filter(|&r| keep[r]).collect()
                    }
                    None => (0..n).filter(|&r| keep[r]).collect(),
                };
                let values = (0..nf)
                    .map(|j| {
                        let column = fit_rows
                            .iter()
                            .map(|&i| features[i * nf + j])
                            .filter(|v| !v.is_nan())
                            .collect();
                        fill_value(column, strategy).ok_or_else(|| {
                            err(
                                header_line,
                                format!(
                                    "{}: no value in the fit rows to fill missing values \
                                     with; drop the column or fill it in the file",
                                    self::column(&names, feature_cols[j])
                                ),
                            )
                        })
                    })
                    .collect::<Result<Vec<f32>>>()?;
                Some(Imputer::from_values(strategy, values))
            }
            _ => None,
        };

        let kept: Vec<usize> = (0..n).filter(|&i| keep[i]).collect();
        let mut x: Vec<f32> = Vec::with_capacity(kept.len() * nf);
        for &i in &kept {
            x.extend_from_slice(&features[i * nf..(i + 1) * nf]);
        }
        let filled_counts = imputer.as_ref().map_or(vec![0; nf], |imp| imp.fill(&mut x));

        let (targets, label_encoder) = match target_col {
            None => (None, None),
            Some(t) => {
                let name = column(&names, t);
                let (t, e) = self.encode_targets(path, &name, &targets, &lines, &kept)?;
                (Some(t), e)
            }
        };

        let report = MissingReport {
            rows_read: n,
            rows_kept: kept.len(),
            dropped_lines: (0..n).filter(|&i| !keep[i]).map(|i| lines[i]).collect(),
            missing,
            filled: feature_names.iter().cloned().zip(filled_counts).collect(),
        };
        Ok(CsvTable {
            features: Tensor::from_vec(x, [kept.len(), nf]),
            targets,
            feature_names,
            target_name,
            label_encoder,
            imputer,
            lines: kept.iter().map(|&i| lines[i]).collect(),
            report,
            delimiter,
        })
    }

    /// The targets of rows `kept`: numbers as they are, or text through the label encoder
    /// (the saved one, or one fitted on these labels). Missing targets (kept only by
    /// [`MissingPolicy::Keep`]) are NaN. `name` is the target column as messages name it.
    fn encode_targets(
        &self,
        path: &Path,
        name: &str,
        targets: &[Option<String>],
        lines: &[usize],
        kept: &[usize],
    ) -> Result<(Tensor, Option<LabelEncoder>)> {
        let present = || kept.iter().filter_map(|&i| targets[i].as_deref());
        let numeric = match self.target_kind {
            TargetKind::Numeric => true,
            TargetKind::Categorical => false,
            TargetKind::Auto if self.label_encoder.is_some() => false,
            TargetKind::Auto => {
                let is_number = |s: &str| matches!(parse_number(s), Ok(Cell::Number(_)));
                let total = present().count();
                let numbers = present().filter(|s| is_number(s)).count();
                if numbers < total && 2 * numbers > total {
                    return Err(
                        self.mostly_numeric_error(path, name, targets, lines, kept, numbers, total)
                    );
                }
                numbers == total
            }
        };
        if numeric {
            let values = kept
                .iter()
                .map(|&i| match targets[i].as_deref().map(parse_number) {
                    Some(Ok(Cell::Number(v))) => v,
                    _ => f32::NAN,
                })
                .collect::<Vec<f32>>();
            return Ok((Tensor::from_vec(values, [kept.len()]), None));
        }
        let encoder = match &self.label_encoder {
            Some(e) => e.clone(),
            None => {
                let mut e = LabelEncoder::new();
                e.fit(&present().collect::<Vec<&str>>());
                e
            }
        };
        let values =
            kept.iter()
                .map(|&i| match targets[i].as_deref() {
                    Some(s) => encoder.transform(&[s]).map(|v| v[0] as f32).map_err(|_| {
                        FerriteError::Data {
                            path: path.to_path_buf(),
                            line: lines[i],
                            message: format!(
                                "{name}: the label {:?} was not seen in training (classes: {})",
                                crate::metrics::report::display_label(s),
                                list_labels(encoder.classes())
                            ),
                        }
                    }),
                    None => Ok(f32::NAN),
                })
                .collect::<Result<Vec<f32>>>()?;
        Ok((Tensor::from_vec(values, [kept.len()]), Some(encoder)))
    }

    /// The error for a target column of mostly numbers with some other values: those are
    /// most likely missing-value markers, and reading the column as labels would silently
    /// make a regression a classification with one class per distinct number.
    #[allow(clippy::too_many_arguments)]
    fn mostly_numeric_error(
        &self,
        path: &Path,
        name: &str,
        targets: &[Option<String>],
        lines: &[usize],
        kept: &[usize],
        numbers: usize,
        total: usize,
    ) -> FerriteError {
        let not_numbers: Vec<(usize, &str)> = kept
            .iter()
            .filter_map(|&i| targets[i].as_deref().map(|s| (i, s)))
            .filter(|(_, s)| !matches!(parse_number(s), Ok(Cell::Number(_))))
            .collect();
        let (first_row, first) = not_numbers[0];
        // Distinct values in file order (a set for the test: there may be many).
        let mut seen = std::collections::HashSet::new();
        let distinct: Vec<&str> = not_numbers
            .iter()
            .map(|&(_, s)| s)
            .filter(|s| seen.insert(*s))
            .collect();
        let why = parse_number(first).err().unwrap_or_default();
        FerriteError::Data {
            path: path.to_path_buf(),
            line: lines[first_row],
            message: format!(
                "{name}: {why}, yet {numbers} of the {total} values in this column are \
                 numbers and {} {} not ({}); if {}, declare {}: {}; if the \
                 column holds class labels, read it as categorical (TargetKind::Categorical)",
                total - numbers,
                if total - numbers == 1 { "is" } else { "are" },
                list_labels(&distinct),
                if distinct.len() == 1 {
                    "it marks a missing value"
                } else {
                    "these mark missing values"
                },
                if distinct.len() == 1 { "it" } else { "them" },
                na_advice(&distinct),
            ),
        }
    }
}

/// How to declare `values` as missing-value markers: the command-line option and the
/// library call (values too long, or with a comma, cannot be listed and are left out).
fn na_advice<S: AsRef<str>>(values: &[S]) -> String {
    let markers: Vec<&str> = values
        .iter()
        .map(AsRef::as_ref)
        .filter(|s| !s.is_empty() && s.chars().count() <= 40 && !s.contains(','))
        .take(5)
        .collect();
    if markers.is_empty() {
        return "fix the values in the file, or give the markers with --na-values \
                (CsvOptions::na_values)"
            .to_string();
    }
    let list = markers.join(",");
    let quoted: Vec<String> = markers.iter().map(|m| format!("{m:?}")).collect();
    format!(
        "--na-values {} on the command line, CsvOptions::na_values(&[{}]) in the library",
        shell_quote(&list),
        quoted.join(", ")
    )
}

/// Up to 10 labels, each shortened for display, then how many more there are.
fn list_labels<S: AsRef<str>>(labels: &[S]) -> String {
    let shown: Vec<String> = labels
        .iter()
        .take(10)
        .map(|l| format!("{:?}", crate::metrics::report::display_label(l.as_ref())))
        .collect();
    let mut text = shown.join(", ");
    if labels.len() > 10 {
        text += &format!(" and {} more", labels.len() - 10);
    }
    text
}

/// Refuses a binary file: a NUL byte in the first [`BINARY_SNIFF_BYTES`] bytes. (UTF-16 text
/// has them too, and is refused alike: the reader expects UTF-8.)
fn check_text(path: &Path, bytes: &[u8]) -> Result<()> {
    let head = &bytes[..bytes.len().min(BINARY_SNIFF_BYTES)];
    if let Some(offset) = head.iter().position(|&b| b == 0) {
        let line = 1 + line_breaks(head, 0, offset);
        return Err(FerriteError::Data {
            path: path.to_path_buf(),
            line,
            message: format!(
                "not a text CSV file: a NUL byte at byte offset {offset}; give a CSV file \
                 saved as UTF-8 text"
            ),
        });
    }
    Ok(())
}

/// The message for a column name not in the header, with what the header looks like when it
/// holds another candidate delimiter (the file is probably separated by that one).
fn missing_column_message(name: &str, names: &[String], delimiter: u8) -> String {
    let shown = |n: &String| format!("{:?}", crate::metrics::report::display_label(n));
    let columns: Vec<String> = names.iter().take(20).map(shown).collect();
    let mut text = format!(
        "no column named {:?}; the {} column{} {}{}",
        crate::metrics::report::display_label(name),
        names.len(),
        if names.len() == 1 { " is" } else { "s are" },
        columns.join(", "),
        if names.len() > 20 { ", …" } else { "" }
    );
    let other = CANDIDATE_DELIMITERS
        .iter()
        .copied()
        .filter(|&d| d != delimiter)
        .find(|&d| names.iter().any(|n| n.as_bytes().contains(&d)));
    if let Some(d) = other {
        let header: String = names.join(&(delimiter as char).to_string());
        text += &format!(
            "; the header line is {:?}, split at {:?} but it holds {:?}: if the file is \
             separated by {:?}, give --delimiter {} (CsvOptions::delimiter(b{:?}))",
            crate::metrics::report::display_label(&header),
            delimiter as char,
            d as char,
            d as char,
            shell_quote(&delimiter_name(d)),
            d as char
        );
    }
    text
}

/// The rows of a CSV file as read, before the missing-value policy.
struct RawRows {
    /// The header's column names.
    names: Vec<String>,
    /// The header's line.
    header_line: usize,
    /// The feature columns' positions in the header.
    feature_cols: Vec<usize>,
    /// The target column's position.
    target_col: Option<usize>,
    /// Row-major `(rows, features)` values, NaN where missing.
    features: Vec<f32>,
    /// The target text of each row, `None` where missing.
    targets: Vec<Option<String>>,
    /// The file line of each row.
    lines: Vec<usize>,
    /// The field separator used.
    delimiter: u8,
}

/// Reads a field as a finite f32 or a built-in missing value; the reason otherwise.
fn parse_number(text: &str) -> std::result::Result<Cell, String> {
    if is_default_missing(text) {
        return Ok(Cell::Missing);
    }
    match text.parse::<f32>() {
        Ok(v) if v.is_finite() => Ok(Cell::Number(v)),
        // Rust parses out-of-range numbers as infinity; `inf` itself is no usable value either.
        Ok(_) => match text.parse::<f64>() {
            Ok(v) if v.is_finite() => Err(format!(
                "the value {} overflows f32 (largest magnitude {:e})",
                crate::metrics::report::display_label(text),
                f32::MAX
            )),
            _ => Err(format!(
                "the value {} is not a finite number",
                crate::metrics::report::display_label(text)
            )),
        },
        Err(_) => Err(format!(
            "the value {:?} is not a number",
            crate::metrics::report::display_label(text)
        )),
    }
}

/// Finds the 1-based line where each record of a CSV buffer begins, counting newlines once
/// as records come in order.
///
/// The `csv` crate's own line numbers lag behind with CRLF line ends, and its byte offsets
/// there point at the `\n` ending the previous line, so lines are counted up to and including
/// the byte at the record's offset.
pub(crate) struct LineCounter<'a> {
    bytes: &'a [u8],
    counted_to: usize,
    newlines: usize,
}

impl<'a> LineCounter<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        LineCounter {
            bytes,
            counted_to: 0,
            newlines: 0,
        }
    }

    /// The line of the record at `position` (0 when there is no position).
    pub(crate) fn line(&mut self, position: Option<&csv::Position>) -> usize {
        let Some(p) = position else { return 0 };
        let end = (p.byte() as usize + 1).min(self.bytes.len());
        if end < self.counted_to {
            *self = LineCounter::new(self.bytes);
        }
        self.newlines += line_breaks(self.bytes, self.counted_to, end);
        self.counted_to = end;
        1 + self.newlines
    }
}

/// The line breaks that start in `bytes[from..to]`: `\n`, and `\r` not followed by `\n` (a
/// lone carriage return ends a record for the `csv` crate, so it ends a line here too; the
/// `\r` of `\r\n` is not counted, its `\n` is).
fn line_breaks(bytes: &[u8], from: usize, to: usize) -> usize {
    (from..to)
        .filter(|&i| match bytes[i] {
            b'\n' => true,
            b'\r' => bytes.get(i + 1) != Some(&b'\n'),
            _ => false,
        })
        .count()
}

/// A `csv` crate error as a `Data` error at its line.
fn csv_error(path: &Path, bytes: &[u8], e: csv::Error) -> FerriteError {
    let line = LineCounter::new(bytes).line(e.position());
    FerriteError::Data {
        path: PathBuf::from(path),
        line,
        message: e.to_string(),
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
