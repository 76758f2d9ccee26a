"""A local pretrained folder: the files it holds, loading one (``load_folder``), the generic card.

Loading executes no code from the folder: the class named in ``config.json`` must be one that the
zoo registry builds, the config must be plain data and goes to that class's ``from_config``, and
the weights are plain tensors checked against the model built from it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

from zoo import card as cards
from zoo import registry
from zoo.config import _check_plain_config, _jsonable, read_config
from zoo.files import CARD_NAME, CONFIG_NAME, WEIGHTS_NAME
from zoo.registry import ensure_built
from zoo.weights import load_state, read_weights

FILES = (CONFIG_NAME, WEIGHTS_NAME, CARD_NAME)


def _refuse_overwrite(out: Path, overwrite: bool) -> None:
    if overwrite:
        return
    present = [name for name in FILES if (out / name).exists()]
    if present:
        raise FileExistsError(f"{out} already holds {', '.join(present)}; pass overwrite=True (--overwrite) to replace")


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
