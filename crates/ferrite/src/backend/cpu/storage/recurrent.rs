//! The CPU implementation of [`crate::backend::RecurrentOps`] on the kernels of `cpu/rnn.rs`,
//! in the input projection's float type.

use super::{float_dispatch, CpuStorage, Element};
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
        float_dispatch!("lstm", self.dtype(), |T| {
            let fwd = rnn::lstm_forward(
                &self.view_as::<T>(layout),
                &w_hh.0.view_as::<T>(w_hh.1),
                &h0.0.view_as::<T>(h0.1),
                &c0.0.view_as::<T>(c0.1),
                d,
                activation,
            );
            Ok(LstmBuffers {
                out: T::wrap(fwd.out),
                gates: T::wrap(fwd.gates),
                cells: T::wrap(fwd.cells),
            })
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
        float_dispatch!("lstm_backward", self.dtype(), |T| {
            let g = rnn::lstm_backward(
                &self.view_as::<T>(layout),
                &w_hh.0.view_as::<T>(w_hh.1),
                &h0.0.view_as::<T>(h0.1),
                &out.0.view_as::<T>(out.1),
                gates.data::<T>(),
                cells.data::<T>(),
                d,
                activation,
            );
            Ok([g.dxproj, g.dw_hh, g.dh0, g.dc0].map(T::wrap))
        })
    }

    fn gru_forward(
        &self,
        layout: &Layout,
        w_hh: (&Self, &Layout),
        b_hh: (&Self, &Layout),
        h0: (&Self, &Layout),
        d: SeqDims,
    ) -> BackendResult<(Self, Self)> {
        float_dispatch!("gru", self.dtype(), |T| {
            let (out, gates) = rnn::gru_forward(
                &self.view_as::<T>(layout),
                &w_hh.0.view_as::<T>(w_hh.1),
                &b_hh.0.view_as::<T>(b_hh.1),
                &h0.0.view_as::<T>(h0.1),
                d,
            );
            Ok((T::wrap(out), T::wrap(gates)))
        })
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
        float_dispatch!("gru_backward", self.dtype(), |T| {
            let g = rnn::gru_backward(
                &self.view_as::<T>(layout),
                &w_hh.0.view_as::<T>(w_hh.1),
                &h0.0.view_as::<T>(h0.1),
                &out.0.view_as::<T>(out.1),
                gates.data::<T>(),
                d,
            );
            Ok([g.dxproj, g.dw_hh, g.db_hh, g.dh0].map(T::wrap))
        })
    }

    fn rnn_forward(
        &self,
        layout: &Layout,
        w_hh: (&Self, &Layout),
        h0: (&Self, &Layout),
        d: SeqDims,
        activation: CellActivation,
    ) -> BackendResult<Self> {
        float_dispatch!("rnn", self.dtype(), |T| {
            Ok(T::wrap(rnn::rnn_forward(
                &self.view_as::<T>(layout),
                &w_hh.0.view_as::<T>(w_hh.1),
                &h0.0.view_as::<T>(h0.1),
                d,
                activation,
            )))
        })
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
        float_dispatch!("rnn_backward", self.dtype(), |T| {
            let g = rnn::rnn_backward(
                &self.view_as::<T>(layout),
                &w_hh.0.view_as::<T>(w_hh.1),
                &h0.0.view_as::<T>(h0.1),
                &out.0.view_as::<T>(out.1),
                d,
                activation,
            );
            Ok([g.dxproj, g.dw_hh, g.dh0].map(T::wrap))
        })
    }
}
