"""Tiled prediction of one 2-D image: the input checks, the model call and the blended tile stream.

``upscale_image`` is the 2-D case of ``msrgan.inference.upscale``; ``iter_upscaled_tiles`` its
streaming form, which ``msrgan.inference.upscale_to_tiff`` and the stack writers
(``msrgan.planes``, ``msrgan.omezarr``) consume block by block. The tile layout is
``msrgan.tile_plan``, the intensity mapping ``msrgan.tile_codec`` (a fitted ``Normalizer``).

Every forward pass goes through ``predict_batch``, the one place to swap in a faster
inference path.
"""

from __future__ import annotations

import os
from typing import Iterator

import numpy as np

from msrgan.data.normalize import Normalizer
from msrgan.tile_codec import make_codec
from msrgan.tile_plan import DEFAULT_BLEND, TilePlan, default_overlap, plan_tiles

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "MIN_INPUT_SIZE",
    "SUPPORTED_DTYPES",
    "iter_blocks",
    "iter_upscaled_tiles",
    "load_generator",
    "parse_channels_map",
    "predict_batch",
    "prepare_run",
    "upscale_image",
]

DEFAULT_BATCH_SIZE = 2
"""Default tiles per model call (memory grows with it: the paper's x4 generator needs about
1 GB of activations per 256x256 tile on CPU)."""
MIN_INPUT_SIZE = 8
"""Smallest LR height/width accepted (a model may set ``min_input_size`` to override it)."""
SUPPORTED_DTYPES = (np.uint8, np.uint16, np.float32, np.float64)


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
            idx = tuple(int(v) for v in channels_map.replace(" ", "").split(",") if v != "")
        except ValueError:
            raise ValueError(f"channels map {channels_map!r} must be comma-separated integers, e.g. 2,1,0") from None
    else:
        try:
            idx = tuple(int(v) for v in channels_map)
        except (TypeError, ValueError):
            raise ValueError(f"channels_map must be a sequence of channel indices, got {channels_map!r}") from None
    if not idx:
        raise ValueError(f"channels_map is empty (got {channels_map!r})")
    return idx


# --------------------------------------------------------------------------------------------
# Tiled prediction
# --------------------------------------------------------------------------------------------

def prepare_run(image, model, *, tile, overlap, blend, normalization, channels_map, name, batch_size=1):
    """Checks everything before a tile is computed: returns ``(model, x, squeeze, plan, normalizer)``.

    ``model`` is loaded (``load_generator``), ``x`` is the ``(H, W, C_model)`` view of ``image``
    (``channels_map`` applied), ``squeeze`` says the output drops its channel axis (``(H, W)`` in,
    1-channel model), ``plan`` is the ``TilePlan`` and ``normalizer`` the fitted ``Normalizer``.
    """
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
    normalizer = make_codec(x, normalization, name)
    return model, x, squeeze, plan, normalizer


def iter_blocks(model, x: np.ndarray, plan: TilePlan, normalizer: Normalizer, batch_size: int,
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
                batch[k] = normalizer.before(x[y0:y1, x0:x1])
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
                yield j, i, normalizer.after(out)


def iter_upscaled_tiles(image, model, *, tile: int | None = None, overlap: int | None = None,
                        blend: int = DEFAULT_BLEND, batch_size: int = DEFAULT_BATCH_SIZE, normalization="percentile",
                        channels_map=None, progress: bool = False, name: str = "image"):
    """The streaming form of ``upscale_image``: returns ``(plan, blocks)``.

    ``blocks`` yields ``(row, col, block)`` in row-major order; ``block`` is the finished output
    (input dtype, ``(h, w, C_model)``) of one grid cell of ``plan.block`` output pixels (smaller
    at the bottom and right edges). Only the current batch of tiles and one band of
    ``blend * scale`` rows across the width are held. Arguments are those of ``upscale_image``; the
    input is checked before this function returns.

    Example:
        >>> import numpy as np
        >>> from msrgan.models import Generator
        >>> g = Generator(num_blocks=1, filters=8, channels=1, scale=2)
        >>> plan, blocks = iter_upscaled_tiles(np.zeros((40, 40), np.uint8), g, tile=32, overlap=4)
        >>> plan.grid, [b.shape for _, _, b in blocks][:2]
        ((3, 3), [(32, 32, 1), (32, 32, 1)])
    """
    model, x, _, plan, normalizer = prepare_run(image, model, tile=tile, overlap=overlap, blend=blend,
                                           normalization=normalization, channels_map=channels_map, name=name,
                                           batch_size=batch_size)
    return plan, iter_blocks(model, x, plan, normalizer, batch_size, progress, f"upscale {name}")


def upscale_image(image, model, tile: int | None = None, overlap: int | None = None,
                  batch_size: int = DEFAULT_BATCH_SIZE, *, normalization="percentile", channels_map=None,
                  blend: int = DEFAULT_BLEND, progress: bool = False, name: str = "image") -> np.ndarray:
    """``msrgan.inference.upscale`` of one ``(H, W)`` or ``(H, W, C)`` image (no ``axes``; the arguments
    and result are documented there).

    Example:
        >>> import numpy as np
        >>> from msrgan.models import Generator
        >>> g = Generator(num_blocks=1, filters=8, channels=1, scale=2)
        >>> upscale_image(np.zeros((40, 52), np.uint16), g, tile=36).shape
        (80, 104)
    """
    model, x, squeeze, plan, normalizer = prepare_run(image, model, tile=tile, overlap=overlap, blend=blend,
                                                 normalization=normalization, channels_map=channels_map,
                                                 name=name, batch_size=batch_size)
    out = np.empty(plan.output_shape + (int(model.channels),), x.dtype)
    bh, bw = plan.block
    for j, i, block in iter_blocks(model, x, plan, normalizer, batch_size, progress, f"upscale {name}"):
        out[j * bh:j * bh + block.shape[0], i * bw:i * bw + block.shape[1]] = block
    return out[..., 0] if squeeze else out
