"""Golden values from PyTorch for Ferrite's layers: Linear (values and gradients),
activation modules (values and input gradients), a Sequential MLP (parameter names, state-dict
order, parameter count, forward output), Flatten shapes and init gains.

Run from the repository root with the project's Python (PyTorch):

    python (in a virtual environment with torch) tools/golden_layers.py

It writes `crates/ferrite/tests/fixtures/layers_modules.json`;
`crates/ferrite/tests/layers_golden.rs` compares against it.
"""

import json
import os

import torch
import torch.nn as nn

OUT = os.path.join(os.path.dirname(__file__), "..", "crates", "ferrite", "tests", "fixtures")
torch.manual_seed(0)


def flat(t):
    return [float(v) for v in t.detach().reshape(-1)]


# Linear: y = x Wᵀ + b, loss = Σ y ⊙ g for a fixed g, so dL/dy = g.
lin = nn.Linear(3, 2)
x = torch.randn(4, 3, requires_grad=True)
y = lin(x)
g = torch.randn(4, 2)
(y * g).sum().backward()
linear = {"x": flat(x), "weight": flat(lin.weight), "bias": flat(lin.bias), "g": flat(g), "y": flat(y),
          "grad_x": flat(x.grad), "grad_weight": flat(lin.weight.grad), "grad_bias": flat(lin.bias.grad)}

# Activation modules on a (2, 5) input with values on both sides of the kinks.
a_in = torch.tensor([[-3.0, -1.0, -0.25, 0.5, 2.0], [-0.5, 0.0, 0.75, 1.5, 30.0]])
acts = {
    "Sigmoid": nn.Sigmoid(), "Tanh": nn.Tanh(), "ReLU": nn.ReLU(), "LeakyReLU(0.2)": nn.LeakyReLU(0.2),
    "ELU(0.5)": nn.ELU(0.5), "GELU": nn.GELU(), "GELU(tanh)": nn.GELU(approximate="tanh"),
    "Softplus(2,5)": nn.Softplus(beta=2.0, threshold=5.0), "Softmax(1)": nn.Softmax(dim=1),
    "LogSoftmax(0)": nn.LogSoftmax(dim=0),
}
ag = torch.randn(2, 5)
activations = {}
for name, m in acts.items():
    xi = a_in.clone().requires_grad_()
    out = m(xi)
    (out * ag).sum().backward()
    activations[name] = {"y": flat(out), "grad": flat(xi.grad), "repr": repr(m)}

# A Sequential MLP with every non-parametric layer kind.
mlp = nn.Sequential(nn.Flatten(), nn.Linear(6, 5), nn.ReLU(), nn.Dropout(0.3), nn.Linear(5, 4), nn.Tanh(),
                    nn.Linear(4, 2))
mlp.eval()
mx = torch.randn(3, 2, 3)
sequential = {
    "state_dict": [[k, list(v.shape), flat(v)] for k, v in mlp.state_dict().items()],
    "num_parameters": sum(p.numel() for p in mlp.parameters()),
    "x": flat(mx), "x_shape": list(mx.shape), "y_eval": flat(mlp(mx)),
}

flatten = {
    "input": [2, 3, 4, 5],
    "cases": [[s, e, list(nn.Flatten(s, e)(torch.zeros(2, 3, 4, 5)).shape)] for s, e in [(1, -1), (0, -1), (1, 2), (2, 3), (0, 1)]],
}

gain = nn.init.calculate_gain
gains = {"linear": gain("linear"), "sigmoid": gain("sigmoid"), "tanh": gain("tanh"), "relu": gain("relu"),
         "leaky_relu_0.01": gain("leaky_relu"), "leaky_relu_0.2": gain("leaky_relu", 0.2), "selu": gain("selu")}

with open(os.path.join(OUT, "layers_modules.json"), "w") as f:
    json.dump({"torch": torch.__version__, "input": flat(a_in), "input_shape": [2, 5], "upstream": flat(ag),
               "linear": linear, "activations": activations, "sequential": sequential, "flatten": flatten,
               "gains": gains}, f, indent=1)
print("wrote layers_modules.json")
