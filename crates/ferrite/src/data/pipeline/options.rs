//! How a [`TabularPipeline`](super::TabularPipeline) reads and fits: the CSV dialect, the
//! task and the fitting options.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::data::{CsvOptions, CsvTable, FillStrategy, MissingPolicy};
use crate::error::Result;

/// How a CSV file is written: extra missing-value markers and the field separator. Recorded
/// in a [`TabularPipeline`], so that new files are read as the training file was.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CsvDialect {
    /// Extra markers of a missing value, besides empty, `NA`, `NaN` and `null`.
    #[serde(default)]
    pub na_values: Vec<String>,
    /// The field separator; `None`: detected from each file's header, so that a comma file
    /// can be read by a pipeline fitted on a semicolon file.
    #[serde(default)]
    pub delimiter: Option<char>,
}

impl CsvDialect {
    /// `options` set to read this dialect.
    pub fn apply(&self, mut options: CsvOptions) -> CsvOptions {
        if !self.na_values.is_empty() {
            options = options.na_values(&self.na_values);
        }
        if let Some(d) = self.delimiter {
            // Only an ASCII separator is meaningful; a hand-edited record could hold more,
            // and is then read with a detected separator rather than a truncated one.
            if let Ok(byte) = u8::try_from(d) {
                options = options.delimiter(byte);
            }
        }
        options
    }

    /// This dialect with `extra`'s markers added, and `extra`'s delimiter when it gives one.
    ///
    /// ```
    /// use ferrite::data::CsvDialect;
    /// let saved = CsvDialect { na_values: vec!["?".into()], delimiter: Some(';') };
    /// let extra = CsvDialect { na_values: vec!["-".into(), "?".into()], delimiter: None };
    /// let both = saved.merged(&extra);
    /// assert_eq!(both.na_values, vec!["?", "-"]);
    /// assert_eq!(both.delimiter, Some(';'));
    /// ```
    pub fn merged(&self, extra: &CsvDialect) -> CsvDialect {
        let mut na_values = self.na_values.clone();
        for m in &extra.na_values {
            if !na_values.contains(m) {
                na_values.push(m.clone());
            }
        }
        CsvDialect {
            na_values,
            delimiter: extra.delimiter.or(self.delimiter),
        }
    }
}

/// What a table's target is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TabularTask {
    /// Two classes: one logit (BCEWithLogits).
    Binary,
    /// Several classes: one logit per class (CrossEntropy).
    Multiclass,
    /// A number (MSE).
    Regression,
}

/// How a [`TabularPipeline`] is fitted and how the table is split.
///
/// ```
/// use ferrite::data::{FillStrategy, TabularOptions, TabularTask};
/// let options = TabularOptions::new()
///     .task(TabularTask::Regression)
///     .fill(FillStrategy::Median)
///     .test_size(0.25)
///     .seed(7);
/// assert_eq!(options.test_size, 0.25);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct TabularOptions {
    /// The task; `None`: guessed from the target (text labels or at most 20 distinct whole
    /// numbers are classes, anything else a quantity).
    pub task: Option<TabularTask>,
    /// The statistic that fills a missing feature value (fitted on the training rows).
    pub fill: FillStrategy,
    /// Standardise the features (mean 0, standard deviation 1 over the training rows).
    pub scale_features: bool,
    /// Standardise a regression target (networks then learn `(y − mean) / std`).
    pub scale_target: bool,
    /// Fraction of the rows held out for testing (stratified for classification).
    pub test_size: f64,
    /// Seed of the split.
    pub seed: u64,
    /// How the CSV files are read (recorded in the pipeline).
    pub dialect: CsvDialect,
}

impl Default for TabularOptions {
    fn default() -> Self {
        Self::new()
    }
}

impl TabularOptions {
    /// Defaults: task guessed, mean fill, features and target standardised, 20% test, seed 0.
    pub fn new() -> Self {
        TabularOptions {
            task: None,
            fill: FillStrategy::Mean,
            scale_features: true,
            scale_target: true,
            test_size: 0.2,
            seed: 0,
            dialect: CsvDialect::default(),
        }
    }

    /// Sets the task instead of guessing it.
    pub fn task(mut self, task: TabularTask) -> Self {
        self.task = Some(task);
        self
    }

    /// Sets the fill statistic of missing feature values.
    pub fn fill(mut self, fill: FillStrategy) -> Self {
        self.fill = fill;
        self
    }

    /// Turns feature standardisation on or off.
    pub fn scale_features(mut self, on: bool) -> Self {
        self.scale_features = on;
        self
    }

    /// Turns standardisation of a regression target on or off.
    pub fn scale_target(mut self, on: bool) -> Self {
        self.scale_target = on;
        self
    }

    /// Sets the held-out fraction.
    pub fn test_size(mut self, test_size: f64) -> Self {
        self.test_size = test_size;
        self
    }

    /// Sets the seed of the split.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Sets how the CSV files are read.
    pub fn dialect(mut self, dialect: CsvDialect) -> Self {
        self.dialect = dialect;
        self
    }

    /// Reads `path` for fitting: the `target` column and the `features` (default: every
    /// other column), in this dialect, with missing feature values kept as NaN (they are
    /// filled after the split, from training rows only).
    pub fn read_csv(
        &self,
        path: impl AsRef<Path>,
        target: &str,
        features: Option<&[String]>,
    ) -> Result<CsvTable> {
        let mut options = self.dialect.apply(
            CsvOptions::new()
                .target(target)
                .missing(MissingPolicy::Keep),
        );
        if let Some(f) = features {
            options = options.features(f);
        }
        options.load(path)
    }
}
