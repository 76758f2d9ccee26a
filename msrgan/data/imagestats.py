"""Exact per-channel percentiles of an image read band by band, without holding it whole.

``PatchDataset``'s percentile normalization fits ``fit_normalization(image)`` on the whole image
(``np.percentile`` of every pixel, linear interpolation). A lazily read image gets the same numbers
from a histogram: for 8- and 16-bit images each channel's histogram is summed over bands of rows,
and the two order statistics around each percentile are read off its cumulative counts, then
interpolated exactly as ``np.percentile`` does (``method="linear"``); so the normalized patches are
bit for bit those of the in-memory path. Images of any other dtype (float, 32-bit) have no small
histogram: their statistics come from one whole read (``fit_normalization``).

Example:
    >>> import numpy as np
    >>> from msrgan.data.normalize import fit_normalization
    >>> x = np.random.default_rng(0).integers(0, 4096, (64, 48, 2), dtype=np.uint16)
    >>> h = ChannelHistogram(2, x.dtype)
    >>> h.add(x[:30]); h.add(x[30:])
    >>> n = h.normalization(2.0, 99.8)
    >>> ref = fit_normalization(x, 2.0, 99.8)
    >>> bool(np.array_equal(n.low, ref.low) and np.array_equal(n.high, ref.high))
    True
"""

from __future__ import annotations

import numpy as np

from msrgan.data.normalize import Normalization, normalization_from_counts

HISTOGRAM_DTYPES = (np.dtype(np.uint8), np.dtype(np.uint16))


def has_histogram(dtype) -> bool:
    """Whether images of ``dtype`` get exact statistics from a histogram (uint8, uint16)."""
    return np.dtype(dtype).newbyteorder("=") in HISTOGRAM_DTYPES


class ChannelHistogram:
    """Per-channel value counts of a uint8/uint16 image, added band by band (``add``)."""

    def __init__(self, channels: int, dtype):
        self.dtype = np.dtype(dtype).newbyteorder("=")
        if self.dtype not in HISTOGRAM_DTYPES:
            raise ValueError(f"histogram statistics need a uint8 or uint16 image, got {self.dtype}")
        self.bins = 256 if self.dtype == np.uint8 else 65536
        self.counts = np.zeros((channels, self.bins), np.int64)

    def add(self, band: np.ndarray) -> None:
        """Counts the values of an ``(h, w, C)`` band."""
        flat = band.reshape(-1, band.shape[-1])
        for c in range(flat.shape[1]):
            self.counts[c] += np.bincount(flat[:, c], minlength=self.bins)

    def normalization(self, pmin: float, pmax: float) -> Normalization:
        """``fit_normalization(image, pmin, pmax)`` of the image counted so far, exactly."""
        return normalization_from_counts(self.counts, pmin, pmax, self.dtype)
