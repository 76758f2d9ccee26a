"""Microscopy images as Hugging Face ``datasets``: build, publish with a dataset card, load back.

The format, readable with ``datasets`` alone (no msrgan needed):

- ``channel_0``, ``channel_1``, ...: one ``datasets.Image()`` column per channel, each cell one 2-D
  plane ``(Y, X)`` stored losslessly: PNG for 8/16-bit planes (grayscale, mode ``L`` / ``I;16``),
  TIFF for float planes (mode ``F``). Pillow, the default decoder, reads each exactly, so
  ``np.asarray(row["channel_1"])`` is the plane in its dtype (16-bit stays 16-bit). Stacked in
  column order the planes give ``(C, Y, X)``: axes ``CYX``, the order ``msrgan data synth`` writes
  its 4-channel TIFFs in and the order of the channels of its PNGs. ``msrgan.data`` itself works
  with ``(Y, X, C)`` arrays and moves the axis when reading.
- ``label``: a ``ClassLabel`` with the class names (the 13 localization classes by default);
- ``name``: the file name or id of each image.

Example without msrgan::

    import datasets, numpy as np
    row = datasets.load_dataset("owner/name", split="train")[0]
    cyx = np.stack([np.asarray(row[k]) for k in sorted(row) if k.startswith("channel_")])

Datasets pushed by earlier versions (one ``image`` column of ``Image(decode=False)`` holding PNG or
TIFF bytes of the whole ``(Y, X, C)`` image) are still read by :func:`from_hf_dataset` and
``msrgan.data.load_source``.

Modules: ``encoding`` (how planes and images are stored in cells), ``read`` (``load_hf_dataset``,
``from_hf_dataset``, ``load_hf_source``) and ``write`` (``to_hf_dataset``, the dataset card,
``push_dataset``); every name is importable from ``msrgan.data.hf``.

Example:
    >>> import numpy as np, tempfile
    >>> images = [np.full((32, 32, 4), 40000 + i, np.uint16) for i in range(3)]
    >>> ds = to_hf_dataset(images, [0, 5, 12])
    >>> ds.features["label"].names[5], list(ds.features)[:2]
    ('mitochondria', ['channel_0', 'channel_1'])
    >>> d = tempfile.mkdtemp()
    >>> ds.save_to_disk(d)
    >>> src = load_hf_source(d)
    >>> bool(np.array_equal(src.images[2], images[2])), src.labels.tolist()
    (True, [0, 5, 12])
"""

from __future__ import annotations

from msrgan.data.hf.encoding import (  # noqa: F401  (re-exported)
    AXES,
    CHANNEL_PREFIX,
    IMAGE_FORMATS,
    channel_columns,
    decode_image,
    encode_image,
    encode_plane,
)
from msrgan.data.hf.read import from_hf_dataset, load_hf_dataset, load_hf_source  # noqa: F401  (re-exported)
from msrgan.data.hf.write import (  # noqa: F401  (re-exported)
    DEFAULT_LICENSE,
    TASK_CATEGORIES,
    dataset_card,
    push_dataset,
    size_category,
    to_hf_dataset,
)
