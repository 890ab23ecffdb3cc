//! Branch-free `exp`, `sigmoid` and `tanh` for the gate kernels: no library calls and no
//! branches, so that loops over gates vectorize. They are f32 approximations (about 1 ulp);
//! [`GateMath`] gives the kernels these for f32 and the standard library's functions for f64,
//! whose point is accuracy (gradient checks).

use crate::backend::cpu::storage::CpuFloat;

/// The gate functions of a float type the recurrent kernels run in.
pub(crate) trait GateMath: CpuFloat {
    /// `1 / (1 + e⁻ˣ)`.
    fn gate_sigmoid(x: Self) -> Self;
    /// `tanh x`.
    fn gate_tanh(x: Self) -> Self;
}

impl GateMath for f32 {
    #[inline(always)]
    fn gate_sigmoid(x: f32) -> f32 {
        sigmoid(x)
    }
    #[inline(always)]
    fn gate_tanh(x: f32) -> f32 {
        tanh(x)
    }
}

impl GateMath for f64 {
    #[inline(always)]
    fn gate_sigmoid(x: f64) -> f64 {
        1.0 / (1.0 + (-x).exp())
    }
    #[inline(always)]
    fn gate_tanh(x: f64) -> f64 {
        x.tanh()
    }
}

/// `eˣ` without branches or library calls, so that loops over it vectorize: `x = n·ln2 + r`
/// with `|r| ≤ ln2/2`, `eʳ` by its Taylor polynomial to `r⁷` (error < 1e-8), `2ⁿ` written
/// into the exponent bits. Relative error about 1 ulp; `x` is clamped to `[−87, 88]`, where
/// the result stays a normal f32.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    // ln 2 split in a part exact in f32 and the rest (Cody–Waite reduction).
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    // 1.5·2²³: adding and subtracting it rounds to the nearest integer.
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 88.0);
    let n = (x * LOG2E + ROUND) - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0
                    + r * (1.0 / 24.0
                        + r * (1.0 / 120.0 + r * (1.0 / 720.0 + r * (1.0 / 5040.0)))))));
    p * f32::from_bits(((n as i32 + 127) as u32) << 23)
}

/// `1 / (1 + e⁻ˣ)` through the branch-free [`exp`].
#[inline(always)]
pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp(-x))
}

/// `tanh x`, branch-free: the odd Taylor series to `x¹⁵` for `|x| < 0.5` (error < 1e-8),
/// else `1 − 2/(e^{2|x|} + 1)` (no cancellation there), with the sign of `x`.
#[inline(always)]
pub fn tanh(x: f32) -> f32 {
    let a = x.abs();
    let z = a * a;
    let small = a
        * (1.0
            + z * (-1.0 / 3.0
                + z * (2.0 / 15.0
                    + z * (-17.0 / 315.0
                        + z * (62.0 / 2835.0
                            + z * (-1382.0 / 155_925.0
                                + z * (21_844.0 / 6_081_075.0
                                    + z * (-929_569.0 / 638_512_875.0))))))));
    let large = 1.0 - 2.0 / (exp(2.0 * a) + 1.0);
    let t = if a < 0.5 { small } else { large };
    t.copysign(x)
}

/// `dst = σ(dst)` over a slice.
#[inline(always)]
pub(super) fn sigmoid_slice<T: GateMath>(v: &mut [T]) {
    v.iter_mut().for_each(|x| *x = T::gate_sigmoid(*x));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The branch-free exp, sigmoid and tanh agree with the standard library to f32 accuracy.
    #[test]
    fn fast_transcendentals_match_std() {
        let mut x = -90.0f32;
        while x < 90.0 {
            let rel = |a: f32, b: f32| (a - b).abs() / b.abs().max(1e-30);
            if x > -87.0 && x < 88.0 {
                assert!(
                    rel(exp(x), x.exp()) < 4e-7,
                    "exp({x}): {} vs {}",
                    exp(x),
                    x.exp()
                );
            }
            let s = 1.0 / (1.0 + (-x as f64).exp());
            assert!(
                (sigmoid(x) as f64 - s).abs() <= 2e-7 * s + 1e-37,
                "sigmoid({x})"
            );
            assert!(
                (tanh(x) as f64 - (x as f64).tanh()).abs()
                    <= 2e-7 * (x as f64).tanh().abs() + 1e-38,
                "tanh({x}): {} vs {}",
                tanh(x),
                x.tanh()
            );
            x += if x.abs() < 1.0 { 0.000_37 } else { 0.013 };
        }
        assert_eq!(tanh(0.0), 0.0);
        assert_eq!(tanh(-1e-20), -1e-20);
    }

    /// The f64 gate functions are the standard library's, to f64 accuracy.
    #[test]
    fn f64_gates_are_exact() {
        for x in [-40.0f64, -3.5, -0.25, 0.0, 1e-9, 0.7, 20.0] {
            let s = <f64 as GateMath>::gate_sigmoid(x);
            assert!(
                (s - 0.5 * (1.0 + (x / 2.0).tanh())).abs() < 1e-15,
                "sigmoid({x})"
            );
            assert_eq!(<f64 as GateMath>::gate_tanh(x), x.tanh());
        }
    }
}
