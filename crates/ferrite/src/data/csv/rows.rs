//! Reading a CSV buffer: the delimiter, the header, and every data row as numbers and text.

use super::*;

impl CsvOptions {
    /// The delimiter given, or the one of [`CANDIDATE_DELIMITERS`] that splits the first
    /// record into the most fields (the first candidate on ties).
    pub(super) fn detect_delimiter(&self, bytes: &[u8]) -> u8 {
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
    pub(super) fn read_rows(&self, path: &Path, bytes: &[u8]) -> Result<RawRows> {
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
}

/// The rows of a CSV file as read, before the missing-value policy.
pub(super) struct RawRows {
    /// The header's column names.
    pub(super) names: Vec<String>,
    /// The header's line.
    pub(super) header_line: usize,
    /// The feature columns' positions in the header.
    pub(super) feature_cols: Vec<usize>,
    /// The target column's position.
    pub(super) target_col: Option<usize>,
    /// Row-major `(rows, features)` values, NaN where missing.
    pub(super) features: Vec<f32>,
    /// The target text of each row, `None` where missing.
    pub(super) targets: Vec<Option<String>>,
    /// The file line of each row.
    pub(super) lines: Vec<usize>,
    /// The field separator used.
    pub(super) delimiter: u8,
}
