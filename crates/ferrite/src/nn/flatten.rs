//! Shape-only layers: `Flatten` (to `(N, features)` by default) and `Identity`.

use super::Module;
use crate::Tensor;

/// Flattens dimensions `start_dim..=end_dim` into one (PyTorch defaults: 1 and −1, so a batch
/// `(N, C, H, W)` becomes `(N, C·H·W)`).
///
/// # Shape
///
/// - Input: `(*, S_start, …, S_end, *)`, dimensions `start_dim..=end_dim` of any sizes.
/// - Output: `(*, S_start·…·S_end, *)`; with the defaults `(N, *dims)` becomes
///   `(N, ∏ dims)`.
///
/// ```
/// use ferrite::nn::{Flatten, Module};
/// use ferrite::Tensor;
/// assert_eq!(Flatten::new().forward(&Tensor::zeros([8, 16, 5, 5])).dims(), &[8, 400]);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Flatten {
    /// First dimension flattened.
    pub start_dim: isize,
    /// Last dimension flattened (negative counts from the end).
    pub end_dim: isize,
}

impl Flatten {
    /// Flattens everything but the batch dimension.
    pub fn new() -> Flatten {
        Flatten {
            start_dim: 1,
            end_dim: -1,
        }
    }

    /// Flattens `start_dim..=end_dim`.
    pub fn with_dims(start_dim: isize, end_dim: isize) -> Flatten {
        Flatten { start_dim, end_dim }
    }
}

impl Default for Flatten {
    fn default() -> Self {
        Flatten::new()
    }
}

impl Module for Flatten {
    fn forward(&self, x: &Tensor) -> Tensor {
        x.flatten(self.start_dim, self.end_dim)
    }

    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        Vec::new()
    }

    fn describe(&self) -> String {
        format!(
            "Flatten(start_dim={}, end_dim={})",
            self.start_dim, self.end_dim
        )
    }
}

/// Returns its input unchanged (a placeholder layer, as PyTorch's `nn.Identity`).
///
/// # Shape
///
/// - Input: `(*)`, any shape.
/// - Output: `(*)`, the input itself.
#[derive(Clone, Copy, Debug, Default)]
pub struct Identity;

impl Module for Identity {
    fn forward(&self, x: &Tensor) -> Tensor {
        x.clone()
    }

    fn named_parameters(&self) -> Vec<(String, Tensor)> {
        Vec::new()
    }

    fn describe(&self) -> String {
        "Identity()".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flatten_ranges_and_identity() {
        let x = Tensor::arange(0.0, 24.0, 1.0).reshape([2, 3, 4]);
        assert_eq!(Flatten::new().forward(&x).dims(), &[2, 12]);
        assert_eq!(Flatten::with_dims(0, 1).forward(&x).dims(), &[6, 4]);
        assert_eq!(Flatten::new().forward(&x).to_vec(), x.to_vec());
        assert_eq!(Identity.forward(&x).to_vec(), x.to_vec());
        assert_eq!(
            Flatten::new().describe(),
            "Flatten(start_dim=1, end_dim=-1)"
        );
    }
}
