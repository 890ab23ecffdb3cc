"""Golden values from PyTorch for Ferrite's convolution, pooling and batch-norm tests.

Run: python (in a virtual environment with torch) tools/golden_conv.py
Writes crates/ferrite/tests/fixtures/conv_golden.json, conv_pool_golden.json and
conv_batchnorm_golden.json. Every case stores its inputs, the forward output, and the
gradients of loss = sum(out * r) for a fixed random r (so every gradient entry matters)."""
import json, os, torch, torch.nn as nn, torch.nn.functional as F

torch.manual_seed(0)
OUT = os.path.join(os.path.dirname(__file__), "..", "crates", "ferrite", "tests", "fixtures")


def t(x):
    x = x.detach()
    return {"shape": list(x.shape), "data": [float(v) for v in x.reshape(-1).tolist()]}


def conv_case(dim, n, cin, cout, size, kernel, stride=1, padding=0, dilation=1, groups=1, bias=True):
    x = torch.randn(n, cin, *size, requires_grad=True)
    w = torch.randn(cout, cin // groups, *kernel, requires_grad=True)
    b = torch.randn(cout, requires_grad=True) if bias else None
    f = F.conv1d if dim == 1 else F.conv2d
    y = f(x, w, b, stride=stride, padding=padding, dilation=dilation, groups=groups)
    r = torch.randn_like(y)
    (y * r).sum().backward()
    pad = padding if isinstance(padding, str) else list(padding) if isinstance(padding, tuple) else [padding] * dim
    tup = lambda v: list(v) if isinstance(v, tuple) else [v] * dim
    case = {"dim": dim, "stride": tup(stride), "padding": pad, "dilation": tup(dilation), "groups": groups,
            "x": t(x), "w": t(w), "r": t(r), "y": t(y), "gx": t(x.grad), "gw": t(w.grad)}
    if bias:
        case["b"], case["gb"] = t(b), t(b.grad)
    return case


conv = {
    "stride2_pad_dilation_groups_nonsquare": conv_case(2, 2, 4, 6, (7, 8), (3, 2), stride=2, padding=(1, 2), dilation=(2, 1), groups=2),
    "same_dilated_no_bias": conv_case(2, 3, 3, 4, (6, 5), (3, 4), padding="same", dilation=2, bias=False),
    "lenet_like_5x5": conv_case(2, 2, 1, 6, (12, 12), (5, 5)),
    "pointwise_1x1": conv_case(2, 2, 6, 3, (4, 5), (1, 1)),
    "depthwise_stride_1_2": conv_case(2, 2, 3, 3, (7, 7), (3, 3), stride=(1, 2), padding=1, groups=3),
    "conv1d_stride2_groups": conv_case(1, 2, 4, 2, (11,), (3,), stride=2, padding=1, groups=2),
    "conv1d_same_even_kernel": conv_case(1, 3, 2, 3, (9,), (4,), padding="same"),
}


def pool_case(kind, shape, kernel, stride=None, padding=0, dilation=1, ceil_mode=False, count_include_pad=True,
              divisor_override=None, output_size=None):
    if kind == "max":
        # Distinct values so the arg-max is unambiguous.
        n = 1
        for s in shape:
            n *= s
        x = (torch.randperm(n).float() * 0.1 - n * 0.05).reshape(shape).requires_grad_()
        y = F.max_pool2d(x, kernel, stride, padding, dilation, ceil_mode)
    elif kind == "avg":
        x = torch.randn(*shape, requires_grad=True)
        y = F.avg_pool2d(x, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override)
    else:
        x = torch.randn(*shape, requires_grad=True)
        y = F.adaptive_avg_pool2d(x, output_size)
    r = torch.randn_like(y)
    (y * r).sum().backward()
    pair = lambda v: list(v) if isinstance(v, tuple) else [v, v]
    return {"kind": kind, "kernel": pair(kernel) if kernel else None, "stride": pair(stride) if stride else None,
            "padding": pair(padding), "dilation": pair(dilation), "ceil_mode": ceil_mode,
            "count_include_pad": count_include_pad, "divisor_override": divisor_override,
            "output_size": pair(output_size) if output_size else None,
            "x": t(x), "r": t(r), "y": t(y), "gx": t(x.grad)}


pool = {
    "max_k3_s2_p1_ceil": pool_case("max", (2, 3, 7, 6), 3, 2, 1, ceil_mode=True),
    "max_nonsquare_dilated": pool_case("max", (2, 2, 8, 9), (2, 3), (1, 2), (1, 1), dilation=2),
    "max_2x2": pool_case("max", (3, 2, 6, 6), 2),
    "avg_k3_s2_p1_ceil_include_pad": pool_case("avg", (2, 3, 7, 6), 3, 2, 1, ceil_mode=True),
    "avg_k3_s2_p1_ceil_exclude_pad": pool_case("avg", (2, 3, 7, 6), 3, 2, 1, ceil_mode=True, count_include_pad=False),
    "avg_nonsquare_divisor_override": pool_case("avg", (2, 2, 6, 7), (2, 3), (2, 1), (1, 0), divisor_override=4),
    "adaptive_5x7_to_3x4": pool_case("adaptive", (2, 3, 5, 7), None, output_size=(3, 4)),
}


def bn_case(cls, features, shapes, momentum=0.1, affine=True):
    bn = cls(features, momentum=momentum, affine=affine)
    if affine:
        with torch.no_grad():
            bn.weight.copy_(torch.randn(features))
            bn.bias.copy_(torch.randn(features))
    steps = []
    for i, shape in enumerate(shapes):
        x = (torch.randn(*shape) * 2 + 1).requires_grad_()
        bn.zero_grad()
        y = bn(x)
        r = torch.randn_like(y)
        (y * r).sum().backward()
        step = {"x": t(x), "r": t(r), "y": t(y), "gx": t(x.grad),
                "running_mean": t(bn.running_mean), "running_var": t(bn.running_var)}
        if affine:
            step["gw"], step["gb"] = t(bn.weight.grad), t(bn.bias.grad)
        steps.append(step)
    bn.eval()
    x = torch.randn(*shapes[0], requires_grad=True)
    y = bn(x)
    r = torch.randn_like(y)
    (y * r).sum().backward()
    case = {"features": features, "momentum": momentum, "affine": affine, "train_steps": steps,
            "eval": {"x": t(x), "r": t(r), "y": t(y), "gx": t(x.grad)}}
    if affine:
        case["weight"], case["bias"] = t(bn.weight), t(bn.bias)
    return case


batchnorm = {
    "bn2d_three_steps": bn_case(nn.BatchNorm2d, 3, [(4, 3, 5, 5), (2, 3, 4, 6), (3, 3, 2, 2)]),
    "bn1d_2d_input_cumulative": bn_case(nn.BatchNorm1d, 4, [(6, 4), (5, 4)], momentum=None),
    "bn1d_3d_input_no_affine": bn_case(nn.BatchNorm1d, 2, [(3, 2, 5), (4, 2, 3)], affine=False),
}

for name, data in [("conv_golden", conv), ("conv_pool_golden", pool), ("conv_batchnorm_golden", batchnorm)]:
    with open(os.path.join(OUT, name + ".json"), "w") as f:
        json.dump(data, f)
    print("wrote", name)
