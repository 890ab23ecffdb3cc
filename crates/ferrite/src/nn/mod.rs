//! Neural-network building blocks with PyTorch's names, shapes and defaults.

mod module;

pub use module::Module;
