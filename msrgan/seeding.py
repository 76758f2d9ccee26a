"""Seeding every random source a run uses, without importing TensorFlow for nothing.

``keras.utils.set_random_seed`` also seeds TensorFlow whenever it is installed, for ``tf.data``
pipelines, so on the PyTorch and JAX backends it imports TensorFlow: several seconds, a few hundred
MB of memory and TensorFlow's start-up lines on stderr in every ``msrgan train``. msrgan feeds
PyTorch and JAX without ``tf.data``, so :func:`set_random_seed` seeds TensorFlow only when it is
the backend or already imported.
"""

from __future__ import annotations

import sys

import keras


def set_random_seed(seed: int) -> None:
    """``keras.utils.set_random_seed(seed)`` (Python, NumPy, the backend, Keras's global seed
    generator), seeding TensorFlow only when it is the backend or already imported.

    Example:
        >>> set_random_seed(7)
        >>> import numpy as np; a = np.random.rand(); set_random_seed(7); bool(a == np.random.rand())
        True
    """
    lazy = _tensorflow_lazy_module()
    if (lazy is None or keras.backend.backend() == "tensorflow" or "tensorflow" in sys.modules
            or vars(lazy).get("_available", True) is not None):
        keras.utils.set_random_seed(seed)
        return
    lazy._available = False  # Keras then skips tf.random.set_seed (and the import) for this call
    try:
        keras.utils.set_random_seed(seed)
    finally:
        lazy._available = None  # asked again, and imported, if something later needs TensorFlow


def _tensorflow_lazy_module():
    """Keras's lazy ``tensorflow`` module handle, or None where this Keras has none."""
    try:
        from keras.src.utils import module_utils
    except ImportError:
        return None
    lazy = getattr(module_utils, "tensorflow", None)
    lazy_type = getattr(module_utils, "LazyModule", None)
    return lazy if lazy_type is not None and isinstance(lazy, lazy_type) else None  # (hasattr would import it)


__all__ = ["set_random_seed"]
