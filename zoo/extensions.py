"""``Registry``: one small name -> object table per extension point, in the style of BasicSR's.

The model registry (``zoo.register``) maps names to model builders; a project has other extension
points too (degradations, loss terms, feature extractors, ...). Each is a ``Registry``: a read-only
mapping, filled by ``register`` (also usable as a decorator), whose lookups fail with an error
that names the kind and lists what exists. Command-line ``choices=``, documentation tables and
listings read the names from it, so a new entry shows up everywhere at once.

Example:
    >>> losses = Registry("adversarial loss")
    >>> @losses.register("hinge", description="hinge loss")
    ... def hinge(x):
    ...     return x
    >>> list(losses), losses.describe("hinge")
    (['hinge'], 'hinge loss')
    >>> losses.get("lsgan")
    Traceback (most recent call last):
    ...
    ValueError: unknown adversarial loss 'lsgan'; choose one of: hinge
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Callable


class Registry(Mapping):
    """Names -> registered objects of one kind, in registration order.

    Args:
        kind: What the entries are, for error messages (``"degradation"``).
    """

    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, Any] = {}
        self._descriptions: dict[str, str] = {}

    def register(self, name: str, obj: Any = None, *, description: str = "", overwrite: bool = False):
        """Adds ``obj`` under ``name``; without ``obj``, a decorator that registers what it decorates.

        Raises:
            ValueError: ``name`` is taken (unless ``overwrite``) or not a non-empty string.
        """
        if not isinstance(name, str) or not name:
            raise ValueError(f"a {self.kind} name must be a non-empty string, got {name!r}")
        if obj is None:
            def decorate(target: Callable) -> Callable:
                self.register(name, target, description=description, overwrite=overwrite)
                return target

            return decorate
        if name in self._items and not overwrite:
            raise ValueError(f"a {self.kind} named {name!r} is already registered")
        self._items[name] = obj
        self._descriptions[name] = description
        return obj

    def get(self, name: str, default: Any = None) -> Any:
        """The entry named ``name``; an unknown name is a ValueError listing the known ones (a
        registry lookup is never silently empty, so ``default`` is not used; test ``in`` first)."""
        try:
            return self._items[name]
        except (KeyError, TypeError):
            raise ValueError(f"unknown {self.kind} {name!r}; choose one of: {', '.join(self._items)}") from None

    def describe(self, name: str) -> str:
        """The one-line description given at registration."""
        self.get(name)
        return self._descriptions[name]

    def __getitem__(self, name: str) -> Any:
        return self.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}: {', '.join(self._items)})"
