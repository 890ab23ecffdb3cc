//! The recorded operations. Each variant carries what its backward needs beyond the inputs
//! and the output, which the graph already holds.

use crate::core::{AvgDivisor, BinaryOp, ConvGeometry, PoolGeometry, UnaryOp};
use crate::Tensor;
use std::sync::Arc;

/// An operation recorded in the autograd graph.
#[derive(Clone, Debug)]
pub enum Op {
    /// A pointwise function of one input.
    Unary(UnaryOp),
    /// A broadcasting pointwise function of two inputs.
    Binary(BinaryOp),
    /// `where(cond, a, b)`: inputs `[a, b]`; the 0/1 condition is kept here.
    Where(Tensor),
    /// Same elements, new shape.
    Reshape,
    /// Dimensions reordered by this permutation.
    Permute(Vec<usize>),
    /// Size-1 dimensions repeated (and leading ones added) without copying.
    Expand,
    /// A window `start..start+len` of dimension `dim`.
    Narrow { dim: usize, start: usize },
    /// A row-major copy.
    Contiguous,
    /// A conversion to another float type; the source's type is kept for the gradient.
    ToDtype(crate::core::DType),
    /// A copy on another device; the source's device is kept for the gradient.
    ToDevice(crate::core::Device),
    /// Entries `indices` (a 1-D i64 tensor) along `dim`.
    IndexSelect { dim: usize, indices: Tensor },
    /// `out[p] = x[p with dim := index[p]]`, `index` an i64 tensor shaped like the output.
    Gather { dim: usize, index: Tensor },
    /// `out = base; out[p with dim := index[p]] += src[p]`: inputs `[base, src]`.
    ScatterAdd { dim: usize, index: Tensor },
    /// Elements where the 0/1 mask is set replaced by a constant.
    MaskedFill(Tensor),
    /// Inputs joined along `dim`.
    Cat { dim: usize },
    /// Sum over the flagged dimensions.
    Sum { mask: Vec<bool>, keepdim: bool },
    /// Mean over the flagged dimensions.
    Mean { mask: Vec<bool>, keepdim: bool },
    /// Max or min over one dimension; the winning index of each lane is kept (an i64 tensor
    /// in the keepdim shape).
    MaxMinDim {
        dim: usize,
        keepdim: bool,
        argmax: Tensor,
    },
    /// Max or min over all elements (the gradient is shared among ties).
    MaxMinAll,
    /// Product over one dimension (`None`: over all elements).
    Prod { dim: Option<usize>, keepdim: bool },
    /// Variance over the flagged dimensions, with `correction` subtracted from the count.
    Var {
        mask: Vec<bool>,
        keepdim: bool,
        correction: f32,
    },
    /// p-norm over the flagged dimensions.
    Norm {
        p: f32,
        mask: Vec<bool>,
        keepdim: bool,
    },
    /// log Σ exp over the flagged dimensions.
    LogSumExp { mask: Vec<bool>, keepdim: bool },
    /// Softmax along `dim`.
    Softmax { dim: usize },
    /// Log-softmax along `dim`.
    LogSoftmax { dim: usize },
    /// Matrix product of operands with at least 2 dimensions (batch dimensions broadcast).
    MatMul,
    /// A loss whose fused kernel also computed its local gradients: `grads[k]` is
    /// ∂loss/∂`inputs[k]` for an upstream gradient of 1 (`None` where not wanted);
    /// `class_dim` is the dimension an unreduced class loss removed from its input.
    FusedLoss {
        grads: Vec<Option<Tensor>>,
        class_dim: Option<usize>,
    },
    /// Fully connected layer `x·Wᵀ + b` on a 2-D `x`: inputs `[x, W]` or `[x, W, b]`.
    Linear,
    /// One LSTM direction over a sequence with fused gates: inputs `[xproj, w_hh, h0, c0]`.
    Lstm(Arc<crate::tensor::LstmSaved>),
    /// One GRU direction over a sequence with fused gates: inputs `[xproj, w_hh, b_hh, h0]`.
    Gru(Arc<crate::tensor::GruSaved>),
    /// One Elman RNN direction over a sequence: inputs `[xproj, w_hh, h0]`.
    Rnn(Arc<crate::tensor::RnnSaved>),
    /// 2-D convolution (1-D ones run as 2-D ones of height 1): inputs `[x, w]` or `[x, w, b]`.
    Conv2d(ConvGeometry),
    /// Max pooling; the arg-max of each window (index inside its plane) is kept, as an index
    /// tensor of the output's shape.
    MaxPool2d {
        geometry: PoolGeometry,
        argmax: Tensor,
    },
    /// Average pooling with its divisor rule.
    AvgPool2d {
        geometry: PoolGeometry,
        divisor: AvgDivisor,
    },
    /// Adaptive average pooling from the input's size to `out_size`.
    AdaptiveAvgPool2d { out_size: [usize; 2] },
    /// Batch normalisation: inputs `[x, γ, β]`, with the statistics it used.
    BatchNorm(Arc<crate::tensor::BatchNormSaved>),
}

impl Op {
    /// PyTorch-style name of the backward function (shown by Display as `grad_fn`).
    pub fn name(&self) -> String {
        let dbg = match self {
            Op::Unary(u) => format!("{u:?}"),
            Op::Binary(b) => format!("{b:?}"),
            other => format!("{other:?}"),
        };
        let name: String = dbg.chars().take_while(|c| c.is_alphanumeric()).collect();
        format!("{name}Backward")
    }
}
