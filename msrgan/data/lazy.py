"""Images read on demand: ``LazyImage`` reads a region of a file when it is sliced, and nothing else.

How a file is read depends on how it is stored (found from its header by ``probe_file``; both in
``msrgan.data.file_regions``): an uncompressed TIFF whose pixels lie in one block is memory-mapped and the
region copied out, a tiled or compressed TIFF is read tile by tile through tifffile's zarr store, and PNG,
JPEG and TIFFs of other layouts are decoded whole on first use and kept in the source's decoded-image cache.

The images of one source share an ``ImageStore`` (``msrgan.data.image_store``): the cache and the open
files, one set per worker (process and thread; a forked worker opens its own). ``LazyImage.fit_normalization``
gives exactly ``fit_normalization(read_image(path))`` (``msrgan.data.imagestats``), read band by band, and
keeps it.

Example:
    >>> import tempfile, numpy as np
    >>> from msrgan.data.io import write_image
    >>> path = write_image(f"{tempfile.mkdtemp()}/a.tif", np.arange(4 * 64 * 64, dtype=np.uint16).reshape(64, 64, 4))
    >>> im = LazyImage.open([path], ImageStore(cache_bytes=2**20))
    >>> im.shape, im.dtype, im.kind
    ((64, 64, 4), dtype('uint16'), 'contiguous')
    >>> im[10:12, 20:22, 1].tolist()
    [[2641, 2645], [2897, 2901]]
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from msrgan.data.file_regions import FileLayout, probe_file, read_region
from msrgan.data.image_store import ImageCache, ImageStore, WorkerHandles  # noqa: F401  (importable from here too)

BAND_BYTES = 8 * 2**20  # rows read at a time for the statistics pass


class LazyImage:
    """An ``(H, W, C)`` image whose pixels are read when it is sliced (``im[y0:y1, x0:x1]``).

    ``shape``, ``dtype`` and ``ndim`` are known from the headers; ``np.asarray(im)`` reads it whole.
    One file, or one single-channel file per channel (stacked in order). Build with ``LazyImage.open``.
    """

    ndim = 3

    def __init__(self, layouts: Sequence[FileLayout], store: ImageStore, name: str = ""):
        self.layouts = tuple(layouts)
        self.store = store
        self.name = name or Path(self.layouts[0].path).name
        first = self.layouts[0]
        c = first.shape[2] if len(self.layouts) == 1 else len(self.layouts)
        self.shape = (int(first.shape[0]), int(first.shape[1]), int(c))
        self.dtype = np.dtype(first.dtype).newbyteorder("=")
        self._norms: dict = {}

    @classmethod
    def open(cls, files: Sequence, store: ImageStore, name: str = "") -> "LazyImage":
        """Probes ``files`` (one image, or one file per channel) and checks them as ``load_folder`` does."""
        from msrgan.data.folders import check_plane

        layouts = [probe_file(f) for f in files]
        if len(layouts) > 1:
            for lay in layouts:
                check_plane(lay.shape, lay.dtype, lay.path, layouts[0].shape, layouts[0].dtype, layouts[0].path)
        return cls(layouts, store, name)

    @property
    def kind(self) -> str:
        return self.layouts[0].kind

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    @property
    def nbytes(self) -> int:
        return self.size * self.dtype.itemsize

    def read(self, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        """Rows ``y0:y1``, columns ``x0:x1``, all channels."""
        if len(self.layouts) == 1:
            return read_region(self.layouts[0], self.store, y0, y1, x0, x1)
        return np.stack([read_region(lay, self.store, y0, y1, x0, x1)[..., 0] for lay in self.layouts], axis=-1)

    def __getitem__(self, key) -> np.ndarray:
        key = key if isinstance(key, tuple) else (key,)
        if len(key) > 3 or any(k is Ellipsis for k in key):
            raise IndexError(f"{self.name}: index a LazyImage with up to 3 slices or ints, got {key!r}")
        key = key + (slice(None),) * (3 - len(key))
        bounds, squeeze = [], []
        for axis, (k, n) in enumerate(zip(key[:2], self.shape[:2])):
            if isinstance(k, (int, np.integer)):
                k = int(k) + n if k < 0 else int(k)
                if not 0 <= k < n:
                    raise IndexError(f"index {k} is out of bounds for axis {axis} with size {n}")
                k = slice(k, k + 1)
                squeeze.append(axis)
            start, stop, step = k.indices(n)
            if step != 1:
                raise IndexError(f"{self.name}: a LazyImage reads contiguous regions (step 1), got {k!r}")
            bounds.append((start, max(start, stop)))
        region = self.read(bounds[0][0], bounds[0][1], bounds[1][0], bounds[1][1])
        region = region[:, :, key[2]]
        return region.reshape([n for i, n in enumerate(region.shape) if i not in squeeze]) if squeeze else region

    def __array__(self, dtype=None, copy=None):
        arr = self.read(0, self.shape[0], 0, self.shape[1])
        return arr if dtype is None else arr.astype(dtype)

    def fit_normalization(self, pmin: float, pmax: float):
        """``msrgan.data.normalize.fit_normalization`` of the whole image, exactly, computed once."""
        from msrgan.data.imagestats import ChannelHistogram, has_histogram
        from msrgan.data.normalize import fit_normalization

        key = (float(pmin), float(pmax))
        if key not in self._norms:
            if has_histogram(self.dtype):
                hist = ChannelHistogram(self.shape[2], self.dtype)
                rows = max(1, BAND_BYTES // max(1, self.shape[1] * self.shape[2] * self.dtype.itemsize))
                for y in range(0, self.shape[0], rows):
                    hist.add(self.read(y, min(y + rows, self.shape[0]), 0, self.shape[1]))
                self._norms[key] = hist.normalization(pmin, pmax)
            else:
                self._norms[key] = fit_normalization(np.asarray(self), pmin, pmax, name=self.name)
        return self._norms[key]

    def __repr__(self) -> str:
        return f"LazyImage({self.name!r}, shape={self.shape}, dtype={self.dtype}, kind={self.kind!r})"


def is_lazy(image) -> bool:
    """Whether ``image`` reads its pixels on demand (a ``LazyImage`` or alike: ``fit_normalization`` and
    region slicing)."""
    return hasattr(image, "fit_normalization") and hasattr(image, "read")


def as_image(image):
    """``image`` as ``PatchDataset`` keeps it: a lazy image as it is, anything else as a NumPy array."""
    return image if is_lazy(image) else np.asarray(image)
