//! The pointwise operations every backend implements, named so that a CUDA backend can
//! compile the same list into kernels. Each variant's scalar math sits in `apply`.

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

/// erf by Abramowitz–Stegun 7.1.26 refined: |error| < 1.2e-7, enough for f32.
pub fn erf(x: f32) -> f32 {
    // Computed in f64 through the complementary error function's Chebyshev fit (Numerical Recipes erfc).
    let z = (x as f64).abs();
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
    (if x >= 0.0 { v } else { -v }) as f32
}

const SQRT_2_OVER_PI: f32 = 0.797_884_6;
const INV_SQRT_2PI: f32 = 0.398_942_3;

#[inline(always)]
fn sigmoid(x: f32) -> f32 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

impl UnaryOp {
    /// The scalar function.
    #[inline(always)]
    pub fn apply(self, x: f32) -> f32 {
        match self {
            UnaryOp::Neg => -x,
            UnaryOp::Exp => x.exp(),
            UnaryOp::Log => x.ln(),
            UnaryOp::Log1p => x.ln_1p(),
            UnaryOp::Sqrt => x.sqrt(),
            UnaryOp::Abs => x.abs(),
            UnaryOp::Sign => {
                if x > 0.0 {
                    1.0
                } else if x < 0.0 {
                    -1.0
                } else {
                    0.0 * x
                }
            }
            UnaryOp::Sigmoid => sigmoid(x),
            UnaryOp::Tanh => x.tanh(),
            // NaN passes through, as in PyTorch.
            UnaryOp::Relu => {
                if x > 0.0 || x.is_nan() {
                    x
                } else {
                    0.0
                }
            }
            UnaryOp::LeakyRelu(s) => {
                if x > 0.0 {
                    x
                } else {
                    s * x
                }
            }
            UnaryOp::Elu(a) => {
                if x > 0.0 {
                    x
                } else {
                    a * x.exp_m1()
                }
            }
            UnaryOp::Gelu => 0.5 * x * (1.0 + erf(x * std::f32::consts::FRAC_1_SQRT_2)),
            UnaryOp::GeluTanh => {
                0.5 * x * (1.0 + (SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)).tanh())
            }
            UnaryOp::Softplus { beta, threshold } => {
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
                    x.max(lo).min(hi)
                }
            }
            UnaryOp::AddScalar(c) => x + c,
            UnaryOp::MulScalar(c) => x * c,
            UnaryOp::PowScalar(c) => {
                if c == 2.0 {
                    x * x
                } else if c == 1.0 {
                    x
                } else if c == 0.5 {
                    x.sqrt()
                } else {
                    x.powf(c)
                }
            }
            UnaryOp::ScalarPow(c) => c.powf(x),
            UnaryOp::ScalarDiv(c) => c / x,
            UnaryOp::EqScalar(c) => (x == c) as u8 as f32,
            UnaryOp::GtScalar(c) => (x > c) as u8 as f32,
            UnaryOp::LtScalar(c) => (x < c) as u8 as f32,
            UnaryOp::Sin => x.sin(),
            UnaryOp::Cos => x.cos(),
            UnaryOp::Erf => erf(x),
            UnaryOp::FiniteOrZero => {
                if x.is_finite() {
                    x
                } else {
                    0.0
                }
            }
        }
    }
}

impl BinaryOp {
    /// The scalar function.
    #[inline(always)]
    pub fn apply(self, a: f32, b: f32) -> f32 {
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
            BinaryOp::Eq => (a == b) as u8 as f32,
            BinaryOp::Ne => (a != b) as u8 as f32,
            BinaryOp::Gt => (a > b) as u8 as f32,
            BinaryOp::Ge => (a >= b) as u8 as f32,
            BinaryOp::Lt => (a < b) as u8 as f32,
            BinaryOp::Le => (a <= b) as u8 as f32,
            BinaryOp::ReluBackward => {
                if b > 0.0 {
                    a
                } else {
                    0.0
                }
            }
            BinaryOp::SigmoidBackward => a * b * (1.0 - b),
            BinaryOp::TanhBackward => a * (1.0 - b * b),
            BinaryOp::LeakyReluBackward(s) => {
                if b > 0.0 {
                    a
                } else {
                    a * s
                }
            }
            BinaryOp::EluBackward(alpha) => {
                if b > 0.0 {
                    a
                } else {
                    a * alpha * b.exp()
                }
            }
            BinaryOp::GeluBackward => {
                let cdf = 0.5 * (1.0 + erf(b * std::f32::consts::FRAC_1_SQRT_2));
                let pdf = INV_SQRT_2PI * (-0.5 * b * b).exp();
                a * (cdf + b * pdf)
            }
            BinaryOp::GeluTanhBackward => {
                let inner = SQRT_2_OVER_PI * (b + 0.044715 * b * b * b);
                let t = inner.tanh();
                let d_inner = SQRT_2_OVER_PI * (1.0 + 3.0 * 0.044715 * b * b);
                a * (0.5 * (1.0 + t) + 0.5 * b * (1.0 - t * t) * d_inner)
            }
            BinaryOp::SoftplusBackward { beta, threshold } => {
                if b * beta > threshold {
                    a
                } else {
                    a * sigmoid(b * beta)
                }
            }
            BinaryOp::ClampBackward(lo, hi) => {
                if b >= lo && b <= hi {
                    a
                } else {
                    0.0
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
        assert_eq!(UnaryOp::Sigmoid.apply(1000.0), 1.0);
        assert_eq!(UnaryOp::Sigmoid.apply(-1000.0), 0.0);
    }
}
