//! # Ferrite
//!
//! A deep-learning framework in Rust: tensors with automatic differentiation, the layers,
//! losses and optimizers that classic deep-learning courses teach, with PyTorch's semantics
//! and numbers; classical linear and logistic regression with their metrics; data loading,
//! a training loop, model files and plots.
//!
//! Gradients of anything built from tensor operations:
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
//!
//! A complete training loop, PyTorch style: a small network learns XOR-like data.
//!
//! ```
//! use ferrite::nn::loss::{BCEWithLogitsLoss, Loss};
//! use ferrite::nn::{Linear, Module, ReLU, Sequential};
//! use ferrite::optim::{Adam, AdamConfig, Optimizer};
//! use ferrite::Tensor;
//!
//! ferrite::manual_seed(0);
//! // Label 1 when exactly one coordinate is positive.
//! let x = Tensor::randn([256, 2]);
//! let v = x.to_vec();
//! let y: Vec<f32> = v.chunks(2).map(|p| ((p[0] > 0.0) != (p[1] > 0.0)) as u8 as f32).collect();
//! let y = Tensor::from_vec(y, [256, 1]);
//!
//! let model = Sequential::new().add(Linear::new(2, 16)?).add(ReLU).add(Linear::new(16, 1)?);
//! let mut opt = Adam::new(model.parameters(), AdamConfig { lr: 0.05, ..AdamConfig::default() })?;
//! let loss_fn = BCEWithLogitsLoss::new();
//! for _ in 0..300 {
//!     opt.zero_grad();
//!     let loss = loss_fn.forward(&model.forward(&x), &y)?;
//!     loss.backward();
//!     opt.step();
//! }
//! let predicted = model.forward(&x).gt_scalar(0.0);
//! let accuracy = predicted.eq(&y).mean().item();
//! assert!(accuracy > 0.95, "accuracy {accuracy}");
//! # Ok::<(), ferrite::FerriteError>(())
//! ```

// Every unsafe operation sits in an `unsafe {}` block with its own `// SAFETY:` argument,
// also inside `unsafe fn`s, whose callers only promise the preconditions in `# Safety`.
#![deny(unsafe_op_in_unsafe_fn)]
//!
//! Element types and devices (the README's example): float64 everywhere, int64 tensors,
//! float16 storage, PyTorch's promotion, moving a model, and gradcheck in float64.
//!
//! ```
//! use ferrite::nn::{Linear, Module};
//! use ferrite::{gradcheck, DType, Device, Tensor, TensorOptions};
//!
//! let x = Tensor::randn([4, 3]).to_dtype(DType::F64);
//! let t = Tensor::zeros_with([4], TensorOptions::new().dtype(DType::I64));
//! assert_eq!(t.dtype(), DType::I64);
//! let h = x.to_dtype(DType::F16);
//! assert_eq!((&h + &Tensor::scalar(1.0)).dtype(), DType::F16);
//!
//! let fc = Linear::new(3, 2).unwrap();
//! fc.to(&Device::Cpu);
//! let w = fc.weight.detach().requires_grad();
//! gradcheck(|v| v[0].matmul(&v[1].transpose(0, 1)).tanh().sum(), &[x, w]).unwrap();
//! ```
//!
//! On a GPU: any adapter wgpu finds (Vulkan, Metal, DX12; Mesa's software Vulkan without a
//! GPU), every operation in WGSL kernels, the same code:
//!
//! ```
//! use ferrite::nn::{Linear, Module};
//! use ferrite::{Device, Tensor};
//!
//! let gpu = Device::Wgpu(0);
//! gpu.check_available().expect("a wgpu adapter (or mesa-vulkan-drivers)");
//! let fc = Linear::new(3, 2).unwrap();
//! fc.to(&gpu);
//! let x = Tensor::randn([4, 3]).to(&gpu);
//! fc.forward(&x).relu().sum().backward();
//! let grad = fc.weight.grad().unwrap();
//! assert_eq!(grad.device(), gpu);
//! assert_eq!(grad.to(&Device::Cpu).dims(), &[2, 3]);
//! ```

pub mod autograd;
pub mod backend;
pub mod core;
pub mod data;
pub mod distributed;
pub mod error;
pub mod linear_model;
pub mod metrics;
pub mod nn;
pub mod optim;
pub mod plot;
pub mod tensor;
pub mod train;

pub use crate::core::{DType, Device};
pub use autograd::{
    gradcheck, gradcheck_with, is_grad_enabled, no_grad, GradcheckError, NoGradGuard,
};
#[cfg(feature = "wgpu")]
pub use backend::wgpu::{adapters as wgpu_adapters, GpuAdapter};
pub use error::{FerriteError, Result};
pub use tensor::{
    default_device, manual_seed, set_default_device, Generator, Layout, Shape, Tensor,
    TensorOptions,
};
