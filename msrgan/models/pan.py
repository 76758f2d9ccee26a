"""PAN (Zhao et al. 2020): a small super-resolution network built on pixel attention.

Pixel attention multiplies features by a per-pixel, per-channel gate ``sigmoid(conv1x1(x))``.
Unlike the channel attention of RCAN (global pooling over the whole image), it is local: a tiled
upscale equals the whole-image one, which matters for microscopy fields larger than memory.

Structure: a 3x3 head; ``num_blocks`` SC-PA blocks (two 1x1-reduced branches, one plain 3x3
convolution and one with pixel attention, joined by a 1x1 convolution and a skip); a trunk
convolution with the long skip; per factor of 2, nearest-neighbour upsampling, a convolution, pixel
attention and another convolution (U-PA); a 3x3 convolution to ``channels``; plus the bicubic
upsampling of the input (PAN adds bilinear; bicubic is this project's convention).
"""

from __future__ import annotations

import math

import keras
from keras import layers, ops

import zoo
from msrgan.convention import check_image_batch
from msrgan.models.base import SRModel
from msrgan.models.blocks import Conv2D, bicubic_upsample


@keras.saving.register_keras_serializable(package="msrgan")
class PixelAttention(layers.Layer):
    """``x * sigmoid(conv1x1(x))``: a gate per pixel and channel."""

    def __init__(self, filters: int, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.gate = Conv2D(self.filters, 1, name="gate")

    def call(self, x):
        return x * ops.sigmoid(self.gate(x))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "filters": self.filters}


@keras.saving.register_keras_serializable(package="msrgan")
class SCPA(layers.Layer):
    """Self-calibrated block with pixel attention (PAN's building block), ``filters`` in and out."""

    def __init__(self, filters: int, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        half = max(self.filters // 2, 1)
        self.reduce_a = Conv2D(half, 1, name="reduce_a")
        self.reduce_b = Conv2D(half, 1, name="reduce_b")
        self.conv_a = Conv2D(half, 3, padding="same", name="conv_a")
        self.attention_conv = Conv2D(half, 3, padding="same", name="attention_conv")
        self.attention = PixelAttention(half, name="attention")
        self.conv_b = Conv2D(half, 3, padding="same", name="conv_b")
        self.join = Conv2D(self.filters, 1, name="join")

    def call(self, x):
        a = ops.leaky_relu(self.reduce_a(x), 0.2)
        a = ops.leaky_relu(self.conv_a(a), 0.2)
        b = ops.leaky_relu(self.reduce_b(x), 0.2)
        b = ops.leaky_relu(self.conv_b(self.attention(self.attention_conv(b))), 0.2)
        return x + self.join(ops.concatenate([a, b], axis=-1))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "filters": self.filters}


@keras.saving.register_keras_serializable(package="msrgan")
class PAN(SRModel):
    """PAN: SC-PA blocks and pixel-attention upsampling over a bicubic skip.

    Args:
        num_blocks: SC-PA blocks (16 in the paper).
        filters: Trunk feature channels (40 in the paper).
        upsample_filters: Channels of the upsampling stages (24 in the paper).
        channels: Image channels, 1, 3 or 4.
        scale: Upscaling factor, 2, 4 or 8.

    The last convolution starts at zero, so an untrained model is bicubic.

    Example:
        >>> import numpy as np
        >>> PAN(num_blocks=1, filters=8, upsample_filters=8, channels=1, scale=2)(np.zeros((1, 12, 10, 1), "float32")).shape
        (1, 24, 20, 1)
    """

    card_kind = {
        "tags": ["super-resolution", "pan", "pixel-attention", "image-to-image"],
        "what": "PAN (Zhao et al. 2020), a small pixel-attention network: it turns a low-resolution "
                "fluorescence microscopy image into one {scale} times larger in each direction",
    }

    def __init__(self, num_blocks: int = 16, filters: int = 40, upsample_filters: int = 24, channels: int = 3,
                 scale: int = 4, name: str = "pan", **kwargs):
        super().__init__(channels=channels, scale=scale, name=name, **kwargs)
        if min(int(num_blocks), int(filters), int(upsample_filters)) < 1:
            raise ValueError(f"num_blocks, filters and upsample_filters must be >= 1, got {num_blocks!r}, "
                             f"{filters!r}, {upsample_filters!r}")
        self.num_blocks, self.filters, self.upsample_filters = int(num_blocks), int(filters), int(upsample_filters)
        self.head = Conv2D(self.filters, 3, padding="same", name="head")
        self.blocks = [SCPA(self.filters, name=f"scpa_{i:02d}") for i in range(self.num_blocks)]
        self.trunk = Conv2D(self.filters, 3, padding="same", name="trunk")
        self.upsamplers = [(Conv2D(self.upsample_filters, 3, padding="same", name=f"up{i}_conv"),
                            PixelAttention(self.upsample_filters, name=f"up{i}_attention"),
                            Conv2D(self.upsample_filters, 3, padding="same", name=f"up{i}_refine"))
                           for i in range(int(math.log2(self.scale)))]
        self.tail = Conv2D(self.channels, 3, padding="same", kernel_initializer="zeros", name="tail")

    def call(self, x, training=False):
        check_image_batch(x, self.channels, name="PAN input")
        feat = self.head(x)
        y = feat
        for block in self.blocks:
            y = block(y)
        y = self.trunk(y) + feat
        for conv, attention, refine in self.upsamplers:
            y = ops.repeat(ops.repeat(y, 2, axis=1), 2, axis=2)
            y = ops.leaky_relu(attention(conv(y)), 0.2)
            y = ops.leaky_relu(refine(y), 0.2)
        return self.tail(y) + bicubic_upsample(x, self.scale)

    @property
    def receptive_margin(self) -> int:
        """LR pixels of context per side: head, two per SC-PA block, trunk, two per x2 stage, the
        tail's HR pixel rounded up, and bicubic's 2."""
        return 1 + 2 * self.num_blocks + 1 + 2 * len(self.upsamplers) + 1 + 2

    def get_config(self):
        return {"name": self.name, "num_blocks": self.num_blocks, "filters": self.filters,
                "upsample_filters": self.upsample_filters, "channels": self.channels, "scale": self.scale}


zoo.register(
    "pan-x4", PAN,
    description="PAN (Zhao et al. 2020): 16 pixel-attention SC-PA blocks, 40 filters, local attention (tiles exactly), x4",
    tags=("microscopy", "super-resolution"),
    num_blocks=16, filters=40, upsample_filters=24, channels=3, scale=4,
)
