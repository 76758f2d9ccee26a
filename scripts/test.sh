#!/usr/bin/env bash
# The whole test suite, once per Keras backend (KERAS_BACKEND is read once per process).
# Usage: bash scripts/test.sh [pytest args...]     e.g. bash scripts/test.sh -k zoo -x
# MSRGAN_BACKENDS="jax torch" limits the backends (the first one also runs the backend-independent
# tests, @pytest.mark.one_backend).
# MSRGAN_TEST_JOBS=N runs N backend sessions at once (default: 2 on a machine with 2 or more cores,
# else 1). Each session then gets its share of the cores as its thread count, so that the sessions do
# not oversubscribe the CPU, and its output is printed whole when it ends.
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
cd "$ROOT"
# OpenMP threads that sleep instead of spinning while they wait (as scripts/demo.sh): spinning threads
# made PyTorch's CPU kernels many times slower on a busy 2-core machine.
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"
backends="${MSRGAN_BACKENDS:-tensorflow torch jax}"
export MSRGAN_FIRST_BACKEND="${backends%% *}"   # @pytest.mark.one_backend tests run under this one only
cores="$(nproc 2>/dev/null || echo 1)"
jobs="${MSRGAN_TEST_JOBS:-$([ "$cores" -ge 2 ] && echo 2 || echo 1)}"
n_backends=$(wc -w <<< "$backends")
[ "$jobs" -gt "$n_backends" ] && jobs=$n_backends

run_backend() {  # run_backend BACKEND [pytest args...]: one pytest session
  local backend=$1; shift
  KERAS_BACKEND="$backend" python -m pytest -q -p no:cacheprovider --durations=15 "$@" tests
}

failed=()
if [ "$jobs" -le 1 ]; then
  for backend in $backends; do
    echo "==> KERAS_BACKEND=$backend"
    run_backend "$backend" "$@" || failed+=("$backend")
  done
else
  # Longest session first (JAX compiles the most), so the others fill the second slot meanwhile.
  order=""
  for b in jax tensorflow torch $backends; do
    if [[ " $backends " == *" $b "* && " $order " != *" $b "* ]]; then order="$order $b"; fi
  done
  threads=$(( cores / jobs )); [ "$threads" -lt 1 ] && threads=1
  logs="$(mktemp -d "${TMPDIR:-/tmp}/msrgan-test-logs.XXXXXX")"
  declare -A pids=() started=()
  report() {  # report BACKEND STATUS: the session's whole output, then its result
    local b=$1 status=$2
    echo "==> KERAS_BACKEND=$b ($(( $(date +%s) - ${started[$b]} )) s, $jobs sessions at once, $threads thread(s) each)"
    cat "$logs/$b.log"
    [ "$status" -eq 0 ] || failed+=("$b")
  }
  wait_one() {  # waits for any running session to end, and reports it
    local b status
    wait -n "${pids[@]}" || true
    for b in "${!pids[@]}"; do
      if ! kill -0 "${pids[$b]}" 2>/dev/null; then
        status=0; wait "${pids[$b]}" || status=$?
        unset "pids[$b]"
        report "$b" "$status"
      fi
    done
  }
  for backend in $order; do
    while [ "${#pids[@]}" -ge "$jobs" ]; do wait_one; done
    echo "--> KERAS_BACKEND=$backend started (output when it ends)"
    started[$backend]=$(date +%s)
    OMP_NUM_THREADS=$threads MKL_NUM_THREADS=$threads TF_NUM_INTRAOP_THREADS=$threads TF_NUM_INTEROP_THREADS=$threads \
      XLA_FLAGS="${XLA_FLAGS:+$XLA_FLAGS }--xla_cpu_multi_thread_eigen=$([ "$threads" -gt 1 ] && echo true || echo false)" \
      run_backend "$backend" "$@" > "$logs/$backend.log" 2>&1 &
    pids[$backend]=$!
  done
  while [ "${#pids[@]}" -gt 0 ]; do wait_one; done
  rm -rf "$logs"
fi
if [ ${#failed[@]} -gt 0 ]; then
  echo "FAILED on: ${failed[*]}"
  exit 1
fi
echo "all backends passed: $backends"
