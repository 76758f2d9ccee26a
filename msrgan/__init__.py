"""msrgan: deep-learning super-resolution for fluorescence microscopy (Keras 3, any backend).

Example:
    >>> import zoo, msrgan
    >>> g = zoo.create("msrgan-x4-small")
"""

__version__ = "0.1.0"

from msrgan.models import (  # noqa: E402
    Discriminator,
    Generator,
    ImageNetVGG19Features,
    MiniVGG19,
    MiniVGG19Features,
)

__all__ = ["Discriminator", "Generator", "ImageNetVGG19Features", "MiniVGG19", "MiniVGG19Features", "__version__"]
