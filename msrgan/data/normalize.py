"""Per-channel percentile normalization (CSBDeep convention) with an exact inverse.

``normalize`` maps each channel so that its ``pmin`` percentile goes to 0 and its ``pmax``
percentile to 1 (values beyond stay outside [0, 1] unless ``clip=True``); the returned
``Normalization`` remembers the input dtype and the per-channel ``low``/``high`` values, and
``denormalize`` maps model outputs back into the input's dtype and range. For integer inputs the
round trip ``denormalize(normalize(x))`` returns exactly ``x`` (8- and 16-bit alike).

Example:
    >>> import numpy as np
    >>> x = (np.arange(64 * 64, dtype=np.uint16) * 7).reshape(64, 64, 1)
    >>> y, norm = normalize(x)
    >>> bool(np.array_equal(denormalize(y, norm), x))
    True
"""

from __future__ import annotations

import dataclasses

import numpy as np

DEFAULT_PMIN = 2.0
DEFAULT_PMAX = 99.8


@dataclasses.dataclass(frozen=True)
class Normalization:
    """What ``denormalize`` needs: the per-channel ``low``/``high`` values and the input dtype."""

    low: np.ndarray
    high: np.ndarray
    dtype: np.dtype

    def to_dict(self) -> dict:
        return {"low": self.low.tolist(), "high": self.high.tolist(), "dtype": np.dtype(self.dtype).name}

    @classmethod
    def from_dict(cls, d: dict) -> "Normalization":
        return cls(np.asarray(d["low"], np.float64), np.asarray(d["high"], np.float64), np.dtype(d["dtype"]))


def _channels_last(x: np.ndarray, name: str) -> np.ndarray:
    if x.ndim == 2:
        return x[..., None]
    if x.ndim not in (3, 4):
        raise ValueError(f"{name} must be (H, W), (H, W, C) or (N, H, W, C), got shape {x.shape}")
    return x


def fit_normalization(x: np.ndarray, pmin: float = DEFAULT_PMIN, pmax: float = DEFAULT_PMAX, *,
                      name: str = "image") -> Normalization:
    """Per-channel ``pmin``/``pmax`` percentiles of ``x`` (channels last; all other axes pooled)."""
    x = _channels_last(np.asarray(x), name)
    if not 0 <= pmin < pmax <= 100:
        raise ValueError(f"percentiles must satisfy 0 <= pmin < pmax <= 100, got pmin={pmin}, pmax={pmax}")
    if x.size == 0:
        raise ValueError(f"{name} is empty (shape {x.shape})")
    if np.issubdtype(x.dtype, np.floating) and not np.all(np.isfinite(x)):
        raise ValueError(f"{name} contains NaN or infinite values")
    flat = x.reshape(-1, x.shape[-1]).astype(np.float64)
    low, high = np.percentile(flat, [pmin, pmax], axis=0)
    # A flat channel would divide by zero; give it a unit span so it maps to a constant.
    high = np.where(high - low < 1e-12, low + (1.0 if np.issubdtype(x.dtype, np.integer) else 1e-6), high)
    return Normalization(low, high, x.dtype)


def normalize(x: np.ndarray, pmin: float = DEFAULT_PMIN, pmax: float = DEFAULT_PMAX, *, clip: bool = False,
              norm: Normalization | None = None, name: str = "image") -> tuple[np.ndarray, Normalization]:
    """Float32 image with each channel's ``pmin``..``pmax`` percentiles mapped to 0..1.

    Args:
        x: ``(H, W)``, ``(H, W, C)`` or ``(N, H, W, C)`` image of any real dtype; ``(H, W)`` gets
            a channel axis.
        pmin, pmax: Percentiles mapped to 0 and 1.
        clip: Clip the result to [0, 1] (the inverse is then exact only inside the range).
        norm: Reuse a fitted ``Normalization`` instead of fitting one on ``x``.
        name: Used in error messages.

    Returns:
        ``(normalized float32 array, Normalization)``.
    """
    x = _channels_last(np.asarray(x), name)
    if norm is None:
        norm = fit_normalization(x, pmin, pmax, name=name)
    elif len(norm.low) != x.shape[-1]:
        raise ValueError(f"{name} has {x.shape[-1]} channel(s) but the normalization was fitted on {len(norm.low)}")
    y = ((x.astype(np.float64) - norm.low) / (norm.high - norm.low)).astype(np.float32)
    if clip:
        y = np.clip(y, 0.0, 1.0)
    return y, norm


def denormalize(y: np.ndarray, norm: Normalization) -> np.ndarray:
    """Inverse of ``normalize``: back to the input's range and dtype.

    Integer dtypes are rounded to nearest and saturated to the dtype's range (a model may
    predict slightly past it); float dtypes are returned unrounded.
    """
    y = np.asarray(y, dtype=np.float64)
    x = y * (norm.high - norm.low) + norm.low
    dtype = np.dtype(norm.dtype)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return np.clip(np.rint(x), info.min, info.max).astype(dtype)
    if dtype == np.bool_:
        return x >= 0.5
    return x.astype(dtype)


def to_unit_range(x: np.ndarray) -> np.ndarray:
    """Fixed (not percentile) scaling to [0, 1] by the dtype's range: uint8 / 255, uint16 / 65535.

    Floats are returned as float32 unchanged. Use this where the absolute intensity matters
    (training pairs, metrics against a ground truth); use ``normalize`` for unseen acquisitions.
    """
    x = np.asarray(x)
    if np.issubdtype(x.dtype, np.integer):
        return (x.astype(np.float32) / np.float32(np.iinfo(x.dtype).max)).astype(np.float32)
    return x.astype(np.float32)


def from_unit_range(y: np.ndarray, dtype) -> np.ndarray:
    """Inverse of ``to_unit_range`` into ``dtype`` (rounded and saturated for integers)."""
    dtype = np.dtype(dtype)
    y = np.asarray(y, dtype=np.float64)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return np.clip(np.rint(y * info.max), 0, info.max).astype(dtype)
    return y.astype(dtype)
