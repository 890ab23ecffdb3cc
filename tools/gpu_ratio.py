"""The ratio table of Ferrite's wgpu benchmarks against PyTorch CUDA from one run:
python3 gpu_ratio.py ferrite_wgpu.jsonl torch_cuda.jsonl. Ratio = Ferrite's rate / PyTorch's rate
(above 1: Ferrite is faster). Workloads match by name, PyTorch's without its cuda_ prefix."""
import json, sys

def load(path):
    rows, meta = {}, {}
    for line in open(path):
        line = line.strip()
        if not line.startswith("{"):
            continue
        r = json.loads(line)
        if "workload" in r:
            rows[r["workload"].removeprefix("cuda_")] = r
        else:
            meta.update(r)
    return rows, meta

ferrite, _ = load(sys.argv[1])
torch, meta = load(sys.argv[2])
print(f"GPU: {meta.get('gpu', '?')}, PyTorch {meta.get('torch', '?')} (CUDA, fp32, TF32 off)\n")
print("| workload | Ferrite wgpu | PyTorch CUDA | ratio |")
print("|---|---|---|---|")
for name, f in ferrite.items():
    t = torch.get(name)
    if t is None:
        continue
    print(f"| {name} | {f['rate']:.1f} {f['unit']} | {t['rate']:.1f} {t['unit']} | {f['rate'] / t['rate']:.2f}x |")
