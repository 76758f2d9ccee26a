"""OME-Zarr output: upscaled stacks written tile by tile into a multiscale NGFF image.

``upscale_stack_to_omezarr`` writes OME-NGFF 0.5 (Zarr v3), the version ``ome-zarr`` 0.18 writes by
default, for images too large for one TIFF:

- **Level 0** is written tile by tile as the tiles come out of the model (``msrgan.planes.stream_planes``):
  its chunks are the tile plan's output blocks, one per plane and channel, so no chunk is ever
  read back or rewritten and the output is never held in memory.
- **The pyramid** (``"1"``, ``"2"``, ...: each level half the size of the one above, rounded up) is
  computed afterwards chunk by chunk from the level above, each pixel the mean of a 2x2 block
  (rounded for integer images), so memory stays bounded by a few chunks. Levels are added until
  the image fits in ``PYRAMID_SIDE`` pixels per side (``levels=`` sets the count).
- **Axes** are NGFF's order, ``t, c, z, y, x`` (those present); CARE's sample axis S has no place
  in it and is refused before the model runs. One output channel gives no ``c`` axis.
- **coordinateTransformations** carry the physical size per level: the pixel size divided by the
  upscaling factor at level 0 (the same metadata as the TIFF outputs, ``msrgan.data.stack``), times
  2 per level, with a translation of half the pooled block so every level lies on level 0; the Z
  spacing and the frame interval; units in NGFF's names (``micrometer``, ``second``...). Without a
  calibration the scale is in output pixels and no unit is claimed.
- **omero** metadata holds the channel names where known, and display windows (the data's range).

The folder is written as ``.partial-<pid>-<name>-<random>`` beside the target and renamed when
complete (``zoo.files``), so a failure leaves no partial target; ``overwrite=True`` replaces an
existing target only once the new one is whole.

Example:
    >>> import numpy as np, os, tempfile
    >>> from msrgan.models import Generator
    >>> from msrgan.data.stack import PhysicalMetadata, Stack
    >>> g = Generator(num_blocks=1, filters=8, channels=1, scale=2)
    >>> stack = Stack(np.zeros((2, 24, 24), np.uint16), "ZYX", PhysicalMetadata(pixel_size=(0.5, 0.5), unit="µm"))
    >>> p = upscale_stack_to_omezarr(stack, g, os.path.join(tempfile.mkdtemp(), "z_x2.ome.zarr"), levels=2)
    >>> import zarr; [zarr.open_group(p, mode="r")[k].shape for k in ("0", "1")]
    [(2, 48, 48), (2, 24, 24)]
"""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path

import numpy as np

from msrgan.data.stack import PhysicalMetadata, Stack
from zoo.files import atomic_folder

__all__ = ["NGFF_VERSION", "PYRAMID_SIDE", "coordinate_transformations", "ngff_axes", "pyramid_shapes",
           "upscale_stack_to_omezarr"]

NGFF_VERSION = "0.5"
"""The OME-NGFF version written (Zarr v3): ``ome-zarr`` 0.18's default."""
PYRAMID_SIDE = 256
"""Pyramid levels are added until the smallest one fits in this many pixels per side."""
NGFF_ORDER = "TCZYX"
_SPACE_UNITS = {"µm": "micrometer", "nm": "nanometer", "mm": "millimeter", "cm": "centimeter", "m": "meter",
                "Å": "angstrom", "pm": "picometer"}
_TIME_UNITS = {"s": "second", "sec": "second", "ms": "millisecond", "µs": "microsecond", "us": "microsecond",
               "ns": "nanosecond", "min": "minute", "h": "hour", "hr": "hour", "d": "day"}
_COLORS = ("FF0000", "00FF00", "0000FF", "FF00FF", "00FFFF", "FFFF00")


def ngff_axes(axes: str) -> str:
    """The NGFF order (``TCZYX``) of CARE ``axes`` without a sample axis: ``"ZCYX"`` -> ``"CZYX"``."""
    if "S" in axes:
        raise ValueError(f"OME-Zarr has no sample axis S (axes {axes!r}); its axes are T, C, Z, Y, X")
    return "".join(a for a in NGFF_ORDER if a in axes)


def pyramid_shapes(shape, levels: int | None = None, *, side: int = PYRAMID_SIDE) -> list[tuple[int, ...]]:
    """Shapes of the pyramid levels: Y and X halved (rounded up) per level, the other axes kept.

    Args:
        shape: Level 0's shape, Y and X last.
        levels: How many levels, level 0 included; ``None`` adds levels until the smallest fits in
            ``side`` pixels per side.

    Example:
        >>> pyramid_shapes((3, 1000, 600), side=256)
        [(3, 1000, 600), (3, 500, 300), (3, 250, 150)]
    """
    shape = tuple(int(v) for v in shape)
    h, w = shape[-2:]
    most = 1 + math.ceil(math.log2(max(h, w))) if max(h, w) > 1 else 1
    if levels is None:
        levels = 1
        while max(math.ceil(h / 2 ** (levels - 1)), math.ceil(w / 2 ** (levels - 1))) > side:
            levels += 1
    elif isinstance(levels, bool) or not isinstance(levels, (int, np.integer)) or not 1 <= levels <= most:
        raise ValueError(f"levels must be an integer from 1 to {most} for a {h}x{w} image, got levels={levels!r}")
    return [shape[:-2] + (math.ceil(h / 2 ** k), math.ceil(w / 2 ** k)) for k in range(int(levels))]


def _units(meta: PhysicalMetadata, name: str) -> tuple[str | None, str | None]:
    """NGFF names of the length and time units (None where unknown, with a warning for a unit NGFF lacks)."""
    from ome_zarr.axes import KNOWN_SPATIAL_UNITS, KNOWN_TEMPORAL_UNITS

    out = []
    for unit, table, known in ((meta.unit, _SPACE_UNITS, KNOWN_SPATIAL_UNITS),
                               (meta.time_unit, _TIME_UNITS, KNOWN_TEMPORAL_UNITS)):
        ngff = None if unit is None else table.get(unit, unit if unit in known else None)
        if unit is not None and ngff is None:
            warnings.warn(f"{name}: the unit {unit!r} has no OME-Zarr (NGFF) name; the output's axes name no unit",
                          stacklevel=3)
        out.append(ngff)
    return out[0], out[1]


def axes_metadata(zaxes: str, meta: PhysicalMetadata, name: str = "image") -> list[dict]:
    """NGFF ``axes`` entries (name, type, and the unit where the size along that axis is known)."""
    space, time = _units(meta, name)
    known = {"T": time if meta.time_interval else None, "Z": space if meta.z_spacing else None,
             "Y": space if meta.pixel_size else None, "X": space if meta.pixel_size else None}
    kinds = {"T": "time", "C": "channel", "Z": "space", "Y": "space", "X": "space"}
    out = []
    for a in zaxes:
        entry = {"name": a.lower(), "type": kinds[a]}
        if known.get(a):
            entry["unit"] = known[a]
        out.append(entry)
    return out


def coordinate_transformations(zaxes: str, meta: PhysicalMetadata, levels: int) -> list[list[dict]]:
    """Per level: ``scale`` (the physical size of a pixel along each axis) and, below level 0, the
    ``translation`` that centres a 2^k x 2^k mean on the pixels it pools.

    Example:
        >>> ct = coordinate_transformations("YX", PhysicalMetadata(pixel_size=(0.1625, 0.1625), unit="µm"), 2)
        >>> ct[0], ct[1][0]["scale"], ct[1][1]["translation"]
        ([{'type': 'scale', 'scale': [0.1625, 0.1625]}], [0.325, 0.325], [0.08125, 0.08125])
    """
    y, x = meta.pixel_size or (1.0, 1.0)
    base = {"T": meta.time_interval or 1.0, "C": 1.0, "Z": meta.z_spacing or 1.0, "Y": float(y), "X": float(x)}
    out = []
    for k in range(levels):
        f = 2 ** k
        level = [{"type": "scale", "scale": [base[a] * (f if a in "YX" else 1) for a in zaxes]}]
        if k:
            level.append({"type": "translation",
                          "translation": [base[a] * (f - 1) / 2 if a in "YX" else 0.0 for a in zaxes]})
        out.append(level)
    return out


def _omero(meta: PhysicalMetadata, dtype, low: np.ndarray, high: np.ndarray, name: str) -> dict:
    """OMERO rendering settings: channel names where known, display windows over the data's range."""
    n = len(low)
    if np.issubdtype(dtype, np.integer):
        lo, hi = (float(v) for v in (np.iinfo(dtype).min, np.iinfo(dtype).max))
        bounds = [(lo, hi)] * n
    else:
        bounds = [(float(a), float(b)) for a, b in zip(low, high)]
    channels = []
    for c in range(n):
        start, end = float(low[c]), float(high[c])
        entry = {"active": True, "color": "FFFFFF" if n == 1 else _COLORS[c % len(_COLORS)],
                 "window": {"min": bounds[c][0], "max": bounds[c][1], "start": start, "end": max(end, start)}}
        if meta.channel_names is not None:
            entry["label"] = str(meta.channel_names[c])
        channels.append(entry)
    return {"name": name, "channels": channels, "rdefs": {"model": "greyscale" if n == 1 else "color"}}


def _mean2x2(region: np.ndarray, dtype) -> np.ndarray:
    """Means of 2x2 blocks over the last two axes (an odd edge repeats its last row/column)."""
    h, w = region.shape[-2:]
    if h % 2:
        region = np.concatenate([region, region[..., -1:, :]], axis=-2)
    if w % 2:
        region = np.concatenate([region, region[..., :, -1:]], axis=-1)
    m = region.reshape(region.shape[:-2] + (region.shape[-2] // 2, 2, region.shape[-1] // 2, 2))
    m = m.mean(axis=(-3, -1), dtype=np.float64)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        m = np.clip(np.rint(m), info.min, info.max)
    return m.astype(dtype)


def _downsample(src, dst) -> None:
    """Fills ``dst`` chunk by chunk with the 2x2 means of ``src`` (the level above)."""
    ch, cw = dst.chunks[-2:]
    (h, w), (dh, dw) = src.shape[-2:], dst.shape[-2:]
    for lead in np.ndindex(dst.shape[:-2]):
        for y0 in range(0, dh, ch):
            for x0 in range(0, dw, cw):
                y1, x1 = min(y0 + ch, dh), min(x0 + cw, dw)
                region = src[lead + (slice(2 * y0, min(2 * y1, h)), slice(2 * x0, min(2 * x1, w)))]
                dst[lead + (slice(y0, y1), slice(x0, x1))] = _mean2x2(np.asarray(region), dst.dtype)


def upscale_stack_to_omezarr(stack: Stack, model, path: str | os.PathLike, *, channels_map=None, per_channel=None,
                             overwrite: bool = False, levels: int | None = None, progress: bool = False,
                             **kwargs) -> Path:
    """Upscales ``stack`` plane by plane into an OME-Zarr (NGFF 0.5) multiscale image (see the module doc).

    Args:
        stack: The input (``msrgan.data.stack.read_stack``), any of the axes T, C, Z, Y, X.
        model: A generator, or anything ``zoo.from_pretrained`` takes.
        path: Target folder, ``<name>.ome.zarr``.
        channels_map, per_channel: As for ``msrgan.planes.upscale_stack_to_tiff``.
        overwrite: Replace an existing target (otherwise a FileExistsError, before the model runs).
        levels: Pyramid levels, level 0 included (default: until a level fits in ``PYRAMID_SIDE``).
        progress: Progress bars over planes and tiles.
        **kwargs: To ``msrgan.tiling.iter_upscaled_tiles`` (tile, overlap, batch_size,
            normalization, blend).

    Returns:
        The written path.
    """
    import zarr
    from ome_zarr.format import FormatV05
    from ome_zarr.writer import write_multiscales_metadata

    from msrgan.data.stack import ome_stem
    from msrgan.planes import prepare_output, stream_planes

    out = prepare_output(stack, model, path, channels_map=channels_map, per_channel=per_channel, overwrite=overwrite)
    path, dtype = out.path, stack.data.dtype
    if out.format != "omezarr":
        raise ValueError(f"{path}: an OME-Zarr target is named <name>.ome.zarr")
    zaxes = ngff_axes(out.axes)
    shape0 = tuple(out.shape[out.axes.index(a)] for a in zaxes)
    shapes = pyramid_shapes(shape0, levels)
    axes_meta = axes_metadata(zaxes, out.meta, out.name)
    plan, planes = stream_planes(stack, out, progress=progress, **kwargs)
    bh, bw = plan.block
    c_out = out.fitted.out_channels
    low, high = np.full(c_out, np.inf), np.full(c_out, -np.inf)
    with atomic_folder(path) as tmp:
        group = zarr.open_group(str(tmp), mode="w", zarr_format=3)
        arrays = [group.create_array(str(k), shape=s, dtype=dtype, fill_value=0,
                                     chunks=(1,) * (len(s) - 2) + (min(bh, s[-2]), min(bw, s[-1])),
                                     dimension_names=[a.lower() for a in zaxes])
                  for k, s in enumerate(shapes)]
        for position, blocks in planes:
            for j, i, block in blocks:
                where = {"Y": slice(j * bh, j * bh + block.shape[0]), "X": slice(i * bw, i * bw + block.shape[1])}
                for c in range(c_out):
                    key = tuple(where[a] if a in where else c if a == "C" else position[a] for a in zaxes)
                    arrays[0][key] = block[..., c]
                    low[c], high[c] = min(low[c], block[..., c].min()), max(high[c], block[..., c].max())
        for above, level in zip(arrays, arrays[1:]):
            _downsample(above, level)
        datasets = [{"path": str(k), "coordinateTransformations": t}
                    for k, t in enumerate(coordinate_transformations(zaxes, out.meta, len(shapes)))]
        name = out.meta.name or ome_stem(path)
        write_multiscales_metadata(group, datasets, fmt=FormatV05(), axes=axes_meta, name=name,
                                   metadata={"omero": _omero(out.meta, dtype, low, high, name),
                                             "description": "each level holds the 2x2 means of the level above",
                                             "method": "msrgan.omezarr"})
        ome = group.attrs["ome"]
        ome["multiscales"][0]["type"] = "local_mean"
        group.attrs["ome"] = ome
    return path
