"""A pretrained folder's weights: stable variable keys, the model's state as NumPy, ``model.safetensors``.

Keys are the path of layer names from the model down to the variable, then the variable's own
name (``block_00/conv1/kernel``): they do not depend on the backend, on the name scope the model
was first called in, or on how many models the process built before.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from zoo.files import CONFIG_NAME


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
