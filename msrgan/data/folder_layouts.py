"""The images of a folder and its layout, from the file names alone (``scan_folder`` -> ``FolderScan``).

``msrgan.data.folders.load_folder`` (in memory) and ``msrgan.data.stream.open_lazy_folder`` (streamed)
read the images found. Hidden files (``.name``) and non-image files (``metadata.csv``) are ignored. The
three layouts:

1. **CYTO2017 layout** (the mSRGAN seed's): one file per field, directly in the folder, named
   ``NN_<id>.<ext>`` where ``NN`` is the class id (``03_000042.png`` is class 3, ``nucleoli`` with the
   13 default ``CLASS_NAMES``). A flat folder where *no* file has the prefix loads unlabelled.
2. **Class subfolders**: ``<folder>/<class_name>/<id>.<ext>``. Subfolder names that are all among the
   13 localization classes (case, spaces and hyphens ignored) keep the standard ids; other names are
   sorted and numbered.
3. **Per-channel files** combined by a file-name ``pattern`` (the CYTO2017 challenge ships each channel
   as its own TIFF): placeholders ``{id}`` (the field), ``{channel}`` (the channel token), and optionally
   ``{label}`` (a numeric class id) or ``{class}`` (a class-name folder). Example:
   ``pattern="{label}_{id}_{channel}.tif", channel_order=("dapi", "tubulin", "er", "protein")`` reads
   ``03_0042_dapi.tif``, ``03_0042_tubulin.tif``... into one 4-channel image in that order. Without
   ``channel_order`` the tokens found are sorted (numbers numerically), so give it for named channels.
"""

from __future__ import annotations

import dataclasses
import os
import re
import warnings
from pathlib import Path
from typing import Sequence

from msrgan.data.io import is_image_file

_CYTO = re.compile(r"^(\d+)_(.+)$")


def _default_class_names() -> tuple[str, ...]:
    from msrgan.data.synthetic import CLASS_NAMES

    return CLASS_NAMES


def _canon(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


def _natural_key(s: str):
    return [(0, int(t), "") if t.isdigit() else (1, 0, t) for t in re.split(r"(\d+)", s) if t]


def _visible(p: Path) -> bool:
    return not p.name.startswith(".")


@dataclasses.dataclass
class FolderScan:
    """What ``scan_folder`` finds, before any pixel is read.

    Attributes:
        root: The folder.
        entries: One tuple of files per image: one file, or one per channel (per-channel layout, in
            channel order).
        names: One name per entry (as ``DataSource.names``).
        labels: One class id per entry, or ``None`` (unlabelled).
        class_names: Names of the class ids.
        layout: ``"cyto2017"``, ``"class_folders"``, ``"flat"`` or ``"per_channel"``.
        channels: The expected channel count (given, or known from the layout), or ``None``.
        skipped: ``(name, reason)`` of fields skipped while scanning (incomplete per-channel fields).
        info: Extra ``DataSource.info`` entries (the pattern and channel order).
    """

    root: Path
    entries: list
    names: list
    labels: list | None
    class_names: tuple
    layout: str
    channels: int | None = None
    skipped: list = dataclasses.field(default_factory=list)
    info: dict = dataclasses.field(default_factory=dict)


def scan_folder(
    path: str | os.PathLike,
    *,
    channels: int | None = None,
    strict: bool = False,
    pattern: str | None = None,
    channel_order: Sequence[str] | None = None,
    class_names: Sequence[str] | None = None,
    count: int | None = None,
    max_per_class: int | None = None,
) -> FolderScan:
    """The images of a folder (files, names, labels, layout) as ``load_folder`` finds them, read from
    the file names alone; ``load_folder`` and the lazy source (``msrgan.data.stream``) read them.

    Takes ``load_folder``'s arguments and raises its errors about the folder and its naming.
    """
    root = Path(path).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"No such folder: {root}")
    if channels is not None:
        from msrgan.convention import check_channels

        channels = check_channels(channels)
    if pattern is not None:
        return _scan_per_channel(root, pattern, channel_order, channels=channels, strict=strict,
                                 class_names=class_names, count=count, max_per_class=max_per_class)
    if channel_order is not None:
        raise ValueError("channel_order applies to per-channel files only; give pattern= as well")

    top = sorted((p for p in root.iterdir() if p.is_file() and _visible(p) and is_image_file(p)),
                 key=lambda p: _natural_key(p.name))
    subdirs = sorted(p for p in root.iterdir() if p.is_dir() and _visible(p))
    if top:
        entries, labels, names, layout = _flat_layout(root, top, class_names)
        nested = [d.name for d in subdirs if any(is_image_file(f) for f in d.iterdir())]
        if nested:
            warnings.warn(f"{root}: loading the {len(top)} image(s) directly in the folder; the image "
                          f"subfolder(s) {nested[:5]} are ignored", UserWarning, stacklevel=3)
    else:
        class_dirs = [(d, sorted((f for f in d.iterdir() if f.is_file() and _visible(f) and is_image_file(f)),
                                 key=lambda p: _natural_key(p.name))) for d in subdirs]
        class_dirs = [(d, files) for d, files in class_dirs if files]
        if not class_dirs:
            raise ValueError(f"{root}: no image files found (looked for {', '.join(_suffixes())} in the folder "
                             "and in its class subfolders)")
        entries, labels, names, layout = _subfolder_layout(root, class_dirs, class_names)

    order = _limit(labels if labels is not None else [0] * len(entries), count, max_per_class)
    return FolderScan(root=root, entries=[(entries[i],) for i in order], names=[names[i] for i in order],
                      labels=None if labels is None else [labels[i] for i in order], class_names=layout[1],
                      layout=layout[0], channels=channels)


# ------------------------------------------------------------------------------------------------


def _limit(labels, count, max_per_class) -> list[int]:
    """Indices kept: the first ``max_per_class`` of each label, then the first ``count``."""
    seen: dict = {}
    order = []
    for i, y in enumerate(labels):
        seen[y] = seen.get(y, 0) + 1
        if max_per_class is None or seen[y] <= max_per_class:
            order.append(i)
    return order[:count] if count else order


def _suffixes():
    from msrgan.data.io import IMAGE_SUFFIXES

    return IMAGE_SUFFIXES


def _flat_layout(root: Path, files: list[Path], class_names):
    matches = [_CYTO.match(f.stem) for f in files]
    names = [f.name for f in files]
    if all(m is not None for m in matches):
        labels = [int(m.group(1)) for m in matches]
        layout = ("cyto2017", _class_names_for_ids(labels, class_names, root))
        return files, labels, names, layout
    if any(m is not None for m in matches):
        odd = [f.name for f, m in zip(files, matches) if m is None]
        raise ValueError(f"{root}: mixed file naming: some files follow the CYTO2017 layout 'NN_<id>' (NN = class "
                         f"id) but {len(odd)} do not, e.g. {odd[:3]}; rename or move them")
    return files, None, names, ("flat", tuple(class_names) if class_names else ())


def _class_names_for_ids(labels, class_names, root) -> tuple[str, ...]:
    top = max(labels)
    if class_names is not None:
        if top >= len(class_names):
            raise ValueError(f"{root}: class id {top} found but class_names has only {len(class_names)} entries")
        return tuple(class_names)
    default = _default_class_names()
    if top < len(default):
        return default
    return tuple(f"class_{i:02d}" for i in range(top + 1))


def _subfolder_layout(root: Path, class_dirs, class_names):
    folder_names = [d.name for d, _ in class_dirs]
    if class_names is not None:
        canon = {_canon(n): i for i, n in enumerate(class_names)}
        missing = [n for n in folder_names if _canon(n) not in canon]
        if missing:
            raise ValueError(f"{root}: class subfolder(s) {missing} are not in class_names {list(class_names)}")
        names_out = tuple(class_names)
    else:
        default = _default_class_names()
        canon = {_canon(n): i for i, n in enumerate(default)}
        if all(_canon(n) in canon for n in folder_names):
            names_out = default
        else:
            names_out = tuple(sorted(folder_names, key=_natural_key))
            canon = {_canon(n): i for i, n in enumerate(names_out)}
    files, labels, names = [], [], []
    for d, fs in class_dirs:
        for f in fs:
            files.append(f)
            labels.append(canon[_canon(d.name)])
            names.append(f.relative_to(root).as_posix())
    return files, labels, names, ("class_folders", names_out)


# ------------------------------------------------------------------------------------------------
# per-channel files
# ------------------------------------------------------------------------------------------------


def _pattern_regex(pattern: str, channel_order) -> re.Pattern:
    parts = re.split(r"(\{id\}|\{channel\}|\{label\}|\{class\})", pattern)
    fields = [p for p in parts if p in ("{id}", "{channel}", "{label}", "{class}")]
    if fields.count("{id}") != 1 or fields.count("{channel}") != 1:
        raise ValueError(f"pattern={pattern!r} must contain {{id}} and {{channel}} exactly once")
    if "{label}" in fields and "{class}" in fields:
        raise ValueError(f"pattern={pattern!r}: use {{label}} (class id) or {{class}} (class name), not both")
    if re.search(r"\{[^}]*\}", "".join(p for p in parts if p not in fields)):
        raise ValueError(f"pattern={pattern!r} has an unknown placeholder; known: {{id}} {{channel}} {{label}} {{class}}")
    if channel_order:
        chan = "|".join(re.escape(t) for t in sorted(channel_order, key=len, reverse=True))
    else:
        chan = r"[^/_.\-]+"
    table = {"{id}": r"(?P<id>[^/]+?)", "{channel}": f"(?P<channel>{chan})", "{label}": r"(?P<label>\d+)",
             "{class}": r"(?P<klass>[^/]+)"}
    return re.compile("^" + "".join(table.get(p, re.escape(p)) for p in parts) + "$")


def _scan_per_channel(root: Path, pattern: str, channel_order, *, channels, strict, class_names, count,
                      max_per_class) -> FolderScan:
    rx = _pattern_regex(pattern, channel_order)
    groups: dict[tuple, dict[str, Path]] = {}
    for f in sorted(root.rglob("*")):
        if not f.is_file() or not is_image_file(f) or any(part.startswith(".") for part in f.relative_to(root).parts):
            continue
        m = rx.match(f.relative_to(root).as_posix())
        if m is None:
            continue
        gd = m.groupdict()
        key = (gd.get("klass") or gd.get("label") or "", gd["id"])
        tok = gd["channel"]
        if tok in groups.setdefault(key, {}):
            raise ValueError(f"{root}: two files for field {key[1]!r}, channel {tok!r}: "
                             f"{groups[key][tok].name} and {f.name}")
        groups[key][tok] = f
    if not groups:
        raise ValueError(f"{root}: no files match pattern={pattern!r}")
    order = list(channel_order) if channel_order else sorted({t for g in groups.values() for t in g}, key=_natural_key)
    if len(order) not in (1, 3, 4):
        raise ValueError(f"{root}: pattern={pattern!r} found {len(order)} channel(s) {order}; msrgan works with "
                         "1, 3 or 4 (give channel_order to choose them)")
    if channels is not None and channels != len(order):
        raise ValueError(f"channel-count mismatch: {root} holds {len(order)} channel(s) {order} per field but "
                         f"{channels} are expected")

    keys = sorted(groups, key=lambda k: (_natural_key(k[0]), _natural_key(k[1])))
    has_label = "{label}" in pattern or "{class}" in pattern
    if "{label}" in pattern:
        ids = [int(k[0]) for k in keys]
        names_out = _class_names_for_ids(ids, class_names, root)
        label_of = {k: int(k[0]) for k in keys}
    elif "{class}" in pattern:
        found = sorted({k[0] for k in keys}, key=_natural_key)
        default = tuple(class_names) if class_names else _default_class_names()
        canon = {_canon(n): i for i, n in enumerate(default)}
        if all(_canon(n) in canon for n in found):
            names_out = default
        elif class_names:
            raise ValueError(f"{root}: classes {[n for n in found if _canon(n) not in canon]} are not in class_names")
        else:
            names_out = tuple(found)
            canon = {_canon(n): i for i, n in enumerate(names_out)}
        label_of = {k: canon[_canon(k[0])] for k in keys}
    keys = [keys[i] for i in _limit([k[0] for k in keys], count, max_per_class)]

    entries, labels, names, skipped = [], [], [], []
    for key in keys:
        files = groups[key]
        field = f"{key[0]}/{key[1]}" if "{class}" in pattern else f"{key[0]}_{key[1]}" if key[0] else key[1]
        missing = [t for t in order if t not in files]
        if missing:
            msg = f"field {field!r} in {root} has no file for channel(s) {missing} (pattern={pattern!r})"
            if strict:
                raise ValueError(msg)
            skipped.append((field, msg))
            warnings.warn(f"skipping incomplete field: {msg}", UserWarning, stacklevel=4)
            continue
        entries.append(tuple(files[tok] for tok in order))
        names.append(field)
        if has_label:
            labels.append(label_of[key])
    return FolderScan(root=root, entries=entries, names=names, labels=labels if has_label else None,
                      class_names=names_out if has_label else tuple(class_names or ()), layout="per_channel",
                      channels=len(order), skipped=skipped,
                      info={"pattern": pattern, "channel_order": list(order)})
