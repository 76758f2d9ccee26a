"""The tile plan: where each tile of a tiled upscale reads, where it contributes, and its weights.

How tiles are laid out (per axis; the 2-D plan is the product of the two axes):

- The output is cut into blocks of ``step`` low-resolution (LR) pixels. Tile ``j`` contributes
  to ``[j*step, (j+1)*step + blend)``: its block plus a ``blend``-pixel zone shared with the
  next tile. Inside that zone the two tiles are mixed with complementary raised-cosine weights
  (``sin^2`` / ``cos^2``, computed at the output resolution), so the weights sum to exactly
  one everywhere and there is no seam.
- Each tile reads ``overlap`` extra LR pixels of context on every side that touches another
  tile and discards their output (the border crop). Its model input is therefore
  ``step + blend + 2*overlap`` pixels (the ``tile`` size); at the image border the window is
  shifted inward instead of padded, so every model call has the same shape.
- A generator output pixel depends on at most ``Generator.receptive_margin`` LR pixels on each
  side (see ``default_overlap``). With ``overlap >= receptive_margin`` every pixel a tile
  contributes, blend zones included, is computed exactly as in a whole-image pass (BatchNorm
  runs in inference mode, so nothing depends on the tile's statistics): tiled and whole-image
  results agree to float rounding. A smaller overlap trades exactness for speed; the blend
  then hides the small differences between neighbouring tiles.

The plan is pure arithmetic (no model, no image); ``msrgan.tiling`` runs it.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Sequence

import numpy as np

__all__ = ["DEFAULT_BLEND", "DEFAULT_TILE", "TilePlan", "default_overlap", "plan_tiles"]

DEFAULT_TILE = 256
"""Default model input size (LR pixels per side); whole images up to this size run in one pass."""
DEFAULT_BLEND = 8
"""Default width (LR pixels) of the raised-cosine zone shared by neighbouring tiles."""


def default_overlap(model) -> int:
    """Default per-side tile context in LR pixels: the model's ``receptive_margin``.

    For the SRResNet ``Generator`` the margin is the number of LR pixels one output pixel can
    depend on, per side, summed over the layers with ``same`` padding (so beyond it, zero
    padding at a tile edge cannot reach the pixel):

    - head 9x9 conv: 4;
    - each residual block's two 3x3 convs: 2 per block;
    - the body 3x3 conv: 1;
    - one 3x3 conv per x2 sub-pixel stage, at 2, 4, ... times the LR resolution: at most one
      LR pixel each after the pixel-shuffle's integer division;
    - the tail 9x9 conv at the output resolution: ``ceil(4 / scale)`` LR pixels.

    That is ``4 + 2*num_blocks + 1 + log2(scale) + ceil(4/scale)``: 40 for the paper's
    16-block x4 generator, 16 for ``msrgan-x4-small``. It is an upper bound (the sub-pixel
    stages cost less than a whole LR pixel), which ``tests/test_inference.py`` checks by
    perturbing one input pixel.
    """
    margin = getattr(model, "receptive_margin", None)
    if margin is None:
        raise ValueError(f"{type(model).__name__} has no receptive_margin; pass overlap= explicitly")
    return int(margin)



# --------------------------------------------------------------------------------------------
# Tile plan
# --------------------------------------------------------------------------------------------

def _ramp_up(n: int) -> np.ndarray:
    """Raised-cosine weights rising over ``n`` pixels; ``_ramp_up(n) + _ramp_up(n)[::-1] == 1``."""
    k = (np.arange(n, dtype=np.float64) + 0.5) / n
    return np.sin(0.5 * np.pi * k) ** 2


@dataclasses.dataclass(frozen=True)
class _AxisPlan:
    size: int              # LR length of the axis
    step: int              # LR length of a block (the last block may be shorter)
    windows: tuple          # per tile: (start, stop) of the model input, LR
    regions: tuple          # per tile: (start, stop) of the contributed region, LR
    weights: tuple          # per tile: float32 weights over the region at output resolution

    @property
    def count(self) -> int:
        return len(self.windows)

    def block(self, j: int) -> tuple[int, int]:
        return j * self.step, min((j + 1) * self.step, self.size)


def _plan_axis(n: int, tile: int, overlap: int, blend: int, align: int, scale: int, name: str) -> _AxisPlan:
    if n <= tile:
        w = np.ones(n * scale, np.float32)
        return _AxisPlan(n, n, ((0, n),), ((0, n),), (w,))
    step = tile - 2 * overlap - blend
    step -= step % align
    if step < max(blend, align, 1):
        need = 2 * overlap + blend + align * math.ceil(max(blend, align, 1) / align)
        raise ValueError(
            f"tile={tile} is too small for overlap={overlap} and blend={blend} along the {name} "
            f"({n} pixels): tiles need at least 2*overlap + blend + a block of {need - 2 * overlap - blend} "
            f"= {need} LR pixels at x{scale}; raise tile or lower overlap"
        )
    count = math.ceil(n / step)
    windows, regions, weights = [], [], []
    ramp = _ramp_up(blend * scale) if blend else np.zeros(0)
    for j in range(count):
        r0 = j * step
        r1 = n if j == count - 1 else min((j + 1) * step + blend, n)
        w = np.ones((r1 - r0) * scale, np.float64)
        if j > 0 and blend:
            k = min(blend * scale, w.size)
            w[:k] = ramp[:k]
        if j < count - 1 and blend:
            start = step * scale
            k = min(blend * scale, w.size - start)
            w[start:start + k] = 1.0 - ramp[:k]
        start = min(max(r0 - overlap, 0), n - tile)
        windows.append((start, start + tile))
        regions.append((r0, r1))
        weights.append(w.astype(np.float32))
    return _AxisPlan(n, step, tuple(windows), tuple(regions), tuple(weights))


@dataclasses.dataclass(frozen=True)
class TilePlan:
    """Where each tile reads, where it contributes, and how it is weighted (see the module doc).

    Attributes:
        shape: LR ``(H, W)``.
        scale: Upscaling factor.
        tile: Model input ``(h, w)`` of every tile (LR).
        overlap: Per-side context discarded from each tile (LR).
        blend: Width of the raised-cosine zone between neighbouring tiles (LR).
        exact: ``overlap >= receptive margin``: tiled equals whole-image up to float rounding.
        block: Output block ``(h, w)`` (output pixels); ``iter_upscaled_tiles`` yields blocks of
            this size (smaller at the bottom and right edges) and the TIFF tiles match it.
    """

    shape: tuple[int, int]
    scale: int
    tile: tuple[int, int]
    overlap: int
    blend: int
    exact: bool
    y: _AxisPlan
    x: _AxisPlan

    @property
    def grid(self) -> tuple[int, int]:
        return self.y.count, self.x.count

    @property
    def block(self) -> tuple[int, int]:
        return self.y.step * self.scale, self.x.step * self.scale

    @property
    def output_shape(self) -> tuple[int, int]:
        return self.shape[0] * self.scale, self.shape[1] * self.scale


def plan_tiles(shape: Sequence[int], scale: int, *, tile: int | None = None, overlap: int,
               blend: int = DEFAULT_BLEND, margin: int | None = None) -> TilePlan:
    """Lays out the tiles for an LR image of ``shape`` ``(H, W)``.

    Args:
        shape: LR height and width.
        scale: The model's upscaling factor.
        tile: Model input size (LR pixels per side); ``None`` is ``DEFAULT_TILE``. An axis no
            longer than ``tile`` is processed in one piece.
        overlap: Per-side context of each tile that is cropped from its output (LR pixels).
        blend: Width of the raised-cosine blend zone between tiles (LR pixels).
        margin: The model's receptive margin, used only to report ``TilePlan.exact``.

    Returns:
        A ``TilePlan``. Blocks are a multiple of 16 output pixels wide (TIFF tiles must be).

    Example:
        >>> p = plan_tiles((1000, 700), 4, tile=256, overlap=40, blend=8)
        >>> p.grid, p.tile, p.block
        ((6, 5), (256, 256), (672, 672))
    """
    h, w = (int(v) for v in shape)
    tile = DEFAULT_TILE if tile is None else tile
    for value, name, low in ((tile, "tile", 1), (overlap, "overlap", 0), (blend, "blend", 0)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {name}={value!r}")
    align = 16 // math.gcd(16, int(scale))
    y = _plan_axis(h, int(tile), int(overlap), int(blend), align, int(scale), "height")
    x = _plan_axis(w, int(tile), int(overlap), int(blend), align, int(scale), "width")
    exact = (y.count == 1 and x.count == 1) or margin is None or overlap >= margin
    return TilePlan((h, w), int(scale), (min(h, tile), min(w, tile)), int(overlap), int(blend),
                    bool(exact), y, x)
