"""The ``random`` degradation: Real-ESRGAN-style randomised acquisition, adapted to microscopy.

Each image of a batch draws its own acquisition from the ranges below (a number fixes a parameter,
a ``(low, high)`` pair is a range, a list of names or bit depths is a choice), in this order:

1. **optical blur** (with probability ``blur_prob``): an anisotropic Gaussian PSF, standard deviation
   ``sigma`` in **LR** pixels (times ``scale`` in HR pixels) along one axis and ``sigma * anisotropy``
   along the other, rotated by a uniform angle;
2. **sampling**, one of ``downsample``: ``"bicubic"`` (MATLAB imresize, antialiased), ``"area"``
   (camera binning: the mean of each ``scale x scale`` block) or ``"gaussian"`` (a Gaussian of
   ``scale / 2`` HR px, then every ``scale``-th pixel);
3. **noise** (with probability ``noise_prob``): Poisson shot noise with ``photons`` photo-electrons at
   full scale (log-uniform) plus Gaussian read noise ``read_noise`` (fraction of full scale);
4. **quantisation** to one of ``quantize`` bit depths (``None``: none), then clipping to [0, 1].

With the defaults about one image in six is a clean acquisition (no extra blur, no noise), so a model
trained on it still sharpens clean inputs; the rest teach it blur and noise, and that noise is not
structure. ``degrade(hr, 4, "random", seed=s)`` is deterministic for ``s``; fixing every parameter
(``blur_prob=1, sigma=0.5, anisotropy=1, downsample="area", noise_prob=1, photons=100, read_noise=0.01,
quantize=None``) gives one reproducible acquisition, as the evaluation grid uses.

Example:
    >>> import numpy as np
    >>> from msrgan.data.degrade import degrade
    >>> hr = np.random.default_rng(0).random((2, 32, 32, 1)).astype(np.float32)
    >>> degrade(hr, 4, "random", seed=1).shape
    (2, 8, 8, 1)
    >>> bool(np.array_equal(degrade(hr, 4, "random", seed=1), degrade(hr, 4, "random", seed=1)))
    True
"""

from __future__ import annotations

import math

import numpy as np

from msrgan.data.degrade import _area, _bicubic, register_degradation

RANDOM_DEFAULTS: dict = {
    "blur_prob": 0.6,
    "sigma": (0.2, 0.8),
    "anisotropy": (1.0, 1.6),
    "downsample": ("bicubic", "area", "gaussian"),
    "noise_prob": 0.6,
    "photons": (20.0, 3000.0),
    "read_noise": (0.0, 0.02),
    "quantize": (None, 8, 12),
}
"""Defaults of the ``random`` degradation (``sigma`` in LR pixels; ``photons`` drawn log-uniformly)."""

DOWNSAMPLING = ("bicubic", "area", "gaussian")


def _number_or_range(key: str, value, low: float, *, allow_none: bool = False):
    if value is None and allow_none:
        return None
    items = list(value) if isinstance(value, (tuple, list)) else [value]
    if len(items) not in (1, 2):
        raise ValueError(f"random degradation: {key} must be a number or a (low, high) pair, got {value!r}")
    try:
        nums = [float(v) for v in items]
    except (TypeError, ValueError):
        raise ValueError(f"random degradation: {key} must be a number or a (low, high) pair, got {value!r}") from None
    if not all(math.isfinite(v) and v >= low for v in nums) or nums[0] > nums[-1]:
        raise ValueError(f"random degradation: {key} must be finite, >= {low} and low <= high, got {value!r}")
    return nums[0] if len(nums) == 1 else tuple(nums)


def _resolve(scale: int, params: dict) -> dict:
    unknown = sorted(set(params) - set(RANDOM_DEFAULTS))
    if unknown:
        raise ValueError(f"unknown random degradation parameter(s) {unknown}; known: {sorted(RANDOM_DEFAULTS)}")
    p = {**RANDOM_DEFAULTS, **params}
    for key in ("blur_prob", "noise_prob"):
        p[key] = float(p[key])
        if not 0.0 <= p[key] <= 1.0:
            raise ValueError(f"random degradation: {key} must lie in [0, 1], got {params.get(key)!r}")
    p["sigma"] = _number_or_range("sigma", p["sigma"], 0.0)
    p["anisotropy"] = _number_or_range("anisotropy", p["anisotropy"], 1.0)
    p["photons"] = _number_or_range("photons", p["photons"], 1e-6, allow_none=True)
    p["read_noise"] = _number_or_range("read_noise", p["read_noise"], 0.0)
    down = [p["downsample"]] if isinstance(p["downsample"], str) else list(p["downsample"])
    if not down or any(d not in DOWNSAMPLING for d in down):
        raise ValueError(f"random degradation: downsample must be one or more of {DOWNSAMPLING}, "
                         f"got {p['downsample']!r}")
    p["downsample"] = tuple(down)
    quant = list(p["quantize"]) if isinstance(p["quantize"], (tuple, list)) else [p["quantize"]]
    if not quant or any(q is not None and (isinstance(q, bool) or q not in (8, 10, 12, 14, 16)) for q in quant):
        raise ValueError(f"random degradation: quantize must be None or bit depths among 8, 10, 12, 14, 16, "
                         f"got {p['quantize']!r}")
    p["quantize"] = tuple(quant)
    return p


def _draw(rng: np.random.Generator, spec, log: bool = False) -> float:
    if not isinstance(spec, tuple):
        return float(spec)
    lo, hi = spec
    if log:
        return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))
    return float(rng.uniform(lo, hi))


def psf_kernel(sigma_a: float, sigma_b: float, angle: float) -> np.ndarray:
    """A normalised 2-D anisotropic Gaussian: standard deviations ``sigma_a``, ``sigma_b`` (px), rotated by ``angle``."""
    radius = max(1, int(math.ceil(3.5 * max(sigma_a, sigma_b))))
    y, x = np.mgrid[-radius:radius + 1, -radius:radius + 1].astype(np.float64)
    c, s = math.cos(angle), math.sin(angle)
    u, v = c * x + s * y, -s * x + c * y
    k = np.exp(-0.5 * ((u / sigma_a) ** 2 + (v / sigma_b) ** 2))
    return k / k.sum()


def _one(img: np.ndarray, p: dict, rng: np.random.Generator) -> np.ndarray:
    """One ``(H, W, C)`` float64 image through one drawn acquisition."""
    from scipy.ndimage import convolve, gaussian_filter

    scale = p["scale"]
    # Draw every random number in a fixed order, whatever is used, so a parameter fixed by the caller
    # never shifts the draws of the others.
    blur = rng.random() < p["blur_prob"]
    sigma = _draw(rng, p["sigma"]) * scale
    ratio = _draw(rng, p["anisotropy"])
    angle = rng.uniform(0, math.pi)
    down = p["downsample"][int(rng.integers(len(p["downsample"])))]
    noisy = rng.random() < p["noise_prob"]
    photons = None if p["photons"] is None else _draw(rng, p["photons"], log=True)
    read = _draw(rng, p["read_noise"])
    bits = p["quantize"][int(rng.integers(len(p["quantize"])))]
    noise_rng = np.random.default_rng(rng.integers(0, 2**63))

    x = img
    if blur and sigma > 0:
        k = psf_kernel(sigma, sigma * ratio, angle)
        x = np.stack([convolve(x[..., c], k, mode="reflect") for c in range(x.shape[-1])], axis=-1)
    if down == "bicubic":
        lr = _bicubic(x, scale).astype(np.float64)
    elif down == "area":
        lr = _area(x, scale)
    else:
        g = gaussian_filter(x, sigma=(scale / 2.0, scale / 2.0, 0.0), mode="reflect", truncate=4.0)
        lr = g[scale // 2::scale, scale // 2::scale]
    if noisy:
        if photons is not None:
            lr = noise_rng.poisson(np.clip(lr, 0.0, None) * photons) / photons
        if read > 0:
            lr = lr + noise_rng.normal(0.0, read, size=lr.shape)
    lr = np.clip(lr, 0.0, 1.0)
    if bits is not None:
        full = float(2 ** bits - 1)
        lr = np.rint(lr * full) / full
    return lr


def _apply(x: np.ndarray, p: dict, rng: np.random.Generator) -> np.ndarray:
    xd = x.astype(np.float64)
    if xd.ndim == 3:
        return _one(xd, p, rng).astype(np.float32)
    return np.stack([_one(im, p, rng) for im in xd]).astype(np.float32)


register_degradation("random", _resolve, _apply,
                     description="randomised PSF blur (anisotropic), bicubic/area/gaussian sampling, "
                                 "Poisson-Gaussian noise and quantisation per image (Real-ESRGAN style)")
