"""Pretrained folders to and from the Hub: ``push_folder`` checks a folder and uploads it,
``pull_folder`` downloads one after checking that it loads."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from zoo.files import CARD_NAME, CONFIG_NAME, WEIGHTS_NAME, atomic_write_bytes
from zoo.folder import FILES, _refuse_overwrite, generic_card, load_folder


def _check_snapshot(snap) -> None:
    found = sorted(p.name for p in snap.folder.iterdir()) if snap.folder.is_dir() else []
    for name in (CONFIG_NAME, WEIGHTS_NAME):
        if name not in found:
            raise FileNotFoundError(
                f"Hub repository {snap.repo_id!r} (commit {snap.commit}) has no {name}, so it is not a "
                f"pretrained model folder (it holds: {', '.join(found) or 'none of the expected files'})"
            )


def push_folder(directory: str | os.PathLike, repo_id: str, *, commit_message: str | None = None,
                private: bool | None = None, token: str | None = None, branch: str | None = None,
                create_pr: bool | None = None, allow_patterns: str | list[str] | None = None,
                ignore_patterns: str | list[str] | None = None, delete_patterns: str | list[str] | None = None):
    """Checks a local pretrained folder and uploads its three files as one commit.

    The folder is loaded first (class, config, weights and shapes checked), so a broken folder
    is never published. A missing ``README.md`` is written from the model's card hook into the
    upload (not into ``directory``). Other files in the folder are not uploaded. The keyword
    arguments are ``huggingface_hub.ModelHubMixin.push_to_hub``'s.

    Args:
        directory: A pretrained folder (``save_pretrained``'s output).
        repo_id: ``owner/name``; created if needed.
        commit_message: Commit title; ``"Upload <zoo name or class>"`` by default.
        private: Visibility of a repository created here; ``None``: the Hub's default.
        token: Hub token with write access; ``HF_TOKEN`` when None. Never printed or logged.
        branch: Branch to commit to (default ``main``); it must exist.
        create_pr: Open a pull request with the commit instead of updating the branch.
        allow_patterns, ignore_patterns: Upload only the files (of the three) matching / not matching.
        delete_patterns: Remote files to delete in the same commit.

    Returns:
        The commit URL: ``huggingface_hub``'s ``CommitInfo`` (a ``str``; ``.oid`` is the commit
        sha, ``.pr_url`` the pull request with ``create_pr``).

    Example:
        >>> zoo.push_folder("runs/x4/generator", "lab/msrgan-x4")   # doctest: +SKIP
    """
    from zoo import hub

    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"No pretrained folder at {directory}")
    repo_id = hub.parse_repo_id(repo_id)
    model = load_folder(directory)
    config = model.pretrained_config
    message = commit_message or f"Upload {config.get('zoo_name') or config['class_name']}"
    with tempfile.TemporaryDirectory(prefix="zoo-push-") as tmp:
        for name in (CONFIG_NAME, WEIGHTS_NAME):
            shutil.copyfile(directory / name, Path(tmp) / name)
        if (directory / CARD_NAME).is_file():
            shutil.copyfile(directory / CARD_NAME, Path(tmp) / CARD_NAME)
        else:
            text = model.model_card(config) if hasattr(model, "model_card") else generic_card(config)
            (Path(tmp) / CARD_NAME).write_text(text, encoding="utf-8")
        return hub.upload(tmp, repo_id, private=private, token=token, commit_message=message, branch=branch,
                          create_pr=create_pr, allow_patterns=allow_patterns, ignore_patterns=ignore_patterns,
                          delete_patterns=delete_patterns)


def pull_folder(source: str, directory: str | os.PathLike, *, revision: str | None = None,
                overwrite: bool = False, token: str | None = None, cache_dir: str | os.PathLike | None = None,
                force_download: bool = False, local_files_only: bool = False):
    """Downloads a Hub model into a local pretrained folder, after checking that it loads.

    Args:
        source: ``owner/name`` or ``hf://owner/name``.
        directory: Target folder; created if missing.
        revision: Branch, tag or commit sha (default branch when None).
        overwrite: Replace files of a pretrained model already in ``directory``.
        token: Hub token for private repositories; ``HF_TOKEN`` when None.
        cache_dir, force_download, local_files_only: As for :func:`from_pretrained`.

    Returns:
        The ``zoo.hub.Snapshot`` that was copied (its ``commit`` is the resolved sha).

    Raises:
        FileExistsError: ``directory`` already holds a pretrained model and ``overwrite`` is False.
        FileNotFoundError / ValueError: As for :func:`from_pretrained`.

    Example:
        >>> zoo.pull_folder("lab/msrgan-x4", "models/x4").commit   # doctest: +SKIP
    """
    from zoo import hub

    out = Path(directory)
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out} exists and is not a folder")
    _refuse_overwrite(out, overwrite)
    snap = hub.snapshot(source, revision=revision, allow_patterns=list(FILES), token=token, cache_dir=cache_dir,
                        force_download=force_download, local_files_only=local_files_only)
    _check_snapshot(snap)
    load_folder(snap.folder)  # refuse to hand over a model that does not load
    out.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        src = snap.folder / name
        if src.is_file():
            atomic_write_bytes(out / name, src.read_bytes())
    return snap
