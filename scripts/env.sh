# Sourced by demo.sh and test.sh: creates (or reuses) the project's virtual environment and
# activates it. Set MSRGAN_VENV to use another location. Re-installs when pyproject.toml or
# requirements/lock.txt change. MSRGAN_SKIP_INSTALL=1 installs nothing and uses the environment as
# it is (a GPU machine's CUDA builds must never be replaced by the CPU builds of the lock file).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${MSRGAN_VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3}"
stamp="$VENV/.msrgan-stamp"
want="$(cat "$ROOT/pyproject.toml" "$ROOT/requirements/lock.txt" | sha256sum | cut -d' ' -f1)"
if [ "${MSRGAN_SKIP_INSTALL:-0}" = 1 ]; then
  # Use the environment as it is (e.g. CUDA builds of the backends on a GPU machine): nothing is
  # installed or replaced; $MSRGAN_VENV is activated when it names a virtual environment, else the
  # current python is used, with the repository on PYTHONPATH.
  if [ -n "${MSRGAN_VENV:-}" ] && [ -f "$VENV/bin/activate" ]; then
    # shellcheck disable=SC1091
    source "$VENV/bin/activate"
  fi
  export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
  export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
  return 0 2>/dev/null || exit 0
fi
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "==> setting up the virtual environment in $VENV (once; a few minutes)"
  [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -r "$ROOT/requirements/lock.txt"
  "$VENV/bin/python" -m pip install -q --no-deps -e "$ROOT"
  echo "$want" > "$stamp"
fi
# shellcheck disable=SC1091
source "$VENV/bin/activate"
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
# Quieter TensorFlow; no GPU probing on CPU machines.
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
