//! Channel dropout: in training each whole channel of a sample is zeroed with probability `p`
//! and the survivors scaled by `1/(1 − p)` (PyTorch's `nn.Dropout2d`).

use super::Module;
use crate::error::{FerriteError, Result};
use crate::tensor::with_rng;
use crate::{Generator, Tensor};
use std::sync::Mutex;

/// Zeroes entire feature maps of `(N, C, H, W)` (or channels of `(N, C, L)`) in training;
/// the identity in evaluation.
///
/// # Shape
///
/// - Input: `(N, C, H, W)` or `(N, C, L)` (at least 3 dimensions: one draw per `(n, c)`).
/// - Output: the input's shape.
///
/// ```
/// use ferrite::nn::{Dropout2d, Module};
/// use ferrite::Tensor;
/// let drop = Dropout2d::new(0.5).unwrap().with_seed(1);
/// let y = drop.forward(&Tensor::ones([4, 8, 3, 3])).to_vec();
/// // each 3x3 map is all 0 or all 2
/// assert!(y.chunks(9).all(|m| m.iter().all(|&v| v == m[0]) && (m[0] == 0.0 || m[0] == 2.0)));
/// assert!(Dropout2d::new(-0.5).is_err());
/// ```
pub struct Dropout2d {
    p: f32,
    training: bool,
    generator: Option<Mutex<Generator>>,
}

impl Dropout2d {
    /// Channel dropout with probability `p`; `p` outside `[0, 1]` is an error.
    pub fn new(p: f32) -> Result<Self> {
        if !(0.0..=1.0).contains(&p) {
            return Err(FerriteError::invalid(
                "Dropout2d p",
                format!("has to be between 0 and 1, but got {p}"),
            ));
        }
        Ok(Dropout2d {
            p,
            training: true,
            generator: None,
        })
    }

    /// Draws masks from a generator of its own, started from `seed`.
    pub fn with_seed(mut self, seed: u64) -> Self {
        self.generator = Some(Mutex::new(Generator::new(seed)));
        self
    }

    /// The drop probability.
    pub fn p(&self) -> f32 {
        self.p
    }
}

impl Module for Dropout2d {
    fn forward(&self, x: &Tensor) -> Tensor {
        assert!(
            x.rank() >= 3,
            "Dropout2d: expected input (N, C, H, W) or (N, C, L), got {:?}",
            x.dims()
        );
        if !self.training || self.p == 0.0 {
            return x.clone();
        }
        // One draw per (sample, channel), broadcast over the positions:
        // mask = [u < 1 − p] / (1 − p)
        let mut mask_dims = x.dims()[..2].to_vec();
        mask_dims.extend(std::iter::repeat_n(1, x.rank() - 2));
        let u = match &self.generator {
            Some(g) => Tensor::rand_with(mask_dims, &mut g.lock().expect("dropout generator lock")),
            None => with_rng(|g| Tensor::rand_with(mask_dims, g)),
        }
        .to(&x.device());
        let keep = if self.p == 1.0 {
            0.0
        } else {
            1.0 / (1.0 - self.p)
        };
        x * &(u.lt_scalar(1.0 - self.p) * keep)
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
        format!("Dropout2d(p={})", self.p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_about_p_of_the_channels_and_eval_is_identity() {
        let mut drop = Dropout2d::new(0.25).unwrap().with_seed(3);
        let y = drop.forward(&Tensor::ones([100, 40, 2, 2])).to_vec();
        let dropped = y.chunks(4).filter(|m| m[0] == 0.0).count() as f32 / 4000.0;
        assert!((dropped - 0.25).abs() < 0.03, "dropped {dropped}");
        assert!(y.iter().all(|&v| v == 0.0 || (v - 4.0 / 3.0).abs() < 1e-6));
        drop.eval();
        let x = Tensor::randn([2, 3, 4]);
        assert_eq!(drop.forward(&x).to_vec(), x.to_vec());
        let e = Dropout2d::new(1.5).err().expect("an error").to_string();
        assert_eq!(
            e,
            "invalid Dropout2d p: has to be between 0 and 1, but got 1.5"
        );
    }
}
