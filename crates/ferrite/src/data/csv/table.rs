//! From rows to a table: the missing-value policy, fill values from the fit rows, and the
//! target read as numbers or encoded labels.

use super::*;

impl CsvOptions {
    /// Reads `bytes` (the contents of `path`), applies the missing-value policy (fill values
    /// from the kept fit rows) and encodes the target.
    pub(super) fn parse(&self, path: &Path, bytes: &[u8]) -> Result<CsvTable> {
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
    pub(super) fn encode_targets(
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
    pub(super) fn mostly_numeric_error(
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
