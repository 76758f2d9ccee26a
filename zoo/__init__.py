"""zoo: a small registry of Keras models with one pretrained folder format for disk and Hub.

The package knows nothing about any model family; families register their models through
``zoo.register`` (or the ``zoo.models`` entry-point group).

Example:
    >>> import zoo
    >>> zoo.list_models("msrgan-*")
    ['msrgan-x4', 'msrgan-x4-small']
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
from zoo.registry import ModelEntry, create, describe, get_entry, list_models, register

__all__ = [
    "ModelEntry",
    "PretrainedMixin",
    "create",
    "describe",
    "from_pretrained",
    "get_entry",
    "list_models",
    "load_folder",
    "pull_folder",
    "push_folder",
    "push_to_hub",
    "register",
    "save_pretrained",
]
