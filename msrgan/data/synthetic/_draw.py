"""Small vectorised drawing primitives: separable blur, textures, smooth noise, blobs, random-walk filaments.

Sparse parts are ``(flat_index, weight)`` pairs, summed into an image by ``_raster`` with one
``np.bincount``.
"""

from __future__ import annotations

import math

import numpy as np

_F32 = np.float32


def _gauss_kernel(sigma: float, truncate: float) -> np.ndarray:
    radius = max(1, int(math.ceil(truncate * sigma)))
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    k = np.exp(-0.5 * (x / sigma) ** 2)
    return (k / k.sum()).astype(_F32)


def _blur(img: np.ndarray, sigma: float, truncate: float = 3.0) -> np.ndarray:
    """Separable Gaussian blur with mirrored borders (scipy's ``mode="reflect"``), done with shifted slices.

    Equivalent to ``scipy.ndimage.gaussian_filter`` with a truncated kernel, but several times faster for
    the small kernels of a microscope PSF because every tap is one vectorised multiply-add.
    """
    k = _gauss_kernel(sigma, truncate)
    r = k.size // 2
    h, w = img.shape
    if r >= min(h, w):
        raise ValueError(f"blur kernel radius {r} too large for an image of shape {img.shape}")
    pad = np.empty((h + 2 * r, w), _F32)  # mirrored rows: c b a | a b c ... x y z | z y x
    pad[r : r + h] = img
    pad[:r] = img[r - 1 :: -1]
    pad[r + h :] = img[: h - r - 1 : -1]
    out = pad[r : r + h] * k[r]
    tmp = np.empty_like(out)
    for j in range(1, r + 1):
        np.add(pad[r - j : r - j + h], pad[r + j : r + j + h], out=tmp)
        tmp *= k[r + j]
        out += tmp
    pad = np.empty((h, w + 2 * r), _F32)
    pad[:, r : r + w] = out
    pad[:, :r] = out[:, r - 1 :: -1]
    pad[:, r + w :] = out[:, : w - r - 1 : -1]
    np.multiply(pad[:, r : r + w], k[r], out=out)
    for j in range(1, r + 1):
        np.add(pad[:, r - j : r - j + w], pad[:, r + j : r + j + w], out=tmp)
        tmp *= k[r + j]
        out += tmp
    return out


def _texture(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Fine random texture at about the resolution limit: zero mean, unit variance, within +-3.5.

    Each pixel is the sum of a 2x2 block of uniform draws (so neighbours are correlated over about a
    pixel); the optical blur applied later smooths it further. Cheap: one uniform draw per pixel.
    """
    u = rng.random((h + 1, w + 1), dtype=_F32)
    t = u[:-1, :-1] + u[1:, :-1]
    t += u[:-1, 1:]
    t += u[1:, 1:]
    t -= _F32(2)
    t *= _F32(math.sqrt(3.0))  # var(sum of 4 uniforms) = 1/3
    return t


def _smooth_noise(rng: np.random.Generator, h: int, w: int, spacing: float, count: int = 1) -> np.ndarray:
    """``count`` smooth unit-variance random fields with a correlation length of about ``spacing`` px.

    Normal values on a coarse grid of nodes ``spacing`` px apart are interpolated with Gaussian radial
    weights (normalised so that the variance is exactly 1 everywhere), as two small matrix products:
    ``field = A @ G @ B.T``. Returns an array of shape ``(count, h, w)``.
    """

    def weights(n: int) -> np.ndarray:
        m = int(math.ceil(n / spacing)) + 7
        nodes = (np.arange(m) - 3) * spacing
        wt = np.exp(-0.5 * ((np.arange(n)[:, None] - nodes[None, :]) / spacing) ** 2)
        wt /= np.sqrt(np.sum(wt * wt, axis=1, keepdims=True))
        return wt.astype(_F32)

    a, b = weights(h), weights(w)
    grid = rng.standard_normal((count, a.shape[1], b.shape[1]), dtype=_F32)
    return np.matmul(np.matmul(a, grid), b.T)


def _raster(h: int, w: int, *parts: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Sum sparse ``(flat_index, weight)`` parts into one ``(h, w)`` float32 image with a single bincount."""
    flat = np.concatenate([p[0] for p in parts])
    wts = np.concatenate([p[1] for p in parts])
    return np.bincount(flat, weights=wts, minlength=h * w).astype(_F32).reshape(h, w)


def _blobs(h: int, w: int, ys, xs, radius, amp) -> np.ndarray:
    """Soft discs (1 px antialiased edge) of the given radii and amplitudes, stamped all at once."""
    return _raster(h, w, _blob_parts(h, w, ys, xs, radius, amp))


def _blob_parts(h: int, w: int, ys, xs, radius, amp) -> tuple[np.ndarray, np.ndarray]:
    """Sparse ``(flat_index, weight)`` form of ``_blobs``."""
    ys = np.asarray(ys, _F32)
    if ys.size == 0:
        return np.zeros(0, np.intp), np.zeros(0, _F32)
    xs = np.asarray(xs, _F32)
    radius = np.asarray(radius, _F32)
    amp = np.asarray(amp, _F32)
    half = int(math.ceil(float(radius.max()) + 1.0))
    off = np.arange(-half, half + 1)
    cy = np.rint(ys).astype(np.intp)
    cx = np.rint(xs).astype(np.intp)
    py = cy[:, None, None] + off[None, :, None]
    px = cx[:, None, None] + off[None, None, :]
    d = np.hypot(py - ys[:, None, None], px - xs[:, None, None]).astype(_F32)
    v = amp[:, None, None] * np.clip(radius[:, None, None] + _F32(0.5) - d, 0, 1)
    py, px = np.broadcast_arrays(py, px)
    ok = (py >= 0) & (py < h) & (px >= 0) & (px < w) & (v > 0)
    return py[ok] * w + px[ok], v[ok]


def _walk_parts(
    rng: np.random.Generator,
    labels: np.ndarray,
    owner: np.ndarray,
    y0: np.ndarray,
    x0: np.ndarray,
    theta: np.ndarray,
    max_len: np.ndarray,
    weight: np.ndarray,
    *,
    curvature: float,
    step: float = 0.9,
    smooth: int = 4,
) -> np.ndarray:
    """Rasterise many curved filaments at once as polylines of ``step``-px segments.

    Returns the sparse ``(flat_index, weight)`` form (see ``_raster``): one entry per point. Each
    filament starts at (y0, x0) with direction ``theta``, turns by a random walk of the heading
    (``curvature`` rad of standard deviation per ``smooth`` steps), and ends at ``max_len`` px or as soon
    as it leaves its owner cell (``labels`` value ``owner``) or the field, whichever comes first.
    """
    h, w = labels.shape
    n = y0.size
    if n == 0:
        return np.zeros(0, np.intp), np.zeros(0, _F32)
    steps = int(math.ceil(float(max_len.max()) / step)) + 1
    coarse = (steps + smooth - 1) // smooth
    turn = rng.standard_normal((n, coarse), dtype=_F32)
    turn *= _F32(curvature / smooth)
    turn[:, 0] = 0
    heading = np.repeat(turn, smooth, axis=1)[:, :steps]
    np.cumsum(heading, axis=1, out=heading)
    heading += theta.astype(_F32)[:, None]
    dy = np.sin(heading)
    dx = np.cos(heading, out=heading)
    dy *= _F32(step)
    dx *= _F32(step)
    dy[:, 0] = y0
    dx[:, 0] = x0
    iy = np.rint(np.cumsum(dy, axis=1, out=dy)).astype(np.intp)
    ix = np.rint(np.cumsum(dx, axis=1, out=dx)).astype(np.intp)
    ok = (iy >= 0) & (iy < h) & (ix >= 0) & (ix < w)
    flat = iy * w + ix
    flat *= ok
    ok &= labels.ravel()[flat] == owner[:, None]
    ok &= np.arange(steps, dtype=_F32)[None, :] <= (max_len / _F32(step))[:, None]
    np.logical_and.accumulate(ok, axis=1, out=ok)
    return flat[ok], np.broadcast_to(weight.astype(_F32)[:, None], ok.shape)[ok]


def _saturate(img: np.ndarray, k: float) -> np.ndarray:
    """Compress dense overlaps of deposited filaments: ``img / (1 + img / k)`` (linear when sparse, <= k)."""
    den = img * _F32(1.0 / k)
    den += _F32(1)
    return img / den


def _bump(x: np.ndarray, width: float) -> np.ndarray:
    """Smooth bump ``(1 - (x / width)^2)^2`` for ``|x| < width``, else 0 (a cheap stand-in for a Gaussian)."""
    t = x * _F32(1.0 / width)
    t *= t
    np.subtract(_F32(1), t, out=t)
    np.maximum(t, 0, out=t)
    t *= t
    return t


def _soft(sd: np.ndarray, width: float = 1.0) -> np.ndarray:
    """Soft inside-mask from a signed distance (negative inside), 0.5 on the boundary."""
    return np.clip(_F32(0.5) - sd * _F32(1.0 / width), 0, 1)
