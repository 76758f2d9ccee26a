"""Thin calls to the Hugging Face Hub through ``huggingface_hub``.

Everything goes through ``huggingface_hub`` as configured by the environment:

- ``HF_ENDPOINT``: the Hub to talk to (read by ``huggingface_hub`` when it is first imported);
- ``HF_TOKEN``: the token used when none is passed (or the one stored by ``hf auth login``);
- ``HF_HUB_OFFLINE=1``: no network; models load from the Hub cache only (read at import);
- ``HF_HOME`` / ``HF_HUB_CACHE``: where downloaded snapshots are cached.

Tokens are handed to ``huggingface_hub`` and nowhere else: they are never printed, logged or put
in an error message (messages from the Hub are scrubbed of them, just in case).

Example:
    >>> from zoo import hub
    >>> snap = hub.snapshot("owner/name", allow_patterns=["config.json"])  # doctest: +SKIP
    >>> snap.commit                                                         # doctest: +SKIP
    '3f2a...'
"""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path
from typing import Sequence

_REPO_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


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


def _scrub(text: str, token: str | None) -> str:
    """``text`` with any token it might contain replaced by ``***``."""
    for secret in (token, os.environ.get("HF_TOKEN"), os.environ.get("HUGGING_FACE_HUB_TOKEN")):
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    return re.sub(r"hf_[A-Za-z0-9]{8,}", "hf_***", text)


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
        FileNotFoundError: The repository or revision does not exist, or (offline) is not cached.
        ValueError: A malformed repository id, or another error answered by the Hub.
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
    try:
        folder = snapshot_download(repo_id, revision=revision, repo_type=repo_type, token=token,
                                   allow_patterns=list(allow_patterns) if allow_patterns else None)
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
        ) from None
    except HfHubHTTPError as exc:
        raise ValueError(_scrub(f"The Hub at {endpoint()} refused {where}: {exc}", token)) from None
    return Snapshot(Path(folder), repo_id, revision, Path(folder).name)


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
        ValueError: Offline mode, a malformed id, or an error answered by the Hub (the message never
            contains the token).
    """
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    repo_id = parse_repo_id(repo_id)
    if is_offline():
        raise ValueError(f"HF_HUB_OFFLINE=1: cannot push to {repo_id}; unset it to reach the Hub")
    api = HfApi(token=token)
    try:
        api.create_repo(repo_id, private=private, exist_ok=True, repo_type=repo_type)
        info = api.upload_folder(folder_path=str(folder), repo_id=repo_id, repo_type=repo_type,
                                 commit_message=commit_message,
                                 allow_patterns=list(allow_patterns) if allow_patterns else None)
    except OfflineModeIsEnabled:
        raise ValueError(f"HF_HUB_OFFLINE=1: cannot push to {repo_id}; unset it to reach the Hub") from None
    except (HfHubHTTPError, OSError, *_transport_errors()) as exc:
        raise ValueError(_scrub(f"Pushing to {repo_id} at {endpoint()} failed: {exc}", token)) from None
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
