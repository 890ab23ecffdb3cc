// Scalar math in f64. Vulkan's extended instructions (exp, log, tanh, pow, sin, cos) take 16-
// and 32-bit floats only, so these are computed here from exact f64 arithmetic: range
// reduction, then a series short enough to reach the last bit.
// Not `x != x`, which drivers may fold away: NaN survives the conversion to f32, whose bits
// can be tested (WGSL cannot bitcast an f64).
fn is_nan(x: T) -> bool {
    return (bitcast<u32>(f32(x)) & 0x7fffffffu) > 0x7f800000u;
}
fn infinity() -> T {
    return T(bitcast<f32>(0x7f800000u));
}
fn quiet_nan() -> T {
    return T(bitcast<f32>(0x7fc00000u));
}
fn is_finite(x: T) -> bool {
    return !is_nan(x) && abs(x) <= 1.7976931348623157e308;
}

// ln 2 split so that k * LN2_HI is exact for |k| < 2^11 (Cody and Waite).
const LN2_HI: f64 = 6.93147180369123816490e-01;
const LN2_LO: f64 = 1.90821492927058770002e-10;

// e^x = 2^k e^r with |r| <= ln2/2, e^r by Taylor to degree 14 (error below 2^-60).
fn t_exp(x: T) -> T {
    if (is_nan(x)) {
        return x;
    }
    if (x > 709.782712893384) {
        return infinity();
    }
    if (x < -745.1332191019412) {
        return 0.0;
    }
    let k = round(x * 1.4426950408889634);
    let r = (x - k * LN2_HI) - k * LN2_LO;
    var p = T(1.0 / 87178291200.0);
    p = p * r + T(1.0 / 6227020800.0);
    p = p * r + T(1.0 / 479001600.0);
    p = p * r + T(1.0 / 39916800.0);
    p = p * r + T(1.0 / 3628800.0);
    p = p * r + T(1.0 / 362880.0);
    p = p * r + T(1.0 / 40320.0);
    p = p * r + T(1.0 / 5040.0);
    p = p * r + T(1.0 / 720.0);
    p = p * r + T(1.0 / 120.0);
    p = p * r + T(1.0 / 24.0);
    p = p * r + T(1.0 / 6.0);
    p = p * r + T(0.5);
    p = p * r + T(1.0);
    p = p * r + T(1.0);
    // 2^k in two steps, so that 2^1024 (for results just below the largest f64) and the
    // subnormal range do not overflow ldexp's exponent.
    let k1 = i32(k) / 2;
    return ldexp(ldexp(p, k1), i32(k) - k1);
}

// ln x = e ln2 + ln m with m in [1/√2, √2), ln m = 2 atanh(s), s = (m-1)/(m+1), by its series.
fn t_log(x: T) -> T {
    if (is_nan(x) || x < 0.0) {
        return quiet_nan();
    }
    if (x == 0.0) {
        return -infinity();
    }
    if (x == infinity()) {
        return x;
    }
    // The exponent from f32's log2 (naga's f64 frexp needs 64-bit integers), scaled into
    // f32's range first, then corrected so that m lands in [1/√2, √2).
    var y = x;
    var e = 0;
    if (y < 1e-30) {
        y = ldexp(y, 200);
        e = -200;
    } else if (y > 1e30) {
        y = ldexp(y, -200);
        e = 200;
    }
    let guess = i32(floor(log2(f32(y))));
    var m = ldexp(y, -guess);
    e = e + guess;
    if (m >= 1.41421356237309504880) {
        m = m * 0.5;
        e = e + 1;
    }
    if (m < 0.70710678118654752440) {
        m = m * 2.0;
        e = e - 1;
    }
    let ef = T(e);
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    var q = T(1.0 / 27.0);
    q = q * s2 + T(1.0 / 25.0);
    q = q * s2 + T(1.0 / 23.0);
    q = q * s2 + T(1.0 / 21.0);
    q = q * s2 + T(1.0 / 19.0);
    q = q * s2 + T(1.0 / 17.0);
    q = q * s2 + T(1.0 / 15.0);
    q = q * s2 + T(1.0 / 13.0);
    q = q * s2 + T(1.0 / 11.0);
    q = q * s2 + T(1.0 / 9.0);
    q = q * s2 + T(1.0 / 7.0);
    q = q * s2 + T(1.0 / 5.0);
    q = q * s2 + T(1.0 / 3.0);
    let log_m = 2.0 * s + 2.0 * s * s2 * q;
    return (ef * LN2_HI + log_m) + ef * LN2_LO;
}

// log(1 + x) without losing x when it is tiny.
fn t_log1p(x: T) -> T {
    let u = 1.0 + x;
    if (u == 1.0) {
        return x;
    }
    if (!is_finite(u)) {
        return t_log(u);
    }
    return t_log(u) * (x / (u - 1.0));
}

// e^x - 1 without losing x when it is tiny (Kahan).
fn t_expm1(x: T) -> T {
    let u = t_exp(x);
    if (u == 1.0) {
        return x;
    }
    let um1 = u - 1.0;
    if (um1 == -1.0) {
        return -1.0;
    }
    if (!is_finite(u)) {
        return u;
    }
    return um1 * (x / t_log(u));
}

fn t_tanh(x: T) -> T {
    if (is_nan(x)) {
        return x;
    }
    // tanh(±20) is ±1 in f64.
    let a = min(abs(x), 20.0);
    let e = t_expm1(2.0 * a);
    return sign(x) * (e / (e + 2.0));
}

fn t_pow(a: T, b: T) -> T {
    if (b == 0.0) {
        return 1.0;
    }
    if (b == 1.0) {
        return a;
    }
    if (b == 2.0) {
        return a * a;
    }
    if (is_nan(a) || is_nan(b)) {
        return quiet_nan();
    }
    if (a < 0.0) {
        if (b != floor(b)) {
            return quiet_nan();
        }
        let m = t_exp(b * t_log(-a));
        if (fract(b * 0.5) != 0.0) {
            return -m;
        }
        return m;
    }
    if (a == 0.0) {
        if (b < 0.0) {
            return infinity();
        }
        return 0.0;
    }
    return t_exp(b * t_log(a));
}

// π/2 in three parts for the reduction x - k π/2.
const PIO2_1: f64 = 1.57079632673412561417e+00;
const PIO2_2: f64 = 6.07710050650619224932e-11;
const PIO2_3: f64 = 2.02226624879595063154e-21;

fn sin_series(r: T) -> T {
    let r2 = r * r;
    var p = T(-1.0 / 1307674368000.0);
    p = p * r2 + T(1.0 / 6227020800.0);
    p = p * r2 + T(-1.0 / 39916800.0);
    p = p * r2 + T(1.0 / 362880.0);
    p = p * r2 + T(-1.0 / 5040.0);
    p = p * r2 + T(1.0 / 120.0);
    p = p * r2 + T(-1.0 / 6.0);
    return r + r * r2 * p;
}

fn cos_series(r: T) -> T {
    let r2 = r * r;
    var p = T(1.0 / 20922789888000.0);
    p = p * r2 + T(-1.0 / 87178291200.0);
    p = p * r2 + T(1.0 / 479001600.0);
    p = p * r2 + T(-1.0 / 3628800.0);
    p = p * r2 + T(1.0 / 40320.0);
    p = p * r2 + T(-1.0 / 720.0);
    p = p * r2 + T(1.0 / 24.0);
    return 1.0 - 0.5 * r2 + r2 * r2 * p;
}

// sin x (quarter = 0) or cos x (quarter = 1): sin(x + quarter π/2).
fn sin_quarter(x: T, quarter: i32) -> T {
    if (!is_finite(x)) {
        return quiet_nan();
    }
    let k = round(x * 0.63661977236758134308);
    let r = ((x - k * PIO2_1) - k * PIO2_2) - k * PIO2_3;
    let q = ((i32(k) + quarter) % 4 + 4) % 4;
    if (q == 0) {
        return sin_series(r);
    }
    if (q == 1) {
        return cos_series(r);
    }
    if (q == 2) {
        return -sin_series(r);
    }
    return -cos_series(r);
}
fn t_sin(x: T) -> T {
    return sin_quarter(x, 0);
}
fn t_cos(x: T) -> T {
    return sin_quarter(x, 1);
}
