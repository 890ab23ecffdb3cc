//! The CPU implementation of [`crate::backend::RecurrentOps`] on the kernels of `cpu/rnn.rs`.

use super::CpuStorage;
use crate::backend::cpu::rnn;
use crate::backend::{recurrent::LstmBuffers, BackendResult, RecurrentOps};
use crate::core::{CellActivation, Layout, SeqDims};

impl RecurrentOps for CpuStorage {
    fn lstm_forward(
        &self,
        layout: &Layout,
        w_hh: (&Self, &Layout),
        h0: (&Self, &Layout),
        c0: (&Self, &Layout),
        d: SeqDims,
        activation: CellActivation,
    ) -> BackendResult<LstmBuffers<Self>> {
        let fwd = rnn::lstm_forward(
            &self.view(layout),
            &w_hh.0.view(w_hh.1),
            &h0.0.view(h0.1),
            &c0.0.view(c0.1),
            d,
            activation,
        );
        Ok(LstmBuffers {
            out: CpuStorage::from_vec(fwd.out),
            gates: CpuStorage::from_vec(fwd.gates),
            cells: CpuStorage::from_vec(fwd.cells),
        })
    }

    fn lstm_backward(
        &self,
        layout: &Layout,
        w_hh: (&Self, &Layout),
        h0: (&Self, &Layout),
        out: (&Self, &Layout),
        gates: &Self,
        cells: &Self,
        d: SeqDims,
        activation: CellActivation,
    ) -> BackendResult<[Self; 4]> {
        let g = rnn::lstm_backward(
            &self.view(layout),
            &w_hh.0.view(w_hh.1),
            &h0.0.view(h0.1),
            &out.0.view(out.1),
            gates.f32(),
            cells.f32(),
            d,
            activation,
        );
        Ok([g.dxproj, g.dw_hh, g.dh0, g.dc0].map(CpuStorage::from_vec))
    }

    fn gru_forward(
        &self,
        layout: &Layout,
        w_hh: (&Self, &Layout),
        b_hh: (&Self, &Layout),
        h0: (&Self, &Layout),
        d: SeqDims,
    ) -> BackendResult<(Self, Self)> {
        let (out, gates) = rnn::gru_forward(
            &self.view(layout),
            &w_hh.0.view(w_hh.1),
            &b_hh.0.view(b_hh.1),
            &h0.0.view(h0.1),
            d,
        );
        Ok((CpuStorage::from_vec(out), CpuStorage::from_vec(gates)))
    }

    fn gru_backward(
        &self,
        layout: &Layout,
        w_hh: (&Self, &Layout),
        h0: (&Self, &Layout),
        out: (&Self, &Layout),
        gates: &Self,
        d: SeqDims,
    ) -> BackendResult<[Self; 4]> {
        let g = rnn::gru_backward(
            &self.view(layout),
            &w_hh.0.view(w_hh.1),
            &h0.0.view(h0.1),
            &out.0.view(out.1),
            gates.f32(),
            d,
        );
        Ok([g.dxproj, g.dw_hh, g.db_hh, g.dh0].map(CpuStorage::from_vec))
    }

    fn rnn_forward(
        &self,
        layout: &Layout,
        w_hh: (&Self, &Layout),
        h0: (&Self, &Layout),
        d: SeqDims,
        activation: CellActivation,
    ) -> BackendResult<Self> {
        Ok(CpuStorage::from_vec(rnn::rnn_forward(
            &self.view(layout),
            &w_hh.0.view(w_hh.1),
            &h0.0.view(h0.1),
            d,
            activation,
        )))
    }

    fn rnn_backward(
        &self,
        layout: &Layout,
        w_hh: (&Self, &Layout),
        h0: (&Self, &Layout),
        out: (&Self, &Layout),
        d: SeqDims,
        activation: CellActivation,
    ) -> BackendResult<[Self; 3]> {
        let g = rnn::rnn_backward(
            &self.view(layout),
            &w_hh.0.view(w_hh.1),
            &h0.0.view(h0.1),
            &out.0.view(out.1),
            d,
            activation,
        );
        Ok([g.dxproj, g.dw_hh, g.dh0].map(CpuStorage::from_vec))
    }
}
