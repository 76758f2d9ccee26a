"""A small model registry: a name maps to a builder and its default configuration.

Adding a model is one call::

    zoo.register("my-model", MyModel, description="...", filters=32)

after which ``zoo.create("my-model", filters=64)`` builds it with the overrides applied.
Model families outside this package register themselves through the ``zoo.models``
entry-point group (see ``pyproject.toml``); they are imported the first time the registry
is read, so ``import zoo`` alone is enough to list them. ``ZOO_DISABLE_PLUGIN_AUTOLOAD=1`` (read
when the registry is first read, as pytest's ``PYTEST_DISABLE_PLUGIN_AUTOLOAD``) leaves them out:
only what the program registers itself is there.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import importlib.metadata
import logging
import os
from typing import Any, Callable

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "zoo.models"
DISABLE_AUTOLOAD = "ZOO_DISABLE_PLUGIN_AUTOLOAD"


@dataclasses.dataclass(frozen=True)
class ModelEntry:
    """One registry entry.

    Attributes:
        name: The registry name, e.g. ``"msrgan-x4"``.
        builder: A class or callable that takes the configuration as keyword arguments.
        defaults: The default configuration; ``create`` overrides it key by key.
        description: One line that says what the model is.
        pretrained: A Hub repository id with published weights, or ``None``.
        tags: Free-form tags (task, domain).
    """

    name: str
    builder: Callable[..., Any]
    defaults: dict[str, Any]
    description: str = ""
    pretrained: str | None = None
    tags: tuple[str, ...] = ()

    @property
    def class_name(self) -> str:
        return getattr(self.builder, "__name__", type(self.builder).__name__)


_REGISTRY: dict[str, ModelEntry] = {}
_PLUGINS_LOADED = False


def _load_plugins() -> None:
    global _PLUGINS_LOADED
    if _PLUGINS_LOADED:
        return
    _PLUGINS_LOADED = True
    if os.environ.get(DISABLE_AUTOLOAD, "").strip().lower() in ("1", "true", "yes"):
        return
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            ep.load()
        except Exception as exc:  # a broken plugin must not hide the others
            logger.warning("zoo: could not load model plugin %r (%s): %s", ep.name, ep.value, exc)


def register(
    name: str,
    builder: Callable[..., Any],
    *,
    description: str = "",
    pretrained: str | None = None,
    tags: tuple[str, ...] | list[str] = (),
    overwrite: bool = False,
    **defaults: Any,
) -> ModelEntry:
    """Registers ``builder`` under ``name`` with default configuration ``defaults``.

    Args:
        name: Registry name; lowercase words joined by ``-`` by convention.
        builder: Class or callable taking the configuration as keyword arguments.
        description: One line for ``list_models``/``describe``.
        pretrained: Hub repository id of published weights. Only name a repository that exists.
        tags: Free-form tags.
        overwrite: Replace an existing entry of the same name instead of raising.
        **defaults: The default configuration.

    Returns:
        The new ``ModelEntry``.

    Raises:
        ValueError: If ``name`` is already registered to another builder and ``overwrite`` is False.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"zoo.register: name must be a non-empty string, got {name!r}")
    if not callable(builder):
        raise ValueError(f"zoo.register({name!r}): builder must be callable, got {builder!r}")
    old = _REGISTRY.get(name)
    if old is not None and not overwrite and (old.builder is not builder or old.defaults != defaults):
        raise ValueError(f"zoo.register: a model named {name!r} is already registered ({old.class_name})")
    entry = ModelEntry(name, builder, dict(defaults), description, pretrained, tuple(tags))
    _REGISTRY[name] = entry
    return entry


def get_entry(name: str) -> ModelEntry:
    """Returns the entry registered as ``name``; the error lists the known names."""
    _load_plugins()
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY)) or "(none)"
        raise ValueError(f"Unknown zoo model {name!r}. Known models: {known}") from None


def list_models(pattern: str | None = None) -> list[str]:
    """Sorted registry names, optionally filtered by a shell-style ``pattern`` (``"msrgan-*"``)."""
    _load_plugins()
    names = sorted(_REGISTRY)
    if pattern:
        names = [n for n in names if fnmatch.fnmatch(n, pattern)]
    return names


def describe(name: str) -> dict[str, Any]:
    """A plain-dict description of one entry: class, defaults, description, pretrained, tags."""
    entry = get_entry(name)
    return {
        "name": entry.name,
        "class": entry.class_name,
        "description": entry.description,
        "defaults": dict(entry.defaults),
        "pretrained": entry.pretrained,
        "tags": list(entry.tags),
    }


def create(name: str, **overrides: Any) -> Any:
    """Builds the model registered as ``name``, with ``overrides`` applied to its defaults.

    The model is returned ready to use, as keras-hub's backbones are: a Keras model that is not
    built by its constructor, and that has an ``example_input_shape()`` method, is called once
    on zeros of that shape, so its variables exist (``count_params()``, ``summary()``,
    ``save_pretrained`` work at once). Other objects are returned as the builder made them.

    Example:
        >>> import zoo, msrgan
        >>> g = zoo.create("msrgan-x4-small", channels=1)
        >>> g.built, g.count_params() > 0
        (True, True)
    """
    entry = get_entry(name)
    config = {**entry.defaults, **overrides}
    model = entry.builder(**config)
    ensure_built(model, required=False)
    try:
        model.zoo_name = name
    except Exception:
        pass
    return model


def registered_classes() -> dict[str, type]:
    """Classes that registry entries build, by class name (used to vet configs before loading)."""
    _load_plugins()
    out: dict[str, type] = {}
    for entry in _REGISTRY.values():
        if isinstance(entry.builder, type):
            out[entry.builder.__name__] = entry.builder
    return out


def ensure_built(model, *, required: bool = True) -> None:
    """Builds an unbuilt Keras model by calling it once, in inference mode, on zeros.

    The zeros have the shape the model's ``example_input_shape()`` returns (a family's models
    know their input; zoo does not). Objects that are not Keras layers, and built models, are
    left as they are. ``zoo.create`` uses it (``required=False``) so that every model it
    returns is ready to use; saving and loading (``required=True``) need the variables.

    Raises:
        ValueError: ``required`` and the model is not built and has no ``example_input_shape()``.
    """
    if getattr(model, "built", True):
        return
    import keras

    if not isinstance(model, keras.layers.Layer):
        return
    shape = model.example_input_shape() if hasattr(model, "example_input_shape") else None
    if shape is None:
        if required:
            raise ValueError(f"{type(model).__name__} is not built and has no example_input_shape()")
        return
    model(keras.ops.zeros(shape), training=False)
