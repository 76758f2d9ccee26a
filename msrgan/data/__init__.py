"""Data: synthetic fields, real-image loaders, degradation, normalization, patches, HF datasets.

The entry points:

- ``load_source(spec)`` -> ``DataSource`` (``"synthetic"``, an image folder, or a Hugging Face dataset);
- ``degrade(hr, scale, method)`` (a name in ``DEGRADATIONS``: ``"bicubic"``, ``"microscope"``, ``"random"``);
- ``varied.varied_field(seed)``: HR fields randomised over object scale, structure, background, dynamic
  range, HR noise and bit depth (the presets' training data);
- ``PatchDataset(images, patch_size=, scale=, ...)``: random ``(lr, hr)`` training batches;
- ``get_normalizer(name)`` -> a ``Normalizer`` (``fit``/``before``/``after``; the kinds are the registry
  ``NORMALIZATIONS``); ``normalize``/``denormalize``: per-channel percentile normalization with an exact inverse;
- ``read_image``/``write_image``; ``to_hf_dataset``/``push_dataset``; ``contact_sheet``.

``patches`` (Keras), ``hf`` (``datasets``), ``folders`` and ``sheet`` are imported on first use of
their names.
"""

from __future__ import annotations

import importlib

from msrgan.data import degrade_random  # noqa: F401  (registers the "random" degradation)
from msrgan.data.degrade import DEGRADATIONS, degradation_params, degrade
from msrgan.data.io import IMAGE_SUFFIXES, is_image_file, read_image, write_image
from msrgan.data.normalize import (
    NORMALIZATIONS,
    Normalization,
    Normalizer,
    denormalize,
    fit_normalization,
    from_unit_range,
    get_normalizer,
    normalize,
    to_unit_range,
)
from msrgan.data.source import DataSource, load_source

_LAZY = {
    "PatchDataset": "msrgan.data.patches",
    "validation_pairs": "msrgan.data.patches",
    "load_folder": "msrgan.data.folders",
    "to_hf_dataset": "msrgan.data.hf",
    "from_hf_dataset": "msrgan.data.hf",
    "load_hf_dataset": "msrgan.data.hf",
    "push_dataset": "msrgan.data.hf",
    "decode_image": "msrgan.data.hf",
    "contact_sheet": "msrgan.data.sheet",
    "save_contact_sheet": "msrgan.data.sheet",
}

__all__ = [
    "DEGRADATIONS", "IMAGE_SUFFIXES", "NORMALIZATIONS", "DataSource", "Normalization", "Normalizer",
    "degradation_params", "degrade", "denormalize", "fit_normalization", "from_unit_range", "get_normalizer",
    "is_image_file", "load_source", "normalize", "read_image",
    "to_unit_range", "write_image", *_LAZY,
]


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'msrgan.data' has no attribute {name!r}")
