"""High-resolution to low-resolution degradations, applied on the fly: ``bicubic`` and ``microscope``.

Both are pure NumPy/SciPy (no Keras backend ops), so the same input, scale, parameters and seed give
bit-identical low-resolution images on TensorFlow, PyTorch and JAX alike.

``bicubic`` (the paper's; no parameters)
    Antialiased bicubic downsampling, a NumPy port of MATLAB's ``imresize(x, 1/scale, 'bicubic')``
    (the convention of SRGAN and of BasicSR's ``matlab_functions.imresize``): Keys' cubic kernel with
    ``a = -0.5`` stretched by ``scale`` (so it low-pass filters before subsampling), output pixel ``i``
    centred on input coordinate ``(i + 0.5) * scale - 0.5``, weights normalized to sum to 1 and
    symmetric (mirror) padding at the borders. In the interior it equals Pillow's
    ``Image.resize(..., Image.BICUBIC)`` on float images; only the border handling differs.
    Not clipped: like MATLAB's, the cubic kernel can overshoot [0, 1] slightly at sharp edges.

``microscope`` (a widefield acquisition at ``scale`` times coarser sampling)
    1. optical blur: Gaussian point spread function, standard deviation ``sigma`` in HR pixels
       (default ``scale / 2``, i.e. half a low-resolution pixel), reflecting borders;
    2. camera sampling: area (box) downsampling, each LR pixel the mean of a ``scale x scale`` block;
    3. noise, Poisson-Gaussian: shot noise ``Poisson(signal * photons) / photons``, where ``photons``
       (default 100) is the expected photon count of a full-scale (1.0) pixel, plus Gaussian read noise
       of standard deviation ``read_noise`` (default 0.01, in units of full scale). On a flat image of
       value ``m`` the LR variance is ``m / photons + read_noise ** 2``. ``photons=None`` turns shot
       noise off, ``read_noise=0`` read noise;
    4. ``clip`` (default True): clip to [0, 1], as a camera cannot record negative or over-range
       values (pass ``clip=False`` for unbiased noise statistics).

Example:
    >>> import numpy as np
    >>> hr = np.random.default_rng(0).random((64, 64, 3), dtype=np.float32)
    >>> degrade(hr, 4).shape
    (16, 16, 3)
    >>> lr = degrade(hr, 2, "microscope", seed=1, photons=50.0, read_noise=0.02)
    >>> lr.shape, lr.dtype
    ((32, 32, 3), dtype('float32'))
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Callable

import numpy as np

from msrgan.convention import check_scale
from zoo.extensions import Registry

MICROSCOPE_DEFAULTS = {"sigma": None, "photons": 100.0, "read_noise": 0.01, "clip": True}
"""Defaults of the ``microscope`` degradation; ``sigma=None`` means ``scale / 2`` HR pixels."""


@dataclasses.dataclass(frozen=True)
class Degradation:
    """One registered degradation.

    Attributes:
        name: The registry name (``--degradation NAME``).
        resolve: ``resolve(scale, params) -> dict``: the full, validated parameters (defaults filled
            in; errors name the parameter).
        apply: ``apply(hr_float64, resolved_params, rng) -> lr``: the degradation itself, on
            ``(..., H, W, C)`` images in [0, 1].
        description: One line for ``--help`` and the docs.
    """

    name: str
    resolve: Callable[[int, dict], dict]
    apply: Callable[[np.ndarray, dict, np.random.Generator], np.ndarray]
    description: str = ""


DEGRADATIONS = Registry("degradation")
"""The degradation registry (a ``zoo.Registry``), name -> ``Degradation``; ``tuple(DEGRADATIONS)`` lists the names."""


def register_degradation(name: str, resolve, apply, *, description: str = "") -> Degradation:
    """Adds a degradation to ``DEGRADATIONS``; ``train``, ``evaluate`` and ``PatchDataset`` then accept it."""
    return DEGRADATIONS.register(name, Degradation(name, resolve, apply, description), description=description)


def degradation_params(method: str, scale: int, **params) -> dict:
    """The full, resolved parameters of a degradation (defaults filled in), e.g. for run metadata.

    Args:
        method: A name in ``DEGRADATIONS``.
        scale: 2, 4 or 8.
        **params: Parameters to override (``microscope``: ``sigma``, ``photons``, ``read_noise``, ``clip``).

    Returns:
        A dict with ``method``, ``scale`` and every parameter of the method.

    Example:
        >>> degradation_params("microscope", 4)["sigma"]
        2.0
    """
    scale = check_scale(scale)
    if method not in DEGRADATIONS:
        raise ValueError(f"unknown degradation method={method!r}; choose one of {tuple(DEGRADATIONS)}")
    return {"method": method, "scale": scale, **DEGRADATIONS[method].resolve(scale, dict(params))}


def _resolve_bicubic(scale: int, params: dict) -> dict:
    if params:
        raise ValueError(f"the bicubic degradation takes no parameters, got {sorted(params)}")
    return {"implementation": "MATLAB imresize (antialiased, a=-0.5)"}


def _resolve_microscope(scale: int, params: dict) -> dict:
    unknown = sorted(set(params) - set(MICROSCOPE_DEFAULTS))
    if unknown:
        raise ValueError(f"unknown microscope degradation parameter(s) {unknown}; "
                         f"known: {sorted(MICROSCOPE_DEFAULTS)}")
    p = {**MICROSCOPE_DEFAULTS, **params}
    if p["sigma"] is None:
        p["sigma"] = scale / 2.0
    p["sigma"] = float(p["sigma"])
    if not np.isfinite(p["sigma"]) or p["sigma"] < 0:
        raise ValueError(f"sigma must be a finite number >= 0 (HR pixels), got sigma={params.get('sigma')!r}")
    if p["photons"] is not None:
        p["photons"] = float(p["photons"])
        if not np.isfinite(p["photons"]) or p["photons"] <= 0:
            raise ValueError(f"photons must be > 0 (or None for no shot noise), got photons={params['photons']!r}")
    p["read_noise"] = float(p["read_noise"])
    if not np.isfinite(p["read_noise"]) or p["read_noise"] < 0:
        raise ValueError(f"read_noise must be >= 0, got read_noise={params['read_noise']!r}")
    p["clip"] = bool(p["clip"])
    return p


def degrade(hr: np.ndarray, scale: int, method: str = "bicubic", *, seed=None, **params) -> np.ndarray:
    """Makes the low-resolution counterpart of a high-resolution image or batch.

    Args:
        hr: float ``(H, W, C)`` or ``(N, H, W, C)`` image(s) in [0, 1]; ``H`` and ``W`` divisible by ``scale``.
        scale: Downsampling factor, 2, 4 or 8.
        method: A name in ``DEGRADATIONS``: ``"bicubic"`` (the paper's), ``"microscope"`` (PSF blur, area
            sampling, Poisson-Gaussian noise) or ``"random"`` (``msrgan.data.degrade_random``); see the
            module documentation.
        seed: Seed (int, sequence of ints or ``np.random.Generator``) of the random draws; the same seed
            gives identical output. ``None`` draws fresh noise.
        **params: The method's parameters, e.g. ``microscope``: ``sigma`` (PSF standard deviation in HR
            pixels, default ``scale / 2``), ``photons`` (default 100), ``read_noise`` (default 0.01),
            ``clip`` (default True).

    Returns:
        float32 ``(H / scale, W / scale, C)`` (or with the batch axis).

    Raises:
        ValueError: bad scale, method, parameter, dtype or shape (named in the message).

    Example:
        >>> hr = np.full((32, 32, 1), 0.5, np.float32)
        >>> float(degrade(hr, 8)[2, 2, 0])
        0.5
    """
    p = degradation_params(method, scale, **params)
    x = np.asarray(hr)
    if x.ndim not in (3, 4):
        raise ValueError(f"hr must be (H, W, C) or (N, H, W, C), got shape {x.shape}")
    if not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"hr must be a float image in [0, 1], got dtype {x.dtype}; convert integer images with "
                         "msrgan.data.normalize.to_unit_range or normalize first")
    h, w = x.shape[-3], x.shape[-2]
    if h % p["scale"] or w % p["scale"] or h == 0 or w == 0:
        raise ValueError(f"hr height and width must be positive multiples of scale={p['scale']}, got shape {x.shape}")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    return np.asarray(DEGRADATIONS[method].apply(x, p, rng), np.float32)


# ------------------------------------------------------------------------------------------------
# bicubic (MATLAB imresize)
# ------------------------------------------------------------------------------------------------


def _cubic(x: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution kernel with a = -0.5 (MATLAB's)."""
    ax = np.abs(x)
    ax2, ax3 = ax * ax, ax * ax * ax
    return ((1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1)
            + (-0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0) * ((ax > 1) & (ax <= 2)))


@functools.lru_cache(maxsize=64)
def _bicubic_matrix(n_in: int, scale: int) -> np.ndarray:
    """(n_in // scale, n_in) float64 matrix of MATLAB's antialiased bicubic weights, mirror padding."""
    n_out = n_in // scale
    width = 4.0 * scale  # kernel support 4, stretched by the scale for antialiasing
    x = np.arange(1, n_out + 1, dtype=np.float64)
    u = x * scale + 0.5 * (1 - scale)  # 1-based input coordinate of each output centre
    left = np.floor(u - width / 2)
    taps = int(np.ceil(width)) + 2
    idx = left[:, None] + np.arange(taps)[None, :]  # 1-based
    weights = _cubic((u[:, None] - idx) / scale) / scale
    weights /= weights.sum(axis=1, keepdims=True)
    idx0 = idx.astype(np.int64) - 1  # 0-based
    # MATLAB 'symmetric' padding: -1 -> 0, -2 -> 1, ..., n -> n - 1, n + 1 -> n - 2
    period = 2 * n_in
    idx0 = np.mod(idx0, period)
    idx0 = np.where(idx0 >= n_in, period - 1 - idx0, idx0)
    m = np.zeros((n_out, n_in), np.float64)
    np.add.at(m, (np.repeat(np.arange(n_out), taps), idx0.ravel()), weights.ravel())
    m.setflags(write=False)
    return m


def _bicubic(x: np.ndarray, scale: int) -> np.ndarray:
    h, w = x.shape[-3], x.shape[-2]
    mh, mw = _bicubic_matrix(h, scale), _bicubic_matrix(w, scale)
    xd = x.astype(np.float64)
    y = np.einsum("oh,...hwc->...owc", mh, xd, optimize=True)
    y = np.einsum("pw,...owc->...opc", mw, y, optimize=True)
    return y.astype(np.float32)


# ------------------------------------------------------------------------------------------------
# microscope
# ------------------------------------------------------------------------------------------------


def _area(x: np.ndarray, scale: int) -> np.ndarray:
    h, w, c = x.shape[-3:]
    lead = x.shape[:-3]
    return x.reshape(*lead, h // scale, scale, w // scale, scale, c).mean(axis=(-4, -2))


def _microscope(x: np.ndarray, p: dict, rng: np.random.Generator) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    scale = p["scale"]
    xd = x.astype(np.float64)
    if p["sigma"] > 0:
        sig = (0.0,) * (xd.ndim - 3) + (p["sigma"], p["sigma"], 0.0)
        xd = gaussian_filter(xd, sigma=sig, mode="reflect", truncate=4.0)
    lr = _area(xd, scale)
    if p["photons"] is not None:
        lam = np.clip(lr, 0.0, None) * p["photons"]
        lr = rng.poisson(lam).astype(np.float64) / p["photons"]
    if p["read_noise"] > 0:
        lr = lr + rng.normal(0.0, p["read_noise"], size=lr.shape)
    if p["clip"]:
        lr = np.clip(lr, 0.0, 1.0)
    return lr.astype(np.float32)


register_degradation("bicubic", _resolve_bicubic, lambda x, p, rng: _bicubic(x, p["scale"]),
                     description="MATLAB imresize bicubic (antialiased), the paper's; no parameters")
register_degradation("microscope", _resolve_microscope, _microscope,
                     description="Gaussian PSF, area sampling, Poisson-Gaussian noise (sigma, photons, read_noise, clip)")
