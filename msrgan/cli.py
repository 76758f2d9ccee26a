"""The ``msrgan`` command line.

Each subcommand lives in its own module under ``msrgan/commands/`` and exposes
``register(subparsers)``, which adds its parser and sets ``func`` (called with the parsed
arguments, returning an exit code). Modules are found automatically, so adding a command is
adding one file.

Errors are one line on stderr and never echo a token (see ``zoo.hub.redact``): usage errors
(argparse's, through :class:`Parser`) and the ``ValueError``/``FileNotFoundError``/``FileExistsError``
a command raises (``msrgan CMD: error: ...``) exit with status 2; warnings print as
``warning: ...``, one line each.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import warnings

import msrgan.commands

EPILOG = ("exit status: 0 on success; 2 on a usage error or when the command fails (one line on stderr, "
          "'msrgan COMMAND: error: ...', including a Hub that refuses the request or cannot be reached); "
          "130 when interrupted. Tokens are never printed: anything that looks like one is shown as ***.")


def _redact(text: str) -> str:
    from zoo.hub import redact

    return redact(str(text))


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose usage errors never echo a token (its subparsers are Parsers too).

    ``msrgan pull R -o D --token hf_x`` says ``unrecognized arguments: --token ***``.
    """

    def error(self, message: str):
        super().error(_redact(message))


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(f"warning: {_redact(message)}", file=sys.stderr)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="msrgan",
        description="Deep-learning super-resolution for fluorescence microscopy (Keras 3; pick the backend "
                    "with KERAS_BACKEND=tensorflow|torch|jax).",
        epilog=EPILOG,
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
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            return int(args.func(args) or 0)
    except (ValueError, FileNotFoundError, FileExistsError, PermissionError) as exc:
        print(f"msrgan {args.command}: error: {_redact(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
