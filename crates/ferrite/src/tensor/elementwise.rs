//! Elementwise arithmetic with NumPy/PyTorch broadcasting, comparisons, and the operators
//! `+ - * /` on tensors and `f32` scalars.

use super::{broadcast_shapes, try_broadcast_shapes, Layout, Tensor};
use crate::autograd::Op;
use crate::backend::{BinaryOp, UnaryOp};
use crate::core::DType;
use std::ops::{Add, Div, Mul, Neg, Sub};

impl Tensor {
    /// Applies a pointwise function, recording it for autograd.
    pub(crate) fn unary_op(&self, op: UnaryOp) -> Tensor {
        if !matches!(self.dtype(), DType::F32 | DType::F64) {
            // Kernels run in f32 and f64: others compute there; halves keep their type.
            let out = self.in_compute_dtype().unary_op(op);
            return match self.dtype() {
                DType::F16 | DType::BF16 => out.to_dtype(self.dtype()),
                _ => out,
            };
        }
        let storage = self.storage().unary(self.layout(), op);
        let out = Tensor::from_storage(storage, Layout::contiguous(self.shape().clone()));
        let differentiable = !matches!(
            op,
            UnaryOp::Sign
                | UnaryOp::EqScalar(_)
                | UnaryOp::GtScalar(_)
                | UnaryOp::LtScalar(_)
                | UnaryOp::FiniteOrZero
        );
        if differentiable {
            out.attach(Op::Unary(op), vec![self.clone()])
        } else {
            out
        }
    }

    /// A binary op on operands of different types, or of a type without kernels: both are
    /// converted to PyTorch's result type (see [`DType::result_type`]), computed in f32 or
    /// f64, and the result converted back to the result type (comparisons stay 0/1 floats).
    fn binary_promoted(&self, rhs: &Tensor, op: BinaryOp) -> Tensor {
        let out = DType::result_type(
            (self.dtype(), self.rank() == 0),
            (rhs.dtype(), rhs.rank() == 0),
        );
        let compute = crate::tensor::dtype::compute_dtype(out);
        let result = self.to_dtype(compute).binary_op(&rhs.to_dtype(compute), op);
        let comparison = matches!(
            op,
            BinaryOp::Eq | BinaryOp::Ne | BinaryOp::Gt | BinaryOp::Ge | BinaryOp::Lt | BinaryOp::Le
        );
        if comparison || out == compute {
            result
        } else {
            result.to_dtype(out)
        }
    }

    /// Applies a pointwise function without recording it (post-processing inside ops that
    /// record themselves).
    pub(crate) fn map_detached(&self, op: UnaryOp) -> Tensor {
        let storage = self.storage().unary(self.layout(), op);
        Tensor::from_storage(storage, Layout::contiguous(self.shape().clone()))
    }

    /// Applies a broadcasting pointwise function of two tensors, recording it for autograd.
    pub(crate) fn binary_op(&self, rhs: &Tensor, op: BinaryOp) -> Tensor {
        let dims = if self.dims() == rhs.dims() {
            self.dims().to_vec()
        } else {
            // The op's name is formatted only on failure: this runs on every broadcasting op.
            try_broadcast_shapes(self.dims(), rhs.dims())
                .unwrap_or_else(|| broadcast_shapes(self.dims(), rhs.dims(), &format!("{op:?}")))
        };
        let (da, db) = (self.dtype(), rhs.dtype());
        if da != db || !matches!(da, DType::F32 | DType::F64) {
            return self.binary_promoted(rhs, op);
        }
        let storage = {
            let a = self.storage();
            let b = rhs.storage();
            a.binary(self.layout(), &b, rhs.layout(), &dims, op)
        };
        let out = Tensor::from_storage(storage, Layout::contiguous(dims));
        let differentiable = matches!(
            op,
            BinaryOp::Add
                | BinaryOp::Sub
                | BinaryOp::Mul
                | BinaryOp::Div
                | BinaryOp::Pow
                | BinaryOp::Maximum
                | BinaryOp::Minimum
        );
        if differentiable {
            out.attach(Op::Binary(op), vec![self.clone(), rhs.clone()])
        } else {
            out
        }
    }

    /// `self + rhs`, broadcasting.
    pub fn add(&self, rhs: &Tensor) -> Tensor {
        self.binary_op(rhs, BinaryOp::Add)
    }
    /// `self - rhs`, broadcasting.
    pub fn sub(&self, rhs: &Tensor) -> Tensor {
        self.binary_op(rhs, BinaryOp::Sub)
    }
    /// `self * rhs` elementwise, broadcasting.
    pub fn mul(&self, rhs: &Tensor) -> Tensor {
        self.binary_op(rhs, BinaryOp::Mul)
    }
    /// `self / rhs` elementwise, broadcasting.
    pub fn div(&self, rhs: &Tensor) -> Tensor {
        self.binary_op(rhs, BinaryOp::Div)
    }
    /// `self ^ exponent` elementwise, broadcasting.
    pub fn pow(&self, exponent: &Tensor) -> Tensor {
        self.binary_op(exponent, BinaryOp::Pow)
    }
    /// `self ^ c`.
    pub fn pow_scalar(&self, c: f32) -> Tensor {
        self.unary_op(UnaryOp::PowScalar(c))
    }
    /// `c ^ self`.
    pub fn scalar_pow(&self, c: f32) -> Tensor {
        self.unary_op(UnaryOp::ScalarPow(c))
    }
    /// `x²`.
    pub fn square(&self) -> Tensor {
        self.unary_op(UnaryOp::PowScalar(2.0))
    }
    /// `1 / x`.
    pub fn recip(&self) -> Tensor {
        self.unary_op(UnaryOp::ScalarDiv(1.0))
    }
    /// `self + c`.
    pub fn add_scalar(&self, c: f32) -> Tensor {
        self.unary_op(UnaryOp::AddScalar(c))
    }
    /// `self * c`.
    pub fn mul_scalar(&self, c: f32) -> Tensor {
        self.unary_op(UnaryOp::MulScalar(c))
    }
    /// Elementwise larger of two tensors (NaN propagates).
    pub fn maximum(&self, rhs: &Tensor) -> Tensor {
        self.binary_op(rhs, BinaryOp::Maximum)
    }
    /// Elementwise smaller of two tensors (NaN propagates).
    pub fn minimum(&self, rhs: &Tensor) -> Tensor {
        self.binary_op(rhs, BinaryOp::Minimum)
    }
    /// `-x`.
    pub fn neg(&self) -> Tensor {
        self.unary_op(UnaryOp::Neg)
    }
    /// `eˣ`.
    pub fn exp(&self) -> Tensor {
        self.unary_op(UnaryOp::Exp)
    }
    /// Natural logarithm.
    pub fn log(&self) -> Tensor {
        self.unary_op(UnaryOp::Log)
    }
    /// `ln(1 + x)`, accurate for small x.
    pub fn log1p(&self) -> Tensor {
        self.unary_op(UnaryOp::Log1p)
    }
    /// Square root.
    pub fn sqrt(&self) -> Tensor {
        self.unary_op(UnaryOp::Sqrt)
    }
    /// Absolute value.
    pub fn abs(&self) -> Tensor {
        self.unary_op(UnaryOp::Abs)
    }
    /// -1, 0 or 1 by sign (no gradient).
    pub fn sign(&self) -> Tensor {
        self.unary_op(UnaryOp::Sign)
    }
    /// Sine.
    pub fn sin(&self) -> Tensor {
        self.unary_op(UnaryOp::Sin)
    }
    /// Cosine.
    pub fn cos(&self) -> Tensor {
        self.unary_op(UnaryOp::Cos)
    }
    /// The error function.
    pub fn erf(&self) -> Tensor {
        self.unary_op(UnaryOp::Erf)
    }
    /// Limits every element to `[min, max]`.
    pub fn clamp(&self, min: f32, max: f32) -> Tensor {
        assert!(min <= max, "clamp: min {min} is larger than max {max}");
        self.unary_op(UnaryOp::Clamp(min, max))
    }
    /// Limits every element to at least `min`.
    pub fn clamp_min(&self, min: f32) -> Tensor {
        self.unary_op(UnaryOp::Clamp(min, f32::INFINITY))
    }

    /// 1 where `self == rhs`, else 0 (broadcasting, no gradient).
    pub fn eq(&self, rhs: &Tensor) -> Tensor {
        self.binary_op(rhs, BinaryOp::Eq)
    }
    /// 1 where `self != rhs`.
    pub fn ne(&self, rhs: &Tensor) -> Tensor {
        self.binary_op(rhs, BinaryOp::Ne)
    }
    /// 1 where `self > rhs`.
    pub fn gt(&self, rhs: &Tensor) -> Tensor {
        self.binary_op(rhs, BinaryOp::Gt)
    }
    /// 1 where `self >= rhs`.
    pub fn ge(&self, rhs: &Tensor) -> Tensor {
        self.binary_op(rhs, BinaryOp::Ge)
    }
    /// 1 where `self < rhs`.
    pub fn lt(&self, rhs: &Tensor) -> Tensor {
        self.binary_op(rhs, BinaryOp::Lt)
    }
    /// 1 where `self <= rhs`.
    pub fn le(&self, rhs: &Tensor) -> Tensor {
        self.binary_op(rhs, BinaryOp::Le)
    }
    /// 1 where `self == c`.
    pub fn eq_scalar(&self, c: f32) -> Tensor {
        self.unary_op(UnaryOp::EqScalar(c))
    }
    /// 1 where `self > c`.
    pub fn gt_scalar(&self, c: f32) -> Tensor {
        self.unary_op(UnaryOp::GtScalar(c))
    }
    /// 1 where `self < c`.
    pub fn lt_scalar(&self, c: f32) -> Tensor {
        self.unary_op(UnaryOp::LtScalar(c))
    }
    /// 1 where `self >= c`.
    pub fn ge_scalar(&self, c: f32) -> Tensor {
        self.lt_scalar(c).neg().add_scalar(1.0)
    }
    /// 1 where `self <= c`.
    pub fn le_scalar(&self, c: f32) -> Tensor {
        self.gt_scalar(c).neg().add_scalar(1.0)
    }

    /// Sums a broadcast gradient back to `dims` (the adjoint of broadcasting).
    pub fn sum_to(&self, dims: &[usize]) -> Tensor {
        if self.dims() == dims {
            return self.clone();
        }
        let lead = self.rank() - dims.len();
        let mask: Vec<bool> = (0..self.rank())
            .map(|i| i < lead || (dims[i - lead] == 1 && self.dims()[i] != 1))
            .collect();
        self.sum_mask(&mask, true).reshape(dims)
    }
}

macro_rules! binary_operator {
    ($trait:ident, $method:ident, $op:expr) => {
        impl $trait<&Tensor> for &Tensor {
            type Output = Tensor;
            fn $method(self, rhs: &Tensor) -> Tensor {
                self.binary_op(rhs, $op)
            }
        }
        impl $trait<Tensor> for Tensor {
            type Output = Tensor;
            fn $method(self, rhs: Tensor) -> Tensor {
                self.binary_op(&rhs, $op)
            }
        }
        impl $trait<&Tensor> for Tensor {
            type Output = Tensor;
            fn $method(self, rhs: &Tensor) -> Tensor {
                self.binary_op(rhs, $op)
            }
        }
        impl $trait<Tensor> for &Tensor {
            type Output = Tensor;
            fn $method(self, rhs: Tensor) -> Tensor {
                self.binary_op(&rhs, $op)
            }
        }
    };
}

binary_operator!(Add, add, BinaryOp::Add);
binary_operator!(Sub, sub, BinaryOp::Sub);
binary_operator!(Mul, mul, BinaryOp::Mul);
binary_operator!(Div, div, BinaryOp::Div);

macro_rules! scalar_operator {
    ($trait:ident, $method:ident, $lhs_tensor:expr, $lhs_scalar:expr) => {
        impl $trait<f32> for &Tensor {
            type Output = Tensor;
            fn $method(self, c: f32) -> Tensor {
                self.unary_op($lhs_tensor(c))
            }
        }
        impl $trait<f32> for Tensor {
            type Output = Tensor;
            fn $method(self, c: f32) -> Tensor {
                self.unary_op($lhs_tensor(c))
            }
        }
        impl $trait<&Tensor> for f32 {
            type Output = Tensor;
            fn $method(self, t: &Tensor) -> Tensor {
                $lhs_scalar(self, t)
            }
        }
        impl $trait<Tensor> for f32 {
            type Output = Tensor;
            fn $method(self, t: Tensor) -> Tensor {
                $lhs_scalar(self, &t)
            }
        }
    };
}

scalar_operator!(Add, add, UnaryOp::AddScalar, |c: f32, t: &Tensor| t
    .unary_op(UnaryOp::AddScalar(c)));
scalar_operator!(
    Sub,
    sub,
    |c: f32| UnaryOp::AddScalar(-c),
    |c: f32, t: &Tensor| t.neg().unary_op(UnaryOp::AddScalar(c))
);
scalar_operator!(Mul, mul, UnaryOp::MulScalar, |c: f32, t: &Tensor| t
    .unary_op(UnaryOp::MulScalar(c)));
scalar_operator!(
    Div,
    div,
    |c: f32| UnaryOp::MulScalar(1.0 / c),
    |c: f32, t: &Tensor| t.unary_op(UnaryOp::ScalarDiv(c))
);

impl Neg for &Tensor {
    type Output = Tensor;
    fn neg(self) -> Tensor {
        self.unary_op(UnaryOp::Neg)
    }
}
impl Neg for Tensor {
    type Output = Tensor;
    fn neg(self) -> Tensor {
        self.unary_op(UnaryOp::Neg)
    }
}
