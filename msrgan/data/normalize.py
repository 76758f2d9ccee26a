"""Normalizers: images into the models' [0, 1] convention and back, one object for every use.

A ``Normalizer`` (CSBDeep's ``Normalizer`` style) has ``fit`` / ``before`` / ``after``: ``fit(image)``
returns a copy that remembers what the inverse needs (the input's dtype, the per-channel values),
``before(x)`` maps an image (or a crop or tile of the fitted one) to float32 [0, 1], and ``after(y)``
maps model outputs back into the fitted input's dtype and range. Training patches
(``msrgan.data.patches``), evaluation (``msrgan.evaluate``), the classifier's data
(``msrgan.training.classifier``) and tiled inference (``msrgan.tile_codec``) all use it. The kinds are
a registry, ``NORMALIZATIONS`` (a ``zoo.Registry``; command-line ``--normalization`` choices read it):

- ``"percentile"`` (``PercentileNormalizer``, the default): per channel, the ``pmin`` percentile
  goes to 0 and the ``pmax`` percentile to 1 (2 / 99.8); the inverse is exact, so integer inputs
  come back bit for bit. 8- and 16-bit images get their percentiles from a histogram (the same
  values as ``np.percentile``, without a float64 copy of the image);
- ``"unit"`` (``UnitRangeNormalizer``; ``"range"`` is the same, the name inference used): the
  dtype's range, uint8 / 255, uint16 / 65535, floats as they are;
- ``"none"`` (``IdentityNormalizer``): float images already in [0, 1], as they are.

``clip=True`` clips what ``before`` returns to [0, 1] (training and evaluation data; the inverse is
then exact inside the range only). The functions ``normalize`` / ``denormalize`` and
``to_unit_range`` / ``from_unit_range`` are the percentile and dtype-range mappings on their own.

Example:
    >>> import numpy as np
    >>> x = (np.arange(64 * 64, dtype=np.uint16) * 7).reshape(64, 64, 1)
    >>> n = get_normalizer("percentile").fit(x)
    >>> y = n.before(x)
    >>> y.dtype, bool(np.array_equal(n.after(y), x))
    (dtype('float32'), True)
    >>> y, norm = normalize(x)
    >>> bool(np.array_equal(denormalize(y, norm), x))
    True
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np

from zoo.extensions import Registry

DEFAULT_PMIN = 2.0
DEFAULT_PMAX = 99.8
_HISTOGRAM_SLICE = 1 << 22  # pixels counted per np.bincount call (its int64 copy: 32 MiB)


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


def _check_percentiles(pmin: float, pmax: float) -> None:
    if not 0 <= pmin < pmax <= 100:
        raise ValueError(f"percentiles must satisfy 0 <= pmin < pmax <= 100, got pmin={pmin}, pmax={pmax}")


def fit_normalization(x: np.ndarray, pmin: float = DEFAULT_PMIN, pmax: float = DEFAULT_PMAX, *,
                      name: str = "image") -> Normalization:
    """Per-channel ``pmin``/``pmax`` percentiles of ``x`` (channels last; all other axes pooled).

    The reference computation (``np.percentile`` of a float64 copy); ``PercentileNormalizer.fit``
    gets the same values from a histogram for 8- and 16-bit images.
    """
    x = _channels_last(np.asarray(x), name)
    _check_percentiles(pmin, pmax)
    if x.size == 0:
        raise ValueError(f"{name} is empty (shape {x.shape})")
    if np.issubdtype(x.dtype, np.floating) and not np.all(np.isfinite(x)):
        raise ValueError(f"{name} contains NaN or infinite values")
    flat = x.reshape(-1, x.shape[-1]).astype(np.float64)
    low, high = np.percentile(flat, [pmin, pmax], axis=0)
    # A flat channel would divide by zero; give it a unit span so it maps to a constant.
    high = np.where(high - low < 1e-12, low + (1.0 if np.issubdtype(x.dtype, np.integer) else 1e-6), high)
    return Normalization(low, high, x.dtype)


def percentiles_from_counts(counts: np.ndarray, qs) -> np.ndarray:
    """``np.percentile(values, qs)`` (``method="linear"``) of the integer values whose histogram is ``counts``.

    Follows NumPy's arithmetic (virtual index ``(n - 1) * q``, its ``_lerp``), so the values are
    ``np.percentile``'s bit for bit.
    """
    n = int(counts.sum())
    if n == 0:
        raise ValueError("the image is empty")
    q = np.true_divide(np.asarray(qs, np.float64), 100)
    virtual = (n - 1) * q
    prev = np.where(virtual >= n - 1, n - 1, np.floor(virtual)).astype(np.int64)
    gamma = np.where(virtual >= n - 1, 0.0, virtual - prev)
    nxt = np.minimum(prev + 1, n - 1)
    cum = np.cumsum(counts)
    a = np.searchsorted(cum, prev, side="right").astype(np.float64)  # the prev-th smallest value
    b = np.searchsorted(cum, nxt, side="right").astype(np.float64)
    diff = b - a
    return np.where(gamma >= 0.5, b - diff * (1 - gamma), a + diff * gamma)


def _fit_percentiles(x: np.ndarray, pmin: float, pmax: float, name: str = "image") -> Normalization:
    """``fit_normalization`` (the same values) without a float64 copy of 8/16-bit images: each channel's
    histogram is summed over slices (``np.bincount`` makes an int64 copy of what it counts)."""
    x = _channels_last(np.asarray(x), name)
    if x.dtype not in (np.uint8, np.uint16):
        return fit_normalization(x, pmin, pmax, name=name)
    if x.size == 0:
        raise ValueError(f"{name} is empty (shape {x.shape})")
    counts = np.zeros((x.shape[-1], int(np.iinfo(x.dtype).max) + 1), np.int64)
    for c in range(x.shape[-1]):
        flat = np.ascontiguousarray(x[..., c]).ravel()
        for start in range(0, flat.size, _HISTOGRAM_SLICE):
            counts[c] += np.bincount(flat[start:start + _HISTOGRAM_SLICE], minlength=counts.shape[1])
    return normalization_from_counts(counts, pmin, pmax, x.dtype)


def normalization_from_counts(counts: np.ndarray, pmin: float, pmax: float, dtype) -> Normalization:
    """The ``Normalization`` of an integer image whose per-channel histograms are ``counts`` ``(C, bins)``:
    ``fit_normalization``'s values exactly (a flat channel gets a unit span, so it maps to a constant)."""
    _check_percentiles(pmin, pmax)
    low, high = np.stack([percentiles_from_counts(c, (pmin, pmax)) for c in counts], axis=1)
    high = np.where(high - low < 1e-12, low + 1.0, high)
    return Normalization(low, high, np.dtype(dtype))


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
    n = PercentileNormalizer(pmin, pmax, clip=clip, norm=norm)
    n = n if norm is not None else n.fit(x, name=name)
    return n.before(x, name=name), n.norm


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


NORMALIZATIONS = Registry("normalization")
"""The normalizer registry (a ``zoo.Registry``): name -> ``Normalizer`` class; ``"range"`` is an alias of
``"unit"``. ``register_normalization`` adds one; ``get_normalizer`` builds one."""


def register_normalization(cls: type, *, description: str = "", aliases: tuple[str, ...] = ()) -> type:
    """Registers a ``Normalizer`` subclass under its ``name`` (usable as a class decorator)."""
    NORMALIZATIONS.register(cls.name, cls, description=description, aliases=aliases)
    return cls


@dataclasses.dataclass(frozen=True)
class Normalizer:
    """Maps images into the models' [0, 1] convention (``before``) and model outputs back (``after``).

    Unfitted it is a recipe; ``fit(image)`` returns a fitted copy that remembers what ``after``
    needs. ``before`` of an unfitted normalizer fits on its argument first (the image normalized on
    its own). Subclasses set ``name`` and implement ``fit``, ``_forward``, ``_inverse`` and ``describe``.

    Args:
        clip: Clip what ``before`` returns to [0, 1].
    """

    name: ClassVar[str] = ""
    clip: bool = dataclasses.field(default=False, kw_only=True)

    @property
    def fitted(self) -> bool:
        raise NotImplementedError

    def fit(self, x: np.ndarray, *, name: str = "image") -> "Normalizer":
        """A copy fitted on ``x`` (an image, ``(H, W, C)`` channels last, or a lazy image of
        ``msrgan.data.lazy``, which is not read whole); ``name`` is for error messages."""
        raise NotImplementedError

    def before(self, x: np.ndarray, *, name: str = "image") -> np.ndarray:
        """``x`` (the fitted image, a crop or tile of it, or with an unfitted normalizer any image) as
        float32 in [0, 1] (clipped with ``clip``)."""
        n = self if self.fitted else self.fit(x, name=name)
        y = n._forward(np.asarray(x), name)
        return np.clip(y, 0.0, 1.0) if self.clip else y

    def after(self, y: np.ndarray) -> np.ndarray:
        """Model outputs ``y`` back in the fitted input's dtype and range (integers rounded and saturated)."""
        if not self.fitted:
            raise ValueError(f"the {self.name!r} normalizer is not fitted: call fit(image) before after()")
        return self._inverse(np.asarray(y))

    def describe(self) -> str:
        """How ``before`` maps an image, in words (evaluation reports say it)."""
        raise NotImplementedError

    def _clipped(self, text: str) -> str:
        return text + (", clipped" if self.clip else "")

    def _forward(self, x: np.ndarray, name: str) -> np.ndarray:
        raise NotImplementedError

    def _inverse(self, y: np.ndarray) -> np.ndarray:
        raise NotImplementedError


@dataclasses.dataclass(frozen=True)
class PercentileNormalizer(Normalizer):
    """Per channel, the ``pmin`` percentile to 0 and the ``pmax`` percentile to 1, with an exact inverse.

    Args:
        pmin, pmax: The percentiles (of the whole image ``fit`` sees).
        clip: Clip what ``before`` returns to [0, 1].
        norm: Fitted values to use instead of fitting (``Normalization``).
        compute_dtype: Arithmetic of ``before``: ``"float64"`` (then rounded to float32) or
            ``"float32"`` (the training patches: faster, the same values to a float32 ulp).
    """

    name: ClassVar[str] = "percentile"
    pmin: float = DEFAULT_PMIN
    pmax: float = DEFAULT_PMAX
    _: dataclasses.KW_ONLY
    norm: Normalization | None = None
    compute_dtype: str = "float64"

    def __post_init__(self):
        _check_percentiles(self.pmin, self.pmax)
        if np.dtype(self.compute_dtype) not in (np.float32, np.float64):
            raise ValueError(f"compute_dtype must be 'float32' or 'float64', got {self.compute_dtype!r}")

    @property
    def fitted(self) -> bool:
        return self.norm is not None

    def fit(self, x, *, name="image"):
        if hasattr(x, "fit_normalization"):  # a lazy image (msrgan.data.lazy) computes its own, in one pass
            return dataclasses.replace(self, norm=x.fit_normalization(self.pmin, self.pmax))
        return dataclasses.replace(self, norm=_fit_percentiles(x, self.pmin, self.pmax, name))

    def _forward(self, x, name):
        x, norm = _channels_last(x, name), self.norm
        if len(norm.low) != x.shape[-1]:
            raise ValueError(f"{name} has {x.shape[-1]} channel(s) but the normalization was fitted on {len(norm.low)}")
        if np.dtype(self.compute_dtype) == np.float32:
            return (x.astype(np.float32) - norm.low.astype(np.float32)) / (norm.high - norm.low).astype(np.float32)
        return ((x.astype(np.float64) - norm.low) / (norm.high - norm.low)).astype(np.float32)

    def _inverse(self, y):
        return denormalize(y, self.norm)

    def describe(self):
        return self._clipped(f"per image and channel, {self.pmin:g} / {self.pmax:g} percentiles to 0 / 1")


@dataclasses.dataclass(frozen=True)
class _DtypeNormalizer(Normalizer):
    """A normalizer fitted by the input's dtype alone (``check_dtype`` may refuse one)."""

    _: dataclasses.KW_ONLY
    dtype: np.dtype | None = None

    @property
    def fitted(self) -> bool:
        return self.dtype is not None

    def fit(self, x, *, name="image"):
        dtype = np.dtype(x.dtype) if hasattr(x, "dtype") else np.asarray(x).dtype  # a lazy image is not read
        self.check_dtype(dtype, name)
        return dataclasses.replace(self, dtype=dtype)

    def check_dtype(self, dtype: np.dtype, name: str) -> None:
        """Raises a ValueError naming ``name`` when images of ``dtype`` cannot be mapped."""


@dataclasses.dataclass(frozen=True)
class UnitRangeNormalizer(_DtypeNormalizer):
    """The dtype's range to [0, 1]: uint8 / 255, uint16 / 65535; floats as they are (``to_unit_range``)."""

    name: ClassVar[str] = "unit"

    def _forward(self, x, name):
        return to_unit_range(x)

    def _inverse(self, y):
        return from_unit_range(y, self.dtype)

    def describe(self):
        return self._clipped("divided by the dtype maximum (255 / 65535)")


@dataclasses.dataclass(frozen=True)
class IdentityNormalizer(_DtypeNormalizer):
    """Float images already in [0, 1], passed as they are (as float32); other dtypes are refused."""

    name: ClassVar[str] = "none"

    def check_dtype(self, dtype, name):
        if not np.issubdtype(dtype, np.floating):
            raise ValueError(f"normalization='none' feeds {name} to the model as is, which needs a float image "
                             f"in [0, 1]; {name} is {dtype} (use 'percentile' or 'unit')")

    def _forward(self, x, name):
        return x.astype(np.float32)

    def _inverse(self, y):
        return y.astype(self.dtype)

    def describe(self):
        return self._clipped("as given (float images already in [0, 1])")


register_normalization(PercentileNormalizer, description=f"per channel, {DEFAULT_PMIN:g} / {DEFAULT_PMAX:g} "
                       "percentiles to 0 / 1, exact inverse (the default)")
register_normalization(UnitRangeNormalizer, description="the dtype's range: uint8 / 255, uint16 / 65535, floats "
                       "as they are", aliases=("range",))
register_normalization(IdentityNormalizer, description="float images already in [0, 1], as they are")


def get_normalizer(spec="percentile", *, clip: bool = False) -> Normalizer:
    """The ``Normalizer`` that ``spec`` names.

    Args:
        spec: A name in ``NORMALIZATIONS`` (or an alias: ``"range"``), ``(pmin, pmax)`` percentiles,
            a fitted ``Normalization`` (percentile values), or a ``Normalizer`` (returned as it is).
        clip: Clip what ``before`` returns to [0, 1] (not applied to a ``Normalizer`` given).

    Raises:
        ValueError: an unknown name (the message lists the known ones) or another kind of ``spec``.
    """
    if isinstance(spec, Normalizer):
        return spec
    if isinstance(spec, Normalization):
        return PercentileNormalizer(clip=clip, norm=spec)
    if isinstance(spec, (tuple, list)) and len(spec) == 2:
        return PercentileNormalizer(float(spec[0]), float(spec[1]), clip=clip)
    if isinstance(spec, str):
        return NORMALIZATIONS[spec](clip=clip)
    raise ValueError(f"normalization must be one of {', '.join(NORMALIZATIONS)}, (pmin, pmax), a Normalization or "
                     f"a Normalizer, got {spec!r}")
