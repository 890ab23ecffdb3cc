"""Golden values from PyTorch for Ferrite's losses: every loss, option and reduction, with
the loss values and the gradients of the input (and of the target, where PyTorch has one).

Run from the repository root with the project's Python (PyTorch):

    python (in a virtual environment with torch) tools/golden_losses.py

It writes `crates/ferrite/tests/fixtures/losses.json`, read by
`crates/ferrite/tests/losses_golden.rs`. Each case holds its inputs (float32 values, class
indices as whole numbers), the options, PyTorch's output, and, for differentiable inputs,
the gradient of `sum(output * grad_output)` (`grad_output` is stored for unreduced losses,
1 otherwise). Cases PyTorch rejects store the error message instead.
"""

import json
import os
import warnings

import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "crates", "ferrite", "tests", "fixtures", "losses.json")

REDUCTIONS = ["none", "sum", "mean"]
gen = torch.Generator().manual_seed(2024)


def randn(*shape, scale=1.0):
    return (torch.randn(*shape, generator=gen) * scale).float()


def rand(*shape, low=0.0, high=1.0):
    return (torch.rand(*shape, generator=gen) * (high - low) + low).float()


def randint(high, *shape):
    return torch.randint(0, high, shape, generator=gen).float()


def signs(*shape):
    return randint(2, *shape) * 2 - 1


def enc(t):
    assert torch.isfinite(t).all(), "JSON has no NaN or infinity"
    return {"shape": list(t.shape), "data": [float(v) for v in t.detach().reshape(-1).tolist()]}


def run(loss, fn, tensors, options, differentiable, reduction="mean", name=None):
    """Runs `fn(**tensors)`; records output and gradients of the `differentiable` tensors."""
    case = {
        "name": name or " ".join([loss, reduction] + [k if torch.is_tensor(v) else f"{k}={v}" for k, v in options.items()]),
        "loss": loss,
        "reduction": reduction,
        "options": {k: (enc(v) if torch.is_tensor(v) else v) for k, v in options.items()},
        "tensors": {k: enc(v) for k, v in tensors.items()},
    }
    leaves = {k: v.clone().requires_grad_(k in differentiable) for k, v in tensors.items()}
    try:
        out = fn(**leaves)
    except (RuntimeError, ValueError, IndexError) as e:
        case["error"] = str(e).splitlines()[0]
        return case
    case["output"] = enc(out)
    grad_out = randn(*out.shape) if out.dim() > 0 else torch.ones(())
    if out.dim() > 0:
        case["grad_output"] = enc(grad_out)
    wanted = [k for k in differentiable if k in leaves]
    if wanted:
        try:
            grads = torch.autograd.grad(out, [leaves[k] for k in wanted], grad_out, allow_unused=True)
            case["grads"] = {k: enc(g) for k, g in zip(wanted, grads) if g is not None}
        except RuntimeError:
            # PyTorch has no derivative for this input (e.g. some targets): compare inputs only.
            grads = torch.autograd.grad(out, [leaves[wanted[0]]], grad_out)
            case["grads"] = {wanted[0]: enc(grads[0])}
    return case


def cross_entropy_cases():
    cases = []
    w3, w4 = rand(3, low=0.2, high=2.0), rand(4, low=0.2, high=2.0)
    for r in REDUCTIONS:
        x = randn(5, 3, scale=2.0)
        y = randint(3, 5)
        y_ign = y.clone()
        y_ign[1] = -100
        y_ign[3] = 1.0
        for opts, target in [
            ({}, y),
            ({"weight": w3}, y),
            ({"ignore_index": -100}, y_ign),
            ({"weight": w3, "ignore_index": 2}, y),
            ({"label_smoothing": 0.1}, y),
            ({"weight": w3, "label_smoothing": 0.25, "ignore_index": -100}, y_ign),
        ]:
            cases.append(run("cross_entropy", lambda input, target, o=opts: F.cross_entropy(input, target.long(), reduction=r, **o),
                             {"input": x, "target": target}, opts, ["input"], r))
        # (N, C, d1, d2) inputs with index targets.
        x4 = randn(2, 4, 3, 2, scale=1.5)
        y4 = randint(4, 2, 3, 2)
        y4[0, 1, 1] = -1
        for opts in [{}, {"weight": w4, "ignore_index": -1, "label_smoothing": 0.2}]:
            target = y4 if opts else randint(4, 2, 3, 2)
            cases.append(run("cross_entropy", lambda input, target, o=opts: F.cross_entropy(input, target.long(), reduction=r, **o),
                             {"input": x4, "target": target}, opts, ["input"], r))
        # Probability targets, (N, C) and (N, C, d).
        p = torch.softmax(randn(5, 3), 1)
        for opts in [{}, {"weight": w3}, {"label_smoothing": 0.3, "weight": w3}]:
            cases.append(run("cross_entropy", lambda input, target, o=opts: F.cross_entropy(input, target, reduction=r, **o),
                             {"input": randn(5, 3), "target": p}, opts, ["input", "target"], r))
        p3 = torch.softmax(randn(2, 4, 3), 1)
        cases.append(run("cross_entropy", lambda input, target: F.cross_entropy(input, target, reduction=r, label_smoothing=0.1),
                         {"input": randn(2, 4, 3), "target": p3}, {"label_smoothing": 0.1}, ["input", "target"], r))
        # Unbatched (C) input with a 0-d index target.
        cases.append(run("cross_entropy", lambda input, target: F.cross_entropy(input, target.long(), reduction=r),
                         {"input": randn(4), "target": torch.tensor(2.0)}, {}, ["input"], r))
    # Large logits stay finite.
    big = torch.tensor([[1000.0, 0.0, -1000.0], [0.0, 500.0, 0.0]])
    cases.append(run("cross_entropy", lambda input, target: F.cross_entropy(input, target.long()),
                     {"input": big, "target": torch.tensor([2.0, 0.0])}, {}, ["input"], "mean", "cross_entropy large logits"))
    # Errors.
    x = randn(3, 2)
    cases.append(run("cross_entropy", lambda input, target: F.cross_entropy(input, target.long()),
                     {"input": x, "target": torch.tensor([0.0, 1.0, 3.0])}, {}, [], "mean", "cross_entropy target out of bounds"))
    cases.append(run("cross_entropy", lambda input, target: F.cross_entropy(input, target.long()),
                     {"input": x, "target": torch.tensor([0.0, 1.0])}, {}, [], "mean", "cross_entropy batch mismatch"))
    cases.append(run("cross_entropy", lambda input, target: F.cross_entropy(input, target.long(), weight=torch.ones(3)),
                     {"input": x, "target": torch.tensor([0.0, 1.0, 1.0])}, {"weight": torch.ones(3)}, [], "mean",
                     "cross_entropy weight of the wrong length"))
    cases.append(run("cross_entropy", lambda input, target: F.cross_entropy(input, target.long(), label_smoothing=1.5),
                     {"input": x, "target": torch.tensor([0.0, 1.0, 1.0])}, {"label_smoothing": 1.5}, [], "mean",
                     "cross_entropy label smoothing above 1"))
    return cases


def nll_cases():
    cases = []
    w = rand(4, low=0.2, high=2.0)
    for r in REDUCTIONS:
        x = torch.log_softmax(randn(6, 4), 1)
        y = randint(4, 6)
        y_ign = y.clone()
        y_ign[2] = 3.0
        for opts, target in [({}, y), ({"weight": w}, y), ({"weight": w, "ignore_index": 3}, y_ign)]:
            cases.append(run("nll_loss", lambda input, target, o=opts: F.nll_loss(input, target.long(), reduction=r, **o),
                             {"input": x, "target": target}, opts, ["input"], r))
        x3 = randn(2, 4, 5)
        cases.append(run("nll_loss", lambda input, target: F.nll_loss(input, target.long(), weight=w, reduction=r),
                         {"input": x3, "target": randint(4, 2, 5)}, {"weight": w}, ["input"], r))
    cases.append(run("nll_loss", lambda input, target: F.nll_loss(input, target.long()),
                     {"input": randn(2, 3), "target": torch.tensor([0.0, 3.0])}, {}, [], "mean", "nll_loss target out of bounds"))
    return cases


def binary_cases():
    cases = []
    for r in REDUCTIONS:
        x = rand(4, 3, low=0.02, high=0.98)
        y = rand(4, 3)
        yb = randint(2, 4, 3)
        w = rand(3, low=0.5, high=2.0)
        for opts, target in [({}, yb), ({"weight": w}, y), ({"weight": rand(4, 3, low=0.5, high=2.0)}, yb)]:
            cases.append(run("binary_cross_entropy", lambda input, target, o=opts: F.binary_cross_entropy(input, target, reduction=r, **o),
                             {"input": x, "target": target}, opts, ["input", "target"], r))
        logits = randn(4, 3, scale=3.0)
        pw = rand(3, low=0.5, high=4.0)
        for opts, target in [({}, yb), ({"weight": w}, y), ({"pos_weight": pw}, yb), ({"weight": w, "pos_weight": pw}, y)]:
            cases.append(run("binary_cross_entropy_with_logits",
                             lambda input, target, o=opts: F.binary_cross_entropy_with_logits(input, target, reduction=r, **o),
                             {"input": logits, "target": target}, opts, ["input", "target"], r))
        cases.append(run("soft_margin_loss", lambda input, target: F.soft_margin_loss(input, target, reduction=r),
                         {"input": randn(3, 4), "target": signs(3, 4)}, {}, ["input"], r))
    # Clamped logs at exactly 0 and 1 (values only: the gradient there is PyTorch's 1e12 guard).
    cases.append(run("binary_cross_entropy", lambda input, target: F.binary_cross_entropy(input, target, reduction="none"),
                     {"input": torch.tensor([0.0, 1.0, 0.0, 1.0]), "target": torch.tensor([1.0, 0.0, 0.0, 1.0])}, {}, [], "none",
                     "binary_cross_entropy clamps log at -100"))
    big = torch.tensor([200.0, -200.0, 60.0, -60.0])
    cases.append(run("binary_cross_entropy_with_logits",
                     lambda input, target: F.binary_cross_entropy_with_logits(input, target, reduction="none"),
                     {"input": big, "target": torch.tensor([0.0, 1.0, 1.0, 0.0])}, {}, ["input"], "none",
                     "binary_cross_entropy_with_logits large logits"))
    cases.append(run("binary_cross_entropy", lambda input, target: F.binary_cross_entropy(input, target),
                     {"input": torch.tensor([0.5, 1.2]), "target": torch.tensor([1.0, 0.0])}, {}, [], "mean",
                     "binary_cross_entropy input above 1"))
    cases.append(run("binary_cross_entropy_with_logits", lambda input, target: F.binary_cross_entropy_with_logits(input, target),
                     {"input": randn(3, 1), "target": torch.tensor([1.0, 0.0, 1.0])}, {}, [], "mean",
                     "binary_cross_entropy_with_logits size mismatch"))
    return cases


def regression_cases():
    cases = []
    for r in REDUCTIONS:
        x, y = randn(3, 4, scale=2.0), randn(3, 4, scale=2.0)
        cases.append(run("l1_loss", lambda input, target: F.l1_loss(input, target, reduction=r), {"input": x, "target": y}, {},
                         ["input", "target"], r))
        cases.append(run("mse_loss", lambda input, target: F.mse_loss(input, target, reduction=r), {"input": x, "target": y}, {},
                         ["input", "target"], r))
        for beta in [1.0, 0.5, 2.5, 0.0]:
            cases.append(run("smooth_l1_loss", lambda input, target, b=beta: F.smooth_l1_loss(input, target, reduction=r, beta=b),
                             {"input": x, "target": y}, {"beta": beta}, ["input", "target"], r))
        for delta in [1.0, 0.3, 3.0]:
            cases.append(run("huber_loss", lambda input, target, d=delta: F.huber_loss(input, target, reduction=r, delta=d),
                             {"input": x, "target": y}, {"delta": delta}, ["input", "target"], r))
    return cases


def pair_cases():
    cases = []
    for r in REDUCTIONS:
        x1, x2 = randn(5, 4), randn(5, 4)
        y = signs(5)
        for margin in [0.0, 0.3, -0.4]:
            cases.append(run("cosine_embedding_loss",
                             lambda x1, x2, target, m=margin: F.cosine_embedding_loss(x1, x2, target, margin=m, reduction=r),
                             {"x1": x1, "x2": x2, "target": y}, {"margin": margin}, ["x1", "x2"], r))
        cases.append(run("cosine_embedding_loss", lambda x1, x2, target: F.cosine_embedding_loss(x1, x2, target, reduction=r),
                         {"x1": randn(6), "x2": randn(6), "target": torch.tensor(-1.0)}, {"margin": 0.0}, ["x1", "x2"], r))
        s1, s2, t = randn(6), randn(6), signs(6)
        for margin in [0.0, 0.5]:
            cases.append(run("margin_ranking_loss",
                             lambda x1, x2, target, m=margin: F.margin_ranking_loss(x1, x2, target, margin=m, reduction=r),
                             {"x1": s1, "x2": s2, "target": t}, {"margin": margin}, ["x1", "x2"], r))
        # Same number of dimensions broadcasts: (4, 1) against (1, 3).
        cases.append(run("margin_ranking_loss", lambda x1, x2, target: F.margin_ranking_loss(x1, x2, target, margin=0.2, reduction=r),
                         {"x1": randn(4, 1), "x2": randn(1, 3), "target": signs(4, 3)}, {"margin": 0.2}, ["x1", "x2"], r))
    cases.append(run("margin_ranking_loss", lambda x1, x2, target: F.margin_ranking_loss(x1, x2, target),
                     {"x1": randn(3, 1), "x2": randn(3, 1), "target": signs(3)}, {"margin": 0.0}, [], "mean",
                     "margin_ranking_loss different dimensions"))
    return cases


def kl_cases():
    cases = []
    for r in REDUCTIONS + ["batchmean"]:
        x = torch.log_softmax(randn(4, 5), 1)
        t = torch.softmax(randn(4, 5), 1)
        t_zero = t.clone()
        t_zero[0, 2] = 0.0
        # A zero target costs nothing (0·log 0 = 0); PyTorch's target gradient there is NaN, so
        # that case checks the input gradient only, and a case without zeros checks both.
        cases.append(run("kl_div", lambda input, target: F.kl_div(input, target, reduction=r), {"input": x, "target": t_zero},
                         {"log_target": False}, ["input"], r))
        cases.append(run("kl_div", lambda input, target: F.kl_div(input, target, reduction=r), {"input": x, "target": t},
                         {"log_target": False}, ["input", "target"], r))
        cases.append(run("kl_div", lambda input, target: F.kl_div(input, target, reduction=r, log_target=True),
                         {"input": x, "target": torch.log(t)}, {"log_target": True}, ["input", "target"], r))
    return cases


def course_cases():
    """The course's worked examples, also asserted to 4 decimals in the Rust tests."""
    x = torch.tensor([[1.0, 2.0], [1.0, 3.0], [1.0, 3.0]])
    y = torch.tensor([0.0, 1.0, 1.0])
    bce_x = torch.sigmoid(torch.tensor([[1.0, 2.0], [2.0, 2.0], [3.0, 4.0], [4.0, 5.0]]))
    bce_y = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    return [
        run("cross_entropy", lambda input, target: F.cross_entropy(input, target.long()), {"input": x, "target": y}, {},
            ["input"], "mean", "course cross_entropy"),
        run("nll_loss", lambda input, target: F.nll_loss(input, target.long(), weight=torch.ones(2)), {"input": x, "target": y},
            {"weight": torch.ones(2)}, ["input"], "mean", "course nll_loss"),
        run("binary_cross_entropy", lambda input, target: F.binary_cross_entropy(input, target, weight=torch.ones(2)),
            {"input": bce_x, "target": bce_y}, {"weight": torch.ones(2)}, ["input"], "mean", "course binary_cross_entropy"),
    ]


def main():
    torch.set_default_dtype(torch.float32)
    warnings.filterwarnings("ignore", message="reduction: 'mean' divides")
    cases = course_cases() + cross_entropy_cases() + nll_cases() + binary_cases() + regression_cases() + pair_cases() + kl_cases()
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump({"torch_version": torch.__version__, "cases": cases}, f, separators=(",", ":"))
        f.write("\n")
    errors = sum("error" in c for c in cases)
    print(f"wrote {len(cases)} cases ({errors} errors) to {os.path.relpath(OUT, ROOT)}")


if __name__ == "__main__":
    main()
