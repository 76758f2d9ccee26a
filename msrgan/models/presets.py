"""The msrgan entries of the zoo registry and the bundled presets.

Adding a model is one ``zoo.register`` call here. The presets (trained weights shipped with the
package) are data: ``msrgan/pretrained/presets.json`` maps each name to its zoo entry, channel
layout, kind, the sha256 of its weights, an optional Hub id and the command that trained it; the
weights sit beside it in ``msrgan/pretrained/<name>/`` (a zoo pretrained folder).
``scripts/bundle_preset.py`` writes both from a finished training run.
"""

from __future__ import annotations

import json
from pathlib import Path

import zoo
from msrgan.models.discriminator import Discriminator
from msrgan.models.extractors import ImageNetVGG19Features, MiniVGG19Features
from msrgan.models.generator import Generator
from msrgan.models.minivgg19 import MiniVGG19

zoo.register(
    "msrgan-x4", Generator,
    description="mSRGAN/SRResNet generator, paper configuration: 16 blocks, 64 filters, RGB merge, x4",
    tags=("microscopy", "super-resolution"),
    num_blocks=16, filters=64, channels=3, scale=4, batch_norm=True,
)
zoo.register(
    "msrgan-x4-small", Generator,
    description="CPU-friendly generator for the demo and tests: 4 blocks, 32 filters, RGB merge, x4",
    tags=("microscopy", "super-resolution"),
    num_blocks=4, filters=32, channels=3, scale=4, batch_norm=True,
)
zoo.register(
    "msrgan-x4-lite", Generator,
    description="the shipped presets' generator: 8 blocks, 48 filters, no BatchNorm, residual over bicubic, x4",
    tags=("microscopy", "super-resolution"),
    num_blocks=8, filters=48, channels=1, scale=4, batch_norm=False, residual="bicubic",
)
zoo.register(
    "discriminator", Discriminator,
    description="SRGAN discriminator, 64-512 filters, global pooling before the 1024-unit head",
    tags=("microscopy", "gan"),
    channels=3, filters=64, dense_units=1024, batch_norm=True,
)
zoo.register(
    "minivgg19", MiniVGG19,
    description="miniVGG19 microscopy classifier (13 protein-localization classes), quarter VGG19 width",
    tags=("microscopy", "classification", "feature-extractor"),
    num_classes=13, channels=3, width=0.25, dropout=0.3,
)
zoo.register(
    "minivgg19-features", MiniVGG19Features,
    description="Frozen miniVGG19 feature taps for the content loss (block5 by default)",
    tags=("microscopy", "feature-extractor"),
    layers=("block5",),
)
zoo.register(
    "vgg19-imagenet", ImageNetVGG19Features,
    description="Frozen keras.applications VGG19 features (ImageNet; VGG54 by default) for the content loss",
    tags=("feature-extractor",),
    layers=("block5_conv4",), weights="imagenet", channels=3,
)


PRETRAINED_DIR = Path(__file__).resolve().parent.parent / "pretrained"
PRESETS_FILE = PRETRAINED_DIR / "presets.json"


def _register_presets() -> None:
    if not PRESETS_FILE.is_file():
        return
    for name, entry in json.loads(PRESETS_FILE.read_text()).items():
        entry = dict(entry)
        zoo.register_preset(name, PRETRAINED_DIR / name, sha256=entry.pop("sha256"), model=entry.pop("model"),
                            description=entry.pop("description", ""), hub_id=entry.pop("hub_id", None),
                            command=entry.pop("command", ""), **entry)


_register_presets()
