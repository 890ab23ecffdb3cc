//! Storage of tensor data, one variant per device, and the dispatch from device-independent
//! operations to each backend's kernels. Only `Cpu` exists today; a `Cuda` variant slots in
//! beside it without changes to autograd or the layers.

pub mod cpu;

pub use crate::core::{BinaryOp, Device, UnaryOp};

use crate::core::Layout;

/// Evaluates `$body` with `$f` bound to the scalar function of the unary op `$op`, as a closure
/// whose variant is fixed at compile time: each kernel loop is then compiled for one function
/// (vectorised, no `match` per element). Variants not listed run through the generic closure.
macro_rules! with_unary_fn {
    ($op:expr, |$f:ident| $body:expr) => {{
        use $crate::backend::UnaryOp as U;
        match $op {
            U::Neg => {
                let $f = |x: f32| -x;
                $body
            }
            U::Exp => {
                let $f = |x: f32| x.exp();
                $body
            }
            U::Log => {
                let $f = |x: f32| x.ln();
                $body
            }
            U::Sqrt => {
                let $f = |x: f32| x.sqrt();
                $body
            }
            U::Abs => {
                let $f = |x: f32| x.abs();
                $body
            }
            U::Sigmoid => {
                let $f = |x: f32| U::Sigmoid.apply(x);
                $body
            }
            U::Tanh => {
                let $f = |x: f32| x.tanh();
                $body
            }
            U::Relu => {
                let $f = |x: f32| U::Relu.apply(x);
                $body
            }
            U::LeakyRelu(s) => {
                let $f = move |x: f32| U::LeakyRelu(s).apply(x);
                $body
            }
            U::AddScalar(c) => {
                let $f = move |x: f32| x + c;
                $body
            }
            U::MulScalar(c) => {
                let $f = move |x: f32| x * c;
                $body
            }
            U::PowScalar(c) if c == 2.0 => {
                let $f = |x: f32| x * x;
                $body
            }
            U::ScalarDiv(c) => {
                let $f = move |x: f32| c / x;
                $body
            }
            U::Clamp(lo, hi) => {
                let $f = move |x: f32| U::Clamp(lo, hi).apply(x);
                $body
            }
            U::EqScalar(c) => {
                let $f = move |x: f32| (x == c) as u8 as f32;
                $body
            }
            U::GtScalar(c) => {
                let $f = move |x: f32| (x > c) as u8 as f32;
                $body
            }
            U::LtScalar(c) => {
                let $f = move |x: f32| (x < c) as u8 as f32;
                $body
            }
            other => {
                let $f = move |x: f32| other.apply(x);
                $body
            }
        }
    }};
}

/// Like [`with_unary_fn`] for the binary ops.
macro_rules! with_binary_fn {
    ($op:expr, |$f:ident| $body:expr) => {{
        use $crate::backend::BinaryOp as B;
        match $op {
            B::Add => {
                let $f = |a: f32, b: f32| a + b;
                $body
            }
            B::Sub => {
                let $f = |a: f32, b: f32| a - b;
                $body
            }
            B::Mul => {
                let $f = |a: f32, b: f32| a * b;
                $body
            }
            B::Div => {
                let $f = |a: f32, b: f32| a / b;
                $body
            }
            B::Maximum => {
                let $f = |a: f32, b: f32| B::Maximum.apply(a, b);
                $body
            }
            B::Minimum => {
                let $f = |a: f32, b: f32| B::Minimum.apply(a, b);
                $body
            }
            B::Eq => {
                let $f = |a: f32, b: f32| (a == b) as u8 as f32;
                $body
            }
            B::Gt => {
                let $f = |a: f32, b: f32| (a > b) as u8 as f32;
                $body
            }
            B::Lt => {
                let $f = |a: f32, b: f32| (a < b) as u8 as f32;
                $body
            }
            B::ReluBackward => {
                let $f = |a: f32, b: f32| B::ReluBackward.apply(a, b);
                $body
            }
            B::SigmoidBackward => {
                let $f = |a: f32, b: f32| a * b * (1.0 - b);
                $body
            }
            B::TanhBackward => {
                let $f = |a: f32, b: f32| a * (1.0 - b * b);
                $body
            }
            B::LeakyReluBackward(s) => {
                let $f = move |a: f32, b: f32| B::LeakyReluBackward(s).apply(a, b);
                $body
            }
            other => {
                let $f = move |a: f32, b: f32| other.apply(a, b);
                $body
            }
        }
    }};
}

/// A flat buffer of f32 on one device.
#[derive(Clone, Debug)]
pub enum Storage {
    /// A buffer in main memory.
    Cpu(Vec<f32>),
}

impl Storage {
    /// The device holding the data.
    pub fn device(&self) -> Device {
        match self {
            Storage::Cpu(_) => Device::Cpu,
        }
    }

    /// The buffer's length in elements.
    pub fn len(&self) -> usize {
        match self {
            Storage::Cpu(v) => v.len(),
        }
    }

    /// True for an empty buffer.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Host-side view of the data.
    pub fn as_slice(&self) -> &[f32] {
        match self {
            Storage::Cpu(v) => v,
        }
    }

    /// Mutable host-side view of the data.
    pub fn as_mut_slice(&mut self) -> &mut [f32] {
        match self {
            Storage::Cpu(v) => v,
        }
    }

    /// Applies a pointwise function; the result is row-major.
    pub fn unary(&self, layout: &Layout, op: UnaryOp) -> Storage {
        match self {
            Storage::Cpu(v) => Storage::Cpu(with_unary_fn!(op, |f| cpu::elementwise::unary_map(
                v, layout, f
            ))),
        }
    }

    /// Applies a broadcasting pointwise function of two operands; the result is row-major.
    pub fn binary(
        &self,
        la: &Layout,
        rhs: &Storage,
        lb: &Layout,
        out_dims: &[usize],
        op: BinaryOp,
    ) -> Storage {
        match (self, rhs) {
            (Storage::Cpu(a), Storage::Cpu(b)) => Storage::Cpu(with_binary_fn!(op, |f| {
                cpu::elementwise::binary_map(a, la, b, lb, out_dims, f)
            })),
        }
    }

    /// A row-major copy of what `layout` sees.
    pub fn contiguous(&self, layout: &Layout) -> Storage {
        match self {
            Storage::Cpu(v) => Storage::Cpu(cpu::strided::to_contiguous(v, layout)),
        }
    }
}
