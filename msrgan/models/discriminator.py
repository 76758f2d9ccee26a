"""The SRGAN discriminator."""

from __future__ import annotations

import keras
from keras import layers

from msrgan.convention import INPUT_CONVENTION, check_channels, check_image_batch
from msrgan.models.base import ZooModel
from msrgan.models.blocks import ConvBNAct, apply_sublayer


@keras.saving.register_keras_serializable(package="msrgan")
class Discriminator(ZooModel):
    """SRGAN discriminator (Ledig et al. 2017) returning one real/fake logit per image.

    Eight 3x3 convolutions with ``filters``, ``filters``, 2x, 2x, 4x, 4x, 8x, 8x channels
    (64 to 512 in the paper), stride 2 on every second one, LeakyReLU(0.2) and BatchNormalization
    (not on the first conv); then a dense layer of ``dense_units`` (1024), LeakyReLU and one logit.

    Input size: the paper flattens a fixed 96x96 map into the dense layer. Here the last feature
    map is global-average-pooled before the dense layer, so one set of weights accepts the
    training patch size and any larger image (height and width of at least 16 pixels, the
    total stride), and the head has the same number of weights whatever the patch size.

    Args:
        channels: Image channels, 1, 3 or 4.
        filters: Channels of the first two convolutions (64 in the paper).
        dense_units: Units of the hidden dense layer (1024 in the paper).
        batch_norm: BatchNormalization after convolutions 2-8.

    Example:
        >>> import numpy as np
        >>> d = Discriminator(channels=1, filters=8, dense_units=32)
        >>> d(np.zeros((2, 32, 32, 1), "float32")).shape
        (2, 1)
    """

    card_kind = {
        "task": None, "task_name": "GAN discriminator", "tags": ["super-resolution", "srgan", "gan"],
        "what": "the SRGAN discriminator of mSRGAN (one real/fake logit per image); useful to resume "
                "or fine-tune GAN training, not for inference",
        "intended": ("- Intended for: continuing or fine-tuning mSRGAN training; its logits are not a quality score.",),
        "call": "logit = model(x[None])                                  # (1, 1) real/fake logit\n",
    }

    min_size = 16

    def __init__(self, channels: int = 3, filters: int = 64, dense_units: int = 1024, batch_norm: bool = True,
                 name: str = "discriminator", **kwargs):
        super().__init__(name=name, **kwargs)
        self.channels = check_channels(channels)
        self.filters = int(filters)
        self.dense_units = int(dense_units)
        self.batch_norm = bool(batch_norm)
        widths = [1, 1, 2, 2, 4, 4, 8, 8]
        self.convs = [
            ConvBNAct(self.filters * w, strides=1 + (i % 2), batch_norm=self.batch_norm and i > 0, name=f"conv_{i}")
            for i, w in enumerate(widths)
        ]
        self.pool = layers.GlobalAveragePooling2D(name="pool")
        self.dense = layers.Dense(self.dense_units, name="dense")
        self.dense_act = layers.LeakyReLU(negative_slope=0.2, name="dense_lrelu")
        self.logit = layers.Dense(1, name="logit")

    def call(self, x, training=False):
        check_image_batch(x, self.channels, name="Discriminator input")
        for conv in self.convs:
            x = apply_sublayer(self, conv, x, training=training)
        for layer in (self.pool, self.dense, self.dense_act, self.logit):
            x = apply_sublayer(self, layer, x)
        return x

    def compute_output_shape(self, input_shape):
        return (input_shape[0], 1)

    def example_input_shape(self):
        return (1, 32, 32, self.channels)

    def get_config(self):
        return {"name": self.name, "channels": self.channels, "filters": self.filters,
                "dense_units": self.dense_units, "batch_norm": self.batch_norm}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def pretrained_metadata(self):
        return {"task": "gan-discriminator", "input_convention": INPUT_CONVENTION, "channels": self.channels}
