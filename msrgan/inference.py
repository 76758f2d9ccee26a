"""Upscaling microscopy images of any size with a super-resolution generator: the public API.

``upscale`` runs a generator over an image through overlapping tiles and returns the result in
the input's dtype and range (with ``axes``, plane by plane: ``msrgan.planes``);
``upscale_to_tiff`` streams the result tile by tile into a tiled TIFF without ever holding the
full output, so memory is bounded by the tile size (plus a thin band of blend rows across the
width), not by the image size; ``upscale_stack_to_file`` writes a whole stack to TIFF or OME-Zarr.

The work is done by:

- ``msrgan.tile_plan``: how tiles are laid out, overlap and blend (``plan_tiles``, ``TilePlan``);
- ``msrgan.tile_codec``: the intensity mapping, a fitted ``msrgan.data.normalize.Normalizer``
  (per-channel 2 / 99.8 percentiles by default, with the exact inverse back to the input's dtype);
- ``msrgan.tiling``: input checks, the model call (``predict_batch``, the single forward-pass
  entry point) and the blended tile stream (``iter_upscaled_tiles``).

Their public names are importable from here too.

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

import math
import os
from pathlib import Path

import numpy as np

from msrgan.tile_plan import DEFAULT_BLEND, DEFAULT_TILE, TilePlan, default_overlap, plan_tiles
from msrgan.tiling import (
    DEFAULT_BATCH_SIZE,
    MIN_INPUT_SIZE,
    SUPPORTED_DTYPES,
    iter_blocks,
    iter_upscaled_tiles,
    load_generator,
    parse_channels_map,
    predict_batch,
    prepare_run,
    upscale_image,
)
from zoo.files import atomic_file

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_BLEND",
    "DEFAULT_TILE",
    "MIN_INPUT_SIZE",
    "SUPPORTED_DTYPES",
    "TilePlan",
    "default_overlap",
    "iter_upscaled_tiles",
    "load_generator",
    "parse_channels_map",
    "plan_tiles",
    "predict_batch",
    "upscale",
    "upscale_stack_to_file",
    "upscale_to_tiff",
]


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
        normalization: A name of ``msrgan.data.normalize.NORMALIZATIONS``: ``"percentile"`` (per
            channel, 2 / 99.8 percentiles of the whole image, exact inverse; the default), ``"unit"``
            (divide by 255 / 65535, the training convention for 8/16-bit data; ``"range"`` is the same)
            or ``"none"`` (float input already in [0, 1]); or ``(pmin, pmax)``, a fitted
            ``msrgan.data.normalize.Normalization``, or a ``Normalizer``.
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
    return upscale_image(image, model, tile=tile, overlap=overlap, batch_size=batch_size,
                         normalization=normalization, channels_map=channels_map, blend=blend,
                         progress=progress, name=name)


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
    model, x, _, plan, normalizer = prepare_run(image, model, tile=tile, overlap=overlap, blend=blend,
                                                normalization=normalization, channels_map=channels_map, name=name,
                                                batch_size=batch_size)
    channels = int(model.channels)
    shape = plan.output_shape + ((channels,) if channels > 1 else ())
    tile_shape = tuple(16 * math.ceil(v / 16) for v in plan.block)
    blocks = iter_blocks(model, x, plan, normalizer, batch_size, progress, f"upscale {name}")

    def tiles():
        for _, _, block in blocks:
            yield block if channels > 1 else block[..., 0]

    try:
        with atomic_file(path) as tmp:
            nbytes = int(np.prod(shape)) * x.dtype.itemsize
            tifffile.imwrite(tmp, tiles(), shape=shape, dtype=x.dtype, tile=tile_shape,
                             photometric="rgb" if channels == 3 else "minisblack",
                             planarconfig="contig" if channels > 1 else None,
                             compression=compression, bigtiff=nbytes > 2**31,
                             metadata={"axes": "YXS" if channels > 1 else "YX"})
    except BaseException:
        blocks.close()
        raise
    return path


def upscale_stack_to_file(stack, model, path: str | os.PathLike, **kwargs) -> Path:
    """Upscales a ``msrgan.data.stack.Stack`` into a TIFF (``msrgan.planes.upscale_stack_to_tiff``) or, for a
    ``.ome.zarr`` target, an OME-Zarr (``msrgan.omezarr.upscale_stack_to_omezarr``); ``kwargs`` go to that
    writer."""
    from msrgan.data.stack import is_omezarr_name

    if is_omezarr_name(path):
        from msrgan.omezarr import upscale_stack_to_omezarr

        return upscale_stack_to_omezarr(stack, model, path, **kwargs)
    from msrgan.planes import upscale_stack_to_tiff

    return upscale_stack_to_tiff(stack, model, path, **kwargs)
