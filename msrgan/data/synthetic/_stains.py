"""Channel renderers: nucleus (DAPI), microtubules, ER and the protein of interest.

Each uses only its own random stream, so the channel layouts are views of one field.
"""

from __future__ import annotations

import numpy as np

from msrgan.data.synthetic._draw import _F32, _blob_parts, _blobs, _bump, _raster, _saturate, _smooth_noise, _texture, _walk_parts
from msrgan.data.synthetic._field import _Field, _points_in_cells
from msrgan.data.synthetic._names import (
    _ACTIN,
    _CENTROSOME,
    _CYTOSOL,
    _ER,
    _GOLGI,
    _INTERMEDIATE_FILAMENTS,
    _MICROTUBULES,
    _MITOCHONDRIA,
    _NUCLEAR_MEMBRANE,
    _NUCLEOLI,
    _NUCLEOPLASM,
    _PLASMA_MEMBRANE,
    _VESICLES,
)


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
