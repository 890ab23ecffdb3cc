//! # Ferrite
//!
//! A deep-learning framework in Rust: tensors with automatic differentiation, the layers,
//! losses and optimizers that classic deep-learning courses teach, with PyTorch's semantics.
//!
//! ```
//! use ferrite::Tensor;
//!
//! // y = Σ (w·x + b)², and its gradient with respect to w and b.
//! let x = Tensor::from_vec(vec![1.0, 2.0, 3.0], [3]);
//! let w = Tensor::from_vec(vec![0.5, -0.5, 1.0], [3]).requires_grad();
//! let b = Tensor::scalar(0.1).requires_grad();
//! let y = (&(&w * &x) + &b).square().sum();
//! y.backward();
//! // dy/dw = 2(w·x + b)·x
//! let wx_b = [0.6f32, -0.9, 3.1];
//! let expected: Vec<f32> = wx_b.iter().zip([1.0, 2.0, 3.0]).map(|(v, x)| 2.0 * v * x).collect();
//! let got = w.grad().unwrap().to_vec();
//! assert!(got.iter().zip(&expected).all(|(a, b)| (a - b).abs() < 1e-5));
//! ```

pub mod autograd;
pub mod backend;
pub mod data;
pub mod error;
pub mod nn;
pub mod optim;
pub mod tensor;

pub use autograd::{gradcheck, gradcheck_with, is_grad_enabled, no_grad, GradcheckError, NoGradGuard};
pub use backend::Device;
pub use error::{FerriteError, Result};
pub use tensor::{manual_seed, Generator, Layout, Shape, Tensor};
