"""Upscaling microscopy images of any size with a super-resolution generator.

``upscale`` runs a generator over an image through overlapping tiles and returns the result in
the input's dtype and range; ``upscale_to_tiff`` streams the result tile by tile into a tiled
TIFF without ever holding the full output, so memory is bounded by the tile size (plus a thin
band of blend rows across the width), not by the image size.

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

Intensities: by default each channel is percentile-normalized (2 / 99.8 percentiles of the
whole image, ``msrgan.data.normalize``) before the model, and the exact inverse maps the
output back to the input's dtype (uint8, uint16, float32 or float64); integer outputs are
rounded and saturated.

Every forward pass goes through ``predict_batch``, the one place to swap in a faster
inference path.

Example:
    >>> import numpy as np
    >>> from msrgan.models import Generator
    >>> g = Generator(num_blocks=1, filters=8, channels=1, scale=2)
    >>> img = (np.random.default_rng(0).random((40, 52)) * 65535).astype(np.uint16)
    >>> out = upscale(img, g, tile=36, progress=False)
    >>> out.shape, out.dtype
    ((80, 104), dtype('uint16'))
"""

from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from msrgan.data.normalize import DEFAULT_PMAX, DEFAULT_PMIN, Normalization, fit_normalization
from zoo.files import discard, partial_path, plain_file_permissions

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_BLEND",
    "DEFAULT_TILE",
    "MIN_INPUT_SIZE",
    "TilePlan",
    "default_overlap",
    "iter_upscaled_tiles",
    "load_generator",
    "parse_channels_map",
    "plan_tiles",
    "predict_batch",
    "upscale",
    "upscale_to_tiff",
]

DEFAULT_TILE = 256
"""Default model input size (LR pixels per side); whole images up to this size run in one pass."""
DEFAULT_BLEND = 8
"""Default width (LR pixels) of the raised-cosine zone shared by neighbouring tiles."""
DEFAULT_BATCH_SIZE = 2
"""Default tiles per model call (memory grows with it: the paper's x4 generator needs about
1 GB of activations per 256x256 tile on CPU)."""
MIN_INPUT_SIZE = 8
"""Smallest LR height/width accepted (a model may set ``min_input_size`` to override it)."""
SUPPORTED_DTYPES = (np.uint8, np.uint16, np.float32, np.float64)
_HISTOGRAM_SLICE = 1 << 22  # pixels counted per np.bincount call (its int64 copy: 32 MiB)


# --------------------------------------------------------------------------------------------
# The model call
# --------------------------------------------------------------------------------------------

def predict_batch(model, lr_batch: np.ndarray) -> np.ndarray:
    """Runs the generator on one batch; the single forward-pass entry point of msrgan inference.

    Args:
        model: A Keras generator (BatchNorm and every other layer run in inference mode).
        lr_batch: ``(B, h, w, C)`` float32 low-resolution tiles in the model's [0, 1] convention.

    Returns:
        ``(B, h*scale, w*scale, C)`` float32 NumPy array.

    Example:
        >>> import numpy as np
        >>> from msrgan.models import Generator
        >>> g = Generator(num_blocks=1, filters=8, channels=1, scale=2)
        >>> predict_batch(g, np.zeros((2, 16, 16, 1), np.float32)).shape
        (2, 32, 32, 1)
    """
    out = model.predict_on_batch(np.ascontiguousarray(lr_batch, dtype=np.float32))
    return np.asarray(out, dtype=np.float32)


def load_generator(model):
    """Returns ``model`` itself, or loads it with ``zoo.from_pretrained`` when it is a path or id.

    Args:
        model: A generator instance (anything with ``scale``, ``channels`` and
            ``predict_on_batch``), or a local pretrained folder, ``hf://owner/name`` or
            ``owner/name``.

    Returns:
        The generator.
    """
    if isinstance(model, (str, os.PathLike)):
        import zoo

        model = zoo.from_pretrained(model)
    for attr in ("scale", "channels", "predict_on_batch"):
        if not hasattr(model, attr):
            raise ValueError(f"{type(model).__name__} is not a super-resolution generator (it has no {attr!r})")
    return model


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


# --------------------------------------------------------------------------------------------
# Input checks, channel map and intensity mapping
# --------------------------------------------------------------------------------------------

def _check_image(image, model, channels_map, name: str) -> tuple[np.ndarray, bool]:
    """Returns the ``(H, W, C_model)`` view of ``image`` and whether the input was ``(H, W)``."""
    if not isinstance(image, np.ndarray):
        image = np.asarray(image)
    if image.dtype.type not in SUPPORTED_DTYPES:
        raise ValueError(f"{name} has dtype {image.dtype}; supported: uint8, uint16, float32, float64")
    was_2d = image.ndim == 2
    if was_2d:
        image = image[..., None]
    if image.ndim != 3:
        raise ValueError(f"{name} must be (H, W) or (H, W, C), got shape {image.shape}")
    h, w, c = image.shape
    want = int(model.channels)
    min_size = int(getattr(model, "min_input_size", MIN_INPUT_SIZE))
    if min(h, w) < min_size:
        raise ValueError(f"{name} of shape {image.shape} is smaller than the model's minimum input of "
                         f"{min_size}x{min_size} pixels")
    if channels_map is not None:
        idx = parse_channels_map(channels_map)
        if len(idx) != want:
            raise ValueError(f"channels_map {list(idx)} picks {len(idx)} channel(s) but the model expects {want}")
        bad = [i for i in idx if not -c <= i < c]
        if bad:
            raise ValueError(f"channels_map {list(idx)} refers to channel(s) {bad}, but {name} "
                             f"(shape {image.shape}) has {c} channel(s)")
        if list(idx) != list(range(c)):
            image = image[..., list(idx)]
    elif c != want:
        hint = ""
        if want == 3 and c == 4:
            hint = " (for a 4-channel nucleus/microtubules/ER/protein image, 1,3,0 gives the RGB merge)"
        elif want == 3 and c == 1:
            hint = " (0,0,0 repeats the gray channel)"
        raise ValueError(
            f"{name} has {c} channel(s) (shape {image.shape}) but the model expects {want}; "
            f"pass channels_map= (CLI: --channels) with {want} input channel indices{hint}"
        )
    if np.issubdtype(image.dtype, np.floating):
        finite = np.isfinite(image)
        if not finite.all():
            raise ValueError(f"{name} contains {int(finite.size - finite.sum())} NaN or infinite value(s)")
    return image, was_2d and want == 1


def parse_channels_map(channels_map) -> tuple[int, ...]:
    """``"2,1,0"`` or ``(2, 1, 0)`` -> ``(2, 1, 0)``; a ValueError for anything else."""
    if isinstance(channels_map, str):
        try:
            return tuple(int(v) for v in channels_map.replace(" ", "").split(",") if v != "")
        except ValueError:
            raise ValueError(f"channels map {channels_map!r} must be comma-separated integers, e.g. 2,1,0") from None
    try:
        idx = tuple(int(v) for v in channels_map)
    except (TypeError, ValueError):
        raise ValueError(f"channels_map must be a sequence of channel indices, got {channels_map!r}") from None
    if not idx:
        raise ValueError("channels_map is empty")
    return idx


def _exact_percentiles_int(channel: np.ndarray, qs: Sequence[float]) -> list[float]:
    """``np.percentile(channel, qs)`` (linear method) for uint8/uint16 through a histogram.

    Uses O(65536) memory instead of a float64 copy of the image (the histogram is summed over
    slices: ``np.bincount`` makes an int64 copy of what it counts); follows NumPy's index and
    interpolation arithmetic, so the values agree with ``np.percentile`` to float rounding
    (a few ulp).
    """
    flat = channel.ravel()
    counts = np.zeros(int(np.iinfo(channel.dtype).max) + 1, np.int64)
    for start in range(0, flat.size, _HISTOGRAM_SLICE):
        counts += np.bincount(flat[start:start + _HISTOGRAM_SLICE], minlength=counts.size)
    cum = np.cumsum(counts)
    n = int(cum[-1])

    def order_stat(k: int) -> float:
        return float(np.searchsorted(cum, k, side="right"))

    out = []
    for q in qs:
        qf = np.true_divide(np.float64(q), 100)
        virtual = n * qf + (1 + qf * (1 - 1 - 1)) - 1
        if virtual >= n - 1:
            out.append(order_stat(n - 1))
            continue
        if virtual < 0:
            out.append(order_stat(0))
            continue
        prev = math.floor(virtual)
        gamma = np.float64(virtual - prev)
        a, b = np.float64(order_stat(prev)), np.float64(order_stat(prev + 1))
        diff = b - a
        out.append(float(b - diff * (1 - gamma) if gamma >= 0.5 else a + diff * gamma))
    return out


def _fit_percentiles(x: np.ndarray, pmin: float, pmax: float, name: str) -> Normalization:
    """``fit_normalization`` (same values to float rounding) without a float64 copy of 8/16-bit images."""
    if x.dtype not in (np.uint8, np.uint16):
        return fit_normalization(x, pmin, pmax, name=name)
    if not 0 <= pmin < pmax <= 100:
        raise ValueError(f"percentiles must satisfy 0 <= pmin < pmax <= 100, got pmin={pmin}, pmax={pmax}")
    lows, highs = [], []
    for c in range(x.shape[-1]):
        lo, hi = _exact_percentiles_int(np.ascontiguousarray(x[..., c]), (pmin, pmax))
        lows.append(lo)
        highs.append(hi)
    low, high = np.asarray(lows, np.float64), np.asarray(highs, np.float64)
    # The same rule as fit_normalization for a flat channel: a unit span.
    high = np.where(high - low < 1e-12, low + 1.0, high)
    return Normalization(low, high, x.dtype)


@dataclasses.dataclass(frozen=True)
class _Codec:
    """Maps tiles into the model's [0, 1] convention and output blocks back to the input dtype."""

    kind: str
    dtype: np.dtype
    norm: Normalization | None = None

    def encode(self, tile: np.ndarray) -> np.ndarray:
        if self.kind == "percentile":
            return ((tile.astype(np.float64) - self.norm.low) / (self.norm.high - self.norm.low)).astype(np.float32)
        if self.kind == "range" and np.issubdtype(self.dtype, np.integer):
            return tile.astype(np.float32) / np.float32(np.iinfo(self.dtype).max)
        return tile.astype(np.float32)

    def decode(self, block: np.ndarray) -> np.ndarray:
        from msrgan.data.normalize import denormalize, from_unit_range

        if self.kind == "percentile":
            return denormalize(block, self.norm)
        if self.kind == "range":
            return from_unit_range(block, self.dtype)
        return block.astype(self.dtype)


def _make_codec(x: np.ndarray, normalization, name: str) -> _Codec:
    dtype = x.dtype
    if isinstance(normalization, Normalization):
        if len(normalization.low) != x.shape[-1]:
            raise ValueError(f"the normalization has {len(normalization.low)} channel(s) but {name} "
                             f"feeds the model {x.shape[-1]}")
        return _Codec("percentile", dtype, dataclasses.replace(normalization, dtype=dtype))
    if normalization is None or normalization == "none":
        if not np.issubdtype(dtype, np.floating):
            raise ValueError(f"normalization='none' feeds {name} to the model as is, which needs a float image "
                             f"in [0, 1]; {name} is {dtype} (use 'percentile' or 'range')")
        return _Codec("none", dtype)
    if normalization == "range":
        return _Codec("range", dtype)
    if normalization == "percentile":
        pmin, pmax = DEFAULT_PMIN, DEFAULT_PMAX
    elif isinstance(normalization, (tuple, list)) and len(normalization) == 2:
        pmin, pmax = (float(v) for v in normalization)
    else:
        raise ValueError(f"normalization must be 'percentile', 'range', 'none', (pmin, pmax) or a "
                         f"Normalization, got {normalization!r}")
    return _Codec("percentile", dtype, _fit_percentiles(x, pmin, pmax, name))


# --------------------------------------------------------------------------------------------
# Tiled prediction
# --------------------------------------------------------------------------------------------

def _prepare(image, model, *, tile, overlap, blend, normalization, channels_map, name, batch_size=1):
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    model = load_generator(model)
    x, squeeze = _check_image(image, model, channels_map, name)
    scale = int(model.scale)
    margin = getattr(model, "receptive_margin", None)
    if overlap is None:
        overlap = default_overlap(model)
    plan = plan_tiles(x.shape[:2], scale, tile=tile, overlap=overlap, blend=blend,
                      margin=None if margin is None else int(margin))
    codec = _make_codec(x, normalization, name)
    return model, x, squeeze, plan, codec


def _iter_blocks(model, x: np.ndarray, plan: TilePlan, codec: _Codec, batch_size: int,
                 progress: bool, desc: str) -> Iterator[tuple[int, int, np.ndarray]]:
    """Yields ``(row, col, block)`` in row-major order, blocks already in the output dtype.

    Bookkeeping: each tile's weighted prediction over its region is split into the block it
    owns, the ``blend`` columns past the block (carried to the next tile of the row) and the
    ``blend`` rows below it (accumulated in a full-width band for the next row of tiles).
    """
    from tqdm.auto import tqdm

    s = plan.scale
    ny, nx = plan.grid
    width = plan.shape[1] * s
    channels = int(model.channels)
    order = [(j, i) for j in range(ny) for i in range(nx)]
    eff_batch = min(int(batch_size), len(order))
    band = None       # blend rows from the previous row of tiles, full width
    next_band = None
    carry = None      # blend columns from the previous tile of this row
    with tqdm(total=len(order), desc=desc, unit="tile", disable=not progress, leave=False) as bar:
        for b0 in range(0, len(order), eff_batch):
            chunk = order[b0:b0 + eff_batch]
            batch = np.zeros((eff_batch, plan.tile[0], plan.tile[1], x.shape[-1]), np.float32)
            for k, (j, i) in enumerate(chunk):
                (y0, y1), (x0, x1) = plan.y.windows[j], plan.x.windows[i]
                batch[k] = codec.encode(x[y0:y1, x0:x1])
            pred = predict_batch(model, batch)
            expected = (eff_batch, plan.tile[0] * s, plan.tile[1] * s, channels)
            if pred.shape != expected:
                raise ValueError(f"the model returned shape {pred.shape} for input {batch.shape}; expected {expected}")
            for k, (j, i) in enumerate(chunk):
                if i == 0:
                    band, next_band, carry = (next_band if j > 0 else None), None, None
                    if j < ny - 1:
                        r0, r1 = plan.y.regions[j]
                        b_start, _ = plan.y.block(j)
                        extra = r1 - (b_start + plan.y.step)
                        next_band = np.zeros((max(extra, 0) * s, width, channels), np.float32)
                (wy0, _), (wx0, _) = plan.y.windows[j], plan.x.windows[i]
                (ry0, ry1), (rx0, rx1) = plan.y.regions[j], plan.x.regions[i]
                q = pred[k, (ry0 - wy0) * s:(ry1 - wy0) * s, (rx0 - wx0) * s:(rx1 - wx0) * s]
                q = q * plan.y.weights[j][:, None, None] * plan.x.weights[i][None, :, None]
                by0, by1 = plan.y.block(j)
                bx0, bx1 = plan.x.block(i)
                bh, bw = (by1 - by0) * s, (bx1 - bx0) * s
                out = q[:bh, :bw].copy()
                if carry is not None:
                    out[:, :carry.shape[1]] += carry
                if band is not None:
                    out[:band.shape[0]] += band[:, bx0 * s:bx0 * s + bw]
                carry = q[:bh, bw:]
                if next_band is not None and q.shape[0] > bh:
                    next_band[:, rx0 * s:rx1 * s] += q[bh:]
                bar.update(1)
                yield j, i, codec.decode(out)


def iter_upscaled_tiles(image, model, *, tile: int | None = None, overlap: int | None = None,
                        blend: int = DEFAULT_BLEND, batch_size: int = DEFAULT_BATCH_SIZE, normalization="percentile",
                        channels_map=None, progress: bool = False, name: str = "image"):
    """The streaming form of ``upscale``: returns ``(plan, blocks)``.

    ``blocks`` yields ``(row, col, block)`` in row-major order; ``block`` is the finished output
    (input dtype, ``(h, w, C_model)``) of one grid cell of ``plan.block`` output pixels (smaller
    at the bottom and right edges). Only the current batch of tiles and one band of
    ``blend * scale`` rows across the width are held. Arguments are those of ``upscale``; the
    input is checked before this function returns.

    Example:
        >>> import numpy as np
        >>> from msrgan.models import Generator
        >>> g = Generator(num_blocks=1, filters=8, channels=1, scale=2)
        >>> plan, blocks = iter_upscaled_tiles(np.zeros((40, 40), np.uint8), g, tile=32, overlap=4)
        >>> plan.grid, [b.shape for _, _, b in blocks][:2]
        ((3, 3), [(32, 32, 1), (32, 32, 1)])
    """
    model, x, _, plan, codec = _prepare(image, model, tile=tile, overlap=overlap, blend=blend,
                                        normalization=normalization, channels_map=channels_map, name=name,
                                        batch_size=batch_size)
    return plan, _iter_blocks(model, x, plan, codec, batch_size, progress, f"upscale {name}")


def upscale(image, model, tile: int | None = None, overlap: int | None = None, batch_size: int = DEFAULT_BATCH_SIZE, *,
            normalization="percentile", channels_map=None, blend: int = DEFAULT_BLEND,
            progress: bool = False, name: str = "image", axes: str | None = None) -> np.ndarray:
    """Super-resolves an image of any size with overlapping, blended tiles.

    Args:
        image: ``(H, W)`` (1-channel models) or ``(H, W, C)`` array, uint8, uint16, float32 or
            float64. NaN or infinite values are refused.
        model: A ``Generator`` (or any model with ``scale``, ``channels``, ``predict_on_batch``),
            or anything ``zoo.from_pretrained`` takes (local folder, ``hf://owner/name``,
            ``owner/name``).
        tile: Model input size in LR pixels per side; default ``DEFAULT_TILE`` (256). Images no
            larger run in one pass.
        overlap: Per-side LR context cropped from each tile; default the model's
            ``receptive_margin`` (see ``default_overlap``), which makes the result equal to a
            whole-image pass up to float rounding.
        batch_size: Tiles per model call.
        normalization: ``"percentile"`` (per channel, 2 / 99.8 percentiles of the whole image,
            exact inverse; the default), ``(pmin, pmax)``, a fitted
            ``msrgan.data.normalize.Normalization``, ``"range"`` (divide by 255 / 65535, the
            training convention for 8/16-bit data) or ``"none"`` (float input already in [0, 1]).
        channels_map: Input channel indices fed to the model in its order, e.g. ``(2, 1, 0)``,
            ``(1, 3, 0)`` (4-channel CYTO2017 image into an RGB-merge model) or ``(0, 0, 0)``.
        blend: Width in LR pixels of the raised-cosine zone shared by neighbouring tiles.
        progress: Show a tqdm progress bar over the tiles.
        name: Names the image in error messages.
        axes: CARE letters of the image's axes (``S,T,C,Z,Y,X``, e.g. ``"ZYX"``, ``"TCYX"``): every
            S, T and Z plane is upscaled as a 2-D image of the C channels (a single-channel model runs
            channel by channel; ``channels_map`` picks channels) and the result keeps the axes order
            (``msrgan.planes.upscale_axes``). Without ``axes`` the image is ``(H, W)`` or ``(H, W, C)``.

    Returns:
        ``(H*scale, W*scale, C_model)`` in the input's dtype (``(H*scale, W*scale)`` for an
        ``(H, W)`` input and a 1-channel model); with ``axes``, the same axes with Y and X scaled.

    Example:
        >>> import numpy as np
        >>> from msrgan.models import Generator
        >>> g = Generator(num_blocks=1, filters=8, channels=3, scale=4)
        >>> img = np.random.default_rng(0).integers(0, 255, (20, 30, 4), dtype=np.uint8)
        >>> upscale(img, g, channels_map=(1, 3, 0)).shape
        (80, 120, 3)
    """
    if axes is not None:
        from msrgan.planes import upscale_axes

        return upscale_axes(image, model, axes, tile=tile, overlap=overlap, batch_size=batch_size,
                            normalization=normalization, channels_map=channels_map, blend=blend,
                            progress=progress, name=name)
    model, x, squeeze, plan, codec = _prepare(image, model, tile=tile, overlap=overlap, blend=blend,
                                              normalization=normalization, channels_map=channels_map,
                                              name=name, batch_size=batch_size)
    out = np.empty(plan.output_shape + (int(model.channels),), x.dtype)
    bh, bw = plan.block
    for j, i, block in _iter_blocks(model, x, plan, codec, batch_size, progress, f"upscale {name}"):
        out[j * bh:j * bh + block.shape[0], i * bw:i * bw + block.shape[1]] = block
    return out[..., 0] if squeeze else out


def upscale_to_tiff(image, model, path: str | os.PathLike, *, tile: int | None = None,
                    overlap: int | None = None, batch_size: int = DEFAULT_BATCH_SIZE, normalization="percentile",
                    channels_map=None, blend: int = DEFAULT_BLEND, overwrite: bool = False,
                    compression: str | None = None, progress: bool = False, name: str = "image") -> Path:
    """Upscales ``image`` straight into a tiled TIFF, never holding the whole output.

    The TIFF tiles are the plan's blocks (a multiple of 16 pixels); channels are stored
    interleaved (``(H, W, C)``, read back by ``tifffile.imread`` / ``msrgan.data.io.read_image``;
    3 channels, the RGB merge, are tagged RGB so viewers show the merge).
    The file is written to a temporary name in the target folder and renamed when complete, so
    a failure leaves no partial file. Peak memory: the input, one batch of tiles and their
    predictions, and one band of ``blend * scale`` output rows across the width.

    Args:
        image, model, tile, overlap, batch_size, normalization, channels_map, blend, progress,
            name: As for ``upscale``.
        path: Target ``.tif``/``.tiff`` file.
        overwrite: Replace an existing file (otherwise a FileExistsError).
        compression: Passed to tifffile (e.g. ``"zlib"``); uncompressed by default.

    Returns:
        The written path.

    Example:
        >>> import numpy as np, tempfile, os, tifffile
        >>> from msrgan.models import Generator
        >>> g = Generator(num_blocks=1, filters=8, channels=1, scale=2)
        >>> img = np.random.default_rng(0).random((24, 24)).astype(np.float32)
        >>> p = upscale_to_tiff(img, g, os.path.join(tempfile.mkdtemp(), "sr.tif"))
        >>> tifffile.imread(p).shape
        (48, 48)
    """
    import tifffile

    path = Path(path)
    if path.suffix.lower() not in (".tif", ".tiff"):
        raise ValueError(f"{path}: upscale_to_tiff writes .tif/.tiff files")
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True (or --overwrite) to replace it")
    model, x, _, plan, codec = _prepare(image, model, tile=tile, overlap=overlap, blend=blend,
                                        normalization=normalization, channels_map=channels_map, name=name,
                                        batch_size=batch_size)
    channels = int(model.channels)
    shape = plan.output_shape + ((channels,) if channels > 1 else ())
    tile_shape = tuple(16 * math.ceil(v / 16) for v in plan.block)
    blocks = _iter_blocks(model, x, plan, codec, batch_size, progress, f"upscale {name}")

    def tiles():
        for _, _, block in blocks:
            yield block if channels > 1 else block[..., 0]

    tmp = partial_path(path)
    try:
        nbytes = int(np.prod(shape)) * x.dtype.itemsize
        tifffile.imwrite(tmp, tiles(), shape=shape, dtype=x.dtype, tile=tile_shape,
                         photometric="rgb" if channels == 3 else "minisblack",
                         planarconfig="contig" if channels > 1 else None,
                         compression=compression, bigtiff=nbytes > 2**31,
                         metadata={"axes": "YXS" if channels > 1 else "YX"})
        plain_file_permissions(tmp)
        os.replace(tmp, path)
    except BaseException:
        blocks.close()
        discard(tmp)
        raise
    return path
