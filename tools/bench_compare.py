"""Runs PyTorch's reference workloads and Ferrite's, back to back on this machine, and prints
a ratio table (Ferrite rate / PyTorch rate; above 1 means Ferrite is faster).

Usage (PyTorch installed in a virtual environment outside the repository):
    cargo build --release
    /path/to/venv/bin/python tools/bench_compare.py [WORKLOAD ...] [--runs N] [--markdown]

With --runs N the pair is run N times back to back; the table gives each side's range of
rates and the median of the N ratios (the README's table is made with --runs 6 --markdown).
"""
import json, os, statistics, subprocess, sys

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
reference = os.path.join(root, "..", "shared", "bench", "torch_reference.py")
ferrite = os.path.join(root, "target", "release", "ferrite")


def run(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return {r["workload"]: r for r in map(json.loads, filter(None, out.splitlines()))}


def fmt(x):
    if x >= 1e6:
        return f"{x / 1e6:.2f}M"
    if x >= 1e4:
        return f"{x / 1e3:.1f}k"
    return f"{x:.0f}"


def main():
    argv = sys.argv[1:]
    runs = 1
    if "--runs" in argv:
        i = argv.index("--runs")
        runs = int(argv[i + 1])
        del argv[i : i + 2]
    markdown = "--markdown" in argv
    names = [a for a in argv if not a.startswith("--")]
    samples = {}  # workload -> list of (torch rate, ferrite rate, unit)
    for _ in range(runs):
        ours = run([ferrite, "bench", "--json", *names])
        theirs = run([sys.executable, reference, *ours.keys()])
        for name, r in ours.items():
            samples.setdefault(name, []).append((theirs[name]["rate"], r["rate"], r["unit"]))
    if markdown:
        print("| workload | PyTorch | Ferrite | ratio |")
        print("|---|---:|---:|---:|")
    for name, rows in samples.items():
        t = [r[0] for r in rows]
        f = [r[1] for r in rows]
        ratios = [b / a for a, b, _ in rows]
        q = statistics.median(ratios)
        unit = rows[0][2]
        if markdown:
            span = lambda v: fmt(v[0]) if len(v) == 1 else f"{fmt(min(v))}–{fmt(max(v))}"
            print(f"| `{name}` ({unit}) | {span(t)} | {span(f)} | {q:.2f}x |")
        else:
            spread = f" ({min(ratios):.2f}–{max(ratios):.2f})" if len(ratios) > 1 else ""
            print(f"{name:<28} torch {statistics.median(t):>12.1f}  ferrite "
                  f"{statistics.median(f):>12.1f} {unit:<12} ratio {q:5.2f}x{spread}")


if __name__ == "__main__":
    main()
