"""What every msrgan network declares: its model-card kind, and for super-resolution networks the
interface that training, tiled upscaling, evaluation and ``FastGenerator`` rely on.

``ZooModel`` is the base of every network of the family. A subclass states what it is in
``card_kind`` (task, tags, one sentence, intended use, the line that calls it); ``ZooModel``
records it in ``msrgan.card.CARD_KINDS`` when the class is defined, and the cards read it there.

``SRModel`` is the base of every super-resolution network (generator): ``(N, h, w, C)`` images in
[0, 1] in, ``(N, scale*h, scale*w, C)`` out. A subclass sets ``channels`` and ``scale`` through
``super().__init__``, builds its layers, and implements ``call``, ``receptive_margin`` and
``get_config``. Then ``msrgan train --generator NAME``, ``msrgan upscale``, ``msrgan evaluate``,
``FastGenerator`` (a compiled, inference-only copy) and the pretrained folders take it.

Example:
    >>> import keras
    >>> from msrgan.models.base import SRModel
    >>> class Nearest(SRModel):
    ...     receptive_margin = 0
    ...     def call(self, x, training=False):
    ...         return keras.ops.repeat(keras.ops.repeat(x, self.scale, axis=1), self.scale, axis=2)
    ...     def get_config(self):
    ...         return {"name": self.name, "channels": self.channels, "scale": self.scale}
    >>> Nearest(channels=1, scale=2)(keras.ops.zeros((1, 8, 8, 1))).shape
    (1, 16, 16, 1)
"""

from __future__ import annotations

from typing import Any, ClassVar

import keras

from msrgan.card import GENERIC_KIND, model_card, register_card_kind
from msrgan.convention import INPUT_CONVENTION, channel_names, check_channels, check_scale
from zoo import PretrainedMixin

SR_INTENDED = (
    "- Output: {scale}x larger, same channels, linear (clip to [0, 1] before denormalizing). The model is "
    "fully convolutional: any image size works; tile large images.",
    "- Intended for: sharpening fast, low-magnification fluorescence acquisitions (e.g. high-content "
    "screening fields) for viewing and for downstream steps validated on super-resolved images.",
    "- Limitations: a GAN-trained generator can add plausible detail that is not in the sample. Do not "
    "measure intensities or count sub-resolution structures on its output without validation, and do "
    "not use it for diagnosis. Microscopes, stains, magnifications or degradations unlike the training "
    "data are out of distribution.",
)


class ZooModel(PretrainedMixin, keras.Model):
    """Base of the msrgan networks: a zoo pretrained model whose class states its card kind.

    Attributes:
        card_kind: ``task`` (a Hub pipeline tag or None), ``task_name``, ``tags``, ``what`` (one
            sentence, may use ``{scale}``), ``intended`` (Markdown bullet lines for "Intended use",
            may use ``{scale}``) and ``call`` (the line of the card's usage snippet that runs the
            model on ``x[None]``). Subclasses inherit their parent's and may override single keys.
    """

    card_kind: ClassVar[dict[str, Any]] = GENERIC_KIND

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        merged = {}
        for base in reversed(cls.__mro__):
            merged.update(base.__dict__.get("card_kind") or {})
        cls.card_kind = register_card_kind(cls.__name__, merged)

    def model_card(self, config):
        """The model card (``README.md``) of a pretrained folder, from its ``config.json``; see ``msrgan.card``."""
        return model_card(config)


class SRModel(ZooModel):
    """Base of the super-resolution networks (generators).

    Args:
        channels: Image channels, 1, 3 or 4 (see ``msrgan.convention``).
        scale: Upscaling factor, 2, 4 or 8.
        name: Keras model name.

    Subclasses implement ``call(x, training=False)``, ``get_config()`` and ``receptive_margin``
    (low-resolution pixels of context per side that an output pixel depends on; tiled inference
    overlaps tiles by it). ``example_input_shape``, ``compute_output_shape`` and the pretrained
    metadata come from here.
    """

    card_kind: ClassVar[dict[str, Any]] = {
        "task": "image-to-image", "task_name": "Super-resolution",
        "tags": ["super-resolution", "image-to-image"],
        "what": "a super-resolution network: it turns a low-resolution fluorescence microscopy image into one "
                "{scale} times larger in each direction",
        "intended": SR_INTENDED,
        "call": "sr = keras.ops.convert_to_numpy(model(x[None]))[0]      # ({scale}H, {scale}W, C)\n"
                "result = denormalize(np.clip(sr, 0, 1), norm)           # back to the input's dtype\n",
    }

    def __init__(self, *, channels: int = 3, scale: int = 4, name: str = "generator", **kwargs):
        super().__init__(name=name, **kwargs)
        self.channels = check_channels(channels)
        self.scale = check_scale(scale)

    @property
    def receptive_margin(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must define receptive_margin")

    def compute_output_shape(self, input_shape):
        b, h, w, _ = input_shape
        s = self.scale
        return (b, None if h is None else h * s, None if w is None else w * s, self.channels)

    def example_input_shape(self):
        return (1, 16, 16, self.channels)

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def pretrained_metadata(self):
        return {"task": "super-resolution", "input_convention": INPUT_CONVENTION, "scale": self.scale,
                "channels": self.channels, "channel_names": list(channel_names(self.channels))}
