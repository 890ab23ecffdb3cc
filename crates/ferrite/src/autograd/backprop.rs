//! Every gradient formula in Ferrite, one arm per recorded op, each with its math in a line.
//!
//! `backward` receives the op, its inputs, its output `y` (detached) and the gradient `g` of
//! the loss with respect to `y`, and returns the gradient for each input (`None` where the
//! input needs none). It runs under `no_grad`, so these tensor ops record nothing.

use super::Op;
use crate::backend::{BinaryOp, UnaryOp};
use crate::Tensor;

/// The vector-Jacobian products of `op` for each of `inputs`.
pub fn backward(
    op: &Op,
    inputs: &[Tensor],
    y: &Tensor,
    g: &Tensor,
    needs: &[bool],
) -> Vec<Option<Tensor>> {
    let x = &inputs[0];
    let one = |t: Tensor| vec![Some(t)];
    match op {
        Op::Unary(u) => one(unary_backward(*u, x, y, g)),
        Op::Binary(b) => binary_backward(*b, x, &inputs[1], y, g, needs),
        // d where(c, a, b) = (g·c, g·(1 − c)), each summed back to its operand's shape
        Op::Where(cond) => {
            let zero = Tensor::zeros([1]).to(&g.device());
            let ga = needs[0].then(|| Tensor::where_cond(cond, g, &zero).sum_to(x.dims()));
            let gb = needs[1].then(|| Tensor::where_cond(cond, &zero, g).sum_to(inputs[1].dims()));
            vec![ga, gb]
        }
        // d reshape = reshape back
        Op::Reshape => one(g.reshape(x.dims())),
        // d permute(p) = permute(p⁻¹)
        Op::Permute(perm) => {
            let mut inverse = vec![0; perm.len()];
            for (i, &p) in perm.iter().enumerate() {
                inverse[p] = i;
            }
            one(g.permute(&inverse))
        }
        // d expand = sum over the repeated dimensions
        Op::Expand => one(g.sum_to(x.dims())),
        // d narrow = the gradient placed in its window, zeros elsewhere
        Op::Narrow { dim, start } => one(g.embed_in_zeros(x.dims(), *dim, *start)),
        Op::Contiguous => one(g.clone()),
        // d to_dtype = g converted back
        Op::ToDtype(source) => one(g.to_dtype(*source)),
        // d to(device) = g moved back
        Op::ToDevice(source) => one(g.to(source)),
        // d index_select = index_add of g at the same indices
        Op::IndexSelect { dim, indices } => one(g.index_add_into(x.dims(), *dim, indices)),
        // d gather = scatter_add of g at the same index
        Op::Gather { dim, index } => one(x.zeros_like().scatter_add_raw(*dim, index, g)),
        // d scatter_add: base gets g, src gets g gathered at the index
        Op::ScatterAdd { dim, index } => {
            vec![Some(g.clone()), needs[1].then(|| g.gather_raw(*dim, index))]
        }
        // d masked_fill = g where the mask is 0
        Op::MaskedFill(mask) => one(g.masked_fill(mask, 0.0)),
        // d cat = the matching slice of g for each input
        Op::Cat { dim } => {
            let mut start = 0;
            inputs
                .iter()
                .zip(needs)
                .map(|(t, &need)| {
                    let len = t.dims()[*dim];
                    let piece = need.then(|| g.narrow(*dim as isize, start, len).contiguous());
                    start += len;
                    piece
                })
                .collect()
        }
        // d sum = g broadcast back over the summed dimensions
        Op::Sum { mask, keepdim } => one(unsqueeze_reduced(g, mask, *keepdim)
            .expand(x.dims())
            .contiguous()),
        // d mean = g / n broadcast back
        Op::Mean { mask, keepdim } => {
            let n = reduced_count(x.dims(), mask);
            one((&unsqueeze_reduced(g, mask, *keepdim) * (1.0 / n))
                .expand(x.dims())
                .contiguous())
        }
        // d max_dim = g routed to the arg-max of each lane
        Op::MaxMinDim {
            dim,
            keepdim,
            argmax,
        } => {
            let gk = if *keepdim {
                g.clone()
            } else {
                g.unsqueeze(*dim as isize)
            };
            one(x.zeros_like().scatter_add_raw(*dim, argmax, &gk))
        }
        // d max_all = g shared evenly among the elements equal to the max
        Op::MaxMinAll => {
            let hit = x.eq(&y.reshape([1]));
            let count = hit.sum().item();
            one(&hit * &(g.reshape([1]) * (1.0 / count)))
        }
        // d prod = g · Π_{j≠i} x_j (computed without dividing, so zeros are handled)
        Op::Prod { dim, keepdim } => one(prod_backward(x, g, *dim, *keepdim)),
        // d var = g · 2(x − mean) / (n − correction)
        Op::Var {
            mask,
            keepdim,
            correction,
        } => {
            let n = reduced_count(x.dims(), mask);
            let mean = x.mean_mask(mask, true);
            let gk = unsqueeze_reduced(g, mask, *keepdim);
            one(&(x - &mean) * &(gk * (2.0 / (n - correction))))
        }
        // d ‖x‖_p = g · sign(x)|x|^(p−1) / ‖x‖^(p−1); 0 where the norm is 0
        Op::Norm { p, mask, keepdim } => {
            let yk = unsqueeze_reduced(y, mask, *keepdim);
            let gk = unsqueeze_reduced(g, mask, *keepdim);
            let scale = if *p == 2.0 {
                x / &yk
            } else if *p == 1.0 {
                x.sign().expand(x.dims())
            } else {
                &(&x.sign() * &x.abs().pow_scalar(p - 1.0)) / &yk.pow_scalar(p - 1.0)
            };
            let scale = scale.masked_fill(&yk.eq_scalar(0.0).expand(x.dims()), 0.0);
            one(&scale * &gk)
        }
        // d logsumexp = g · exp(x − y) = g · softmax(x) (computed from x: exact for large y)
        Op::LogSumExp { mask, keepdim } => {
            let gk = unsqueeze_reduced(g, mask, *keepdim);
            one(&x.softmax_mask(mask) * &gk)
        }
        // d softmax = y ⊙ (g − Σ_dim g ⊙ y)
        Op::Softmax { dim } => {
            let gy = g * y;
            let s = gy.sum_dim(*dim as isize, true);
            one(&gy - &(y * &s))
        }
        // d log_softmax = g − exp(y) · Σ_dim g
        Op::LogSoftmax { dim } => {
            let s = g.sum_dim(*dim as isize, true);
            one(g - &(&y.exp() * &s))
        }
        // d (A·B) = (g·Bᵀ, Aᵀ·g), summed over broadcast batch dimensions
        Op::MatMul => {
            let b = &inputs[1];
            let ga =
                needs[0].then(|| matmul_laid_out_like(g, &b.transpose(-1, -2), x).sum_to(x.dims()));
            let gb =
                needs[1].then(|| matmul_laid_out_like(&x.transpose(-1, -2), g, b).sum_to(b.dims()));
            vec![ga, gb]
        }
        // d fused loss = g · ∂loss/∂input, the local gradient its kernel computed with the
        // loss (formulas in backend/cpu/loss.rs); g regains the class dimension it lost
        Op::FusedLoss { grads, class_dim } => {
            let gk = match class_dim {
                Some(d) => g.unsqueeze(*d as isize),
                None => g.clone(),
            };
            let scaled = |(local, &need): (&Option<Tensor>, &bool)| {
                local.as_ref().filter(|_| need).map(|l| l * &gk)
            };
            grads.iter().zip(needs).map(scaled).collect()
        }
        // d (x·Wᵀ + b) = (g·W, gᵀ·x, Σ_rows g)
        Op::Linear => {
            let w = &inputs[1];
            let gx = needs[0].then(|| g.matmul(w));
            let gw = needs[1].then(|| g.t().matmul(x));
            let mut grads = vec![gx, gw];
            if inputs.len() == 3 {
                grads.push(needs[2].then(|| {
                    let db = g.storage().linear_bias_grad(g.layout());
                    Tensor::from_storage(db, crate::core::Layout::contiguous([g.dims()[1]]))
                }));
            }
            grads
        }
        // d LSTM, back through time: dc' = dc'' ·f'' + dh·o·act'(c'); d(i,f,g,o)_pre =
        // (dc'·g·i(1−i), dc'·c·f(1−f), dc'·i·act'(g), dh·act(c')·o(1−o)); dh = d_pre·W_hh
        Op::Lstm(saved) => crate::tensor::rnn::lstm_sequence_backward(saved, inputs, y, g, needs),
        // d GRU: dn_pre = dh(1−z)(1−n²), dz_pre = dh(h−n)z(1−z), dr_pre = dn_pre·hg_n·r(1−r),
        // dh_prev = dh·z + (dr_pre, dz_pre, dn_pre·r)·W_hh
        Op::Gru(saved) => crate::tensor::rnn::gru_sequence_backward(saved, inputs, y, g, needs),
        // d RNN: d_pre = (g + dh_next)·act'(h'); dh_prev = d_pre·W_hh; dW_hh = Σ d_preᵀ·h_prev
        Op::Rnn(saved) => crate::tensor::rnn::rnn_sequence_backward(saved, inputs, y, g, needs),
        // d conv: dx = col2im(Wᵀ·g), dW = Σ_n g·colᵀ, db = Σ_{n,y,x} g (backend/cpu/conv.rs)
        Op::Conv2d(geometry) => crate::tensor::conv::conv2d_backward(geometry, inputs, g, needs),
        // d max_pool = g routed to each window's arg-max; d avg_pool = g/divisor spread over
        // each window; d adaptive_avg_pool = g/|window| spread over each window
        Op::MaxPool2d { .. } | Op::AvgPool2d { .. } | Op::AdaptiveAvgPool2d { .. } => {
            one(crate::tensor::pool::pool_backward(op, x, g))
        }
        // d batch_norm (train): dx = γ·invstd/M·(M·g − Σg − x̂·Σg·x̂), dγ = Σ g·x̂, dβ = Σ g;
        // (eval): dx = g·γ·invstd
        Op::BatchNorm(saved) => {
            crate::tensor::batch_norm::batch_norm_backward(saved, inputs, g, needs)
        }
    }
}

fn unary_backward(u: UnaryOp, x: &Tensor, y: &Tensor, g: &Tensor) -> Tensor {
    match u {
        // d(−x) = −g
        UnaryOp::Neg => -g,
        // d eˣ = g·y
        UnaryOp::Exp => g * y,
        // d ln x = g / x
        UnaryOp::Log => g / x,
        // d ln(1+x) = g / (1 + x)
        UnaryOp::Log1p => g / &(x + 1.0),
        // d √x = g / (2y)
        UnaryOp::Sqrt => g / &(y * 2.0),
        // d |x| = g·sign(x)
        UnaryOp::Abs => g * &x.sign(),
        // d sign = 0; d comparisons = 0
        UnaryOp::Sign
        | UnaryOp::EqScalar(_)
        | UnaryOp::GtScalar(_)
        | UnaryOp::LtScalar(_)
        | UnaryOp::FiniteOrZero => g.zeros_like(),
        // d σ = g·y(1 − y)
        UnaryOp::Sigmoid => g.binary_op(y, BinaryOp::SigmoidBackward),
        // d tanh = g(1 − y²)
        UnaryOp::Tanh => g.binary_op(y, BinaryOp::TanhBackward),
        // d relu = g·[x > 0]
        UnaryOp::Relu => g.binary_op(x, BinaryOp::ReluBackward),
        // d leaky_relu = g·(x > 0 ? 1 : slope)
        UnaryOp::LeakyRelu(s) => g.binary_op(x, BinaryOp::LeakyReluBackward(s)),
        // d elu = g·(x > 0 ? 1 : α eˣ)
        UnaryOp::Elu(a) => g.binary_op(x, BinaryOp::EluBackward(a)),
        // d gelu = g·(Φ(x) + x φ(x))
        UnaryOp::Gelu => g.binary_op(x, BinaryOp::GeluBackward),
        // d gelu_tanh = g·(½(1+t) + ½x(1−t²)·√(2/π)(1 + 3·0.044715x²))
        UnaryOp::GeluTanh => g.binary_op(x, BinaryOp::GeluTanhBackward),
        // d softplus = g·σ(βx) (g above the threshold)
        UnaryOp::Softplus { beta, threshold } => {
            g.binary_op(x, BinaryOp::SoftplusBackward { beta, threshold })
        }
        // d clamp = g where lo ≤ x ≤ hi
        UnaryOp::Clamp(lo, hi) => g.binary_op(x, BinaryOp::ClampBackward(lo, hi)),
        // d (x + c) = g
        UnaryOp::AddScalar(_) => g.clone(),
        // d (c·x) = c·g
        UnaryOp::MulScalar(c) => g * c,
        // d xᶜ = g·c·x^(c−1)
        UnaryOp::PowScalar(c) => {
            if c == 2.0 {
                g * &(x * 2.0)
            } else {
                g * &(x.pow_scalar(c - 1.0) * c)
            }
        }
        // d cˣ = g·y·ln c
        UnaryOp::ScalarPow(c) => g * &(y * c.ln()),
        // d (c / x) = −g·y / x
        UnaryOp::ScalarDiv(_) => -(&(g * y) / x),
        // d sin = g·cos x
        UnaryOp::Sin => g * &x.cos(),
        // d cos = −g·sin x
        UnaryOp::Cos => -(g * &x.sin()),
        // d erf = g·(2/√π)e^(−x²)
        UnaryOp::Erf => g * &(x.square().neg().exp() * std::f32::consts::FRAC_2_SQRT_PI),
    }
}

fn binary_backward(
    b: BinaryOp,
    x: &Tensor,
    z: &Tensor,
    y: &Tensor,
    g: &Tensor,
    needs: &[bool],
) -> Vec<Option<Tensor>> {
    let (ga, gb) = match b {
        // d (a + b) = (g, g)
        BinaryOp::Add => (needs[0].then(|| g.clone()), needs[1].then(|| g.clone())),
        // d (a − b) = (g, −g)
        BinaryOp::Sub => (needs[0].then(|| g.clone()), needs[1].then(|| -g)),
        // d (a·b) = (g·b, g·a)
        BinaryOp::Mul => (needs[0].then(|| g * z), needs[1].then(|| g * x)),
        // d (a / b) = (g / b, −g·a / b²)
        BinaryOp::Div => (needs[0].then(|| g / z), needs[1].then(|| -(&(g * y) / z))),
        // d aᵇ = (g·b·a^(b−1), g·y·ln a)
        BinaryOp::Pow => (
            needs[0].then(|| g * &(z * &x.pow(&(z - 1.0)))),
            needs[1].then(|| {
                // PyTorch's convention: the exponent's gradient is 0 where a = 0 and b ≥ 0.
                let grad = g * &(y * &x.log());
                grad.masked_fill(&(&x.eq_scalar(0.0) * &z.ge_scalar(0.0)), 0.0)
            }),
        ),
        // d max(a, b): g to the larger (split evenly on ties, as PyTorch)
        BinaryOp::Maximum | BinaryOp::Minimum => {
            let pick_a = if b == BinaryOp::Maximum {
                x.gt(z)
            } else {
                x.lt(z)
            };
            let tie = x.eq(z);
            let wa = &pick_a + &(&tie * 0.5);
            let wb = (&wa * -1.0) + 1.0;
            (needs[0].then(|| g * &wa), needs[1].then(|| g * &wb))
        }
        // comparisons and fused backward kernels are not differentiated
        _ => (
            needs[0].then(|| x.zeros_like()),
            needs[1].then(|| z.zeros_like()),
        ),
    };
    vec![
        ga.map(|t| t.sum_to(x.dims())),
        gb.map(|t| t.sum_to(z.dims())),
    ]
}

/// The number of elements folded into each output of a reduction over `mask`.
fn reduced_count(dims: &[usize], mask: &[bool]) -> f32 {
    dims.iter()
        .zip(mask)
        .filter(|(_, &m)| m)
        .map(|(&d, _)| d)
        .product::<usize>() as f32
}

/// Reinserts the reduced dimensions (as size 1) into a gradient produced without keepdim.
fn unsqueeze_reduced(g: &Tensor, mask: &[bool], keepdim: bool) -> Tensor {
    if keepdim {
        return g.clone();
    }
    let dims: Vec<usize> = {
        let mut it = g.dims().iter();
        mask.iter()
            .map(|&m| if m { 1 } else { *it.next().unwrap_or(&1) })
            .collect()
    };
    g.reshape(dims)
}

/// `lhs · rhs`, computed as `(rhsᵀ · lhsᵀ)ᵀ` when `like` is a transposed view (its last two
/// dimensions swapped, as the weight in `x · Wᵀ`): the gradient then has the operand's layout,
/// and reaches the weight contiguous through the transpose's backward, without a strided copy.
fn matmul_laid_out_like(lhs: &Tensor, rhs: &Tensor, like: &Tensor) -> Tensor {
    let l = like.layout();
    let r = l.strides.len();
    let swapped_is_contiguous = r >= 2 && !l.is_contiguous() && {
        let mut swapped = l.clone();
        swapped.strides.swap(r - 2, r - 1);
        swapped.shape.0.swap(r - 2, r - 1);
        swapped.is_contiguous()
    };
    if swapped_is_contiguous {
        rhs.transpose(-1, -2)
            .matmul(&lhs.transpose(-1, -2))
            .transpose(-1, -2)
    } else {
        lhs.matmul(rhs)
    }
}

fn prod_backward(x: &Tensor, g: &Tensor, dim: Option<usize>, keepdim: bool) -> Tensor {
    match dim {
        None => {
            let flat = x.reshape([x.numel()]);
            let others = flat.exclusive_prod(0);
            (&others * &g.reshape([1])).reshape(x.dims())
        }
        Some(d) => {
            let gk = if keepdim {
                g.clone()
            } else {
                g.unsqueeze(d as isize)
            };
            &x.exclusive_prod(d) * &gk
        }
    }
}
