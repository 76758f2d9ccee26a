#!/usr/bin/env bash
# The msrgan main job on the embedded synthetic data: train the miniVGG19 classifier, train
# msrgan-x4-small with its content loss, evaluate against bicubic on held-out fields, save the
# generator and reload it on another backend. Writes runs/demo/metrics.json; exits 1 if a target
# is missed. A few minutes on 2 CPU cores.
#
# Usage: [KERAS_BACKEND=jax|tensorflow|torch] bash scripts/demo.sh [--out DIR] [--seed N]
# The demo's default backend is jax; set KERAS_BACKEND to choose another (docs/benchmarks.md compares them).
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"
export KERAS_BACKEND="${KERAS_BACKEND:-jax}"
# OpenMP threads that sleep instead of spinning while waiting: on a shared or busy CPU, spinning
# threads made PyTorch's CPU kernels up to 10x slower here.
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
exec python scripts/demo.py "$@"
