"""Loading real microscopy images from folders, in three layouts.

The layouts (the CYTO2017 one, class subfolders, per-channel files combined by a file-name ``pattern``)
are found from the file names alone by ``msrgan.data.folder_layouts.scan_folder``, which describes them;
this module reads the images found into a ``DataSource``.

Formats: PNG, JPEG and TIFF, 8-bit, 16-bit or float, 1, 3 or 4 channels (``msrgan.data.io.read_image``);
images keep their stored dtype. Hidden files (``.name``) and non-image files (``metadata.csv``) are
ignored.

Bad input: an unreadable or corrupt file is skipped with a ``UserWarning`` naming it (and recorded in
``DataSource.skipped``), or with ``strict=True`` raises a ValueError naming it; it never becomes zeros.
A channel-count mismatch, a missing channel file, an empty folder or mixed naming raises a ValueError.

Example:
    >>> import tempfile, numpy as np
    >>> from msrgan.data.io import write_image
    >>> d = tempfile.mkdtemp()
    >>> _ = write_image(f"{d}/02_a.png", np.zeros((8, 8, 3), np.uint8))
    >>> _ = write_image(f"{d}/05_b.png", np.ones((8, 8, 3), np.uint8))
    >>> src = load_folder(d)
    >>> src.labels.tolist(), src.class_names[5], src.info["layout"]
    ([2, 5], 'mitochondria', 'cyto2017')
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np

from msrgan.data.io import read_image
from msrgan.data.datasource import DataSource, tqdm_disable
from msrgan.data.folder_layouts import FolderScan, scan_folder  # noqa: F401  (FolderScan: importable from here too)


def load_folder(
    path: str | os.PathLike,
    *,
    channels: int | None = None,
    strict: bool = False,
    pattern: str | None = None,
    channel_order: Sequence[str] | None = None,
    class_names: Sequence[str] | None = None,
    count: int | None = None,
    max_per_class: int | None = None,
    progress: bool | None = None,
) -> DataSource:
    """Reads every image of a folder in the CYTO2017, class-subfolder or per-channel layout.

    Args:
        path: The folder.
        channels: Expected channel count (1, 3 or 4); default: whatever the first image has, and all
            others must match.
        strict: Raise on an unreadable file instead of skipping it with a warning.
        pattern: Per-channel layout: a file-name pattern relative to ``path`` with ``{id}``, ``{channel}``
            and optionally ``{label}`` or ``{class}`` (see ``msrgan.data.folder_layouts``).
        channel_order: Per-channel layout: the channel tokens in the order they are stacked.
        class_names: Names of the class ids (default: the 13 localization classes when the ids fit).
        count: Read only the first ``count`` fields (in sorted order).
        max_per_class: Read only the first ``max_per_class`` fields of each class (e.g. for a contact sheet).
        progress: Show a progress bar (default: when the output is a terminal).

    Returns:
        A ``DataSource`` (``kind="folder"``, ``info["layout"]`` in ``"cyto2017"``, ``"class_folders"``,
        ``"flat"``, ``"per_channel"``).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: an empty folder, mixed naming, a channel-count mismatch, a missing channel file,
            or (with ``strict=True``) an unreadable file; the message names the file.
    """
    scan = scan_folder(path, channels=channels, strict=strict, pattern=pattern, channel_order=channel_order,
                       class_names=class_names, count=count, max_per_class=max_per_class)
    root, channels = scan.root, scan.channels
    images, kept_labels, kept_names, skipped = [], [], [], list(scan.skipped)
    first_file = None
    for i in _bar(range(len(scan.entries)), progress, root):
        files = scan.entries[i]
        img = read_entry(files, strict=strict, skipped=skipped, root=root)
        if img is None:
            continue
        first_file = first_file or files[0]
        channels = check_count(img, channels, files[0], first_file)
        images.append(img)
        kept_names.append(scan.names[i])
        if scan.labels is not None:
            kept_labels.append(scan.labels[i])
    src = folder_source(root, images, kept_labels if scan.labels is not None else None, kept_names, channels, skipped,
                  (scan.layout, scan.class_names))
    src.info.update(scan.info)
    return src


def read_entry(files: Sequence[Path], *, strict: bool, skipped: list, root: Path):
    """The image of one ``FolderScan`` entry (one file, or per-channel files stacked), or ``None`` when a
    file is unreadable (recorded in ``skipped`` with a warning; with ``strict`` a ValueError)."""
    if len(files) == 1:
        return read_or_skip(files[0], strict, skipped, root)
    planes = []
    for f in files:
        img = read_or_skip(f, strict, skipped, root)
        if img is None:
            return None
        check_plane(img.shape, img.dtype, f, planes[0].shape if planes else None,
                    planes[0].dtype if planes else None, files[0])
        planes.append(img[..., 0])
    return np.stack(planes, axis=-1)


def check_plane(shape, dtype, path, first_shape, first_dtype, first_path) -> None:
    """A per-channel file must hold one channel, of the shape and dtype of the field's first channel."""
    if shape[-1] != 1:
        raise ValueError(f"{path}: a per-channel file must hold one channel, it has {shape[-1]}")
    if first_shape is not None and (tuple(shape[:2]) != tuple(first_shape[:2]) or dtype != first_dtype):
        raise ValueError(f"{path}: shape {tuple(shape[:2])} / dtype {dtype} differs from the field's "
                         f"first channel {Path(first_path).name} ({tuple(first_shape[:2])}, {first_dtype})")


def _bar(items, progress, root):
    from tqdm.auto import tqdm

    return tqdm(items, desc=f"reading {root.name or root}", unit="image", disable=tqdm_disable(progress))


def read_or_skip(path: Path, strict: bool, skipped: list, root: Path, reader=read_image):
    """``reader(path)``, or ``None`` for an unreadable file (recorded in ``skipped`` with a warning; with
    ``strict`` a ValueError naming it)."""
    try:
        return reader(path)
    except (ValueError, OSError) as exc:
        if strict:
            raise ValueError(f"unreadable image {path}: {exc}") from None
        rel = path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)
        skipped.append((rel, str(exc)))
        warnings.warn(f"skipping unreadable image {path}: {exc}", UserWarning, stacklevel=4)
        return None


def check_count(img: np.ndarray, channels: int | None, path, first) -> int:
    """The channel count of ``img`` (an array or a lazy image), checked against ``channels`` (None: the first)."""
    c = img.shape[-1]
    if channels is None:
        if c not in (1, 3, 4):
            raise ValueError(f"{path} has {c} channels; msrgan works with 1 (gray), 3 (RGB merge) or 4 (CYTO2017)")
        return c
    if c != channels:
        where = f" (the first image, {first}, has {channels})" if first is not None and Path(first) != Path(path) else ""
        raise ValueError(f"channel-count mismatch: {path} has {c} channel(s) but {channels} are expected{where}")
    return channels


def folder_source(root, images, labels, names, channels, skipped, layout):
    """The ``DataSource`` of a folder's images (in memory or lazy); a ValueError when none could be read."""
    kind, class_names = layout
    if not images:
        raise ValueError(f"{root}: none of the {len(skipped)} image file(s) could be read "
                         f"(first: {skipped[0][0]}: {skipped[0][1]})" if skipped else f"{root}: no images")
    return DataSource(images=images, labels=None if labels is None else np.asarray(labels, np.int64),
                      class_names=class_names, names=names, channels=int(channels), kind="folder", spec=str(root),
                      skipped=skipped, info={"layout": kind, "root": str(root)})
