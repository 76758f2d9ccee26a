"""Microscopy images as Hugging Face ``datasets``: build, publish with a dataset card, load back.

The format, readable with ``datasets`` alone (no msrgan needed):

- ``channel_0``, ``channel_1``, ...: one ``datasets.Image()`` column per channel, each cell one 2-D
  plane ``(Y, X)`` stored losslessly: PNG for 8/16-bit planes (grayscale, mode ``L`` / ``I;16``),
  TIFF for float planes (mode ``F``). Pillow, the default decoder, reads each exactly, so
  ``np.asarray(row["channel_1"])`` is the plane in its dtype (16-bit stays 16-bit). Stacked in
  column order the planes give ``(C, Y, X)``: axes ``CYX``, the order ``msrgan data synth`` writes
  its 4-channel TIFFs in and the order of the channels of its PNGs. ``msrgan.data`` itself works
  with ``(Y, X, C)`` arrays and moves the axis when reading.
- ``label``: a ``ClassLabel`` with the class names (the 13 localization classes by default);
- ``name``: the file name or id of each image.

Example without msrgan::

    import datasets, numpy as np
    row = datasets.load_dataset("owner/name", split="train")[0]
    cyx = np.stack([np.asarray(row[k]) for k in sorted(row) if k.startswith("channel_")])

Datasets pushed by earlier versions (one ``image`` column of ``Image(decode=False)`` holding PNG or
TIFF bytes of the whole ``(Y, X, C)`` image) are still read by :func:`from_hf_dataset` and
``msrgan.data.load_source``.

Example:
    >>> import numpy as np, tempfile
    >>> images = [np.full((32, 32, 4), 40000 + i, np.uint16) for i in range(3)]
    >>> ds = to_hf_dataset(images, [0, 5, 12])
    >>> ds.features["label"].names[5], list(ds.features)[:2]
    ('mitochondria', ['channel_0', 'channel_1'])
    >>> d = tempfile.mkdtemp()
    >>> ds.save_to_disk(d)
    >>> src = load_hf_source(d)
    >>> bool(np.array_equal(src.images[2], images[2])), src.labels.tolist()
    (True, [0, 5, 12])
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from msrgan.data.datasource import DataSource, tqdm_disable

IMAGE_FORMATS = ("auto", "png", "tiff")
CHANNEL_PREFIX = "channel_"  # one Image column per channel: channel_0, channel_1, ...
AXES = "CYX"  # the channel columns, stacked in order
TASK_CATEGORIES = ("image-classification", "image-to-image")
DEFAULT_LICENSE = "cc-by-4.0"


def _default_class_names() -> tuple[str, ...]:
    from msrgan.data.synthetic import CLASS_NAMES

    return CLASS_NAMES


# ------------------------------------------------------------------------------------------------
# encoding and decoding one image
# ------------------------------------------------------------------------------------------------


def encode_image(image: np.ndarray, image_format: str = "auto") -> tuple[bytes, str]:
    """Lossless bytes of an ``(H, W)`` or ``(H, W, C)`` image; returns ``(bytes, suffix)``.

    ``"auto"``: PNG for uint8/uint16 with 1 or 3 channels (16-bit RGB through pypng), TIFF otherwise.

    Example:
        >>> data, suffix = encode_image(np.zeros((4, 4, 4), np.uint16))
        >>> suffix, decode_image(data).shape
        ('.tif', (4, 4, 4))
    """
    a = np.asarray(image)
    if a.ndim == 2:
        a = a[..., None]
    if a.ndim != 3 or a.shape[-1] not in (1, 2, 3, 4) or a.size == 0:
        raise ValueError(f"cannot encode an image of shape {np.asarray(image).shape}; expected (H, W, C<=4)")
    if image_format not in IMAGE_FORMATS:
        raise ValueError(f"image_format must be one of {IMAGE_FORMATS}, got {image_format!r}")
    png_ok = a.dtype in (np.uint8, np.uint16) and a.shape[-1] in (1, 3)
    if image_format == "png" and not png_ok:
        raise ValueError(f"PNG holds uint8/uint16 images with 1 or 3 channels, got {a.dtype} with {a.shape[-1]}; "
                         "use image_format='tiff'")
    buf = io.BytesIO()
    if image_format == "tiff" or not png_ok:
        import tifffile

        if a.shape[-1] == 1:
            tifffile.imwrite(buf, a[..., 0], photometric="minisblack")
        else:
            tifffile.imwrite(buf, a, photometric="minisblack", planarconfig="contig")
        return buf.getvalue(), ".tif"
    if a.dtype == np.uint16 and a.shape[-1] == 3:
        import png

        h, w, c = a.shape
        png.Writer(w, h, greyscale=False, bitdepth=16).write(buf, a.reshape(h, w * c))
    else:
        from PIL import Image

        Image.fromarray(a[..., 0] if a.shape[-1] == 1 else a).save(buf, format="PNG")
    return buf.getvalue(), ".png"


def decode_image(value) -> np.ndarray:
    """``(H, W, C)`` array, in its stored dtype, from a dataset image cell.

    Accepts ``{"bytes": ..., "path": ...}`` (``Image(decode=False)``), raw bytes, a PIL image, or an
    array/nested list (``Array3D`` columns). A cell with only a ``path`` is read from that file.
    """
    if isinstance(value, dict):
        data = value.get("bytes")
        if data is None:
            path = value.get("path")
            if not path:
                raise ValueError("image cell has neither bytes nor a path")
            from msrgan.data.io import read_image

            return read_image(path)
        value = data
    if isinstance(value, (bytes, bytearray, memoryview)):
        arr = _decode_bytes(bytes(value))
    elif hasattr(value, "getbands"):  # a PIL image
        arr = np.array(value)
    else:
        arr = np.asarray(value)
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3:
        raise ValueError(f"decoded image has shape {arr.shape}; expected (H, W) or (H, W, C)")
    return arr


def _decode_bytes(data: bytes) -> np.ndarray:
    if data[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        import tifffile

        with tifffile.TiffFile(io.BytesIO(data)) as tif:
            series = tif.series[0]
            arr = series.asarray()
            axes = series.axes
        if arr.ndim == 3 and axes[0] in "CSQI" and not axes.endswith("S"):
            arr = np.moveaxis(arr, 0, -1)
        return arr
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 25 and data[24] == 16 and data[25] in (2, 4, 6):
        import png

        w, h, rows, info = png.Reader(bytes=data).asDirect()
        return np.vstack([np.asarray(r, dtype=np.uint16) for r in rows]).reshape(h, w, info["planes"])
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        im.load()
        if im.mode in ("I;16", "I;16B", "I;16L"):
            return np.array(im, dtype=np.uint16)
        if im.mode in ("P", "CMYK", "YCbCr", "1"):
            im = im.convert("RGB")
        return np.array(im)


# ------------------------------------------------------------------------------------------------
# building and loading datasets
# ------------------------------------------------------------------------------------------------


def channel_columns(features) -> list[str]:
    """The per-channel image columns of a dataset's features, in channel order (``channel_0``, ...)."""
    out = []
    while f"{CHANNEL_PREFIX}{len(out)}" in features:
        out.append(f"{CHANNEL_PREFIX}{len(out)}")
    return out


def encode_plane(plane: np.ndarray, image_format: str = "auto") -> tuple[bytes, str]:
    """Lossless bytes of one ``(H, W)`` plane that Pillow decodes exactly; returns ``(bytes, suffix)``.

    PNG (grayscale ``L`` or ``I;16``) for uint8/uint16, TIFF otherwise (float32 planes read as
    Pillow's mode ``F``) or when ``image_format="tiff"``.

    Example:
        >>> data, suffix = encode_plane(np.full((4, 4), 60000, np.uint16))
        >>> suffix, decode_image(data).dtype
        ('.png', dtype('uint16'))
    """
    a = np.asarray(plane)
    if a.ndim != 2 or a.size == 0:
        raise ValueError(f"cannot encode a plane of shape {a.shape}; expected (H, W)")
    if image_format not in IMAGE_FORMATS:
        raise ValueError(f"image_format must be one of {IMAGE_FORMATS}, got {image_format!r}")
    png_ok = a.dtype in (np.uint8, np.uint16)
    if image_format == "png" and not png_ok:
        raise ValueError(f"PNG holds uint8/uint16 planes, got {a.dtype}; use image_format='tiff'")
    if a.dtype.kind == "f" and a.dtype != np.float32:
        a = a.astype(np.float32) if np.array_equal(a.astype(np.float32), a) else a
    if a.dtype.kind == "f" and a.dtype != np.float32:
        raise ValueError(f"{a.dtype} planes cannot be stored exactly for Pillow; convert them to float32 first")
    buf = io.BytesIO()
    if image_format == "tiff" or not png_ok:
        import tifffile

        tifffile.imwrite(buf, np.ascontiguousarray(a), photometric="minisblack")
        return buf.getvalue(), ".tif"
    from PIL import Image

    Image.fromarray(np.ascontiguousarray(a)).save(buf, format="PNG")
    return buf.getvalue(), ".png"


def to_hf_dataset(
    images: Sequence[np.ndarray],
    labels: Sequence[int] | None = None,
    *,
    class_names: Sequence[str] | None = None,
    names: Sequence[str] | None = None,
    image_format: str = "auto",
    progress: bool | None = None,
):
    """A ``datasets.Dataset`` with one exact ``Image`` column per channel, a ``label`` and a ``name``.

    Args:
        images: ``(H, W, C)`` arrays (uint8, uint16 or float32; sizes may differ, the channel count
            may not), or an ``(N, H, W, C)`` array.
        labels: Class ids, one per image, or ``None`` (no ``label`` column).
        class_names: Names of the class ids (default: the 13 localization classes).
        names: One name per image (default ``image_000000``...).
        image_format: How each plane is stored: ``"auto"`` (PNG for 8/16-bit, TIFF for floats),
            ``"png"`` or ``"tiff"`` (see :func:`encode_plane`). All are exact.
        progress: Show a progress bar (default: when the output is a terminal).

    Returns:
        ``datasets.Dataset`` with columns ``channel_0`` ... ``channel_{C-1}`` (``Image()``, one
        ``(H, W)`` plane each: axes ``CYX`` in column order), ``label`` (``ClassLabel``) and
        ``name`` (string).

    Example:
        >>> ds = to_hf_dataset([np.zeros((8, 8, 1), np.uint16)], [2])
        >>> ds.features["label"].int2str(2), np.asarray(ds[0]["channel_0"]).dtype
        ('nucleoli', dtype('uint16'))
    """
    import datasets
    from tqdm.auto import tqdm

    images = list(images)
    if not images:
        raise ValueError("images is empty")
    class_names = tuple(class_names) if class_names is not None else _default_class_names()
    if names is None:
        names = [f"image_{i:06d}" for i in range(len(images))]
    names = [str(n) for n in names]
    if len(names) != len(images):
        raise ValueError(f"{len(images)} images but {len(names)} names")
    first = np.asarray(images[0])
    channels = 1 if first.ndim == 2 else first.shape[-1]
    columns: dict[str, list] = {f"{CHANNEL_PREFIX}{c}": [] for c in range(channels)}
    for i, (img, name) in enumerate(tqdm(list(zip(images, names)), desc="encoding images", unit="image",
                                         disable=tqdm_disable(progress))):
        a = np.asarray(img)
        a = a[..., None] if a.ndim == 2 else a
        if a.ndim != 3 or a.shape[-1] not in (1, 2, 3, 4):
            raise ValueError(f"image {i} ({name}) has shape {np.asarray(img).shape}; expected (H, W, C<=4)")
        if a.shape[-1] != channels:
            raise ValueError(f"image {i} ({name}) has {a.shape[-1]} channel(s), image 0 has {channels}; "
                             "a dataset holds one channel count")
        stem = Path(name).with_suffix("").as_posix() if Path(name).suffix else name
        for c in range(channels):
            data, suffix = encode_plane(a[..., c], image_format)
            columns[f"{CHANNEL_PREFIX}{c}"].append({"bytes": data, "path": f"{stem}_c{c}{suffix}"})
    features = {k: datasets.Image() for k in columns}
    if labels is not None:
        labels = np.asarray(labels, dtype=np.int64)
        if labels.shape != (len(images),):
            raise ValueError(f"labels must have shape ({len(images)},), got {labels.shape}")
        if len(labels) and (labels.min() < 0 or labels.max() >= len(class_names)):
            raise ValueError(f"labels must lie in 0..{len(class_names) - 1}, got {labels.min()}..{labels.max()}")
        columns["label"] = labels.tolist()
        features["label"] = datasets.ClassLabel(names=list(class_names))
    columns["name"] = names
    features["name"] = datasets.Value("string")
    return datasets.Dataset.from_dict(columns, features=datasets.Features(features))


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


# ------------------------------------------------------------------------------------------------
# publishing
# ------------------------------------------------------------------------------------------------


def size_category(n: int) -> str:
    """The Hub's ``size_categories`` tag for ``n`` examples (``"n<1K"``, ``"1K<n<10K"``, ...)."""
    bounds = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
              (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M"), (1_000_000_000, "100M<n<1B")]
    for bound, tag in bounds:
        if n < bound:
            return tag
    return "n>1T" if n >= 10 ** 12 else "1B<n<10B"


def dataset_card(ds, repo_id: str, *, license: str = DEFAULT_LICENSE, pretty_name: str | None = None,
                 description: str | None = None, generation: str | None = None,
                 channel_names: Sequence[str] | None = None, tags: Sequence[str] = ()) -> tuple[dict, str]:
    """Front-matter metadata and Markdown body of the dataset card for ``ds``.

    Args:
        ds: The dataset (its size, label names and image encodings are described).
        repo_id: Where it is published (used in the loading snippet).
        license: An SPDX-style Hub license id, e.g. ``cc-by-4.0``.
        pretty_name: Human title (default: the repo name).
        description: One paragraph on what the images are.
        generation: How the dataset was made (command line, generator parameters, source).
        channel_names: Meaning of each channel, in order.
        tags: Extra Hub tags.

    Returns:
        ``(metadata dict, markdown body)``.
    """
    import datasets

    n = len(ds)
    label_feat = ds.features.get("label")
    names = list(label_feat.names) if isinstance(label_feat, datasets.ClassLabel) else []
    meta = {
        "license": license,
        "task_categories": list(TASK_CATEGORIES),
        "size_categories": [size_category(n)],
        "tags": sorted({"microscopy", "fluorescence", "super-resolution", "high-content-screening", "msrgan",
                        *tags}),
        "pretty_name": pretty_name or repo_id.split("/")[-1],
    }
    lines = [f"# {meta['pretty_name']}", ""]
    lines += [description or "Fluorescence microscopy images for super-resolution (mSRGAN) and protein-localization "
              "classification.", ""]
    lines += ["## How it was generated", "", generation or "Not recorded.", ""]
    cols = channel_columns(ds.features)
    kind = "uint8/uint16/float32"
    if cols and n:
        first = ds.select(range(1)).cast_column(cols[0], datasets.Image(decode=False))[0][cols[0]]
        kind = str(decode_image(first).dtype)
    lines += ["## Structure", "", f"- {n} image(s), one split `train`."]
    lines += [f"- `{CHANNEL_PREFIX}0` ... `{CHANNEL_PREFIX}{max(len(cols), 1) - 1}`: one `datasets.Image()` column per "
              f"channel, each cell one `(Y, X)` plane of dtype {kind}, stored losslessly (PNG for 8/16-bit planes, "
              "TIFF for float planes). Pillow (the default decoder) reads them exactly: 16-bit stays 16-bit.",
              f"- Axes: the channel columns stacked in order give `(C, Y, X)` (`{AXES}`), the order `msrgan data "
              "synth` writes its 4-channel TIFFs in."]
    if channel_names:
        lines += ["- Channels: " + ", ".join(f"`{CHANNEL_PREFIX}{i}` {c}" for i, c in enumerate(channel_names)) + "."]
    if names:
        lines += [f"- `label`: `ClassLabel` with {len(names)} protein-localization classes."]
    lines += ["- `name`: the source file name or id.", ""]
    if names:
        counts = np.bincount(np.asarray(ds["label"], dtype=np.int64), minlength=len(names))
        lines += ["| id | class | images |", "|---:|---|---:|"]
        lines += [f"| {i} | {c} | {counts[i]} |" for i, c in enumerate(names)]
        lines += [""]
    lines += ["## Loading", "", "With `datasets` alone:", "", "```python", "import datasets, numpy as np", "",
              f'ds = datasets.load_dataset("{repo_id}", split="train")', "row = ds[0]",
              f'image = np.stack([np.asarray(row[k]) for k in ds.column_names if k.startswith("{CHANNEL_PREFIX}")])'
              f"  # (C, Y, X), {kind}",
              "```", "", "With msrgan (arrays `(Y, X, C)`, labels and class names):", "", "```python",
              "from msrgan.data import load_source", "",
              f'src = load_source("{repo_id}")', "```", ""]
    return meta, "\n".join(lines)


def push_dataset(ds, repo_id: str, *, license: str = DEFAULT_LICENSE, pretty_name: str | None = None,
                 description: str | None = None, generation: str | None = None,
                 channel_names: Sequence[str] | None = None, tags: Sequence[str] = (), private: bool | None = None,
                 token: str | None = None, revision: str | None = None, commit_message: str | None = None) -> str:
    """Pushes ``ds`` to the Hub as parquet shards (through LFS), with a dataset card README.md.

    The card's YAML front matter has ``license``, ``task_categories``, ``size_categories``, ``tags``,
    ``pretty_name`` and the ``dataset_info``/``configs`` that ``datasets`` writes; its body says how the
    data were generated, the structure, the class counts and how to load it (see ``dataset_card``).

    Args:
        ds: A dataset from ``to_hf_dataset`` (or any with an image column).
        repo_id: ``owner/name`` of the dataset repository (created if needed).
        license, pretty_name, description, generation, channel_names, tags: For the card.
        private, token, revision: Passed to the Hub client.
        commit_message: Message of the data commit.

    Returns:
        The dataset's Hub URL.

    Raises:
        ValueError: The Hub refused the push (e.g. a rejected token), cannot be reached, or an upload
            failed: one line naming the repository and the endpoint, never the token
            (``zoo.hub.errors``, as for model pushes).

    Example (needs a Hub; the tests use a local server)::

        push_dataset(to_hf_dataset(images, labels), "me/hcs-synthetic", generation="msrgan data synth ...")
    """
    from huggingface_hub import DatasetCard, DatasetCardData, constants, hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError

    from zoo import hub

    meta, body = dataset_card(ds, repo_id, license=license, pretty_name=pretty_name, description=description,
                              generation=generation, channel_names=channel_names, tags=tags)
    with hub.errors(f"Pushing the dataset {repo_id}", token=token):
        ds.push_to_hub(repo_id, private=private, token=token, revision=revision,
                       commit_message=commit_message or f"Upload {len(ds)} images with msrgan")
        try:  # keep the dataset_info and configs that push_to_hub wrote into the card
            path = hf_hub_download(repo_id, "README.md", repo_type="dataset", revision=revision, token=token)
            data = DatasetCard.load(path).data.to_dict()
        except EntryNotFoundError:
            data = {}
        data.update(meta)
        info = data.get("dataset_info")
        if isinstance(info, dict) and hasattr(ds.features, "_to_yaml_list"):
            # datasets keeps the features of an earlier push to this repository (say, another channel
            # count) in the card; the card must describe the data just pushed
            info["features"] = ds.features._to_yaml_list()
        card = DatasetCard(f"---\n{DatasetCardData(**data).to_yaml()}\n---\n\n{body}")
        card.push_to_hub(repo_id, token=token, repo_type="dataset", revision=revision,
                         commit_message="Dataset card (msrgan)")
    return f"{constants.ENDPOINT}/datasets/{repo_id}"
