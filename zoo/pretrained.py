"""One folder format for a model, the same on a local disk and in a Hub repository.

A pretrained folder holds three files:

- ``config.json``::

      {"format": "zoo-pretrained/1",
       "zoo_name": "...",              # registry entry the model came from (or null)
       "class_name": "Generator",      # must be a class that a zoo entry builds
       "keras_class": "pkg>Generator", # Keras registered name (informative)
       "config": {...},                # cls.from_config(config) rebuilds the architecture
       "versions": {"keras", "backend", "<family package>", "safetensors"},
       "weights": {"file", "sha256", "dtype", "tensors", "parameters"},
       "metadata": {...}}              # what the family adds (input convention, scale, channels)
                                       # and the caller's metadata (training summary, "metrics")

- ``model.safetensors``: every variable (trainable or not) as float32, keyed by its place in the
  layer tree (``block_00/conv1/kernel``: the names of the nested layers, then the variable's
  name). Keys do not depend on the backend, on the name scope the model was first called in, or
  on how many models the process built before.
- ``README.md``: a model card with YAML front matter (the model's ``model_card(config)`` hook,
  or a generic one).

Loading executes no code from the folder: the class named in ``config.json`` must be one that the
zoo registry builds, the config goes to that class's ``from_config``, the weights are plain
tensors read by ``safetensors`` (checked against the sha256 in ``config.json``, then key by key
and shape by shape against the model built from the config).

This module holds the entry points (``save_pretrained``, ``from_pretrained``, ``push_to_hub``,
``PretrainedMixin``); the folder's parts live beside it: ``zoo.weights`` (variable keys, the
safetensors file), ``zoo.config`` (``config.json``), ``zoo.folder`` (the files, ``load_folder``)
and ``zoo.transfer`` (``push_folder`` / ``pull_folder``). Their public names are importable from
here too.

Example:
    >>> import zoo
    >>> g = zoo.create("msrgan-x4-small")
    >>> g.save_pretrained("out/g", metadata={"metrics": {"psnr": 30.1}})   # doctest: +SKIP
    >>> zoo.from_pretrained("out/g")                                         # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Mapping

from zoo import card as cards
from zoo.config import FORMAT, build_config, read_config  # noqa: F401  (re-exported)
from zoo.files import CARD_NAME, CONFIG_NAME, WEIGHTS_NAME  # noqa: F401  (the folder's file names)
from zoo.files import atomic_write_bytes, plain_file_permissions  # noqa: F401  (re-exported)
from zoo.folder import FILES, _refuse_overwrite, generic_card, load_folder
from zoo.registry import ensure_built
from zoo.transfer import _check_snapshot, pull_folder, push_folder  # noqa: F401  (re-exported)
from zoo.weights import load_state, model_state, read_weights, variable_keys  # noqa: F401  (re-exported)


def save_pretrained(model, directory: str | os.PathLike, *, metadata: Mapping[str, Any] | None = None,
                    card: str | None = None, overwrite: bool = False, push_to_hub: bool = False,
                    repo_id: str | None = None, **push_kwargs):
    """Writes ``model`` to ``directory`` in the pretrained format (and optionally pushes it).

    Each file is written to a temporary name first and renamed, so an interrupted save never
    leaves a file that looks whole (and a weights file that does not match ``config.json`` is
    caught by its sha256 when loading). Files of other names in the folder are left alone.

    Args:
        model: A Keras model whose class is registered in the zoo.
        directory: Target folder; created if missing.
        metadata: Extra JSON-serialisable facts for ``config.json`` (merged over the model's own
            ``pretrained_metadata()``): e.g. ``{"training": {...}, "metrics": {"psnr": 31.2}}``.
        card: Model card text; by default the model's ``model_card(config)`` or a generic card.
        overwrite: Replace an existing ``config.json``/``model.safetensors``/``README.md``.
        push_to_hub: Then upload the folder, as :func:`push_folder` does.
        repo_id: The repository to push to (default: the folder's name, as in ``huggingface_hub``).
        **push_kwargs: For :func:`push_folder` (``commit_message``, ``private``, ``token``,
            ``branch``, ``create_pr``, ``allow_patterns``, ``ignore_patterns``, ``delete_patterns``).

    Returns:
        The folder, as a ``Path``; with ``push_to_hub``, the commit URL (``CommitInfo``) instead.

    Raises:
        FileExistsError: The folder already holds a pretrained model and ``overwrite`` is False.
        ValueError: The class is not registered in the zoo, or the metadata cannot be written.

    Example:
        >>> folder = zoo.create("msrgan-x4-small").save_pretrained("out/g")   # doctest: +SKIP
    """
    from safetensors.numpy import save as st_save

    out = Path(directory)
    if push_kwargs and not push_to_hub:
        raise TypeError(f"save_pretrained got {', '.join(sorted(push_kwargs))} without push_to_hub=True")
    if push_to_hub:
        _check_push_kwargs(push_kwargs, "save_pretrained")
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out} exists and is not a folder")
    _refuse_overwrite(out, overwrite)
    ensure_built(model)
    config = build_config(model, metadata=metadata)
    state = model_state(model)
    blob = st_save(state, metadata={"format": "np"})
    config["weights"] = {
        "file": WEIGHTS_NAME,
        "sha256": hashlib.sha256(blob).hexdigest(),
        "dtype": "float32",
        "tensors": len(state),
        "parameters": int(sum(v.size for v in state.values())),
    }
    text = json.dumps(config, indent=2, sort_keys=True) + "\n"
    config = json.loads(text)  # the card is written from config.json as read back: the same card every time
    if card is None:
        card = model.model_card(config) if hasattr(model, "model_card") else generic_card(config)
    cards.parse(card)  # a card whose front matter does not parse is refused before anything is written
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out / WEIGHTS_NAME, blob)
    atomic_write_bytes(out / CONFIG_NAME, text.encode())
    atomic_write_bytes(out / CARD_NAME, card.encode("utf-8"))
    if push_to_hub:
        return push_folder(out, repo_id or out.resolve().name, **push_kwargs)
    return out


_PUSH_KWARGS = ("commit_message", "private", "token", "branch", "create_pr", "allow_patterns", "ignore_patterns",
                "delete_patterns")


def _check_push_kwargs(kwargs: Mapping[str, Any], where: str) -> None:
    unknown = sorted(set(kwargs) - set(_PUSH_KWARGS))
    if unknown:
        raise TypeError(f"{where} got unexpected keyword argument(s) {', '.join(unknown)}; "
                        f"push_to_hub takes {', '.join(_PUSH_KWARGS)}")


def from_pretrained(source: str | os.PathLike, revision: str | None = None, *,
                    cache_dir: str | os.PathLike | None = None, force_download: bool = False,
                    token: str | None = None, local_files_only: bool = False,
                    expected_class: type | None = None, **overrides):
    """Loads a model from a local folder, a preset name, ``hf://owner/name`` or ``owner/name``.

    The arguments are ``huggingface_hub.ModelHubMixin.from_pretrained``'s. An existing local folder
    wins over a preset or Hub id of the same spelling; presets (``zoo.list_presets()``) are bundled
    with their package and load with no network, after a sha256 check of their weights. Hub
    snapshots are cached (``HF_HUB_CACHE``); with ``HF_HUB_OFFLINE=1`` a cached snapshot is used
    without the network. ``cache_dir``, ``force_download`` and ``local_files_only`` concern Hub
    sources only (a local folder or preset is read as it is).

    Args:
        source: A local pretrained folder, a preset name, or a Hub repository id (with or without ``hf://``).
        revision: Branch, tag or commit sha for Hub sources (default branch when None).
        cache_dir: The Hub cache folder (default ``HF_HUB_CACHE``).
        force_download: Download again even if cached; an interrupted download leaves the cached
            copy usable.
        token: Hub token for private repositories; ``HF_TOKEN`` when None.
        local_files_only: Use the Hub cache only, never the network.
        expected_class: When given, the folder must hold an instance of this class.
        **overrides: Values replacing entries of the saved config (as ``model_kwargs`` in
            ``huggingface_hub``), e.g. ``name="g2"``.

    Returns:
        The model, built from ``config.json`` with its weights loaded. Models from the Hub also
        carry ``pretrained_source = {"repo_id", "revision", "commit"}``, presets ``{"preset"}``.

    Raises:
        FileNotFoundError: No such folder. A missing repository or revision is
            ``huggingface_hub``'s ``RepositoryNotFoundError`` / ``RevisionNotFoundError``, and a
            snapshot that is not cached (offline or ``local_files_only``) its
            ``LocalEntryNotFoundError``; each is also a ``FileNotFoundError``.
        ValueError: Unregistered class, corrupted weights, or weights that do not fit the config.
        TypeError: An override that is not a key of the saved config.

    Example:
        >>> g = zoo.from_pretrained("hf://lab/msrgan-x4", revision="v1.0")   # doctest: +SKIP
    """
    text = os.fspath(source)
    if not text.startswith("hf://"):
        local = Path(text).expanduser()
        if local.exists():
            if revision is not None:
                raise ValueError(f"revision={revision!r} applies to Hub repositories, not the local folder {local}")
            if not local.is_dir():
                raise ValueError(f"{local} is a file; from_pretrained needs a pretrained folder or a Hub id")
            return load_folder(local, expected_class=expected_class, overrides=overrides)
        from zoo import presets

        if presets.is_preset(text):
            if revision is not None:
                raise ValueError(f"revision={revision!r} applies to Hub repositories, not the bundled preset {text!r}")
            model = load_folder(presets.preset_folder(text), expected_class=expected_class, overrides=overrides)
            model.pretrained_source = {"preset": text}
            return model
        looks_local = (isinstance(source, os.PathLike) or text.startswith((".", "/", "~")) or "\\" in text
                       or text.count("/") != 1 or text.endswith("/"))
        if looks_local:
            raise FileNotFoundError(f"No pretrained folder at {text} (and it is not a Hub id of the form owner/name)")
    from zoo import hub

    snap = hub.snapshot(text, revision=revision, allow_patterns=list(FILES), token=token, cache_dir=cache_dir,
                        force_download=force_download, local_files_only=local_files_only)
    _check_snapshot(snap)
    model = load_folder(snap.folder, expected_class=expected_class, overrides=overrides)
    model.pretrained_source = {"repo_id": snap.repo_id, "revision": revision, "commit": snap.commit}
    return model


def push_to_hub(model, repo_id: str, *, commit_message: str | None = None, private: bool | None = None,
                token: str | None = None, branch: str | None = None, create_pr: bool | None = None,
                allow_patterns: str | list[str] | None = None, ignore_patterns: str | list[str] | None = None,
                delete_patterns: str | list[str] | None = None, metadata: Mapping[str, Any] | None = None):
    """Saves ``model`` in the pretrained format and uploads it as one commit.

    The keyword arguments are ``huggingface_hub.ModelHubMixin.push_to_hub``'s, plus ``metadata``.
    A model loaded with :func:`from_pretrained` keeps the metadata it was loaded with (training
    summary, evaluation, metrics; see :func:`build_config`), so its card keeps its sections.

    Args:
        model: A model whose class is registered in the zoo.
        repo_id: ``owner/name`` (or ``hf://owner/name``); created if needed.
        commit_message: Commit title; ``"Upload <zoo name or class>"`` by default.
        private: Visibility of a repository created here; ``None``: the Hub's default.
        token: Hub token with write access; ``HF_TOKEN`` when None. Never printed or logged.
        branch: Branch to commit to (default ``main``); it must exist (else
            ``RevisionNotFoundError``).
        create_pr: Open a pull request with the commit instead of updating the branch.
        allow_patterns, ignore_patterns: Upload only the files (of the three) matching / not matching.
        delete_patterns: Remote files to delete in the same commit.
        metadata: As for :func:`save_pretrained` (training summary, metrics).

    Returns:
        The URL of the new commit, as ``huggingface_hub``'s ``CommitInfo`` (a ``str``; its last
        path part and ``.oid`` are the commit sha; ``.pr_url`` with ``create_pr``).

    Example:
        >>> url = g.push_to_hub("lab/msrgan-x4", metadata={"metrics": {"psnr": 31.2}})   # doctest: +SKIP
    """
    from zoo import hub

    repo_id = hub.parse_repo_id(repo_id)
    message = commit_message or f"Upload {getattr(model, 'zoo_name', None) or type(model).__name__}"
    with tempfile.TemporaryDirectory(prefix="zoo-push-") as tmp:
        save_pretrained(model, tmp, metadata=metadata)
        return hub.upload(tmp, repo_id, private=private, token=token, commit_message=message, branch=branch,
                          create_pr=create_pr, allow_patterns=allow_patterns, ignore_patterns=ignore_patterns,
                          delete_patterns=delete_patterns)


class PretrainedMixin:
    """Adds ``save_pretrained`` / ``from_pretrained`` / ``push_to_hub`` to a Keras model class.

    The three methods take the arguments of ``huggingface_hub.ModelHubMixin``'s (as
    ``PyTorchModelHubMixin`` models do), plus ``metadata`` (and ``card``, ``overwrite``) for saving.

    Example:
        >>> g.save_pretrained("out/g"); Generator.from_pretrained("out/g")   # doctest: +SKIP
        >>> g.save_pretrained("out/g", push_to_hub=True, repo_id="lab/g")   # doctest: +SKIP
    """

    def save_pretrained(self, save_directory, *, metadata=None, card=None, overwrite=False, push_to_hub=False,
                        repo_id=None, **push_to_hub_kwargs):
        """See :func:`zoo.save_pretrained`."""
        return save_pretrained(self, save_directory, metadata=metadata, card=card, overwrite=overwrite,
                               push_to_hub=push_to_hub, repo_id=repo_id, **push_to_hub_kwargs)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *, force_download=False, token=None, cache_dir=None,
                        local_files_only=False, revision=None, **model_kwargs):
        """See :func:`zoo.from_pretrained`; the folder must hold an instance of this class."""
        return from_pretrained(pretrained_model_name_or_path, revision=revision, cache_dir=cache_dir,
                               force_download=force_download, token=token, local_files_only=local_files_only,
                               expected_class=cls, **model_kwargs)

    def push_to_hub(self, repo_id, *, commit_message=None, private=None, token=None, branch=None, create_pr=None,
                    allow_patterns=None, ignore_patterns=None, delete_patterns=None, metadata=None):
        """See :func:`zoo.push_to_hub`; returns the commit URL (a ``CommitInfo``)."""
        return push_to_hub(self, repo_id, commit_message=commit_message, private=private, token=token,
                           branch=branch, create_pr=create_pr, allow_patterns=allow_patterns,
                           ignore_patterns=ignore_patterns, delete_patterns=delete_patterns, metadata=metadata)
