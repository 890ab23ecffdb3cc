//! Train/test splits like scikit-learn's `train_test_split`: seeded shuffling, optional
//! stratification (class proportions kept in both parts) or no shuffling at all.

use serde::{Deserialize, Serialize};

use crate::error::{FerriteError, Result};
use crate::tensor::Generator;
use crate::Tensor;

/// Row indices of the two parts of a split.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SplitIndices {
    /// Rows for training.
    pub train: Vec<usize>,
    /// Rows held out for testing.
    pub test: Vec<usize>,
}

impl SplitIndices {
    /// The training and test rows of `t` (split along dimension 0).
    pub fn apply(&self, t: &Tensor) -> (Tensor, Tensor) {
        (
            t.index_select(0, &self.train),
            t.index_select(0, &self.test),
        )
    }
}

/// A train/validation/test split made of two splits: `outer` cuts the test rows off `0..n`,
/// `inner` cuts the validation rows off the outer training rows (its indices are positions in
/// `outer.train`, not rows). Made by [`TrainTestSplit::nested`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NestedSplit {
    /// The split of `0..n` into the rows for training and validation, and the test rows.
    pub outer: SplitIndices,
    /// The split of `outer.train` (by position) into training and validation.
    pub inner: SplitIndices,
}

impl NestedSplit {
    /// The training rows (of `0..n`).
    pub fn train(&self) -> Vec<usize> {
        self.inner
            .train
            .iter()
            .map(|&i| self.outer.train[i])
            .collect()
    }

    /// The validation rows (of `0..n`).
    pub fn val(&self) -> Vec<usize> {
        self.inner
            .test
            .iter()
            .map(|&i| self.outer.train[i])
            .collect()
    }

    /// The test rows (of `0..n`).
    pub fn test(&self) -> &[usize] {
        &self.outer.test
    }
}

/// Settings of a train/test split.
///
/// Sizes follow scikit-learn: `n_test = ceil(test_size · n)`,
/// `n_train = floor((1 − test_size) · n)`.
///
/// ```
/// use ferrite::data::TrainTestSplit;
/// let split = TrainTestSplit::new(0.25).seed(42).split(8).unwrap();
/// assert_eq!((split.train.len(), split.test.len()), (6, 2));
/// let labels = [0, 0, 0, 0, 1, 1, 1, 1];
/// let strat = TrainTestSplit::new(0.5).stratify(&labels).split(8).unwrap();
/// assert_eq!(strat.test.iter().filter(|&&i| labels[i] == 1).count(), 2);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainTestSplit {
    /// Fraction of rows held out, in (0, 1).
    pub test_size: f64,
    /// Shuffle before splitting (otherwise the test rows are the last ones).
    pub shuffle: bool,
    /// Seed of the shuffling.
    pub seed: u64,
    /// Class label per row: keep class proportions in both parts.
    pub stratify: Option<Vec<usize>>,
    /// The name of each class label (index = label), for messages; without them a class is
    /// named by its number.
    #[serde(default)]
    pub class_names: Option<Vec<String>>,
}

impl TrainTestSplit {
    /// A shuffled split holding out `test_size` of the rows, seed 0.
    pub fn new(test_size: f64) -> Self {
        TrainTestSplit {
            test_size,
            shuffle: true,
            seed: 0,
            stratify: None,
            class_names: None,
        }
    }

    /// Sets the seed.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Turns shuffling on or off (off: the first rows train, the last ones test).
    pub fn shuffle(mut self, shuffle: bool) -> Self {
        self.shuffle = shuffle;
        self
    }

    /// Stratifies by these class labels, one per row.
    pub fn stratify(mut self, labels: &[usize]) -> Self {
        self.stratify = Some(labels.to_vec());
        self
    }

    /// Stratifies by these class labels, one per row, with `names[label]` the name of each
    /// class, so that errors name the class as the data does (`class "setosa"`) rather than
    /// by its index.
    ///
    /// ```
    /// use ferrite::data::TrainTestSplit;
    /// let err = TrainTestSplit::new(0.5)
    ///     .stratify_named(&[0, 1, 1, 1], &["setosa", "virginica"])
    ///     .split(4)
    ///     .unwrap_err();
    /// assert!(err.to_string().contains("class \"setosa\" has only 1 row"));
    /// ```
    pub fn stratify_named<S: AsRef<str>>(mut self, labels: &[usize], names: &[S]) -> Self {
        self.stratify = Some(labels.to_vec());
        self.class_names = Some(names.iter().map(|s| s.as_ref().to_string()).collect());
        self
    }

    /// A class as messages name it: `class "setosa"` with names, `class 0` without.
    fn class_label(&self, c: usize) -> String {
        match self.class_names.as_ref().and_then(|names| names.get(c)) {
            Some(name) => format!("class {:?}", crate::metrics::report::display_label(name)),
            None => format!("class {c}"),
        }
    }

    /// `(n_train, n_test)` for `n` rows.
    fn sizes(&self, n: usize) -> Result<(usize, usize)> {
        let ts = self.test_size;
        if !(ts > 0.0 && ts < 1.0) {
            return Err(FerriteError::invalid(
                "test_size",
                format!("must be a fraction in (0, 1), got {ts}"),
            ));
        }
        let n_test = (ts * n as f64).ceil() as usize;
        // 1 − ts rounds to 1 for a tiny ts: the parts must still fit in the n rows.
        let n_train = (((1.0 - ts) * n as f64).floor() as usize).min(n.saturating_sub(n_test));
        if n_train == 0 || n_test == 0 {
            return Err(FerriteError::invalid(
                "test_size",
                format!("{ts} of {n} rows leaves an empty part ({n_train} train, {n_test} test)"),
            ));
        }
        Ok((n_train, n_test))
    }

    /// Splits `0..n` into training, validation and test rows: this split holds out the
    /// test rows, then a split of `val_size` with seed `seed + 1` holds out the validation
    /// rows of the remaining ones, stratified by the same labels when `stratify_val` (and this
    /// split is stratified). Errors as [`split`](Self::split) does, for either split.
    ///
    /// ```
    /// use ferrite::data::TrainTestSplit;
    /// let labels: Vec<usize> = (0..40).map(|i| i % 2).collect();
    /// let s = TrainTestSplit::new(0.2).seed(3).stratify(&labels).nested(40, 0.25, true).unwrap();
    /// assert_eq!((s.train().len(), s.val().len(), s.test().len()), (24, 8, 8));
    /// // The same rows as the two splits made by hand.
    /// let outer = TrainTestSplit::new(0.2).seed(3).stratify(&labels).split(40).unwrap();
    /// let rest: Vec<usize> = outer.train.iter().map(|&i| labels[i]).collect();
    /// let inner = TrainTestSplit::new(0.25).seed(4).stratify(&rest).split(32).unwrap();
    /// assert_eq!((s.outer, s.inner), (outer, inner));
    /// ```
    pub fn nested(&self, n: usize, val_size: f64, stratify_val: bool) -> Result<NestedSplit> {
        let outer = self.split(n)?;
        // Wrapping: the largest seed is a valid seed, not an overflow.
        let mut inner = TrainTestSplit::new(val_size).seed(self.seed.wrapping_add(1));
        inner.shuffle = self.shuffle;
        if let (true, Some(labels)) = (stratify_val, &self.stratify) {
            inner.stratify = Some(outer.train.iter().map(|&i| labels[i]).collect());
            inner.class_names = self.class_names.clone();
        }
        let inner = inner.split(outer.train.len())?;
        Ok(NestedSplit { outer, inner })
    }

    /// Splits the row indices `0..n`.
    ///
    /// Errors on a `test_size` outside (0, 1) or leaving an empty part, stratification labels
    /// of the wrong length, a class with fewer than 2 rows, or stratification without shuffle.
    pub fn split(&self, n: usize) -> Result<SplitIndices> {
        let (n_train, n_test) = self.sizes(n)?;
        let mut gen = Generator::new(self.seed);
        match (&self.stratify, self.shuffle) {
            (None, false) => Ok(SplitIndices {
                train: (0..n_train).collect(),
                test: (n_train..n_train + n_test).collect(),
            }),
            (None, true) => {
                let perm = gen.permutation(n);
                Ok(SplitIndices {
                    test: perm[..n_test].to_vec(),
                    train: perm[n_test..n_test + n_train].to_vec(),
                })
            }
            (Some(_), false) => Err(FerriteError::invalid(
                "stratify",
                "a stratified split needs shuffling (as in scikit-learn); turn shuffle on",
            )),
            (Some(labels), true) => stratified(self, labels, n, n_train, n_test, &mut gen),
        }
    }
}

/// Splits each class in proportion (scikit-learn's `StratifiedShuffleSplit`).
fn stratified(
    settings: &TrainTestSplit,
    labels: &[usize],
    n: usize,
    n_train: usize,
    n_test: usize,
    gen: &mut Generator,
) -> Result<SplitIndices> {
    if labels.len() != n {
        return Err(FerriteError::invalid(
            "stratify",
            format!("has {} labels for {n} rows", labels.len()),
        ));
    }
    let mut classes: Vec<usize> = labels.to_vec();
    classes.sort_unstable();
    classes.dedup();
    let members: Vec<Vec<usize>> = classes
        .iter()
        .map(|&c| (0..n).filter(|&i| labels[i] == c).collect())
        .collect();
    if let Some((c, m)) = classes.iter().zip(&members).find(|(_, m)| m.len() < 2) {
        return Err(FerriteError::invalid(
            "stratify",
            format!(
                "{} has only {} row; each class needs at least 2 to appear in both parts \
                 (add rows of it, or leave it out of the file)",
                settings.class_label(*c),
                m.len()
            ),
        ));
    }
    if n_train < classes.len() || n_test < classes.len() {
        return Err(FerriteError::invalid(
            "test_size",
            format!(
                "{n_train} train and {n_test} test rows cannot hold all {} classes",
                classes.len()
            ),
        ));
    }
    let counts: Vec<usize> = members.iter().map(Vec::len).collect();
    let train_counts = approximate_mode(&counts, n_train, gen);
    let remaining: Vec<usize> = counts
        .iter()
        .zip(&train_counts)
        .map(|(c, t)| c - t)
        .collect();
    let test_counts = approximate_mode(&remaining, n_test, gen);
    let (mut train, mut test) = (Vec::with_capacity(n_train), Vec::with_capacity(n_test));
    for ((rows, &k_train), &k_test) in members.iter().zip(&train_counts).zip(&test_counts) {
        let perm = gen.permutation(rows.len());
        train.extend(perm[..k_train].iter().map(|&p| rows[p]));
        test.extend(perm[k_train..k_train + k_test].iter().map(|&p| rows[p]));
    }
    let train = gen
        .permutation(train.len())
        .into_iter()
        .map(|i| train[i])
        .collect();
    let test = gen
        .permutation(test.len())
        .into_iter()
        .map(|i| test[i])
        .collect();
    Ok(SplitIndices { train, test })
}

/// Draws `n_draws` items from classes of these sizes as close to proportionally as possible
/// (scikit-learn's `_approximate_mode`): floor of the proportional share, then the remaining
/// draws to the largest fractional parts, ties broken at random.
fn approximate_mode(class_counts: &[usize], n_draws: usize, gen: &mut Generator) -> Vec<usize> {
    let total: usize = class_counts.iter().sum();
    let continuous: Vec<f64> = class_counts
        .iter()
        .map(|&c| c as f64 * n_draws as f64 / total as f64)
        .collect();
    let mut floored: Vec<usize> = continuous.iter().map(|c| c.floor() as usize).collect();
    let mut need = n_draws.saturating_sub(floored.iter().sum());
    let remainder: Vec<f64> = continuous
        .iter()
        .zip(&floored)
        .map(|(c, &f)| c - f as f64)
        .collect();
    let mut values = remainder.clone();
    values.sort_by(|a, b| b.total_cmp(a));
    values.dedup();
    for v in values {
        if need == 0 {
            break;
        }
        let mut tied: Vec<usize> = (0..remainder.len())
            .filter(|&i| remainder[i] == v)
            .collect();
        let take = tied.len().min(need);
        let order = gen.permutation(tied.len());
        tied = order.into_iter().map(|i| tied[i]).collect();
        for &i in &tied[..take] {
            floored[i] += 1;
        }
        need -= take;
    }
    floored
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_disjoint_cover_all_rows_and_depend_on_the_seed() {
        let a = TrainTestSplit::new(0.3).seed(1).split(20).unwrap();
        let b = TrainTestSplit::new(0.3).seed(2).split(20).unwrap();
        let again = TrainTestSplit::new(0.3).seed(1).split(20).unwrap();
        assert_eq!(a, again);
        assert_ne!(a, b);
        let mut all: Vec<usize> = a.train.iter().chain(&a.test).copied().collect();
        all.sort();
        assert_eq!(all, (0..20).collect::<Vec<_>>());
    }

    #[test]
    fn a_nested_split_is_the_outer_split_then_one_with_the_next_seed() {
        // As the digits example once wrote it: stratified outer, plain inner, seed + 1.
        let labels: Vec<usize> = (0..30).map(|i| i % 3).collect();
        let s = TrainTestSplit::new(0.2)
            .seed(5)
            .stratify(&labels)
            .nested(30, 0.25, false)
            .unwrap();
        let outer = TrainTestSplit::new(0.2)
            .seed(5)
            .stratify(&labels)
            .split(30)
            .unwrap();
        let inner = TrainTestSplit::new(0.25).seed(6).split(24).unwrap();
        assert_eq!((&s.outer, &s.inner), (&outer, &inner));
        let train: Vec<usize> = inner.train.iter().map(|&i| outer.train[i]).collect();
        assert_eq!((s.train(), s.test()), (train, &outer.test[..]));
        // The three parts cover the rows once each: 18 + 6 + 6.
        let mut all: Vec<usize> = s.train().into_iter().chain(s.val()).collect();
        all.extend_from_slice(s.test());
        assert_eq!((s.train().len(), s.val().len(), s.test().len()), (18, 6, 6));
        all.sort_unstable();
        assert_eq!(all, (0..30).collect::<Vec<_>>());
        // Stratified inside too: the validation part holds 2 rows of each class.
        let v = TrainTestSplit::new(0.2)
            .seed(5)
            .stratify(&labels)
            .nested(30, 0.25, true)
            .unwrap()
            .val();
        for c in 0..3 {
            assert_eq!(v.iter().filter(|&&i| labels[i] == c).count(), 2);
        }
        // The largest seed wraps instead of overflowing.
        assert!(TrainTestSplit::new(0.5)
            .seed(u64::MAX)
            .nested(8, 0.5, false)
            .is_ok());
        assert!(TrainTestSplit::new(0.5).nested(8, 1.5, false).is_err());
    }

    #[test]
    fn without_shuffle_the_last_rows_are_the_test_set() {
        let s = TrainTestSplit::new(0.25).shuffle(false).split(8).unwrap();
        assert_eq!(s.train, vec![0, 1, 2, 3, 4, 5]);
        assert_eq!(s.test, vec![6, 7]);
    }

    #[test]
    fn bad_settings_are_errors() {
        assert!(TrainTestSplit::new(0.0).split(10).is_err());
        assert!(TrainTestSplit::new(1.5).split(10).is_err());
        assert!(TrainTestSplit::new(0.5)
            .stratify(&[0, 0, 1])
            .split(3)
            .is_err());
        assert!(TrainTestSplit::new(0.5)
            .stratify(&[0, 1, 1, 1])
            .split(4)
            .is_err());
        assert!(TrainTestSplit::new(0.5)
            .stratify(&[0, 0, 1, 1])
            .shuffle(false)
            .split(4)
            .is_err());
    }

    #[test]
    fn a_class_with_one_row_is_named_by_its_label() {
        let labels = [0, 0, 1, 1, 2, 1];
        let named = TrainTestSplit::new(0.5)
            .stratify_named(&labels, &["setosa", "versicolor", "virginica"])
            .split(6)
            .unwrap_err()
            .to_string();
        assert!(
            named.contains("class \"virginica\" has only 1 row"),
            "{named}"
        );
        let plain = TrainTestSplit::new(0.5)
            .stratify(&labels)
            .split(6)
            .unwrap_err()
            .to_string();
        assert!(plain.contains("class 2 has only 1 row"), "{plain}");
        // A huge label is shortened in the message.
        let long = "x".repeat(65_536);
        let msg = TrainTestSplit::new(0.5)
            .stratify_named(&labels, &["a", "b", long.as_str()])
            .split(6)
            .unwrap_err()
            .to_string();
        assert!(msg.len() < 400 && msg.contains("…"), "{}", msg.len());
    }

    #[test]
    fn a_tiny_test_size_still_fits_the_rows() {
        // 1 − 1e-17 is 1.0 in f64: once 111 train rows plus 1 test row out of 111 (a panic).
        let check = |s: SplitIndices| {
            assert_eq!((s.train.len(), s.test.len()), (110, 1));
            let mut all: Vec<usize> = s.train.iter().chain(&s.test).copied().collect();
            all.sort_unstable();
            assert_eq!(all, (0..111).collect::<Vec<_>>());
        };
        check(TrainTestSplit::new(1e-17).seed(3).split(111).unwrap());
        let labels: Vec<usize> = (0..111).map(|i| i % 3).collect();
        // Stratified, one test row cannot hold three classes: a clear error (as scikit-learn).
        let err = TrainTestSplit::new(1e-17)
            .seed(3)
            .stratify(&labels)
            .split(111)
            .unwrap_err();
        assert!(
            err.to_string().contains("cannot hold all 3 classes"),
            "{err}"
        );
    }
}
