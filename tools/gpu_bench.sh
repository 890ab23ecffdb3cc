#!/usr/bin/env bash
# The wgpu backend on a machine with an NVIDIA GPU, side by side with PyTorch CUDA, in one short run.
#
#   tools/gpu_bench.sh build   on the development machine: the release `ferrite` binary, the wgpu
#                              and golden test binaries, and the PyTorch twin script, into gpu-bundle/
#   tools/gpu_bench.sh run     on the GPU machine (no Rust there; PyTorch with CUDA is): the tests on
#                              the GPU, `ferrite bench --device wgpu` and torch_gpu_reference.py, then
#                              the ratio table. Results go to $OUT (or gpu-results/).
#
# With the device tool: build here, then run `bash tools/gpu_bench.sh run` with carry ["gpu-bundle"].
set -euo pipefail
cd "$(dirname "$0")/.."
bundle=gpu-bundle
# The tests that run on the GPU: the device parity tests, and golden tests whose fixtures are
# compiled in (FERRITE_DEVICE=wgpu makes every tensor they create live on the GPU).
parity_tests="wgpu_primitives wgpu_reduce wgpu_index wgpu_matmul wgpu_conv_pool wgpu_norm_loss wgpu_recurrent wgpu_optim"
golden_tests="tensor_golden conv_golden pool_golden rnn_golden autograd_gradcheck_pointwise autograd_gradcheck_shapes"

case "${1:-}" in
build)
  rm -rf "$bundle" && mkdir -p "$bundle/tests"
  cargo build --release -p ferrite-cli
  cp target/release/ferrite "$bundle/"
  args=()
  for t in $parity_tests $golden_tests; do args+=(--test "$t"); done
  cargo test --release -p ferrite --no-run --message-format=json "${args[@]}" \
    | python3 -c '
import json, sys, shutil
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and "test" in m["target"]["kind"]:
        shutil.copy(m["executable"], "'"$bundle"'/tests/" + m["target"]["name"])
'
  strip "$bundle/ferrite" "$bundle"/tests/* 2>/dev/null || true
  cp ../shared/bench/torch_gpu_reference.py tools/gpu_ratio.py "$bundle/"
  du -sh "$bundle"
  ;;
run)
  out="${OUT:-gpu-results}"
  mkdir -p "$out"
  export WGPU_BACKEND=vulkan XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
  nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$out/gpu.txt" || true
  "$bundle/ferrite" devices | tee "$out/devices.txt"
  status=0
  for t in $parity_tests; do
    echo "== $t"
    "$bundle/tests/$t" 2>&1 | tail -3 | tee -a "$out/tests.txt" || status=1
  done
  for t in $golden_tests; do
    echo "== $t on wgpu"
    FERRITE_DEVICE=wgpu "$bundle/tests/$t" 2>&1 | tail -3 | tee -a "$out/tests.txt" || status=1
  done
  "$bundle/ferrite" bench --device wgpu --json | tee "$out/ferrite_wgpu.jsonl"
  python3 "$bundle/torch_gpu_reference.py" | tee "$out/torch_cuda.jsonl"
  python3 "$bundle/gpu_ratio.py" "$out/ferrite_wgpu.jsonl" "$out/torch_cuda.jsonl" | tee "$out/ratios.md"
  exit $status
  ;;
*)
  echo "usage: tools/gpu_bench.sh build|run" >&2
  exit 2
  ;;
esac
