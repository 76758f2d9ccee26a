"""SRCNN (Dong et al. 2014), the mSRGAN thesis's CNN baseline.

Three convolutions on the bicubic upsampling of the input: 9x9 feature extraction (64 filters,
ReLU), 1x1 non-linear mapping (32, ReLU) and 5x5 reconstruction, all at the high resolution.
With ``residual=True`` the network predicts a correction to bicubic (VDSR's global skip, last
layer started at zero), so an untrained model is bicubic.
"""

from __future__ import annotations

import math

import keras
from keras import layers

import zoo
from msrgan.convention import check_image_batch
from msrgan.models.base import SRModel
from msrgan.models.blocks import Conv2D, bicubic_upsample


@keras.saving.register_keras_serializable(package="msrgan")
class SRCNN(SRModel):
    """SRCNN: bicubic upsampling, then 9-1-5 convolutions at the high resolution.

    Args:
        filters: Filters of the first and second convolutions (64 and 32 in the paper).
        kernel_sizes: Sizes of the three convolutions ((9, 1, 5) in the paper).
        channels: Image channels, 1, 3 or 4.
        scale: Upscaling factor, 2, 4 or 8.
        residual: Add the bicubic upsampling to the output (the last convolution then starts at zero).

    Example:
        >>> import numpy as np
        >>> SRCNN(channels=1, scale=2)(np.zeros((1, 12, 10, 1), "float32")).shape
        (1, 24, 20, 1)
    """

    card_kind = {
        "tags": ["super-resolution", "srcnn", "image-to-image"],
        "what": "SRCNN (Dong et al. 2014), the thesis's CNN baseline: three convolutions on the bicubic "
                "upsampling, giving an image {scale} times larger in each direction",
    }

    def __init__(self, filters=(64, 32), kernel_sizes=(9, 1, 5), channels: int = 3, scale: int = 4,
                 residual: bool = False, name: str = "srcnn", **kwargs):
        super().__init__(channels=channels, scale=scale, name=name, **kwargs)
        self.filters = tuple(int(f) for f in filters)
        self.kernel_sizes = tuple(int(k) for k in kernel_sizes)
        if len(self.filters) != 2 or min(self.filters) < 1:
            raise ValueError(f"filters must be two positive ints, got filters={filters!r}")
        if len(self.kernel_sizes) != 3 or min(self.kernel_sizes) < 1 or any(k % 2 == 0 for k in self.kernel_sizes):
            raise ValueError(f"kernel_sizes must be three odd positive ints, got kernel_sizes={kernel_sizes!r}")
        self.residual = bool(residual)
        k1, k2, k3 = self.kernel_sizes
        self.extract = Conv2D(self.filters[0], k1, padding="same", activation="relu", name="extract")
        self.mapping = Conv2D(self.filters[1], k2, padding="same", activation="relu", name="mapping")
        self.reconstruct = Conv2D(self.channels, k3, padding="same", name="reconstruct",
                                  kernel_initializer="zeros" if self.residual else "glorot_uniform")

    def call(self, x, training=False):
        check_image_batch(x, self.channels, name="SRCNN input")
        up = bicubic_upsample(x, self.scale)
        y = self.reconstruct(self.mapping(self.extract(up)))
        return y + up if self.residual else y

    @property
    def receptive_margin(self) -> int:
        """LR pixels of context per side: the convolutions' HR reach in LR pixels, plus bicubic's 2."""
        return math.ceil(sum(k // 2 for k in self.kernel_sizes) / self.scale) + 2

    def get_config(self):
        return {"name": self.name, "filters": list(self.filters), "kernel_sizes": list(self.kernel_sizes),
                "channels": self.channels, "scale": self.scale, "residual": self.residual}


zoo.register(
    "srcnn-x4", SRCNN,
    description="SRCNN (Dong et al. 2014), the thesis's baseline: 9-1-5 convolutions on bicubic, 64/32 filters, x4",
    tags=("microscopy", "super-resolution"),
    filters=(64, 32), kernel_sizes=(9, 1, 5), channels=3, scale=4, residual=False,
)
