// Scalar math in f32, on WGSL's built-ins where they are exact enough.
fn is_nan(x: T) -> bool {
    return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u;
}
fn is_finite(x: T) -> bool {
    return (bitcast<u32>(x) & 0x7f800000u) != 0x7f800000u;
}
fn infinity() -> T {
    return bitcast<f32>(0x7f800000u);
}
fn quiet_nan() -> T {
    return bitcast<f32>(0x7fc00000u);
}
fn t_exp(x: T) -> T {
    return exp(x);
}
fn t_log(x: T) -> T {
    return log(x);
}
// log(1 + x) without losing x when it is tiny.
fn t_log1p(x: T) -> T {
    let u = 1.0 + x;
    if (u == 1.0) {
        return x;
    }
    if (!is_finite(u)) {
        return log(u);
    }
    return log(u) * (x / (u - 1.0));
}
// e^x - 1 without losing x when it is tiny.
fn t_expm1(x: T) -> T {
    let u = exp(x);
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
    return um1 * (x / log(u));
}
fn t_tanh(x: T) -> T {
    // Some drivers overflow inside tanh for large |x|; tanh(±10) is ±1 in f32.
    return tanh(clamp(x, -10.0, 10.0));
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
    if (a < 0.0) {
        // A negative base has a real power only for whole exponents.
        if (b != floor(b)) {
            return quiet_nan();
        }
        let m = pow(-a, b);
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
    return pow(a, b);
}
fn t_sin(x: T) -> T {
    return sin(x);
}
fn t_cos(x: T) -> T {
    return cos(x);
}
