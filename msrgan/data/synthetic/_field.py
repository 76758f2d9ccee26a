"""Field geometry: cells, nuclei, nucleoli and centrosomes of one field of view (``_Field``)."""

from __future__ import annotations

import math

import numpy as np

from msrgan.data.synthetic._draw import _F32, _blobs, _smooth_noise, _soft

_CELL_RADIUS = (22.0, 34.0)  # px, range of the field's mean cell radius
_FAR = np.float32(1e3)  # "signed distance" of background pixels


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
