"""zoo: a small registry of Keras models with one pretrained folder format for disk and Hub.

The package knows nothing about any model family; families register their models through
``zoo.register`` (or the ``zoo.models`` entry-point group), and their bundled pretrained
weights through ``zoo.register_preset``.

Example:
    >>> import zoo
    >>> zoo.list_models("msrgan-*")
    ['msrgan-x4', 'msrgan-x4-lite', 'msrgan-x4-small']
    >>> zoo.list_presets()                                      # trained weights shipped by families
    ['msrgan-x4-gan', 'msrgan-x4-gray', 'msrgan-x4-rgb']
    >>> model = zoo.create("msrgan-x4-small")
    >>> model.save_pretrained("out/small")                       # doctest: +SKIP
    >>> url = model.push_to_hub("lab/small")                      # doctest: +SKIP
    >>> same = zoo.from_pretrained("hf://lab/small")              # doctest: +SKIP
"""

from zoo.pretrained import (
    PretrainedMixin,
    from_pretrained,
    load_folder,
    pull_folder,
    push_folder,
    push_to_hub,
    save_pretrained,
)
from zoo.extensions import Registry
from zoo.presets import Preset, describe_preset, get_preset, list_presets, preset_folder, register_preset
from zoo.registry import ModelEntry, create, describe, get_entry, list_models, register

__all__ = [
    "ModelEntry",
    "Preset",
    "PretrainedMixin",
    "Registry",
    "create",
    "describe",
    "describe_preset",
    "from_pretrained",
    "get_entry",
    "get_preset",
    "list_models",
    "list_presets",
    "load_folder",
    "preset_folder",
    "pull_folder",
    "push_folder",
    "push_to_hub",
    "register",
    "register_preset",
    "save_pretrained",
]
