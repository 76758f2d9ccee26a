#!/usr/bin/env bash
# One short GPU check, for machines with an NVIDIA card: the GPU-relevant tests and the speed
# benchmark in bfloat16 mixed precision, each backend in its own process. Results land in
# ${OUT:-runs/gpu_check}.
#
# Usage: bash scripts/gpu_check.sh            (about 5-10 minutes on one H100)
# Needs CUDA builds of the backends, in the current python or in MSRGAN_VENV: it installs nothing
# (MSRGAN_SKIP_INSTALL=1 unless set otherwise), so a CUDA environment is never replaced by the CPU
# builds that scripts/env.sh would install into .venv.
export MSRGAN_SKIP_INSTALL="${MSRGAN_SKIP_INSTALL:-1}"
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"
out="${OUT:-runs/gpu_check}"
mkdir -p "$out"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/gpu.txt" || true
status=0
for backend in jax torch tensorflow; do
  echo "==> tests on KERAS_BACKEND=$backend"
  KERAS_BACKEND=$backend python -m pytest -q -p no:cacheprovider \
    tests/test_fast.py tests/test_training.py tests/test_distribute.py tests/test_inference.py \
    2>&1 | tee "$out/tests_$backend.log" || status=1
done
echo "==> benchmark"
python scripts/benchmark.py --sections inference,training --mixed-precision bfloat16 \
  --json "$out/benchmark.json" --overwrite \
  2>&1 | tee "$out/benchmark.md" || status=1
exit $status
