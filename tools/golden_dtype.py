"""Golden values from PyTorch for Ferrite's element types: the result type of mixed-type ops
(promotion, including zero-dimensional operands), the values of conversions between types
(float to int truncation, f16 and bf16 rounding), mixed-type arithmetic, and the class-index
losses with int64 targets, with their input gradients.

Run from the repository root with a Python that has PyTorch:

    python tools/golden_dtype.py

It writes `crates/ferrite/tests/fixtures/dtype_golden.json`, read by
`crates/ferrite/tests/dtype_golden.rs`.
"""

import json
import os

import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "crates", "ferrite", "tests", "fixtures", "dtype_golden.json")

DTYPES = {
    "float32": torch.float32,
    "float64": torch.float64,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    "int64": torch.int64,
    "bool": torch.bool,
}
gen = torch.Generator().manual_seed(77)


def name(dtype):
    return next(k for k, v in DTYPES.items() if v == dtype)


def promotion():
    cases = []
    for a in DTYPES:
        for b in DTYPES:
            for a_zero, b_zero in [(False, False), (False, True), (True, False), (True, True)]:
                x = torch.ones(() if a_zero else (2,), dtype=DTYPES[a])
                y = torch.ones(() if b_zero else (2,), dtype=DTYPES[b])
                cases.append(
                    {"a": a, "a_zero_dim": a_zero, "b": b, "b_zero_dim": b_zero, "result": name(torch.result_type(x, y))}
                )
    return cases


def conversions():
    values = [0.0, 0.1, -0.1, 1.0 / 3.0, 2.5, -2.5, 2.7, -2.7, 1.0 + 2**-11, 65504.0, 65520.0, 70000.0, 1e-5, 3e-8, 1e30]
    x = torch.tensor(values, dtype=torch.float64)
    out = {"values": values}
    for target in ["float32", "float16", "bfloat16"]:
        # JSON has no infinity: an overflow to ±inf is written as null.
        out[target] = [float(v) if torch.isfinite(v) else None for v in x.to(DTYPES[target]).double()]
    small = torch.tensor([0.0, 0.9, -0.9, 2.5, -2.5, 7.99, -7.99, 1e6], dtype=torch.float32)
    out["int64_from"] = [float(v) for v in small]
    out["int64"] = [int(v) for v in small.to(torch.int64)]
    out["bool"] = [bool(v) for v in small.to(torch.bool)]
    return out


def arithmetic():
    a = torch.tensor([1, -2, 3, 40], dtype=torch.int64)
    b = torch.tensor([0.5, 0.25, -1.5, 2.0], dtype=torch.float32)
    h = torch.tensor([1.0, 2.0, 3.0, 1000.0], dtype=torch.float16)
    s64 = torch.tensor(0.1, dtype=torch.float64)
    cases = []
    for label, x, y in [
        ("int64 + float32", a, b),
        ("int64 * float32", a, b),
        ("float16 + float64 scalar", h, s64),
        ("float16 * float32", h, b),
        ("int64 + float64 scalar", a, s64),
    ]:
        op = "mul" if "*" in label else "add"
        r = x * y if op == "mul" else x + y
        cases.append({
            "label": label, "op": op,
            "a": [float(v) for v in x.double().reshape(-1)], "a_dtype": name(x.dtype), "a_zero_dim": x.dim() == 0,
            "b": [float(v) for v in y.double().reshape(-1)], "b_dtype": name(y.dtype), "b_zero_dim": y.dim() == 0,
            "result_dtype": name(r.dtype), "result": [float(v) for v in r.double().reshape(-1)],
        })
    return cases


def int64_targets():
    cases = []
    for loss in ["cross_entropy", "nll_loss"]:
        for reduction in ["mean", "sum", "none"]:
            x = torch.randn(5, 4, generator=gen, dtype=torch.float32)
            if loss == "nll_loss":
                x = F.log_softmax(x, dim=1).detach()
            x.requires_grad_(True)
            t = torch.randint(0, 4, (5,), generator=gen, dtype=torch.int64)
            t[2] = -100
            fn = F.cross_entropy if loss == "cross_entropy" else F.nll_loss
            out = fn(x, t, reduction=reduction, ignore_index=-100)
            g = torch.ones_like(out)
            out.backward(g)
            cases.append({
                "loss": loss, "reduction": reduction,
                "input": x.detach().reshape(-1).tolist(), "input_shape": list(x.shape),
                "target": t.tolist(),
                "output": out.detach().reshape(-1).tolist(),
                "grad_input": x.grad.reshape(-1).tolist(),
            })
    return cases


def main():
    data = {
        "torch_version": torch.__version__,
        "promotion": promotion(),
        "conversions": conversions(),
        "arithmetic": arithmetic(),
        "int64_targets": int64_targets(),
    }
    with open(OUT, "w") as f:
        json.dump(data, f, indent=1)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
