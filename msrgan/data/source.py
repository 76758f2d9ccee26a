"""One entry point for every kind of training data: ``load_source(spec)`` -> ``DataSource``.

``spec`` is one of

- ``"synthetic"``: fields from ``msrgan.data.synthetic`` (``count``, ``size``, ``channels``,
  ``bit_depth`` and ``seed`` apply);
- ``"varied"``: unlabelled fields from ``msrgan.data.varied``, randomised over object scale,
  structure, background, dynamic range, HR noise and bit depth (``count``, ``size``, ``channels``,
  ``seed`` apply);
- a folder of images: the CYTO2017 layout (``NN_<id>.png``, ``NN`` the class id), class
  subfolders (``<class_name>/<id>.png``), an unlabelled flat folder, or per-channel TIFFs combined by
  a file-name ``pattern`` (see ``msrgan.data.folders``);
- a Hugging Face dataset: a local ``save_to_disk`` or parquet folder, or a Hub id ``owner/name``
  (also written ``hf://owner/name`` or ``hf://datasets/owner/name``); see ``msrgan.data.hf``.

Example:
    >>> src = load_source("synthetic", count=13, size=64, channels=4, bit_depth=16)
    >>> len(src), src.channels, src.images[0].dtype, src.class_names[src.labels[2]]
    (13, 4, dtype('uint16'), 'nucleoli')
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Sequence

import numpy as np

from msrgan.data.datasource import DataSource, tqdm_disable
from zoo.hub import is_repo_id

__all__ = ["DataSource", "load_source"]


def _is_hf_folder(path: Path) -> bool:
    if any((path / f).is_file() for f in ("dataset_info.json", "state.json", "dataset_dict.json")):
        return True
    has_parquet = any(path.rglob("*.parquet"))
    if not has_parquet:
        return False
    from msrgan.data.io import is_image_file

    return not any(is_image_file(p) for p in path.rglob("*"))


def source_kind(spec: str | os.PathLike) -> str:
    """What ``load_source(spec)`` would read: ``"synthetic"`` (also ``"varied"``), ``"hf"`` (a dataset folder or
    a Hub id) or ``"folder"`` (an image folder, or anything else, which ``load_source`` then refuses)."""
    spec_str = os.fspath(spec)
    if spec_str in ("synthetic", "varied"):
        return "synthetic"
    path = Path(spec_str).expanduser()
    if path.is_dir():
        return "hf" if _is_hf_folder(path) else "folder"
    hub_id = re.sub(r"^hf://(datasets/)?", "", spec_str)
    return "hf" if not path.exists() and is_repo_id(hub_id) else "folder"


def load_source(
    spec: str | os.PathLike,
    *,
    channels: int | None = None,
    count: int | None = None,
    size: int | None = None,
    seed: int = 0,
    strict: bool = False,
    bit_depth: int = 8,
    pattern: str | None = None,
    channel_order: Sequence[str] | None = None,
    split: str = "train",
    revision: str | None = None,
    max_per_class: int | None = None,
    field_params: dict | None = None,
    progress: bool | None = None,
) -> DataSource:
    """Loads training images from a synthetic generator, a folder or a Hugging Face dataset.

    Args:
        spec: ``"synthetic"``, a folder path, a Hugging Face dataset folder, or a Hub id ``owner/name``.
        channels: Expected channel count (1, 3 or 4); synthetic data is drawn with it (default 3), loaded
            data must have it (a mismatch raises a ValueError naming the file).
        count: Number of images: synthetic fields to draw (default 130), or the first ``count`` of a
            folder/dataset (default all).
        size: Synthetic field size in pixels (default 256); ignored for folders and datasets.
        seed: Seed of the synthetic fields.
        strict: Folders only: raise on an unreadable file instead of skipping it with a warning.
        bit_depth: Synthetic bit depth, 8 or 16.
        pattern, channel_order: Folders of per-channel TIFFs (see ``msrgan.data.folders.load_folder``).
        split, revision: Hugging Face datasets: the split and the Hub revision.
        max_per_class: Keep only the first ``max_per_class`` images of each class (folders read no more).
        field_params: ``"varied"`` only: overrides of ``msrgan.data.varied.VARIED_DEFAULTS`` (e.g.
            ``{"oversampled_prob": 0.4}``); unknown names are an error naming them.
        progress: Show a progress bar (default: when the output is a terminal).

    Returns:
        A ``DataSource``.

    Raises:
        FileNotFoundError: ``spec`` is neither ``"synthetic"``, an existing folder nor a Hub id.
        ValueError: bad options, an empty folder, unreadable files with ``strict=True``, channel mismatch.

    Example:
        >>> load_source("synthetic", count=2, size=32).images[0].shape
        (32, 32, 3)
    """
    if count is not None and (isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 1):
        raise ValueError(f"count must be a positive int, got count={count!r}")
    if channels is not None:
        from msrgan.convention import check_channels

        channels = check_channels(channels)
    src = _load(os.fspath(spec), channels=channels, count=count, size=size, seed=seed, strict=strict,
                bit_depth=bit_depth, pattern=pattern, channel_order=channel_order, split=split, revision=revision,
                max_per_class=max_per_class, field_params=field_params, progress=progress)
    if max_per_class is not None and src.labels is not None and src.kind != "folder":
        keep, seen = [], {}
        for i, y in enumerate(src.labels.tolist()):
            seen[y] = seen.get(y, 0) + 1
            if seen[y] <= max_per_class:
                keep.append(i)
        src = src.subset(keep)
    return src


def _load(spec_str, *, channels, count, size, seed, strict, bit_depth, pattern, channel_order, split, revision,
          max_per_class, field_params, progress) -> DataSource:
    if field_params and spec_str != "varied":
        raise ValueError(f"field parameters {sorted(field_params)} apply to the 'varied' data only, not to {spec_str!r}")
    if spec_str == "synthetic":
        return _synthetic(channels=channels or 3, count=count or 130, size=size or 256, seed=seed,
                          bit_depth=bit_depth, progress=progress)
    if spec_str == "varied":
        return _varied(channels=channels or 1, count=count or 130, size=size or 256, seed=seed,
                       params=field_params or {}, progress=progress)
    path = Path(spec_str).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ValueError(f"{path}: a data source must be a folder (or 'synthetic' or a Hub id), not a file")
        if _is_hf_folder(path):
            from msrgan.data.hf import load_hf_source

            return load_hf_source(path, split=split, channels=channels, count=count, revision=revision,
                                  progress=progress)
        from msrgan.data.folders import load_folder

        return load_folder(path, channels=channels, strict=strict, pattern=pattern, channel_order=channel_order,
                           count=count, max_per_class=max_per_class, progress=progress)
    hub_id = spec_str
    for prefix in ("hf://datasets/", "hf://"):
        if hub_id.startswith(prefix):
            hub_id = hub_id[len(prefix):]
            break
    if is_repo_id(hub_id):
        from huggingface_hub.errors import RepositoryNotFoundError, RevisionNotFoundError

        from msrgan.data.hf import load_hf_source

        try:
            from datasets.exceptions import DatasetNotFoundError
        except ImportError:  # pragma: no cover - older datasets
            DatasetNotFoundError = RepositoryNotFoundError
        try:
            return load_hf_source(hub_id, split=split, channels=channels, count=count, revision=revision,
                                  progress=progress)
        except (DatasetNotFoundError, RepositoryNotFoundError, RevisionNotFoundError) as exc:
            raise FileNotFoundError(f"data source {spec_str!r} is not an existing folder, and the Hub has no dataset "
                                    f"{hub_id!r}{f' at revision {revision!r}' if revision else ''} "
                                    f"({type(exc).__name__})") from None
    raise FileNotFoundError(f"data source {spec_str!r} is not 'synthetic', an existing folder, or a Hub dataset "
                            "id 'owner/name'")


def _synthetic(*, channels: int, count: int, size, seed: int, bit_depth: int, progress) -> DataSource:
    from tqdm.auto import tqdm

    from msrgan.data.synthetic import CLASS_NAMES, iter_fields

    images, labels = [], []
    it = iter_fields(count, seed=seed, size=size, channels=channels, bit_depth=bit_depth)
    for img, y in tqdm(it, total=count, desc="synthesizing fields", unit="field", disable=tqdm_disable(progress)):
        images.append(img)
        labels.append(y)
    return DataSource(images=images, labels=np.asarray(labels, np.int64), class_names=CLASS_NAMES,
                      names=[f"synthetic-{seed}-{i:06d}" for i in range(count)], channels=channels,
                      kind="synthetic", spec="synthetic",
                      info={"generator": "msrgan.data.synthetic", "seed": seed, "size": size,
                            "channels": channels, "bit_depth": bit_depth, "count": count})


def _varied(*, channels: int, count: int, size, seed: int, params: dict, progress) -> DataSource:
    """Unlabelled fields of ``msrgan.data.varied`` (random object scale, noise, bit depth, ...)."""
    from tqdm.auto import tqdm

    from msrgan.data.varied import varied_field, varied_params

    varied_params(**params)  # unknown names fail here, before any field is drawn
    images = [varied_field((seed, i), size=size, channels=channels, **params)
              for i in tqdm(range(count), desc="drawing varied fields", unit="field", disable=tqdm_disable(progress))]
    return DataSource(images=images, labels=None, class_names=(), names=[f"varied-{seed}-{i:06d}" for i in range(count)],
                      channels=channels, kind="synthetic", spec="varied",
                      info={"generator": "msrgan.data.varied", "seed": seed, "size": size, "channels": channels,
                            "count": count, **({"field_params": dict(params)} if params else {})})
