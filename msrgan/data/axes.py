"""Axes of microscopy images, in CSBDeep/CARE's letters: ``S`` (sample), ``T`` (time), ``C`` (channel),
``Z`` (depth), ``Y`` and ``X``.

A file names its axes in its metadata (ImageJ ``axes``, OME ``DimensionOrder``, tifffile's
``series[0].axes``); ``file_axes`` maps tifffile's letters onto CARE's and refuses to guess: an axis
the file does not name (tifffile's ``I`` or ``Q``, a sequence of pages of unknown meaning) stops
with an error that names the axes found and the ``--axes`` (``axes=``) way out. ``check_axes``
validates axes given by the user against an array's shape.

Note the two meanings of ``S``: in a user's ``--axes`` it is CARE's sample axis (independent
images, upscaled one by one, like Z and T); in tifffile's axes it is the colour samples of one
pixel (RGB), which are channels and map to ``C``.

Example:
    >>> check_axes("zyx", (5, 64, 64))
    'ZYX'
    >>> file_axes("SYX", (3, 64, 64))
    'CYX'
"""

from __future__ import annotations

AXES = "STCZYX"
"""CARE's axis letters."""
PLANE_AXES = "STZ"
"""Axes whose positions are upscaled one by one as 2-D images."""
_TIFFFILE = {"X": "X", "Y": "Y", "Z": "Z", "T": "T", "C": "C", "S": "C"}
_HINT = "e.g. --axes ZYX for a z-stack, TYX for a time series, CYX for channels (Python: axes='ZYX')"


class AxesError(ValueError):
    """Axes that are unknown, do not match the image's shape, or cannot be told from the file."""


def check_axes(axes: str, shape, name: str = "image") -> str:
    """Upper-cased ``axes`` after checking them against ``shape``.

    Raises:
        AxesError: unknown or repeated letters, no Y or X, or a letter count other than ``len(shape)``.
    """
    if not isinstance(axes, str) or not axes:
        raise AxesError(f"{name}: axes must be a string of the letters {','.join(AXES)}, got {axes!r}")
    up = axes.upper()
    bad = sorted({a for a in up if a not in AXES})
    if bad:
        raise AxesError(f"{name}: unknown axis letter(s) {','.join(bad)} in axes {axes!r}; use {','.join(AXES)} "
                        "(CARE's sample, time, channel, depth, height, width)")
    repeated = sorted({a for a in up if up.count(a) > 1})
    if repeated:
        raise AxesError(f"{name}: axis letter(s) {','.join(repeated)} repeated in axes {axes!r}")
    if "Y" not in up or "X" not in up:
        raise AxesError(f"{name}: axes {axes!r} need both Y and X")
    if len(up) != len(shape):
        raise AxesError(f"{name}: axes {axes!r} name {len(up)} axes but the image has {len(shape)} "
                        f"(shape {tuple(shape)}); give one letter per axis")
    return up


def file_axes(axes: str, shape, name: str = "image") -> str:
    """CARE axes for a file whose metadata names ``axes`` (tifffile's letters) for an array of ``shape``.

    Axes of length 1 that CARE has no letter for are dropped by the caller (``squeeze_axes``); any
    other letter outside ``X, Y, Z, T, C, S`` is ambiguous.

    Raises:
        AxesError: an axis the file does not name, naming the axes found and ``--axes``.
    """
    unknown = [(a, n) for a, n in zip(axes, shape) if a not in _TIFFFILE]
    if unknown or ("C" in axes and "S" in axes) or "Y" not in axes or "X" not in axes:
        what = ", ".join(f"{a}={n}" for a, n in unknown) or "channels and colour samples both"
        raise AxesError(f"{name}: the axes are ambiguous: the file names them {axes!r} (shape {tuple(shape)}; "
                        f"{what}), and msrgan does not guess which are planes and which channels. "
                        f"Say what they are with --axes, {_HINT}")
    return "".join(_TIFFFILE[a] for a in axes)


def squeeze_axes(axes: str, shape) -> tuple[str, tuple[int, ...]]:
    """Drops length-1 axes other than Y and X (and keeps the others' order)."""
    keep = [i for i, (a, n) in enumerate(zip(axes, shape)) if n > 1 or a in "YX"]
    return "".join(axes[i] for i in keep), tuple(int(shape[i]) for i in keep)


def working_axes(axes: str) -> str:
    """The axes order msrgan processes and writes: the plane axes in their order, then C, Y, X.

    Moving C right before Y and X lets each plane's channels be upscaled together and written as
    consecutive pages (ImageJ's ``TZCYX`` order already is of this form).

    Example:
        >>> working_axes("CZYX"), working_axes("TZCYX"), working_axes("YXC")
        ('ZCYX', 'TZCYX', 'CYX')
    """
    return "".join(a for a in axes if a in PLANE_AXES) + ("C" if "C" in axes else "") + "YX"
