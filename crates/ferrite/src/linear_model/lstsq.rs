//! Least squares through the singular value decomposition (faer), in f64.
//!
//! `min ‖A x − b‖² + α‖x‖²` is solved as `x = V diag(sᵢ / (sᵢ² + α)) Uᵀ b`. Singular values
//! below `rcond · s_max` count as zero when α = 0, which gives the minimum-norm solution when
//! `AᵀA` is singular (as LAPACK's `gelsd`, behind scikit-learn's `LinearRegression`, does).

use faer::Mat;

/// The solution of a least-squares problem and what the SVD said about the matrix.
#[derive(Debug, Clone)]
pub(crate) struct LstsqSolution {
    /// One column of coefficients per right-hand side: shape (ncols of A, ncols of B).
    pub x: Mat<f64>,
    /// Singular values above the cut-off.
    pub rank: usize,
    /// Singular values of A, largest first.
    pub singular_values: Vec<f64>,
}

impl LstsqSolution {
    /// `s_max / s_min` over all singular values (infinite when A is rank deficient).
    pub fn condition_number(&self) -> f64 {
        match (self.singular_values.first(), self.singular_values.last()) {
            (Some(&max), Some(&min)) if min > 0.0 => max / min,
            (Some(_), Some(_)) => f64::INFINITY,
            _ => 1.0,
        }
    }
}

/// Relative cut-off for singular values: machine epsilon times the larger dimension (the
/// default of NumPy's `lstsq` and of `pinv`-like solvers).
pub(crate) fn default_rcond(nrows: usize, ncols: usize) -> f64 {
    f64::EPSILON * nrows.max(ncols) as f64
}

/// Solves `min ‖A X − B‖² + alpha ‖X‖²` column by column of B. With `alpha == 0` singular
/// values below `rcond · s_max` are dropped (minimum-norm solution).
///
/// Returns `None` only if the SVD fails to converge (it does not for finite input).
pub(crate) fn lstsq_svd(
    a: &Mat<f64>,
    b: &Mat<f64>,
    alpha: f64,
    rcond: f64,
) -> Option<LstsqSolution> {
    let (m, n) = (a.nrows(), a.ncols());
    assert_eq!(
        b.nrows(),
        m,
        "lstsq: A has {m} rows but B has {}",
        b.nrows()
    );
    if n == 0 || m == 0 {
        return Some(LstsqSolution {
            x: Mat::zeros(n, b.ncols()),
            rank: 0,
            singular_values: vec![],
        });
    }
    let svd = a.thin_svd().ok()?;
    let (u, v) = (svd.U(), svd.V());
    let s = svd.S().column_vector();
    let k = s.nrows();
    let singular_values: Vec<f64> = (0..k).map(|i| s[i]).collect();
    let s_max = singular_values.first().copied().unwrap_or(0.0);
    let cutoff = rcond * s_max;
    // Filter factors: 1/s (plain least squares, cut below the threshold) or s/(s² + α) (ridge).
    let factors: Vec<f64> = singular_values
        .iter()
        .map(|&si| {
            if alpha > 0.0 {
                si / (si * si + alpha)
            } else if si > cutoff && si > 0.0 {
                1.0 / si
            } else {
                0.0
            }
        })
        .collect();
    let rank = singular_values
        .iter()
        .filter(|&&si| si > cutoff && si > 0.0)
        .count();
    // X = V · diag(f) · (Uᵀ B)
    let mut utb: Mat<f64> = u.transpose() * b;
    for j in 0..utb.ncols() {
        for (i, f) in factors.iter().enumerate() {
            utb[(i, j)] *= f;
        }
    }
    let x = v * &utb;
    Some(LstsqSolution {
        x,
        rank,
        singular_values,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn solves_an_overdetermined_system_exactly_when_consistent() {
        // y = 2a − 3b fitted on four rows.
        let a = Mat::from_fn(4, 2, |i, j| {
            [[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, -1.0]][i][j]
        });
        let b = Mat::from_fn(4, 1, |i, _| [2.0, -3.0, -1.0, 7.0][i]);
        let sol = lstsq_svd(&a, &b, 0.0, default_rcond(4, 2)).unwrap();
        assert!((sol.x[(0, 0)] - 2.0).abs() < 1e-12);
        assert!((sol.x[(1, 0)] + 3.0).abs() < 1e-12);
        assert_eq!(sol.rank, 2);
    }

    #[test]
    fn rank_deficient_gives_the_minimum_norm_solution() {
        // Two identical columns: x1 + x2 = 1 has minimum-norm solution (0.5, 0.5).
        let a = Mat::from_fn(3, 2, |_, _| 1.0);
        let b = Mat::from_fn(3, 1, |_, _| 1.0);
        let sol = lstsq_svd(&a, &b, 0.0, default_rcond(3, 2)).unwrap();
        assert_eq!(sol.rank, 1);
        assert!((sol.x[(0, 0)] - 0.5).abs() < 1e-12 && (sol.x[(1, 0)] - 0.5).abs() < 1e-12);
        assert!(sol.condition_number().is_infinite() || sol.condition_number() > 1e15);
    }

    #[test]
    fn ridge_matches_the_normal_equations() {
        // (AᵀA + αI) x = Aᵀb for A = I₂ scaled: x = a·b / (a² + α).
        let a = Mat::from_fn(2, 2, |i, j| if i == j { 2.0 } else { 0.0 });
        let b = Mat::from_fn(2, 1, |i, _| [4.0, 1.0][i]);
        let sol = lstsq_svd(&a, &b, 1.0, 0.0).unwrap();
        assert!((sol.x[(0, 0)] - 8.0 / 5.0).abs() < 1e-12);
        assert!((sol.x[(1, 0)] - 2.0 / 5.0).abs() < 1e-12);
    }
}
