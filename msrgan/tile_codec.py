"""The intensity mapping of a tiled upscale: input tiles into the model's [0, 1], output blocks back.

By default each channel is percentile-normalized (2 / 99.8 percentiles of the whole image,
``msrgan.data.normalize``) before the model, and the exact inverse maps the output back to the
input's dtype (uint8, uint16, float32 or float64); integer outputs are rounded and saturated.
The percentiles of 8/16-bit images come from a histogram, without a float64 copy of the image.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Sequence

import numpy as np

from msrgan.data.normalize import DEFAULT_PMAX, DEFAULT_PMIN, Normalization, fit_normalization

__all__ = ["TileCodec", "make_codec"]

_HISTOGRAM_SLICE = 1 << 22  # pixels counted per np.bincount call (its int64 copy: 32 MiB)


def _exact_percentiles_int(channel: np.ndarray, qs: Sequence[float]) -> list[float]:
    """``np.percentile(channel, qs)`` (linear method) for uint8/uint16 through a histogram.

    Uses O(65536) memory instead of a float64 copy of the image (the histogram is summed over
    slices: ``np.bincount`` makes an int64 copy of what it counts); follows NumPy's index and
    interpolation arithmetic, so the values agree with ``np.percentile`` to float rounding
    (a few ulp).
    """
    flat = channel.ravel()
    counts = np.zeros(int(np.iinfo(channel.dtype).max) + 1, np.int64)
    for start in range(0, flat.size, _HISTOGRAM_SLICE):
        counts += np.bincount(flat[start:start + _HISTOGRAM_SLICE], minlength=counts.size)
    cum = np.cumsum(counts)
    n = int(cum[-1])

    def order_stat(k: int) -> float:
        return float(np.searchsorted(cum, k, side="right"))

    out = []
    for q in qs:
        qf = np.true_divide(np.float64(q), 100)
        virtual = n * qf + (1 + qf * (1 - 1 - 1)) - 1
        if virtual >= n - 1:
            out.append(order_stat(n - 1))
            continue
        if virtual < 0:
            out.append(order_stat(0))
            continue
        prev = math.floor(virtual)
        gamma = np.float64(virtual - prev)
        a, b = np.float64(order_stat(prev)), np.float64(order_stat(prev + 1))
        diff = b - a
        out.append(float(b - diff * (1 - gamma) if gamma >= 0.5 else a + diff * gamma))
    return out


def _fit_percentiles(x: np.ndarray, pmin: float, pmax: float, name: str) -> Normalization:
    """``fit_normalization`` (same values to float rounding) without a float64 copy of 8/16-bit images."""
    if x.dtype not in (np.uint8, np.uint16):
        return fit_normalization(x, pmin, pmax, name=name)
    if not 0 <= pmin < pmax <= 100:
        raise ValueError(f"percentiles must satisfy 0 <= pmin < pmax <= 100, got pmin={pmin}, pmax={pmax}")
    lows, highs = [], []
    for c in range(x.shape[-1]):
        lo, hi = _exact_percentiles_int(np.ascontiguousarray(x[..., c]), (pmin, pmax))
        lows.append(lo)
        highs.append(hi)
    low, high = np.asarray(lows, np.float64), np.asarray(highs, np.float64)
    # The same rule as fit_normalization for a flat channel: a unit span.
    high = np.where(high - low < 1e-12, low + 1.0, high)
    return Normalization(low, high, x.dtype)


@dataclasses.dataclass(frozen=True)
class TileCodec:
    """Maps tiles into the model's [0, 1] convention and output blocks back to the input dtype."""

    kind: str
    dtype: np.dtype
    norm: Normalization | None = None

    def encode(self, tile: np.ndarray) -> np.ndarray:
        if self.kind == "percentile":
            return ((tile.astype(np.float64) - self.norm.low) / (self.norm.high - self.norm.low)).astype(np.float32)
        if self.kind == "range" and np.issubdtype(self.dtype, np.integer):
            return tile.astype(np.float32) / np.float32(np.iinfo(self.dtype).max)
        return tile.astype(np.float32)

    def decode(self, block: np.ndarray) -> np.ndarray:
        from msrgan.data.normalize import denormalize, from_unit_range

        if self.kind == "percentile":
            return denormalize(block, self.norm)
        if self.kind == "range":
            return from_unit_range(block, self.dtype)
        return block.astype(self.dtype)


def make_codec(x: np.ndarray, normalization, name: str) -> TileCodec:
    """The ``TileCodec`` for ``x`` (``(H, W, C)``, fed to the model) under ``normalization`` (see
    ``msrgan.inference.upscale``); percentiles are fitted on the whole of ``x``."""
    dtype = x.dtype
    if isinstance(normalization, Normalization):
        if len(normalization.low) != x.shape[-1]:
            raise ValueError(f"the normalization has {len(normalization.low)} channel(s) but {name} "
                             f"feeds the model {x.shape[-1]}")
        return TileCodec("percentile", dtype, dataclasses.replace(normalization, dtype=dtype))
    if normalization is None or normalization == "none":
        if not np.issubdtype(dtype, np.floating):
            raise ValueError(f"normalization='none' feeds {name} to the model as is, which needs a float image "
                             f"in [0, 1]; {name} is {dtype} (use 'percentile' or 'range')")
        return TileCodec("none", dtype)
    if normalization == "range":
        return TileCodec("range", dtype)
    if normalization == "percentile":
        pmin, pmax = DEFAULT_PMIN, DEFAULT_PMAX
    elif isinstance(normalization, (tuple, list)) and len(normalization) == 2:
        pmin, pmax = (float(v) for v in normalization)
    else:
        raise ValueError(f"normalization must be 'percentile', 'range', 'none', (pmin, pmax) or a "
                         f"Normalization, got {normalization!r}")
    return TileCodec("percentile", dtype, _fit_percentiles(x, pmin, pmax, name))
