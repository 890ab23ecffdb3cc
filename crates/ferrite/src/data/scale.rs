//! Feature scaling fitted on training data and applied unchanged to test data:
//! [`MinMaxScaler`] and [`StandardScaler`], with scikit-learn's definitions. Both serialise
//! (serde) so that a saved model can carry its scaler.

use serde::{Deserialize, Serialize};

use crate::error::{FerriteError, Result};
use crate::Tensor;

/// The values of `x` `(n, d)` column by column, as f64, after checking every value is finite
/// (statistics are computed in f64: f32 sums of squares overflow for values past about 1e19
/// and lose digits long before).
fn columns_f64(x: &Tensor, n: usize, d: usize) -> Result<Vec<Vec<f64>>> {
    let data = x.to_vec();
    if let Some(k) = data.iter().position(|v| !v.is_finite()) {
        return Err(FerriteError::invalid(
            "x",
            format!(
                "row {}, column {} is {}: drop or impute non-finite values first",
                k / d.max(1) + 1,
                k % d.max(1) + 1,
                data[k]
            ),
        ));
    }
    Ok((0..d)
        .map(|j| (0..n).map(|i| data[i * d + j] as f64).collect())
        .collect())
}

/// A statistic computed in f64 stored as f32, or an error when it does not fit in f32.
fn to_f32(value: f64, what: &str, j: usize) -> Result<f32> {
    let v = value as f32;
    if v.is_finite() {
        Ok(v)
    } else {
        Err(FerriteError::invalid(
            "x",
            format!(
                "column {}: the {what} {value:e} does not fit in f32 (largest {:e}); \
                 rescale the column first",
                j + 1,
                f32::MAX
            ),
        ))
    }
}

/// Checks that `x` is `(n, d)` (and, for a fitted scaler, that `d` matches). Returns `(n, d)`.
fn check_2d(scaler: &str, x: &Tensor, fitted_d: Option<usize>) -> Result<(usize, usize)> {
    let (n, d) = match x.dims() {
        [n, d] => (*n, *d),
        other => {
            return Err(FerriteError::Shape {
                op: scaler.to_string(),
                message: format!("expected a 2-D (n_samples, n_features) tensor, got {other:?}"),
            })
        }
    };
    match fitted_d {
        None if n == 0 => Err(FerriteError::invalid(
            "x",
            format!("{scaler}.fit needs at least one row"),
        )),
        Some(f) if f != d => Err(FerriteError::Shape {
            op: scaler.to_string(),
            message: format!("fitted on {f} features, got {d} ({:?})", x.dims()),
        }),
        _ => Ok((n, d)),
    }
}

/// Scales each feature to `feature_range` (default `[0, 1]`):
/// `x' = (x − min) / (max − min) · (hi − lo) + lo`, with min and max of the training data.
/// A constant column has its range replaced by 1 (scikit-learn's rule), so it maps to `lo`
/// instead of NaN.
///
/// ```
/// use ferrite::data::MinMaxScaler;
/// use ferrite::Tensor;
/// let train = Tensor::from_vec(vec![0., 10., 5., 10., 10., 10.], [3, 2]);
/// let mut scaler = MinMaxScaler::new();
/// scaler.fit(&train).unwrap();
/// let test = Tensor::from_vec(vec![2.5, 10.], [1, 2]);
/// assert_eq!(scaler.transform(&test).unwrap().to_vec(), vec![0.25, 0.0]);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MinMaxScaler {
    /// Target range `(lo, hi)`.
    pub feature_range: (f32, f32),
    /// Per-feature minimum of the training data.
    pub data_min: Vec<f32>,
    /// Per-feature maximum of the training data.
    pub data_max: Vec<f32>,
    /// Per-feature factor: `x' = x · scale + min`.
    pub scale: Vec<f32>,
    /// Per-feature offset (scikit-learn's `min_`).
    pub min: Vec<f32>,
}

impl Default for MinMaxScaler {
    fn default() -> Self {
        Self::new()
    }
}

impl MinMaxScaler {
    /// A scaler to `[0, 1]`.
    pub fn new() -> Self {
        Self::with_range(0.0, 1.0)
    }

    /// A scaler to `[lo, hi]`.
    pub fn with_range(lo: f32, hi: f32) -> Self {
        MinMaxScaler {
            feature_range: (lo, hi),
            data_min: vec![],
            data_max: vec![],
            scale: vec![],
            min: vec![],
        }
    }

    /// True once fitted.
    pub fn is_fitted(&self) -> bool {
        !self.scale.is_empty()
    }

    /// Learns per-feature minimum and maximum of `x` `(n, d)`. The range and the factors
    /// are computed in f64 (the range of f32 values can exceed f32), then stored as f32.
    pub fn fit(&mut self, x: &Tensor) -> Result<&mut Self> {
        let (lo, hi) = self.feature_range;
        if !(lo.is_finite() && hi.is_finite() && lo < hi) {
            return Err(FerriteError::invalid(
                "feature_range",
                format!("minimum must be smaller than maximum, both finite, got ({lo}, {hi})"),
            ));
        }
        let (n, d) = check_2d("MinMaxScaler", x, None)?;
        let columns = columns_f64(x, n, d)?;
        let (lo, hi) = (lo as f64, hi as f64);
        let (mut data_min, mut data_max, mut scale, mut min) = (vec![], vec![], vec![], vec![]);
        for (j, col) in columns.iter().enumerate() {
            let mn = col.iter().copied().fold(f64::INFINITY, f64::min);
            let mx = col.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let range = mx - mn;
            // scikit-learn's _handle_zeros_in_scale: a (near-)zero range counts as 1 (the
            // f32 epsilon, since the data are f32).
            let s = (hi - lo)
                / if range < 10.0 * f32::EPSILON as f64 {
                    1.0
                } else {
                    range
                };
            // min and max of f32 values are f32 values: exact.
            data_min.push(mn as f32);
            data_max.push(mx as f32);
            scale.push(to_f32(s, "scale", j)?);
            min.push(to_f32(lo - mn * s, "offset", j)?);
        }
        (self.data_min, self.data_max, self.scale, self.min) = (data_min, data_max, scale, min);
        Ok(self)
    }

    /// `(data_min, scale)` as `(1, d)` rows, after checking `x`.
    fn params(&self, x: &Tensor, op: &str) -> Result<(Tensor, Tensor)> {
        if !self.is_fitted() {
            return Err(FerriteError::invalid(
                "MinMaxScaler",
                format!("call fit before {op}"),
            ));
        }
        let d = self.scale.len();
        check_2d("MinMaxScaler", x, Some(d))?;
        Ok((
            Tensor::from_slice(&self.data_min, [1, d]),
            Tensor::from_slice(&self.scale, [1, d]),
        ))
    }

    /// `(x − data_min) · scale + lo`, column by column (equal to scikit-learn's
    /// `x · scale + min`, but subtracting first keeps f32 precision for large offsets).
    pub fn transform(&self, x: &Tensor) -> Result<Tensor> {
        let (data_min, scale) = self.params(x, "transform")?;
        Ok(x.sub(&data_min)
            .mul(&scale)
            .add_scalar(self.feature_range.0))
    }

    /// `fit` then `transform` on the same data.
    pub fn fit_transform(&mut self, x: &Tensor) -> Result<Tensor> {
        self.fit(x)?;
        self.transform(x)
    }

    /// Undoes `transform`: `(x' − lo) / scale + data_min`.
    pub fn inverse_transform(&self, x: &Tensor) -> Result<Tensor> {
        let (data_min, scale) = self.params(x, "inverse_transform")?;
        Ok(x.add_scalar(-self.feature_range.0)
            .div(&scale)
            .add(&data_min))
    }
}

/// Standardises each feature: `x' = (x − mean) / std`, with the training data's mean and
/// population standard deviation (divide by n, as scikit-learn). A constant column keeps scale
/// 1 (so it becomes 0, not NaN).
///
/// ```
/// use ferrite::data::StandardScaler;
/// use ferrite::Tensor;
/// let mut s = StandardScaler::new();
/// let z = s.fit_transform(&Tensor::from_vec(vec![1., 3.], [2, 1])).unwrap();
/// assert_eq!(z.to_vec(), vec![-1.0, 1.0]);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StandardScaler {
    /// Subtract the mean.
    pub with_mean: bool,
    /// Divide by the standard deviation.
    pub with_std: bool,
    /// Per-feature mean of the training data.
    pub mean: Vec<f32>,
    /// Per-feature population variance of the training data, in f64 (the variance of f32
    /// values past about 1.8e19 does not fit in f32).
    pub var: Vec<f64>,
    /// Per-feature divisor (standard deviation, 1 for constant columns).
    pub scale: Vec<f32>,
}

impl Default for StandardScaler {
    fn default() -> Self {
        Self::new()
    }
}

impl StandardScaler {
    /// Centres and scales.
    pub fn new() -> Self {
        StandardScaler {
            with_mean: true,
            with_std: true,
            mean: vec![],
            var: vec![],
            scale: vec![],
        }
    }

    /// Turns centring on or off.
    pub fn with_mean(mut self, on: bool) -> Self {
        self.with_mean = on;
        self
    }

    /// Turns scaling on or off.
    pub fn with_std(mut self, on: bool) -> Self {
        self.with_std = on;
        self
    }

    /// True once fitted.
    pub fn is_fitted(&self) -> bool {
        !self.scale.is_empty()
    }

    /// Learns per-feature mean and population variance of `x` `(n, d)`, computed in f64
    /// (two passes: the mean, then the squared deviations from it) and stored as f32 where
    /// the transform needs them.
    pub fn fit(&mut self, x: &Tensor) -> Result<&mut Self> {
        let (n, d) = check_2d("StandardScaler", x, None)?;
        let columns = columns_f64(x, n, d)?;
        let (mut mean, mut var, mut scale) = (vec![], vec![], vec![]);
        for (j, col) in columns.iter().enumerate() {
            let m = col.iter().sum::<f64>() / n as f64;
            let v = col.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / n as f64;
            // scikit-learn's _is_constant_feature (with f64 epsilon, as it accumulates in
            // f64): a variance within rounding error of 0 keeps scale 1.
            let eps = f64::EPSILON;
            let bound = n as f64 * eps * v + (n as f64 * m.abs() * eps).powi(2);
            let s = if !self.with_std || v <= bound {
                1.0
            } else {
                v.sqrt()
            };
            // The mean of f32 values lies between them, so it always fits.
            mean.push(m as f32);
            var.push(v);
            scale.push(to_f32(s, "standard deviation", j)?);
        }
        (self.mean, self.var, self.scale) = (mean, var, scale);
        Ok(self)
    }

    fn params(&self, x: &Tensor, op: &str) -> Result<(Tensor, Tensor)> {
        if !self.is_fitted() {
            return Err(FerriteError::invalid(
                "StandardScaler",
                format!("call fit before {op}"),
            ));
        }
        let d = self.scale.len();
        check_2d("StandardScaler", x, Some(d))?;
        let mean = if self.with_mean {
            self.mean.clone()
        } else {
            vec![0.0; d]
        };
        Ok((
            Tensor::from_vec(mean, [1, d]),
            Tensor::from_slice(&self.scale, [1, d]),
        ))
    }

    /// `(x − mean) / scale`, column by column.
    pub fn transform(&self, x: &Tensor) -> Result<Tensor> {
        let (mean, scale) = self.params(x, "transform")?;
        Ok(x.sub(&mean).div(&scale))
    }

    /// `fit` then `transform` on the same data.
    pub fn fit_transform(&mut self, x: &Tensor) -> Result<Tensor> {
        self.fit(x)?;
        self.transform(x)
    }

    /// Undoes `transform`: `x' · scale + mean`.
    pub fn inverse_transform(&self, x: &Tensor) -> Result<Tensor> {
        let (mean, scale) = self.params(x, "inverse_transform")?;
        Ok(x.mul(&scale).add(&mean))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverse_transform_round_trips_and_unfitted_is_an_error() {
        let x = Tensor::from_vec(vec![1., -2., 3., 4., 5., 6.5], [3, 2]);
        let mut mm = MinMaxScaler::with_range(-1.0, 1.0);
        let mut ss = StandardScaler::new();
        assert!(ss.transform(&x).is_err());
        let (scaled_mm, scaled_ss) = (mm.fit_transform(&x).unwrap(), ss.fit_transform(&x).unwrap());
        let back_mm = mm.inverse_transform(&scaled_mm).unwrap();
        let back_ss = ss.inverse_transform(&scaled_ss).unwrap();
        for (a, b) in x
            .to_vec()
            .iter()
            .zip(back_mm.to_vec().iter().zip(back_ss.to_vec()))
        {
            assert!((a - b.0).abs() < 1e-5 && (a - b.1).abs() < 1e-5);
        }
        assert!(mm.transform(&Tensor::zeros([2, 3])).is_err());
        assert!(MinMaxScaler::with_range(1.0, 0.0).fit(&x).is_err());
    }

    #[test]
    fn statistics_of_huge_values_are_computed_in_f64() {
        // Values near 1e19 and 1e20: their squares overflow f32, their variance too.
        let x = Tensor::from_vec(vec![1e19, 1e20, 3e19, 3e20, -2e19, -1e20], [3, 2]);
        let mut ss = StandardScaler::new();
        let z = ss.fit_transform(&x).unwrap().to_vec();
        let (m0, m1) = (2e19 / 3.0, 1e20);
        let var0 = [1e19f64, 3e19, -2e19]
            .iter()
            .map(|v| (v - m0) * (v - m0))
            .sum::<f64>()
            / 3.0;
        assert!(((ss.mean[0] as f64 - m0) / m0).abs() < 1e-6);
        assert!(((ss.mean[1] as f64 - m1) / m1).abs() < 1e-6);
        assert!(((ss.var[0] - var0) / var0).abs() < 1e-6, "{}", ss.var[0]);
        // var(1e20, 3e20, -1e20) = 8e40 / 3, beyond f32 but held in f64.
        assert!(
            (ss.var[1] / (8e40 / 3.0) - 1.0).abs() < 1e-6,
            "{}",
            ss.var[1]
        );
        assert!(z.iter().all(|v| v.is_finite()), "{z:?}");
        let mean_z0 = (z[0] + z[2] + z[4]) / 3.0;
        assert!(mean_z0.abs() < 1e-5, "{z:?}");

        let wide = Tensor::from_vec(vec![-3e38, 3e38], [2, 1]);
        let mut mm = MinMaxScaler::new();
        // The range 6e38 overflows f32 (once a scale of 0); in f64 it is 1 / 6e38.
        mm.fit(&wide).unwrap();
        assert!(
            (mm.scale[0] as f64 * 6e38 - 1.0).abs() < 1e-3,
            "{}",
            mm.scale[0]
        );
        assert!((mm.min[0] - 0.5).abs() < 1e-6, "{}", mm.min[0]);

        let nan = Tensor::from_vec(vec![1.0, f32::NAN], [2, 1]);
        let msg = StandardScaler::new().fit(&nan).unwrap_err().to_string();
        assert!(msg.contains("row 2, column 1 is NaN"), "{msg}");
    }

    #[test]
    fn serialises_to_json_and_back() {
        let mut ss = StandardScaler::new();
        ss.fit(&Tensor::from_vec(vec![1., 2., 4., 8.], [2, 2]))
            .unwrap();
        let back: StandardScaler =
            serde_json::from_str(&serde_json::to_string(&ss).unwrap()).unwrap();
        assert_eq!(back, ss);
    }
}
