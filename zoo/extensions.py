"""``Registry``: one small name -> object table per extension point, in the style of BasicSR's.

The model registry (``zoo.register``) maps names to model builders; a project has other extension
points too (degradations, loss terms, feature extractors, ...). Each is a ``Registry``: a read-only
mapping, filled by ``register`` (also usable as a decorator), whose lookups fail with an error
that names the kind and lists what exists. Command-line ``choices=``, documentation tables and
listings read the names from it, so a new entry shows up everywhere at once. An entry renamed keeps
its old spelling as an alias (``aliases=``): found by ``in`` and lookups, so saved settings still
load, but not listed.

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
    >>> _ = losses.register("least-squares", len, aliases=("lsgan",))
    >>> "lsgan" in losses, losses.canonical("lsgan"), list(losses)
    (True, 'least-squares', ['hinge', 'least-squares'])
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
        self._aliases: dict[str, str] = {}

    def register(self, name: str, obj: Any = None, *, description: str = "", overwrite: bool = False,
                 aliases: tuple[str, ...] = ()):
        """Adds ``obj`` under ``name``; without ``obj``, a decorator that registers what it decorates.

        ``aliases`` are other spellings of ``name`` (an old name kept loadable after a rename): ``in``
        and lookups accept them, listings show ``name`` only.

        Raises:
            ValueError: ``name`` or an alias is taken (unless ``overwrite``), or not a non-empty string.
        """
        for n in (name, *aliases):
            if not isinstance(n, str) or not n:
                raise ValueError(f"a {self.kind} name must be a non-empty string, got {n!r}")
        if obj is None:
            def decorate(target: Callable) -> Callable:
                self.register(name, target, description=description, overwrite=overwrite, aliases=aliases)
                return target

            return decorate
        for n in (name, *aliases):
            if not overwrite and (n in self._items or n in self._aliases):
                raise ValueError(f"a {self.kind} named {n!r} is already registered")
        self._items[name] = obj
        self._descriptions[name] = description
        self._aliases.pop(name, None)
        self._aliases.update(dict.fromkeys(aliases, name))
        return obj

    def canonical(self, name: str) -> str:
        """The registered name that ``name`` (a name or an alias) stands for; ValueError if neither."""
        self.get(name)
        return self._aliases.get(name, name)

    def get(self, name: str, default: Any = None) -> Any:
        """The entry named ``name`` (or aliased ``name``); an unknown name is a ValueError listing the
        known ones (a registry lookup is never silently empty, so ``default`` is not used; test ``in``
        first)."""
        try:
            return self._items[self._aliases.get(name, name)]
        except (KeyError, TypeError):
            raise ValueError(f"unknown {self.kind} {name!r}; choose one of: {', '.join(self._items)}") from None

    def describe(self, name: str) -> str:
        """The one-line description given at registration."""
        return self._descriptions[self.canonical(name)]

    def __getitem__(self, name: str) -> Any:
        return self.get(name)

    def __contains__(self, name: object) -> bool:
        try:
            return name in self._items or name in self._aliases
        except TypeError:  # an unhashable name is no entry
            return False

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}: {', '.join(self._items)})"
