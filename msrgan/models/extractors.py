"""Frozen feature extractors for the content (perceptual) loss.

Both extractors implement one small interface, so the content loss takes either:

- input: images in the project convention, ``(batch, H, W, channels)`` float32 in [0, 1];
- output: a list of feature maps, one per name in ``extractor.layer_names``, in that order;
- no trainable weights (``extractor.trainable_weights == []``), inference-mode BatchNorm.

``MiniVGG19Features`` taps the microscopy classifier ``MiniVGG19`` (mSRGAN's choice);
``ImageNetVGG19Features`` taps ``keras.applications.VGG19`` (SRGAN's choice).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from typing import Callable, Sequence

import keras
from keras import ops

from msrgan.convention import check_channels, check_image_batch, rgb_merge_indices
from msrgan.models.base import ZooModel
from msrgan.models.minivgg19 import TAPS, MiniVGG19
from zoo.extensions import Registry

# Caffe-style ImageNet preprocessing of keras.applications.vgg19: BGR order, mean subtracted.
IMAGENET_BGR_MEAN = (103.939, 116.779, 123.68)
VGG19_LAYERS = (
    "block1_conv1", "block1_conv2", "block2_conv1", "block2_conv2",
    "block3_conv1", "block3_conv2", "block3_conv3", "block3_conv4",
    "block4_conv1", "block4_conv2", "block4_conv3", "block4_conv4",
    "block5_conv1", "block5_conv2", "block5_conv3", "block5_conv4",
)


class FeatureExtractor(ZooModel):
    """Base of the content-loss extractors: images in, list of feature maps out, frozen."""

    card_kind = {
        "task": "feature-extraction", "task_name": "Feature extraction", "tags": ["feature-extraction"],
        "what": "a frozen feature extractor for mSRGAN's content (perceptual) loss",
        "intended": ("- Intended for: content-loss features in mSRGAN training, and as a baseline classifier.",),
        "call": "features = model(x[None])                               # list of feature maps\n",
    }

    layer_names: tuple[str, ...] = ()

    def example_input_shape(self):
        return (1, 32, 32, self.channels)


@keras.saving.register_keras_serializable(package="msrgan")
class MiniVGG19Features(FeatureExtractor):
    """Feature taps of a (trained) ``MiniVGG19``, frozen.

    Args:
        backbone: A ``MiniVGG19``; by default one is built from ``backbone_config``.
        layers: Tap names among ``"block1"`` .. ``"block5"``; ``"block5"`` is the analogue of
            SRGAN's VGG54, ``"block2"`` of VGG22.
        backbone_config: ``MiniVGG19`` config used when ``backbone`` is None.

    Example:
        >>> import numpy as np
        >>> fx = MiniVGG19Features(MiniVGG19(channels=1, width=0.125), layers=("block2", "block5"))
        >>> [tuple(f.shape) for f in fx(np.zeros((1, 64, 64, 1), "float32"))]
        [(1, 32, 32, 16), (1, 4, 4, 64)]
    """

    def __init__(self, backbone: MiniVGG19 | None = None, layers: Sequence[str] = ("block5",),
                 backbone_config: dict | None = None, name: str = "minivgg19_features", **kwargs):
        super().__init__(name=name, **kwargs)
        layers = tuple(layers)
        if not layers or any(t not in TAPS for t in layers):
            raise ValueError(f"layers must be a non-empty selection of {TAPS}, got {layers!r}")
        self.layer_names = layers
        self.backbone = backbone if backbone is not None else MiniVGG19(**(backbone_config or {}))
        self.backbone.trainable = False
        self.channels = self.backbone.channels

    def build(self, input_shape):
        if not self.backbone.built:
            shape = [1] + [d if d else 32 for d in tuple(input_shape)[1:]]
            self.backbone(ops.zeros(shape), training=False)

    def call(self, x, training=False):
        return self.backbone.features(x, self.layer_names, training=False)

    def feature_shapes(self, height: int, width: int) -> list[tuple[int, int, int]]:
        """``(h, w, c)`` of each tap for an input of ``height`` x ``width``."""
        out = []
        for t in self.layer_names:
            k = TAPS.index(t)
            out.append((height // 2**k, width // 2**k, self.backbone.tap_channels[t]))
        return out

    def get_config(self):
        return {"name": self.name, "layers": list(self.layer_names), "backbone_config": self.backbone.get_config()}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@keras.saving.register_keras_serializable(package="msrgan")
class ImageNetVGG19Features(FeatureExtractor):
    """Feature maps of ``keras.applications.VGG19`` (ImageNet), frozen, for microscopy input.

    ImageNet preprocessing is applied inside: [0, 1] -> [0, 255], RGB -> BGR, ImageNet mean
    subtracted. Microscopy channels are mapped to RGB first by a fixed rule
    (``msrgan.convention.rgb_merge_indices``): 1 channel is repeated into R, G and B; 3 channels
    are taken as the seed's RGB merge; 4 channels (nucleus, microtubules, ER, protein) become
    R = microtubules, G = protein, B = nucleus (the ER channel is not seen by this extractor).

    Args:
        layers: VGG19 layer names, e.g. ``"block5_conv4"`` (SRGAN's VGG54) or ``"block2_conv2"``
            (VGG22). Outputs are post-ReLU, as in SRGAN.
        weights: ``"imagenet"`` (downloaded by Keras), a local ``.h5``/``.weights.h5`` path of
            VGG19 "notop" weights, or None (random; for tests).
        channels: Image channels of the input, 1, 3 or 4.
    """

    def __init__(self, layers: Sequence[str] = ("block5_conv4",), weights: str | None = "imagenet",
                 channels: int = 3, name: str = "vgg19_imagenet_features", **kwargs):
        super().__init__(name=name, **kwargs)
        layers = tuple(layers)
        if not layers or any(n not in VGG19_LAYERS for n in layers):
            raise ValueError(f"layers must be a non-empty selection of VGG19 conv layers {VGG19_LAYERS}, got {layers!r}")
        self.layer_names = layers
        self.weights_source = weights
        self.channels = check_channels(channels)
        self._rgb = list(rgb_merge_indices(self.channels))
        vgg = keras.applications.VGG19(include_top=False, weights=weights, input_shape=(None, None, 3))
        self.vgg = keras.Model(vgg.input, [vgg.get_layer(n).output for n in layers], name="vgg19")
        self.vgg.trainable = False

    def call(self, x, training=False):
        check_image_batch(x, self.channels, name="ImageNetVGG19Features input")
        rgb = ops.take(x, self._rgb, axis=-1) if self._rgb != [0, 1, 2] else x
        bgr = ops.flip(rgb, axis=-1) * 255.0 - ops.convert_to_tensor(IMAGENET_BGR_MEAN, dtype=x.dtype)
        out = self.vgg(bgr, training=False)
        return list(out) if isinstance(out, (list, tuple)) else [out]

    def feature_shapes(self, height: int, width: int) -> list[tuple[int, int, int]]:
        out = []
        for n in self.layer_names:
            k = int(n[5]) - 1
            out.append((height // 2**k, width // 2**k, min(64 * 2**k, 512)))
        return out

    def get_config(self):
        return {"name": self.name, "layers": list(self.layer_names), "weights": self.weights_source,
                "channels": self.channels}

    def get_pretrained_config(self):
        """The config stored with published weights: the weights come from the file, not ImageNet."""
        return {**self.get_config(), "weights": None}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


VGG19_NOTOP_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
VGG19_NOTOP_URL = f"https://storage.googleapis.com/tensorflow/keras-applications/vgg19/{VGG19_NOTOP_FILE}"


@dataclasses.dataclass(frozen=True)
class ExtractorEntry:
    """A registered content extractor: ``build(arg, channels=, layers=) -> FeatureExtractor``, and
    whether ``--content NAME=ARG`` must give ``ARG`` (checked before any data is read)."""

    build: Callable
    needs_arg: bool = False


EXTRACTORS = Registry("content extractor")
"""Content-loss extractors, name -> ``ExtractorEntry``; ``--content NAME[=ARG]`` picks one (``arg`` is
what follows ``=``, or ``""``)."""


def register_extractor(name: str, build, *, description: str = "", needs_arg: bool = False) -> ExtractorEntry:
    """Adds a content extractor: ``msrgan train --content NAME[=ARG]`` then builds it with
    ``build(arg, channels=..., layers=...)``; ``needs_arg``: ``NAME`` alone is a usage error."""
    return EXTRACTORS.register(name, ExtractorEntry(build, needs_arg), description=description)


def load_extractor(spec: str, *, channels: int, layers: Sequence[str] | None = None) -> FeatureExtractor:
    """Builds a content-loss extractor from a command-line style spec ``NAME[=ARG]`` (see ``EXTRACTORS``).

    ``"minivgg19=PATH_OR_REPO"`` loads a trained MiniVGG19 (pretrained folder or Hub id) and taps
    ``layers`` (default ``("block5",)``); ``"vgg19-imagenet"`` uses ImageNet weights,
    ``"vgg19-imagenet=WEIGHTS"`` a local weights file and ``"vgg19-imagenet=none"`` random
    weights (default layers ``("block5_conv4",)``).
    """
    kind, _, arg = str(spec).partition("=")
    if kind not in EXTRACTORS:
        raise ValueError(f"Unknown content extractor {spec!r}; use one of: "
                         + ", ".join(f"{n} ({EXTRACTORS.describe(n)})" for n in EXTRACTORS))
    return EXTRACTORS[kind].build(arg, channels=channels, layers=layers)


def _minivgg19(arg: str, *, channels: int, layers) -> FeatureExtractor:
    if not arg:
        raise ValueError("--content minivgg19 needs a trained model: minivgg19=PATH_OR_REPO")
    backbone = MiniVGG19.from_pretrained(arg)
    if backbone.channels != channels:
        raise ValueError(f"the miniVGG19 at {arg} takes {backbone.channels} channel(s), the generator {channels}")
    return MiniVGG19Features(backbone, layers=layers or ("block5",))


def _vgg19_imagenet(arg: str, *, channels: int, layers) -> FeatureExtractor:
    weights = None if arg.lower() == "none" else (arg or "imagenet")
    if weights not in (None, "imagenet"):
        if not Path(weights).is_file():
            raise FileNotFoundError(f"--content vgg19-imagenet={weights}: no such weights file")
        try:
            return ImageNetVGG19Features(layers=layers or ("block5_conv4",), weights=weights, channels=channels)
        except Exception as exc:  # h5py and Keras raise assorted types on a file that is not VGG19 weights
            raise ValueError(f"--content vgg19-imagenet={weights}: not a VGG19 (no top) Keras weights file "
                             f"({type(exc).__name__}: {exc})") from None
    try:
        return ImageNetVGG19Features(layers=layers or ("block5_conv4",), weights=weights, channels=channels)
    except Exception as exc:  # Keras's download raises a bare Exception("URL fetch failure ...")
        if weights != "imagenet" or not ("URL fetch failure" in str(exc) or isinstance(exc, OSError)):
            raise
        raise FileNotFoundError(
            f"--content vgg19-imagenet: the ImageNet VGG19 weights are not in the Keras cache "
            f"($KERAS_HOME or ~/.keras, models/{VGG19_NOTOP_FILE}) and cannot be downloaded ({exc}). "
            "On a machine with network, `python -c \"import keras; "
            "keras.applications.VGG19(include_top=False)\"` caches it; "
            f"or download {VGG19_NOTOP_URL} and pass --content vgg19-imagenet=PATH"
        ) from None


register_extractor("minivgg19", _minivgg19, needs_arg=True,
                   description="minivgg19=PATH_OR_REPO, a trained miniVGG19 (block5 by default)")
register_extractor("vgg19-imagenet", _vgg19_imagenet,
                   description="vgg19-imagenet[=WEIGHTS|none], keras.applications VGG19 (VGG54 by default)")
