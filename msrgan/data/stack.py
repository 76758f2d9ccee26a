"""Microscopy files as stacks: the array, its axes and its physical metadata.

``read_stack`` reads any image file msrgan reads (TIFF, OME-TIFF, ImageJ hyperstacks, PNG, JPEG)
as a ``Stack``: the array in the file's own axes order, the axes in CARE's letters
(``msrgan.data.axes``) and a ``PhysicalMetadata`` (pixel size and unit, Z spacing, time interval,
channel names) taken from the OME-XML, the ImageJ description or the TIFF resolution tags.

An OME-XML that cannot be parsed is reported with a warning and left out (the pixels are still
read); a file whose own metadata disagrees with the planes it holds stops with an error.

Example:
    >>> import numpy as np, tempfile, os, tifffile
    >>> p = os.path.join(tempfile.mkdtemp(), "z.tif")
    >>> tifffile.imwrite(p, np.zeros((3, 16, 16), np.uint16), imagej=True, resolution=(1 / 0.65, 1 / 0.65),
    ...                  metadata={"axes": "ZYX", "unit": "um", "spacing": 2.0})
    >>> s = read_stack(p)
    >>> s.axes, s.meta.pixel_size, s.meta.unit, s.meta.z_spacing
    ('ZYX', (0.65, 0.65), 'µm', 2.0)
"""

from __future__ import annotations

import dataclasses
import math
import os
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from msrgan.data.axes import AxesError, check_axes, file_axes, squeeze_axes
from msrgan.data.io import TIFF_SUFFIXES, read_image

__all__ = ["PhysicalMetadata", "Stack", "read_stack", "is_ome_name", "is_omezarr_name", "ome_stem"]

_MICRONS = {"micron", "microns", "um", "µm", "μm", "\\u00b5m", "micrometer", "micrometre"}
_PER_UNIT_UM = {2: 25400.0, 3: 10000.0}  # TIFF ResolutionUnit INCH, CENTIMETER in µm


def canonical_unit(unit) -> str | None:
    """``"micron"``, ``"um"``, ``"\\u00B5m"`` ... -> ``"µm"``; other units as given; None for none."""
    if unit is None:
        return None
    u = str(unit).strip()
    if not u or u.lower() in ("pixel", "pixels", "none"):
        return None
    return "µm" if u.lower() in _MICRONS else u


@dataclasses.dataclass(frozen=True)
class PhysicalMetadata:
    """What a microscopist expects to survive an upscale.

    Attributes:
        kind: Where it came from: ``"ome"``, ``"imagej"``, ``"tiff"`` or ``"none"``.
        pixel_size: ``(y, x)`` size of one pixel in ``unit``, or None.
        unit: Length unit of ``pixel_size`` and ``z_spacing`` (``"µm"`` for all spellings of microns).
        z_spacing: Distance between Z planes, or None.
        time_interval: Time between T points (seconds unless ``time_unit`` says otherwise), or None.
        time_unit: Unit of ``time_interval``.
        channel_names: One name per channel, or None.
        name: The image's name (OME ``Image/@Name``), or None.
    """

    kind: str = "none"
    pixel_size: tuple[float, float] | None = None
    unit: str | None = None
    z_spacing: float | None = None
    time_interval: float | None = None
    time_unit: str | None = None
    channel_names: tuple[str, ...] | None = None
    name: str | None = None

    def scaled(self, scale: int) -> "PhysicalMetadata":
        """The metadata of the image upscaled ``scale`` times in Y and X: pixel size divided by ``scale``."""
        size = None if self.pixel_size is None else tuple(v / scale for v in self.pixel_size)
        return dataclasses.replace(self, pixel_size=size)

    def with_channels(self, indices) -> "PhysicalMetadata":
        """The channel names of the channels picked by ``indices`` (None when names are unknown)."""
        if self.channel_names is None or indices is None:
            return self if indices is None else dataclasses.replace(self, channel_names=None)
        names = tuple(self.channel_names[i] for i in indices)
        return dataclasses.replace(self, channel_names=names)


@dataclasses.dataclass
class Stack:
    """An image file's pixels in its own axes order, with CARE axes and physical metadata."""

    data: np.ndarray
    axes: str
    meta: PhysicalMetadata = dataclasses.field(default_factory=PhysicalMetadata)
    path: Path | None = None

    @property
    def channels(self) -> int:
        return int(self.data.shape[self.axes.index("C")]) if "C" in self.axes else 1

    @property
    def planes(self) -> int:
        """How many 2-D images (Z, T and S positions) the stack holds."""
        return int(np.prod([n for a, n in zip(self.axes, self.data.shape) if a in "STZ"], dtype=np.int64))

    def size(self, axis: str) -> int:
        return int(self.data.shape[self.axes.index(axis)]) if axis in self.axes else 1


def is_ome_name(path) -> bool:
    """True for ``x.ome.tif`` / ``x.ome.tiff`` (and ``x.ome.zarr``)."""
    name = Path(path).name.lower()
    return name.endswith((".ome.tif", ".ome.tiff", ".ome.zarr"))


def is_omezarr_name(path) -> bool:
    """True for ``x.ome.zarr``: an OME-Zarr (NGFF) folder."""
    return Path(path).name.lower().endswith(".ome.zarr")


def ome_stem(path) -> str:
    """The name without its suffix, and without ``.ome`` for OME files: ``x.ome.tif`` -> ``x``."""
    p = Path(path)
    return p.name[: -len(".ome" + p.suffix)] if is_ome_name(p) else p.stem


def read_stack(path: str | os.PathLike, axes: str | None = None) -> Stack:
    """Reads an image file with its axes and physical metadata.

    Args:
        path: A TIFF (plain, ImageJ hyperstack, OME-TIFF), PNG or JPEG file.
        axes: CARE letters naming the array's axes (``S,T,C,Z,Y,X``, e.g. ``"ZYX"``); they override the
            file's own. Needed when the file does not say what its axes are.

    Raises:
        FileNotFoundError: no such file.
        AxesError: ambiguous file axes (no ``axes`` given), unknown letters, or axes that do not
            match the shape; metadata that promises more planes than the file holds.
        ValueError: a file that cannot be read.
    """
    path = Path(path)
    name = str(path)
    if path.suffix.lower() not in TIFF_SUFFIXES:
        arr = read_image(path)
        arr = arr[..., 0] if arr.shape[-1] == 1 and (axes is None or len(axes) == 2) else arr
        found = "YX" if arr.ndim == 2 else "YXC"
        return Stack(arr, check_axes(axes, arr.shape, name) if axes else found, PhysicalMetadata(), path)
    if not path.is_file():
        raise FileNotFoundError(f"No such image file: {path}")
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            series = tif.series[0]
            raw_axes, arr = series.axes, series.asarray()
            meta, expected = _tiff_metadata(tif, name)
    except (OSError, ValueError, KeyError, IndexError) as exc:
        raise ValueError(f"{path}: cannot read the image ({type(exc).__name__}: {exc})") from None
    if axes is not None:
        if len(axes) != arr.ndim:
            sq_axes, sq_shape = squeeze_axes(raw_axes, arr.shape)
            if len(axes) == len(sq_shape):
                arr = arr.reshape(sq_shape)
        found = check_axes(axes, arr.shape, name)
    else:
        sq_axes, sq_shape = squeeze_axes(raw_axes, arr.shape)
        arr = arr.reshape(sq_shape)
        found = file_axes(sq_axes, sq_shape, name)
    planes = int(np.prod([n for a, n in zip(found, arr.shape) if a in "STZC"], dtype=np.int64))
    if expected is not None and planes < expected[0]:
        raise AxesError(f"{path}: its metadata promises {expected[0]} planes ({expected[1]}) but the file holds "
                        f"{planes} (axes {found!r}, shape {arr.shape}); the file is truncated or its metadata wrong")
    if meta.channel_names is not None and len(meta.channel_names) != (arr.shape[found.index("C")]
                                                                        if "C" in found else 1):
        meta = dataclasses.replace(meta, channel_names=None)
    return Stack(arr, found, meta, path)


def _tiff_metadata(tif, name: str) -> tuple[PhysicalMetadata, tuple[int, str] | None]:
    """Physical metadata of an open TiffFile, and the plane count its metadata promises (if any)."""
    page = tif.pages[0]
    size, unit = _resolution(page, tif.imagej_metadata if tif.is_imagej else None)
    if tif.is_ome:
        try:
            return _ome_metadata(tif.ome_metadata, size, unit), None
        except (ET.ParseError, ValueError) as exc:
            warnings.warn(f"{name}: its OME-XML cannot be parsed ({exc}); the output is written without it",
                          stacklevel=3)
            return PhysicalMetadata("tiff", size, unit), None
    if tif.is_imagej:
        ij = tif.imagej_metadata or {}
        spacing = ij.get("spacing")
        interval = ij.get("finterval")
        labels = ij.get("Labels")
        channels = int(ij.get("channels", 1) or 1)
        names = None
        if isinstance(labels, (list, tuple)) and channels > 1 and len(labels) >= channels:
            first = tuple(str(v) for v in labels[:channels])
            if all(str(v) == first[i % channels] for i, v in enumerate(labels)):
                names = first
        counts = {k: int(ij[k]) for k in ("channels", "slices", "frames") if int(ij.get(k, 1) or 1) > 1}
        expected = None
        if "images" in ij and int(ij["images"]) > 1:
            expected = (int(ij["images"]), ", ".join(f"{k}={v}" for k, v in counts.items()) or "images")
        return PhysicalMetadata("imagej", size, unit, float(spacing) if spacing else None,
                                float(interval) if interval else None, "s" if interval else None, names), expected
    return PhysicalMetadata("tiff" if size else "none", size, unit), None


def _resolution(page, imagej: dict | None) -> tuple[tuple[float, float] | None, str | None]:
    """``(y, x)`` pixel size and unit from the TIFF resolution tags (ImageJ: its ``unit``)."""
    tags = page.tags
    if "XResolution" not in tags or "YResolution" not in tags:
        return None, None

    def size(tag):
        num, den = tags[tag].value
        return den / num if num else None

    x, y = size("XResolution"), size("YResolution")
    if not x or not y or not (math.isfinite(x) and math.isfinite(y)):
        return None, None
    res_unit = int(tags["ResolutionUnit"].value) if "ResolutionUnit" in tags else 2
    if imagej is not None:
        unit = canonical_unit(imagej.get("unit"))
        return ((y, x), unit) if (unit or (x, y) != (1.0, 1.0)) else (None, None)
    if res_unit in _PER_UNIT_UM:
        if (x, y) == (1.0, 1.0) or (res_unit == 2 and (1 / x, 1 / y) in ((72.0, 72.0), (96.0, 96.0))):
            return None, None  # a writer's default, not a calibration
        return (y * _PER_UNIT_UM[res_unit], x * _PER_UNIT_UM[res_unit]), "µm"
    return ((y, x), None) if (x, y) != (1.0, 1.0) else (None, None)


def _ome_metadata(xml: str, size, unit) -> PhysicalMetadata:
    root = ET.fromstring(xml)
    image = next((e for e in root if e.tag.rsplit("}", 1)[-1] == "Image"), None)
    pixels = None if image is None else next((e for e in image if e.tag.rsplit("}", 1)[-1] == "Pixels"), None)
    if pixels is None:
        raise ValueError("no Image/Pixels element")
    a = pixels.attrib

    def num(key):
        return float(a[key]) if key in a else None

    if "PhysicalSizeX" in a and "PhysicalSizeY" in a:
        size = (num("PhysicalSizeY"), num("PhysicalSizeX"))
        unit = canonical_unit(a.get("PhysicalSizeXUnit", "µm"))
    names = tuple(c.get("Name", f"channel {i}") for i, c in
                  enumerate(e for e in pixels if e.tag.rsplit("}", 1)[-1] == "Channel")) or None
    interval = num("TimeIncrement")
    return PhysicalMetadata("ome", size, unit, num("PhysicalSizeZ"), interval,
                            a.get("TimeIncrementUnit", "s") if interval else None, names, image.get("Name"))
