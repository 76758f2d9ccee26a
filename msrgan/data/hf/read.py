"""Reading datasets: ``load_hf_dataset`` (a folder or Hub id), ``from_hf_dataset`` (exact arrays,
labels and class names as a ``DataSource``) and ``load_hf_source`` (both)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from msrgan.data.datasource import DataSource, tqdm_disable
from msrgan.data.hf.encoding import AXES, channel_columns, decode_image


def load_hf_dataset(spec: str | os.PathLike, *, split: str = "train", revision: str | None = None):
    """A ``datasets.Dataset`` from a local ``save_to_disk`` folder, a local parquet folder or a Hub id.

    Args:
        spec: Folder path or ``owner/name`` (``hf://`` prefixes are accepted).
        split: Split to return when the source has several (``DatasetDict``).
        revision: Hub revision (branch, tag or commit).

    Returns:
        ``datasets.Dataset``.
    """
    import datasets

    spec = os.fspath(spec)
    path = Path(spec).expanduser()
    if path.is_dir():
        if any((path / f).is_file() for f in ("dataset_info.json", "state.json", "dataset_dict.json")):
            ds = datasets.load_from_disk(str(path))
        else:
            ds = datasets.load_dataset(str(path))
    else:
        for prefix in ("hf://datasets/", "hf://"):
            if spec.startswith(prefix):
                spec = spec[len(prefix):]
                break
        ds = datasets.load_dataset(spec, revision=revision)
    if isinstance(ds, datasets.DatasetDict):
        if split not in ds:
            raise ValueError(f"{spec}: no split {split!r}; it has {sorted(ds)}")
        ds = ds[split]
    return ds


def from_hf_dataset(ds, *, channels: int | None = None, count: int | None = None, image_column: str | None = None,
                    label_column: str | None = None, spec: str = "", progress: bool | None = None) -> DataSource:
    """A ``DataSource`` (exact arrays, labels, class names) from a ``datasets.Dataset``.

    The image column is ``image_column``, else the first ``Image`` feature, else a column named
    ``image``; the label column is ``label_column``, else the first ``ClassLabel``.
    """
    import datasets

    feats = ds.features
    if image_column is None and channel_columns(feats):
        return _from_channel_columns(ds, channels=channels, count=count, label_column=label_column, spec=spec,
                                     progress=progress)
    from tqdm.auto import tqdm

    if image_column is None:
        image_column = next((k for k, f in feats.items() if isinstance(f, datasets.Image)),
                            "image" if "image" in feats else None)
    if image_column is None or image_column not in feats:
        raise ValueError(f"{spec or 'dataset'}: no image column among {list(feats)}; pass image_column=")
    label_column = _label_column(feats, label_column, spec)
    sub, n = _first_rows(ds, [image_column], count, spec)
    images, names = [], []
    name_col = "name" if "name" in feats else None
    for i, row in enumerate(tqdm(sub, total=n, desc="decoding images", unit="image", disable=tqdm_disable(progress))):
        cell = row[image_column]
        try:
            img = decode_image(cell)
        except (ValueError, OSError) as exc:
            raise ValueError(f"{spec or 'dataset'}: row {i} ({_cell_name(cell, row, name_col)}): "
                             f"cannot decode the image ({exc})") from None
        if channels is not None and img.shape[-1] != channels:
            raise ValueError(f"channel-count mismatch: {spec or 'dataset'} row {i} ({_cell_name(cell, row, name_col)})"
                             f" has {img.shape[-1]} channel(s) but {channels} are expected")
        if images and img.shape[-1] != images[0].shape[-1]:
            raise ValueError(f"channel-count mismatch: {spec or 'dataset'} row {i} has {img.shape[-1]} channel(s), "
                             f"row 0 has {images[0].shape[-1]}")
        images.append(img)
        names.append(_cell_name(cell, row, name_col))
    labels, class_names = _labels(sub, feats, label_column)
    c = images[0].shape[-1]
    if c not in (1, 3, 4):
        raise ValueError(f"{spec or 'dataset'}: images have {c} channels; msrgan works with 1, 3 or 4")
    return DataSource(images=images, labels=labels, class_names=class_names, names=names, channels=c, kind="hf",
                      spec=spec, info={"image_column": image_column, "label_column": label_column})


def _first_rows(ds, image_columns, count, spec):
    """``(the first count rows, their number)``, the image columns undecoded (their stored bytes, decoded
    exactly by ``decode_image``); a ValueError for an empty dataset."""
    import datasets

    for k in image_columns:
        if isinstance(ds.features[k], datasets.Image) and ds.features[k].decode:
            ds = ds.cast_column(k, datasets.Image(decode=False))
    n = len(ds) if count is None else min(count, len(ds))
    if n == 0:
        raise ValueError(f"{spec or 'dataset'}: the dataset is empty")
    return (ds.select(range(n)) if n < len(ds) else ds), n


def _label_column(feats, label_column, spec):
    import datasets

    if label_column is None:
        return next((k for k, f in feats.items() if isinstance(f, datasets.ClassLabel)), None)
    if label_column not in feats:
        raise ValueError(f"{spec or 'dataset'}: no column {label_column!r} among {list(feats)}")
    return label_column


def _labels(sub, feats, label_column):
    """(labels array or None, class names) of the label column."""
    import datasets

    if label_column is None:
        return None, ()
    labels = np.asarray(sub[label_column], dtype=np.int64)
    f = feats[label_column]
    class_names = tuple(f.names) if isinstance(f, datasets.ClassLabel) else tuple(
        str(i) for i in range(int(labels.max()) + 1))
    return labels, class_names


def _from_channel_columns(ds, *, channels, count, label_column, spec, progress) -> DataSource:
    """A ``DataSource`` from the per-channel ``Image`` columns (``channel_0``...), stacked to ``(H, W, C)``."""
    from tqdm.auto import tqdm

    feats = ds.features
    cols = channel_columns(feats)
    where = spec or "dataset"
    if channels is not None and len(cols) != channels:
        raise ValueError(f"channel-count mismatch: {where} has {len(cols)} channel column(s) but {channels} "
                         "are expected")
    if len(cols) not in (1, 3, 4):
        raise ValueError(f"{where}: images have {len(cols)} channels; msrgan works with 1, 3 or 4")
    label_column = _label_column(feats, label_column, spec)
    sub, n = _first_rows(ds, cols, count, spec)
    name_col = "name" if "name" in feats else None
    images, names = [], []
    for i, row in enumerate(tqdm(sub, total=n, desc="decoding images", unit="image", disable=tqdm_disable(progress))):
        name = str(row[name_col]) if name_col else f"row {i}"
        planes = []
        for k in cols:
            try:
                plane = decode_image(row[k])
            except (ValueError, OSError) as exc:
                raise ValueError(f"{where}: row {i} ({name}), column {k}: cannot decode the image ({exc})") from None
            if plane.shape[-1] != 1:
                raise ValueError(f"{where}: row {i} ({name}), column {k} holds {plane.shape[-1]} channels; "
                                 "each channel column holds one plane")
            planes.append(plane[..., 0])
        if len({p.shape for p in planes}) > 1 or len({p.dtype for p in planes}) > 1:
            raise ValueError(f"{where}: row {i} ({name}): the channel planes differ in shape or dtype "
                             f"({[(p.shape, str(p.dtype)) for p in planes]})")
        images.append(np.stack(planes, axis=-1))
        names.append(name)
    labels, class_names = _labels(sub, feats, label_column)
    return DataSource(images=images, labels=labels, class_names=class_names, names=names, channels=len(cols),
                      kind="hf", spec=spec, info={"image_columns": cols, "axes": AXES, "label_column": label_column})


def _cell_name(cell, row, name_col) -> str:
    if name_col:
        return str(row[name_col])
    if isinstance(cell, dict) and cell.get("path"):
        return str(cell["path"])
    return "?"


def load_hf_source(spec, *, split: str = "train", channels: int | None = None, count: int | None = None,
                   revision: str | None = None, progress: bool | None = None) -> DataSource:
    """``load_hf_dataset`` then ``from_hf_dataset``: a ``DataSource`` from a dataset folder or Hub id."""
    ds = load_hf_dataset(spec, split=split, revision=revision)
    return from_hf_dataset(ds, channels=channels, count=count, spec=os.fspath(spec), progress=progress)
