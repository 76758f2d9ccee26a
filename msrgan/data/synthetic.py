"""Seeded procedural fluorescence high-content-screening (HCS) fields of view.

The generator draws fields that look like Human Protein Atlas (HPA) Cell Atlas images: a handful of
adherent cells per field, each with a textured nucleus (DAPI), a microtubule cytoskeleton radiating from
a centrosome next to the nucleus, an endoplasmic-reticulum network around the nucleus and a "protein of
interest" whose pattern follows one of 13 subcellular localization classes (``CLASS_NAMES``). The
acquisition is simulated too: Gaussian approximation of the point spread function, uneven illumination
(a smooth low-frequency gain field), intensity variation between fields and between cells,
Poisson-Gaussian noise and quantization to 8 or 16 bits.

Everything is pure numpy and deterministic: the same ``seed`` and arguments give identical bytes (on a
given platform; vectorised float32 math may differ in the last bit between CPU families), and every
random number comes from ``np.random.default_rng(seed)`` and the child generators it spawns (no global
state). Each channel has its own child stream, so the channel layouts are views of one field:
``synthesize_field(s, channels=3)[0]`` equals ``synthesize_field(s, channels=4)[0][..., [1, 3, 0]]``, and
the 8-bit image is the same analogue signal as the 16-bit one, quantized more coarsely.

Rendering is vectorised at field level (cells in small bounding boxes, filaments as many random-walk
polylines rasterised with one ``np.bincount``, separable blurs as shifted-slice multiply-adds): about
60-80 fields of 256x256x3 per second on one core (``scripts/bench_synthetic.py``).

Channel layouts (see the DESIGN conventions):

- ``channels=4``: CYTO2017 order ``CHANNEL_NAMES_4`` = nucleus (DAPI), microtubules, ER, protein.
- ``channels=3``: the RGB merge ``CHANNEL_NAMES_3`` = R microtubules, G protein, B nucleus.
- ``channels=1``: ``CHANNEL_NAMES_1`` = the protein-of-interest channel alone, as a single gray
  widefield-style image (the channel whose pattern carries the class).

Bit depths: ``bit_depth=8`` maps the camera's full scale to 0..255; ``bit_depth=16`` digitises the same
noisy analogue signal to 0..65535 (a 16-bit sCMOS-like camera), so the low bits carry real information
(read noise and shot noise are simulated before quantization; it is not ``8-bit * 257``).

Geometry: cells have a radius of about 22-34 pixels and nuclei about 40-50 % of that, roughly an HPA
image at 1/8 of its native 2048x2048 sampling, so a 256x256 field holds about 7 to 35 cells (median 15,
counting those cut by the border), sparse to confluent. Larger ``size`` means more cells, not bigger
cells.

Example:
    >>> from msrgan.data.synthetic import synthesize_field, synthesize_dataset, CLASS_NAMES
    >>> image, label = synthesize_field(7, size=128, channels=3)
    >>> image.shape, image.dtype, CLASS_NAMES[label] in CLASS_NAMES
    ((128, 128, 3), dtype('uint8'), True)
    >>> x, y = synthesize_dataset(26, seed=1, size=64, channels=4, bit_depth=16)
    >>> x.shape, x.dtype, sorted(set(y.tolist())) == list(range(13))
    ((26, 64, 64, 4), dtype('uint16'), True)
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import numpy as np

__all__ = [
    "CHANNEL_NAMES_1",
    "CHANNEL_NAMES_3",
    "CHANNEL_NAMES_4",
    "CLASS_NAMES",
    "NUM_CLASSES",
    "clean_field",
    "iter_fields",
    "synthesize_dataset",
    "synthesize_field",
]

CLASS_NAMES: tuple[str, ...] = (
    "nucleoplasm",
    "nuclear_membrane",
    "nucleoli",
    "cytosol",
    "plasma_membrane",
    "mitochondria",
    "endoplasmic_reticulum",
    "golgi_apparatus",
    "vesicles",
    "actin_filaments",
    "microtubules",
    "centrosome",
    "intermediate_filaments",
)
NUM_CLASSES = len(CLASS_NAMES)

CHANNEL_NAMES_4: tuple[str, ...] = ("nucleus", "microtubules", "er", "protein")  # CYTO2017 order
CHANNEL_NAMES_3: tuple[str, ...] = ("microtubules", "protein", "nucleus")  # RGB merge
CHANNEL_NAMES_1: tuple[str, ...] = ("protein",)  # gray: the protein of interest
_CHANNEL_NAMES = {1: CHANNEL_NAMES_1, 3: CHANNEL_NAMES_3, 4: CHANNEL_NAMES_4}

_F32 = np.float32
_MIN_SIZE = 32
_CELL_RADIUS = (22.0, 34.0)  # px, range of the field's mean cell radius
_FAR = np.float32(1e3)  # "signed distance" of background pixels

# Class ids, for readability below.
(
    _NUCLEOPLASM,
    _NUCLEAR_MEMBRANE,
    _NUCLEOLI,
    _CYTOSOL,
    _PLASMA_MEMBRANE,
    _MITOCHONDRIA,
    _ER,
    _GOLGI,
    _VESICLES,
    _ACTIN,
    _MICROTUBULES,
    _CENTROSOME,
    _INTERMEDIATE_FILAMENTS,
) = range(NUM_CLASSES)


# --------------------------------------------------------------------------------------------------
# Argument checking
# --------------------------------------------------------------------------------------------------


def _check_size(size) -> tuple[int, int]:
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        hw = (int(size), int(size))
    elif (
        isinstance(size, (tuple, list))
        and len(size) == 2
        and all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) for s in size)
    ):
        hw = (int(size[0]), int(size[1]))
    else:
        raise ValueError(f"size must be an int or a (height, width) pair of ints, got size={size!r}")
    if min(hw) < _MIN_SIZE:
        raise ValueError(f"size must be at least {_MIN_SIZE} pixels per side, got size={size!r}")
    return hw


def _check_channels(channels) -> int:
    if isinstance(channels, bool) or channels not in _CHANNEL_NAMES:
        raise ValueError(f"channels must be 1, 3 or 4, got channels={channels!r}")
    return int(channels)


def _check_bit_depth(bit_depth) -> int:
    if isinstance(bit_depth, bool) or bit_depth not in (8, 16):
        raise ValueError(f"bit_depth must be 8 or 16, got bit_depth={bit_depth!r}")
    return int(bit_depth)


def _check_label(label) -> int | None:
    if label is None:
        return None
    if isinstance(label, str) and label in CLASS_NAMES:
        return CLASS_NAMES.index(label)
    if isinstance(label, (int, np.integer)) and not isinstance(label, bool) and 0 <= label < NUM_CLASSES:
        return int(label)
    raise ValueError(f"label must be a class id 0..{NUM_CLASSES - 1} or one of CLASS_NAMES, got label={label!r}")


def _check_seed(seed):
    def ok(s):
        return isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 0

    if ok(seed):
        return int(seed)
    if isinstance(seed, (tuple, list)) and len(seed) > 0 and all(ok(s) for s in seed):
        return [int(s) for s in seed]
    raise ValueError(f"seed must be a non-negative int (or a sequence of them), got seed={seed!r}")


# --------------------------------------------------------------------------------------------------
# Small vectorised drawing primitives
# --------------------------------------------------------------------------------------------------


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


def _points_in_cells(rng, cells: "_Field", per_cell: np.ndarray, rmin: float, rmax: float, exclude_nucleus: bool):
    """Random points inside cells: ``per_cell[i]`` tries per cell, at normalized radius rmin..rmax of the cell
    around the nucleus centre; returns (owner, y, x) of the points that land in their own cell."""
    owner = np.repeat(np.arange(1, cells.n + 1), per_cell)
    if owner.size == 0:
        return owner, np.zeros(0, _F32), np.zeros(0, _F32)
    k = owner - 1
    ang = rng.uniform(0, 2 * np.pi, owner.size).astype(_F32)
    rad = np.sqrt(rng.uniform(rmin**2, rmax**2, owner.size)).astype(_F32) * cells.radius[k]
    y = cells.nuc_cy[k] + rad * np.sin(ang)
    x = cells.nuc_cx[k] + rad * np.cos(ang)
    iy = np.clip(np.rint(y).astype(np.intp), 0, cells.h - 1)
    ix = np.clip(np.rint(x).astype(np.intp), 0, cells.w - 1)
    ok = (y >= 0) & (y <= cells.h - 1) & (x >= 0) & (x <= cells.w - 1) & (cells.labels[iy, ix] == owner)
    if exclude_nucleus:
        ok &= cells.sd_nuc[iy, ix] > 0.5
    return owner[ok], y[ok], x[ok]


# --------------------------------------------------------------------------------------------------
# Field geometry: cells, nuclei, nucleoli, centrosomes
# --------------------------------------------------------------------------------------------------


class _Field:
    """The geometry of one field of view: label map, signed distances and per-cell landmarks."""

    def __init__(self, rng: np.random.Generator, h: int, w: int):
        self.h, self.w = h, w
        r_mean = rng.uniform(*_CELL_RADIUS)
        density = rng.uniform(0.35, 0.85)
        n_target = max(1, int(round(density * h * w / (math.pi * r_mean**2))))

        # Cell centres: random sequential placement with a minimum spacing (cells touch and share edges).
        n_cand = 6 * n_target + 8
        cy = rng.uniform(-0.25 * r_mean, h - 1 + 0.25 * r_mean, n_cand)
        cx = rng.uniform(-0.25 * r_mean, w - 1 + 0.25 * r_mean, n_cand)
        cy[0], cx[0] = rng.uniform(0.3, 0.7) * (h - 1), rng.uniform(0.3, 0.7) * (w - 1)  # one cell in view
        rr = r_mean * np.exp(rng.normal(0.0, 0.15, n_cand))
        keep = [0]
        free = np.ones(n_cand, bool)
        while len(keep) < n_target:
            i = keep[-1]
            free &= (cy - cy[i]) ** 2 + (cx - cx[i]) ** 2 >= (0.8 * (rr + rr[i])) ** 2
            nxt = np.flatnonzero(free[i + 1 :])
            if nxt.size == 0:
                break
            keep.append(i + 1 + int(nxt[0]))
        k = np.asarray(keep)
        n = self.n = k.size
        self.cy, self.cx, self.radius = cy[k].astype(_F32), cx[k].astype(_F32), rr[k].astype(_F32)

        # Cell and nucleus shapes: rotated ellipses, the cells with a 3-fold radial harmonic, both
        # with a low-frequency random deformation of the outline.
        cell_phi = rng.uniform(0, np.pi, n)
        cell_elong = rng.uniform(1.0, 1.9, n)
        cell_harm = np.clip(rng.normal(0, 0.09, (n, 2)), -0.25, 0.25)
        nuc_frac = rng.uniform(0.38, 0.5, n)
        nuc_phi = cell_phi + rng.normal(0, 0.4, n)
        nuc_elong = rng.uniform(1.0, 1.45, n)
        off_ang = rng.uniform(0, 2 * np.pi, n)
        off_len = rng.uniform(0.0, 0.15, n) * self.radius
        self.nuc_cy = (self.cy + off_len * np.sin(off_ang)).astype(_F32)
        self.nuc_cx = (self.cx + off_len * np.cos(off_ang)).astype(_F32)
        self.nuc_radius = (nuc_frac * self.radius).astype(_F32)
        self._nuc_phi, self._nuc_elong = nuc_phi, nuc_elong
        edge_a, edge_b = _smooth_noise(rng, h, w, spacing=0.3 * r_mean, count=2)

        labels = np.zeros((h, w), np.int32)
        best = np.ones((h, w), _F32)
        boxes = []
        for i in range(n):
            # Bounding box of the rotated ellipse, with room for the harmonics and the edge noise.
            big, small = self.radius[i] * math.sqrt(cell_elong[i]), self.radius[i] / math.sqrt(cell_elong[i])
            grow = (1.0 + float(np.abs(cell_harm[i]).sum())) * 1.4
            ey = grow * math.hypot(big * math.sin(cell_phi[i]), small * math.cos(cell_phi[i]))
            ex = grow * math.hypot(big * math.cos(cell_phi[i]), small * math.sin(cell_phi[i]))
            y0, y1 = max(0, int(self.cy[i] - ey)), min(h, int(self.cy[i] + ey) + 2)
            x0, x1 = max(0, int(self.cx[i] - ex)), min(w, int(self.cx[i] + ex) + 2)
            if y0 >= y1 or x0 >= x1:
                boxes.append(None)
                continue
            sl = (slice(y0, y1), slice(x0, x1))
            yy = np.arange(y0, y1, dtype=_F32)[:, None]
            xx = np.arange(x0, x1, dtype=_F32)[None, :]
            d = _shape_metric(yy - self.cy[i], xx - self.cx[i], cell_phi[i], cell_elong[i], cell_harm[i])
            d *= _F32(1.0 / self.radius[i])
            d += _F32(0.11) * edge_a[sl]
            better = d < best[sl]
            np.copyto(best[sl], d, where=better)
            np.copyto(labels[sl], i + 1, where=better)
            dn = _shape_metric(yy - self.nuc_cy[i], xx - self.nuc_cx[i], nuc_phi[i], nuc_elong[i], None)
            dn *= _F32(1.0 / self.nuc_radius[i])
            dn += _F32(0.04) * edge_b[sl]
            boxes.append((sl, dn))

        # Signed distance (approximate, px; negative inside) to each pixel's own nucleus.
        sd_nuc = np.full((h, w), _FAR, _F32)
        for i, box in enumerate(boxes):
            if box is None:
                continue
            sl, dn = box
            dn -= 1
            dn *= self.nuc_radius[i]
            np.copyto(sd_nuc[sl], dn, where=labels[sl] == i + 1)
        self.labels, self.sd_nuc = labels, sd_nuc
        self.cell = (labels > 0).astype(_F32)
        self.nucleus = _soft(sd_nuc, 1.0)
        self.cyto = self.cell * (1 - self.nucleus)

        # Cell outlines: pixels whose 4-neighbourhood holds another label (cell-cell and cell-background).
        edge = np.zeros((h, w), bool)
        diff_v = labels[1:, :] != labels[:-1, :]
        diff_h = labels[:, 1:] != labels[:, :-1]
        edge[1:, :] |= diff_v
        edge[:-1, :] |= diff_v
        edge[:, 1:] |= diff_h
        edge[:, :-1] |= diff_h
        self.outline = (edge & (labels > 0)).astype(_F32)

        # Centrosome (and Golgi side): just outside the nucleus, in a random direction.
        self.polarity = rng.uniform(0, 2 * np.pi, n).astype(_F32)
        t_edge = self._nucleus_edge_distance(self.polarity)
        cs_y = self.nuc_cy + (t_edge + 2.5) * np.sin(self.polarity)
        cs_x = self.nuc_cx + (t_edge + 2.5) * np.cos(self.polarity)
        iy = np.clip(np.rint(cs_y).astype(np.intp), 0, h - 1)
        ix = np.clip(np.rint(cs_x).astype(np.intp), 0, w - 1)
        outside = labels[iy, ix] != np.arange(1, n + 1)
        cs_y[outside] = (self.nuc_cy + t_edge * np.sin(self.polarity))[outside]
        cs_x[outside] = (self.nuc_cx + t_edge * np.cos(self.polarity))[outside]
        self.cs_y, self.cs_x = cs_y.astype(_F32), cs_x.astype(_F32)
        self.nuc_edge = t_edge

        # Nucleoli: 1-4 per nucleus, within the inner part of the nucleus.
        count = rng.integers(1, 5, n)
        owner = np.repeat(np.arange(n), count)
        ang = rng.uniform(0, 2 * np.pi, owner.size)
        rad = np.sqrt(rng.uniform(0, 0.45**2, owner.size)) * self.nuc_radius[owner]
        self.nucleoli = np.clip(
            _blobs(
                h,
                w,
                self.nuc_cy[owner] + rad * np.sin(ang),
                self.nuc_cx[owner] + rad * np.cos(ang),
                rng.uniform(1.3, 3.2, owner.size),
                np.ones(owner.size),
            ),
            0,
            1,
        ) * (self.nucleus > 0.5)

    def _nucleus_edge_distance(self, angle: np.ndarray) -> np.ndarray:
        """Distance from each nucleus centre to its outline along ``angle`` (ignoring the edge noise)."""
        a = np.sqrt(self._nuc_elong)
        u = np.cos(angle - self._nuc_phi) / a
        v = np.sin(angle - self._nuc_phi) * a
        return (self.nuc_radius / np.hypot(u, v)).astype(_F32)

    def cell_lut(self, values: np.ndarray) -> np.ndarray:
        """Per-pixel map of a per-cell value (0 on the background)."""
        return np.take(np.concatenate([[0], values]).astype(_F32), self.labels)


def _shape_metric(dy, dx, phi, elong, harm) -> np.ndarray:
    """Radius-normalised distance of a rotated ellipse of mean radius 1, optionally with radial harmonics.

    ``dy`` is a column and ``dx`` a row of offsets from the centre; ``harm`` is ``None`` or the two
    coefficients (a3, b3) of a 3-fold outline ``r(theta) = 1 + a3 cos 3t + b3 sin 3t`` (the 2-fold part
    is the ellipse itself).
    Returns ``rho / r(theta)`` in the shape's own frame: < 1 inside, 1 on the outline, linear along rays.
    """
    a = math.sqrt(elong)
    c, s = math.cos(phi), math.sin(phi)
    u = dx * _F32(c / a) + dy * _F32(s / a)
    v = dy * _F32(c * a) - dx * _F32(s * a)
    r2 = u * u
    r2 += v * v
    r2 += _F32(1e-6)
    if harm is None:
        return np.sqrt(r2, out=r2)
    rho = np.sqrt(r2, out=r2)
    u /= rho  # cos(theta)
    v /= rho  # sin(theta)
    a3, b3 = (_F32(x) for x in harm)
    # cos 3t = c (4c^2 - 3), sin 3t = s (4c^2 - 1)
    q = u * u
    q *= _F32(4)
    t3 = q - _F32(3)
    t3 *= u
    t3 *= a3
    q -= _F32(1)
    q *= v
    q *= b3
    t3 += q
    t3 += _F32(1)
    return np.divide(rho, t3, out=rho)


# --------------------------------------------------------------------------------------------------
# Channel renderers (each uses only its own random stream)
# --------------------------------------------------------------------------------------------------


def _render_nucleus(rng: np.random.Generator, f: _Field) -> np.ndarray:
    """DAPI: bright nuclei with chromatin texture, darker nucleoli and a slightly brighter periphery."""
    tex = _texture(rng, f.h, f.w)
    level = f.cell_lut(np.exp(rng.normal(0, 0.18, f.n)))
    dapi = _bump(f.sd_nuc + _F32(1.5), 3.0)  # slightly brighter periphery (heterochromatin)
    dapi *= _F32(0.15)
    dapi += _F32(0.8)
    tex *= _F32(0.22)
    dapi += tex
    dapi *= f.nucleus
    dapi *= _F32(1) - _F32(0.55) * f.nucleoli
    dapi *= level
    return dapi


def _render_microtubules(rng: np.random.Generator, f: _Field) -> tuple[np.ndarray, np.ndarray]:
    """Microtubules radiating from the centrosome plus non-centrosomal ones; returns (filaments, diffuse)."""
    per = rng.integers(16, 30, f.n)
    owner = np.repeat(np.arange(1, f.n + 1), per)
    k = owner - 1
    theta = rng.uniform(0, 2 * np.pi, owner.size).astype(_F32)
    start = rng.uniform(1.0, 4.0, owner.size).astype(_F32)  # minus ends spread around the centrosome
    y0 = f.cs_y[k] + start * np.sin(theta)
    x0 = f.cs_x[k] + start * np.cos(theta)
    length = (f.radius[k] * rng.uniform(0.8, 1.4, owner.size)).astype(_F32)
    weight = rng.uniform(0.5, 1.0, owner.size).astype(_F32)
    radial = _walk_parts(rng, f.labels, owner, y0, x0, theta, length, weight, curvature=0.35)
    per2 = rng.integers(10, 20, f.n)
    o2, y2, x2 = _points_in_cells(rng, f, per2, 0.4, 1.0, exclude_nucleus=True)
    t2 = rng.uniform(0, 2 * np.pi, o2.size).astype(_F32)
    l2 = rng.uniform(10, 30, o2.size).astype(_F32)
    w2 = rng.uniform(0.4, 0.8, o2.size).astype(_F32)
    free = _walk_parts(rng, f.labels, o2, y2, x2, t2, l2, w2, curvature=0.3)
    centrosome = _blob_parts(f.h, f.w, f.cs_y, f.cs_x, np.full(f.n, 1.5), np.full(f.n, 0.6))
    fil = _saturate(_raster(f.h, f.w, radial, free, centrosome), 2.0)
    fil *= _F32(1) - _F32(0.75) * f.nucleus
    level = f.cell_lut(np.exp(rng.normal(0, 0.2, f.n)))
    fil *= level
    diffuse = f.cyto * _F32(0.25)
    diffuse += f.nucleus * _F32(0.06)
    diffuse *= level
    return fil, diffuse


def _render_er(rng: np.random.Generator, f: _Field) -> np.ndarray:
    """ER: reticular network (zero-crossings of a random field), denser around the nucleus, plus the envelope."""
    a, b = _smooth_noise(rng, f.h, f.w, spacing=rng.uniform(2.2, 3.2), count=2)
    net = _bump(a, 0.5)
    net += _F32(0.5) * _bump(b, 0.5)
    spread = f.cell_lut(1.0 / (f.radius * rng.uniform(0.35, 0.6, f.n)))
    perinuclear = np.maximum(f.sd_nuc, 0) * spread
    perinuclear += _F32(1)
    perinuclear = _F32(1) / (perinuclear * perinuclear)
    envelope = _bump(f.sd_nuc - _F32(0.5), 3.0)
    return f.cyto * perinuclear * (_F32(0.3) + net) + _F32(0.5) * envelope * f.cell + _F32(0.08) * f.nucleus


def _render_protein(
    rng: np.random.Generator, f: _Field, label: int, mt: tuple[np.ndarray, np.ndarray] | None, er: np.ndarray | None
) -> np.ndarray:
    """The protein of interest, localized according to ``label``; per-cell expression varies a lot."""
    h, w = f.h, f.w
    expression = np.exp(rng.normal(0, 0.35, f.n)) * np.where(rng.random(f.n) < 0.1, 0.3, 1.0)
    expr = f.cell_lut(expression)
    if label == _NUCLEOPLASM:
        tex = _texture(rng, h, w)
        p = f.nucleus * (1 - _F32(0.9) * f.nucleoli) * (_F32(0.85) + _F32(0.2) * tex) + _F32(0.04) * f.cyto
    elif label == _NUCLEAR_MEMBRANE:
        rim = _bump(f.sd_nuc + _F32(0.3), 2.0) * f.cell
        p = rim + _F32(0.06) * f.nucleus
    elif label == _NUCLEOLI:
        p = f.nucleoli + _F32(0.05) * f.nucleus
    elif label == _CYTOSOL:
        tex = _texture(rng, h, w)
        p = f.cyto * (_F32(0.8) + _F32(0.2) * tex) + _F32(0.12) * f.nucleus
    elif label == _PLASMA_MEMBRANE:
        tex = _texture(rng, h, w)
        p = f.outline * (_F32(0.8) + _F32(0.2) * tex) * _F32(2.0) + _F32(0.07) * f.cyto
    elif label == _MITOCHONDRIA:
        per = rng.integers(60, 130, f.n)
        owner, y, x = _points_in_cells(rng, f, per, 0.3, 1.0, exclude_nucleus=True)
        theta = rng.uniform(0, 2 * np.pi, owner.size).astype(_F32)
        length = rng.uniform(2.0, 8.0, owner.size).astype(_F32)
        rods = _walk_parts(rng, f.labels, owner, y, x, theta, length, np.ones(owner.size, _F32), curvature=0.35)
        p = _raster(h, w, rods)
        p = p * (1 - _F32(0.7) * f.nucleus) + _F32(0.05) * f.cyto
    elif label == _ER:
        p = er
    elif label == _GOLGI:
        per = rng.integers(18, 36, f.n)
        owner = np.repeat(np.arange(f.n), per)
        ang = f.polarity[owner] + rng.normal(0, 0.45, owner.size).astype(_F32)
        dist = f.nuc_edge[owner] + 1.0 + np.abs(rng.normal(0, 2.5, owner.size))
        y = f.nuc_cy[owner] + dist * np.sin(ang)
        x = f.nuc_cx[owner] + dist * np.cos(ang)
        p = _saturate(_blobs(h, w, y, x, rng.uniform(0.7, 2.0, owner.size), rng.uniform(0.5, 1.0, owner.size)), 1.0)
        p = p * f.cell + _F32(0.04) * f.cyto
    elif label == _VESICLES:
        per = rng.integers(25, 70, f.n)
        owner, y, x = _points_in_cells(rng, f, per, 0.0, 1.0, exclude_nucleus=True)
        p = _saturate(_blobs(h, w, y, x, rng.uniform(0.5, 1.5, owner.size), rng.uniform(0.5, 1.0, owner.size)), 1.0)
        p = p + _F32(0.04) * f.cyto
    elif label == _ACTIN:
        per = rng.integers(8, 18, f.n)
        owner = np.repeat(np.arange(1, f.n + 1), per)
        k = owner - 1
        theta = (np.repeat(rng.uniform(0, np.pi, f.n), per) + rng.normal(0, 0.06, owner.size)).astype(_F32)
        offset = rng.uniform(-0.75, 0.75, owner.size).astype(_F32) * f.radius[k]
        along = rng.uniform(-0.3, 0.3, owner.size).astype(_F32) * f.radius[k]
        y0 = f.cy[k] + offset * np.cos(theta) + along * np.sin(theta)
        x0 = f.cx[k] - offset * np.sin(theta) + along * np.cos(theta)
        ok = f.labels[np.clip(np.rint(y0).astype(np.intp), 0, h - 1), np.clip(np.rint(x0).astype(np.intp), 0, w - 1)]
        sel = (ok == owner) & (y0 >= 0) & (y0 <= h - 1) & (x0 >= 0) & (x0 <= w - 1)
        owner, y0, x0, theta = owner[sel], y0[sel], x0[sel], theta[sel]
        length = (f.radius[k[sel]] * rng.uniform(0.3, 0.9, owner.size)).astype(_F32)
        weight = rng.uniform(0.25, 0.7, owner.size).astype(_F32)
        fib = _raster(  # stress fibres: straight, both ways from a point inside the cell
            h,
            w,
            _walk_parts(rng, f.labels, owner, y0, x0, theta, length, weight, curvature=0.01),
            _walk_parts(rng, f.labels, owner, y0, x0, theta + _F32(np.pi), length, weight, curvature=0.01),
        )
        p = _saturate(fib, 1.5) * (1 - _F32(0.5) * f.nucleus) + _F32(1.2) * f.outline + _F32(0.1) * f.cyto
    elif label == _MICROTUBULES:
        p = mt[0] + mt[1]
    elif label == _CENTROSOME:
        two = rng.random(f.n) < 0.5
        jitter = rng.uniform(2.0, 3.5, f.n) * two
        ang = rng.uniform(0, 2 * np.pi, f.n)
        y = np.concatenate([f.cs_y, (f.cs_y + jitter * np.sin(ang))[two]])
        x = np.concatenate([f.cs_x, (f.cs_x + jitter * np.cos(ang))[two]])
        p = _saturate(_blobs(h, w, y, x, np.full(y.size, 1.6), np.ones(y.size)), 1.0) + _F32(0.03) * f.cyto
    elif label == _INTERMEDIATE_FILAMENTS:
        per = rng.integers(8, 16, f.n)
        owner = np.repeat(np.arange(1, f.n + 1), per)
        k = owner - 1
        ang = rng.uniform(0, 2 * np.pi, owner.size).astype(_F32)
        dist = f.nuc_radius[k] * rng.uniform(1.0, 1.5, owner.size).astype(_F32)
        y0 = f.nuc_cy[k] + dist * np.sin(ang)
        x0 = f.nuc_cx[k] + dist * np.cos(ang)
        theta = ang + _F32(np.pi / 2) * np.where(rng.random(owner.size) < 0.5, 1, -1).astype(_F32)
        theta += rng.normal(0, 0.5, owner.size).astype(_F32)
        length = (f.radius[k] * rng.uniform(2.0, 3.5, owner.size)).astype(_F32)
        weight = rng.uniform(0.5, 1.0, owner.size).astype(_F32)
        p = _raster(h, w, _walk_parts(rng, f.labels, owner, y0, x0, theta, length, weight, curvature=0.4, smooth=8))
        p = _saturate(p, 2.0) * (1 - _F32(0.5) * f.nucleus) + _F32(0.06) * f.cyto
    else:  # pragma: no cover - labels are checked before
        raise ValueError(f"label out of range: {label}")
    return p * expr


# --------------------------------------------------------------------------------------------------
# Acquisition: optics, illumination, noise, digitisation
# --------------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------------


def synthesize_field(
    seed: int | Sequence[int],
    *,
    size: int | tuple[int, int] = 256,
    channels: int = 3,
    bit_depth: int = 8,
    label: int | str | None = None,
) -> tuple[np.ndarray, int]:
    """Draw one synthetic fluorescence HCS field of view.

    Args:
        seed: Non-negative int (or a sequence of them, as ``np.random.default_rng`` accepts). The same
            seed and arguments give identical bytes.
        size: Field size in pixels, an int for a square or a ``(height, width)`` pair; at least 32.
        channels: 1 (the protein channel as one gray image), 3 (RGB merge: R microtubules, G protein,
            B nucleus; ``CHANNEL_NAMES_3``) or 4 (CYTO2017 order: nucleus, microtubules, ER, protein;
            ``CHANNEL_NAMES_4``).
        bit_depth: 8 (``uint8``) or 16 (``uint16``, 16-bit digitisation of the same noisy signal).
        label: Localization class of the protein of interest, an id in ``0..12`` or a name from
            ``CLASS_NAMES``; ``None`` draws it from the seed. The label changes only the protein
            channel: the cells, nuclei, microtubules and ER of a seed are the same for every label.

    Returns:
        ``(image, label)``: an ``(H, W, channels)`` array of ``uint8`` or ``uint16`` and the class id.

    Raises:
        ValueError: for a bad ``seed``, ``size``, ``channels``, ``bit_depth`` or ``label``; the message
            names the argument and its value.

    Example:
        >>> img, y = synthesize_field(3, size=96, channels=4, bit_depth=16, label="golgi_apparatus")
        >>> img.shape, img.dtype, y
        ((96, 96, 4), dtype('uint16'), 7)
    """
    seed = _check_seed(seed)
    h, w = _check_size(size)
    channels = _check_channels(channels)
    bit_depth = _check_bit_depth(bit_depth)
    label = _check_label(label)
    clean, illumination, acq_rngs, label = _render(seed, h, w, channels, label)
    out = np.empty((h, w, channels), np.uint8 if bit_depth == 8 else np.uint16)
    for c in range(channels):
        out[..., c] = _acquire(acq_rngs[c], clean[c], illumination, bit_depth)
    return out, label


def clean_field(
    seed: int | Sequence[int],
    *,
    size: int | tuple[int, int] = 256,
    channels: int = 3,
    label: int | str | None = None,
) -> tuple[np.ndarray, int]:
    """The noise-free specimen of ``synthesize_field``: no PSF, illumination, noise or quantization.

    The same seed and arguments give the same cells as ``synthesize_field``; values are float32
    fluorophore densities (about 0 to 1.5, unnormalised). ``msrgan.data.varied`` images it with
    randomised optics and cameras.

    Example:
        >>> x, y = clean_field(3, size=64, channels=4)
        >>> x.shape, x.dtype
        ((64, 64, 4), dtype('float32'))
    """
    seed = _check_seed(seed)
    h, w = _check_size(size)
    clean, _, _, label = _render(seed, h, w, _check_channels(channels), _check_label(label))
    return np.stack(clean, axis=-1), label


def _render(seed, h: int, w: int, channels: int, label: int | None):
    """Clean channels, illumination and the per-channel acquisition streams of one field."""
    root = np.random.default_rng(seed)
    if label is None:
        label = int(root.integers(NUM_CLASSES))
    g_layout, g_nuc, g_mt, g_er, g_prot, g_illum, *g_acq = root.spawn(6 + len(CHANNEL_NAMES_4))
    acq_rng = dict(zip(CHANNEL_NAMES_4, g_acq))

    names = _CHANNEL_NAMES[channels]
    field = _Field(g_layout, h, w)
    mt = _render_microtubules(g_mt, field) if ("microtubules" in names or label == _MICROTUBULES) else None
    er = _render_er(g_er, field) if ("er" in names or label == _ER) else None
    illumination = _illumination(g_illum, h, w)

    clean = []
    for name in names:
        if name == "nucleus":
            clean.append(_render_nucleus(g_nuc, field))
        elif name == "microtubules":
            clean.append(mt[0] + mt[1])
        elif name == "er":
            clean.append(er)
        else:
            clean.append(_render_protein(g_prot, field, label, mt, er))
    return clean, illumination, [acq_rng[n] for n in names], label


def iter_fields(
    count: int | None = None,
    *,
    seed: int = 0,
    size: int | tuple[int, int] = 256,
    channels: int = 3,
    bit_depth: int = 8,
    balanced: bool = True,
) -> Iterator[tuple[np.ndarray, int]]:
    """Yield ``(image, label)`` fields one at a time; endless when ``count`` is ``None``.

    Field ``i`` is ``synthesize_field((seed, i), ..., label=i % 13 if balanced else None)``, so a longer
    stream starts with the same fields as a shorter one.

    Args:
        count: Number of fields, at least 1, or ``None`` for an endless stream.
        seed: Non-negative int, the stream's seed.
        size: As in ``synthesize_field``.
        channels: As in ``synthesize_field``.
        bit_depth: As in ``synthesize_field``.
        balanced: Cycle through the 13 classes in order (``True``) or draw each label from its seed.

    Returns:
        An iterator of ``(image, label)`` pairs.

    Example:
        >>> [y for _, y in iter_fields(3, seed=5, size=32)]
        [0, 1, 2]
    """
    if count is not None and (isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 1):
        raise ValueError(f"count must be a positive int or None, got count={count!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got seed={seed!r}")
    hw = _check_size(size)
    channels = _check_channels(channels)
    bit_depth = _check_bit_depth(bit_depth)
    return _iter(count, int(seed), hw, channels, bit_depth, bool(balanced))


def _iter(count, seed, hw, channels, bit_depth, balanced):
    i = 0
    while count is None or i < count:
        yield synthesize_field(
            (seed, i), size=hw, channels=channels, bit_depth=bit_depth, label=i % NUM_CLASSES if balanced else None
        )
        i += 1


def synthesize_dataset(
    count: int,
    *,
    seed: int = 0,
    size: int | tuple[int, int] = 256,
    channels: int = 3,
    bit_depth: int = 8,
    balanced: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``count`` fields as one array, with their class labels.

    Args:
        count: Number of fields, at least 1.
        seed: Non-negative int; field ``i`` is ``synthesize_field((seed, i), ...)``.
        size: Field size, an int or ``(height, width)``, at least 32.
        channels: 1, 3 or 4 (see ``synthesize_field``).
        bit_depth: 8 or 16.
        balanced: Cycle through the 13 classes (``labels[i] == i % 13``); otherwise each label is drawn
            from its field's seed.

    Returns:
        ``(images, labels)``: ``(count, H, W, channels)`` ``uint8``/``uint16`` and ``(count,)`` ``int64``.

    Example:
        >>> x, y = synthesize_dataset(13, seed=0, size=64, channels=1)
        >>> x.shape, y.tolist() == list(range(13))
        ((13, 64, 64, 1), True)
    """
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 1:
        raise ValueError(f"count must be a positive int, got count={count!r}")
    h, w = _check_size(size)
    channels = _check_channels(channels)
    bit_depth = _check_bit_depth(bit_depth)
    images = np.empty((int(count), h, w, channels), np.uint8 if bit_depth == 8 else np.uint16)
    labels = np.empty(int(count), np.int64)
    for i, (img, y) in enumerate(
        iter_fields(count, seed=seed, size=(h, w), channels=channels, bit_depth=bit_depth, balanced=balanced)
    ):
        images[i] = img
        labels[i] = y
    return images, labels
