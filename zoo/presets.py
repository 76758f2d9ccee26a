"""Named pretrained presets: a name maps to a bundled pretrained folder, as data.

In the style of keras-hub presets and timm's pretrained configs: a model family registers each
preset with the folder that ships inside its package, the sha256 of its weights file, the zoo
entry (architecture) it instantiates, an optional Hub repository where it is also published and
the command that trained it. ``zoo.from_pretrained("<preset>")`` then loads it with no network.

Loading a preset goes through the pretrained-folder rules (``zoo.pretrained.load_folder``:
safetensors only, class checked, no code run) after one more check: the weights file's sha256
must equal the one registered in code, so a folder edited on disk (weights and ``config.json``
together) is refused.

Example:
    >>> import zoo
    >>> zoo.register_preset("tiny-x2", "pkg/presets/tiny-x2", model="tiny", sha256="0" * 64,
    ...                     description="demo")                                  # doctest: +SKIP
    >>> zoo.list_presets()                                                       # doctest: +SKIP
    ['tiny-x2']
"""

from __future__ import annotations

import dataclasses
import fnmatch
import hashlib
import os
import re
from pathlib import Path
from typing import Any

from zoo import registry
from zoo.files import WEIGHTS_NAME

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


@dataclasses.dataclass(frozen=True)
class Preset:
    """One registered preset.

    Attributes:
        name: The preset name, e.g. ``"msrgan-x4-gray"``.
        folder: The bundled pretrained folder (``config.json``, ``model.safetensors``, ``README.md``).
        sha256: Hex digest of its ``model.safetensors``.
        model: The zoo entry whose architecture it holds.
        description: One line.
        hub_id: A Hub repository where it is also published, or ``None``.
        command: The command that trained it.
        info: Free-form facts for listings (channel layout, kind, measured results).
    """

    name: str
    folder: Path
    sha256: str
    model: str
    description: str = ""
    hub_id: str | None = None
    command: str = ""
    info: dict = dataclasses.field(default_factory=dict)


_PRESETS: dict[str, Preset] = {}


def register_preset(name: str, folder: str | os.PathLike, *, sha256: str, model: str, description: str = "",
                    hub_id: str | None = None, command: str = "", **info: Any) -> Preset:
    """Registers a bundled preset (see the module documentation).

    Raises:
        ValueError: a bad name or sha256, or a name already registered (to another folder).
    """
    if not isinstance(name, str) or not name or "/" in name:
        raise ValueError(f"zoo.register_preset: name must be a non-empty string without '/', got {name!r}")
    if not isinstance(sha256, str) or not _SHA256.match(sha256):
        raise ValueError(f"zoo.register_preset({name!r}): sha256 must be 64 lowercase hex digits, got {sha256!r}")
    preset = Preset(name, Path(folder), sha256, model, description, hub_id, command, dict(info))
    old = _PRESETS.get(name)
    if old is not None and old != preset:
        raise ValueError(f"zoo.register_preset: a preset named {name!r} is already registered ({old.folder})")
    _PRESETS[name] = preset
    return preset


def list_presets(pattern: str | None = None) -> list[str]:
    """Sorted preset names, optionally filtered by a shell-style ``pattern``."""
    registry.list_models()  # loads the model families' plugins, which register their presets
    names = sorted(_PRESETS)
    return [n for n in names if fnmatch.fnmatch(n, pattern)] if pattern else names


def is_preset(name: Any) -> bool:
    """Whether ``name`` is a registered preset name."""
    return isinstance(name, str) and name in list_presets()


def get_preset(name: str) -> Preset:
    """The preset registered as ``name``; the error lists the presets."""
    if not is_preset(name):
        raise ValueError(f"Unknown preset {name!r}. Presets: {', '.join(list_presets()) or '(none)'}")
    return _PRESETS[name]


def preset_folder(name: str) -> Path:
    """The bundled folder of preset ``name``, after checking its weights file against the registered sha256.

    Raises:
        ValueError: unknown preset, or weights whose sha256 differs (tampered or corrupted).
        FileNotFoundError: the bundled folder or its weights file is missing (a broken install).
    """
    preset = get_preset(name)
    weights = preset.folder / WEIGHTS_NAME
    if not weights.is_file():
        raise FileNotFoundError(f"preset {name!r}: its bundled weights {weights} are missing; reinstall the package "
                                "that provides it")
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()
    if digest != preset.sha256:
        raise ValueError(f"preset {name!r}: {weights} fails its sha256 check (registered {preset.sha256[:12]}..., "
                         f"found {digest[:12]}...); refusing to load it. Reinstall the package that provides it")
    return preset.folder


def describe_preset(name: str) -> dict[str, Any]:
    """A plain-dict description of one preset (for listings and ``msrgan models``)."""
    p = get_preset(name)
    return {"name": p.name, "model": p.model, "description": p.description, "hub_id": p.hub_id,
            "sha256": p.sha256, "folder": str(p.folder), "command": p.command, **p.info}
