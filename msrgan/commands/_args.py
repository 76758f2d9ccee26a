"""Argument helpers shared by the command modules (not a command: ``msrgan.cli`` skips ``_`` modules)."""

from __future__ import annotations

from msrgan.errors import UsageError


def key_values(items, what: str) -> dict | None:
    """``KEY=VALUE`` flags (a repeatable ``append`` option) as a dict, each value read as JSON when
    it is JSON (``3``, ``true``, ``[0.8, 2.5]``), else kept as the string; None when none was given.

    Args:
        items: The strings given, or None; a dict is returned as it is.
        what: The flag, named in the error (``"--degradation-param"``).

    Raises:
        UsageError: an item without ``=`` or without a key.

    Example:
        >>> key_values(["photons=50", "clip=true", "name=x"], "--degradation-param")
        {'photons': 50, 'clip': True, 'name': 'x'}
    """
    import json

    if not items:
        return None
    if isinstance(items, dict):
        return items
    out = {}
    for item in items:
        key, sep, value = str(item).partition("=")
        if not sep or not key:
            raise UsageError(f"{what} must be KEY=VALUE, got {item!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out
