//! Parameter initialisation, in place, with PyTorch's names and formulas (`torch.nn.init`).
//!
//! Every function draws from the global generator ([`crate::manual_seed`]) and overwrites the
//! tensor's elements without recording history.
//!
//! | function | distribution |
//! |---|---|
//! | [`uniform`] | `U(a, b)` |
//! | [`normal`] | `N(mean, std²)` (the course's `randn * 0.01` is `normal(t, 0.0, 0.01)`) |
//! | [`xavier_uniform`] | `U(±gain·√(6/(fan_in+fan_out)))` |
//! | [`xavier_normal`] | `N(0, (gain·√(2/(fan_in+fan_out)))²)` |
//! | [`kaiming_uniform`] | `U(±gain·√(3/fan))` |
//! | [`kaiming_normal`] | `N(0, (gain/√fan)²)` |
//!
//! ```
//! use ferrite::nn::init::{self, FanMode, Nonlinearity};
//! use ferrite::Tensor;
//! ferrite::manual_seed(0);
//! let w = Tensor::zeros([256, 128]);
//! init::kaiming_uniform(&w, FanMode::FanIn, Nonlinearity::Relu);
//! let bound = 2f32.sqrt() * (3.0f32 / 128.0).sqrt();
//! assert!(w.to_vec().iter().all(|v| v.abs() <= bound));
//! ```

use crate::backend::Storage;
use crate::tensor::{with_rng, Layout};
use crate::Tensor;

/// The nonlinearity that follows a layer, which sets the gain of scaled initialisations.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Nonlinearity {
    /// No nonlinearity (also convolutions): gain 1.
    Linear,
    /// Sigmoid: gain 1.
    Sigmoid,
    /// Tanh: gain 5/3.
    Tanh,
    /// ReLU: gain √2.
    Relu,
    /// Leaky ReLU with this negative slope: gain √(2/(1 + slope²)).
    LeakyRelu(f32),
    /// SELU: gain 3/4.
    Selu,
}

/// Whether a scaled initialisation preserves the variance of the forward pass (fan in) or of
/// the backward pass (fan out).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FanMode {
    /// Number of inputs of each output unit.
    FanIn,
    /// Number of outputs fed by each input unit.
    FanOut,
}

/// The recommended gain for a nonlinearity (PyTorch's `calculate_gain`).
///
/// ```
/// use ferrite::nn::init::{calculate_gain, Nonlinearity};
/// assert_eq!(calculate_gain(Nonlinearity::Tanh), 5.0 / 3.0);
/// assert!((calculate_gain(Nonlinearity::Relu) - 2f32.sqrt()).abs() < 1e-7);
/// ```
pub fn calculate_gain(nonlinearity: Nonlinearity) -> f32 {
    match nonlinearity {
        Nonlinearity::Linear | Nonlinearity::Sigmoid => 1.0,
        Nonlinearity::Tanh => 5.0 / 3.0,
        Nonlinearity::Relu => 2f32.sqrt(),
        Nonlinearity::LeakyRelu(slope) => (2.0 / (1.0 + slope * slope)).sqrt(),
        Nonlinearity::Selu => 0.75,
    }
}

/// `(fan_in, fan_out)` of a weight: `dims[1]·receptive` and `dims[0]·receptive`, where
/// `receptive` is the product of the dimensions after the second (kernel size of a
/// convolution). Panics for fewer than 2 dimensions, as PyTorch raises.
pub fn fan_in_and_fan_out(dims: &[usize]) -> (usize, usize) {
    assert!(
        dims.len() >= 2,
        "init: fan in and fan out can not be computed for tensor with fewer than 2 dimensions (shape {dims:?})"
    );
    let receptive: usize = dims[2..].iter().product();
    (dims[1] * receptive, dims[0] * receptive)
}

fn fan(dims: &[usize], mode: FanMode) -> usize {
    let (fan_in, fan_out) = fan_in_and_fan_out(dims);
    match mode {
        FanMode::FanIn => fan_in,
        FanMode::FanOut => fan_out,
    }
}

/// Fills `t` with `U(low, high)`.
pub fn uniform(t: &Tensor, low: f32, high: f32) {
    assert!(
        low <= high,
        "init::uniform: expects a [from, to) range, but found from={low} > to={high}"
    );
    let device = t.device();
    overwrite(
        t,
        with_rng(|g| Storage::uniform(t.numel(), low, high, g, device)),
    );
}

/// Fills `t` with `N(mean, std²)`.
pub fn normal(t: &Tensor, mean: f32, std: f32) {
    assert!(
        std >= 0.0,
        "init::normal: expects std >= 0.0, but found std {std}"
    );
    let device = t.device();
    overwrite(
        t,
        with_rng(|g| Storage::normal(t.numel(), mean, std, g, device)),
    );
}

/// Fills `t` with `value`.
pub fn constant(t: &Tensor, value: f32) {
    t.copy_(&t.full_like(value));
}

/// Overwrites `t`'s elements, in row-major order, with the row-major buffer `values` (no
/// history: initialisers write parameters as data).
fn overwrite(t: &Tensor, values: Storage) {
    t.copy_(&Tensor::from_storage(
        values,
        Layout::contiguous(t.shape().clone()),
    ));
}

/// Fills `t` with zeros.
pub fn zeros(t: &Tensor) {
    constant(t, 0.0);
}

/// Fills `t` with ones.
pub fn ones(t: &Tensor) {
    constant(t, 1.0);
}

/// Glorot/Xavier uniform: `U(±gain·√(6/(fan_in + fan_out)))`.
pub fn xavier_uniform(t: &Tensor, gain: f32) {
    let (fan_in, fan_out) = fan_in_and_fan_out(t.dims());
    let bound = gain * (6.0 / (fan_in + fan_out) as f32).sqrt();
    uniform(t, -bound, bound);
}

/// Glorot/Xavier normal: `N(0, std²)`, `std = gain·√(2/(fan_in + fan_out))`.
pub fn xavier_normal(t: &Tensor, gain: f32) {
    let (fan_in, fan_out) = fan_in_and_fan_out(t.dims());
    normal(t, 0.0, gain * (2.0 / (fan_in + fan_out) as f32).sqrt());
}

/// He/Kaiming uniform: `U(±gain·√(3/fan))`.
pub fn kaiming_uniform(t: &Tensor, mode: FanMode, nonlinearity: Nonlinearity) {
    let bound = calculate_gain(nonlinearity) * (3.0 / fan(t.dims(), mode) as f32).sqrt();
    uniform(t, -bound, bound);
}

/// He/Kaiming normal: `N(0, std²)`, `std = gain/√fan`.
pub fn kaiming_normal(t: &Tensor, mode: FanMode, nonlinearity: Nonlinearity) {
    normal(
        t,
        0.0,
        calculate_gain(nonlinearity) / (fan(t.dims(), mode) as f32).sqrt(),
    );
}

/// PyTorch's default initialisation of Linear and Conv layers: the weight by
/// `kaiming_uniform(a = √5)`, which is `U(±1/√fan_in)`, and the bias by `U(±1/√fan_in)`.
pub fn linear_default(weight: &Tensor, bias: Option<&Tensor>) {
    let (fan_in, _) = fan_in_and_fan_out(weight.dims());
    // gain(leaky_relu, √5)·√(3/fan_in) = √(2/6)·√(3/fan_in) = 1/√fan_in
    kaiming_uniform(weight, FanMode::FanIn, Nonlinearity::LeakyRelu(5f32.sqrt()));
    if let Some(b) = bias {
        let bound = if fan_in > 0 {
            1.0 / (fan_in as f32).sqrt()
        } else {
            0.0
        };
        uniform(b, -bound, bound);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mean_std(v: &[f32]) -> (f32, f32) {
        let n = v.len() as f64;
        let mean = v.iter().map(|&x| x as f64).sum::<f64>() / n;
        let var = v.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / n;
        (mean as f32, var.sqrt() as f32)
    }

    #[test]
    fn gains_match_pytorch() {
        assert_eq!(calculate_gain(Nonlinearity::Linear), 1.0);
        assert_eq!(calculate_gain(Nonlinearity::Sigmoid), 1.0);
        assert!((calculate_gain(Nonlinearity::Tanh) - 1.666_666_7).abs() < 1e-6);
        assert!((calculate_gain(Nonlinearity::Relu) - std::f32::consts::SQRT_2).abs() < 1e-6);
        // PyTorch: calculate_gain('leaky_relu', 0.2) = 1.3867504905630728
        assert!((calculate_gain(Nonlinearity::LeakyRelu(0.2)) - 1.386_750_5).abs() < 1e-6);
        assert_eq!(calculate_gain(Nonlinearity::Selu), 0.75);
    }

    #[test]
    fn fans_include_the_receptive_field() {
        assert_eq!(fan_in_and_fan_out(&[64, 30]), (30, 64));
        assert_eq!(fan_in_and_fan_out(&[16, 6, 5, 5]), (150, 400));
    }

    #[test]
    #[should_panic(expected = "fewer than 2 dimensions")]
    fn fans_of_a_vector_panic() {
        fan_in_and_fan_out(&[5]);
    }

    #[test]
    fn uniform_families_respect_their_closed_form_bounds() {
        crate::manual_seed(11);
        let t = Tensor::zeros([400, 250]);
        // xavier_uniform with gain 2: bound = 2·√(6/650); std of U(±a) = a/√3
        xavier_uniform(&t, 2.0);
        let bound = 2.0 * (6.0f32 / 650.0).sqrt();
        let v = t.to_vec();
        assert!(v.iter().all(|x| x.abs() <= bound));
        assert!(
            v.iter().any(|x| x.abs() > 0.99 * bound),
            "samples should reach the bound"
        );
        let (m, s) = mean_std(&v);
        assert!(
            m.abs() < 0.003 && (s - bound / 3f32.sqrt()).abs() < 0.003,
            "mean {m} std {s}"
        );
        // kaiming_uniform, fan_out, tanh: bound = 5/3·√(3/400)
        kaiming_uniform(&t, FanMode::FanOut, Nonlinearity::Tanh);
        let bound = 5.0 / 3.0 * (3.0f32 / 400.0).sqrt();
        let (_, s) = mean_std(&t.to_vec());
        assert!(t.to_vec().iter().all(|x| x.abs() <= bound));
        assert!((s - bound / 3f32.sqrt()).abs() < 0.002, "std {s}");
        uniform(&t, 2.0, 3.0);
        let (m, _) = mean_std(&t.to_vec());
        assert!(t.to_vec().iter().all(|x| (2.0..3.0).contains(x)) && (m - 2.5).abs() < 0.01);
    }

    #[test]
    fn normal_families_have_their_closed_form_std() {
        crate::manual_seed(12);
        let t = Tensor::zeros([500, 200]);
        xavier_normal(&t, 1.0);
        let (m, s) = mean_std(&t.to_vec());
        let want = (2.0f32 / 700.0).sqrt();
        assert!(
            m.abs() < 0.002 && (s - want).abs() / want < 0.02,
            "mean {m} std {s}"
        );
        kaiming_normal(&t, FanMode::FanIn, Nonlinearity::Relu);
        let (_, s) = mean_std(&t.to_vec());
        let want = 2f32.sqrt() / 200f32.sqrt();
        assert!((s - want).abs() / want < 0.02, "std {s}");
        kaiming_normal(&t, FanMode::FanOut, Nonlinearity::LeakyRelu(0.1));
        let (_, s) = mean_std(&t.to_vec());
        let want = (2.0f32 / 1.01).sqrt() / 500f32.sqrt();
        assert!((s - want).abs() / want < 0.02, "std {s}");
        normal(&t, 3.0, 0.01);
        let (m, s) = mean_std(&t.to_vec());
        assert!(
            (m - 3.0).abs() < 1e-3 && (s - 0.01).abs() < 5e-4,
            "mean {m} std {s}"
        );
    }

    #[test]
    fn constants() {
        let t = Tensor::ones([3, 2]);
        zeros(&t);
        assert_eq!(t.to_vec(), vec![0.0; 6]);
        constant(&t, 0.25);
        assert_eq!(t.to_vec(), vec![0.25; 6]);
        ones(&t);
        assert_eq!(t.to_vec(), vec![1.0; 6]);
    }
}
