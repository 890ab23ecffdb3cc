"""Golden trajectories from PyTorch for Ferrite's optimizers, gradient clipping and
learning-rate schedulers.

Run from the repository root with the project's Python (PyTorch):

    python (in a virtual environment with torch) tools/golden_optim.py

It writes `crates/ferrite/tests/fixtures/optim_trajectories.json` (the fixed problem, and the
parameters after each step of every optimizer and option) and
`crates/ferrite/tests/fixtures/optim_schedulers.json` (learning-rate sequences);
`crates/ferrite/tests/optim_golden.rs` compares against them.

The fixed problem: W (3, 4), b (3), loss = mean((x Wᵀ + b − y)²) over a batch x (6, 4),
y (6, 3). Each step: zero_grad, loss, backward, [clip], step.
"""

import json
import os

import torch

OUT = os.path.join(os.path.dirname(__file__), "..", "crates", "ferrite", "tests", "fixtures")
STEPS = 6

torch.manual_seed(0)
X = torch.randn(6, 4)
Y = torch.randn(6, 3)
W0 = torch.randn(3, 4) * 0.5
B0 = torch.randn(3) * 0.5


def flat(t):
    return [float(v) for v in t.detach().reshape(-1)]


def run(name, make, options, groups=None, clip=None):
    w = W0.clone().requires_grad_()
    b = B0.clone().requires_grad_()
    if groups is None:
        opt = make([w, b], **options)
    else:
        opt = make([{"params": [w], **groups[0]}, {"params": [b], **groups[1]}], **options)
    steps = []
    for _ in range(STEPS):
        opt.zero_grad()
        loss = ((X @ w.T + b - Y) ** 2).mean()
        loss.backward()
        total = None
        if clip is not None:
            if clip["kind"] == "norm":
                total = float(torch.nn.utils.clip_grad_norm_([w, b], clip["max"], clip["norm_type"]))
            else:
                torch.nn.utils.clip_grad_value_([w, b], clip["max"])
        opt.step()
        steps.append({"loss": float(loss.detach()), "w": flat(w), "b": flat(b), "total_norm": total})
    return {"name": name, "optimizer": make.__name__, "options": options, "groups": groups, "clip": clip, "steps": steps}


cases = []
S, A, AW, R, AG = torch.optim.SGD, torch.optim.Adam, torch.optim.AdamW, torch.optim.RMSprop, torch.optim.Adagrad
cases.append(run("sgd", S, {"lr": 0.1}))
cases.append(run("sgd_momentum", S, {"lr": 0.1, "momentum": 0.9}))
cases.append(run("sgd_momentum_dampening", S, {"lr": 0.1, "momentum": 0.9, "dampening": 0.5}))
cases.append(run("sgd_nesterov", S, {"lr": 0.1, "momentum": 0.9, "nesterov": True}))
cases.append(run("sgd_weight_decay", S, {"lr": 0.1, "weight_decay": 0.1}))
cases.append(run("sgd_momentum_weight_decay", S, {"lr": 0.05, "momentum": 0.8, "weight_decay": 0.01}))
cases.append(run("sgd_groups", S, {"lr": 0.1, "momentum": 0.5}, groups=[{"lr": 0.3}, {}]))
cases.append(run("adam", A, {"lr": 0.01}))
cases.append(run("adam_betas_eps", A, {"lr": 0.05, "betas": [0.8, 0.99], "eps": 1e-3}))
cases.append(run("adam_amsgrad", A, {"lr": 0.05, "amsgrad": True}))
cases.append(run("adam_weight_decay", A, {"lr": 0.01, "weight_decay": 0.1}))
cases.append(run("adam_groups", A, {"lr": 0.01}, groups=[{}, {"lr": 0.1, "weight_decay": 0.5}]))
cases.append(run("adamw", AW, {"lr": 0.01}))
cases.append(run("adamw_decay_amsgrad", AW, {"lr": 0.05, "weight_decay": 0.1, "amsgrad": True}))
cases.append(run("rmsprop", R, {"lr": 0.01}))
cases.append(run("rmsprop_centered", R, {"lr": 0.01, "centered": True}))
cases.append(run("rmsprop_momentum", R, {"lr": 0.01, "momentum": 0.9}))
cases.append(run("rmsprop_all", R, {"lr": 0.005, "alpha": 0.9, "momentum": 0.5, "centered": True, "weight_decay": 0.1}))
cases.append(run("adagrad", AG, {"lr": 0.1}))
cases.append(run("adagrad_decay", AG, {"lr": 0.1, "lr_decay": 0.05, "weight_decay": 0.1, "initial_accumulator_value": 0.1}))
cases.append(run("sgd_clip_norm", S, {"lr": 0.1}, clip={"kind": "norm", "max": 0.5, "norm_type": 2.0}))
cases.append(run("sgd_clip_norm_inf", S, {"lr": 0.1}, clip={"kind": "norm", "max": 0.3, "norm_type": float("inf")}))
cases.append(run("sgd_clip_value", S, {"lr": 0.1}, clip={"kind": "value", "max": 0.2}))

problem = {"x": flat(X), "x_shape": list(X.shape), "y": flat(Y), "y_shape": list(Y.shape),
           "w0": flat(W0), "w_shape": list(W0.shape), "b0": flat(B0)}
# JSON has no infinity: write it as a string.
for c in cases:
    if c["clip"] and c["clip"].get("norm_type") == float("inf"):
        c["clip"]["norm_type"] = "inf"
with open(os.path.join(OUT, "optim_trajectories.json"), "w") as f:
    json.dump({"torch": torch.__version__, "steps": STEPS, "problem": problem, "cases": cases}, f, indent=1)


def lrs(make_sched, epochs, base=(0.1, 0.02), metrics=None):
    p1, p2 = torch.zeros(1, requires_grad=True), torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([{"params": [p1], "lr": base[0]}, {"params": [p2], "lr": base[1]}], lr=base[0])
    sched = make_sched(opt)
    out = []
    for e in range(epochs):
        out.append([g["lr"] for g in opt.param_groups])
        opt.step()
        if metrics is None:
            sched.step()
        else:
            sched.step(metrics[e])
    return out


L = torch.optim.lr_scheduler
plateau_metrics = [1.0, 0.9, 0.95, 0.91, 0.9, 0.9, 0.85, 0.86, 0.87, 0.88, 0.89, 0.9, 0.7, 0.71, 0.72, 0.73]
schedulers = {
    "step": {"step_size": 3, "gamma": 0.5, "lrs": lrs(lambda o: L.StepLR(o, 3, 0.5), 12)},
    "multistep": {"milestones": [2, 5, 5, 9], "gamma": 0.1, "lrs": lrs(lambda o: L.MultiStepLR(o, [2, 5, 5, 9], 0.1), 12)},
    "exponential": {"gamma": 0.9, "lrs": lrs(lambda o: L.ExponentialLR(o, 0.9), 12)},
    "cosine": {"t_max": 5, "eta_min": 0.001, "lrs": lrs(lambda o: L.CosineAnnealingLR(o, 5, 0.001), 16)},
    "plateau_min": {"metrics": plateau_metrics, "factor": 0.5, "patience": 2, "cooldown": 1, "min_lr": 0.004,
                    "lrs": lrs(lambda o: L.ReduceLROnPlateau(o, factor=0.5, patience=2, cooldown=1, min_lr=0.004), 16,
                               metrics=plateau_metrics)},
    "plateau_max_abs": {"metrics": [-m for m in plateau_metrics], "factor": 0.1, "patience": 1, "threshold": 0.02,
                        "lrs": lrs(lambda o: L.ReduceLROnPlateau(o, mode="max", factor=0.1, patience=1, threshold=0.02,
                                                                  threshold_mode="abs"), 16,
                                   metrics=[-m for m in plateau_metrics])},
}
with open(os.path.join(OUT, "optim_schedulers.json"), "w") as f:
    json.dump({"torch": torch.__version__, "base_lrs": [0.1, 0.02], "schedulers": schedulers}, f, indent=1)
print(f"wrote {len(cases)} optimizer cases and {len(schedulers)} schedules")
