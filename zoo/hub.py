"""Thin calls to the Hugging Face Hub through ``huggingface_hub``.

Everything goes through ``huggingface_hub`` as configured by the environment:

- ``HF_ENDPOINT``: the Hub to talk to (read by ``huggingface_hub`` when it is first imported);
- ``HF_TOKEN``: the token used when none is passed (or the one stored by ``hf auth login``);
- ``HF_HUB_OFFLINE=1``: no network; models load from the Hub cache only (read at import);
- ``HF_HOME`` / ``HF_HUB_CACHE``: where downloaded snapshots are cached.

Tokens are handed to ``huggingface_hub`` and nowhere else: they are never printed, logged or put
in an error message (messages from the Hub go through :func:`redact`, just in case).

Failures are one-line errors: what the Hub answers (a rejected token, a missing repository, a
refused upload) and a Hub that cannot be reached become ``ValueError``/``FileNotFoundError`` naming
the repository and the endpoint (see :func:`errors`). When the Hub cannot be reached but the
revision asked for is in the cache, :func:`snapshot` serves the cached copy and says so with a
``UserWarning`` naming the repository, the revision and the commit used.

Example:
    >>> from zoo import hub
    >>> snap = hub.snapshot("owner/name", allow_patterns=["config.json"])  # doctest: +SKIP
    >>> snap.commit                                                         # doctest: +SKIP
    '3f2a...'
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import warnings
from pathlib import Path
from typing import Iterator, Sequence

_REPO_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_COMMIT_SHA = re.compile(r"^[0-9a-f]{40}$")
_TOKEN_FLAG_VALUE = re.compile(r"(--tok[\w-]*)(=|\s+)(?!-)\S+")  # --token X, --tokn=X, ...
_TOKEN_LIKE = re.compile(r"\bhf_[A-Za-z0-9]+\b")  # a Hugging Face token: hf_ and letters/digits


@dataclasses.dataclass(frozen=True)
class Snapshot:
    """A repository snapshot in the local Hub cache.

    Attributes:
        folder: The snapshot folder (read-only; files are links into the cache).
        repo_id: ``owner/name``.
        revision: The revision asked for (``None`` for the default branch).
        commit: The 40-hex commit sha the snapshot holds.
    """

    folder: Path
    repo_id: str
    revision: str | None
    commit: str


def parse_repo_id(source: str) -> str:
    """``hf://owner/name`` or ``owner/name`` -> ``owner/name``; anything else is a ValueError.

    Example:
        >>> parse_repo_id("hf://lab/msrgan-x4")
        'lab/msrgan-x4'
    """
    source = str(source)
    repo_id = source[len("hf://"):] if source.startswith("hf://") else source
    parts = repo_id.split("/")
    if len(parts) != 2 or not all(_REPO_PART.match(p) for p in parts) or any(".." in p for p in parts):
        raise ValueError(
            f"{source!r} is neither an existing local folder nor a Hub repository id of the form owner/name"
        )
    return repo_id


def endpoint() -> str:
    """The Hub endpoint in use (``HF_ENDPOINT``, as ``huggingface_hub`` read it)."""
    from huggingface_hub import constants

    return constants.ENDPOINT


def is_offline() -> bool:
    """Whether ``HF_HUB_OFFLINE`` was set when ``huggingface_hub`` was imported."""
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)


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

    Covers what the Hub answers (a rejected token, a refused commit, a server error), a Hub that
    cannot be reached (connection refused, DNS, timeout), a failed LFS upload (the client's
    ``RuntimeError: Error while uploading ...``) and offline mode. The message reads
    ``"<action> at <endpoint> failed: <reason>"``. Other exceptions pass through unchanged.

    Example:
        >>> with errors("Pushing to lab/x4"):                     # doctest: +SKIP
        ...     HfApi().upload_folder(folder_path="out", repo_id="lab/x4")
    """
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    failures = (HfHubHTTPError, OSError, *_transport_errors())
    try:
        yield
    except OfflineModeIsEnabled:
        raise ValueError(f"HF_HUB_OFFLINE=1: {action} needs the Hub; unset HF_HUB_OFFLINE to reach it") from None
    except failures as exc:
        raise ValueError(redact(f"{action} at {endpoint()} failed: {_reason(exc)}", token)) from None
    except RuntimeError as exc:
        if not isinstance(exc.__cause__, failures):
            raise
        raise ValueError(redact(f"{action} at {endpoint()} failed: {_reason(exc)}", token)) from None


def _unreachable(repo_id: str, revision: str | None, repo_type: str, token: str | None) -> str | None:
    """Why the Hub cannot be reached for ``repo_id``, or None when it answers.

    Errors the Hub answers with (missing repository or revision, rejected token) are raised as
    ``huggingface_hub`` raises them; a server error (5xx) counts as unreachable, as it does for
    ``snapshot_download``, which then serves the cache without a word.
    """
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    try:
        HfApi(token=token).repo_info(repo_id, revision=revision, repo_type=repo_type)
    except _transport_errors() as exc:
        return _reason(exc)
    except HfHubHTTPError as exc:
        if exc.response is None or exc.response.status_code < 500:
            raise
        return _reason(exc)
    return None


def snapshot(source: str, revision: str | None = None, *, repo_type: str = "model",
             allow_patterns: Sequence[str] | None = None, token: str | None = None) -> Snapshot:
    """Downloads (or finds in the cache) a repository snapshot.

    Args:
        source: ``owner/name`` or ``hf://owner/name``.
        revision: Branch, tag or 40-hex commit sha; the default branch when None.
        repo_type: ``"model"`` or ``"dataset"``.
        allow_patterns: Only download files matching these patterns.
        token: Hub token; ``HF_TOKEN`` (or the stored login) when None.

    Returns:
        A :class:`Snapshot` (folder, repo id, revision and resolved commit).

    Raises:
        FileNotFoundError: The repository or revision does not exist, or (offline or with the Hub
            unreachable) is not cached.
        ValueError: A malformed repository id, or another error answered by the Hub.

    Warns:
        UserWarning: The Hub cannot be reached and the cached copy is served; the message names the
            repository, the revision and the commit (a commit sha asked for is served silently: it
            cannot be out of date).
    """
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (
        HfHubHTTPError,
        IncompleteSnapshotError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    repo_id = parse_repo_id(source)
    where = repo_id + (f" at revision {revision!r}" if revision else "")
    unreachable = None
    try:
        if not is_offline() and not _COMMIT_SHA.match(revision or ""):  # a commit sha is the same everywhere
            unreachable = _unreachable(repo_id, revision, repo_type, token)
        folder = snapshot_download(repo_id, revision=revision, repo_type=repo_type, token=token,
                                   allow_patterns=list(allow_patterns) if allow_patterns else None,
                                   local_files_only=unreachable is not None)
    except RevisionNotFoundError:
        raise FileNotFoundError(f"Hub repository {repo_id!r} has no revision {revision!r} (at {endpoint()})") from None
    except RepositoryNotFoundError:
        raise FileNotFoundError(
            f"Hub repository {repo_id!r} was not found at {endpoint()} (or it is private and the token "
            f"has no access to it)"
        ) from None
    except IncompleteSnapshotError:
        raise FileNotFoundError(
            f"The cached copy of {where} is incomplete and the Hub cannot be reached; download it again online"
        ) from None
    except LocalEntryNotFoundError:
        if is_offline():
            raise FileNotFoundError(
                f"HF_HUB_OFFLINE=1 and {where} is not in the Hub cache ({_cache_dir()}); "
                f"load it once with the Hub reachable (or run `msrgan pull`) before working offline"
            ) from None
        raise FileNotFoundError(
            f"{where} is not in the Hub cache ({_cache_dir()}) and the Hub at {endpoint()} cannot be reached"
            + (f" ({unreachable})" if unreachable else "")
        ) from None
    except HfHubHTTPError as exc:
        raise ValueError(redact(f"The Hub at {endpoint()} refused {where}: {_reason(exc)}", token)) from None
    snap = Snapshot(Path(folder), repo_id, revision, Path(folder).name)
    if unreachable is not None:
        warnings.warn(
            f"the Hub at {endpoint()} cannot be reached ({unreachable}); using the cached copy of {repo_id} "
            f"at revision {revision or 'main'!r}, commit {snap.commit}, which may be out of date",
            UserWarning, stacklevel=2,
        )
    return snap


def download(source: str, revision: str | None = None, *, repo_type: str = "model",
             allow_patterns: Sequence[str] | None = None, token: str | None = None) -> Path:
    """Like :func:`snapshot`, returning only the snapshot folder."""
    return snapshot(source, revision, repo_type=repo_type, allow_patterns=allow_patterns, token=token).folder


def upload(folder: str | os.PathLike, repo_id: str, *, private: bool = False, token: str | None = None,
           commit_message: str = "Upload with zoo", repo_type: str = "model",
           allow_patterns: Sequence[str] | None = None) -> str:
    """Creates ``repo_id`` if needed and uploads ``folder`` as one commit.

    Args:
        folder: Local folder to upload.
        repo_id: ``owner/name`` (or ``hf://owner/name``).
        private: Create the repository private (an existing repository keeps its visibility).
        token: Hub token with write access; ``HF_TOKEN`` (or the stored login) when None.
        commit_message: The commit's title.
        repo_type: ``"model"`` or ``"dataset"``.
        allow_patterns: Only upload files matching these patterns.

    Returns:
        The URL of the new commit.

    Raises:
        ValueError: Offline mode, a malformed id, an error answered by the Hub (e.g. a rejected token),
            a Hub that cannot be reached or a failed upload: one line, never containing the token
            (see :func:`errors`).
    """
    from huggingface_hub import HfApi

    repo_id = parse_repo_id(repo_id)
    if is_offline():
        raise ValueError(f"HF_HUB_OFFLINE=1: cannot push to {repo_id}; unset it to reach the Hub")
    api = HfApi(token=token)
    with errors(f"Pushing to {repo_id}", token=token):
        api.create_repo(repo_id, private=private, exist_ok=True, repo_type=repo_type)
        info = api.upload_folder(folder_path=str(folder), repo_id=repo_id, repo_type=repo_type,
                                 commit_message=commit_message,
                                 allow_patterns=list(allow_patterns) if allow_patterns else None)
    return str(getattr(info, "commit_url", None) or info)


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


def _cache_dir() -> str:
    from huggingface_hub import constants

    return constants.HF_HUB_CACHE
