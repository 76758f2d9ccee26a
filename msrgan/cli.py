"""The ``msrgan`` command line (also ``python -m msrgan``).

Each subcommand lives in its own module under ``msrgan/commands/`` and exposes
``register(subparsers)``, which adds its parser and sets ``func`` (called with the parsed
arguments, returning an exit code). Modules are found automatically, so adding a command is
adding one file. Every parser (the top level and each command's) takes ``-q/--quiet`` and ``-v``
(:class:`Parser` adds them), so commands need nothing for them.

Errors are one line on stderr, ``msrgan CMD: error: ...`` (argparse's usage errors likewise, after
the usage line), and never echo a token (see ``zoo.hub.redact``, and :class:`Parser` for argparse's);
with ``-v`` the traceback comes first. The exit status says which kind (``msrgan.errors``): 0 success,
1 runtime error (the Hub cannot be reached or refused the request, offline mode, out of memory or
disk space, a ``RuntimeError``), 2 usage error (argparse's, and :class:`msrgan.errors.UsageError`:
the command line alone is wrong), 3 input error (a file, folder, model, dataset, config file, Hub
repository, revision or token given is missing, unreadable, invalid or would be overwritten:
``ValueError``, ``FileNotFoundError``, ``FileExistsError``, ``PermissionError``...), 130
interrupted. Any other exception is a bug and keeps Python's traceback (status 1). Warnings print
as ``warning: ...``, one line each.

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
import traceback
import warnings

import msrgan.commands
from msrgan.errors import EXIT_INTERRUPTED, EXIT_USAGE, exit_code

EPILOG = """\
exit status:
  0    success
  1    runtime error: the command failed while running (the Hub cannot be reached
       or refused the request, HF_HUB_OFFLINE=1, out of memory or disk space)
  2    usage error: the command line itself is wrong (an unknown flag, a bad
       option value or combination)
  3    input error: a file, folder, image, model, dataset, config file, Hub
       repository, revision or token given is missing, unreadable, invalid or
       would be overwritten
  130  interrupted
Errors are one line on stderr, 'msrgan COMMAND: error: ...' (-v adds the
traceback). Tokens are never printed: anything that looks like one is shown
as ***.

-q/--quiet (no progress bars, no Keras progress output) and -v (INFO logs;
-vv DEBUG) work before or after COMMAND. Progress bars show only when stderr is
a terminal and TQDM_DISABLE is unset."""


def _redact(text: str) -> str:
    from zoo.hub import redact

    return redact(str(text))


def _one_line(exc: BaseException) -> str:
    """``exc``'s message on one line (its class name when it has none, e.g. ``MemoryError()``)."""
    text = str(exc) or type(exc).__name__
    return " ".join(text.split()) if "\n" in text else text


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
        description="Deep-learning super-resolution for fluorescence microscopy (Keras 3; pick the backend\n"
                    "with KERAS_BACKEND=tensorflow|torch|jax).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,  # the exit status table keeps its lines
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
        return EXIT_USAGE
    try:
        with warnings.catch_warnings(), _configure_output(args):
            warnings.showwarning = _show_warning
            return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        code = exit_code(exc)
        if code is None:  # a bug: Python's traceback, status 1
            raise
        if getattr(args, "verbosity", 0):
            print(_redact("".join(traceback.format_exception(exc))).rstrip(), file=sys.stderr)
        print(f"msrgan {args.command}: error: {_redact(_one_line(exc))}", file=sys.stderr)
        return code


if __name__ == "__main__":
    sys.exit(main())
