#!/usr/bin/env bash
# Data-parallel training on one machine: 1 rank of N threads against N ranks of 1 thread,
# on the LeNet-5 and MLP-784 training steps (same global batch), and the all-reduce of a
# 4 MiB gradient bucket through Ferrite against MPI_Allreduce from C.
# Needs Open MPI (openmpi-bin, libopenmpi-dev) and libclang-dev. Usage: tools/bench_distributed.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
ranks="${1:-2}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
cargo build --release -q -p ferrite-cli --features mpi
mpicc -O2 -o /tmp/ferrite_allreduce_ref tools/mpi_allreduce_reference.c
echo "== 1 rank, $ranks threads"
FERRITE_NUM_THREADS="$ranks" target/release/ferrite bench --json lenet5_train_step_b64 mlp784_train_step_b128
echo "== $ranks ranks, 1 thread each"
mpirun --oversubscribe -np "$ranks" -x FERRITE_NUM_THREADS=1 target/release/ferrite bench --json
echo "== MPI_Allreduce from C, $ranks ranks"
mpirun --oversubscribe -np "$ranks" /tmp/ferrite_allreduce_ref
