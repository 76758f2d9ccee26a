"""A pretrained folder's ``config.json``: building it from a model, reading and checking it.

A config holds plain data only; ``_check_plain_config`` refuses Keras's serialized-object form
(which deserializes by import) before any class sees it.
"""

from __future__ import annotations

import importlib.metadata
import json
import math
import os
import sys
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from zoo import card as cards
from zoo import registry
from zoo.files import CONFIG_NAME

FORMAT = "zoo-pretrained/1"


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
