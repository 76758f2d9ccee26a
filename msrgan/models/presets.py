"""The msrgan entries of the zoo registry. Adding a model is one ``zoo.register`` call here."""

from __future__ import annotations

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
