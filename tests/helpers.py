"""Helpers for tests: another Keras backend (one subprocess per backend), a command's parser."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BACKENDS = ("tensorflow", "torch", "jax")


def run_in_backend(backend: str, code: str, *, timeout: float = 300, env: dict | None = None) -> dict:
    """Runs ``code`` in a fresh interpreter with ``KERAS_BACKEND=backend``; returns its JSON result.

    The code must print one JSON object as its last line of stdout. The subprocess inherits the
    Hub settings of this process (local endpoint and cache).
    """
    full_env = {**os.environ, "KERAS_BACKEND": backend, "PYTHONPATH": str(ROOT), **(env or {})}
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=timeout, env=full_env, cwd=str(ROOT))
    if proc.returncode != 0:
        raise AssertionError(f"subprocess on {backend} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def other_backends(current: str) -> list[str]:
    return [b for b in BACKENDS if b != current]


def command_parser(command: str):
    """``(parser, subparser)``: the ``msrgan`` argument parser and that of its ``command``."""
    from msrgan.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return parser, sub.choices[command]
