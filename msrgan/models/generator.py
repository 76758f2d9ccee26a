"""The SRGAN / mSRGAN ResNet generator (SRResNet)."""

from __future__ import annotations

import math

import keras
from keras import layers

from msrgan.convention import check_image_batch
from msrgan.models.base import SRModel
from msrgan.models.blocks import (
    BatchNormalization,
    Conv2D,
    PixelShuffle,
    ResidualBlock,
    apply_sublayer,
    bicubic_upsample,
)


RESIDUALS = ("none", "bicubic")


@keras.saving.register_keras_serializable(package="msrgan")
class Generator(SRModel):
    """SRResNet generator of SRGAN (Ledig et al. 2017), as used by mSRGAN.

    Structure: a 9x9 conv + PReLU; ``num_blocks`` residual blocks (conv-BN-PReLU-conv-BN plus
    skip); conv-BN plus the long skip from the first conv; one sub-pixel x2 stage
    (conv to 4x filters, depth_to_space, PReLU) per factor of 2 in ``scale``; a final 9x9 conv
    to ``channels``. The output is linear: the model maps [0, 1] low-resolution images to
    [0, 1] high-resolution ones without a squashing activation (clip at the end if needed).
    With ``residual="bicubic"`` (VDSR's global skip) the network predicts a correction to the bicubic
    upsampling of its input (``msrgan.models.blocks.bicubic_upsample``), and its last convolution
    starts at zero, so an untrained model is exactly bicubic and "no detail to add" is the easy answer.
    It is fully convolutional: any height and width work, the output is ``scale`` times larger.

    Args:
        num_blocks: Residual blocks (16 in the paper).
        filters: Feature channels (64 in the paper).
        channels: Image channels, 1, 3 or 4 (see ``msrgan.convention``).
        scale: Upscaling factor, 2, 4 or 8.
        batch_norm: BatchNormalization in the blocks (paper) or none (EDSR / MSRResNet style).
        residual: ``"none"`` (paper) or ``"bicubic"``: add the bicubic upsampling of the input to the output.

    Example:
        >>> import numpy as np
        >>> g = Generator(num_blocks=2, filters=16, channels=1, scale=2)
        >>> g(np.zeros((1, 24, 20, 1), "float32")).shape
        (1, 48, 40, 1)
    """

    card_kind = {
        "tags": ["super-resolution", "srgan", "image-to-image"],
        "what": "the mSRGAN/SRResNet generator: it turns a low-resolution fluorescence microscopy image "
                "into one {scale} times larger in each direction",
    }

    def __init__(self, num_blocks: int = 16, filters: int = 64, channels: int = 3, scale: int = 4,
                 batch_norm: bool = True, residual: str = "none", name: str = "generator", **kwargs):
        super().__init__(channels=channels, scale=scale, name=name, **kwargs)
        if int(num_blocks) < 1:
            raise ValueError(f"num_blocks must be >= 1, got {num_blocks!r}")
        if int(filters) < 1:
            raise ValueError(f"filters must be >= 1, got {filters!r}")
        self.num_blocks = int(num_blocks)
        self.filters = int(filters)
        self.batch_norm = bool(batch_norm)
        if residual not in RESIDUALS:
            raise ValueError(f"residual must be one of {RESIDUALS}, got residual={residual!r}")
        self.residual = residual

        self.head = Conv2D(self.filters, 9, padding="same", name="head_conv")
        self.head_act = layers.PReLU(shared_axes=[1, 2], name="head_prelu")
        self.blocks = [ResidualBlock(self.filters, self.batch_norm, name=f"block_{i:02d}")
                       for i in range(self.num_blocks)]
        self.body_conv = Conv2D(self.filters, 3, padding="same", name="body_conv")
        self.body_bn = BatchNormalization(momentum=0.9, name="body_bn") if self.batch_norm else None
        self.upsamplers = []
        for i in range(int(math.log2(self.scale))):
            self.upsamplers.append((
                Conv2D(self.filters * 4, 3, padding="same", name=f"up{i}_conv"),
                PixelShuffle(2, name=f"up{i}_shuffle"),
                layers.PReLU(shared_axes=[1, 2], name=f"up{i}_prelu"),
            ))
        self.tail = Conv2D(self.channels, 9, padding="same", name="tail_conv",
                           kernel_initializer="zeros" if residual == "bicubic" else "glorot_uniform")

    def call(self, x, training=False):
        check_image_batch(x, self.channels, name="Generator input")
        def sub(layer, y, **kwargs):
            return apply_sublayer(self, layer, y, **kwargs)

        feat = sub(self.head_act, sub(self.head, x))
        y = feat
        for block in self.blocks:
            y = sub(block, y, training=training)
        y = sub(self.body_conv, y)
        if self.body_bn is not None:
            y = sub(self.body_bn, y, training=training)
        y = y + feat
        for conv, shuffle, act in self.upsamplers:
            y = sub(act, sub(shuffle, sub(conv, y)))
        if self.residual == "bicubic":
            return sub(self.tail, y) + bicubic_upsample(x, self.scale)
        return sub(self.tail, y)

    @property
    def receptive_margin(self) -> int:
        """Low-resolution pixels of context each output pixel depends on, per side.

        Two 9x9 convs (4 + 4 in LR units for the head; the tail's 4 HR pixels round up to
        one LR pixel), two 3x3 convs per block, the body conv and one 3x3 conv per x2 stage.
        Tiled inference overlaps tiles by at least this margin.
        """
        return 4 + 2 * self.num_blocks + 1 + len(self.upsamplers) + math.ceil(4 / self.scale)

    def get_config(self):
        return {"name": self.name, "num_blocks": self.num_blocks, "filters": self.filters,
                "channels": self.channels, "scale": self.scale, "batch_norm": self.batch_norm, "residual": self.residual}
