"""Seeded procedural fluorescence high-content-screening (HCS) fields of view.

The generator draws fields that look like Human Protein Atlas (HPA) Cell Atlas images: a handful of
adherent cells per field, each with a textured nucleus (DAPI), a microtubule cytoskeleton radiating from
a centrosome next to the nucleus, an endoplasmic-reticulum network around the nucleus and a "protein of
interest" whose pattern follows one of 13 subcellular localization classes (``CLASS_NAMES``). The
acquisition is simulated too: Gaussian approximation of the point spread function, uneven illumination
(a smooth low-frequency gain field), intensity variation between fields and between cells,
Poisson-Gaussian noise and quantization to 8 or 16 bits.

Everything is pure numpy and deterministic: the same ``seed`` and arguments give identical bytes (on a
given platform; vectorised float32 math may differ in the last bit between CPU families), and every
random number comes from ``np.random.default_rng(seed)`` and the child generators it spawns (no global
state). Each channel has its own child stream, so the channel layouts are views of one field:
``synthesize_field(s, channels=3)[0]`` equals ``synthesize_field(s, channels=4)[0][..., [1, 3, 0]]``, and
the 8-bit image is the same analogue signal as the 16-bit one, quantized more coarsely.

Rendering is vectorised at field level (cells in small bounding boxes, filaments as many random-walk
polylines rasterised with one ``np.bincount``, separable blurs as shifted-slice multiply-adds): about
60-80 fields of 256x256x3 per second on one core (``scripts/bench_synthetic.py``).

Channel layouts (see the DESIGN conventions):

- ``channels=4``: CYTO2017 order ``CHANNEL_NAMES_4`` = nucleus (DAPI), microtubules, ER, protein.
- ``channels=3``: the RGB merge ``CHANNEL_NAMES_3`` = R microtubules, G protein, B nucleus.
- ``channels=1``: ``CHANNEL_NAMES_1`` = the protein-of-interest channel alone, as a single gray
  widefield-style image (the channel whose pattern carries the class).

Bit depths: ``bit_depth=8`` maps the camera's full scale to 0..255; ``bit_depth=16`` digitises the same
noisy analogue signal to 0..65535 (a 16-bit sCMOS-like camera), so the low bits carry real information
(read noise and shot noise are simulated before quantization; it is not ``8-bit * 257``).

Geometry: cells have a radius of about 22-34 pixels and nuclei about 40-50 % of that, roughly an HPA
image at 1/8 of its native 2048x2048 sampling, so a 256x256 field holds about 7 to 35 cells (median 15,
counting those cut by the border), sparse to confluent. Larger ``size`` means more cells, not bigger
cells.

Example:
    >>> from msrgan.data.synthetic import synthesize_field, synthesize_dataset, CLASS_NAMES
    >>> image, label = synthesize_field(7, size=128, channels=3)
    >>> image.shape, image.dtype, CLASS_NAMES[label] in CLASS_NAMES
    ((128, 128, 3), dtype('uint8'), True)
    >>> x, y = synthesize_dataset(26, seed=1, size=64, channels=4, bit_depth=16)
    >>> x.shape, x.dtype, sorted(set(y.tolist())) == list(range(13))
    ((26, 64, 64, 4), dtype('uint16'), True)
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from msrgan.data.synthetic._acquisition import _acquire, _illumination
from msrgan.data.synthetic._checks import _check_bit_depth, _check_channels, _check_label, _check_seed, _check_size
from msrgan.data.synthetic._field import _Field
from msrgan.data.synthetic._names import (
    _CHANNEL_NAMES,
    _ER,
    _MICROTUBULES,
    CHANNEL_NAMES_1,
    CHANNEL_NAMES_3,
    CHANNEL_NAMES_4,
    CLASS_NAMES,
    NUM_CLASSES,
)
from msrgan.data.synthetic._stains import _render_er, _render_microtubules, _render_nucleus, _render_protein

__all__ = [
    "CHANNEL_NAMES_1",
    "CHANNEL_NAMES_3",
    "CHANNEL_NAMES_4",
    "CLASS_NAMES",
    "NUM_CLASSES",
    "clean_field",
    "iter_fields",
    "synthesize_dataset",
    "synthesize_field",
]


def synthesize_field(
    seed: int | Sequence[int],
    *,
    size: int | tuple[int, int] = 256,
    channels: int = 3,
    bit_depth: int = 8,
    label: int | str | None = None,
) -> tuple[np.ndarray, int]:
    """Draw one synthetic fluorescence HCS field of view.

    Args:
        seed: Non-negative int (or a sequence of them, as ``np.random.default_rng`` accepts). The same
            seed and arguments give identical bytes.
        size: Field size in pixels, an int for a square or a ``(height, width)`` pair; at least 32.
        channels: 1 (the protein channel as one gray image), 3 (RGB merge: R microtubules, G protein,
            B nucleus; ``CHANNEL_NAMES_3``) or 4 (CYTO2017 order: nucleus, microtubules, ER, protein;
            ``CHANNEL_NAMES_4``).
        bit_depth: 8 (``uint8``) or 16 (``uint16``, 16-bit digitisation of the same noisy signal).
        label: Localization class of the protein of interest, an id in ``0..12`` or a name from
            ``CLASS_NAMES``; ``None`` draws it from the seed. The label changes only the protein
            channel: the cells, nuclei, microtubules and ER of a seed are the same for every label.

    Returns:
        ``(image, label)``: an ``(H, W, channels)`` array of ``uint8`` or ``uint16`` and the class id.

    Raises:
        ValueError: for a bad ``seed``, ``size``, ``channels``, ``bit_depth`` or ``label``; the message
            names the argument and its value.

    Example:
        >>> img, y = synthesize_field(3, size=96, channels=4, bit_depth=16, label="golgi_apparatus")
        >>> img.shape, img.dtype, y
        ((96, 96, 4), dtype('uint16'), 7)
    """
    seed = _check_seed(seed)
    h, w = _check_size(size)
    channels = _check_channels(channels)
    bit_depth = _check_bit_depth(bit_depth)
    label = _check_label(label)
    clean, illumination, acq_rngs, label = _render(seed, h, w, channels, label)
    out = np.empty((h, w, channels), np.uint8 if bit_depth == 8 else np.uint16)
    for c in range(channels):
        out[..., c] = _acquire(acq_rngs[c], clean[c], illumination, bit_depth)
    return out, label


def clean_field(
    seed: int | Sequence[int],
    *,
    size: int | tuple[int, int] = 256,
    channels: int = 3,
    label: int | str | None = None,
) -> tuple[np.ndarray, int]:
    """The noise-free specimen of ``synthesize_field``: no PSF, illumination, noise or quantization.

    The same seed and arguments give the same cells as ``synthesize_field``; values are float32
    fluorophore densities (about 0 to 1.5, unnormalised). ``msrgan.data.varied`` images it with
    randomised optics and cameras.

    Example:
        >>> x, y = clean_field(3, size=64, channels=4)
        >>> x.shape, x.dtype
        ((64, 64, 4), dtype('float32'))
    """
    seed = _check_seed(seed)
    h, w = _check_size(size)
    clean, _, _, label = _render(seed, h, w, _check_channels(channels), _check_label(label))
    return np.stack(clean, axis=-1), label


def _render(seed, h: int, w: int, channels: int, label: int | None):
    """Clean channels, illumination and the per-channel acquisition streams of one field."""
    root = np.random.default_rng(seed)
    if label is None:
        label = int(root.integers(NUM_CLASSES))
    g_layout, g_nuc, g_mt, g_er, g_prot, g_illum, *g_acq = root.spawn(6 + len(CHANNEL_NAMES_4))
    acq_rng = dict(zip(CHANNEL_NAMES_4, g_acq))

    names = _CHANNEL_NAMES[channels]
    field = _Field(g_layout, h, w)
    mt = _render_microtubules(g_mt, field) if ("microtubules" in names or label == _MICROTUBULES) else None
    er = _render_er(g_er, field) if ("er" in names or label == _ER) else None
    illumination = _illumination(g_illum, h, w)

    clean = []
    for name in names:
        if name == "nucleus":
            clean.append(_render_nucleus(g_nuc, field))
        elif name == "microtubules":
            clean.append(mt[0] + mt[1])
        elif name == "er":
            clean.append(er)
        else:
            clean.append(_render_protein(g_prot, field, label, mt, er))
    return clean, illumination, [acq_rng[n] for n in names], label


def iter_fields(
    count: int | None = None,
    *,
    seed: int = 0,
    size: int | tuple[int, int] = 256,
    channels: int = 3,
    bit_depth: int = 8,
    balanced: bool = True,
) -> Iterator[tuple[np.ndarray, int]]:
    """Yield ``(image, label)`` fields one at a time; endless when ``count`` is ``None``.

    Field ``i`` is ``synthesize_field((seed, i), ..., label=i % 13 if balanced else None)``, so a longer
    stream starts with the same fields as a shorter one.

    Args:
        count: Number of fields, at least 1, or ``None`` for an endless stream.
        seed: Non-negative int, the stream's seed.
        size: As in ``synthesize_field``.
        channels: As in ``synthesize_field``.
        bit_depth: As in ``synthesize_field``.
        balanced: Cycle through the 13 classes in order (``True``) or draw each label from its seed.

    Returns:
        An iterator of ``(image, label)`` pairs.

    Example:
        >>> [y for _, y in iter_fields(3, seed=5, size=32)]
        [0, 1, 2]
    """
    if count is not None and (isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 1):
        raise ValueError(f"count must be a positive int or None, got count={count!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got seed={seed!r}")
    hw = _check_size(size)
    channels = _check_channels(channels)
    bit_depth = _check_bit_depth(bit_depth)
    return _iter(count, int(seed), hw, channels, bit_depth, bool(balanced))


def _iter(count, seed, hw, channels, bit_depth, balanced):
    i = 0
    while count is None or i < count:
        yield synthesize_field(
            (seed, i), size=hw, channels=channels, bit_depth=bit_depth, label=i % NUM_CLASSES if balanced else None
        )
        i += 1


def synthesize_dataset(
    count: int,
    *,
    seed: int = 0,
    size: int | tuple[int, int] = 256,
    channels: int = 3,
    bit_depth: int = 8,
    balanced: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw ``count`` fields as one array, with their class labels.

    Args:
        count: Number of fields, at least 1.
        seed: Non-negative int; field ``i`` is ``synthesize_field((seed, i), ...)``.
        size: Field size, an int or ``(height, width)``, at least 32.
        channels: 1, 3 or 4 (see ``synthesize_field``).
        bit_depth: 8 or 16.
        balanced: Cycle through the 13 classes (``labels[i] == i % 13``); otherwise each label is drawn
            from its field's seed.

    Returns:
        ``(images, labels)``: ``(count, H, W, channels)`` ``uint8``/``uint16`` and ``(count,)`` ``int64``.

    Example:
        >>> x, y = synthesize_dataset(13, seed=0, size=64, channels=1)
        >>> x.shape, y.tolist() == list(range(13))
        ((13, 64, 64, 1), True)
    """
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 1:
        raise ValueError(f"count must be a positive int, got count={count!r}")
    h, w = _check_size(size)
    channels = _check_channels(channels)
    bit_depth = _check_bit_depth(bit_depth)
    images = np.empty((int(count), h, w, channels), np.uint8 if bit_depth == 8 else np.uint16)
    labels = np.empty(int(count), np.int64)
    for i, (img, y) in enumerate(
        iter_fields(count, seed=seed, size=(h, w), channels=channels, bit_depth=bit_depth, balanced=balanced)
    ):
        images[i] = img
        labels[i] = y
    return images, labels
