//! The float element types the kernels compute in (f32 and f64), as one trait so that a
//! kernel is written once and compiled for each.

/// A float type kernels compute in: `f32`, or `f64` (which runs every CPU op, so that
/// `gradcheck` can work in f64 as PyTorch's does).
pub trait Float:
    num_traits::Float
    + num_traits::FromPrimitive
    + Default
    + Copy
    + Send
    + Sync
    + std::fmt::Debug
    + std::iter::Sum
    + std::ops::AddAssign
    + std::ops::SubAssign
    + std::ops::MulAssign
    + std::ops::DivAssign
    + 'static
{
    /// The value of an f32 (exact).
    fn of(x: f32) -> Self;
    /// The value of an f64, rounded to this type.
    fn of_f64(x: f64) -> Self;
    /// This value as an f64 (exact).
    fn f64(self) -> f64;
    /// This value rounded to f32.
    fn f32(self) -> f32;
    /// `for_f32` in f32 and `for_f64` in f64: a constant written at each type's precision.
    fn pick(for_f32: f32, for_f64: f64) -> Self;
}

impl Float for f32 {
    #[inline(always)]
    fn of(x: f32) -> Self {
        x
    }
    #[inline(always)]
    fn of_f64(x: f64) -> Self {
        x as f32
    }
    #[inline(always)]
    fn f64(self) -> f64 {
        self as f64
    }
    #[inline(always)]
    fn f32(self) -> f32 {
        self
    }
    #[inline(always)]
    fn pick(for_f32: f32, _: f64) -> Self {
        for_f32
    }
}

impl Float for f64 {
    #[inline(always)]
    fn of(x: f32) -> Self {
        x as f64
    }
    #[inline(always)]
    fn of_f64(x: f64) -> Self {
        x
    }
    #[inline(always)]
    fn f64(self) -> f64 {
        self
    }
    #[inline(always)]
    fn f32(self) -> f32 {
        self as f32
    }
    #[inline(always)]
    fn pick(_: f32, for_f64: f64) -> Self {
        for_f64
    }
}
