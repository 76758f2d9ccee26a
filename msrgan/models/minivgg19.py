"""miniVGG19: the mSRGAN thesis's microscopy classifier, whose features drive the content loss."""

from __future__ import annotations

import keras
from keras import layers

from msrgan.convention import INPUT_CONVENTION, LOCALIZATION_CLASSES, channel_names, check_channels, check_image_batch
from msrgan.models.base import ZooModel
from msrgan.models.blocks import ConvBNAct, MaxPooling2D, apply_sublayer

VGG19_BLOCKS = ((2, 64), (2, 128), (4, 256), (4, 512), (4, 512))
TAPS = ("block1", "block2", "block3", "block4", "block5")


@keras.saving.register_keras_serializable(package="msrgan")
class MiniVGG19(ZooModel):
    """VGG19 topology (16 convs in 5 blocks) with BatchNorm + LeakyReLU and a width multiplier.

    Trained from scratch on microscopy (13 protein-localization classes), its block outputs are
    the feature taps of mSRGAN's content loss. Block ``k`` ends with the activation of its last
    convolution, before the 2x2 max-pooling; its tap is named ``"block{k}"`` and has
    ``round(VGG19 width * width)`` channels at 1/2**(k-1) of the input resolution. The classifier
    head is global average pooling, dropout and one dense layer of ``num_classes`` logits.

    Args:
        num_classes: Output classes (13 localization classes by default).
        channels: Image channels, 1, 3 or 4.
        width: Multiplier on VGG19's 64-128-256-512-512 channels (minimum 4 per conv).
        dropout: Dropout rate before the classifier.

    Example:
        >>> import numpy as np
        >>> m = MiniVGG19(channels=3, width=0.125)
        >>> [f.shape[-1] for f in m.features(np.zeros((1, 32, 32, 3), "float32"))]
        [8, 16, 32, 64, 64]
    """

    card_kind = {
        "task": "image-classification", "task_name": "Protein localization classification",
        "tags": ["image-classification", "feature-extraction"],
        "what": "miniVGG19, the microscopy classifier whose block features give mSRGAN its content loss",
        "intended": ("- Intended for: content-loss features in mSRGAN training, and as a baseline classifier.",),
        "call": "logits = model(x[None])                                 # (1, num_classes)\n",
    }

    def __init__(self, num_classes: int = 13, channels: int = 3, width: float = 0.25, dropout: float = 0.3,
                 name: str = "minivgg19", **kwargs):
        super().__init__(name=name, **kwargs)
        if int(num_classes) < 2:
            raise ValueError(f"num_classes must be >= 2, got {num_classes!r}")
        if not float(width) > 0:
            raise ValueError(f"width must be > 0, got {width!r}")
        self.num_classes = int(num_classes)
        self.channels = check_channels(channels)
        self.width = float(width)
        self.dropout_rate = float(dropout)
        self.blocks = []
        for b, (n, w) in enumerate(VGG19_BLOCKS, start=1):
            f = max(4, int(round(w * self.width)))
            self.blocks.append([ConvBNAct(f, name=f"block{b}_conv{i + 1}") for i in range(n)])
        self.pools = [MaxPooling2D(2, name=f"block{b}_pool") for b in range(1, 5)]
        self.gap = layers.GlobalAveragePooling2D(name="gap")
        self.drop = layers.Dropout(self.dropout_rate, name="dropout")
        self.classifier = layers.Dense(self.num_classes, name="classifier")

    @property
    def tap_channels(self) -> dict[str, int]:
        return {t: blk[-1].filters for t, blk in zip(TAPS, self.blocks)}

    def features(self, x, layers=TAPS, training=False):
        """Returns the feature maps of the named taps (``"block1"`` .. ``"block5"``), in order."""
        unknown = [t for t in layers if t not in TAPS]
        if unknown:
            raise ValueError(f"Unknown miniVGG19 feature tap(s) {unknown}; choose from {TAPS}")
        check_image_batch(x, self.channels, name="MiniVGG19 input")
        last = max(TAPS.index(t) for t in layers)
        out = {}
        for i, block in enumerate(self.blocks[: last + 1]):
            for conv in block:
                x = apply_sublayer(self, conv, x, training=training)
            out[TAPS[i]] = x
            if i < len(self.pools) and i < last:
                x = apply_sublayer(self, self.pools[i], x)
        return [out[t] for t in layers]

    def call(self, x, training=False):
        (x,) = self.features(x, ("block5",), training=training)
        return self.classifier(self.drop(self.gap(x), training=training))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_classes)

    def example_input_shape(self):
        return (1, 32, 32, self.channels)

    def get_config(self):
        return {"name": self.name, "num_classes": self.num_classes, "channels": self.channels,
                "width": self.width, "dropout": self.dropout_rate}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def pretrained_metadata(self):
        meta = {"task": "image-classification", "input_convention": INPUT_CONVENTION,
                "channels": self.channels, "channel_names": list(channel_names(self.channels)),
                "feature_taps": self.tap_channels}
        if self.num_classes == len(LOCALIZATION_CLASSES):
            meta["class_names"] = list(LOCALIZATION_CLASSES)
        return meta
