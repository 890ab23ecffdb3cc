//! GRU kernels: one direction over a sequence, forward and backward.

use super::{plain, state_rows, transposed, GateMath, RecurrentGrads, SeqDims};
use crate::backend::cpu::matmul::{gemm_into, MatRef};

/// One GRU direction over a sequence (PyTorch's form): per step `hg = h·W_hhᵀ + b_hh`,
/// `r = σ(x_r + hg_r)`, `z = σ(x_z + hg_z)`, `n = tanh(x_n + r·hg_n)`, `h' = (1 − z)·n + z·h`.
///
/// `xproj`: `T·N` rows of `3H` (`x·W_ihᵀ + b_ih`). Returns the hidden states (`T·N` rows of
/// `H`) and, step-major `[T][N][4H]`, the saved `r, z, n, hg_n`.
pub fn gru_forward<T: GateMath>(
    xproj: &[T],
    w_hh: &[T],
    b_hh: &[T],
    h0: &[T],
    d: SeqDims,
) -> (Vec<T>, Vec<T>) {
    let (t_len, n_len, h) = (d.steps, d.batch, d.hidden);
    let g3 = 3 * h;
    assert_eq!(
        xproj.len(),
        d.rows() * g3,
        "gru_forward: xproj has the wrong size"
    );
    assert_eq!(w_hh.len(), g3 * h, "gru_forward: w_hh has the wrong size");
    let mut out = vec![T::zero(); d.rows() * h];
    let mut saved = vec![T::zero(); t_len * n_len * 4 * h];
    let mut hg = vec![T::zero(); n_len * g3];
    for s in 0..t_len {
        let t = d.position(s);
        gemm_into(
            &mut hg,
            false,
            n_len,
            g3,
            h,
            state_rows(&out, h0, &d, s, h),
            transposed(w_hh, h),
            false,
        );
        for n in 0..n_len {
            let r_row = d.row(t, n);
            let prev = if s == 0 {
                None
            } else {
                Some(d.row(d.position(s - 1), n))
            };
            let x = &xproj[r_row * g3..(r_row + 1) * g3];
            let hgr = &hg[n * g3..(n + 1) * g3];
            let sv = &mut saved[(s * n_len + n) * 4 * h..(s * n_len + n + 1) * 4 * h];
            for j in 0..h {
                let hp = match prev {
                    None => h0[n * h + j],
                    Some(p) => out[p * h + j],
                };
                let hn = hgr[2 * h + j] + b_hh[2 * h + j];
                let r = T::gate_sigmoid(x[j] + hgr[j] + b_hh[j]);
                let z = T::gate_sigmoid(x[h + j] + hgr[h + j] + b_hh[h + j]);
                // (the library tanh, in f32 too: n is not vectorized with the gates)
                let nn = (x[2 * h + j] + r * hn).tanh();
                out[r_row * h + j] = (T::one() - z) * nn + z * hp;
                sv[j] = r;
                sv[h + j] = z;
                sv[2 * h + j] = nn;
                sv[3 * h + j] = hn;
            }
        }
    }
    (out, saved)
}

/// Backpropagation through time for [`gru_forward`].
pub fn gru_backward<T: GateMath>(
    gout: &[T],
    w_hh: &[T],
    h0: &[T],
    fwd_out: &[T],
    saved: &[T],
    d: SeqDims,
) -> RecurrentGrads<T> {
    let (t_len, n_len, h) = (d.steps, d.batch, d.hidden);
    let g3 = 3 * h;
    let mut dxproj = vec![T::zero(); d.rows() * g3];
    let mut dw_hh = vec![T::zero(); g3 * h];
    let mut db_hh = vec![T::zero(); g3];
    let mut dh_next = vec![T::zero(); n_len * h];
    let mut dhg = vec![T::zero(); n_len * g3];
    let one = T::one();
    for s in (0..t_len).rev() {
        let t = d.position(s);
        let prev_t = (s > 0).then(|| d.position(s - 1));
        for n in 0..n_len {
            let r_row = d.row(t, n);
            let sv = &saved[(s * n_len + n) * 4 * h..(s * n_len + n + 1) * 4 * h];
            let dx = &mut dxproj[r_row * g3..(r_row + 1) * g3];
            let dg = &mut dhg[n * g3..(n + 1) * g3];
            for j in 0..h {
                let k = n * h + j;
                let (r, z, nn, hn) = (sv[j], sv[h + j], sv[2 * h + j], sv[3 * h + j]);
                let hp = match prev_t {
                    None => h0[k],
                    Some(p) => fwd_out[d.row(p, n) * h + j],
                };
                let dh = gout[r_row * h + j] + dh_next[k];
                // dn_pre = dh·(1 − z)·(1 − n²); dz_pre = dh·(h − n)·z(1 − z); dr_pre = dn_pre·hg_n·r(1 − r)
                let dn_pre = dh * (one - z) * (one - nn * nn);
                let dz_pre = dh * (hp - nn) * z * (one - z);
                let dr_pre = dn_pre * hn * r * (one - r);
                dx[j] = dr_pre;
                dx[h + j] = dz_pre;
                dx[2 * h + j] = dn_pre;
                dg[j] = dr_pre;
                dg[h + j] = dz_pre;
                dg[2 * h + j] = dn_pre * r;
                dh_next[k] = dh * z;
            }
            for (b, &v) in db_hh.iter_mut().zip(dg.iter()) {
                *b += v;
            }
        }
        gemm_into(
            &mut dh_next,
            true,
            n_len,
            h,
            g3,
            plain(&dhg, g3),
            plain(w_hh, h),
            false,
        );
        let h_prev = state_rows(fwd_out, h0, &d, s, h);
        let dhg_t = MatRef {
            data: &dhg,
            offset: 0,
            row_stride: 1,
            col_stride: g3,
        };
        gemm_into(&mut dw_hh, true, g3, h, n_len, dhg_t, h_prev, false);
    }
    RecurrentGrads {
        dxproj,
        dw_hh,
        db_hh,
        dh0: dh_next,
        dc0: Vec::new(),
    }
}
