"""The ``msrgan`` command line (also ``python -m msrgan``).

Each subcommand lives in its own module under ``msrgan/commands/`` and exposes
``register(subparsers)``, which adds its parser and sets ``func`` (called with the parsed
arguments, returning an exit code). Modules are found automatically, so adding a command is
adding one file. Every parser (the top level and each command's) takes ``-q/--quiet`` and ``-v``
(:class:`Parser` adds them), so commands need nothing for them.

Errors are one line on stderr and never echo a token (see ``zoo.hub.redact``): usage errors
(argparse's, through :class:`Parser`) and the ``ValueError``/``FileNotFoundError``/``FileExistsError``
a command raises (``msrgan CMD: error: ...``) exit with status 2; warnings print as
``warning: ...``, one line each.

Progress bars (tqdm, and those of ``huggingface_hub`` and ``datasets``, which use it) are shown only
when stderr is a terminal, never with ``-q`` or when ``TQDM_DISABLE`` is set.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import os
import pkgutil
import sys
import warnings

import msrgan.commands

EPILOG = ("exit status: 0 on success; 2 on a usage error or when the command fails (one line on stderr, "
          "'msrgan COMMAND: error: ...', including a Hub that refuses the request or cannot be reached); "
          "130 when interrupted. Tokens are never printed: anything that looks like one is shown as ***. "
          "-q/--quiet (no progress bars, no Keras progress output) and -v (INFO logs; -vv DEBUG) work "
          "before or after COMMAND. Progress bars show only when stderr is a terminal and TQDM_DISABLE is unset.")


def _redact(text: str) -> str:
    from zoo.hub import redact

    return redact(str(text))


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose usage errors never echo a token (its subparsers are Parsers too).

    ``msrgan pull R -o D --token hf_x`` says ``unrecognized arguments: --token ***``.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # On every parser; SUPPRESS so that a command's parser does not reset what the top level set.
        self.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                          help="less output: no progress bars, no Keras progress lines (results and errors remain)")
        self.add_argument("-v", dest="verbosity", action="count", default=argparse.SUPPRESS,
                          help="more output: INFO logs of msrgan, zoo and huggingface_hub (-vv: DEBUG)")

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


def progress_disabled(quiet: bool = False) -> bool:
    """Whether progress bars are off: ``-q``, ``TQDM_DISABLE`` set (not ``0``/``false``), or stderr not a terminal."""
    env = os.environ.get("TQDM_DISABLE", "").strip().lower()
    if quiet or env not in ("", "0", "false", "no"):
        return True
    return not (hasattr(sys.stderr, "isatty") and sys.stderr.isatty())


@contextlib.contextmanager
def _progress_bars_off():
    """Every tqdm bar created inside the block is disabled, whatever ``disable=`` its caller passed.

    tqdm honours ``TQDM_DISABLE`` only as a default, which an explicit ``disable=False`` overrides;
    huggingface_hub, datasets and msrgan's own loops all build on ``tqdm.std.tqdm``.
    """
    from tqdm import std

    original = std.tqdm.__init__

    def init(self, *args, **kwargs):
        kwargs["disable"] = True
        original(self, *args, **kwargs)

    std.tqdm.__init__ = init
    try:
        yield
    finally:
        std.tqdm.__init__ = original


def _configure_output(args) -> contextlib.AbstractContextManager:
    quiet = bool(getattr(args, "quiet", False))
    verbosity = int(getattr(args, "verbosity", 0) or 0)
    if quiet and getattr(args, "verbose", "absent") is None:  # train / train-classifier: Keras verbosity 0
        args.verbose = 0
    if verbosity:
        level = logging.DEBUG if verbosity > 1 else logging.INFO
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
        for name in ("msrgan", "zoo", "huggingface_hub", "datasets"):
            logging.getLogger(name).setLevel(level)
    return _progress_bars_off() if progress_disabled(quiet) else contextlib.nullcontext()


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        with warnings.catch_warnings(), _configure_output(args):
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
