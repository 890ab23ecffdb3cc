"""Golden values from PyTorch for Ferrite's recurrent layers (RNN, LSTM, GRU).

Run from the repository root with the project's Python (PyTorch):

    python (in a virtual environment with torch) tools/golden_rnn.py

It writes `crates/ferrite/tests/fixtures/rnn_golden.json`; `crates/ferrite/tests/rnn_golden.rs`
loads the same parameters, input and initial states into Ferrite's layers and compares the
output, the final states and the gradient of every parameter, of the input and of the
initial states. The loss is a fixed random weighting of output, h_n (and c_n), so every
element of every result receives a distinct gradient.
"""

import json
import os

import torch
import torch.nn as nn

OUT = os.path.join("crates", "ferrite", "tests", "fixtures", "rnn_golden.json")


def flat(t):
    return {"shape": list(t.shape), "data": [float(v) for v in t.detach().reshape(-1).tolist()]}


def case(name, module, kind, input_shape, with_state, nonlinearity="tanh"):
    cfg = {
        "kind": kind,
        "input_size": module.input_size,
        "hidden_size": module.hidden_size,
        "num_layers": module.num_layers,
        "batch_first": module.batch_first,
        "bidirectional": module.bidirectional,
        "nonlinearity": nonlinearity,
        "with_state": with_state,
    }
    x = torch.randn(*input_shape, requires_grad=True)
    d = 2 if module.bidirectional else 1
    batch = input_shape[0] if module.batch_first else input_shape[1]
    state_shape = (d * module.num_layers, batch, module.hidden_size)
    h0 = torch.randn(*state_shape, requires_grad=True)
    c0 = torch.randn(*state_shape, requires_grad=True)
    if kind == "lstm":
        out, (hn, cn) = module(x, (h0, c0)) if with_state else module(x)
    else:
        out, hn = module(x, h0) if with_state else module(x)
        cn = None
    w_out = torch.randn(out.shape)
    w_h = torch.randn(hn.shape)
    loss = (out * w_out).sum() + (hn * w_h).sum()
    res = {"config": cfg, "input": flat(x), "w_out": flat(w_out), "w_h": flat(w_h)}
    if cn is not None:
        w_c = torch.randn(cn.shape)
        loss = loss + (cn * w_c).sum()
        res["w_c"] = flat(w_c)
        res["c_n"] = flat(cn)
    loss.backward()
    res["params"] = {n: flat(p) for n, p in module.named_parameters()}
    res["grads"] = {n: flat(p.grad) for n, p in module.named_parameters()}
    res["output"] = flat(out)
    res["h_n"] = flat(hn)
    res["grad_input"] = flat(x.grad)
    if with_state:
        res["h0"] = flat(h0)
        res["grad_h0"] = flat(h0.grad)
        if kind == "lstm":
            res["c0"] = flat(c0)
            res["grad_c0"] = flat(c0.grad)
    return name, res


def main():
    torch.manual_seed(0)
    cases = dict(
        [
            case("lstm_2layer_batch_first_bidirectional", nn.LSTM(3, 4, num_layers=2, batch_first=True, bidirectional=True),
                 "lstm", (2, 5, 3), True),
            case("lstm_2layer_batch_first", nn.LSTM(3, 5, num_layers=2, batch_first=True), "lstm", (3, 4, 3), False),
            case("gru_2layer_bidirectional", nn.GRU(3, 4, num_layers=2, bidirectional=True), "gru", (5, 2, 3), True),
            case("gru_batch_first", nn.GRU(2, 3, batch_first=True), "gru", (2, 6, 2), False),
            case("rnn_tanh_2layer_batch_first_bidirectional",
                 nn.RNN(3, 4, num_layers=2, batch_first=True, bidirectional=True), "rnn", (2, 5, 3), True),
            case("rnn_relu", nn.RNN(2, 3, nonlinearity="relu"), "rnn", (4, 3, 2), True, nonlinearity="relu"),
        ]
    )
    meta = {"torch_version": torch.__version__, "cases": cases}
    with open(OUT, "w") as f:
        json.dump(meta, f)
    print(f"wrote {OUT} ({len(cases)} cases, torch {torch.__version__})")


if __name__ == "__main__":
    main()
