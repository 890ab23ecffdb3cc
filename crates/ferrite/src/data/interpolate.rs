//! Filling gaps in a series: [`interpolate_linear`], like pandas'
//! `Series.interpolate(limit_direction="both")`.

use crate::error::{FerriteError, Result};

/// `values` with every non-finite entry (a missing value) replaced: inside the series by
/// linear interpolation between its nearest known neighbours, before the first known value
/// by that value, after the last by the last. Errors when no value is known.
///
/// ```
/// use ferrite::data::interpolate_linear;
/// let filled = interpolate_linear(&[f32::NAN, 1.0, f32::NAN, f32::NAN, 4.0, f32::NAN]).unwrap();
/// assert_eq!(filled, vec![1.0, 1.0, 2.0, 3.0, 4.0, 4.0]);
/// ```
pub fn interpolate_linear(values: &[f32]) -> Result<Vec<f32>> {
    let known: Vec<usize> = (0..values.len())
        .filter(|&i| values[i].is_finite())
        .collect();
    let (Some(&first), Some(&last)) = (known.first(), known.last()) else {
        return Err(FerriteError::invalid(
            "series",
            format!(
                "none of its {} values is known, so there is nothing to interpolate from; \
                 give a series with at least one number",
                values.len()
            ),
        ));
    };
    let mut out = values.to_vec();
    for w in known.windows(2) {
        let (a, b) = (w[0], w[1]);
        for (k, slot) in out[a + 1..b].iter_mut().enumerate() {
            let t = (k + 1) as f32 / (b - a) as f32;
            *slot = values[a] + t * (values[b] - values[a]);
        }
    }
    out[..first].fill(values[first]);
    out[last + 1..].fill(values[last]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_are_interpolated_inside_and_held_at_the_ends() {
        let v = interpolate_linear(&[f32::NAN, 1.0, f32::NAN, f32::NAN, 4.0, f32::NAN]).unwrap();
        assert_eq!(v, vec![1.0, 1.0, 2.0, 3.0, 4.0, 4.0]);
        // An infinity counts as missing too; a gap of one takes the midpoint.
        let v = interpolate_linear(&[2.0, f32::INFINITY, 5.0]).unwrap();
        assert_eq!(v, vec![2.0, 3.5, 5.0]);
        let err = interpolate_linear(&[]).unwrap_err().to_string();
        assert!(err.contains("none of its 0"), "{err}");
        let err = interpolate_linear(&[f32::NAN, f32::NAN])
            .unwrap_err()
            .to_string();
        assert!(err.contains("none of its 2 values is known"), "{err}");
    }
}
