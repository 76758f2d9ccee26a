"""How the images of a dataset are stored: one exact plane per channel column (``channel_columns``,
``encode_plane``), and whole ``(H, W, C)`` images in one cell (``encode_image``, ``decode_image``; the
format of datasets pushed by earlier versions)."""

from __future__ import annotations

import io

import numpy as np

IMAGE_FORMATS = ("auto", "png", "tiff")
CHANNEL_PREFIX = "channel_"  # one Image column per channel: channel_0, channel_1, ...
AXES = "CYX"  # the channel columns, stacked in order


def encode_image(image: np.ndarray, image_format: str = "auto") -> tuple[bytes, str]:
    """Lossless bytes of an ``(H, W)`` or ``(H, W, C)`` image; returns ``(bytes, suffix)``.

    ``"auto"``: PNG for uint8/uint16 with 1 or 3 channels (16-bit RGB through pypng), TIFF otherwise.

    Example:
        >>> data, suffix = encode_image(np.zeros((4, 4, 4), np.uint16))
        >>> suffix, decode_image(data).shape
        ('.tif', (4, 4, 4))
    """
    a = np.asarray(image)
    if a.ndim == 2:
        a = a[..., None]
    if a.ndim != 3 or a.shape[-1] not in (1, 2, 3, 4) or a.size == 0:
        raise ValueError(f"cannot encode an image of shape {np.asarray(image).shape}; expected (H, W, C<=4)")
    if image_format not in IMAGE_FORMATS:
        raise ValueError(f"image_format must be one of {IMAGE_FORMATS}, got {image_format!r}")
    png_ok = a.dtype in (np.uint8, np.uint16) and a.shape[-1] in (1, 3)
    if image_format == "png" and not png_ok:
        raise ValueError(f"PNG holds uint8/uint16 images with 1 or 3 channels, got {a.dtype} with {a.shape[-1]}; "
                         "use image_format='tiff'")
    buf = io.BytesIO()
    if image_format == "tiff" or not png_ok:
        import tifffile

        if a.shape[-1] == 1:
            tifffile.imwrite(buf, a[..., 0], photometric="minisblack")
        else:
            tifffile.imwrite(buf, a, photometric="minisblack", planarconfig="contig")
        return buf.getvalue(), ".tif"
    if a.dtype == np.uint16 and a.shape[-1] == 3:
        import png

        h, w, c = a.shape
        png.Writer(w, h, greyscale=False, bitdepth=16).write(buf, a.reshape(h, w * c))
    else:
        from PIL import Image

        Image.fromarray(a[..., 0] if a.shape[-1] == 1 else a).save(buf, format="PNG")
    return buf.getvalue(), ".png"


def decode_image(value) -> np.ndarray:
    """``(H, W, C)`` array, in its stored dtype, from a dataset image cell.

    Accepts ``{"bytes": ..., "path": ...}`` (``Image(decode=False)``), raw bytes, a PIL image, or an
    array/nested list (``Array3D`` columns). A cell with only a ``path`` is read from that file.
    """
    if isinstance(value, dict):
        data = value.get("bytes")
        if data is None:
            path = value.get("path")
            if not path:
                raise ValueError("image cell has neither bytes nor a path")
            from msrgan.data.io import read_image

            return read_image(path)
        value = data
    if isinstance(value, (bytes, bytearray, memoryview)):
        arr = _decode_bytes(bytes(value))
    elif hasattr(value, "getbands"):  # a PIL image
        arr = np.array(value)
    else:
        arr = np.asarray(value)
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim != 3:
        raise ValueError(f"decoded image has shape {arr.shape}; expected (H, W) or (H, W, C)")
    return arr


def _decode_bytes(data: bytes) -> np.ndarray:
    if data[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        import tifffile

        with tifffile.TiffFile(io.BytesIO(data)) as tif:
            series = tif.series[0]
            arr = series.asarray()
            axes = series.axes
        if arr.ndim == 3 and axes[0] in "CSQI" and not axes.endswith("S"):
            arr = np.moveaxis(arr, 0, -1)
        return arr
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 25 and data[24] == 16 and data[25] in (2, 4, 6):
        import png

        w, h, rows, info = png.Reader(bytes=data).asDirect()
        return np.vstack([np.asarray(r, dtype=np.uint16) for r in rows]).reshape(h, w, info["planes"])
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        im.load()
        if im.mode in ("I;16", "I;16B", "I;16L"):
            return np.array(im, dtype=np.uint16)
        if im.mode in ("P", "CMYK", "YCbCr", "1"):
            im = im.convert("RGB")
        return np.array(im)


def channel_columns(features) -> list[str]:
    """The per-channel image columns of a dataset's features, in channel order (``channel_0``, ...)."""
    out = []
    while f"{CHANNEL_PREFIX}{len(out)}" in features:
        out.append(f"{CHANNEL_PREFIX}{len(out)}")
    return out


def encode_plane(plane: np.ndarray, image_format: str = "auto") -> tuple[bytes, str]:
    """Lossless bytes of one ``(H, W)`` plane that Pillow decodes exactly; returns ``(bytes, suffix)``.

    PNG (grayscale ``L`` or ``I;16``) for uint8/uint16, TIFF otherwise (float32 planes read as
    Pillow's mode ``F``) or when ``image_format="tiff"``.

    Example:
        >>> data, suffix = encode_plane(np.full((4, 4), 60000, np.uint16))
        >>> suffix, decode_image(data).dtype
        ('.png', dtype('uint16'))
    """
    a = np.asarray(plane)
    if a.ndim != 2 or a.size == 0:
        raise ValueError(f"cannot encode a plane of shape {a.shape}; expected (H, W)")
    if image_format not in IMAGE_FORMATS:
        raise ValueError(f"image_format must be one of {IMAGE_FORMATS}, got {image_format!r}")
    png_ok = a.dtype in (np.uint8, np.uint16)
    if image_format == "png" and not png_ok:
        raise ValueError(f"PNG holds uint8/uint16 planes, got {a.dtype}; use image_format='tiff'")
    if a.dtype.kind == "f" and a.dtype != np.float32:
        a = a.astype(np.float32) if np.array_equal(a.astype(np.float32), a) else a
    if a.dtype.kind == "f" and a.dtype != np.float32:
        raise ValueError(f"{a.dtype} planes cannot be stored exactly for Pillow; convert them to float32 first")
    buf = io.BytesIO()
    if image_format == "tiff" or not png_ok:
        import tifffile

        tifffile.imwrite(buf, np.ascontiguousarray(a), photometric="minisblack")
        return buf.getvalue(), ".tif"
    from PIL import Image

    Image.fromarray(np.ascontiguousarray(a)).save(buf, format="PNG")
    return buf.getvalue(), ".png"
