//! Dropout with inverted scaling: in training each element is kept with probability `1 − p`
//! and scaled by `1/(1 − p)`, so evaluation is the identity.

use super::Module;
use crate::error::{FerriteError, Result};
use crate::tensor::with_rng;
use crate::{Generator, Tensor};
use std::sync::Mutex;

/// Randomly zeroes elements in training mode (PyTorch's `nn.Dropout`).
///
/// # Shape
///
/// - Input: `(*)`, any shape.
/// - Output: `(*)`, the input's shape.
///
/// ```
/// use ferrite::nn::{Dropout, Module};
/// use ferrite::Tensor;
/// let mut drop = Dropout::new(0.5).unwrap().with_seed(42);
/// let y = drop.forward(&Tensor::ones([1000]));
/// // Survivors are scaled by 1/(1 − p) = 2.
/// assert!(y.to_vec().iter().all(|&v| v == 0.0 || v == 2.0));
/// drop.eval();
/// assert_eq!(drop.forward(&Tensor::ones([3])).to_vec(), vec![1.0; 3]);
/// assert!(Dropout::new(1.5).is_err());
/// ```
pub struct Dropout {
    p: f32,
    training: bool,
    /// Its own generator when seeded; otherwise the global one.
    generator: Option<Mutex<Generator>>,
}

impl Dropout {
    /// Dropout with drop probability `p`; `p` outside `[0, 1]` is an error.
    pub fn new(p: f32) -> Result<Dropout> {
        if !(0.0..=1.0).contains(&p) {
            return Err(FerriteError::invalid(
                "Dropout p",
                format!("has to be between 0 and 1, but got {p}"),
            ));
        }
        Ok(Dropout {
            p,
            training: true,
            generator: None,
        })
    }

    /// Draws masks from a generator of its own, started from `seed`, so that runs repeat
    /// regardless of other random draws.
    pub fn with_seed(mut self, seed: u64) -> Dropout {
        self.generator = Some(Mutex::new(Generator::new(seed)));
        self
    }

    /// The drop probability.
    pub fn p(&self) -> f32 {
        self.p
    }

    fn uniform_like(&self, x: &Tensor) -> Tensor {
        let u = match &self.generator {
            Some(g) => Tensor::rand_with(
                x.shape().clone(),
                &mut g.lock().expect("dropout generator lock"),
            ),
            None => with_rng(|g| Tensor::rand_with(x.shape().clone(), g)),
        };
        // On the input's device: the samples come from the host generator either way.
        u.to(&x.device())
    }
}

impl Module for Dropout {
    fn forward(&self, x: &Tensor) -> Tensor {
        if !self.training || self.p == 0.0 {
            return x.clone();
        }
        if self.p == 1.0 {
            return x * 0.0;
        }
        // mask = [u < 1 − p] / (1 − p), u ~ U[0, 1)
        let mask = self.uniform_like(x).lt_scalar(1.0 - self.p) * (1.0 / (1.0 - self.p));
        x * &mask
    }

    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        Vec::new()
    }

    fn set_training(&mut self, training: bool) {
        self.training = training;
    }

    fn is_training(&self) -> bool {
        self.training
    }

    fn describe(&self) -> String {
        format!(
            "Dropout(p={}, inplace=False)",
            super::activation::py_float(self.p)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_about_one_minus_p_and_preserves_the_mean() {
        let drop = Dropout::new(0.3).unwrap().with_seed(7);
        let y = drop.forward(&Tensor::ones([20000])).to_vec();
        let kept = y.iter().filter(|&&v| v != 0.0).count() as f32 / 20000.0;
        assert!((kept - 0.7).abs() < 0.015, "kept {kept}");
        assert!(y.iter().all(|&v| v == 0.0 || (v - 1.0 / 0.7).abs() < 1e-6));
        let mean = y.iter().sum::<f32>() / 20000.0;
        assert!((mean - 1.0).abs() < 0.03);
    }

    #[test]
    fn seeded_masks_repeat_and_gradients_follow_the_mask() {
        let x = Tensor::ones([50]).requires_grad();
        let a = Dropout::new(0.5).unwrap().with_seed(3).forward(&x);
        let b = Dropout::new(0.5).unwrap().with_seed(3).forward(&x).to_vec();
        assert_eq!(a.to_vec(), b);
        a.sum().backward();
        // d(x·mask) = mask
        assert_eq!(x.grad().unwrap().to_vec(), b);
    }

    #[test]
    fn edge_probabilities_and_errors() {
        let x = Tensor::from_vec(vec![1.0, -2.0], [2]);
        assert_eq!(Dropout::new(0.0).unwrap().forward(&x).to_vec(), x.to_vec());
        assert_eq!(
            Dropout::new(1.0).unwrap().forward(&x).to_vec(),
            vec![0.0, 0.0]
        );
        let err = Dropout::new(-0.1).err().unwrap().to_string();
        assert_eq!(
            err,
            "invalid Dropout p: has to be between 0 and 1, but got -0.1"
        );
    }
}
