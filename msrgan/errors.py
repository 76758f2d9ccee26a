"""What went wrong, as the ``msrgan`` command's exit status says it.

======  ===================  ==========================================================================
status  constant             meaning
======  ===================  ==========================================================================
0       ``EXIT_OK``          success
1       ``EXIT_RUNTIME``     the command failed while running, for a reason outside what it was given:
                             the Hub cannot be reached or refused the request (other than a rejected
                             token), offline mode, out of memory or disk space, a crash
2       ``EXIT_USAGE``       the command line itself is wrong, found before any file, model, dataset or
                             Hub repository is read: argparse's errors and :class:`UsageError`
3       ``EXIT_INPUT``       a file, folder, image, model, dataset, config file, Hub repository,
                             revision or token given is missing, unreadable, invalid, does not fit the
                             rest of the command, or would be overwritten
130     ``EXIT_INTERRUPTED`` interrupted (Ctrl-C)
======  ===================  ==========================================================================

A value that is wrong only for the particular input (a PNG output for a z-stack, ``--scale 2``
with a x4 model) is found by reading that input, so it is an input error (3). A token the Hub
rejects (401) is an input error too: retrying does not help, a corrected token does.

:func:`exit_code` maps an exception to its status; ``msrgan.cli.main`` prints it as one line.

Example:
    >>> exit_code(UsageError("--count must be at least 1, got 0"))
    2
    >>> exit_code(FileNotFoundError("No such file or folder: a.png"))
    3
    >>> exit_code(MemoryError())
    1
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_RUNTIME = 1
EXIT_USAGE = 2
EXIT_INPUT = 3
EXIT_INTERRUPTED = 130

EXIT_CODES = {EXIT_OK: "success", EXIT_RUNTIME: "runtime error", EXIT_USAGE: "usage error",
              EXIT_INPUT: "input error", EXIT_INTERRUPTED: "interrupted"}


class UsageError(ValueError):
    """An option value or combination that the command line alone shows to be wrong (exit status 2).

    A ``ValueError``, so ``except ValueError`` keeps catching it in the Python API.
    """


_INPUT_OS_ERRORS = (FileNotFoundError, FileExistsError, PermissionError, NotADirectoryError, IsADirectoryError)


def exit_code(exc: BaseException) -> int | None:
    """The exit status for ``exc`` (see the module's table), or None for an unexpected exception.

    The Hub's exception classes are checked first: ``zoo.hub`` raises them mixed with ``ValueError``
    or ``FileNotFoundError``, which alone would read as input errors. ``NotImplementedError`` and
    ``RecursionError`` are bugs, not runtime failures: None.
    """
    from huggingface_hub.errors import (
        EntryNotFoundError,
        HfHubHTTPError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    from zoo.hub import HubUnreachableError

    if isinstance(exc, UsageError):
        return EXIT_USAGE
    if isinstance(exc, (HubUnreachableError, OfflineModeIsEnabled)):
        return EXIT_RUNTIME
    # GatedRepoError is a RepositoryNotFoundError; LocalEntryNotFoundError an EntryNotFoundError.
    if isinstance(exc, (RepositoryNotFoundError, RevisionNotFoundError, EntryNotFoundError)):
        return EXIT_INPUT
    if isinstance(exc, HfHubHTTPError):
        response = getattr(exc, "response", None)
        return EXIT_INPUT if response is not None and response.status_code == 401 else EXIT_RUNTIME
    if isinstance(exc, (*_INPUT_OS_ERRORS, ValueError)):
        return EXIT_INPUT
    if isinstance(exc, (NotImplementedError, RecursionError)):
        return None
    if isinstance(exc, (RuntimeError, MemoryError, OSError)):
        return EXIT_RUNTIME
    return None
