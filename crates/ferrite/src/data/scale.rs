//! Feature scaling fitted on training data and applied unchanged to test data:
//! [`MinMaxScaler`] and [`StandardScaler`], with scikit-learn's definitions. Both serialise
//! (serde) so that a saved model can carry its scaler.

use serde::{Deserialize, Serialize};

use crate::error::{FerriteError, Result};
use crate::Tensor;

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

    /// Learns per-feature minimum and maximum of `x` `(n, d)`.
    pub fn fit(&mut self, x: &Tensor) -> Result<&mut Self> {
        let (lo, hi) = self.feature_range;
        if lo.is_nan() || hi.is_nan() || lo >= hi {
            return Err(FerriteError::invalid(
                "feature_range",
                format!("minimum must be smaller than maximum, got ({lo}, {hi})"),
            ));
        }
        check_2d("MinMaxScaler", x, None)?;
        let _no_grad = crate::no_grad();
        self.data_min = x.min_dim(0, false).0.to_vec();
        self.data_max = x.max_dim(0, false).0.to_vec();
        if self
            .data_min
            .iter()
            .chain(&self.data_max)
            .any(|v| !v.is_finite())
        {
            return Err(FerriteError::invalid(
                "x",
                "contains NaN or infinite values; drop or impute them first",
            ));
        }
        self.scale = self
            .data_min
            .iter()
            .zip(&self.data_max)
            .map(|(mn, mx)| {
                let range = mx - mn;
                // scikit-learn's _handle_zeros_in_scale: a (near-)zero range counts as 1.
                (hi - lo)
                    / if range < 10.0 * f32::EPSILON {
                        1.0
                    } else {
                        range
                    }
            })
            .collect();
        self.min = self
            .data_min
            .iter()
            .zip(&self.scale)
            .map(|(mn, s)| lo - mn * s)
            .collect();
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
    /// Per-feature population variance of the training data.
    pub var: Vec<f32>,
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

    /// Learns per-feature mean and population variance of `x` `(n, d)`.
    pub fn fit(&mut self, x: &Tensor) -> Result<&mut Self> {
        let (n, _) = check_2d("StandardScaler", x, None)?;
        let _no_grad = crate::no_grad();
        self.mean = x.mean_dim(0, false).to_vec();
        self.var = x.var_dim(0, false, false).to_vec();
        if self.mean.iter().chain(&self.var).any(|v| !v.is_finite()) {
            return Err(FerriteError::invalid(
                "x",
                "contains NaN or infinite values; drop or impute them first",
            ));
        }
        let eps = f32::EPSILON;
        self.scale = self
            .var
            .iter()
            .zip(&self.mean)
            .map(|(&v, &m)| {
                // scikit-learn's _is_constant_feature: variance within rounding error of 0.
                let bound = n as f32 * eps * v + (n as f32 * m.abs() * eps).powi(2);
                if !self.with_std || v <= bound {
                    1.0
                } else {
                    v.sqrt()
                }
            })
            .collect();
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
    fn serialises_to_json_and_back() {
        let mut ss = StandardScaler::new();
        ss.fit(&Tensor::from_vec(vec![1., 2., 4., 8.], [2, 2]))
            .unwrap();
        let back: StandardScaler =
            serde_json::from_str(&serde_json::to_string(&ss).unwrap()).unwrap();
        assert_eq!(back, ss);
    }
}
