"""msrgan: deep-learning super-resolution for fluorescence microscopy (Keras 3, any backend).

The public names below are imported on first use, so ``import msrgan`` (and every ``msrgan``
command's start-up) does not pay for importing Keras and a backend until a model is needed.

Example:
    >>> import zoo, msrgan
    >>> g = zoo.create("msrgan-x4-small")
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

_LAZY = {
    "Discriminator": "msrgan.models",
    "Generator": "msrgan.models",
    "ImageNetVGG19Features": "msrgan.models",
    "MiniVGG19": "msrgan.models",
    "MiniVGG19Features": "msrgan.models",
    "upscale": "msrgan.inference",
}

__all__ = [*_LAZY, "__version__"]


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'msrgan' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
