"""An image file's layout, found from its header (``probe_file``), and regions read from it (``read_region``).

How a file is read depends on how it is stored:

- ``"contiguous"``: an uncompressed TIFF whose pixels lie in one block (what ``msrgan data synth`` and
  ``write_image`` write, ImageJ hyperstacks included; tifffile's ``series.dataoffset``): memory-mapped
  (``tifffile.memmap``'s way, one mapping per worker) and a region copied out, so a 96x96 patch of a
  2048x2048 field costs the patch's pages, not the file's; the pages touched are dropped again
  (``madvise(MADV_DONTNEED)``) once a worker's reads have touched ``RELEASE_EVERY`` bytes, so the
  resident set does not grow with the files read;
- ``"chunked"``: a tiled or compressed TIFF: read through tifffile's zarr store (``series.aszarr()``),
  which reads and decodes only the tiles (or strips) that the region overlaps;
- ``"decoded"``: PNG, JPEG and TIFFs of other layouts: decoded whole on first use and kept in the
  source's decoded-image cache (``ImageCache``, least recently used out, within a byte budget).

Whichever way, a region has the dtype and values ``msrgan.data.io.read_image`` gives for the same file
(the same axes rules: channels last, z-stacks and ambiguous axes refused). The open files and the
decoded-image cache are an ``ImageStore``'s (``msrgan.data.image_store``); ``msrgan.data.lazy.LazyImage``
reads its regions here.
"""

from __future__ import annotations

import dataclasses
import io
import mmap
import os
import threading
from pathlib import Path

import numpy as np

from msrgan.data.image_store import ImageStore
from msrgan.data.io import PIL_SUFFIXES, TIFF_SUFFIXES, image_axes, read_image


@dataclasses.dataclass(frozen=True)
class FileLayout:
    """How one image file is read (from its header): ``kind``, the image's ``(H, W, C)`` shape and dtype,
    and for TIFFs the stored axes (CARE letters) and shape, and the data offset of a contiguous one."""

    path: str
    kind: str
    shape: tuple
    dtype: np.dtype
    axes: str = ""
    stored_shape: tuple = ()
    offset: int = 0


def probe_file(path) -> FileLayout:
    """The ``FileLayout`` of an image file, from its header (no pixel is decoded).

    Raises:
        ValueError: not an image file this project reads, a header that does not parse, a TIFF shorter
            than its header says (truncated), or axes ``read_image`` refuses; the message names the file.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        if suffix in TIFF_SUFFIXES:
            return _probe_tiff(path)
        if suffix in PIL_SUFFIXES:
            return _probe_pil(path)
    except Exception as exc:  # parsers raise assorted types on bad headers
        if isinstance(exc, ValueError) and str(path) in str(exc):
            raise
        raise ValueError(f"{path}: cannot read the image ({type(exc).__name__}: {exc})") from None
    read_image(path)  # raises the unsupported-type error
    raise AssertionError("unreachable")


def _probe_tiff(path: Path) -> FileLayout:
    import tifffile

    with tifffile.TiffFile(path) as tif:
        series = tif.series[0]
        axes, shape = image_axes(series.axes, series.shape, path)
        dtype = np.dtype(series.dtype)
        out_shape = (shape[axes.index("Y")], shape[axes.index("X")], shape[axes.index("C")] if "C" in axes else 1)
        offset = series.dataoffset
        size = os.path.getsize(path)
        if offset is not None:
            end = offset + int(np.prod(shape)) * dtype.itemsize
            if end > size:
                raise ValueError(f"{path}: cannot read the image (truncated: its pixels end at byte {end}, the "
                                 f"file has {size})")
            return FileLayout(str(path), "contiguous", out_shape, dtype, axes, shape, int(offset))
        pages = [p for p in series.pages if p is not None]
        for page in pages:
            ends = [o + n for o, n in zip(page.dataoffsets, page.databytecounts) if n]
            if ends and max(ends) > size:
                raise ValueError(f"{path}: cannot read the image (truncated: a tile or strip ends at byte "
                                 f"{max(ends)}, the file has {size})")
        kind = "chunked" if pages and (pages[0].is_tiled or pages[0].compression != 1) else "decoded"
        return FileLayout(str(path), kind, out_shape, dtype.newbyteorder("="), axes, shape)


# Pillow modes -> (channels, dtype) as read_image returns them; other modes are decoded to find out.
_PIL_MODES = {"L": (1, np.uint8), "I;16": (1, np.uint16), "I;16B": (1, np.uint16), "I;16L": (1, np.uint16),
              "RGB": (3, np.uint8), "RGBA": (4, np.uint8), "P": (3, np.uint8), "1": (3, np.uint8),
              "CMYK": (3, np.uint8), "YCbCr": (3, np.uint8), "LA": (4, np.uint8), "PA": (4, np.uint8),
              "F": (1, np.float32)}
_PNG16_PLANES = {2: 3, 4: 2, 6: 4}  # 16-bit PNG colour type -> planes


def _probe_pil(path: Path) -> FileLayout:
    from PIL import Image

    from msrgan.data.io import _png_is_16bit_color

    if path.suffix.lower() == ".png" and _png_is_16bit_color(path):
        with open(path, "rb") as f:
            head = f.read(26)
        w, h = int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
        return FileLayout(str(path), "decoded", (h, w, _PNG16_PLANES[head[25]]), np.dtype(np.uint16))
    with Image.open(path) as im:
        mode, (w, h) = im.mode, im.size
    if mode not in _PIL_MODES:  # e.g. mode "I": the dtype depends on the values
        arr = read_image(path)
        return FileLayout(str(path), "decoded", arr.shape, arr.dtype)
    c, dtype = _PIL_MODES[mode]
    return FileLayout(str(path), "decoded", (h, w, c), np.dtype(dtype))


class _Mapped:
    """A file mapped whole, read-only (a per-worker handle). Mapping costs no memory by itself (and
    holds no file descriptor); the pages reads touch are dropped again in batches (:func:`_touched`:
    ``madvise(MADV_DONTNEED)``, they stay in the page cache, not in the process), so the resident set
    stays within ``RELEASE_EVERY`` bytes of mapped pages however much is read."""

    def __init__(self, path: str):
        fd = os.open(path, os.O_RDONLY)
        try:
            self.mm = mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
        finally:
            os.close(fd)
        self.span = None  # (start, end) of the pages touched since they were last dropped
        self._views = None  # built at the first read: see views()

    def views(self, layout: FileLayout):
        """Views of the mapped pixels, built once: ``(planes, offsets, strides)``. ``planes`` is one
        ``(Y, X)`` view per channel of a planar file (C stored before Y: each read copies plane by
        plane, the fastest way out of such a file), or one ``(Y, X, C)`` view; ``offsets`` is each
        one's first byte in the file, ``strides`` its byte strides."""
        if self._views is None:
            axes = layout.axes
            arr = np.ndarray(layout.stored_shape, layout.dtype, buffer=self.mm, offset=layout.offset)
            arr = arr[tuple(slice(None) if a in "YXC" else 0 for a in axes)]  # other axes have length 1
            kept = [a for a in axes if a in "YXC"]
            yi, xi = kept.index("Y"), kept.index("X")
            if "C" not in kept:
                planes = [arr.transpose(yi, xi)[..., None]]
            elif kept.index("C") < yi:
                planes = list(arr.transpose(kept.index("C"), yi, xi))
            else:
                planes = [arr.transpose(yi, xi, kept.index("C"))]
            base = arr.__array_interface__["data"][0] - layout.offset
            offsets = [p.__array_interface__["data"][0] - base for p in planes]
            self._views = planes, offsets, planes[0].strides
        return self._views

    def release(self) -> None:
        if self.span is not None and _DONTNEED is not None:
            start, end = self.span
            base = start - start % mmap.PAGESIZE
            self.mm.madvise(_DONTNEED, base, end - base)
        self.span = None

    def close(self) -> None:
        self.span = self._views = None  # the views hold the mapping's buffer
        self.mm.close()


RELEASE_EVERY = 8 * 2**20
"""Bytes of mapped file a worker's reads may touch before their pages are dropped (one ``madvise`` per
mapping then, instead of one per read: dropping after every read cost as much as the read itself)."""

_pending = threading.local()  # per worker (thread; a forked process starts over): touched mappings, bytes


def _touched(mapped: _Mapped, start: int, end: int, nbytes: int) -> None:
    """Records that a read touched ``nbytes`` within ``[start, end)`` of ``mapped``; drops every pending
    page once the worker's reads have touched ``RELEASE_EVERY`` bytes since the last drop."""
    if getattr(_pending, "pid", None) != os.getpid():
        _pending.pid, _pending.maps, _pending.bytes = os.getpid(), {}, 0
    mapped.span = (start, end) if mapped.span is None else (min(mapped.span[0], start), max(mapped.span[1], end))
    _pending.maps[id(mapped)] = mapped
    _pending.bytes += nbytes
    if _pending.bytes >= RELEASE_EVERY:
        for m in _pending.maps.values():
            if not m.mm.closed:
                m.release()
        _pending.maps, _pending.bytes = {}, 0


_DONTNEED = getattr(mmap, "MADV_DONTNEED", None)


class _CountingFile(io.FileIO):
    """A file that adds the bytes it reads to ``store.bytes_read``."""

    def __init__(self, path: str, store: ImageStore):
        super().__init__(path, "rb")
        self._store = store

    def readinto(self, b):
        n = super().readinto(b)
        self._store.bytes_read += n or 0
        return n

    def read(self, size=-1):
        data = super().read(size)
        self._store.bytes_read += len(data)
        return data

    def readall(self):
        data = super().readall()
        self._store.bytes_read += len(data)
        return data


class _ZarrTiff:
    """A TIFF open through tifffile's zarr store (a per-worker handle)."""

    def __init__(self, path: str, store: ImageStore):
        import tifffile
        import zarr

        self.file = _CountingFile(path, store)
        self.tif = tifffile.TiffFile(self.file)
        series = self.tif.series[0]
        self.axes, self.shape = series.axes, series.shape
        self.array = zarr.open(series.aszarr(), mode="r")

    def close(self) -> None:
        self.tif.close()
        self.file.close()


def read_region(layout: FileLayout, store: ImageStore, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    """Rows ``y0:y1`` and columns ``x0:x1`` of one file, ``(h, w, C)`` in the file's dtype."""
    try:
        if layout.kind == "contiguous":
            return _read_contiguous(layout, store, y0, y1, x0, x1)
        if layout.kind == "chunked":
            return _read_chunked(layout, store, y0, y1, x0, x1)
        img = store.cache.get(layout.path)
        if img is None:
            img = read_image(layout.path)
            store.decoded += 1
            if img.shape != tuple(layout.shape) or img.dtype != layout.dtype:
                raise ValueError(f"{layout.path}: decoded as {img.shape} {img.dtype}, its header said "
                                 f"{tuple(layout.shape)} {layout.dtype}")
            store.cache.put(layout.path, img)
        return img[y0:y1, x0:x1]
    except (ValueError, OSError) as exc:
        msg = str(exc) if layout.path in str(exc) else f"{layout.path}: cannot read the image ({exc})"
        raise ValueError(msg) from None


def _read_contiguous(layout, store, y0, y1, x0, x1) -> np.ndarray:
    """Copies the region out of this worker's mapping of the file (its pages dropped later, in batches)."""
    mapped = store.mappings.get(layout.path, lambda: _Mapped(layout.path))
    planes, offsets, strides = mapped.views(layout)
    dtype = layout.dtype.newbyteorder("=")
    if len(planes) == 1:
        out = np.empty((y1 - y0, x1 - x0, layout.shape[2]), dtype)
        out[...] = planes[0][y0:y1, x0:x1]
    else:  # planar in memory too, as read_image gives such a file (channels last as a view): rows copy whole,
        # and NumPy's arithmetic on the patch runs along them, not along its few channels
        out = np.empty((len(planes), y1 - y0, x1 - x0), dtype)
        for c, plane in enumerate(planes):
            out[c] = plane[y0:y1, x0:x1]
        out = out.transpose(1, 2, 0)
    # the bytes each view's region spans, from its first element to the end of its last
    first = y0 * strides[0] + x0 * strides[1]
    band = (y1 - y0 - 1) * strides[0] + (x1 - x0 - 1) * strides[1] + layout.dtype.itemsize
    if len(strides) == 3:  # one (Y, X, C) view: the region's last pixel's channels too
        band += (out.shape[2] - 1) * strides[2]
    nbytes = band * len(planes)
    _touched(mapped, offsets[0] + first, offsets[-1] + first + band, nbytes)
    store.bytes_mapped += nbytes
    return out


def _read_chunked(layout, store, y0, y1, x0, x1) -> np.ndarray:
    h = store.handles.get(("zarr", layout.path), lambda: _ZarrTiff(layout.path, store))
    key, kept = [], []
    for a, n in zip(h.axes, h.shape):
        if a == "Y":
            key.append(slice(y0, y1))
        elif a == "X":
            key.append(slice(x0, x1))
        elif n == 1:
            key.append(0)
            continue
        else:
            key.append(slice(None))
        kept.append("C" if a in "CS" else a)
    arr = np.asarray(h.array[tuple(key)])
    arr = np.moveaxis(arr, kept.index("C"), -1) if "C" in kept else arr[..., None]
    return arr.astype(layout.dtype.newbyteorder("="), copy=False)
