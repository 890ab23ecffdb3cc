//! Filling missing values: [`Imputer`] learns one value per column (mean or median) on
//! training rows and fills NaN with it anywhere, like scikit-learn's `SimpleImputer`.

use serde::{Deserialize, Serialize};

use crate::error::{FerriteError, Result};
use crate::Tensor;

/// The statistic an [`Imputer`] fills with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FillStrategy {
    /// The mean of the present values.
    Mean,
    /// The median of the present values (the mean of the two middle ones for an even count).
    Median,
}

/// Fills NaN in each column of a `(N, F)` tensor with a statistic fitted on training rows,
/// like scikit-learn's `SimpleImputer`. Serializable, to fill new data the same way.
///
/// ```
/// use ferrite::data::{FillStrategy, Imputer};
/// use ferrite::Tensor;
/// let train = Tensor::from_vec(vec![1., 10., f32::NAN, 20., 3., f32::NAN], [3, 2]);
/// let imp = Imputer::fit(&train, FillStrategy::Mean).unwrap();
/// assert_eq!(imp.fill_values(), &[2., 15.]);
/// let test = Tensor::from_vec(vec![f32::NAN, 1.], [1, 2]);
/// assert_eq!(imp.transform(&test).unwrap().to_vec(), vec![2., 1.]);
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Imputer {
    strategy: FillStrategy,
    values: Vec<f32>,
}

impl Imputer {
    /// Learns one fill value per column of `x` `(N, F)`, computed in f64. Errors when `x`
    /// is not 2-D or a column has no value.
    pub fn fit(x: &Tensor, strategy: FillStrategy) -> Result<Imputer> {
        let (n, f) = match x.dims() {
            [n, f] => (*n, *f),
            other => {
                return Err(FerriteError::Shape {
                    op: "Imputer::fit".to_string(),
                    message: format!("expected (N, F) features, got {other:?}"),
                })
            }
        };
        let data = x.to_vec();
        let values = (0..f)
            .map(|j| {
                let column: Vec<f32> = (0..n)
                    .map(|i| data[i * f + j])
                    .filter(|v| !v.is_nan())
                    .collect();
                fill_value(column, strategy).ok_or_else(|| {
                    FerriteError::invalid(
                        "features",
                        format!(
                            "column {} has no value to compute a fill value from; drop the \
                             column or fill it in the data",
                            j + 1
                        ),
                    )
                })
            })
            .collect::<Result<Vec<f32>>>()?;
        Ok(Imputer { strategy, values })
    }

    /// An imputer with given fill values (as computed by the CSV loader from its fit rows).
    pub(crate) fn from_values(strategy: FillStrategy, values: Vec<f32>) -> Imputer {
        Imputer { strategy, values }
    }

    /// The fill value of each column.
    pub fn fill_values(&self) -> &[f32] {
        &self.values
    }

    /// The strategy the values were computed with.
    pub fn strategy(&self) -> FillStrategy {
        self.strategy
    }

    /// `x` `(N, F)` with each NaN replaced by its column's fill value. Errors when `x` does
    /// not have the fitted number of columns (a saved imputer that does not match the data).
    pub fn transform(&self, x: &Tensor) -> Result<Tensor> {
        let f = self.values.len();
        if x.rank() != 2 || x.dims()[1] != f {
            return Err(FerriteError::Shape {
                op: "Imputer::transform".to_string(),
                message: format!(
                    "fitted on {f} columns, got features of shape {:?}",
                    x.dims()
                ),
            });
        }
        let mut data = x.to_vec();
        self.fill(&mut data);
        Ok(Tensor::from_vec(data, x.dims().to_vec()))
    }

    /// Fills NaN in row-major `(N, F)` data in place, returning the count filled per column.
    pub(crate) fn fill(&self, data: &mut [f32]) -> Vec<usize> {
        let f = self.values.len();
        let mut filled = vec![0; f];
        if f == 0 {
            return filled;
        }
        for row in data.chunks_mut(f) {
            for (j, v) in row.iter_mut().enumerate() {
                if v.is_nan() {
                    *v = self.values[j];
                    filled[j] += 1;
                }
            }
        }
        filled
    }
}

/// The mean or median of `values` (accumulated in f64), `None` when empty.
pub(crate) fn fill_value(mut values: Vec<f32>, strategy: FillStrategy) -> Option<f32> {
    if values.is_empty() {
        return None;
    }
    let n = values.len();
    Some(match strategy {
        FillStrategy::Mean => (values.iter().map(|&v| v as f64).sum::<f64>() / n as f64) as f32,
        FillStrategy::Median => {
            values.sort_by(f32::total_cmp);
            if n % 2 == 1 {
                values[n / 2]
            } else {
                ((values[n / 2 - 1] as f64 + values[n / 2] as f64) / 2.0) as f32
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_of_even_counts_average_the_middle_pair_and_empty_columns_are_errors() {
        let x = Tensor::from_vec(
            vec![4., f32::NAN, 1., f32::NAN, 3., f32::NAN, 10., f32::NAN],
            [4, 2],
        );
        // Column 0 holds 4, 1, 3, 10: median (3 + 4) / 2; column 1 has no value at all.
        assert!(Imputer::fit(&x, FillStrategy::Median).is_err());
        let imp = Imputer::fit(&x.narrow(1, 0, 1).contiguous(), FillStrategy::Median).unwrap();
        assert_eq!(imp.fill_values(), &[3.5]);
        let json = serde_json::to_string(&imp).unwrap();
        assert_eq!(serde_json::from_str::<Imputer>(&json).unwrap(), imp);
        let filled = imp.transform(&Tensor::from_vec(vec![f32::NAN, 2.], [2, 1]));
        assert_eq!(filled.unwrap().to_vec(), vec![3.5, 2.]);
        // A mismatched width (a hand-edited saved imputer) is an error, not a panic.
        let err = imp
            .transform(&Tensor::zeros([2, 3]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("fitted on 1 columns") && err.contains("[2, 3]"),
            "{err}"
        );
        assert!(Imputer::fit(&Tensor::zeros([4]), FillStrategy::Mean).is_err());
        let empty = Imputer::fit(&x, FillStrategy::Mean)
            .unwrap_err()
            .to_string();
        assert!(empty.contains("column 2 has no value"), "{empty}");
    }
}
