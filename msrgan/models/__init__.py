"""The msrgan model family: generator, discriminator, miniVGG19 and the content-loss extractors."""

from msrgan.models import presets as _presets  # noqa: F401  (registers the zoo entries)
from msrgan.models.discriminator import Discriminator
from msrgan.models.extractors import FeatureExtractor, ImageNetVGG19Features, MiniVGG19Features, load_extractor
from msrgan.models.generator import Generator
from msrgan.models.minivgg19 import LOCALIZATION_CLASSES, MiniVGG19

__all__ = [
    "Discriminator",
    "FeatureExtractor",
    "Generator",
    "ImageNetVGG19Features",
    "LOCALIZATION_CLASSES",
    "MiniVGG19",
    "MiniVGG19Features",
    "load_extractor",
]
