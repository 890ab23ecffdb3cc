"""Golden values for Ferrite's tensor engine, computed by PyTorch.

Run by hand (torch installed outside the repository):
    python (in a virtual environment with torch) tools/golden_tensor.py
Writes crates/ferrite/tests/fixtures/tensor_golden.json, read by crates/ferrite/tests/tensor_golden.rs.

Every case has float32 inputs, an upstream gradient `grad_out` (random, so that every output
element weighs differently), the output of the op and the gradient of sum(output * grad_out)
with respect to each input that requires grad. PyTorch computes in float64 from the float32
inputs, so the fixture holds the exact answer rounded once; Ferrite's float32 result must be
within 1e-5 relative of it.
"""
import json
import os

import torch
import torch.nn.functional as F

torch.manual_seed(0)
OUT = os.path.join(os.path.dirname(__file__), "..", "crates", "ferrite", "tests", "fixtures", "tensor_golden.json")


def randn(*shape):
    return torch.randn(*shape, dtype=torch.float32)


def positive(*shape):
    return torch.rand(*shape, dtype=torch.float32) * 2.0 + 0.1


def indices(high, *shape):
    return torch.randint(0, high, shape).to(torch.float32)


def mask(*shape):
    return (torch.rand(*shape) < 0.4).to(torch.float32)


# name -> (inputs as (tensor, requires_grad), function of float64 tensors).
# The Rust test has one closure per name doing the same thing with Ferrite's API.
CASES = {
    "add_broadcast": ([(randn(3, 1, 4), True), (randn(2, 4), True)], lambda a, b: a + b),
    "sub_broadcast": ([(randn(4), True), (randn(3, 4), True)], lambda a, b: a - b),
    "mul_broadcast": ([(randn(2, 3), True), (randn(3), True)], lambda a, b: a * b),
    "div_broadcast": ([(randn(2, 3), True), (positive(2, 1), True)], lambda a, b: a / b),
    "pow_tensor": ([(positive(2, 3), True), (randn(2, 3), True)], lambda a, b: a ** b),
    "pow_scalar": ([(positive(5), True)], lambda a: a ** 2.5),
    "neg_exp": ([(randn(2, 3), True)], lambda a: (-a).exp()),
    "log": ([(positive(6), True)], lambda a: a.log()),
    "log1p": ([(positive(6), True)], lambda a: a.log1p()),
    "sqrt": ([(positive(6), True)], lambda a: a.sqrt()),
    "abs": ([(randn(6), True)], lambda a: a.abs()),
    "clamp": ([(randn(8), True)], lambda a: a.clamp(-0.5, 0.7)),
    "maximum": ([(randn(2, 4), True), (randn(4), True)], lambda a, b: torch.maximum(a, b)),
    "minimum": ([(randn(2, 4), True), (randn(2, 1), True)], lambda a, b: torch.minimum(a, b)),
    "sigmoid": ([(randn(7), True)], lambda a: a.sigmoid()),
    "tanh": ([(randn(7), True)], lambda a: a.tanh()),
    "relu": ([(randn(7), True)], lambda a: a.relu()),
    "leaky_relu": ([(randn(7), True)], lambda a: F.leaky_relu(a, 0.01)),
    "elu": ([(randn(7), True)], lambda a: F.elu(a, 1.0)),
    "gelu": ([(randn(7), True)], lambda a: F.gelu(a)),
    "gelu_tanh": ([(randn(7), True)], lambda a: F.gelu(a, approximate="tanh")),
    "softplus": ([(randn(7) * 3, True)], lambda a: F.softplus(a)),
    "log_sigmoid": ([(randn(7) * 3, True)], lambda a: F.logsigmoid(a)),
    "softmax_dim1": ([(randn(3, 5), True)], lambda a: a.softmax(1)),
    "softmax_dim0_transposed": ([(randn(4, 3), True)], lambda a: a.t().softmax(0)),
    "log_softmax_dim1": ([(randn(3, 5), True)], lambda a: a.log_softmax(1)),
    "logsumexp_dim0": ([(randn(4, 3), True)], lambda a: a.logsumexp(0)),
    "sum_all": ([(randn(3, 4), True)], lambda a: a.sum()),
    "sum_dim_keepdim": ([(randn(3, 4), True)], lambda a: a.sum(1, keepdim=True)),
    "mean_dims": ([(randn(2, 3, 4), True)], lambda a: a.mean((0, 2))),
    "max_dim": ([(randn(3, 5), True)], lambda a: a.max(1).values),
    "min_all": ([(randn(3, 5), True)], lambda a: a.min()),
    "prod_dim": ([(randn(3, 4), True)], lambda a: a.prod(1)),
    "var_dim_unbiased": ([(randn(3, 5), True)], lambda a: a.var(1, unbiased=True)),
    "std_biased": ([(randn(10), True)], lambda a: a.std(unbiased=False)),
    "norm_2": ([(randn(3, 4), True)], lambda a: a.norm(2)),
    "norm_3_dim": ([(randn(3, 4), True)], lambda a: torch.linalg.vector_norm(a, 3, dim=1)),
    "matmul_2d": ([(randn(3, 4), True), (randn(4, 5), True)], lambda a, b: a @ b),
    "matmul_transposed": ([(randn(4, 3), True), (randn(5, 4), True)], lambda a, b: a.t() @ b.t()),
    "matmul_vec_mat": ([(randn(4), True), (randn(4, 3), True)], lambda a, b: a @ b),
    "matmul_mat_vec": ([(randn(3, 4), True), (randn(4), True)], lambda a, b: a @ b),
    "matmul_dot": ([(randn(5), True), (randn(5), True)], lambda a, b: a @ b),
    "matmul_batched_broadcast": ([(randn(2, 1, 3, 4), True), (randn(3, 4, 2), True)], lambda a, b: a @ b),
    "permute_reshape": ([(randn(2, 3, 4), True)], lambda a: a.permute(2, 0, 1).reshape(4, 6) * torch.arange(6.0, dtype=a.dtype)),
    "narrow_slice": ([(randn(4, 5), True)], lambda a: a[1:3, 2:5].exp()),
    "expand": ([(randn(3, 1), True)], lambda a: a.expand(2, 3, 4) * torch.arange(4.0, dtype=a.dtype)),
    "index_select": ([(randn(4, 3), True)], lambda a: a.index_select(0, torch.tensor([2, 0, 2, 3]))),
    "gather": ([(randn(3, 4), True), (indices(4, 3, 2), False)], lambda a, i: a.gather(1, i.long())),
    "scatter_add": ([(randn(3, 4), True), (indices(3, 2, 4), False), (randn(2, 4), True)],
                    lambda a, i, s: a.scatter_add(0, i.long(), s)),
    "masked_fill": ([(randn(3, 4), True), (mask(1, 4), False)], lambda a, m: a.masked_fill(m.bool(), -2.0)),
    "where": ([(mask(3, 4), False), (randn(3, 4), True), (randn(4), True)], lambda c, a, b: torch.where(c.bool(), a, b)),
    "cat_dim1": ([(randn(2, 3), True), (randn(2, 2), True)], lambda a, b: torch.cat([a, b], 1)),
    "stack_dim0": ([(randn(3), True), (randn(3), True)], lambda a, b: torch.stack([a, b], 0)),
    "split_second": ([(randn(5, 2), True)], lambda a: a.split(2, 0)[1] * 3.0),
}


def flat(t):
    return {"shape": list(t.shape), "data": [float(v) for v in t.detach().to(torch.float32).reshape(-1).tolist()]}


def run(name, spec):
    inputs, fn = spec
    xs = [t.to(torch.float64).requires_grad_(rg) for t, rg in inputs]
    out = fn(*xs)
    grad_out = torch.rand(out.shape, dtype=torch.float32) + 0.5
    out.backward(grad_out.to(torch.float64))
    return {
        "name": name,
        "inputs": [dict(flat(t), requires_grad=rg) for t, rg in inputs],
        "grad_out": flat(grad_out),
        "output": flat(out),
        "grads": [flat(x.grad) if rg else None for x, (_, rg) in zip(xs, inputs)],
    }


def main():
    cases = [run(name, spec) for name, spec in CASES.items()]
    with open(OUT, "w") as f:
        json.dump({"generator": "tools/golden_tensor.py", "torch": torch.__version__, "cases": cases}, f, indent=1)
    print(f"wrote {len(cases)} cases to {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
