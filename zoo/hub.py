"""Thin calls to the Hugging Face Hub through ``huggingface_hub``.

Everything goes through ``huggingface_hub`` as configured by the environment:

- ``HF_ENDPOINT``: the Hub to talk to (read by ``huggingface_hub`` when it is first imported);
- ``HF_TOKEN``: the token used when none is passed (or the one stored by ``hf auth login``);
- ``HF_HUB_OFFLINE=1``: no network; models load from the Hub cache only (read at import);
- ``HF_HOME`` / ``HF_HUB_CACHE``: where downloaded snapshots are cached.

Failed calls are one-line errors naming the repository and the endpoint, never holding a token,
raised as ``huggingface_hub``'s own exception classes that also derive from the builtin ones the zoo
has always raised (``zoo.hub_errors``: :func:`redact`, :func:`errors`, :func:`hub_error`,
:class:`HubUnreachableError`; importable from here too). When the Hub cannot be reached but the
revision asked for is in the cache, :func:`snapshot` serves the cached copy and says so with a
``UserWarning`` naming the repository, the revision and the commit used.

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
import warnings
from pathlib import Path
from typing import Sequence

from zoo.hub_errors import (
    HubUnreachableError,
    _reason,
    _transport_errors,
    endpoint,
    errors,
    hub_error,
    redact,
)

_REPO_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_COMMIT_SHA = re.compile(r"^[0-9a-f]{40}$")


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


def is_repo_id(text) -> bool:
    """Whether ``text`` is a Hub repository id ``owner/name``: two parts of letters, digits, ``.``, ``_``
    and ``-``, each starting with a letter or digit, without ``..``. The one definition of the form
    (models, datasets, the ids a model card names).

    Example:
        >>> is_repo_id("lab/msrgan-x4"), is_repo_id("./folder"), is_repo_id("a/b/c")
        (True, False, False)
    """
    parts = text.split("/") if isinstance(text, str) else ()
    return len(parts) == 2 and all(_REPO_PART.match(p) and ".." not in p for p in parts)


def parse_repo_id(source: str) -> str:
    """``hf://owner/name`` or ``owner/name`` -> ``owner/name``; anything else is a ValueError.

    Example:
        >>> parse_repo_id("hf://lab/msrgan-x4")
        'lab/msrgan-x4'
    """
    source = str(source)
    repo_id = source[len("hf://"):] if source.startswith("hf://") else source
    if not is_repo_id(repo_id):
        raise ValueError(
            f"{source!r} is neither an existing local folder nor a Hub repository id of the form owner/name"
        )
    return repo_id


def is_offline() -> bool:
    """Whether ``HF_HUB_OFFLINE`` was set when ``huggingface_hub`` was imported."""
    from huggingface_hub import constants

    return bool(constants.HF_HUB_OFFLINE)
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
             allow_patterns: Sequence[str] | None = None, token: str | None = None,
             cache_dir: str | os.PathLike | None = None, force_download: bool = False,
             local_files_only: bool = False) -> Snapshot:
    """Downloads (or finds in the cache) a repository snapshot.

    Args:
        source: ``owner/name`` or ``hf://owner/name``.
        revision: Branch, tag or 40-hex commit sha; the default branch when None.
        repo_type: ``"model"`` or ``"dataset"``.
        allow_patterns: Only download files matching these patterns.
        token: Hub token; ``HF_TOKEN`` (or the stored login) when None.
        cache_dir: The Hub cache to use (default ``HF_HUB_CACHE``).
        force_download: Download the files again even when cached. The cache is replaced file by
            file, each only once it arrived whole (``huggingface_hub`` downloads to a temporary
            file), so an interrupted download leaves the cached copy usable.
        local_files_only: Use the cache only, never the network (as ``HF_HUB_OFFLINE=1`` does).

    Returns:
        A :class:`Snapshot` (folder, repo id, revision and resolved commit).

    Raises:
        RepositoryNotFoundError / RevisionNotFoundError (``huggingface_hub``'s, also
            ``FileNotFoundError``): The repository or revision does not exist.
        LocalEntryNotFoundError (also ``FileNotFoundError``): Offline, ``local_files_only`` or with
            the Hub unreachable, the snapshot is not in the cache; with the Hub unreachable it is also
            a :class:`HubUnreachableError` (a ``ConnectionError``), which ``msrgan`` reports as a
            runtime error (exit status 1), not as a missing input.
        HfHubHTTPError (also ``ValueError``): Another error answered by the Hub.
        ValueError: A malformed repository id.

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
    cache = os.fspath(cache_dir) if cache_dir is not None else None
    offline = is_offline() or local_files_only
    unreachable = None
    try:
        if not offline and not _COMMIT_SHA.match(revision or ""):  # a commit sha is the same everywhere
            unreachable = _unreachable(repo_id, revision, repo_type, token)
        folder = snapshot_download(repo_id, revision=revision, repo_type=repo_type, token=token,
                                   allow_patterns=list(allow_patterns) if allow_patterns else None,
                                   cache_dir=cache, force_download=force_download and unreachable is None,
                                   local_files_only=offline or unreachable is not None)
    except RevisionNotFoundError as exc:
        raise hub_error(RevisionNotFoundError, f"Hub repository {repo_id!r} has no revision {revision!r} "
                        f"(at {endpoint()}); check the branch, tag or commit sha", base=FileNotFoundError,
                        cause=exc) from None
    except RepositoryNotFoundError as exc:
        raise hub_error(RepositoryNotFoundError, f"Hub repository {repo_id!r} was not found at {endpoint()} (or it "
                        "is private and the token has no access to it)", base=FileNotFoundError, cause=exc) from None
    except IncompleteSnapshotError:
        raise hub_error(LocalEntryNotFoundError, f"The cached copy of {where} is incomplete and the Hub cannot be "
                        "reached; download it again online", base=HubUnreachableError) from None
    except LocalEntryNotFoundError:
        base = FileNotFoundError
        if local_files_only:
            message = (f"local_files_only=True and {where} is not in the Hub cache ({cache or _cache_dir()}); "
                       "load it once without local_files_only (or run `msrgan pull`) first")
        elif is_offline():
            message = (f"HF_HUB_OFFLINE=1 and {where} is not in the Hub cache ({cache or _cache_dir()}); "
                       "load it once with the Hub reachable (or run `msrgan pull`) before working offline")
        else:
            message = (f"{where} is not in the Hub cache ({cache or _cache_dir()}) and the Hub at {endpoint()} "
                       "cannot be reached" + (f" ({unreachable})" if unreachable else ""))
            base = HubUnreachableError
        raise hub_error(LocalEntryNotFoundError, message, base=base) from None
    except HfHubHTTPError as exc:
        raise hub_error(type(exc), redact(f"The Hub at {endpoint()} refused {where}: {_reason(exc)}", token),
                        base=ValueError, cause=exc) from None
    except _transport_errors() as exc:  # the Hub answered, then a download broke off
        raise HubUnreachableError(redact(f"Downloading {where} from {endpoint()} failed: {_reason(exc)}; the "
                                         "cached copy, if any, is unchanged", token)) from None
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


def _patterns(value: str | Sequence[str] | None) -> list[str] | None:
    if value is None:
        return None
    return [value] if isinstance(value, str) else list(value)


def upload(folder: str | os.PathLike, repo_id: str, *, private: bool | None = None, token: str | None = None,
           commit_message: str = "Upload with zoo", repo_type: str = "model", branch: str | None = None,
           create_pr: bool | None = None, allow_patterns: str | Sequence[str] | None = None,
           ignore_patterns: str | Sequence[str] | None = None,
           delete_patterns: str | Sequence[str] | None = None):
    """Creates ``repo_id`` if needed and uploads ``folder`` as one commit (``HfApi.upload_folder``).

    Args:
        folder: Local folder to upload.
        repo_id: ``owner/name`` (or ``hf://owner/name``).
        private: Visibility of a repository created here (``None``: the Hub's default, public
            unless the organization's default is private); an existing repository keeps its own.
        token: Hub token with write access; ``HF_TOKEN`` (or the stored login) when None.
        commit_message: The commit's title.
        repo_type: ``"model"`` or ``"dataset"``.
        branch: The branch to commit to (default ``main``); it must exist.
        create_pr: Open a pull request from the commit instead of moving the branch.
        allow_patterns, ignore_patterns: Only upload files matching / not matching these patterns.
        delete_patterns: Delete remote files matching these patterns in the same commit.

    Returns:
        ``huggingface_hub``'s ``CommitInfo``: a ``str``, the URL of the new commit, with ``.oid``
        (the commit sha) and, with ``create_pr``, ``.pr_url`` and ``.pr_num``.

    Raises:
        RevisionNotFoundError (also ``ValueError``): ``branch`` does not exist.
        ValueError: Offline mode, a malformed id, another error answered by the Hub (e.g. a rejected
            token, raised as ``huggingface_hub``'s class), a Hub that cannot be reached or a failed
            upload: one line, never containing the token (see :func:`errors`).
    """
    from huggingface_hub import HfApi

    repo_id = parse_repo_id(repo_id)
    if is_offline():
        from huggingface_hub.errors import OfflineModeIsEnabled

        raise hub_error(OfflineModeIsEnabled, f"HF_HUB_OFFLINE=1: cannot push to {repo_id}; unset it to reach the Hub",
                        base=ValueError)
    api = HfApi(token=token)
    where = repo_id + (f" (branch {branch!r})" if branch else "")
    with errors(f"Pushing to {where}", token=token):
        api.create_repo(repo_id, private=private, exist_ok=True, repo_type=repo_type)
        return api.upload_folder(folder_path=str(folder), repo_id=repo_id, repo_type=repo_type,
                                 commit_message=commit_message, revision=branch, create_pr=create_pr,
                                 allow_patterns=_patterns(allow_patterns), ignore_patterns=_patterns(ignore_patterns),
                                 delete_patterns=_patterns(delete_patterns))


def _cache_dir() -> str:
    from huggingface_hub import constants

    return constants.HF_HUB_CACHE
