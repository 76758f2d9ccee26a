"""Fitting a generator to an image's channels: the default preset per channel count, and
``PerChannel``, which applies a single-channel model to every channel of a multi-channel image.

Fluorescence channels are separate acquisitions (one dye, one filter set each), so a model trained
on single channels applies to any channel of any stack: ``PerChannel`` folds the channels into the
batch, ``(B, h, w, C) -> (B * C, h, w, 1)``, and back. It has the generator interface msrgan's
inference takes (``scale``, ``channels``, ``receptive_margin``, ``predict_on_batch``), so tiling,
streamed TIFF writing and evaluation work unchanged.

Example:
    >>> import numpy as np
    >>> from msrgan.models import Generator
    >>> g = Generator(num_blocks=1, filters=8, channels=1, scale=2)
    >>> pc = PerChannel(g, 4)
    >>> pc.predict_on_batch(np.zeros((2, 16, 16, 4), "float32")).shape
    (2, 32, 32, 4)
"""

from __future__ import annotations

import numpy as np

DEFAULT_PRESETS: dict[int, str] = {1: "msrgan-x4-gray"}
"""The preset ``msrgan upscale`` uses without ``--model``, by input channel count; any other count
(2, 3, 4 and more) runs the single-channel preset channel by channel. RGB merges included: on the
3-channel held-out grid (docs/presets.md) the gray preset channel by channel beats bicubic on every
condition and beats the 3-channel ``msrgan-x4-rgb`` on every condition too."""
PER_CHANNEL_PRESET = "msrgan-x4-gray"


class PerChannel:
    """A single-channel generator applied to each of ``channels`` channels independently.

    Args:
        model: A generator with ``channels == 1`` (a Keras ``Generator``, ``FastGenerator``, ...).
        channels: The image's channel count.
    """

    def __init__(self, model, channels: int):
        if int(getattr(model, "channels", 0)) != 1:
            raise ValueError(f"per-channel upscaling needs a single-channel model, got one with "
                             f"{getattr(model, 'channels', '?')} channels")
        if int(channels) < 1:
            raise ValueError(f"channels must be >= 1, got {channels!r}")
        self.model = model
        self.channels = int(channels)
        self.scale = int(model.scale)
        self.name = f"{getattr(model, 'name', 'model')}_per_channel"
        for attr in ("receptive_margin", "min_input_size", "pretrained_config", "pretrained_source", "zoo_name"):
            if hasattr(model, attr):
                setattr(self, attr, getattr(model, attr))

    def predict_on_batch(self, lr) -> np.ndarray:
        x = np.asarray(lr, np.float32)
        b, h, w, c = x.shape
        if c != self.channels:
            raise ValueError(f"PerChannel input has {c} channel(s), expected {self.channels}")
        folded = np.ascontiguousarray(x.transpose(0, 3, 1, 2)).reshape(b * c, h, w, 1)
        y = np.asarray(self.model.predict_on_batch(folded), np.float32)
        s = self.scale
        return np.ascontiguousarray(y.reshape(b, c, h * s, w * s).transpose(0, 2, 3, 1))

    predict = predict_on_batch


def default_model(channels: int) -> str:
    """The default preset name for an image with ``channels`` channels (see ``DEFAULT_PRESETS``)."""
    return DEFAULT_PRESETS.get(int(channels), PER_CHANNEL_PRESET)


class DefaultPresets:
    """``presets(channels)``: the default preset for that channel count, each loaded once by ``load(name)``."""

    def __init__(self, load):
        self._load = load
        self._loaded: dict[str, object] = {}

    def __call__(self, channels: int):
        name = default_model(channels)
        if name not in self._loaded:
            self._loaded[name] = self._load(name)
        return self._loaded[name]


def fit_channels(model, channels: int, *, per_channel: bool | None = None, channels_map=None, name: str = "image"):
    """The generator to run on an image of ``channels`` channels.

    Args:
        model: A loaded generator.
        channels: The image's channel count (after ``channels_map``, when one is given).
        per_channel: ``True``: run a single-channel ``model`` channel by channel; ``False``: never;
            ``None``: do so when ``model`` is single-channel and the image is not.
        channels_map: The input channels picked for the model, if any (then no per-channel wrapping).
        name: What to call the image in errors.

    Raises:
        ValueError: ``per_channel=True`` with a multi-channel model, or a channel count the model
            does not take (the message names the ``--channels`` / ``--per-channel`` ways out).
    """
    want = int(model.channels)
    if per_channel and want != 1:
        raise ValueError(f"--per-channel needs a single-channel model; this one takes {want} channels")
    if channels_map is not None:
        return model
    if want == 1 and channels != 1 and per_channel is not False:
        return PerChannel(model, channels)
    if want != channels:
        raise ValueError(f"{name} has {channels} channel(s) but the model expects {want}; pick {want} input channels "
                         f"with --channels (channels_map=), or use a single-channel model such as "
                         f"{PER_CHANNEL_PRESET!r} with --per-channel")
    return model
