"""Runs PyTorch's reference workloads and Ferrite's, back to back on this machine, and prints
a ratio table (Ferrite rate / PyTorch rate; above 1 means Ferrite is faster).

Usage (PyTorch installed in a virtual environment outside the repository):
    cargo build --release
    /path/to/venv/bin/python tools/bench_compare.py [WORKLOAD ...] [--markdown]
"""
import json, os, subprocess, sys

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
reference = os.path.join(root, "..", "shared", "bench", "torch_reference.py")
ferrite = os.path.join(root, "target", "release", "ferrite")


def run(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return {r["workload"]: r for r in map(json.loads, filter(None, out.splitlines()))}


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    markdown = "--markdown" in sys.argv
    ours = run([ferrite, "bench", "--json", *args])
    theirs = run([sys.executable, reference, *ours.keys()])
    rows = []
    for name, r in ours.items():
        t = theirs[name]
        rows.append((name, t["rate"], r["rate"], r["unit"], r["rate"] / t["rate"]))
    if markdown:
        print("| workload | PyTorch | Ferrite | unit | ratio |")
        print("|---|---:|---:|---|---:|")
        for n, t, f, u, q in rows:
            print(f"| {n} | {t:.1f} | {f:.1f} | {u} | {q:.2f}x |")
    else:
        for n, t, f, u, q in rows:
            print(f"{n:<28} torch {t:>12.1f}  ferrite {f:>12.1f} {u:<12} ratio {q:5.2f}x")


if __name__ == "__main__":
    main()
