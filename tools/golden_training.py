"""Golden training trajectories from PyTorch, so that tests of training loops assert values
only a correct implementation reaches instead of a trend ("the loss went down").

Run from the repository root with the project's Python (PyTorch):

    /work/venv-torch/bin/python tools/golden_training.py

It writes `crates/ferrite/tests/fixtures/training_golden.json`:

- `tanh_mlp_sgd` (for `crates/ferrite/tests/autograd_memory.rs`): a 4-8-1 tanh network,
  loss = mean((tanh(x W1ᵀ + b1) W2ᵀ + b2 − y)²) over a batch x (16, 4), y (16, 1), trained
  by plain gradient descent (p ← p − 0.01 ∇p) for 3000 steps. The data, the initial
  parameters and the loss of chosen steps (the loss each step computes before its update,
  step 1 first). The trajectory is computed in float64, the reference an f32 implementation
  must approach; `f32_losses` is PyTorch's own float32 run, to show how far f32 rounding
  alone moves it.
"""

import json
import os

import torch

OUT = os.path.join(
    os.path.dirname(__file__), "..", "crates", "ferrite", "tests", "fixtures", "training_golden.json"
)


def flat(t):
    return {"shape": list(t.shape), "data": [float(v) for v in t.detach().reshape(-1).tolist()]}


def tanh_mlp_sgd():
    torch.manual_seed(5)
    x = torch.randn(16, 4)
    y = torch.randn(16, 1)
    init = {
        "w1": torch.randn(8, 4) * 0.5,
        "b1": torch.zeros(8),
        "w2": torch.randn(1, 8) * 0.5,
        "b2": torch.zeros(1),
    }
    steps, lr = 3000, 0.01
    record = [1, 2, 10, 100, 1000, 3000]

    def run(dtype):
        p = {k: v.to(dtype).clone().requires_grad_() for k, v in init.items()}
        xs, ys = x.to(dtype), y.to(dtype)
        losses = {}
        for step in range(1, steps + 1):
            h = torch.tanh(xs @ p["w1"].T + p["b1"])
            loss = ((h @ p["w2"].T + p["b2"] - ys) ** 2).mean()
            loss.backward()
            with torch.no_grad():
                for v in p.values():
                    v -= lr * v.grad
                    v.grad = None
            if step in record:
                losses[str(step)] = float(loss.detach())
        return losses

    return {
        "x": flat(x),
        "y": flat(y),
        "params": {k: flat(v) for k, v in init.items()},
        "lr": lr,
        "steps": steps,
        "losses": run(torch.float64),
        "f32_losses": run(torch.float32),
    }


if __name__ == "__main__":
    fixture = {"torch": torch.__version__, "tanh_mlp_sgd": tanh_mlp_sgd()}
    with open(OUT, "w") as f:
        json.dump(fixture, f, indent=1)
        f.write("\n")
    print(json.dumps({k: v for k, v in fixture["tanh_mlp_sgd"].items() if "losses" in k}, indent=1))
