//! Optimizers, learning-rate schedules and gradient clipping, with PyTorch's update rules.

/// Updates parameters from their gradients.
pub trait Optimizer: Send {
    /// Applies one update to every parameter that has a gradient.
    fn step(&mut self);
    /// Clears the gradients of every parameter.
    fn zero_grad(&self);
    /// The learning rate of the first parameter group.
    fn lr(&self) -> f32;
    /// Sets the learning rate of every parameter group.
    fn set_lr(&mut self, lr: f32);
}
