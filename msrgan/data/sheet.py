"""Contact sheets: one labelled row of example fields per class, drawn with Pillow (headless).

Display only (the data are not changed): each channel is contrast-stretched on its own (the 1st to
99.8th percentile of the tile's field to black..full colour) and merged in the Human Protein Atlas
colours:

- 4 channels (CYTO2017 order): protein of interest green (full strength: it carries the class),
  nucleus blue, microtubules dimmed red, ER dim yellow (the reference channels are dimmed so they do
  not hide the protein pattern);
- 3 channels: the seed's RGB merge as stored (R microtubules, G protein, B nucleus);
- 1 channel: gray.

Example:
    >>> import numpy as np
    >>> images = [np.random.default_rng(i).integers(0, 255, (64, 64, 3), dtype=np.uint8) for i in range(4)]
    >>> sheet = contact_sheet(images, [0, 0, 3, 3], per_class=2, tile=48)
    >>> sheet.mode, sheet.size[1] > 2 * 48
    ('RGB', True)
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from msrgan.display import display_rgb, merge_colors
from zoo.files import atomic_file

BACKGROUND = (16, 16, 20)
TEXT = (235, 235, 235)
MUTED = (160, 160, 170)

# Display colours per channel name (RGB weights).
COLORS = {
    "nucleus": (0.15, 0.35, 1.0),
    "microtubules": (0.75, 0.05, 0.05),
    "er": (0.35, 0.3, 0.0),
    "protein": (0.15, 1.0, 0.15),
    "gray": (1.0, 1.0, 1.0),
}
LEGEND = {
    1: [("gray", "single channel")],
    3: [("microtubules", "microtubules"), ("protein", "protein of interest"), ("nucleus", "nucleus")],
    4: [("nucleus", "nucleus (DAPI)"), ("microtubules", "microtubules"), ("er", "ER"),
        ("protein", "protein of interest")],
}
STRETCH = (1.0, 99.8)  # each channel's percentiles shown black and at full colour (msrgan.display.display_rgb)


def _font(size: int):
    from PIL import ImageFont

    try:
        import matplotlib

        return ImageFont.truetype(str(Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"), size)
    except (ImportError, OSError):
        return ImageFont.load_default(size)


def _tile(image: np.ndarray, tile: int):
    from PIL import Image

    image = np.asarray(image)
    hpa = image.ndim == 3 and image.shape[-1] == 4  # Human Protein Atlas colours; the seed's merge otherwise
    rgb = display_rgb(image, colors=COLORS if hpa else None, percentiles=STRETCH)
    h, w = rgb.shape[:2]
    s = min(h, w)
    y, x = (h - s) // 2, (w - s) // 2
    im = Image.fromarray(rgb[y:y + s, x:x + s])
    return im.resize((tile, tile), Image.Resampling.LANCZOS) if s != tile else im


def contact_sheet(
    images: Sequence[np.ndarray],
    labels: Sequence[int] | None = None,
    class_names: Sequence[str] | None = None,
    *,
    per_class: int = 6,
    tile: int = 96,
    title: str | None = None,
    source: str | None = None,
    max_rows: int = 8,
):
    """A ``PIL.Image`` with one row per class (labelled with the class name and its image count).

    Args:
        images: ``(H, W, C)`` arrays with C = 1, 3 or 4 (any dtype); tiles are centre squares.
        labels: Class id of each image, or ``None`` (rows of ``per_class`` unlabelled images).
        class_names: Names of the ids (default: the 13 localization classes).
        per_class: Tiles per row (the first images of each class).
        tile: Tile side in pixels.
        title: Header line (default: a description of the images, after ``source``).
        source: Where the images come from (a folder or dataset name), shown in the default title.
        max_rows: Rows shown for unlabelled images.

    Returns:
        An RGB ``PIL.Image.Image``.
    """
    from PIL import Image, ImageDraw

    images = list(images)
    if not images:
        raise ValueError("images is empty: nothing to show")
    if per_class < 1 or tile < 16:
        raise ValueError(f"per_class must be >= 1 and tile >= 16, got per_class={per_class}, tile={tile}")
    channels = {np.asarray(im).shape[-1] if np.asarray(im).ndim == 3 else 1 for im in images}
    if len(channels) != 1:
        raise ValueError(f"images have different channel counts {sorted(channels)}")
    c = channels.pop()
    if class_names is None:
        from msrgan.data.synthetic import CLASS_NAMES as class_names
    rows: list[tuple[str, str, list[int]]] = []
    if labels is not None:
        labels = np.asarray(labels, dtype=np.int64)
        if labels.shape != (len(images),):
            raise ValueError(f"labels must have shape ({len(images)},), got {labels.shape}")
        for k in np.unique(labels):
            idx = np.flatnonzero(labels == k)
            name = class_names[k] if 0 <= k < len(class_names) else f"class {k}"
            rows.append((name.replace("_", " "), f"{len(idx)} image{'s' * (len(idx) != 1)}", idx[:per_class].tolist()))
    else:
        for r in range(min(max_rows, -(-len(images) // per_class))):
            idx = list(range(r * per_class, min((r + 1) * per_class, len(images))))
            rows.append(("unlabelled", f"images {idx[0] + 1}-{idx[-1] + 1}", idx))

    fsize = max(11, tile // 6)
    font, small, big = _font(fsize), _font(max(11, fsize - 3)), _font(fsize + 3)
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    text_w = lambda s, f: int(probe.textlength(s, font=f))  # noqa: E731
    gap, pad = max(2, tile // 24), max(8, tile // 8)
    label_w = max(max(text_w(r[0], font), text_w(r[1], small)) for r in rows) + 2 * pad
    ncols = max(len(r[2]) for r in rows)
    grid_w = ncols * tile + (ncols - 1) * gap
    shapes = sorted({tuple(np.asarray(images[i]).shape[:2]) for r in rows for i in r[2]})
    dtypes = sorted({np.asarray(images[i]).dtype.name for r in rows for i in r[2]})
    if title is None:
        title = ((f"{source}: " if source else "") + f"{len(images)} field{'s' * (len(images) != 1)}, {c} channel{'s' * (c != 1)}, "
                 f"{'/'.join(dtypes)}, {'x'.join(map(str, shapes[0]))} px" + (" (varied)" if len(shapes) > 1 else ""))
    header_h = fsize + 3 + fsize + 3 * pad
    width = max(label_w + grid_w + pad, text_w(title, big) + 2 * pad, _legend_width(c, small, text_w, fsize) + 2 * pad)
    height = header_h + len(rows) * (tile + gap) + pad
    sheet = Image.new("RGB", (width, height), BACKGROUND)
    draw = ImageDraw.Draw(sheet)
    draw.text((pad, pad), title, font=big, fill=TEXT)
    x = pad
    ly = pad + fsize + 3 + pad // 2
    for key, text in LEGEND[c]:
        col = (COLORS if c == 4 else merge_colors(c))[key]
        draw.rectangle([x, ly + 2, x + fsize - 2, ly + fsize - 2], fill=tuple(int(255 * v) for v in col))
        x += fsize + 4
        draw.text((x, ly + 1), text, font=small, fill=MUTED)
        x += text_w(text, small) + 2 * pad
    y = header_h
    for name, sub, idx in rows:
        ty = y + tile // 2 - fsize
        draw.text((pad, ty), name, font=font, fill=TEXT)
        draw.text((pad, ty + fsize + 3), sub, font=small, fill=MUTED)
        for j, i in enumerate(idx):
            sheet.paste(_tile(images[i], tile), (label_w + j * (tile + gap), y))
        y += tile + gap
    return sheet


def _legend_width(c, font, text_w, fsize) -> int:
    return sum(fsize + 4 + text_w(t, font) + 16 for _, t in LEGEND[c])


def save_contact_sheet(path: str | os.PathLike, images, labels=None, class_names=None, *, overwrite: bool = False,
                       colors: int | None = None, **kwargs) -> Path:
    """Draws ``contact_sheet(images, labels, class_names, **kwargs)`` and writes it (PNG or JPEG) atomically.

    Args:
        path: ``.png`` or ``.jpg`` file.
        images, labels, class_names, **kwargs: As in ``contact_sheet``.
        overwrite: Replace an existing file.
        colors: PNG only: store with an adaptive palette of this many colours (2..256), which makes
            the file several times smaller (noisy fluorescence compresses poorly).

    Returns:
        The path written.

    Raises:
        FileExistsError: ``path`` exists and ``overwrite`` is False.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".png", ".jpg", ".jpeg"):
        raise ValueError(f"{path}: a contact sheet is written as .png or .jpg, not {suffix or 'no suffix'!r}")
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True (or --overwrite) to replace it")
    if colors is not None and not (2 <= int(colors) <= 256 and suffix == ".png"):
        raise ValueError(f"colors must lie in 2..256 and needs a .png output, got colors={colors} for {path.name}")
    sheet = contact_sheet(images, labels, class_names, **kwargs)
    if colors is not None:
        from PIL import Image

        sheet = sheet.quantize(colors=int(colors), method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    with atomic_file(path) as tmp:
        if suffix == ".png":
            sheet.save(tmp, format="PNG", optimize=True)
        else:
            sheet.save(tmp, format="JPEG", quality=90)
    return path
