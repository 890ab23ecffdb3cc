//! Elman RNN kernels: one direction over a sequence, forward and backward.

use super::{
    plain, rows_transposed, state_rows, transposed, CellActivation, CellActivationKernel, GateMath,
    RecurrentGrads, SeqDims,
};
use crate::backend::cpu::matmul::{gemm_into, MatRef};

/// One Elman RNN direction over a sequence: `h' = act(xproj_t + h·W_hhᵀ)`.
/// `xproj`: `T·N` rows of `H` (input projection plus both biases). Returns the hidden states.
pub fn rnn_forward<T: GateMath>(
    xproj: &[T],
    w_hh: &[T],
    h0: &[T],
    d: SeqDims,
    act: CellActivation,
) -> Vec<T> {
    let (t_len, n_len, h) = (d.steps, d.batch, d.hidden);
    assert_eq!(
        xproj.len(),
        d.rows() * h,
        "rnn_forward: xproj has the wrong size"
    );
    assert_eq!(w_hh.len(), h * h, "rnn_forward: w_hh has the wrong size");
    let mut out = vec![T::zero(); d.rows() * h];
    let mut pre = vec![T::zero(); n_len * h];
    for s in 0..t_len {
        let t = d.position(s);
        gemm_into(
            &mut pre,
            false,
            n_len,
            h,
            h,
            state_rows(&out, h0, &d, s, h),
            transposed(w_hh, h),
            false,
        );
        for n in 0..n_len {
            let r = d.row(t, n);
            for j in 0..h {
                out[r * h + j] = act.apply(pre[n * h + j] + xproj[r * h + j]);
            }
        }
    }
    out
}

/// Backpropagation through time for [`rnn_forward`].
pub fn rnn_backward<T: GateMath>(
    gout: &[T],
    w_hh: &[T],
    h0: &[T],
    fwd_out: &[T],
    d: SeqDims,
    act: CellActivation,
) -> RecurrentGrads<T> {
    let (t_len, n_len, h) = (d.steps, d.batch, d.hidden);
    let mut dxproj = vec![T::zero(); d.rows() * h];
    let mut dw_hh = vec![T::zero(); h * h];
    let mut dh_next = vec![T::zero(); n_len * h];
    for s in (0..t_len).rev() {
        let t = d.position(s);
        for n in 0..n_len {
            let r = d.row(t, n);
            for j in 0..h {
                // d pre = (g + dh_next)·act'(h')
                let dh = gout[r * h + j] + dh_next[n * h + j];
                dxproj[r * h + j] = dh * act.derivative(fwd_out[r * h + j]);
            }
        }
        let dpre = MatRef {
            data: &dxproj,
            offset: d.row(t, 0) * h,
            row_stride: d.batch_row_stride() * h,
            col_stride: 1,
        };
        gemm_into(
            &mut dh_next,
            false,
            n_len,
            h,
            h,
            dpre,
            plain(w_hh, h),
            false,
        );
        let h_prev = state_rows(fwd_out, h0, &d, s, h);
        gemm_into(
            &mut dw_hh,
            true,
            h,
            h,
            n_len,
            rows_transposed(&dxproj, &d, t, h),
            h_prev,
            false,
        );
    }
    RecurrentGrads {
        dxproj,
        dw_hh,
        db_hh: Vec::new(),
        dh0: dh_next,
        dc0: Vec::new(),
    }
}
