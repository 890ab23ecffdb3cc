//! Tables to model inputs and back: [`TabularPipeline`], fitted on the training rows of a
//! [`CsvTable`] (fill gaps, standardise features, encode class labels, standardise a
//! regression target) and applied unchanged to any table read the same way, like a fitted
//! scikit-learn `Pipeline` of `SimpleImputer`, `StandardScaler` and `LabelEncoder`.
//! It serialises (serde) so that a saved model carries it.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{CsvOptions, CsvTable, Imputer, MissingPolicy, StandardScaler};
use super::{SplitIndices, TrainTestSplit};
use crate::error::{FerriteError, Result};
use crate::Tensor;

mod options;
pub use options::{CsvDialect, TabularOptions, TabularTask};

/// A fitted table preprocessing: fills missing features, standardises them, maps class
/// labels to the training's class indices and standardises a regression target. Serialises
/// to the record `ferrite train` keeps in `model.json` (fields `features`, `target`, `task`,
/// `imputer`, `scaler`, `classes`, `target_mean`, `target_std`, `reading`).
///
/// ```
/// use ferrite::data::{TabularOptions, TabularPipeline};
/// # let dir = std::env::temp_dir().join("ferrite_pipeline_doc");
/// # std::fs::create_dir_all(&dir).unwrap();
/// # let path = dir.join("plants.csv");
/// let rows: String = (0..10).map(|i| format!("{i},{},{}\n", i % 3, if i < 5 { "a" } else { "b" })).collect();
/// std::fs::write(&path, format!("x,z,kind\n{rows}")).unwrap();
/// let options = TabularOptions::new().test_size(0.2);
/// let table = options.read_csv(&path, "kind", None).unwrap();
/// let split = TabularPipeline::fit_split(&table, &options).unwrap();
/// assert_eq!((split.y_train.numel(), split.y_test.numel()), (8, 2));
/// let pipeline = split.pipeline;
/// assert_eq!(pipeline.classes.as_deref(), Some(&["a".to_string(), "b".to_string()][..]));
/// // New rows of the same kind: features scaled with the training statistics.
/// let (x, y) = pipeline.load(&path, true).unwrap();
/// assert_eq!(x.dims(), &[10, 2]);
/// assert_eq!(y.unwrap().to_vec()[9], 1.0);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(from = "PipelineRecord", into = "PipelineRecord")]
pub struct TabularPipeline {
    /// Feature columns, in order.
    pub features: Vec<String>,
    /// The target column.
    pub target: String,
    /// The task.
    pub task: TabularTask,
    /// Missing-value filler fitted on the training rows.
    pub imputer: Imputer,
    /// Feature standardisation fitted on the training rows.
    pub scaler: StandardScaler,
    /// Class names, in index order (classification).
    pub classes: Option<Vec<String>>,
    /// Regression: the target's standardisation over the training rows (`None`: the target
    /// is used as it is).
    pub target_scaler: Option<StandardScaler>,
    /// How the training CSV was read.
    pub dialect: CsvDialect,
}

/// The serialised layout of a [`TabularPipeline`]: the one `ferrite` has written to
/// model.json since target scaling was added, so that runs saved before still load.
#[derive(Serialize, Deserialize)]
struct PipelineRecord {
    features: Vec<String>,
    target: String,
    task: TabularTask,
    imputer: Imputer,
    scaler: StandardScaler,
    classes: Option<Vec<String>>,
    #[serde(default)]
    target_mean: f32,
    #[serde(default = "one")]
    target_std: f32,
    // Records written before the dialect was recorded read with the defaults.
    #[serde(default)]
    reading: CsvDialect,
}

fn one() -> f32 {
    1.0
}

impl From<PipelineRecord> for TabularPipeline {
    fn from(r: PipelineRecord) -> Self {
        // Only the mean and the scale are recorded (all that the mapping uses); the
        // variance is rebuilt from the scale.
        let target_scaler = (r.task == TabularTask::Regression).then(|| StandardScaler {
            with_mean: true,
            with_std: true,
            mean: vec![r.target_mean],
            var: vec![(r.target_std as f64).powi(2)],
            scale: vec![r.target_std],
        });
        TabularPipeline {
            features: r.features,
            target: r.target,
            task: r.task,
            imputer: r.imputer,
            scaler: r.scaler,
            classes: r.classes,
            target_scaler,
            dialect: r.reading,
        }
    }
}

impl From<TabularPipeline> for PipelineRecord {
    fn from(p: TabularPipeline) -> Self {
        let (target_mean, target_std) = (p.target_mean(), p.target_std());
        PipelineRecord {
            features: p.features,
            target: p.target,
            task: p.task,
            imputer: p.imputer,
            scaler: p.scaler,
            classes: p.classes,
            target_mean,
            target_std,
            reading: p.dialect,
        }
    }
}

/// A table split, with the pipeline fitted on its training rows and both parts transformed.
#[derive(Clone, Debug)]
pub struct TabularSplit {
    /// The pipeline, fitted on the training rows.
    pub pipeline: TabularPipeline,
    /// Training features, filled and scaled, `(N, F)`.
    pub x_train: Tensor,
    /// Training targets: class indices or values in the target's units, `(N,)`.
    pub y_train: Tensor,
    /// Test features, filled and scaled with the training statistics.
    pub x_test: Tensor,
    /// Test targets, `(N,)`.
    pub y_test: Tensor,
    /// The table rows of the training part (rows without a target are in neither part).
    pub train_rows: Vec<usize>,
    /// The table rows of the test part.
    pub test_rows: Vec<usize>,
}

/// Class indices for numeric labels: the distinct values, sorted, become 0..K.
fn encode_numeric_classes(y: &[f32]) -> (Vec<usize>, Vec<String>) {
    let mut values: Vec<f32> = y.to_vec();
    values.sort_by(|a, b| a.total_cmp(b));
    values.dedup();
    let index = y
        .iter()
        .map(|v| values.iter().position(|u| u == v).unwrap_or(0))
        .collect();
    (index, values.iter().map(|v| format!("{v}")).collect())
}

/// The task of `options` or, without one, the task the targets suggest.
fn choose_task(
    forced: Option<TabularTask>,
    target: &str,
    text_classes: Option<&[String]>,
    y: &[f32],
) -> Result<TabularTask> {
    Ok(match (forced, text_classes) {
        (Some(TabularTask::Regression), Some(_)) => {
            return Err(FerriteError::invalid(
                "task",
                format!(
                    "target column '{target}' holds text labels; it cannot be a regression \
                     target (choose a numeric column, or classify)"
                ),
            ))
        }
        (Some(t), _) => t,
        (None, Some(c)) if c.len() == 2 => TabularTask::Binary,
        (None, Some(_)) => TabularTask::Multiclass,
        // Whole numbers with few distinct values read as classes; anything else as a quantity.
        (None, None) => {
            let (_, distinct) = encode_numeric_classes(y);
            if y.iter().all(|v| v.fract() == 0.0) && distinct.len() <= 20 {
                if distinct.len() == 2 {
                    TabularTask::Binary
                } else {
                    TabularTask::Multiclass
                }
            } else {
                TabularTask::Regression
            }
        }
    })
}

impl TabularPipeline {
    /// Splits `table` (rows without a target value are dropped; classification splits are
    /// stratified), fits the pipeline on the training rows and transforms both parts.
    ///
    /// Errors when fewer than 4 rows have a target, on text labels for a regression, on a
    /// binary task without exactly 2 classes, on a split that cannot be made (see
    /// [`TrainTestSplit::split`]) and on a feature without any value in the training rows.
    pub fn fit_split(table: &CsvTable, options: &TabularOptions) -> Result<TabularSplit> {
        let target = table.target_name.clone().unwrap_or_default();
        let y_all = table
            .targets
            .as_ref()
            .ok_or_else(|| {
                FerriteError::invalid(
                    "table",
                    "it was read without a target column; read it with the target to fit on",
                )
            })?
            .to_vec();
        let keep: Vec<usize> = (0..y_all.len()).filter(|&i| !y_all[i].is_nan()).collect();
        if keep.len() < 4 {
            return Err(FerriteError::invalid(
                "table",
                format!(
                    "only {} rows have a value in target column '{target}'; at least 4 are \
                     needed to train and test",
                    keep.len()
                ),
            ));
        }
        let x = table.features.index_select(0, &keep);
        let y_raw: Vec<f32> = keep.iter().map(|&i| y_all[i]).collect();
        let text_classes = table.label_encoder.as_ref().map(|e| e.classes().to_vec());
        let task = choose_task(options.task, &target, text_classes.as_deref(), &y_raw)?;
        let (y, classes): (Vec<f32>, Option<Vec<String>>) = match (task, text_classes) {
            (TabularTask::Regression, _) => (y_raw, None),
            (_, Some(c)) => (y_raw, Some(c)),
            (_, None) => {
                let (idx, names) = encode_numeric_classes(&y_raw);
                (idx.iter().map(|&i| i as f32).collect(), Some(names))
            }
        };
        if task == TabularTask::Binary && classes.as_ref().map_or(0, |c| c.len()) != 2 {
            return Err(FerriteError::invalid(
                "task",
                format!(
                    "a binary task needs exactly 2 classes in '{target}', found {:?}",
                    classes.unwrap_or_default()
                ),
            ));
        }
        let labels: Vec<usize> = y.iter().map(|&v| v as usize).collect();
        let mut splitter = TrainTestSplit::new(options.test_size).seed(options.seed);
        if task != TabularTask::Regression {
            splitter = match &classes {
                // Errors then name a class as the data does, not by its index.
                Some(names) => splitter.stratify_named(&labels, names),
                None => splitter.stratify(&labels),
            };
        }
        let split: SplitIndices = splitter.split(y.len())?;
        let y_t = Tensor::from_vec(y, [labels.len()]);
        let (x_train, x_test) = split.apply(&x);
        let (y_train, y_test) = split.apply(&y_t);
        let imputer = Imputer::fit(&x_train, options.fill)
            .map_err(|e| name_feature_column(e, &table.feature_names))?;
        let (x_train, x_test) = (imputer.transform(&x_train)?, imputer.transform(&x_test)?);
        let mut scaler = StandardScaler::new()
            .with_mean(options.scale_features)
            .with_std(options.scale_features);
        let x_train = scaler.fit_transform(&x_train)?;
        let x_test = scaler.transform(&x_test)?;
        let target_scaler = if task == TabularTask::Regression && options.scale_target {
            let mut s = StandardScaler::new();
            s.fit(&y_train.reshape([y_train.numel(), 1])).map_err(|e| {
                FerriteError::invalid(
                    "target",
                    format!("column '{target}': {e}; rescale the target column"),
                )
            })?;
            Some(s)
        } else {
            None
        };
        Ok(TabularSplit {
            pipeline: TabularPipeline {
                features: table.feature_names.clone(),
                target,
                task,
                imputer,
                scaler,
                classes,
                target_scaler,
                dialect: options.dialect.clone(),
            },
            x_train,
            y_train,
            x_test,
            y_test,
            train_rows: split.train.iter().map(|&i| keep[i]).collect(),
            test_rows: split.test.iter().map(|&i| keep[i]).collect(),
        })
    }

    /// Reads new rows of a CSV file as the training file was read: the training's feature
    /// columns (and, with `with_target`, the target), its missing-value markers and separator.
    pub fn read_csv(&self, path: impl AsRef<Path>, with_target: bool) -> Result<CsvTable> {
        let mut options = self.dialect.apply(
            CsvOptions::new()
                .features(&self.features)
                .missing(MissingPolicy::Keep),
        );
        if with_target {
            options = options.target(&self.target);
        }
        options.load(path)
    }

    /// The model inputs of `table`'s rows: features filled and scaled with the training
    /// statistics. Errors when its feature columns are not the training's.
    pub fn transform(&self, table: &CsvTable) -> Result<Tensor> {
        if table.feature_names != self.features {
            return Err(FerriteError::invalid(
                "table",
                format!(
                    "its feature columns {:?} are not the pipeline's {:?}; read it with \
                     TabularPipeline::read_csv",
                    table.feature_names, self.features
                ),
            ));
        }
        self.scaler
            .transform(&self.imputer.transform(&table.features)?)
    }

    /// The targets of `table`'s rows as the training encoded them: class indices of the
    /// training's classes (text labels are matched by name), or values in the target's units
    /// for a regression. A missing target stays NaN. `None` when the table has no target.
    /// Errors on a class the training did not see.
    pub fn targets(&self, table: &CsvTable) -> Result<Option<Tensor>> {
        let (Some(t), Some(classes)) = (&table.targets, &self.classes) else {
            return Ok(table.targets.clone());
        };
        let values = t.to_vec();
        let indices = values
            .iter()
            .map(|&v| {
                if v.is_nan() {
                    return Ok(f32::NAN);
                }
                let name = match &table.label_encoder {
                    Some(enc) => enc
                        .inverse_transform(&[v as usize])?
                        .pop()
                        .unwrap_or_default(),
                    None => format!("{v}"),
                };
                class_index(&name, classes)
            })
            .collect::<Result<Vec<f32>>>()?;
        Ok(Some(Tensor::from_vec(indices, [values.len()])))
    }

    /// [`read_csv`](Self::read_csv), [`transform`](Self::transform) and
    /// [`targets`](Self::targets) in one: the model inputs of a file's rows and, with
    /// `with_target`, their targets.
    pub fn load(
        &self,
        path: impl AsRef<Path>,
        with_target: bool,
    ) -> Result<(Tensor, Option<Tensor>)> {
        let table = self.read_csv(path, with_target)?;
        Ok((self.transform(&table)?, self.targets(&table)?))
    }

    /// The targets a network learns: `(y − mean) · (1 / std)` for a scaled regression target
    /// (the reciprocal is multiplied, as runs have always been trained, so results repeat
    /// bit for bit), `y` unchanged otherwise.
    pub fn scale_target(&self, y: &Tensor) -> Tensor {
        match &self.target_scaler {
            Some(_) => (y - self.target_mean()) * (1.0 / self.target_std()),
            None => y.clone(),
        }
    }

    /// A linear layer that predicts the target in its own units (a fitted least-squares
    /// model, say) rewritten to predict what a network trained through this pipeline
    /// predicts, the scaled target: weight `W / std`, bias `(b − mean) / std` (multiplied by
    /// the reciprocal, as [`scale_target`](Self::scale_target)); unchanged without target
    /// scaling. Then [`inverse_transform_target`](Self::inverse_transform_target) of its
    /// outputs gives the original predictions back.
    pub fn to_scaled_target(&self, layer: &crate::nn::Linear) -> Result<crate::nn::Linear> {
        let scale = 1.0 / self.target_std();
        let weight = &layer.weight.detach() * scale;
        let bias = layer
            .bias
            .as_ref()
            .map(|b| (&b.detach() - self.target_mean()) * scale);
        crate::nn::Linear::from_tensors(weight, bias)
    }

    /// Model outputs back in the target's units: `v · std + mean` for a scaled regression
    /// target, unchanged otherwise.
    ///
    /// ```
    /// use ferrite::data::{StandardScaler, TabularPipeline};
    /// # use ferrite::data::{FillStrategy, Imputer, TabularTask, CsvDialect};
    /// # use ferrite::Tensor;
    /// # let x = Tensor::from_vec(vec![0., 1.], [2, 1]);
    /// # let mut scaler = StandardScaler::new();
    /// # scaler.fit(&x).unwrap();
    /// let mut target = StandardScaler::new();
    /// target.fit(&Tensor::from_vec(vec![10., 20.], [2, 1])).unwrap(); // mean 15, std 5
    /// # let pipeline = TabularPipeline { features: vec!["x".into()], target: "y".into(),
    /// #     task: TabularTask::Regression, imputer: Imputer::fit(&x, FillStrategy::Mean).unwrap(),
    /// #     scaler, classes: None, target_scaler: Some(target), dialect: CsvDialect::default() };
    /// assert_eq!(pipeline.inverse_transform_target(&[-1.0, 0.5]), vec![10.0, 17.5]);
    /// ```
    pub fn inverse_transform_target(&self, outputs: &[f32]) -> Vec<f32> {
        let (mean, std) = (self.target_mean(), self.target_std());
        outputs.iter().map(|&v| v * std + mean).collect()
    }

    /// The mean subtracted from a regression target (0 when the target is not scaled).
    pub fn target_mean(&self) -> f32 {
        self.target_scaler
            .as_ref()
            .and_then(|s| s.mean.first().copied())
            .unwrap_or(0.0)
    }

    /// The divisor of a regression target (1 when the target is not scaled).
    pub fn target_std(&self) -> f32 {
        self.target_scaler
            .as_ref()
            .and_then(|s| s.scale.first().copied())
            .unwrap_or(1.0)
    }

    /// The number of model outputs the task needs: one per class for several classes, else 1.
    pub fn outputs(&self) -> usize {
        match self.task {
            TabularTask::Multiclass => self.classes.as_ref().map_or(1, |c| c.len()),
            _ => 1,
        }
    }

    /// Checks that the pipeline agrees with itself (a deserialised one may have been edited
    /// by hand): one fill value, mean and scale per feature, finite numbers, positive
    /// scales, and at least two classes for a classifier. The error says what disagrees.
    pub fn check(&self) -> Result<()> {
        let bad = |what: String| FerriteError::invalid("pipeline", what);
        let n = self.features.len();
        if n == 0 {
            return Err(bad("it lists no feature columns".into()));
        }
        let lengths = [
            (
                "imputer fill values",
                self.imputer.fill_values().len(),
                true,
            ),
            (
                "scaler means",
                self.scaler.mean.len(),
                self.scaler.with_mean,
            ),
            (
                "scaler scales",
                self.scaler.scale.len(),
                self.scaler.with_std,
            ),
        ];
        for (what, len, used) in lengths {
            if used && len != n {
                return Err(bad(format!("it has {len} {what} for {n} feature columns")));
            }
        }
        let (mean, std) = (self.target_mean(), self.target_std());
        let numbers = self
            .imputer
            .fill_values()
            .iter()
            .chain(&self.scaler.mean)
            .chain(&self.scaler.scale)
            .chain([&mean, &std]);
        if let Some(v) = numbers.clone().find(|v| !v.is_finite()) {
            return Err(bad(format!("it holds the non-finite number {v}")));
        }
        if self.scaler.with_std && self.scaler.scale.iter().any(|&s| s <= 0.0) || std <= 0.0 {
            return Err(bad("it has a scale that is not positive".into()));
        }
        if self.task != TabularTask::Regression && self.classes.as_ref().is_none_or(|c| c.len() < 2)
        {
            return Err(bad(
                "it is a classifier but lists fewer than two classes".into()
            ));
        }
        Ok(())
    }
}

/// An imputer's "column 2 has no value" error, naming the column as the file does.
fn name_feature_column(e: FerriteError, names: &[String]) -> FerriteError {
    match e {
        FerriteError::InvalidArgument { name, message } => {
            let message = names
                .iter()
                .enumerate()
                .find_map(|(j, c)| {
                    let numbered = format!("column {} has", j + 1);
                    message.contains(&numbered).then(|| {
                        message.replace(&numbered, &format!("column {} ({c:?}) has", j + 1))
                    })
                })
                .unwrap_or(message);
            FerriteError::InvalidArgument {
                name,
                message: format!("{message} (in the training rows)"),
            }
        }
        other => other,
    }
}

/// The index of class `name` among the training's `classes`, as f32.
fn class_index(name: &str, classes: &[String]) -> Result<f32> {
    use crate::metrics::report::display_label;
    classes
        .iter()
        .position(|c| c == name)
        .map(|i| i as f32)
        .ok_or_else(|| {
            let shown: Vec<String> = classes.iter().take(10).map(|c| display_label(c)).collect();
            FerriteError::invalid(
                "label",
                format!(
                    "'{}' was not seen in training (classes: {}{}); score only rows of known \
                     classes",
                    display_label(name),
                    shown.join(", "),
                    if classes.len() > 10 { ", …" } else { "" }
                ),
            )
        })
}

#[cfg(test)]
mod tests;
