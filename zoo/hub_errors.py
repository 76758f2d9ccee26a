"""Failed calls to the Hugging Face Hub as one-line errors that never hold a token.

Tokens are handed to ``huggingface_hub`` and nowhere else: they are never printed, logged or put
in an error message (messages from the Hub go through :func:`redact`, just in case).

Failures are one-line errors naming the repository and the endpoint (see :func:`errors`). What
the Hub answers keeps ``huggingface_hub``'s own exception class, so ``except
RepositoryNotFoundError`` / ``RevisionNotFoundError`` / ``HfHubHTTPError`` work as with any Hugging
Face library; the class raised also derives from the builtin one the zoo has always raised
(``FileNotFoundError`` for a missing repository, revision or cached copy when loading, ``ValueError``
for a refused push), so older ``except`` clauses keep working (see :func:`hub_error`). A Hub that
cannot be reached is a ``ValueError`` (also a ``ConnectionError``). ``zoo.hub`` (snapshots, uploads)
raises them; the public names here are importable from ``zoo.hub`` too.
"""

from __future__ import annotations

import contextlib
import os
import re
from typing import Iterator

_TOKEN_FLAG_VALUE = re.compile(r"(--tok[\w-]*)(=|\s+)(?!-)\S+")  # --token X, --tokn=X, ...
_TOKEN_LIKE = re.compile(r"\bhf_[A-Za-z0-9]+\b")  # a Hugging Face token: hf_ and letters/digits


def endpoint() -> str:
    """The Hub endpoint in use (``HF_ENDPOINT``, as ``huggingface_hub`` read it)."""
    from huggingface_hub import constants

    return constants.ENDPOINT


def redact(text: str, token: str | None = None) -> str:
    """``text`` with anything that looks like a token replaced by ``***``.

    Replaced: ``token`` and the tokens in ``HF_TOKEN`` / ``HUGGING_FACE_HUB_TOKEN``, the value after
    any ``--tok*`` flag (``--token X``, ``--tokn=X``; not ``-``, which means stdin) and any word
    ``hf_<letters and digits>``. Used for every error message that could echo one.

    Example:
        >>> redact("unrecognized arguments: --tokn hf_abc --repo a/b")
        'unrecognized arguments: --tokn *** --repo a/b'
        >>> redact("bad value hf_Secret123 (see hf_hub_download)")
        'bad value hf_*** (see hf_hub_download)'
    """
    for secret in (token, os.environ.get("HF_TOKEN"), os.environ.get("HUGGING_FACE_HUB_TOKEN")):
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    text = _TOKEN_FLAG_VALUE.sub(r"\1\2***", text)
    return _TOKEN_LIKE.sub("hf_***", text)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


_MIXED: dict[tuple[type, type], type] = {}


def hub_error(cls: type[BaseException], message: str, *, base: type[BaseException],
              cause: BaseException | None = None) -> BaseException:
    """An exception of ``huggingface_hub``'s class ``cls`` that is also a ``base`` exception (a builtin
    one, or :class:`HubUnreachableError`).

    ``except RepositoryNotFoundError`` (the Hugging Face way) and ``except FileNotFoundError`` (what
    the zoo raised before) both catch it. It carries ``message`` (one line, never a token) and, for
    HTTP errors, the response and server message of ``cause``. Its class reads as ``cls`` in a
    traceback.

    Example:
        >>> from huggingface_hub.errors import LocalEntryNotFoundError
        >>> e = hub_error(LocalEntryNotFoundError, "lab/x is not cached", base=FileNotFoundError)
        >>> isinstance(e, LocalEntryNotFoundError), isinstance(e, FileNotFoundError), str(e)
        (True, True, 'lab/x is not cached')
    """
    from huggingface_hub.errors import HfHubHTTPError

    if issubclass(cls, base):
        mixed = cls
    else:
        mixed = _MIXED.get((cls, base))
        if mixed is None:
            mixed = type(cls.__name__, (cls, base), {"__module__": cls.__module__, "__qualname__": cls.__qualname__})
            _MIXED[(cls, base)] = mixed
    response = getattr(cause, "response", None)
    if issubclass(mixed, HfHubHTTPError):
        if response is None:  # an HTTP error class without a response (built by hand): keep the message
            exc = OSError.__new__(mixed, message)
            OSError.__init__(exc, message)
            exc.response, exc.request, exc.request_id, exc.server_message = None, None, None, None
            return exc
        return mixed(message, response=response, server_message=getattr(cause, "server_message", None))
    return mixed(message)


def _reason(exc: BaseException) -> str:
    """One line saying why a call to the Hub failed (never a URL: pre-signed upload URLs carry secrets)."""
    from huggingface_hub.errors import HfHubHTTPError

    if isinstance(exc, HfHubHTTPError) and exc.response is not None:
        status = exc.response.status_code
        said = _one_line(exc.server_message or "").rstrip(".")
        answer = f"{status} {exc.response.reason_phrase}".strip() + (f": {said}" if said else "")
        if status == 401:
            return f"the token was rejected ({answer}); check the token given, HF_TOKEN or `hf auth login`"
        return f"the server answered {answer}"
    if isinstance(exc, _transport_errors()):
        return f"cannot connect ({type(exc).__name__}: {_one_line(exc) or 'no detail'})"
    if isinstance(exc, RuntimeError) and exc.__cause__ is not None:  # huggingface_hub: "Error while uploading 'x'"
        return f"{_one_line(exc).rstrip('.')}: {_reason(exc.__cause__)}"
    return f"{type(exc).__name__}: {_one_line(exc)}"


@contextlib.contextmanager
def errors(action: str, *, token: str | None = None) -> Iterator[None]:
    """Turns a failed Hub call inside the block into one ``ValueError`` line that never holds a token.

    Covers what the Hub answers (a rejected token, a missing repository or branch, a refused commit,
    a server error), a Hub that cannot be reached (connection refused, DNS, timeout), a failed LFS
    upload (the client's ``RuntimeError: Error while uploading ...``) and offline mode. The message
    reads ``"<action> at <endpoint> failed: <reason>"``. An answer of the Hub is raised as
    ``huggingface_hub``'s own class (``RepositoryNotFoundError``, ``RevisionNotFoundError``,
    ``HfHubHTTPError``...) that is also a ``ValueError`` (see :func:`hub_error`); a Hub that cannot
    be reached as :class:`HubUnreachableError` (a ``ValueError`` and a ``ConnectionError``); offline
    mode as ``huggingface_hub``'s ``OfflineModeIsEnabled`` (also a ``ValueError``). Other
    exceptions pass through unchanged.

    Example:
        >>> with errors("Pushing to lab/x4"):                     # doctest: +SKIP
        ...     HfApi().upload_folder(folder_path="out", repo_id="lab/x4")
    """
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    failures = (HfHubHTTPError, OSError, *_transport_errors())
    try:
        yield
    except OfflineModeIsEnabled:
        raise hub_error(OfflineModeIsEnabled, f"HF_HUB_OFFLINE=1: {action} needs the Hub; unset HF_HUB_OFFLINE "
                        "to reach it", base=ValueError) from None
    except failures as exc:
        raise _failed(action, exc, token) from None
    except RuntimeError as exc:
        if not isinstance(exc.__cause__, failures):
            raise
        raise _failed(action, exc, token) from None


class HubUnreachableError(ConnectionError, ValueError):
    """The Hub could not be reached (connection refused, DNS, timeout) or a transfer broke off."""


def _failed(action: str, exc: BaseException, token: str | None) -> BaseException:
    """The one-line error for ``exc`` raised inside :func:`errors`, keeping the Hub's exception class."""
    from huggingface_hub.errors import HfHubHTTPError, RevisionNotFoundError

    message = redact(f"{action} at {endpoint()} failed: {_reason(exc)}", token)
    if isinstance(exc, RevisionNotFoundError):
        message += "; the branch or revision does not exist (create a branch with HfApi().create_branch)"
    if isinstance(exc, HfHubHTTPError):
        return hub_error(type(exc), message, base=ValueError, cause=exc)
    if isinstance(exc.__cause__, HfHubHTTPError):
        return hub_error(type(exc.__cause__), message, base=ValueError, cause=exc.__cause__)
    if isinstance(exc, _transport_errors()) or isinstance(exc.__cause__, _transport_errors()):
        return HubUnreachableError(message)
    return ValueError(message)


def _transport_errors() -> tuple[type[BaseException], ...]:
    """The HTTP client's connection errors (``huggingface_hub`` uses httpx2 or httpx)."""
    out = []
    for name in ("httpx2", "httpx"):
        try:
            module = __import__(name)
        except ImportError:
            continue
        err = getattr(module, "TransportError", None)
        if isinstance(err, type):
            out.append(err)
    return tuple(out)
