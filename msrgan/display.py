"""Images for the eye: the one RGB display of msrgan's channel layouts.

Evaluation figures, the training run's comparison grids and contact sheets all draw images with
``display_rgb``. By default the channels are merged as the seed's RGB merge
(``msrgan.convention.rgb_merge_indices``: 1 channel gray, 3 channels as stored, 4 channels R
microtubules, G protein, B nucleus, the ER left out); ``colors`` gives other colours by channel
name (the contact sheets' Human Protein Atlas colours), and ``percentiles`` first stretches each
channel between two of its percentiles (display only; the data are not changed).

Example:
    >>> import numpy as np
    >>> x = np.zeros((2, 2, 4), np.float32)
    >>> x[..., 3] = 1.0                              # the protein channel of a CYTO2017 image
    >>> display_rgb(x)[0, 0].tolist()                # shown green
    [0, 255, 0]
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from msrgan.convention import CHANNEL_LAYOUTS, rgb_merge_indices

__all__ = ["display_rgb", "merge_colors"]


def merge_colors(channels: int) -> dict[str, tuple[float, float, float]]:
    """The seed's RGB merge as an RGB colour per channel name of the layout (``(0, 0, 0)``: not shown)."""
    picks = rgb_merge_indices(channels)
    return {name: tuple(float(picks[k] == i) for k in range(3)) for i, name in enumerate(CHANNEL_LAYOUTS[channels])}


def display_rgb(image: np.ndarray, *, colors: Mapping[str, Sequence[float]] | None = None,
                percentiles: tuple[float, float] | None = None, dtype=np.uint8) -> np.ndarray:
    """An ``(H, W)`` or ``(H, W, C)`` image (C = 1, 3 or 4) as an ``(H, W, 3)`` RGB image for display.

    Args:
        image: Values in [0, 1] (clipped), or any range with ``percentiles``.
        colors: RGB weights by channel name (``msrgan.convention.CHANNEL_LAYOUTS``); default
            ``merge_colors``, the seed's RGB merge.
        percentiles: ``(pmin, pmax)``: each channel's ``pmin`` percentile shown black and its
            ``pmax`` percentile at full colour.
        dtype: ``np.uint8`` (0..255, rounded half up) or a float dtype (0..1).
    """
    a = np.asarray(image)
    if a.ndim == 2:
        a = a[..., None]
    if a.ndim != 3 or a.shape[-1] not in CHANNEL_LAYOUTS:
        raise ValueError(f"cannot display an image of shape {np.asarray(image).shape}; expected (H, W, 1|3|4)")
    c = a.shape[-1]
    if percentiles is None:
        x = np.clip(a.astype(np.float32), 0.0, 1.0)
    else:
        flat = a.astype(np.float32).reshape(-1, c)
        lo, hi = np.percentile(flat, list(percentiles), axis=0)
        x = np.clip((flat - lo) / np.maximum(hi - lo, 1e-6), 0.0, 1.0).reshape(a.shape)
    colors = merge_colors(c) if colors is None else colors
    rgb = np.clip(sum(x[..., i:i + 1] * np.asarray(colors[name], np.float32)
                      for i, name in enumerate(CHANNEL_LAYOUTS[c])), 0.0, 1.0)
    if np.dtype(dtype) == np.uint8:
        return (rgb * 255.0 + 0.5).astype(np.uint8)
    return rgb.astype(dtype)
