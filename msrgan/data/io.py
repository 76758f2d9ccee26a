"""Reading and writing microscopy images: PNG, JPEG and TIFF; 8/16-bit and float; 1, 3 or 4 channels.

Every image is returned channels-last, ``(H, W, C)``, in its stored dtype (no rescaling). Writes
go to a temporary file in the target folder and are renamed into place, so a failed write never
leaves a partial file, and an existing file is only replaced when ``overwrite=True``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from msrgan.data.axes import AxesError
from zoo.files import atomic_file

TIFF_SUFFIXES = (".tif", ".tiff")
PIL_SUFFIXES = (".png", ".jpg", ".jpeg")
IMAGE_SUFFIXES = TIFF_SUFFIXES + PIL_SUFFIXES


def is_image_file(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Reads one image file as ``(H, W, C)`` in its stored dtype.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: unsupported suffix, or a file that cannot be decoded (named in the message).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No such image file: {path}")
    suffix = path.suffix.lower()
    if suffix not in IMAGE_SUFFIXES:
        raise ValueError(f"{path}: unsupported image type {suffix!r}; use one of {', '.join(IMAGE_SUFFIXES)}")
    try:
        if suffix in TIFF_SUFFIXES:
            arr = _read_tiff(path)
        elif suffix == ".png" and _png_is_16bit_color(path):
            arr = _read_png16(path)
        else:
            from PIL import Image

            with Image.open(path) as im:
                im.load()
                if im.mode in ("I;16", "I;16B", "I;16L"):
                    arr = np.array(im, dtype=np.uint16)
                elif im.mode == "I":
                    arr = np.array(im).astype(np.int64)
                    arr = arr.astype(np.uint16) if arr.min() >= 0 and arr.max() <= 65535 else arr.astype(np.int32)
                elif im.mode in ("P", "LA", "PA", "CMYK", "YCbCr", "1"):
                    arr = np.array(im.convert("RGBA" if "A" in im.mode else "RGB"))
                else:
                    arr = np.array(im)
    except (StackError, AxesError):  # they name the file and the axes already
        raise
    except (OSError, ValueError, SyntaxError) as exc:
        raise ValueError(f"{path}: cannot read the image ({exc})") from None
    except Exception as exc:  # decoders raise assorted types on corrupt data
        raise ValueError(f"{path}: cannot read the image ({type(exc).__name__}: {exc})") from None
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3:
        raise ValueError(f"{path}: expected a 2-D image with up to 4 channels, got an array of shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{path}: the image is empty (shape {arr.shape})")
    return arr


class StackError(ValueError):
    """A file whose own metadata says it is a z-stack or time series, which ``read_image`` does not read
    as one 2-D image (``msrgan.data.stack.read_stack`` and ``msrgan upscale`` read it plane by plane)."""


def _read_tiff(path: Path) -> np.ndarray:
    """A TIFF as ``(H, W, C)`` or ``(H, W)``, by the axes its metadata names (tifffile's ``series[0].axes``).

    Channels (``C``, or colour samples ``S``) are moved last; planes on an axis the file calls Z
    (z-stack) or T (time) stop with a ``StackError``, and axes the file does not name (tifffile's
    ``I``/``Q``) with an ``AxesError``: no axis is guessed (``msrgan.data.axes``).
    """
    import tifffile

    with tifffile.TiffFile(path) as tif:
        series = tif.series[0]
        axes = series.axes
        arr = series.asarray()
    axes, shape = image_axes(axes, arr.shape, path)
    arr = arr.reshape(shape)
    return np.moveaxis(arr, axes.index("C"), -1) if "C" in axes else arr


def image_axes(axes: str, shape, path) -> tuple[str, tuple[int, ...]]:
    """CARE axes and shape of a 2-D image whose TIFF series has tifffile ``axes`` and ``shape``: length-1
    axes dropped, a z-stack or time series refused (``StackError``), an ambiguous axis too (``AxesError``)."""
    from msrgan.data.axes import file_axes, squeeze_axes

    axes, shape = squeeze_axes(axes, shape)
    axes = file_axes(axes, shape, str(path))
    planes = [f"{a}={n}" for a, n in zip(axes, shape) if a in "ZT"]
    if planes:
        kind = "z-stack" if "Z" in axes else "time series"
        raise StackError(f"{path}: its metadata names axes {axes!r} (shape {shape}, {', '.join(planes)}): a "
                         f"{kind}, not a multi-channel image. Training and evaluation read 2-D images (axes YX, "
                         "YXC or CYX); msrgan upscale reads stacks plane by plane")
    return axes, shape


def _atomic_target(path: Path, overwrite: bool) -> None:
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True (or --overwrite) to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)


def write_image(path: str | os.PathLike, image: np.ndarray, *, overwrite: bool = False) -> Path:
    """Writes ``(H, W)`` or ``(H, W, C)`` to PNG (uint8/uint16, 1/3/4 ch), JPEG (uint8) or TIFF (any dtype).

    TIFF files are written ImageJ-compatible for 8/16-bit and float32 images with more than one
    channel stored as planes; PNG keeps 16 bit for 1-channel images, and 16-bit RGB/RGBA.
    """
    path = Path(path)
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[-1] not in (2, 3, 4)):
        raise ValueError(f"{path}: cannot write an image of shape {image.shape}; expected (H, W) or (H, W, C<=4)")
    check_format(path, image.dtype, 1 if image.ndim == 2 else image.shape[-1])
    suffix = path.suffix.lower()
    _atomic_target(path, overwrite)
    with atomic_file(path) as tmp:
        if suffix in TIFF_SUFFIXES:
            import tifffile

            if image.dtype in (np.uint8, np.uint16, np.float32) and image.ndim == 3:
                tifffile.imwrite(tmp, np.moveaxis(image, -1, 0), imagej=True, metadata={"axes": "CYX"})
            elif image.dtype in (np.uint8, np.uint16, np.float32):
                tifffile.imwrite(tmp, image, imagej=True)
            else:
                tifffile.imwrite(tmp, image)
        else:
            _write_pil(tmp, image, suffix, path)
    return path


def check_format(path, dtype, channels: int) -> None:
    """Raises a ValueError naming ``path`` when its format cannot hold an image of ``dtype`` and ``channels``.

    TIFF holds any supported dtype; PNG uint8 and uint16 (1-4 channels); JPEG uint8 with 1 or 3 channels.
    ``msrgan upscale`` checks each output with it before the model runs.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    dtype = np.dtype(dtype)
    if suffix not in IMAGE_SUFFIXES:
        raise ValueError(f"{path}: unsupported image type {suffix!r}; use one of {', '.join(IMAGE_SUFFIXES)}")
    if suffix in (".jpg", ".jpeg") and (dtype != np.uint8 or channels not in (1, 3)):
        raise ValueError(f"{path}: JPEG holds 8-bit images with 1 or 3 channels only, got {dtype} with {channels} "
                         "channel(s); write PNG or TIFF (--suffix .tif)")
    if suffix == ".png" and dtype not in (np.uint8, np.uint16):
        raise ValueError(f"{path}: PNG holds uint8 or uint16 images, got {dtype}; write TIFF for floats "
                         "(--suffix .tif)")


def _write_pil(tmp: str, image: np.ndarray, suffix: str, path: Path) -> None:
    from PIL import Image

    if suffix in (".jpg", ".jpeg"):
        if image.dtype != np.uint8:
            raise ValueError(f"{path}: JPEG holds 8-bit images only, got {image.dtype}; write PNG or TIFF")
        Image.fromarray(image).save(tmp, format="JPEG", quality=95)
        return
    if image.dtype == np.uint8:
        Image.fromarray(image).save(tmp, format="PNG")
    elif image.dtype == np.uint16 and image.ndim == 2:
        Image.fromarray(image).save(tmp, format="PNG")
    elif image.dtype == np.uint16:
        _write_png16(tmp, image)
    else:
        raise ValueError(f"{path}: PNG holds uint8 or uint16 images, got {image.dtype}; write TIFF for floats")


def _write_png16(tmp: str, image: np.ndarray) -> None:
    """16-bit RGB/RGBA PNG, which Pillow cannot write, through pypng."""
    import png

    h, w, c = image.shape
    writer = png.Writer(w, h, greyscale=False, alpha=(c == 4), bitdepth=16)
    with open(tmp, "wb") as f:
        writer.write(f, image.reshape(h, w * c).astype(np.uint16))


def _png_is_16bit_color(path: Path) -> bool:
    """True for 16-bit RGB(A) PNGs, which Pillow would silently reduce to 8 bit."""
    with open(path, "rb") as f:
        head = f.read(33)
    return len(head) == 33 and head[:8] == b"\x89PNG\r\n\x1a\n" and head[24] == 16 and head[25] in (2, 4, 6)


def _read_png16(path: Path) -> np.ndarray:
    import png

    w, h, rows, info = png.Reader(filename=str(path)).asDirect()
    planes = info["planes"]
    return np.vstack([np.asarray(r, dtype=np.uint16) for r in rows]).reshape(h, w, planes)
