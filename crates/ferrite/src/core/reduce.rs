//! The folds and scans a reduction applies, the same on every device.

/// Which fold a reduction applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReduceKind {
    /// Sum of the elements.
    Sum,
    /// Largest element.
    Max,
    /// Smallest element.
    Min,
    /// Product of the elements.
    Prod,
}

/// A running fold along one dimension that keeps the lane's length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScanKind {
    /// `out[i] = Σ_{j ≤ i} x[j]`.
    CumSum,
    /// `out[i] = Π_{j ≠ i} x[j]`, by prefix and suffix products (no division, so zeros are
    /// fine): the gradient of a product.
    ExclusiveProd,
}
