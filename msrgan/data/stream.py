"""Training data larger than memory: a lazy folder source, and ``open_training_source``, which streams
when the data would not fit a memory budget.

``open_lazy_folder(path)`` takes what ``load_folder`` takes (the CYTO2017, class-subfolder, flat and
per-channel layouts; 8/16-bit TIFF, PNG, JPEG; 1, 3 or 4 channels; the same axes rules) and returns the
same ``DataSource`` (names, labels, class names, skipped files) whose ``images`` are ``LazyImage``s
(``msrgan.data.lazy``): nothing but the headers is read until a patch is cut. ``PatchDataset`` takes
them as it takes arrays, and draws the same batches for the same seed: the same images in the same order,
the same crops, and per-image percentile statistics that are exactly those of the whole image (fitted
on first use, from a histogram read band by band: ``msrgan.data.imagestats``).

What differs from the in-memory source:

- Opening reads headers (and checks that a TIFF's file holds the pixels its header promises), not
  pixels: an unreadable header, a truncated TIFF or refused axes skip the file with a warning (or
  raise with ``strict=True``), as ``load_folder`` does; pixel data that is corrupt past a valid header
  is found when the image is first read, and raises a ValueError naming the file (``verify=True``
  decodes every file once at opening, finding them all up front, as ``load_folder`` does).
- Memory: the decoded-image cache (``cache_bytes``) holds whole images only for formats that cannot be
  read by region (PNG, JPEG, unusual TIFFs); TIFFs are read region by region (``msrgan.data.lazy``).

``open_training_source(spec, max_memory=...)`` estimates the decoded size from the headers, loads in
memory (``load_source``) when it fits and streams otherwise, and says which in a log line (and in
``src.info["loading"]``).

Example:
    >>> import tempfile, numpy as np
    >>> from msrgan.data.io import write_image
    >>> d = tempfile.mkdtemp()
    >>> for i in range(3):
    ...     _ = write_image(f"{d}/0{i}_field.tif", np.full((64, 64, 4), 1000 * i, np.uint16))
    >>> src = open_training_source(d, max_memory=50_000)
    >>> src.info["streaming"], len(src), src.images[1][:2, :2, 0].tolist()
    (True, 3, [[1000, 1000], [1000, 1000]])
"""

from __future__ import annotations

import logging
import os
import re
import warnings
from typing import Sequence

import numpy as np

from msrgan.data.datasource import DataSource
from msrgan.data.file_regions import probe_file
from msrgan.data.image_store import ImageStore
from msrgan.data.lazy import LazyImage

__all__ = ["DEFAULT_CACHE_BYTES", "default_max_memory", "estimate_bytes", "open_lazy_folder",
           "open_training_source", "parse_bytes", "training_patches"]

logger = logging.getLogger(__name__)
DEFAULT_CACHE_BYTES = 256 * 2**20
_UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9, "gb": 10**9, "t": 10**12,
          "tb": 10**12, "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


def parse_bytes(value) -> int:
    """A byte count from an int or a text such as ``"400M"``, ``"8GB"``, ``"2GiB"`` (k/M/G/T are powers
    of 1000, KiB/MiB/GiB/TiB of 1024).

    Example:
        >>> parse_bytes("400M"), parse_bytes("2GiB"), parse_bytes(1024)
        (400000000, 2147483648, 1024)
    """
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value > 0:
        return int(value)
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([a-zA-Z]*)\s*", str(value))
    if not m or m.group(2).lower() not in _UNITS or float(m.group(1)) <= 0:
        raise ValueError(f"max_memory must be a positive byte count such as 400M, 8G or 2GiB, got {value!r}")
    return int(float(m.group(1)) * _UNITS[m.group(2).lower()])


def default_max_memory() -> int:
    """Half of this machine's physical memory: the budget when none is given."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2
    except (ValueError, OSError, AttributeError):  # pragma: no cover - not POSIX
        return 8 * 10**9


def open_lazy_folder(
    path: str | os.PathLike,
    *,
    channels: int | None = None,
    strict: bool = False,
    pattern: str | None = None,
    channel_order: Sequence[str] | None = None,
    class_names: Sequence[str] | None = None,
    count: int | None = None,
    max_per_class: int | None = None,
    cache_bytes: int = DEFAULT_CACHE_BYTES,
    max_open: int = 16,
    verify: bool = False,
    process_id: int = 0,
    num_processes: int = 1,
) -> DataSource:
    """A folder's images as ``load_folder`` finds them, read on demand (see the module documentation).

    Args:
        path, channels, strict, pattern, channel_order, class_names, count, max_per_class: As
            ``msrgan.data.folders.load_folder``.
        cache_bytes: Budget of the decoded-image cache (whole images of formats not read by region).
        max_open: Open files kept per worker (process and thread).
        verify: Decode every file once at opening (a pass over the data, one image in memory at a time),
            so that files with corrupt pixel data are skipped (or raise) now rather than when first read.
        process_id, num_processes: Keep only this process's shard of the images (``msrgan.data.shard``);
            only its files are opened.

    Returns:
        A ``DataSource`` (``kind="folder"``) of ``LazyImage``s sharing one ``ImageStore``
        (``src.info["store"]``); ``info["streaming"]`` is True.
    """
    from msrgan.data.folder_layouts import scan_folder
    from msrgan.data.folders import check_count, check_plane, folder_source, read_or_skip
    from msrgan.data.shard import check_shard, shard_indices

    check_shard(process_id, num_processes)
    scan = scan_folder(path, channels=channels, strict=strict, pattern=pattern, channel_order=channel_order,
                       class_names=class_names, count=count, max_per_class=max_per_class)
    if len(scan.entries) < num_processes:
        raise ValueError(f"{scan.root} has {len(scan.entries)} image(s), fewer than num_processes={num_processes}: "
                         "every process needs at least one")
    store = ImageStore(cache_bytes=cache_bytes, max_open=max_open)
    keep = shard_indices(len(scan.entries), process_id=process_id, num_processes=num_processes)
    root, channels = scan.root, scan.channels
    images, labels, names, skipped = [], [], [], list(scan.skipped)
    first = None
    for i in keep:
        files = scan.entries[i]
        layouts = []
        for f in files:
            lay = read_or_skip(f, strict, skipped, root, reader=_verified if verify else probe_file)
            if lay is None:
                break
            if len(files) > 1:
                check_plane(lay.shape, lay.dtype, f, layouts[0].shape if layouts else None,
                            layouts[0].dtype if layouts else None, files[0])
            layouts.append(lay)
        if len(layouts) != len(files):
            continue
        im = LazyImage(layouts, store, name=scan.names[i])
        first = first or files[0]
        channels = check_count(im, channels, files[0], first)
        images.append(im)
        names.append(scan.names[i])
        if scan.labels is not None:
            labels.append(scan.labels[i])
    src = folder_source(root, images, labels if scan.labels is not None else None, names, channels, skipped,
                        (scan.layout, scan.class_names))
    src.info.update(scan.info)
    src.info.update({"streaming": True, "store": store, "cache_bytes": int(cache_bytes)})
    if num_processes > 1:
        src.info["shard"] = {"process_id": process_id, "num_processes": num_processes, "of_images": len(scan.entries)}
    return src


def _verified(path):
    """``probe_file``, after decoding the file once (``read_image``): corrupt pixel data fails here."""
    from msrgan.data.io import read_image

    layout = probe_file(path)
    read_image(path)
    return layout


def estimate_bytes(spec, **kwargs) -> tuple[int, int]:
    """``(decoded bytes, images)`` of a folder from its files' headers (no pixel is read).

    ``kwargs`` are ``scan_folder``'s (``pattern``, ``channel_order``, ``count``, ``max_per_class``).
    Files whose header cannot be read are not counted.
    """
    from msrgan.data.folder_layouts import scan_folder

    scan = scan_folder(spec, **kwargs)
    total = n = 0
    for files in scan.entries:
        try:
            total += sum(int(np.prod(lay.shape)) * lay.dtype.itemsize for lay in map(probe_file, files))
            n += 1
        except (ValueError, OSError):
            continue
    return total, n


def open_training_source(
    spec: str | os.PathLike,
    *,
    max_memory=None,
    streaming: bool | None = None,
    cache_bytes: int | None = None,
    process_id: int = 0,
    num_processes: int = 1,
    **kwargs,
):
    """The training data of ``spec``, in memory when it fits ``max_memory`` and streamed otherwise.

    Args:
        spec: What ``load_source`` takes: ``"synthetic"``, ``"varied"``, an image folder, a Hugging Face
            dataset folder or Hub id.
        max_memory: Budget for the decoded images, in bytes or as text (``"400M"``, ``"8G"``); default
            half the machine's memory (``default_max_memory``).
        streaming: Force streaming (True) or loading (False); default: decided by the estimate.
        cache_bytes: Streaming folders: the decoded-image cache (default a quarter of ``max_memory``, at
            most 256 MB).
        process_id, num_processes: This process's shard (``msrgan.data.shard``); checked first.
        **kwargs: ``load_source``'s options (``channels``, ``count``, ``size``, ``seed``, ``strict``,
            ``pattern``, ``channel_order``, ``split``, ``revision``, ``max_per_class``, ...).

    Returns:
        A ``DataSource`` (arrays, or ``LazyImage``s for a streamed folder) or, for a streamed Hugging Face
        dataset, an ``msrgan.data.hf.stream.HFStreamSource``. ``info["streaming"]``, ``info["estimated_bytes"]``
        and ``info["loading"]`` (the sentence also logged) say what was decided and why.

    Synthetic data (``"synthetic"``, ``"varied"``) is generated in memory in any case.
    """
    from msrgan.data.shard import check_shard, shard_source
    from msrgan.data.source import load_source, source_kind

    check_shard(process_id, num_processes)
    budget = default_max_memory() if max_memory is None else parse_bytes(max_memory)
    kind = source_kind(spec)
    if kind == "synthetic":
        src = shard_source(load_source(spec, **kwargs), process_id=process_id, num_processes=num_processes)
        return _decided(src, False, None, budget, f"{spec}: generated in memory (synthetic data always is)")
    if kind == "hf":
        from msrgan.data.hf.stream import estimate_hf_bytes, open_hf_stream

        hf_args = {k: kwargs[k] for k in ("split", "revision", "channels", "count") if k in kwargs}
        est = estimate_hf_bytes(spec, **{k: v for k, v in hf_args.items() if k != "channels"})
        if _stream(streaming, est, budget):
            src = open_hf_stream(spec, process_id=process_id, num_processes=num_processes, **hf_args)
            return _decided(src, True, est, budget, f"{spec}: streaming the Hugging Face dataset")
        src = shard_source(load_source(spec, **kwargs), process_id=process_id, num_processes=num_processes)
        return _decided(src, False, est, budget, f"{spec}: loading into memory")
    folder_args = {k: kwargs[k] for k in ("pattern", "channel_order", "count", "max_per_class") if k in kwargs}
    est, _ = estimate_bytes(spec, **folder_args)
    if _stream(streaming, est, budget):
        cache = min(DEFAULT_CACHE_BYTES, budget // 4) if cache_bytes is None else int(cache_bytes)
        lazy_args = {k: kwargs[k] for k in ("channels", "strict") if k in kwargs}
        src = open_lazy_folder(spec, cache_bytes=cache, process_id=process_id, num_processes=num_processes,
                               **folder_args, **lazy_args)
        _warn_whole_decodes(spec, src.images, cache)
        return _decided(src, True, est, budget, f"{spec}: streaming from the files",
                        f"decoded-image cache {cache / 1e6:,.0f} MB")
    src = shard_source(load_source(spec, **kwargs), process_id=process_id, num_processes=num_processes)
    return _decided(src, False, est, budget, f"{spec}: loading into memory")


def _warn_whole_decodes(spec, images, cache_bytes: int) -> None:
    """Warns when streamed images that can only be decoded whole (PNG, JPEG, TIFFs of other layouts) do
    not fit the decoded-image cache: a patch of one not in the cache then costs the whole file
    (2048x2048x3 16-bit PNGs: 3 patches/s on 2 cores, against about 3900 from uncompressed TIFFs
    read by region: ``scripts/bench_formats.py``)."""
    whole = [im for im in images if getattr(im, "kind", None) == "decoded"]
    decoded = sum(im.nbytes for im in whole)
    if decoded > cache_bytes:
        warnings.warn(f"{spec}: {len(whole)} of {len(images)} streamed images (PNG, JPEG or TIFFs of other "
                      f"layouts, {decoded / 1e6:,.0f} MB decoded, more than the "
                      f"{cache_bytes / 1e6:,.0f} MB decoded-image cache) cannot be read by region, so a patch of one "
                      "that is not in the cache decodes the whole file, far slower than a TIFF read; `msrgan data "
                      f"convert {spec} {str(spec).rstrip('/')}-tif` rewrites the folder once as uncompressed TIFFs, "
                      "which stream at full speed (a --pattern then names .tif)", stacklevel=3)


def _stream(streaming, est, budget) -> bool:
    return bool(streaming) if streaming is not None else (est is None or est > budget)


def _decided(src, streaming: bool, est, budget: int, what: str, note: str = ""):
    """Records (and logs) what ``open_training_source`` decided, and why."""
    size = ("size unknown" if streaming else "") if est is None else (
        f"about {est / 1e6:,.0f} MB decoded, {'more' if est > budget else 'not more'} than max_memory="
        f"{budget / 1e6:,.0f} MB")
    line = "; ".join(p for p in (f"{what}: {size}" if size else what, note) if p)
    logger.info(line)
    src.info.update({"streaming": streaming, "estimated_bytes": est, "max_memory": budget, "loading": line})
    return src


def training_patches(src, **kwargs):
    """The training batches of a source: ``PatchDataset(src.images, **kwargs)`` for a ``DataSource``
    (in memory or lazy), ``src.patch_dataset(**kwargs)`` for a streamed Hugging Face dataset."""
    if hasattr(src, "patch_dataset"):
        return src.patch_dataset(**kwargs)
    from msrgan.data.patches import PatchDataset

    return PatchDataset(src.images, **kwargs)
