#!/usr/bin/env bash
# The whole test suite, once per Keras backend (KERAS_BACKEND is read once per process).
# Usage: bash scripts/test.sh [pytest args...]     e.g. bash scripts/test.sh -k zoo -x
# MSRGAN_BACKENDS="jax torch" limits the backends.
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"
backends="${MSRGAN_BACKENDS:-tensorflow torch jax}"
failed=()
export MSRGAN_FIRST_BACKEND="${backends%% *}"   # @pytest.mark.one_backend tests run under this one only
for backend in $backends; do
  echo "==> KERAS_BACKEND=$backend"
  if ! KERAS_BACKEND="$backend" python -m pytest -q -p no:cacheprovider --durations=15 "$@" tests; then
    failed+=("$backend")
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED on: ${failed[*]}"
  exit 1
fi
echo "all backends passed: $backends"
