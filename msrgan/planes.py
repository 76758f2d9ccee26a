"""Upscaling stacks plane by plane, and writing them back with their axes and physical metadata.

A ``msrgan.data.stack.Stack`` (any of CARE's axes ``S,T,C,Z,Y,X``) is processed in the working
order of ``msrgan.data.axes.working_axes``: every S, T and Z position is one 2-D image of the
stack's channels, upscaled with ``msrgan.tiling`` (tiles, per-plane percentile normalization
and its inverse), exactly as ``msrgan.inference.upscale`` would upscale that plane alone.

``upscale_stack_to_tiff`` streams the planes into one tiled TIFF without holding the output:

- ``.ome.tif`` targets are OME-TIFF, with the pixel size divided by the scale, the unit, Z
  spacing, time increment and channel names in the OME-XML;
- otherwise an ImageJ hyperstack (axes in ImageJ's ``TZCYX`` order, 8/16-bit or float32) with the
  calibration (pixel size, unit, Z spacing, frame interval) and the channel names as slice labels;
- anything ImageJ cannot hold (float64, a sample axis S) is a plain tiled TIFF that names its axes.

Channels of one plane are written as consecutive pages; while the tiles of the first channel are
written, the others wait in a temporary file on disk beside the target (one plane's worth), so
memory stays bounded by the tile size, as for 2-D images.

``.ome.zarr`` targets are OME-Zarr (``msrgan.omezarr``), fed by the same plane streams
(``stream_planes``); ``msrgan.inference.upscale_stack_to_file`` picks the writer from the target's name.
"""

from __future__ import annotations

import dataclasses
import io
import math
import os
import warnings
from pathlib import Path

import numpy as np

from msrgan.data.axes import PLANE_AXES, working_axes
from msrgan.data.stack import PhysicalMetadata, Stack, is_ome_name, is_omezarr_name, ome_stem
from zoo.files import atomic_file, discard, partial_path

__all__ = ["GrayThrough", "StackOutput", "fit_stack_model", "output_format", "prepare_output", "stream_planes",
           "upscale_axes", "upscale_stack", "upscale_stack_to_tiff"]

IMAGEJ_DTYPES = (np.uint8, np.uint16, np.float32)


class GrayThrough:
    """A multi-channel generator run on one channel: the channel is repeated into every model input
    channel and the model's output channels are averaged, so gray in gives gray out."""

    def __init__(self, model):
        self.model = model
        self.channels = 1
        self.scale = int(model.scale)
        self.name = f"{getattr(model, 'name', 'model')}_gray"
        for attr in ("receptive_margin", "min_input_size", "zoo_name"):
            if hasattr(model, attr):
                setattr(self, attr, getattr(model, attr))

    def predict_on_batch(self, lr) -> np.ndarray:
        x = np.repeat(np.asarray(lr, np.float32), int(self.model.channels), axis=-1)
        y = np.asarray(self.model.predict_on_batch(x), np.float32)
        return y.mean(axis=-1, keepdims=True)


@dataclasses.dataclass(frozen=True)
class FittedModel:
    """The generator to run on each plane, the channels it is fed, and the channel count it gives."""

    model: object
    channels_map: tuple[int, ...] | None
    picked: tuple[int, ...] | None      # input channels behind the output channels, when not all in order
    out_channels: int


def fit_stack_model(model, channels: int, *, channels_map=None, per_channel=None, name: str = "image") -> FittedModel:
    """Fits ``model`` to a stack of ``channels`` channels (see ``msrgan.models.channels.fit_channels``).

    ``channels_map`` that feeds one input channel to every model channel (``0,0,0``) runs the model
    through ``GrayThrough``: one channel in, one channel out.
    """
    from msrgan.tiling import parse_channels_map
    from msrgan.models.channels import fit_channels

    if channels_map is None:
        fitted = fit_channels(model, channels, per_channel=per_channel, name=name)
        return FittedModel(fitted, None, None, int(fitted.channels))
    idx = parse_channels_map(channels_map)
    bad = [i for i in idx if not 0 <= i < channels]
    if bad:
        raise ValueError(f"--channels {','.join(map(str, idx))} refers to channel(s) {bad}, but {name} has "
                         f"{channels} channel(s) (indices 0 to {channels - 1})")
    if len(idx) > 1 and len(set(idx)) == 1 and int(model.channels) == len(idx):
        return FittedModel(GrayThrough(model), idx[:1], idx[:1], 1)
    fitted = fit_channels(model, len(idx), per_channel=per_channel, name=name)
    if int(fitted.channels) != len(idx):
        raise ValueError(f"--channels picks {len(idx)} channel(s) but the model expects {fitted.channels}")
    return FittedModel(fitted, idx, idx, len(idx))


def _planes(stack: Stack):
    """``(work_axes, lead_shape, plane(index) -> (H, W, C))`` without copying the stack."""
    work = working_axes(stack.axes)
    arr = np.transpose(stack.data, [stack.axes.index(a) for a in work])
    lead = tuple(arr.shape[: sum(a in PLANE_AXES for a in work)])
    has_c = "C" in work

    def plane(index):
        p = arr[index]
        return np.moveaxis(p, 0, -1) if has_c else p[..., None]

    return work, lead, plane


def _output(stack: Stack, fitted: FittedModel, scale: int) -> tuple[str, tuple[int, ...], PhysicalMetadata]:
    work = working_axes(stack.axes)
    axes = work if fitted.out_channels > 1 else work.replace("C", "")
    sizes = {a: stack.size(a) for a in work}
    sizes.update(Y=sizes["Y"] * scale, X=sizes["X"] * scale, C=fitted.out_channels)
    meta = stack.meta.scaled(scale).with_channels(fitted.picked)
    if meta.channel_names is not None and len(meta.channel_names) != fitted.out_channels:
        meta = dataclasses.replace(meta, channel_names=None)
    return axes, tuple(sizes[a] for a in axes), meta


def upscale_stack(stack: Stack, model, *, channels_map=None, per_channel=None, progress: bool = False,
                  **kwargs) -> Stack:
    """Upscales every plane of ``stack`` in memory; returns a ``Stack`` in the working axes order.

    ``kwargs`` go to ``msrgan.tiling.upscale_image`` (tile, overlap, batch_size, normalization, blend).
    """
    from tqdm.auto import tqdm

    from msrgan.tiling import load_generator, upscale_image

    name = str(stack.path or kwargs.get("name", "image"))
    kwargs.pop("name", None)
    model = load_generator(model)
    fitted = fit_stack_model(model, stack.channels, channels_map=channels_map, per_channel=per_channel, name=name)
    axes, shape, meta = _output(stack, fitted, int(model.scale))
    work, lead, plane = _planes(stack)
    out = np.empty(shape, stack.data.dtype)
    flat = out.reshape((int(np.prod(lead, dtype=np.int64)),) + shape[len(lead):])
    for k, index in enumerate(tqdm(list(np.ndindex(lead)), desc="planes", unit="plane", disable=not progress
                                   or len(lead) == 0)):
        y = upscale_image(plane(index), fitted.model, channels_map=fitted.channels_map,
                          name=_plane_name(name, work, index), **kwargs)
        flat[k] = np.moveaxis(y, -1, 0) if fitted.out_channels > 1 else y[..., 0]
    return Stack(out, axes, meta, None)


def upscale_axes(image, model, axes: str, **kwargs) -> np.ndarray:
    """``msrgan.inference.upscale(image, model, axes=...)``: an array with CARE ``axes`` upscaled plane by
    plane, returned in the same axes order (without C when one channel comes out)."""
    from msrgan.data.axes import check_axes

    image = np.asarray(image)
    axes = check_axes(axes, image.shape, kwargs.get("name", "image"))
    out = upscale_stack(Stack(image, axes), model, **kwargs)
    order = [a for a in axes if a in out.axes]
    return np.transpose(out.data, [out.axes.index(a) for a in order])


def _plane_name(name: str, work: str, index) -> str:
    return name if not index else f"{name} [" + ", ".join(f"{a}={i}" for a, i in zip(work, index)) + "]"


def output_format(path, dtype, axes: str) -> str:
    """``"omezarr"`` for ``.ome.zarr`` targets, ``"ome"`` for ``.ome.tif``, ``"imagej"`` where ImageJ can
    hold it, ``"tiff"`` otherwise.

    Raises:
        ValueError: an OME-TIFF or OME-Zarr target for a stack with a sample axis (OME has none).
    """
    if is_omezarr_name(path):
        if "S" in axes:
            raise ValueError(f"{path}: OME-Zarr has no sample axis S (axes {axes!r}; its axes are T, C, Z, Y, X); "
                             "write a plain .tif")
        return "omezarr"
    if is_ome_name(path):
        if "S" in axes:
            raise ValueError(f"{path}: OME-TIFF has no sample axis S (axes {axes!r}); write a plain .tif")
        return "ome"
    order = "".join(a for a in "TZCYX" if a in axes)
    return "imagej" if np.dtype(dtype).type in IMAGEJ_DTYPES and order == axes else "tiff"


def _write_options(fmt: str, axes: str, meta: PhysicalMetadata, pages: int, name: str) -> dict:
    """tifffile keyword arguments carrying ``meta`` for ``fmt``."""
    size, unit = meta.pixel_size, meta.unit
    md: dict = {"axes": axes}
    opts: dict = {}
    if fmt == "imagej":
        opts["imagej"] = True
        if size is not None:
            opts["resolution"] = (1.0 / size[1], 1.0 / size[0])
            ij_unit = "micron" if unit == "µm" else unit
            if ij_unit and ij_unit.isascii():
                md["unit"] = ij_unit
        if meta.z_spacing and "Z" in axes:
            md["spacing"] = float(meta.z_spacing)
        if meta.time_interval and "T" in axes:
            md["finterval"] = float(meta.time_interval)
        if "C" in axes:
            md["mode"] = "composite"
            if meta.channel_names:
                md["Labels"] = [meta.channel_names[i % len(meta.channel_names)] for i in range(pages)]
    else:
        if size is not None and unit == "µm":
            opts["resolution"] = (1e4 / size[1], 1e4 / size[0])
            opts["resolutionunit"] = "CENTIMETER"
    if fmt == "ome":
        opts["ome"] = True
        if size is not None:
            md.update(PhysicalSizeX=size[1], PhysicalSizeY=size[0])
            if unit:
                md.update(PhysicalSizeXUnit=unit, PhysicalSizeYUnit=unit)
        if meta.z_spacing and "Z" in axes:
            md["PhysicalSizeZ"] = float(meta.z_spacing)
            if unit:
                md["PhysicalSizeZUnit"] = unit
        if meta.time_interval and "T" in axes:
            md.update(TimeIncrement=float(meta.time_interval), TimeIncrementUnit=meta.time_unit or "s")
        if meta.channel_names and "C" in axes:
            md["Channel"] = {"Name": list(meta.channel_names)}
        md["Name"] = meta.name or name
    elif fmt == "tiff":
        md["axes"] = axes.replace("S", "Q")  # tifffile's S is colour samples; CARE's sample axis has no letter
    opts["metadata"] = md
    return opts


def _checked_options(fmt, axes, shape, dtype, meta, name, src) -> dict:
    """The write options, tried on a tiny image first: metadata tifffile refuses is dropped with a
    warning before the model runs, never after."""
    import tifffile

    pages = int(np.prod(shape[:-2], dtype=np.int64))
    opts = _write_options(fmt, axes, meta, pages, name)
    try:
        tifffile.imwrite(io.BytesIO(), np.zeros(shape[:-2] + (16, 16), dtype), **opts)
    except Exception as exc:  # noqa: BLE001 - any refusal of the metadata
        warnings.warn(f"{src}: its metadata cannot be written ({type(exc).__name__}: {exc}); "
                      "the output is written without it", stacklevel=3)
        opts = _write_options(fmt, axes, PhysicalMetadata(), pages, name)
    return opts


@dataclasses.dataclass(frozen=True)
class StackOutput:
    """What a streamed writer of an upscaled stack needs, found before any tile is computed.

    Attributes:
        path: The target.
        name: The input's name, for messages.
        fitted: The model fitted to the stack's channels.
        axes: Output axes in the working order (``msrgan.data.axes.working_axes``; no C for one channel).
        shape: Output shape in ``axes`` order.
        meta: Output physical metadata (pixel size divided by the scale, the channels picked).
        format: ``output_format`` of the target.
    """

    path: Path
    name: str
    fitted: FittedModel
    axes: str
    shape: tuple[int, ...]
    meta: PhysicalMetadata
    format: str


def prepare_output(stack: Stack, model, path, *, channels_map=None, per_channel=None,
                   overwrite: bool = False) -> StackOutput:
    """Checks the target and fits the model to ``stack`` (see ``StackOutput``).

    Raises:
        FileExistsError: ``path`` exists and ``overwrite`` is False.
        ValueError: a model that does not fit the stack's channels, a format that cannot hold its axes.
    """
    from msrgan.tiling import load_generator

    path = Path(path)
    if (path.exists() or path.is_symlink()) and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True (or --overwrite) to replace it")
    name = str(stack.path or "image")
    output_format(path, stack.data.dtype, stack.axes)  # a format that cannot hold the axes stops here
    model = load_generator(model)
    fitted = fit_stack_model(model, stack.channels, channels_map=channels_map, per_channel=per_channel, name=name)
    axes, shape, meta = _output(stack, fitted, int(model.scale))
    return StackOutput(path, name, fitted, axes, shape, meta, output_format(path, stack.data.dtype, axes))


def stream_planes(stack: Stack, out: StackOutput, *, progress: bool = False, **kwargs):
    """The tiles of every plane, upscaled one plane at a time: returns ``(plan, planes)``.

    ``plan`` is the ``msrgan.tile_plan.TilePlan`` shared by all planes (the first plane's input is
    checked before this returns); ``planes`` yields ``(position, blocks)`` per S/T/Z position, where
    ``position`` maps each plane axis letter to its index and ``blocks`` is the plane's
    ``iter_upscaled_tiles`` stream of ``(row, col, (h, w, C_out) block)``. ``kwargs`` go to
    ``iter_upscaled_tiles`` (tile, overlap, batch_size, normalization, blend).
    """
    from tqdm.auto import tqdm

    from msrgan.tiling import iter_upscaled_tiles

    work, lead, plane = _planes(stack)
    indices = list(np.ndindex(lead))
    fitted = out.fitted

    def tiles(index):
        return iter_upscaled_tiles(plane(index), fitted.model, channels_map=fitted.channels_map,
                                   name=_plane_name(out.name, work, index), progress=progress, **kwargs)

    plan, first = tiles(indices[0])

    def planes():
        for k, index in enumerate(tqdm(indices, desc=f"planes of {Path(out.name).name}", unit="plane",
                                       disable=not progress or len(indices) < 2)):
            yield dict(zip(work, index)), first if k == 0 else tiles(index)[1]

    return plan, planes()


def upscale_stack_to_tiff(stack: Stack, model, path: str | os.PathLike, *, channels_map=None, per_channel=None,
                          overwrite: bool = False, compression: str | None = None, progress: bool = False,
                          **kwargs) -> Path:
    """Upscales ``stack`` plane by plane straight into a tiled TIFF (see the module doc for the format).

    ``kwargs`` go to ``msrgan.tiling.iter_upscaled_tiles`` (tile, overlap, batch_size,
    normalization, blend). The file is written under a temporary name and renamed when complete.
    """
    import tifffile

    out = prepare_output(stack, model, path, channels_map=channels_map, per_channel=per_channel, overwrite=overwrite)
    path, shape, fmt = out.path, out.shape, out.format
    if fmt == "omezarr":
        raise ValueError(f"{path}: upscale_stack_to_tiff writes TIFF; use msrgan.inference.upscale_stack_to_file "
                         "for OME-Zarr")
    dtype = stack.data.dtype
    opts = _checked_options(fmt, out.axes, shape, dtype, out.meta, ome_stem(path), out.name)
    plan, planes = stream_planes(stack, out, progress=progress, **kwargs)
    tile = tuple(16 * math.ceil(v / 16) for v in plan.block)
    c_out = out.fitted.out_channels
    spill_path = partial_path(path.with_name(path.name + ".planes")) if c_out > 1 else None

    def tiles():
        spill = None if spill_path is None else np.memmap(spill_path, dtype, "w+", shape=(c_out,) + plan.output_shape)
        bh, bw = plan.block
        for _, blocks in planes:
            for j, i, block in blocks:
                if spill is None:
                    yield block[..., 0]
                else:
                    spill[:, j * bh:j * bh + block.shape[0], i * bw:i * bw + block.shape[1]] = np.moveaxis(block, -1, 0)
            if spill is not None:
                for c in range(c_out):
                    for j in range(plan.grid[0]):
                        for i in range(plan.grid[1]):
                            yield np.array(spill[c, j * bh:(j + 1) * bh, i * bw:(i + 1) * bw])
        del spill

    try:
        with atomic_file(path) as tmp:
            nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
            tifffile.imwrite(tmp, tiles(), shape=shape, dtype=dtype, tile=tile, photometric="minisblack",
                             compression=compression, bigtiff=nbytes > 2**31 and fmt != "imagej", **opts)
    finally:
        if spill_path is not None:
            discard(spill_path)
    return path
