"""The msrgan model family: generators, discriminator, miniVGG19 and the content-loss extractors.

Every public module of this package is imported here, so a new architecture is one file that
defines its class (a ``msrgan.models.base.SRModel``) and calls ``zoo.register``: nothing else is
edited (see docs/architecture.md).
"""

import importlib as _importlib
import pkgutil as _pkgutil

from msrgan.models import presets as _presets  # noqa: F401  (registers the zoo entries)
from msrgan.models.discriminator import Discriminator
from msrgan.models.extractors import FeatureExtractor, ImageNetVGG19Features, MiniVGG19Features, load_extractor
from msrgan.models.generator import Generator
from msrgan.models.minivgg19 import LOCALIZATION_CLASSES, MiniVGG19

for _module in _pkgutil.iter_modules(__path__):  # the other architectures register themselves
    if not _module.name.startswith("_"):
        _importlib.import_module(f"{__name__}.{_module.name}")

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
