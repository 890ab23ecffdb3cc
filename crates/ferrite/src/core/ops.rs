//! The pointwise operations every backend implements, named so that a CUDA backend can
//! compile the same list into kernels. Each variant's scalar math sits in `apply`.

use super::Float;

/// A function of one element.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum UnaryOp {
    /// -x
    Neg,
    /// e^x
    Exp,
    /// ln x
    Log,
    /// ln(1 + x)
    Log1p,
    /// √x
    Sqrt,
    /// |x|
    Abs,
    /// -1, 0 or 1
    Sign,
    /// 1 / (1 + e^-x), evaluated without overflow
    Sigmoid,
    /// tanh x
    Tanh,
    /// max(x, 0)
    Relu,
    /// x if x > 0 else slope·x
    LeakyRelu(f32),
    /// x if x > 0 else α(e^x − 1)
    Elu(f32),
    /// x·Φ(x), exact (erf) form
    Gelu,
    /// 0.5x(1 + tanh(√(2/π)(x + 0.044715x³)))
    GeluTanh,
    /// ln(1 + e^(βx))/β, linear above threshold (PyTorch's form)
    Softplus { beta: f32, threshold: f32 },
    /// min(max(x, lo), hi)
    Clamp(f32, f32),
    /// x + c
    AddScalar(f32),
    /// x · c
    MulScalar(f32),
    /// x^c
    PowScalar(f32),
    /// c^x
    ScalarPow(f32),
    /// c / x
    ScalarDiv(f32),
    /// 1 if x == c else 0
    EqScalar(f32),
    /// 1 if x > c else 0
    GtScalar(f32),
    /// 1 if x < c else 0
    LtScalar(f32),
    /// sin x
    Sin,
    /// cos x
    Cos,
    /// erf x
    Erf,
    /// x where finite, else 0 (the shift of stable exp-sums)
    FiniteOrZero,
}

/// A function of two elements (broadcast against each other).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum BinaryOp {
    /// a + b
    Add,
    /// a − b
    Sub,
    /// a · b
    Mul,
    /// a / b
    Div,
    /// a^b
    Pow,
    /// max(a, b), NaN propagating
    Maximum,
    /// min(a, b), NaN propagating
    Minimum,
    /// 1 if a == b
    Eq,
    /// 1 if a != b
    Ne,
    /// 1 if a > b
    Gt,
    /// 1 if a >= b
    Ge,
    /// 1 if a < b
    Lt,
    /// 1 if a <= b
    Le,
    /// g if x > 0 else 0 (a = g, b = x)
    ReluBackward,
    /// g·s(1 − s) (a = g, b = s = sigmoid output)
    SigmoidBackward,
    /// g(1 − t²) (a = g, b = t = tanh output)
    TanhBackward,
    /// g if x > 0 else slope·g
    LeakyReluBackward(f32),
    /// g if x > 0 else g·α·e^x
    EluBackward(f32),
    /// g·(Φ(x) + x·φ(x))
    GeluBackward,
    /// g·d/dx of the tanh form of GELU
    GeluTanhBackward,
    /// g·σ(βx), or g above the threshold
    SoftplusBackward { beta: f32, threshold: f32 },
    /// g where lo <= x <= hi, else 0
    ClampBackward(f32, f32),
}

/// erf by the complementary error function's Chebyshev fit (Numerical Recipes erfc),
/// evaluated in f64: |error| < 1.2e-7, enough for f32.
pub fn erf(x: f32) -> f32 {
    erf_f64(x as f64) as f32
}

/// [`erf`] for f64 arguments: the same fit, so |error| < 1.2e-7.
pub fn erf_f64(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.26551223
            + t * (1.00002368
                + t * (0.37409196
                    + t * (0.09678418
                        + t * (-0.18628806
                            + t * (0.27886807
                                + t * (-1.13520398
                                    + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))))
            .exp();
    let v = 1.0 - r;
    if x >= 0.0 {
        v
    } else {
        -v
    }
}

/// erf at either float type.
#[inline(always)]
fn erf_t<T: Float>(x: T) -> T {
    T::pick(erf(x.f32()), erf_f64(x.f64()))
}

#[inline(always)]
fn sqrt_2_over_pi<T: Float>() -> T {
    T::pick(0.797_884_6, 0.797_884_560_802_865_4)
}

#[inline(always)]
fn inv_sqrt_2pi<T: Float>() -> T {
    T::pick(0.398_942_3, 0.398_942_280_401_432_7)
}

#[inline(always)]
fn frac_1_sqrt_2<T: Float>() -> T {
    T::pick(
        std::f32::consts::FRAC_1_SQRT_2,
        std::f64::consts::FRAC_1_SQRT_2,
    )
}

#[inline(always)]
fn sigmoid<T: Float>(x: T) -> T {
    let one = T::one();
    if x >= T::zero() {
        one / (one + (-x).exp())
    } else {
        let e = x.exp();
        e / (one + e)
    }
}

/// 1 or 0.
#[inline(always)]
fn indicator<T: Float>(b: bool) -> T {
    if b {
        T::one()
    } else {
        T::zero()
    }
}

impl UnaryOp {
    /// The scalar function, at f32 or f64.
    #[inline(always)]
    pub fn apply<T: Float>(self, x: T) -> T {
        let (zero, one, half) = (T::zero(), T::one(), T::of(0.5));
        match self {
            UnaryOp::Neg => -x,
            UnaryOp::Exp => x.exp(),
            UnaryOp::Log => x.ln(),
            UnaryOp::Log1p => x.ln_1p(),
            UnaryOp::Sqrt => x.sqrt(),
            UnaryOp::Abs => x.abs(),
            UnaryOp::Sign => {
                if x > zero {
                    one
                } else if x < zero {
                    -one
                } else {
                    zero * x
                }
            }
            UnaryOp::Sigmoid => sigmoid(x),
            UnaryOp::Tanh => x.tanh(),
            // NaN passes through, as in PyTorch.
            UnaryOp::Relu => {
                if x > zero || x.is_nan() {
                    x
                } else {
                    zero
                }
            }
            UnaryOp::LeakyRelu(s) => {
                if x > zero {
                    x
                } else {
                    T::of(s) * x
                }
            }
            UnaryOp::Elu(a) => {
                if x > zero {
                    x
                } else {
                    T::of(a) * x.exp_m1()
                }
            }
            UnaryOp::Gelu => half * x * (one + erf_t(x * frac_1_sqrt_2())),
            UnaryOp::GeluTanh => {
                half * x
                    * (one + (sqrt_2_over_pi::<T>() * (x + T::of(0.044715) * x * x * x)).tanh())
            }
            UnaryOp::Softplus { beta, threshold } => {
                let (beta, threshold) = (T::of(beta), T::of(threshold));
                if x * beta > threshold {
                    x
                } else {
                    (x * beta).exp().ln_1p() / beta
                }
            }
            UnaryOp::Clamp(lo, hi) => {
                if x.is_nan() {
                    x
                } else {
                    x.max(T::of(lo)).min(T::of(hi))
                }
            }
            UnaryOp::AddScalar(c) => x + T::of(c),
            UnaryOp::MulScalar(c) => x * T::of(c),
            UnaryOp::PowScalar(c) => {
                if c == 2.0 {
                    x * x
                } else if c == 1.0 {
                    x
                } else if c == 0.5 {
                    x.sqrt()
                } else {
                    x.powf(T::of(c))
                }
            }
            UnaryOp::ScalarPow(c) => T::of(c).powf(x),
            UnaryOp::ScalarDiv(c) => T::of(c) / x,
            UnaryOp::EqScalar(c) => indicator(x == T::of(c)),
            UnaryOp::GtScalar(c) => indicator(x > T::of(c)),
            UnaryOp::LtScalar(c) => indicator(x < T::of(c)),
            UnaryOp::Sin => x.sin(),
            UnaryOp::Cos => x.cos(),
            UnaryOp::Erf => erf_t(x),
            UnaryOp::FiniteOrZero => {
                if x.is_finite() {
                    x
                } else {
                    zero
                }
            }
        }
    }
}

impl BinaryOp {
    /// The scalar function, at f32 or f64.
    #[inline(always)]
    pub fn apply<T: Float>(self, a: T, b: T) -> T {
        let (zero, one, half) = (T::zero(), T::one(), T::of(0.5));
        match self {
            BinaryOp::Add => a + b,
            BinaryOp::Sub => a - b,
            BinaryOp::Mul => a * b,
            BinaryOp::Div => a / b,
            BinaryOp::Pow => a.powf(b),
            BinaryOp::Maximum => {
                if a.is_nan() || a > b {
                    a
                } else {
                    b
                }
            }
            BinaryOp::Minimum => {
                if a.is_nan() || a < b {
                    a
                } else {
                    b
                }
            }
            BinaryOp::Eq => indicator(a == b),
            BinaryOp::Ne => indicator(a != b),
            BinaryOp::Gt => indicator(a > b),
            BinaryOp::Ge => indicator(a >= b),
            BinaryOp::Lt => indicator(a < b),
            BinaryOp::Le => indicator(a <= b),
            BinaryOp::ReluBackward => {
                if b > zero {
                    a
                } else {
                    zero
                }
            }
            BinaryOp::SigmoidBackward => a * b * (one - b),
            BinaryOp::TanhBackward => a * (one - b * b),
            BinaryOp::LeakyReluBackward(s) => {
                if b > zero {
                    a
                } else {
                    a * T::of(s)
                }
            }
            BinaryOp::EluBackward(alpha) => {
                if b > zero {
                    a
                } else {
                    a * T::of(alpha) * b.exp()
                }
            }
            BinaryOp::GeluBackward => {
                let cdf = half * (one + erf_t(b * frac_1_sqrt_2()));
                let pdf = inv_sqrt_2pi::<T>() * (-half * b * b).exp();
                a * (cdf + b * pdf)
            }
            BinaryOp::GeluTanhBackward => {
                let c = T::of(0.044715);
                let inner = sqrt_2_over_pi::<T>() * (b + c * b * b * b);
                let t = inner.tanh();
                let d_inner = sqrt_2_over_pi::<T>() * (one + T::of(3.0) * c * b * b);
                a * (half * (one + t) + half * b * (one - t * t) * d_inner)
            }
            BinaryOp::SoftplusBackward { beta, threshold } => {
                let (beta, threshold) = (T::of(beta), T::of(threshold));
                if b * beta > threshold {
                    a
                } else {
                    a * sigmoid(b * beta)
                }
            }
            BinaryOp::ClampBackward(lo, hi) => {
                if b >= T::of(lo) && b <= T::of(hi) {
                    a
                } else {
                    zero
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erf_matches_known_values() {
        assert!((erf(0.5) - 0.520_499_9).abs() < 1e-6);
        assert!((erf(-1.0) + 0.842_700_8).abs() < 1e-6);
        assert!((erf(3.0) - 0.999_977_9).abs() < 1e-6);
    }

    #[test]
    fn sigmoid_is_stable_for_large_inputs() {
        assert_eq!(UnaryOp::Sigmoid.apply(1000.0f32), 1.0);
        assert_eq!(UnaryOp::Sigmoid.apply(-1000.0f32), 0.0);
    }
}
