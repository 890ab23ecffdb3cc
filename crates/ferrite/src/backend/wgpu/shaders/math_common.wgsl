// Math shared by f32 and f64, on the type's t_exp.
fn t_sigmoid(x: T) -> T {
    if (x >= 0.0) {
        return 1.0 / (1.0 + t_exp(-x));
    }
    let e = t_exp(x);
    return e / (1.0 + e);
}
// Numerical Recipes' erfc-based erf, the formula the CPU backend uses.
fn t_erf(x: T) -> T {
    let z = abs(x);
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t * t_exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418
        + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587
        + t * (-0.82215223 + t * 0.17087277)))))))));
    let v = 1.0 - r;
    if (x >= 0.0) {
        return v;
    }
    return -v;
}
fn t_sign(x: T) -> T {
    if (x > 0.0) {
        return 1.0;
    }
    if (x < 0.0) {
        return -1.0;
    }
    return 0.0 * x;
}
