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

Example:
    >>> import zoo
    >>> g = zoo.create("msrgan-x4-small")
    >>> g.save_pretrained("out/g", metadata={"metrics": {"psnr": 30.1}})   # doctest: +SKIP
    >>> zoo.from_pretrained("out/g")                                         # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import math
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from zoo import card as cards
from zoo import registry
from zoo.files import CARD_NAME, CONFIG_NAME, WEIGHTS_NAME  # noqa: F401  (the folder's file names)
from zoo.files import atomic_write_bytes, plain_file_permissions  # noqa: F401  (re-exported)
from zoo.registry import ensure_built

FILES = (CONFIG_NAME, WEIGHTS_NAME, CARD_NAME)
FORMAT = "zoo-pretrained/1"


# ------------------------------------------------------------------------------------------ weights

def _sublayers(layer) -> list:
    flatten = getattr(layer, "_flatten_layers", None)
    return list(flatten(include_self=False, recursive=False)) if flatten is not None else []


def variable_keys(model) -> dict[int, str]:
    """Maps ``id(variable)`` to its stable key for every variable in ``model.weights``.

    The key is the path of layer names from ``model`` down to the variable, then the variable's
    own name (``"block_00/conv1/kernel"``). A layer reached twice (shared) keeps its first key.

    Raises:
        ValueError: Two sibling layers share a name, or two variables end up with one key.
    """
    keys: dict[int, str] = {}
    seen_layers: set[int] = set()

    def walk(layer, prefix: str) -> None:
        if id(layer) in seen_layers:
            return
        seen_layers.add(id(layer))
        subs = _sublayers(layer)
        nested = {id(v) for sub in subs for v in sub.weights}
        for var in layer.weights:
            if id(var) not in nested and id(var) not in keys:
                keys[id(var)] = prefix + var.name
        names: dict[str, Any] = {}
        for sub in subs:
            if sub.name in names and names[sub.name] is not sub:
                raise ValueError(f"{prefix or type(model).__name__ + '/'}: two sublayers are named {sub.name!r}; "
                                 f"give the layers unique names so their weights get unique keys")
            names[sub.name] = sub
            walk(sub, prefix + sub.name + "/")

    walk(model, "")
    by_key: dict[str, int] = {}
    for ident, key in keys.items():
        if key in by_key:
            raise ValueError(f"Two variables of {type(model).__name__} share the key {key!r}; "
                             f"give the layers unique names")
        by_key[key] = ident
    missing = [v.path for v in model.weights if id(v) not in keys]
    if missing:
        raise ValueError(f"Variables of {type(model).__name__} outside its layer tree: {missing[:3]}")
    return keys


def _is_float(dtype) -> bool:
    return np.issubdtype(np.dtype(str(dtype)), np.floating) if str(dtype) != "bfloat16" else True


def model_state(model) -> dict[str, np.ndarray]:
    """All variables of ``model`` as NumPy arrays (float32 for floating variables) keyed stably.

    Example:
        >>> sorted(model_state(g))[:2]        # doctest: +SKIP
        ['block_00/bn1/beta', 'block_00/bn1/gamma']
    """
    import keras

    keys = variable_keys(model)
    state: dict[str, np.ndarray] = {}
    for var in model.weights:
        value = keras.ops.convert_to_numpy(var.value)
        dtype = np.float32 if _is_float(var.dtype) else value.dtype
        state[keys[id(var)]] = np.ascontiguousarray(value, dtype=dtype)
    return state


def load_state(model, state: Mapping[str, np.ndarray], *, source: str = "weights") -> None:
    """Assigns ``state`` to ``model``'s variables; keys and shapes must match exactly.

    Nothing is assigned unless every variable matches.

    Args:
        model: A built Keras model.
        state: Key -> array, as written by :func:`model_state`.
        source: Name of the file the state came from, for error messages.

    Raises:
        ValueError: Missing or unexpected keys; a shape mismatch (the message names the variable,
            the shape in the file and the shape in the model); a non-float array for a float
            variable; NaN or infinite values.
    """
    keys = variable_keys(model)
    expected = {keys[id(v)]: v for v in model.weights}
    common = [k for k in expected if k in state]
    bad_shapes = [k for k in common if tuple(state[k].shape) != tuple(expected[k].shape)]
    if bad_shapes:
        k = bad_shapes[0]
        more = f" ({len(bad_shapes) - 1} more variable(s) differ too)" if len(bad_shapes) > 1 else ""
        raise ValueError(
            f"{source}: variable {k!r} has shape {tuple(state[k].shape)} in the file but shape "
            f"{tuple(expected[k].shape)} in the {type(model).__name__} built from the config{more}; "
            f"the weights do not belong to this configuration"
        )
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)} variable(s), e.g. {missing[:3]}")
        if unexpected:
            parts.append(f"unexpected {len(unexpected)} variable(s), e.g. {unexpected[:3]}")
        raise ValueError(f"{source} does not match the model {type(model).__name__}: " + "; ".join(parts))
    for key, var in expected.items():
        value = state[key]
        if _is_float(var.dtype) and not np.issubdtype(value.dtype, np.floating):
            raise ValueError(f"{source}: variable {key!r} is stored as {value.dtype}, expected a float type")
        if np.issubdtype(value.dtype, np.floating) and not np.all(np.isfinite(value)):
            raise ValueError(f"{source}: variable {key!r} holds NaN or infinite values")
    import keras

    for key, var in expected.items():
        var.assign(keras.ops.cast(state[key], var.dtype))


def read_weights(path: str | os.PathLike, *, sha256: str | None = None) -> dict[str, np.ndarray]:
    """Reads a ``model.safetensors`` file.

    Args:
        path: The file.
        sha256: Expected hex digest of the file (from ``config.json``); checked when given.

    Returns:
        Key -> NumPy array.

    Raises:
        FileNotFoundError: The file does not exist.
        ValueError: The file is truncated or corrupted (the message names it).
    """
    from safetensors import SafetensorError
    from safetensors.numpy import load

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Missing weights file {path}")
    data = path.read_bytes()
    if sha256 is not None and hashlib.sha256(data).hexdigest() != sha256:
        raise ValueError(
            f"{path} is corrupted or truncated: its sha256 differs from the one recorded in {CONFIG_NAME} "
            f"({len(data)} bytes on disk)"
        )
    try:
        return load(data)
    except (SafetensorError, OSError, ValueError, TypeError) as exc:
        raise ValueError(f"{path} is truncated or corrupted and cannot be read as safetensors: {exc}") from None


# ----------------------------------------------------------------------------------------- config

def _versions(cls: type) -> dict[str, str]:
    import keras

    out = {"keras": keras.__version__, "backend": keras.backend.backend()}
    package = cls.__module__.split(".")[0]
    version = getattr(sys.modules.get(package), "__version__", None)
    if version is None:
        try:
            version = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            version = None
    if version is not None:
        out[package] = str(version)
    try:
        out["safetensors"] = importlib.metadata.version("safetensors")
    except importlib.metadata.PackageNotFoundError:
        pass
    return out


def _jsonable(value: Any, where: str) -> Any:
    """``value`` with NumPy scalars/arrays and tuples turned into JSON types; a ValueError otherwise."""
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise ValueError(f"{where}: keys must be strings, got {k!r}")
            out[k] = _jsonable(v, f"{where}.{k}")
        return out
    if isinstance(value, (list, tuple)):
        return [_jsonable(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist(), where)
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{where} is {value}, which JSON cannot hold")
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise ValueError(f"{where} is a {type(value).__name__}, which cannot be written to {CONFIG_NAME}")


def build_config(model, *, metadata: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The ``config.json`` content for ``model`` (without the ``weights`` entry).

    The metadata is, key by key: what the model was loaded with (``pretrained_config["metadata"]``
    of a model from :func:`from_pretrained`: its training summary, evaluation and metrics are kept
    through load then save or push), then the model's own ``pretrained_metadata()`` (facts of the
    architecture), then ``metadata``. Its ``"metrics"`` entry, when present, must map metric names
    to finite numbers.
    """
    import keras

    cls = type(model)
    registered = registry.registered_classes().get(cls.__name__)
    if registered is not cls:
        raise ValueError(f"{cls.__module__}.{cls.__name__} is not built by any zoo entry; register it before saving")
    meta: dict[str, Any] = {}
    loaded = getattr(model, "pretrained_config", None)
    if isinstance(loaded, Mapping) and isinstance(loaded.get("metadata"), Mapping):
        meta.update(loaded["metadata"])  # provenance of a loaded model
    if hasattr(model, "pretrained_metadata"):
        meta.update(model.pretrained_metadata())
    meta.update(metadata or {})
    if "metrics" in meta:
        if not isinstance(meta["metrics"], Mapping):
            raise ValueError(f"metadata['metrics'] must map metric names to numbers, got {meta['metrics']!r}")
        meta["metrics"] = {str(k): cards.check_metric(str(k), v) for k, v in meta["metrics"].items()}
    meta = _jsonable(meta, "metadata")
    model_config = model.get_pretrained_config() if hasattr(model, "get_pretrained_config") else model.get_config()
    return {
        "format": FORMAT,
        "zoo_name": getattr(model, "zoo_name", None),
        "class_name": cls.__name__,
        "keras_class": keras.saving.get_registered_name(cls),
        "config": _jsonable(model_config, "config"),
        "versions": _versions(cls),
        "metadata": meta,
    }


def read_config(directory: str | os.PathLike) -> dict[str, Any]:
    """Reads and validates ``config.json`` of a pretrained folder.

    Raises:
        FileNotFoundError: No ``config.json`` in ``directory``.
        ValueError: Invalid JSON, an unknown format, or a missing ``class_name``/``config``.
    """
    path = Path(directory) / CONFIG_NAME
    if not path.is_file():
        raise FileNotFoundError(f"No {CONFIG_NAME} in {directory}: not a pretrained model folder")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(config, dict):
        raise ValueError(f"{path} must hold a JSON object")
    fmt = config.get("format", FORMAT)
    if fmt != FORMAT:
        raise ValueError(f"{path} has format {fmt!r}; this version of zoo reads {FORMAT!r}")
    for key in ("class_name", "config"):
        if key not in config:
            raise ValueError(f"{path} lacks the key {key!r}")
    if not isinstance(config["class_name"], str) or not isinstance(config["config"], dict):
        raise ValueError(f"{path}: 'class_name' must be a string and 'config' an object")
    return config


# -------------------------------------------------------------------------------------- save / load

def _refuse_overwrite(out: Path, overwrite: bool) -> None:
    if overwrite:
        return
    present = [name for name in FILES if (out / name).exists()]
    if present:
        raise FileExistsError(f"{out} already holds {', '.join(present)}; pass overwrite=True (--overwrite) to replace")


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


def generic_card(config: Mapping[str, Any]) -> str:
    """A minimal model card for models that write none of their own."""
    name = config.get("zoo_name") or config["class_name"]
    library = str(config.get("keras_class", "")).split(">")[0] or "keras"
    front: dict[str, Any] = {"library_name": library, "tags": ["keras", "zoo"]}
    metrics = (config.get("metadata") or {}).get("metrics")
    if metrics:
        front["metrics"] = sorted(metrics)
    body = (f"# {name}\n\nA `{config['class_name']}` saved by the zoo. Load it with\n"
            f"`zoo.from_pretrained(\"owner/name\")` on any Keras backend.\n")
    return cards.render(front, body)


def _check_plain_config(value, where: Path, key: str = "config") -> None:
    """Refuses a model config that is not plain data: objects naming a module or class (Keras's
    serialized-object form, which deserializes by import) anywhere, or a ``dtype`` that is not a string."""
    if isinstance(value, dict):
        named = sorted({"module", "class_name", "registered_name"} & set(value))
        if named:
            raise ValueError(f"{where}: {key} is an object naming {', '.join(f'{k}={value[k]!r}' for k in named)}; "
                             "a model config holds plain values only (no module or class references), refusing it")
        for k, v in value.items():
            if k == "dtype" and v is not None and not isinstance(v, str):
                raise ValueError(f"{where}: {key}.dtype must be a plain dtype string such as 'float32', got {v!r}")
            _check_plain_config(v, where, f"{key}.{k}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _check_plain_config(v, where, f"{key}[{i}]")


def load_folder(directory: str | os.PathLike, *, expected_class: type | None = None,
                overrides: Mapping[str, Any] | None = None):
    """Builds the model described by a local pretrained folder and loads its weights.

    Args:
        directory: A folder with ``config.json`` and ``model.safetensors``.
        expected_class: When given, the folder must hold an instance of this class.
        overrides: Values that replace entries of the saved ``config`` (e.g. ``name``); each must
            be a key of it, and the weights must still fit.

    Returns:
        The model, with ``zoo_name`` and ``pretrained_config`` (the parsed ``config.json``) set.

    Raises:
        FileNotFoundError: A file is missing.
        ValueError: The class is not registered in the zoo, the config does not build it, or the
            weights are corrupted or do not match the config.
    """
    directory = Path(directory)
    config = read_config(directory)
    classes = registry.registered_classes()
    name = config["class_name"]
    cls = classes.get(name)
    if cls is None:
        raise ValueError(
            f"{directory / CONFIG_NAME} names class {name!r}, which no zoo entry builds "
            f"(known: {', '.join(sorted(classes))}); refusing to load it"
        )
    if expected_class is not None and not issubclass(cls, expected_class):
        raise ValueError(f"{directory} holds a {name}, not a {expected_class.__name__}")
    weights_path = directory / WEIGHTS_NAME
    if not weights_path.is_file():
        raise FileNotFoundError(f"{directory} has {CONFIG_NAME} but no {WEIGHTS_NAME}")
    sha = (config.get("weights") or {}).get("sha256")
    state = read_weights(weights_path, sha256=sha if isinstance(sha, str) else None)
    _check_plain_config(config["config"], directory / CONFIG_NAME)
    model_config = dict(config["config"])
    if overrides:
        unknown = sorted(set(overrides) - set(model_config))
        if unknown:
            raise TypeError(f"from_pretrained got unexpected keyword argument(s) {', '.join(unknown)}; the config "
                            f"of this {name} takes {', '.join(sorted(model_config))}")
        model_config.update(overrides)
        config = {**config, "config": _jsonable(model_config, "config")}
    try:
        model = cls.from_config(model_config)
        ensure_built(model)
    except Exception as exc:  # any failure to build from an untrusted config is the config's fault
        raise ValueError(f"{directory / CONFIG_NAME}: the config does not build a {name}: "
                         f"{type(exc).__name__}: {exc}") from None
    load_state(model, state, source=str(weights_path))
    model.zoo_name = config.get("zoo_name")
    model.pretrained_config = config
    return model


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


def _check_snapshot(snap) -> None:
    found = sorted(p.name for p in snap.folder.iterdir()) if snap.folder.is_dir() else []
    for name in (CONFIG_NAME, WEIGHTS_NAME):
        if name not in found:
            raise FileNotFoundError(
                f"Hub repository {snap.repo_id!r} (commit {snap.commit}) has no {name}, so it is not a "
                f"pretrained model folder (it holds: {', '.join(found) or 'none of the expected files'})"
            )


# ------------------------------------------------------------------------------------------- Hub

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
