//! Numerical stability: activations, (log-)softmax, logsumexp, log_sigmoid and softplus give
//! finite values and gradients for inputs of magnitude 1000, and the exact PyTorch results.

use ferrite::Tensor;

/// Inputs of both signs at magnitude 1000, with ordinary values beside them.
fn extremes() -> Tensor {
    Tensor::from_vec(vec![-1000.0, -500.0, -1.0, 0.5, 500.0, 1000.0], [6]).requires_grad()
}

/// Runs `f` on [`extremes`], asserts every value and gradient is finite, returns both.
fn finite_value_and_grad(name: &str, f: impl Fn(&Tensor) -> Tensor) -> (Vec<f32>, Vec<f32>) {
    let x = extremes();
    let y = f(&x);
    let values = y.to_vec();
    assert!(
        values.iter().all(|v| v.is_finite()),
        "{name}: values {values:?}"
    );
    y.sum().backward();
    let grad = x.grad().unwrap().to_vec();
    assert!(
        grad.iter().all(|g| g.is_finite()),
        "{name}: gradient {grad:?}"
    );
    (values, grad)
}

fn assert_close(name: &str, got: &[f32], want: &[f32]) {
    assert_eq!(got.len(), want.len(), "{name}");
    for (g, w) in got.iter().zip(want) {
        assert!(
            (g - w).abs() <= 1e-6 + 1e-6 * w.abs(),
            "{name}: got {got:?}, want {want:?}"
        );
    }
}

#[test]
fn activations_are_finite_at_magnitude_1000() {
    let (v, g) = finite_value_and_grad("sigmoid", |x| x.sigmoid());
    assert_eq!((v[0], v[5]), (0.0, 1.0));
    assert_eq!((g[0], g[5]), (0.0, 0.0));
    let (v, g) = finite_value_and_grad("tanh", |x| x.tanh());
    assert_eq!((v[0], v[5], g[0], g[5]), (-1.0, 1.0, 0.0, 0.0));
    let (v, g) = finite_value_and_grad("relu", |x| x.relu());
    assert_eq!((v[0], v[5], g[0], g[5]), (0.0, 1000.0, 0.0, 1.0));
    let (v, g) = finite_value_and_grad("leaky_relu", |x| x.leaky_relu(0.01));
    assert_eq!((v[0], g[0], g[5]), (-10.0, 0.01, 1.0));
    let (v, g) = finite_value_and_grad("elu", |x| x.elu(1.0));
    assert_eq!((v[0], v[5], g[0], g[5]), (-1.0, 1000.0, 0.0, 1.0));
    let (v, g) = finite_value_and_grad("gelu", |x| x.gelu());
    assert_eq!((v[5], g[5]), (1000.0, 1.0));
    assert!(
        v[0].abs() < 1e-30 && g[0].abs() < 1e-30,
        "gelu(-1000) = {}, grad {}",
        v[0],
        g[0]
    );
    let (v, g) = finite_value_and_grad("gelu_tanh", |x| x.gelu_tanh());
    assert_eq!((v[5], g[5]), (1000.0, 1.0));
    assert!(v[0].abs() < 1e-30 && g[0].abs() < 1e-30);
}

#[test]
fn softplus_and_log_sigmoid_are_finite_and_exact() {
    // softplus(x) = ln(1 + eˣ): x above the threshold, eˣ far below it.
    let (v, g) = finite_value_and_grad("softplus", |x| x.softplus(1.0, 20.0));
    assert_eq!((v[0], v[5], g[0], g[5]), (0.0, 1000.0, 0.0, 1.0));
    // PyTorch: softplus with beta 1 and threshold 20 at -1 and 0.5.
    assert_close("softplus middle", &v[2..4], &[0.313_261_7, 0.974_077_1]);
    // log σ(x) = −softplus(−x): −1000 at −1000, 0 at 1000, gradient σ(−x).
    let (v, g) = finite_value_and_grad("log_sigmoid", |x| x.log_sigmoid());
    assert_eq!((v[0], v[5], g[0], g[5]), (-1000.0, 0.0, 1.0, 0.0));
    assert_close(
        "log_sigmoid middle",
        &v[2..4],
        &[-1.313_261_7, -0.474_077_1],
    );
}

#[test]
fn log_softmax_of_1000_and_0() {
    let x = Tensor::from_vec(vec![1000.0, 0.0], [2]).requires_grad();
    let y = x.log_softmax(0);
    assert_eq!(y.to_vec(), vec![0.0, -1000.0]);
    // d/dx Σ w·log_softmax = w − softmax·Σw with w = (1, 2): (1 − 3, 2 − 0) = (−2, 2).
    y.backward_with(&Tensor::from_vec(vec![1.0, 2.0], [2]));
    assert_eq!(x.grad().unwrap().to_vec(), vec![-2.0, 2.0]);
}

#[test]
fn softmax_and_logsumexp_at_magnitude_1000() {
    let rows = || {
        Tensor::from_vec(vec![1000.0, 1000.0, -1000.0, -1000.0, -999.0, 0.0], [2, 3])
            .requires_grad()
    };
    let x = rows();
    let s = x.softmax(1);
    assert_close("softmax", &s.to_vec(), &[0.5, 0.5, 0.0, 0.0, 0.0, 1.0]);
    (&s * &Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [2, 3]))
        .sum()
        .backward();
    let g = x.grad().unwrap().to_vec();
    assert!(g.iter().all(|v| v.is_finite()), "{g:?}");
    // Row 0: s = (½, ½, 0), w = (1, 2, 3): s·(w − s·w) = (−¼, ¼, 0).
    assert_close("softmax grad", &g[..3], &[-0.25, 0.25, 0.0]);

    let x = rows();
    let lse = x.logsumexp(1, false);
    // Row 0: 1000 + ln 2; row 1: ln(e⁻¹⁰⁰⁰ + e⁻⁹⁹⁹ + 1) = 0 in f32.
    assert_close("logsumexp", &lse.to_vec(), &[1000.0 + 2f32.ln(), 0.0]);
    lse.sum().backward();
    assert_close(
        "logsumexp grad",
        &x.grad().unwrap().to_vec(),
        &[0.5, 0.5, 0.0, 0.0, 0.0, 1.0],
    );

    let x = rows();
    let ls = x.log_softmax(1);
    assert_close(
        "log_softmax",
        &ls.to_vec(),
        &[
            -(2f32.ln()),
            -(2f32.ln()),
            -2000.0 - 2f32.ln(),
            -1000.0,
            -999.0,
            0.0,
        ],
    );
    ls.sum().backward();
    let g = x.grad().unwrap().to_vec();
    // Σ_j d log_softmax_j / dx_i = 1 − 3·softmax_i.
    assert_close("log_softmax grad", &g, &[-0.5, -0.5, 1.0, 1.0, 1.0, -2.0]);

    let x = rows();
    let all = x.logsumexp_all();
    assert_close("logsumexp_all", &[all.item()], &[1000.0 + 2f32.ln()]);
}
