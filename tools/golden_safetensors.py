"""Model-file fixtures exchanged with PyTorch (safetensors with PyTorch's parameter names).

Run from the repository root, in this order:

    python (in a virtual environment with torch) tools/golden_safetensors.py
        writes crates/ferrite/tests/fixtures/safetensors_torch_mlp.{safetensors,json}:
        a PyTorch MLP's state_dict saved with safetensors.torch.save_file, an input batch
        and PyTorch's output for it (Ferrite loads the file and must reproduce the output).

    FERRITE_UPDATE_FIXTURES=1 cargo test -p ferrite --test model_file
        makes Ferrite write crates/ferrite/tests/fixtures/safetensors_ferrite_mlp.safetensors
        (without the variable, the test checks that Ferrite still writes exactly those bytes).

    python (in a virtual environment with torch) tools/golden_safetensors.py --verify
        loads the Ferrite-written file with safetensors.torch.load_file and
        model.load_state_dict(strict=True) into the same PyTorch MLP and checks every value.

The Ferrite file holds known values: element j of the k-th tensor in state_dict order is
0.5 * sin(0.37 * j + k), so the check needs nothing from the Rust side but the file.
"""

import json
import pathlib
import sys

import numpy as np
import torch
from safetensors.torch import load_file, save_file

FIXTURES = pathlib.Path(__file__).resolve().parent.parent / "crates" / "ferrite" / "tests" / "fixtures"


def mlp() -> torch.nn.Module:
    # Names: 0.weight (8, 4), 0.bias (8), 2.weight (3, 8), 2.bias (3).
    return torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))


def write_torch_fixture() -> None:
    torch.manual_seed(0)
    model = mlp()
    x = torch.randn(5, 4)
    with torch.no_grad():
        y = model(x)
    FIXTURES.mkdir(parents=True, exist_ok=True)
    save_file(model.state_dict(), str(FIXTURES / "safetensors_torch_mlp.safetensors"))
    meta = {
        "description": "torch.nn.Sequential(Linear(4, 8), ReLU(), Linear(8, 3)), torch.manual_seed(0); "
        "weights in safetensors_torch_mlp.safetensors; output = model(input)",
        "torch_version": torch.__version__,
        "keys": list(model.state_dict().keys()),
        "input_shape": list(x.shape),
        "input": x.flatten().tolist(),
        "output_shape": list(y.shape),
        "output": y.flatten().tolist(),
    }
    (FIXTURES / "safetensors_torch_mlp.json").write_text(json.dumps(meta, indent=1) + "\n")
    print("wrote", FIXTURES / "safetensors_torch_mlp.safetensors")


def verify_ferrite_file() -> None:
    path = FIXTURES / "safetensors_ferrite_mlp.safetensors"
    state = load_file(str(path))
    model = mlp()
    model.load_state_dict(state, strict=True)  # raises on missing/unexpected keys or shapes
    for k, (name, tensor) in enumerate(model.state_dict().items()):
        j = np.arange(tensor.numel(), dtype=np.float32)
        expected = (0.5 * np.sin(np.float32(0.37) * j + np.float32(k))).astype(np.float32)
        got = tensor.flatten().numpy()
        if not np.allclose(got, expected, atol=1e-6, rtol=0):
            raise SystemExit(f"{name}: values differ from 0.5*sin(0.37*j + {k}): {got[:4]} vs {expected[:4]}")
    x = torch.ones(2, 4)
    print("verified", path, "- loads with load_state_dict(strict=True); output for ones:", model(x)[0].tolist())


if __name__ == "__main__":
    if "--verify" in sys.argv:
        verify_ferrite_file()
    else:
        write_torch_fixture()
