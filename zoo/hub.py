"""Thin calls to the Hugging Face Hub through ``huggingface_hub``.

``HF_ENDPOINT``, ``HF_TOKEN``, ``HF_HUB_OFFLINE`` and the Hub cache (``HF_HOME`` /
``HF_HUB_CACHE``) are honoured as ``huggingface_hub`` reads them. Tokens are passed through and
never printed or logged.
"""

from __future__ import annotations

import os
from pathlib import Path


def parse_repo_id(source: str) -> str:
    """``hf://owner/name`` or ``owner/name`` -> ``owner/name``; anything else is a ValueError."""
    repo_id = source[len("hf://"):] if source.startswith("hf://") else source
    parts = repo_id.split("/")
    if len(parts) != 2 or not all(parts):
        raise ValueError(
            f"{source!r} is neither an existing local folder nor a Hub repository id of the form owner/name"
        )
    return repo_id


def download(source: str, revision: str | None = None, *, repo_type: str = "model") -> Path:
    """Downloads (or finds in the cache) a repository snapshot and returns its local folder."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (
        GatedRepoError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    repo_id = parse_repo_id(source)
    where = f"{repo_id}" + (f" at revision {revision!r}" if revision else "")
    try:
        return Path(snapshot_download(repo_id, revision=revision, repo_type=repo_type))
    except RevisionNotFoundError:
        raise FileNotFoundError(f"Hub repository {repo_id!r} has no revision {revision!r}") from None
    except (RepositoryNotFoundError, GatedRepoError):
        raise FileNotFoundError(
            f"Hub repository {repo_id!r} was not found (or needs a token with access) "
            f"at {_endpoint()}"
        ) from None
    except LocalEntryNotFoundError:
        raise FileNotFoundError(
            f"{where} is not in the local Hub cache and the Hub cannot be reached "
            f"(HF_HUB_OFFLINE={os.environ.get('HF_HUB_OFFLINE', '0')}); download it once while online"
        ) from None


def upload(folder: str | os.PathLike, repo_id: str, *, private: bool = False, token: str | None = None,
           commit_message: str = "Upload with zoo", repo_type: str = "model") -> str:
    """Creates ``repo_id`` if needed and uploads ``folder`` as one commit; returns the commit URL."""
    from huggingface_hub import HfApi

    repo_id = parse_repo_id(repo_id)
    api = HfApi(token=token)
    api.create_repo(repo_id, private=private, exist_ok=True, repo_type=repo_type)
    info = api.upload_folder(folder_path=str(folder), repo_id=repo_id, repo_type=repo_type,
                             commit_message=commit_message)
    return str(getattr(info, "commit_url", info))


def _endpoint() -> str:
    from huggingface_hub import constants

    return constants.ENDPOINT
