"""High-resolution training fields randomised over what real fluorescence acquisitions show.

``msrgan.data.synthetic`` draws HPA-like fields at one sampling and one camera. Models trained on
them alone do not transfer: real fields differ in object scale, texture, background, dynamic range
and noise. ``varied_field`` images the same procedural specimens (``synthetic.clean_field``), plus
generic structures, through a randomised microscope:

- **object scale**: a zoom drawn log-uniformly in ``zoom`` (default 0.25-2), so nucleus diameters
  span about 5 to 60 px (the synthetic fields' 20-34 px times the zoom). Zooms below 1 render a
  larger field and area-average it down (denser, smaller cells); zooms above 1 interpolate a smaller
  one up;
- **structures**: the 13 localization patterns of the synthetic fields (textured nuclei with
  chromatin and nucleoli, filaments, puncta, diffuse cytosol, membranes), plus with probability
  ``extra_prob`` extra puncta of random size, random-walk filaments or diffuse clouds;
- **optics**: a Gaussian PSF of ``psf`` px (HR pixels); with probability ``oversampled_prob`` the
  field is oversampled, i.e. blurred by ``oversampled_psf`` px, so it is already smooth at the HR
  sampling (bicubic interpolation is nearly exact there, and a model must not add texture);
- **background**: a camera offset plus smooth autofluorescence of relative strength ``background``;
- **dynamic range**: the brightest structure lands at ``level`` of full scale, from dim (0.05) to
  saturated (1.3, clipped);
- **noise in the HR image itself**: Poisson shot noise with ``photons`` photo-electrons at full scale
  (log-uniform) plus Gaussian read noise ``read_noise`` (fraction of full scale);
- **digitisation** to ``bit_depth`` 8 or 16 bits (drawn when ``None``).

Every parameter is a number (fixed) or a ``(low, high)`` range; the same seed and parameters give
identical bytes. Channels: 1 draws one channel of a random layout (nucleus, microtubules, ER or
protein) as a gray image; 3 and 4 keep the layouts of ``msrgan.data.synthetic``.

Example:
    >>> img = varied_field(5, size=64, channels=1)
    >>> img.shape, img.dtype in (np.uint8, np.uint16)
    ((64, 64, 1), True)
    >>> varied_field(5, size=64, channels=1, bit_depth=8, zoom=2.0).dtype
    dtype('uint8')
"""

from __future__ import annotations

import math

import numpy as np

from msrgan.data.synthetic import clean_field

VARIED_DEFAULTS: dict = {
    "zoom": (0.25, 2.0),
    "extra_prob": 0.5,
    "psf": (0.6, 1.6),
    "oversampled_prob": 0.2,
    "oversampled_psf": (2.5, 4.5),
    "background": (0.0, 0.15),
    "level": (0.05, 1.3),
    "photons": (30.0, 5000.0),
    "read_noise": (0.0, 0.01),
    "bit_depth": None,
}
"""Defaults of ``varied_field``: numbers are fixed values, pairs are ``(low, high)`` ranges (``zoom`` and
``photons`` log-uniform, the others uniform); ``bit_depth=None`` draws 8 or 16."""

_LOG_UNIFORM = ("zoom", "photons")


def _draw(rng: np.random.Generator, key: str, spec) -> float:
    if isinstance(spec, (tuple, list)):
        if len(spec) != 2:
            raise ValueError(f"{key} must be a number or a (low, high) pair, got {spec!r}")
        lo, hi = float(spec[0]), float(spec[1])
        if not lo <= hi:
            raise ValueError(f"{key} range must have low <= high, got {spec!r}")
        if key in _LOG_UNIFORM:
            if lo <= 0:
                raise ValueError(f"{key} range must be positive, got {spec!r}")
            return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))
        return float(rng.uniform(lo, hi))
    return float(spec)


def varied_params(**overrides) -> dict:
    """``VARIED_DEFAULTS`` with ``overrides`` applied; unknown names are an error naming them."""
    unknown = sorted(set(overrides) - set(VARIED_DEFAULTS))
    if unknown:
        raise ValueError(f"unknown varied_field parameter(s) {unknown}; known: {sorted(VARIED_DEFAULTS)}")
    return {**VARIED_DEFAULTS, **overrides}


def _resize(img: np.ndarray, size: int, zoom: float) -> np.ndarray:
    """``img`` (rendered at about ``size / zoom`` px) resampled to ``size`` px: area-like down, cubic up."""
    from scipy.ndimage import gaussian_filter, zoom as nd_zoom

    factor = size / img.shape[0]
    if factor < 1:  # antialias: a Gaussian close to the area average of 1/factor pixels
        img = gaussian_filter(img, sigma=(0.45 / factor, 0.45 / factor, 0), mode="reflect")
    out = nd_zoom(img, (factor, factor, 1), order=3 if factor > 1 else 1, mode="reflect", grid_mode=True)
    return np.ascontiguousarray(out[:size, :size])


def _extra_structure(rng: np.random.Generator, size: int) -> np.ndarray:
    """Puncta of random size, random-walk filaments or a diffuse cloud, about 0-1 in intensity."""
    from scipy.ndimage import gaussian_filter

    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    kind = int(rng.integers(3))
    img = np.zeros((size, size), np.float32)
    if kind == 0:  # puncta: vesicles, foci, spots of 0.5-4 px radius
        n = int(rng.integers(5, 8 + size * size // 150))
        radius = math.exp(rng.uniform(math.log(0.5), math.log(4.0)))
        for y, x, a in zip(rng.uniform(0, size, n), rng.uniform(0, size, n), rng.uniform(0.3, 1.0, n)):
            img += a * np.exp(-((yy - y) ** 2 + (xx - x) ** 2) / (2 * radius * radius))
    elif kind == 1:  # filaments: smooth random walks, rasterised
        for _ in range(int(rng.integers(3, 15))):
            steps = int(rng.integers(size // 2, 2 * size))
            angle = np.cumsum(rng.normal(0, 0.15, steps)) + rng.uniform(0, 2 * np.pi)
            y = rng.uniform(0, size) + np.cumsum(np.sin(angle))
            x = rng.uniform(0, size) + np.cumsum(np.cos(angle))
            keep = (y >= 0) & (y < size) & (x >= 0) & (x < size)
            np.add.at(img, (y[keep].astype(int), x[keep].astype(int)), rng.uniform(0.3, 1.0))
        img = np.minimum(gaussian_filter(img, 0.7), 1.0)
    else:  # diffuse clouds
        img = gaussian_filter(rng.standard_normal((size, size)).astype(np.float32), rng.uniform(3, 12))
        img = np.clip(img / (img.std() + 1e-8) * 0.3 + 0.2, 0, None)
    return img


def varied_field(seed, *, size: int = 128, channels: int = 1, **params) -> np.ndarray:
    """One HR field of ``size`` x ``size`` px, randomised as the module documentation says.

    Args:
        seed: An int or sequence of ints (``np.random.default_rng``); the same seed and parameters
            give identical bytes.
        size: Side of the square field, at least 32.
        channels: 1 (one gray channel of a random kind), 3 (RGB merge) or 4 (CYTO2017 order).
        **params: Overrides of ``VARIED_DEFAULTS`` (a number fixes a parameter, a pair is a range).

    Returns:
        ``(size, size, channels)`` uint8 or uint16.

    Raises:
        ValueError: unknown parameter, bad range, size or channel count (named in the message).
    """
    p = varied_params(**params)
    size = int(size)
    if size < 32:
        raise ValueError(f"size must be >= 32, got size={size}")
    if channels not in (1, 3, 4):
        raise ValueError(f"channels must be 1, 3 or 4, got channels={channels!r}")
    rng = np.random.default_rng(seed)
    zoom = _draw(rng, "zoom", p["zoom"])
    render = max(32, int(math.ceil(size / zoom)))
    specimen_seed = [int(v) for v in rng.integers(0, 2**31, 2)]
    if channels == 1:
        layout = int(rng.integers(4))  # nucleus, microtubules, ER or protein of the 4-channel layout
        clean = clean_field(specimen_seed, size=render, channels=4)[0][..., layout:layout + 1]
    else:
        clean = clean_field(specimen_seed, size=render, channels=channels)[0]
    clean = _resize(np.maximum(clean, 0), size, zoom)
    bit_depth = p["bit_depth"] if p["bit_depth"] is not None else (8, 16)[int(rng.integers(2))]
    if bit_depth not in (8, 16):
        raise ValueError(f"bit_depth must be 8, 16 or None, got bit_depth={bit_depth!r}")
    full = 255.0 if bit_depth == 8 else 65535.0
    out = np.empty((size, size, channels), np.uint8 if bit_depth == 8 else np.uint16)
    oversampled = rng.random() < float(p["oversampled_prob"])
    psf = _draw(rng, "oversampled_psf" if oversampled else "psf",
                p["oversampled_psf"] if oversampled else p["psf"])
    for c in range(channels):
        out[..., c] = _acquire(rng, clean[..., c], p, psf, full)
    return out


def _acquire(rng: np.random.Generator, specimen: np.ndarray, p: dict, psf: float, full: float) -> np.ndarray:
    """One channel: extra structure, PSF, background, gain, Poisson-Gaussian noise, digitisation."""
    from scipy.ndimage import gaussian_filter

    size = specimen.shape[0]
    img = specimen / max(float(specimen.max()), 1e-6)
    if rng.random() < float(p["extra_prob"]):
        img = img * rng.uniform(0.0, 1.0) + _extra_structure(rng, size)
    if psf > 0:
        img = gaussian_filter(img, psf, mode="reflect")
    img = img / max(float(img.max()), 1e-6)
    background = _draw(rng, "background", p["background"])
    auto = gaussian_filter(rng.random((size, size)).astype(np.float32), size / 8, mode="reflect")
    auto = (auto - auto.min()) / max(float(np.ptp(auto)), 1e-6)
    offset = rng.uniform(0.002, 0.03)
    level = _draw(rng, "level", p["level"])
    signal = offset + level * (img + background * auto) / (1.0 + background)
    photons = _draw(rng, "photons", p["photons"])
    electrons = rng.poisson(np.clip(signal, 0, None) * photons).astype(np.float64)
    noisy = electrons / photons + rng.normal(0.0, _draw(rng, "read_noise", p["read_noise"]), signal.shape)
    return np.clip(np.rint(noisy * full), 0, full)
