"""Acquisition: optics (Gaussian PSF), uneven illumination, Poisson-Gaussian noise and digitisation."""

from __future__ import annotations

import math

import numpy as np

from msrgan.data.synthetic._draw import _F32, _blur


def _acquire(rng: np.random.Generator, clean: np.ndarray, illumination: np.ndarray, bit_depth: int) -> np.ndarray:
    """Blur with a Gaussian PSF, shade, scale to the camera range, add Poisson-Gaussian noise, quantize."""
    sigma = rng.uniform(0.9, 1.4)  # PSF, px
    level = rng.uniform(0.55, 0.95)  # where the brightest structure lands on the camera's full scale
    photons = math.exp(rng.uniform(math.log(150.0), math.log(2500.0)))  # photo-electrons at full scale
    read = rng.uniform(1.5, 4.0)  # read noise, electrons rms
    offset = rng.uniform(0.003, 0.015)  # camera offset plus background, fraction of full scale
    full = 255.0 if bit_depth == 8 else 65535.0
    img = _blur(clean, sigma)
    np.maximum(img, 0, out=img)  # textures can dip a hair below zero; light cannot
    img *= illumination
    peak = float(img.max())
    img *= _F32(level * photons / peak if peak > 0 else 0.0)  # expected electrons
    # Shot noise (Poisson, variance = electrons) and read noise (Gaussian) drawn as one heteroscedastic
    # Gaussian with var = electrons + read^2: the usual Gaussian approximation of the Poisson-Gaussian
    # model. It is close for the tens to thousands of electrons in the structures (on the near-empty
    # background the read noise dominates), and several times cheaper than drawing Poisson variates.
    std = img + _F32(read * read)
    np.sqrt(std, out=std)
    std *= rng.standard_normal(img.shape, dtype=_F32)
    img += std
    img *= _F32(full / photons)
    img += _F32(offset * full + 0.5)  # +0.5: the cast below truncates, so this rounds to nearest
    np.clip(img, 0, full, out=img)
    return img.astype(np.uint8 if bit_depth == 8 else np.uint16)


def _illumination(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Smooth gain field: off-centre vignetting times a gentle tilt, between about 0.6 and 1.1."""
    cy, cx = rng.uniform(0.2, 0.8) * h, rng.uniform(0.2, 0.8) * w
    strength = rng.uniform(0.05, 0.35)
    tilt_y, tilt_x = rng.uniform(-0.1, 0.1, 2)
    scale = 1.0 / (0.5 * math.hypot(h, w)) ** 2
    yy = np.arange(h, dtype=_F32)[:, None]
    xx = np.arange(w, dtype=_F32)[None, :]
    r2 = ((yy - _F32(cy)) ** 2 + (xx - _F32(cx)) ** 2) * _F32(scale)
    return (_F32(1) - _F32(strength) * r2) * (
        _F32(1) + _F32(tilt_y) * (yy / _F32(h) - _F32(0.5)) + _F32(tilt_x) * (xx / _F32(w) - _F32(0.5))
    )
