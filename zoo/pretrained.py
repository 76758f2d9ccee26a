"""One folder format for a model, the same on a local disk and in a Hub repository.

A pretrained folder holds three files:

- ``config.json``: ``{"format": "zoo-pretrained/1", "zoo_name", "class_name", "config",
  "versions", "metadata"}``. ``config`` rebuilds the model through ``cls.from_config``;
  ``metadata`` is whatever the model family adds (input convention, training summary, metrics).
- ``model.safetensors``: every variable (trainable or not) as float32, keyed by its Keras
  variable path without the model's own name (``block_00/conv1/kernel``), so the keys do not
  depend on the backend or on how many models the process built before.
- ``README.md``: a model card with YAML front matter.

Loading executes no code from the folder: the class named in ``config.json`` must be one the
zoo registry builds, the config is passed to that class's ``from_config``, and the weights are
plain tensors read by ``safetensors``.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from zoo import registry

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
CARD_NAME = "README.md"
FORMAT = "zoo-pretrained/1"


def weight_key(path: str) -> str:
    """The backend-independent key of a Keras variable path: the path without its root name."""
    return path.split("/", 1)[1] if "/" in path else path


def model_state(model) -> dict[str, np.ndarray]:
    """All variables of ``model`` as float32 NumPy arrays keyed by ``weight_key``."""
    import keras

    state: dict[str, np.ndarray] = {}
    for var in model.weights:
        key = weight_key(var.path)
        if key in state:
            raise ValueError(f"Two variables of {model.name!r} share the key {key!r}; give the layers unique names")
        state[key] = np.ascontiguousarray(keras.ops.convert_to_numpy(var.value), dtype=np.float32)
    return state


def load_state(model, state: dict[str, np.ndarray], *, source: str = "weights") -> None:
    """Assigns ``state`` to ``model``'s variables; every key and shape must match exactly."""
    expected = {weight_key(v.path): v for v in model.weights}
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)} variable(s), e.g. {missing[:3]}")
        if unexpected:
            parts.append(f"unexpected {len(unexpected)} variable(s), e.g. {unexpected[:3]}")
        raise ValueError(f"{source} do not match the model {type(model).__name__}: " + "; ".join(parts))
    for key, var in expected.items():
        value = state[key]
        if tuple(value.shape) != tuple(var.shape):
            raise ValueError(
                f"{source}: variable {key!r} has shape {tuple(value.shape)} in the file "
                f"but {tuple(var.shape)} in the model built from the config"
            )
        if not np.all(np.isfinite(value)):
            raise ValueError(f"{source}: variable {key!r} holds NaN or infinite values")
    for key, var in expected.items():
        var.assign(state[key].astype(var.dtype if isinstance(var.dtype, str) else "float32"))


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    import keras

    out = {"keras": keras.__version__, "backend": keras.backend.backend()}
    for dist in ("msrgan", "safetensors"):
        try:
            out[dist] = md.version(dist)
        except md.PackageNotFoundError:
            pass
    return out


def _ensure_built(model) -> None:
    if not model.built:
        import keras

        shape = model.example_input_shape() if hasattr(model, "example_input_shape") else None
        if shape is None:
            raise ValueError(f"{type(model).__name__} is not built and has no example_input_shape()")
        model(keras.ops.zeros(shape), training=False)


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def save_pretrained(model, directory: str | os.PathLike, *, metadata: dict[str, Any] | None = None,
                    card: str | None = None) -> Path:
    """Writes ``model`` to ``directory`` in the pretrained format and returns the folder.

    Each file is written to a temporary name first and renamed, so an interrupted save never
    leaves a file that looks whole. Files of other names in the folder are left alone.

    Args:
        model: A Keras model whose class is registered in the zoo.
        directory: Target folder; created if missing.
        metadata: Extra JSON-serialisable facts for ``config.json`` (merged over the model's own
            ``pretrained_metadata()`` when it has one).
        card: Model card text; by default the model's ``model_card(metadata)`` or a generic card.
    """
    from safetensors.numpy import save as st_save

    _ensure_built(model)
    cls = type(model)
    if cls.__name__ not in registry.registered_classes():
        raise ValueError(f"{cls.__name__} is not built by any zoo entry; register it before saving")
    meta: dict[str, Any] = {}
    if hasattr(model, "pretrained_metadata"):
        meta.update(model.pretrained_metadata())
    meta.update(metadata or {})
    config = {
        "format": FORMAT,
        "zoo_name": getattr(model, "zoo_name", None),
        "class_name": cls.__name__,
        "config": model.get_config(),
        "versions": _versions(),
        "metadata": meta,
    }
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    state = model_state(model)
    _atomic_write_bytes(out / WEIGHTS_NAME, st_save(state, metadata={"format": "np", "zoo_class": cls.__name__}))
    _atomic_write_bytes(out / CONFIG_NAME, (json.dumps(config, indent=2, sort_keys=True) + "\n").encode())
    if card is None:
        card = model.model_card(config) if hasattr(model, "model_card") else generic_card(config)
    _atomic_write_bytes(out / CARD_NAME, card.encode())
    return out


def generic_card(config: dict[str, Any]) -> str:
    """A minimal model card for models that write none of their own."""
    name = config.get("zoo_name") or config["class_name"]
    return (
        "---\nlibrary_name: keras\ntags:\n- keras\n---\n\n"
        f"# {name}\n\nA `{config['class_name']}` saved by the zoo. Load it with "
        f"`zoo.from_pretrained(...)`.\n"
    )


def read_config(directory: str | os.PathLike) -> dict[str, Any]:
    """Reads and validates ``config.json`` of a pretrained folder."""
    path = Path(directory) / CONFIG_NAME
    if not path.is_file():
        raise FileNotFoundError(f"No {CONFIG_NAME} in {directory}: not a pretrained model folder")
    try:
        config = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path} is not valid JSON: {exc}") from None
    for key in ("class_name", "config"):
        if key not in config:
            raise ValueError(f"{path} lacks the key {key!r}")
    return config


def read_weights(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Reads ``model.safetensors``; a truncated or corrupted file raises a ValueError naming it."""
    from safetensors import SafetensorError
    from safetensors.numpy import load_file

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Missing weights file {path}")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ValueError(f"{path} is truncated or corrupted and cannot be read as safetensors: {exc}") from None


def load_folder(directory: str | os.PathLike, *, expected_class: type | None = None):
    """Builds the model described by a local pretrained folder and loads its weights."""
    config = read_config(directory)
    classes = registry.registered_classes()
    name = config["class_name"]
    cls = classes.get(name)
    if cls is None:
        raise ValueError(
            f"{Path(directory) / CONFIG_NAME} names class {name!r}, which no zoo entry builds "
            f"(known: {', '.join(sorted(classes))}); refusing to load it"
        )
    if expected_class is not None and not issubclass(cls, expected_class):
        raise ValueError(f"{directory} holds a {name}, not a {expected_class.__name__}")
    try:
        model = cls.from_config(config["config"])
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{Path(directory) / CONFIG_NAME}: the config does not build a {name}: {exc}") from None
    _ensure_built(model)
    load_state(model, read_weights(Path(directory) / WEIGHTS_NAME), source=str(Path(directory) / WEIGHTS_NAME))
    model.zoo_name = config.get("zoo_name")
    model.pretrained_config = config
    return model


def from_pretrained(source: str | os.PathLike, revision: str | None = None, *, expected_class: type | None = None):
    """Loads a model from a local folder, ``hf://owner/name`` or ``owner/name``.

    Args:
        source: A local pretrained folder, or a Hub repository id (with or without ``hf://``).
        revision: Branch, tag or commit sha for Hub sources.
        expected_class: When given, the folder must hold an instance of this class.
    """
    local = Path(source).expanduser() if not str(source).startswith("hf://") else None
    if local is not None and local.exists():
        if revision is not None:
            raise ValueError(f"revision={revision!r} applies to Hub repositories, not the local folder {local}")
        return load_folder(local, expected_class=expected_class)
    from zoo import hub

    folder = hub.download(str(source), revision=revision)
    return load_folder(folder, expected_class=expected_class)


def push_to_hub(model, repo_id: str, *, private: bool = False, token: str | None = None,
                commit_message: str | None = None, metadata: dict[str, Any] | None = None) -> str:
    """Saves ``model`` in the pretrained format and uploads it as one commit; returns the commit URL."""
    from zoo import hub

    with tempfile.TemporaryDirectory(prefix="zoo-push-") as tmp:
        save_pretrained(model, tmp, metadata=metadata)
        return hub.upload(tmp, repo_id, private=private, token=token,
                          commit_message=commit_message or f"Upload {type(model).__name__}")


class PretrainedMixin:
    """Adds ``save_pretrained`` / ``from_pretrained`` / ``push_to_hub`` to a Keras model class."""

    def save_pretrained(self, directory, *, metadata=None):
        return save_pretrained(self, directory, metadata=metadata)

    @classmethod
    def from_pretrained(cls, source, revision=None):
        return from_pretrained(source, revision=revision, expected_class=cls)

    def push_to_hub(self, repo_id, private=False, token=None, commit_message=None, *, metadata=None):
        return push_to_hub(self, repo_id, private=private, token=token,
                           commit_message=commit_message, metadata=metadata)
