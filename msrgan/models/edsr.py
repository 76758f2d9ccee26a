"""EDSR-baseline (Lim et al. 2017): residual blocks without BatchNorm, with residual scaling.

Head 3x3 convolution; ``num_blocks`` blocks of conv-ReLU-conv whose output is scaled by
``res_scale`` before the skip; a body convolution and the long skip; one sub-pixel x2 stage per
factor of 2 (no activation, as in EDSR); a 3x3 convolution to ``channels``. EDSR's RGB mean shift
is left out: the inputs are normalized fluorescence images in [0, 1].
"""

from __future__ import annotations

import math

import keras
from keras import layers

import zoo
from msrgan.convention import check_image_batch
from msrgan.models.base import SRModel
from msrgan.models.blocks import Conv2D, PixelShuffle, bicubic_upsample


@keras.saving.register_keras_serializable(package="msrgan")
class EDSRBlock(layers.Layer):
    """EDSR residual block: ``x + res_scale * conv(relu(conv(x)))``."""

    def __init__(self, filters: int = 64, res_scale: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.res_scale = float(res_scale)
        self.conv1 = Conv2D(self.filters, 3, padding="same", activation="relu", name="conv1")
        self.conv2 = Conv2D(self.filters, 3, padding="same", name="conv2")

    def call(self, x):
        y = self.conv2(self.conv1(x))
        return x + y * self.res_scale if self.res_scale != 1.0 else x + y

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "res_scale": self.res_scale}


@keras.saving.register_keras_serializable(package="msrgan")
class EDSR(SRModel):
    """EDSR (baseline: 16 blocks, 64 filters, ``res_scale`` 1; the large model: 32, 256, 0.1).

    Args:
        num_blocks: Residual blocks.
        filters: Feature channels.
        res_scale: Factor on each block's residual branch (0.1 stabilises wide models).
        channels: Image channels, 1, 3 or 4.
        scale: Upscaling factor, 2, 4 or 8.
        residual: ``"none"`` (EDSR) or ``"bicubic"``: add the bicubic upsampling of the input (the
            last convolution then starts at zero, so an untrained model is bicubic).

    Example:
        >>> import numpy as np
        >>> EDSR(num_blocks=2, filters=8, channels=1, scale=2)(np.zeros((1, 12, 10, 1), "float32")).shape
        (1, 24, 20, 1)
    """

    card_kind = {
        "tags": ["super-resolution", "edsr", "image-to-image"],
        "what": "EDSR (Lim et al. 2017): residual blocks without BatchNorm; it turns a low-resolution "
                "fluorescence microscopy image into one {scale} times larger in each direction",
    }

    def __init__(self, num_blocks: int = 16, filters: int = 64, res_scale: float = 1.0, channels: int = 3,
                 scale: int = 4, residual: str = "none", name: str = "edsr", **kwargs):
        super().__init__(channels=channels, scale=scale, name=name, **kwargs)
        if int(num_blocks) < 1 or int(filters) < 1:
            raise ValueError(f"num_blocks and filters must be >= 1, got num_blocks={num_blocks!r}, filters={filters!r}")
        if residual not in ("none", "bicubic"):
            raise ValueError(f"residual must be 'none' or 'bicubic', got residual={residual!r}")
        self.num_blocks, self.filters, self.res_scale = int(num_blocks), int(filters), float(res_scale)
        self.residual = residual
        self.head = Conv2D(self.filters, 3, padding="same", name="head")
        self.blocks = [EDSRBlock(self.filters, self.res_scale, name=f"block_{i:02d}") for i in range(self.num_blocks)]
        self.body = Conv2D(self.filters, 3, padding="same", name="body")
        self.upsamplers = [(Conv2D(self.filters * 4, 3, padding="same", name=f"up{i}_conv"),
                            PixelShuffle(2, name=f"up{i}_shuffle")) for i in range(int(math.log2(self.scale)))]
        self.tail = Conv2D(self.channels, 3, padding="same", name="tail",
                           kernel_initializer="zeros" if residual == "bicubic" else "glorot_uniform")

    def call(self, x, training=False):
        check_image_batch(x, self.channels, name="EDSR input")
        feat = self.head(x)
        y = feat
        for block in self.blocks:
            y = block(y)
        y = self.body(y) + feat
        for conv, shuffle in self.upsamplers:
            y = shuffle(conv(y))
        y = self.tail(y)
        return y + bicubic_upsample(x, self.scale) if self.residual == "bicubic" else y

    @property
    def receptive_margin(self) -> int:
        """LR pixels of context per side: head, two per block, body, one per x2 stage, the tail's
        HR pixel rounded up, and bicubic's 2 when it is added."""
        return 1 + 2 * self.num_blocks + 1 + len(self.upsamplers) + 1 + (2 if self.residual == "bicubic" else 0)

    def get_config(self):
        return {"name": self.name, "num_blocks": self.num_blocks, "filters": self.filters, "res_scale": self.res_scale,
                "channels": self.channels, "scale": self.scale, "residual": self.residual}


zoo.register(
    "edsr-baseline-x4", EDSR,
    description="EDSR-baseline (Lim et al. 2017): 16 blocks without BatchNorm, 64 filters, res_scale 1, x4",
    tags=("microscopy", "super-resolution"),
    num_blocks=16, filters=64, res_scale=1.0, channels=3, scale=4, residual="none",
)
