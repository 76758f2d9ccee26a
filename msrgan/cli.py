"""The ``msrgan`` command line.

Each subcommand lives in its own module under ``msrgan/commands/`` and exposes
``register(subparsers)``, which adds its parser and sets ``func`` (called with the parsed
arguments, returning an exit code). Modules are found automatically, so adding a command is
adding one file.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

import msrgan.commands


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="msrgan",
        description="Deep-learning super-resolution for fluorescence microscopy (Keras 3; pick the backend "
                    "with KERAS_BACKEND=tensorflow|torch|jax).",
    )
    parser.add_argument("--version", action="version", version=f"msrgan {msrgan.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(msrgan.commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"msrgan.commands.{info.name}")
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError, FileExistsError) as exc:
        print(f"msrgan {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
