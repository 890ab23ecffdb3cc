//! Recurrent-layer kernels: one direction of an RNN, LSTM or GRU layer over a whole sequence,
//! forward and backward (backpropagation through time).
//!
//! The input projection `x·W_ihᵀ + b` of every time step is computed beforehand as one matrix
//! product (`xproj`). Each step then does one fused product `h·W_hhᵀ` for all gates together
//! and runs the gate arithmetic in one pass over the batch. The backward pass walks the steps
//! in reverse with the gates saved by the forward pass.
//!
//! Sequence buffers hold one row per (time, batch) pair. Rows are batch-first (`n·T + t`) or
//! time-major (`t·N + n`) as [`SeqDims`] says, so neither inputs nor outputs are transposed.
//!
//! The kernels are generic over the float type: f32 runs the fast gate approximations of
//! [`math`], f64 the standard library's functions ([`GateMath`]).

mod elman;
mod gru;
mod math;

pub use elman::{rnn_backward, rnn_forward};
pub use gru::{gru_backward, gru_forward};

use super::matmul::{gemm_into, MatRef};
use math::sigmoid_slice;
pub(crate) use math::GateMath;

pub use crate::core::{CellActivation, SeqDims};

/// The CPU evaluation of a [`CellActivation`], with the match hoisted out of slice loops so
/// that they vectorize.
pub(crate) trait CellActivationKernel {
    /// The function.
    fn apply<T: GateMath>(self, x: T) -> T;
    /// `v = act(v)`.
    fn apply_in_place<T: GateMath>(self, v: &mut [T]);
    /// `dst = act(src)`.
    fn apply_slice<T: GateMath>(self, src: &[T], dst: &mut [T]);
    /// The derivative through the output `y = act(x)`: `1 − y²` or `[y > 0]` (as
    /// [`CellActivation::derivative_from_output`], in any float type).
    fn derivative<T: GateMath>(self, y: T) -> T;
}

impl CellActivationKernel for CellActivation {
    #[inline(always)]
    fn apply<T: GateMath>(self, x: T) -> T {
        match self {
            CellActivation::Tanh => T::gate_tanh(x),
            CellActivation::Relu => x.max(T::zero()),
        }
    }

    #[inline(always)]
    fn apply_in_place<T: GateMath>(self, v: &mut [T]) {
        match self {
            CellActivation::Tanh => v.iter_mut().for_each(|x| *x = T::gate_tanh(*x)),
            CellActivation::Relu => v.iter_mut().for_each(|x| *x = x.max(T::zero())),
        }
    }

    #[inline(always)]
    fn apply_slice<T: GateMath>(self, src: &[T], dst: &mut [T]) {
        match self {
            CellActivation::Tanh => dst
                .iter_mut()
                .zip(src)
                .for_each(|(d, &x)| *d = T::gate_tanh(x)),
            CellActivation::Relu => dst
                .iter_mut()
                .zip(src)
                .for_each(|(d, &x)| *d = x.max(T::zero())),
        }
    }

    #[inline(always)]
    fn derivative<T: GateMath>(self, y: T) -> T {
        match self {
            CellActivation::Tanh => T::one() - y * y,
            CellActivation::Relu => {
                if y > T::zero() {
                    T::one()
                } else {
                    T::zero()
                }
            }
        }
    }
}

/// A matrix of `width`-wide rows of a sequence buffer at time position `t` (one row per
/// batch entry), or `h0` (row-major `N×width`) before the first step.
fn state_rows<'a, T>(
    seq: &'a [T],
    h0: &'a [T],
    d: &SeqDims,
    step: usize,
    width: usize,
) -> MatRef<'a, T> {
    if step == 0 {
        MatRef {
            data: h0,
            offset: 0,
            row_stride: width,
            col_stride: 1,
        }
    } else {
        let t = d.position(step - 1);
        MatRef {
            data: seq,
            offset: d.row(t, 0) * width,
            row_stride: d.batch_row_stride() * width,
            col_stride: 1,
        }
    }
}

/// `Wᵀ` for a row-major weight `W` of shape `(rows × cols)`.
fn transposed<T>(w: &[T], cols: usize) -> MatRef<'_, T> {
    MatRef {
        data: w,
        offset: 0,
        row_stride: 1,
        col_stride: cols,
    }
}

/// `W` row-major with `cols` columns.
fn plain<T>(w: &[T], cols: usize) -> MatRef<'_, T> {
    MatRef {
        data: w,
        offset: 0,
        row_stride: cols,
        col_stride: 1,
    }
}

/// The time-`t` rows of a sequence gradient `(rows × width)`, transposed: `(width × N)`.
fn rows_transposed<'a, T>(seq: &'a [T], d: &SeqDims, t: usize, width: usize) -> MatRef<'a, T> {
    MatRef {
        data: seq,
        offset: d.row(t, 0) * width,
        row_stride: 1,
        col_stride: d.batch_row_stride() * width,
    }
}

/// What the LSTM forward pass keeps for its backward pass.
pub struct LstmForward<T> {
    /// The hidden state of every time position (`T·N` rows of `H`), then the final cell
    /// state (`N×H`).
    pub out: Vec<T>,
    /// The activated gates `i, f, g, o` of every step, step-major `[T][N][4H]`.
    pub gates: Vec<T>,
    /// The cell states `c_0 … c_T`, step-major `[T+1][N][H]`.
    pub cells: Vec<T>,
}

/// One LSTM direction over a sequence: per step `gates = xproj_t + h·W_hhᵀ`,
/// `c' = σ(f)·c + σ(i)·act(g)`, `h' = σ(o)·act(c')`.
///
/// `xproj`: `T·N` rows of `4H` (input projection plus both biases); `w_hh`: `(4H × H)`;
/// `h0`, `c0`: `(N × H)`.
pub fn lstm_forward<T: GateMath>(
    xproj: &[T],
    w_hh: &[T],
    h0: &[T],
    c0: &[T],
    d: SeqDims,
    act: CellActivation,
) -> LstmForward<T> {
    let (t_len, n_len, h) = (d.steps, d.batch, d.hidden);
    let g4 = 4 * h;
    let nh = n_len * h;
    assert_eq!(
        xproj.len(),
        d.rows() * g4,
        "lstm_forward: xproj has the wrong size"
    );
    assert_eq!(w_hh.len(), g4 * h, "lstm_forward: w_hh has the wrong size");
    let mut out = vec![T::zero(); d.rows() * h + nh];
    let mut gates = vec![T::zero(); t_len * n_len * g4];
    let mut cells = vec![T::zero(); (t_len + 1) * nh];
    cells[..nh].copy_from_slice(c0);
    for s in 0..t_len {
        let t = d.position(s);
        let gs = &mut gates[s * n_len * g4..(s + 1) * n_len * g4];
        // One product for the recurrent part of all four gates.
        gemm_into(
            gs,
            false,
            n_len,
            g4,
            h,
            state_rows(&out, h0, &d, s, h),
            transposed(w_hh, h),
            false,
        );
        let (prev, next) = cells.split_at_mut((s + 1) * nh);
        let c_prev = &prev[s * nh..];
        let c_next = &mut next[..nh];
        for n in 0..n_len {
            let r = d.row(t, n);
            let x = &xproj[r * g4..(r + 1) * g4];
            let gr = &mut gs[n * g4..(n + 1) * g4];
            // Pre-activations, then each gate's activation in place (slice loops vectorize).
            gr.iter_mut().zip(x).for_each(|(g, &xv)| *g += xv);
            let (ifg, o) = gr.split_at_mut(3 * h);
            let (i_f, g) = ifg.split_at_mut(2 * h);
            sigmoid_slice(i_f);
            act.apply_in_place(g);
            sigmoid_slice(o);
            let (i, f) = i_f.split_at(h);
            let cp = &c_prev[n * h..(n + 1) * h];
            let cn = &mut c_next[n * h..(n + 1) * h];
            for j in 0..h {
                cn[j] = f[j] * cp[j] + i[j] * g[j];
            }
            let hr = &mut out[r * h..(r + 1) * h];
            act.apply_slice(cn, hr);
            hr.iter_mut().zip(o.iter()).for_each(|(hv, &ov)| *hv *= ov);
        }
    }
    let rows_h = d.rows() * h;
    out[rows_h..].copy_from_slice(&cells[t_len * nh..]);
    LstmForward { out, gates, cells }
}

/// Gradients of one recurrent direction with respect to its inputs.
pub struct RecurrentGrads<T> {
    /// With respect to the input projection (same rows as `xproj`).
    pub dxproj: Vec<T>,
    /// With respect to `W_hh`.
    pub dw_hh: Vec<T>,
    /// With respect to `b_hh` (GRU only, where it sits inside the reset gate; else empty).
    pub db_hh: Vec<T>,
    /// With respect to the initial hidden state.
    pub dh0: Vec<T>,
    /// With respect to the initial cell state (LSTM only; else empty).
    pub dc0: Vec<T>,
}

/// Backpropagation through time for [`lstm_forward`]. `gout` has the layout of
/// `LstmForward::out` (hidden states, then the final cell state).
#[allow(clippy::too_many_arguments)]
pub fn lstm_backward<T: GateMath>(
    gout: &[T],
    w_hh: &[T],
    h0: &[T],
    fwd_out: &[T],
    gates: &[T],
    cells: &[T],
    d: SeqDims,
    act: CellActivation,
) -> RecurrentGrads<T> {
    let (t_len, n_len, h) = (d.steps, d.batch, d.hidden);
    let g4 = 4 * h;
    let nh = n_len * h;
    let rows_h = d.rows() * h;
    let mut dxproj = vec![T::zero(); d.rows() * g4];
    let mut dw_hh = vec![T::zero(); g4 * h];
    let mut dh_next = vec![T::zero(); nh];
    let mut dc = gout[rows_h..rows_h + nh].to_vec();
    let mut a_buf = vec![T::zero(); h];
    let one = T::one();
    for s in (0..t_len).rev() {
        let t = d.position(s);
        let gs = &gates[s * n_len * g4..(s + 1) * n_len * g4];
        let c_prev = &cells[s * nh..(s + 1) * nh];
        let c_new = &cells[(s + 1) * nh..(s + 2) * nh];
        for n in 0..n_len {
            let r = d.row(t, n);
            let gr = &gs[n * g4..(n + 1) * g4];
            let (i, f, g, o) = (&gr[..h], &gr[h..2 * h], &gr[2 * h..3 * h], &gr[3 * h..]);
            let (dx_i, rest) = dxproj[r * g4..(r + 1) * g4].split_at_mut(h);
            let (dx_f, rest) = rest.split_at_mut(h);
            let (dx_g, dx_o) = rest.split_at_mut(h);
            let rows = n * h..(n + 1) * h;
            let (cp, cn, dcn, dhn) = (
                &c_prev[rows.clone()],
                &c_new[rows.clone()],
                &mut dc[rows.clone()],
                &dh_next[rows],
            );
            let go = &gout[r * h..(r + 1) * h];
            act.apply_slice(cn, &mut a_buf);
            for j in 0..h {
                let dh = go[j] + dhn[j];
                let a = a_buf[j];
                // dc' = dc_next + dh·o·act'(c')
                let dct = dcn[j] + dh * o[j] * act.derivative(a);
                dx_i[j] = dct * g[j] * i[j] * (one - i[j]);
                dx_f[j] = dct * cp[j] * f[j] * (one - f[j]);
                dx_g[j] = dct * i[j] * act.derivative(g[j]);
                dx_o[j] = dh * a * o[j] * (one - o[j]);
                dcn[j] = dct * f[j];
            }
        }
        // dh_prev = d_gates·W_hh; dW_hh += d_gatesᵀ·h_prev
        let dgates = MatRef {
            data: &dxproj,
            offset: d.row(t, 0) * g4,
            row_stride: d.batch_row_stride() * g4,
            col_stride: 1,
        };
        gemm_into(
            &mut dh_next,
            false,
            n_len,
            h,
            g4,
            dgates,
            plain(w_hh, h),
            false,
        );
        let h_prev = state_rows(fwd_out, h0, &d, s, h);
        gemm_into(
            &mut dw_hh,
            true,
            g4,
            h,
            n_len,
            rows_transposed(&dxproj, &d, t, g4),
            h_prev,
            false,
        );
    }
    RecurrentGrads {
        dxproj,
        dw_hh,
        db_hh: Vec::new(),
        dh0: dh_next,
        dc0: dc,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A one-unit LSTM step by hand: with zero weights and state, gates are σ/act of xproj.
    #[test]
    fn lstm_single_step_matches_closed_form() {
        let d = SeqDims {
            steps: 1,
            batch: 1,
            hidden: 1,
            batch_first: false,
            reverse: false,
        };
        let xproj = [0.5f32, -0.25, 0.8, 1.5];
        let fwd = lstm_forward(
            &xproj,
            &[0.3, -0.2, 0.1, 0.4],
            &[0.0],
            &[0.7],
            d,
            CellActivation::Tanh,
        );
        let s = |x: f32| 1.0 / (1.0 + (-x).exp());
        let c = s(-0.25) * 0.7 + s(0.5) * 0.8f32.tanh();
        let hh = s(1.5) * c.tanh();
        assert!((fwd.out[0] - hh).abs() < 1e-6, "{} vs {hh}", fwd.out[0]);
        assert!((fwd.out[1] - c).abs() < 1e-6);
    }

    /// The f64 kernels (std gate functions, the `gemm` crate) agree with the f32 ones, forward
    /// and backward, for the LSTM, the GRU and the Elman RNN.
    #[test]
    fn f64_path_matches_the_f32_path() {
        let (t, n, h) = (3, 2, 3);
        let d = SeqDims {
            steps: t,
            batch: n,
            hidden: h,
            batch_first: true,
            reverse: false,
        };
        let wave = |len: usize, f: f64| -> Vec<f64> {
            (0..len).map(|i| 0.8 * (i as f64 * f).sin()).collect()
        };
        let f = |v: &[f64]| -> Vec<f32> { v.iter().map(|&x| x as f32).collect() };
        let close = |a: &[f64], b: &[f32]| {
            assert_eq!(a.len(), b.len());
            for (p, q) in a.iter().zip(b) {
                assert!((p - *q as f64).abs() < 2e-6, "{p} vs {q}");
            }
        };
        let (h0, c0) = (wave(n * h, 0.9), wave(n * h, 1.7));
        // LSTM
        let (xp, w) = (wave(t * n * 4 * h, 0.37), wave(4 * h * h, 0.71));
        let a = lstm_forward(&xp, &w, &h0, &c0, d, CellActivation::Tanh);
        let b = lstm_forward(&f(&xp), &f(&w), &f(&h0), &f(&c0), d, CellActivation::Tanh);
        close(&a.out, &b.out);
        let g = wave(a.out.len(), 0.23);
        let ga = lstm_backward(
            &g,
            &w,
            &h0,
            &a.out,
            &a.gates,
            &a.cells,
            d,
            CellActivation::Tanh,
        );
        let gb = lstm_backward(
            &f(&g),
            &f(&w),
            &f(&h0),
            &b.out,
            &b.gates,
            &b.cells,
            d,
            CellActivation::Tanh,
        );
        for (x, y) in [
            (&ga.dxproj, &gb.dxproj),
            (&ga.dw_hh, &gb.dw_hh),
            (&ga.dh0, &gb.dh0),
        ] {
            close(x, y);
        }
        close(&ga.dc0, &gb.dc0);
        // GRU
        let (xp, w, bh) = (
            wave(t * n * 3 * h, 0.41),
            wave(3 * h * h, 0.53),
            wave(3 * h, 1.1),
        );
        let (oa, sa) = gru_forward(&xp, &w, &bh, &h0, d);
        let (ob, sb) = gru_forward(&f(&xp), &f(&w), &f(&bh), &f(&h0), d);
        close(&oa, &ob);
        let g = wave(oa.len(), 0.29);
        let ga = gru_backward(&g, &w, &h0, &oa, &sa, d);
        let gb = gru_backward(&f(&g), &f(&w), &f(&h0), &ob, &sb, d);
        for (x, y) in [
            (&ga.dxproj, &gb.dxproj),
            (&ga.dw_hh, &gb.dw_hh),
            (&ga.db_hh, &gb.db_hh),
        ] {
            close(x, y);
        }
        close(&ga.dh0, &gb.dh0);
        // Elman, both activations
        for act in [CellActivation::Tanh, CellActivation::Relu] {
            let (xp, w) = (wave(t * n * h, 0.31), wave(h * h, 0.67));
            let oa = rnn_forward(&xp, &w, &h0, d, act);
            let ob = rnn_forward(&f(&xp), &f(&w), &f(&h0), d, act);
            close(&oa, &ob);
            let g = wave(oa.len(), 0.19);
            let ga = rnn_backward(&g, &w, &h0, &oa, d, act);
            let gb = rnn_backward(&f(&g), &f(&w), &f(&h0), &ob, d, act);
            close(&ga.dxproj, &gb.dxproj);
            close(&ga.dw_hh, &gb.dw_hh);
            close(&ga.dh0, &gb.dh0);
        }
        // One LSTM step in f64 by hand: exact to f64 rounding.
        let d1 = SeqDims {
            steps: 1,
            batch: 1,
            hidden: 1,
            batch_first: false,
            reverse: false,
        };
        let one = lstm_forward(
            &[0.5f64, -0.25, 0.8, 1.5],
            &[0.3, -0.2, 0.1, 0.4],
            &[0.0],
            &[0.7],
            d1,
            CellActivation::Tanh,
        );
        let s = |x: f64| 1.0 / (1.0 + (-x).exp());
        let c = s(-0.25) * 0.7 + s(0.5) * 0.8f64.tanh();
        assert!((one.out[1] - c).abs() < 1e-15);
        assert!((one.out[0] - s(1.5) * c.tanh()).abs() < 1e-15);
    }

    /// Batch-first and time-major row orders give the same states, and reverse runs backwards.
    #[test]
    fn row_orders_agree_and_reverse_reverses() {
        let (t, n, h) = (3, 2, 2);
        let w: Vec<f32> = (0..h * h).map(|i| 0.1 * i as f32 - 0.15).collect();
        let tm: Vec<f32> = (0..t * n * h)
            .map(|i| ((i * 7 % 5) as f32 - 2.0) * 0.3)
            .collect();
        // Same data reordered to (n, t) rows.
        let mut bf = vec![0.0; tm.len()];
        for ti in 0..t {
            for ni in 0..n {
                for j in 0..h {
                    bf[(ni * t + ti) * h + j] = tm[(ti * n + ni) * h + j];
                }
            }
        }
        let d_tm = SeqDims {
            steps: t,
            batch: n,
            hidden: h,
            batch_first: false,
            reverse: false,
        };
        let d_bf = SeqDims {
            batch_first: true,
            ..d_tm
        };
        let a = rnn_forward(&tm, &w, &[0.0; 4], d_tm, CellActivation::Tanh);
        let b = rnn_forward(&bf, &w, &[0.0; 4], d_bf, CellActivation::Tanh);
        for ti in 0..t {
            for ni in 0..n {
                for j in 0..h {
                    assert_eq!(a[(ti * n + ni) * h + j], b[(ni * t + ti) * h + j]);
                }
            }
        }
        // Reverse: the last position sees no history, so it is act(xproj) alone.
        let r = rnn_forward(
            &tm,
            &w,
            &[0.0; 4],
            SeqDims {
                reverse: true,
                ..d_tm
            },
            CellActivation::Tanh,
        );
        let last = (t - 1) * n * h;
        for k in 0..n * h {
            assert!((r[last + k] - tm[last + k].tanh()).abs() < 1e-7);
        }
    }
}
