//! The `Module` trait: a layer or a model with parameters, buffers and a train/eval mode.

use crate::Tensor;

/// A layer or model. Parameters are `Tensor` handles: optimizers update them in place, so a
/// module needs no `&mut` to be trained.
///
/// Names follow PyTorch (`weight`, `bias`, `0.weight`, `fc1.bias`, `running_mean`), so that
/// state dicts can be exchanged with PyTorch.
pub trait Module: Send + Sync {
    /// Computes the output for a batch.
    fn forward(&self, x: &Tensor) -> Tensor;

    /// Trainable parameters with their names, in registration order.
    fn named_parameters(&self) -> Vec<(String, Tensor)>;

    /// Non-trainable state saved with the model (batch-norm running statistics).
    fn named_buffers(&self) -> Vec<(String, Tensor)> {
        Vec::new()
    }

    /// Trainable parameters, in registration order.
    fn parameters(&self) -> Vec<Tensor> {
        self.named_parameters()
            .into_iter()
            .map(|(_, t)| t)
            .collect()
    }

    /// Switches training behaviour (dropout, batch norm) on or off.
    fn set_training(&mut self, _training: bool) {}

    /// True in training mode.
    fn is_training(&self) -> bool {
        true
    }

    /// Training mode (PyTorch's `model.train()`).
    fn train(&mut self) {
        self.set_training(true)
    }

    /// Evaluation mode (PyTorch's `model.eval()`).
    fn eval(&mut self) {
        self.set_training(false)
    }

    /// A short description for summaries, like PyTorch's repr: `Linear(in_features=30, ...)`.
    fn describe(&self) -> String {
        std::any::type_name::<Self>()
            .rsplit("::")
            .next()
            .unwrap_or("Module")
            .to_string()
    }

    /// The number of trainable scalars.
    fn num_parameters(&self) -> usize {
        self.parameters().iter().map(|p| p.numel()).sum()
    }

    /// Moves every parameter (with its gradient) and buffer to `device` in place, as
    /// PyTorch's `model.to(device)`: optimizers built on these parameters keep working.
    ///
    /// ```
    /// use ferrite::nn::{Linear, Module};
    /// use ferrite::Device;
    /// let fc = Linear::new(3, 2).unwrap();
    /// fc.to(&Device::Cpu);
    /// assert!(fc.parameters().iter().all(|p| p.device() == Device::Cpu));
    /// ```
    fn to(&self, device: &crate::Device) {
        for p in self.parameters() {
            p.move_to_(device);
        }
        for (_, b) in self.named_buffers() {
            b.move_to_(device);
        }
    }

    /// Clears the gradients of all parameters.
    fn zero_grad(&self) {
        for p in self.parameters() {
            p.zero_grad();
        }
    }

    /// The direct sub-modules with their names (`0`, `1`, ... in a `Sequential`), for
    /// summaries. Leaf layers have none.
    fn named_children(&self) -> Vec<(String, &dyn Module)> {
        Vec::new()
    }

    /// True when `forward` is the children applied one after another (as in `Sequential`),
    /// so a summary can show each child's output shape.
    fn runs_children_in_order(&self) -> bool {
        false
    }

    /// Every parameter and buffer by name, in PyTorch's order (PyTorch's `state_dict()`).
    fn state_dict(&self) -> crate::nn::StateDict {
        crate::nn::StateDict::from_parts(self.named_parameters(), self.named_buffers())
    }

    /// Copies a state dict's tensors into this model's parameters and buffers, as PyTorch's
    /// `load_state_dict(sd)` (strict): a missing or unexpected key, or a key whose shape
    /// differs, is an error. The error lists every offending key, and nothing is copied
    /// unless all fit.
    fn load_state_dict(&self, state_dict: &crate::nn::StateDict) -> crate::Result<()> {
        let mut targets = self.named_parameters();
        targets.extend(self.named_buffers());
        crate::nn::state_dict::load_into(targets, state_dict, true)
    }

    /// [`load_state_dict`](Self::load_state_dict) that skips missing and unexpected keys
    /// (PyTorch's `strict=False`); a key whose shape differs is still an error.
    fn load_state_dict_non_strict(&self, state_dict: &crate::nn::StateDict) -> crate::Result<()> {
        let mut targets = self.named_parameters();
        targets.extend(self.named_buffers());
        crate::nn::state_dict::load_into(targets, state_dict, false)
    }
}
