"""The one input convention of every msrgan model, written down once.

Images inside the models are channels-last ``(batch, height, width, channels)`` float32 arrays
whose channels each lie in [0, 1] (percentile-normalized for microscopy; see
``msrgan.data.normalize``). Three channel layouts are supported:

- 1 channel: a single widefield/fluorescence gray channel;
- 3 channels: the mSRGAN seed's RGB merge, R = microtubules, G = protein of interest, B = nucleus;
- 4 channels: the CYTO2017 / Human Protein Atlas order nucleus (DAPI), microtubules,
  endoplasmic reticulum, protein of interest.

Super-resolution factors are 2, 4 or 8. The protein of interest follows one of 13 subcellular
localization classes (``LOCALIZATION_CLASSES``: the synthetic fields' labels, miniVGG19's outputs).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

CHANNEL_LAYOUTS: dict[int, tuple[str, ...]] = {
    1: ("gray",),
    3: ("microtubules", "protein", "nucleus"),
    4: ("nucleus", "microtubules", "er", "protein"),
}
SCALES: tuple[int, ...] = (2, 4, 8)
LOCALIZATION_CLASSES: tuple[str, ...] = (
    "nucleoplasm", "nuclear_membrane", "nucleoli", "cytosol", "plasma_membrane", "mitochondria",
    "endoplasmic_reticulum", "golgi_apparatus", "vesicles", "actin_filaments", "microtubules",
    "centrosome", "intermediate_filaments",
)
"""The 13 protein-localization classes of the seed's CYTO2017 task, in class-id order."""
DTYPE = "float32"
DATA_FORMAT = "channels_last"
VALUE_RANGE = (0.0, 1.0)

INPUT_CONVENTION = {
    "layout": "NHWC",
    "dtype": DTYPE,
    "value_range": list(VALUE_RANGE),
    "normalization": "per-channel percentile (pmin=2, pmax=99.8), see msrgan.data.normalize",
}


def check_channels(channels: int, *, name: str = "channels") -> int:
    """Returns ``channels`` as an int if it is 1, 3 or 4; otherwise raises a ValueError naming it."""
    if isinstance(channels, bool) or not isinstance(channels, (int, np.integer)) or int(channels) not in CHANNEL_LAYOUTS:
        raise ValueError(
            f"{name} must be 1 (gray), 3 (RGB merge: microtubules, protein, nucleus) or "
            f"4 (nucleus, microtubules, ER, protein), got {channels!r}"
        )
    return int(channels)


def check_scale(scale: int, *, name: str = "scale") -> int:
    """Returns ``scale`` as an int if it is 2, 4 or 8; otherwise raises a ValueError naming it."""
    if isinstance(scale, bool) or not isinstance(scale, (int, np.integer)) or int(scale) not in SCALES:
        raise ValueError(f"{name} must be one of {SCALES}, got {scale!r}")
    return int(scale)


def channel_names(channels: int) -> tuple[str, ...]:
    """The biological meaning of each channel for a supported channel count."""
    return CHANNEL_LAYOUTS[check_channels(channels)]


def rgb_merge_indices(channels: int) -> Sequence[int]:
    """Indices that turn an image of ``channels`` channels into the seed's RGB merge.

    1 channel is repeated into R, G and B; 3 channels are already the merge; 4 channels
    (nucleus, microtubules, ER, protein) map to R = microtubules, G = protein, B = nucleus and
    the ER channel is left out.
    """
    channels = check_channels(channels)
    return {1: (0, 0, 0), 3: (0, 1, 2), 4: (1, 3, 0)}[channels]


def check_image_batch(x, channels: int | None = None, *, name: str = "images") -> None:
    """Raises a ValueError if ``x`` is not a ``(batch, H, W, C)`` array with the expected ``C``."""
    shape = tuple(x.shape)
    if len(shape) != 4:
        raise ValueError(f"{name} must have shape (batch, height, width, channels), got shape {shape}")
    if channels is not None and shape[-1] is not None and shape[-1] != channels:
        raise ValueError(f"{name} has {shape[-1]} channel(s) (shape {shape}) but the model expects {channels}")
