"""The intensity mapping of a tiled upscale: ``upscale``'s ``normalization=`` as a fitted ``Normalizer``.

The normalizer (``msrgan.data.normalize``) is fitted on the whole image, then maps every input tile
into the model's [0, 1] (``before``) and every output block back to the input's dtype (``after``:
uint8, uint16, float32 or float64; integer outputs rounded and saturated). By default each channel
is percentile-normalized (2 / 99.8 percentiles of the whole image; for 8/16-bit images from a
histogram, without a float64 copy of the image), with the exact inverse.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from msrgan.data.normalize import (  # noqa: F401  (_fit_percentiles: tests compare it with fit_normalization)
    Normalization,
    Normalizer,
    PercentileNormalizer,
    _fit_percentiles,
    get_normalizer,
)

__all__ = ["make_codec"]


def make_codec(x: np.ndarray, normalization, name: str) -> Normalizer:
    """The fitted ``Normalizer`` for ``x`` (``(H, W, C)``, fed to the model) under ``normalization``:
    a name of ``msrgan.data.normalize.NORMALIZATIONS`` (``"percentile"``, ``"unit"`` or its alias
    ``"range"``, ``"none"``; ``None`` is ``"none"``), ``(pmin, pmax)``, a ``Normalization`` (its values
    kept, the output in ``x``'s dtype) or a ``Normalizer`` (fitted on ``x`` unless it is already)."""
    if isinstance(normalization, Normalization):
        if len(normalization.low) != x.shape[-1]:
            raise ValueError(f"the normalization has {len(normalization.low)} channel(s) but {name} "
                             f"feeds the model {x.shape[-1]}")
        return PercentileNormalizer(norm=dataclasses.replace(normalization, dtype=x.dtype))
    normalizer = get_normalizer("none" if normalization is None else normalization)
    return normalizer if normalizer.fitted else normalizer.fit(x, name=name)
