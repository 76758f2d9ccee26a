"""The mSRGAN losses, written once in ``keras.ops`` (TensorFlow, PyTorch and JAX alike).

- ``pixel_mse``: mean squared error over every pixel and channel (the SRResNet loss).
- ``feature_distance`` / ``ContentLoss``: the content (perceptual) loss, a per-layer weighted mean
  L2 or L1 distance between the feature maps of a frozen extractor (miniVGG19 taps or ImageNet
  VGG19 layers, see ``msrgan.models.extractors``) of the super-resolved and the real image.
- ``discriminator_loss`` / ``generator_adversarial_loss``: the adversarial pair for ``vanilla``
  (binary cross-entropy on logits; the generator's non-saturating form), ``lsgan`` (least squares
  on the logits, the seed's form) and ``hinge``.
- ``generator_loss``: ``alpha * mse + beta * content + gamma * adversarial``.

Every loss here is a *mean*, so its value does not depend on the batch or patch size. The mSRGAN
seed summed its L2 terms instead; ``LossWeights.from_seed`` turns the seed's weights for sums into
weights for means (see its docstring and ``docs/training.md``).

Example:
    >>> import numpy as np
    >>> a, b = np.zeros((2, 8, 8, 1), "float32"), np.full((2, 8, 8, 1), 0.5, "float32")
    >>> float(pixel_mse(a, b))
    0.25
    >>> float(discriminator_loss(np.ones((2, 1)), -np.ones((2, 1)), "hinge"))
    0.0
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable, Sequence

from keras import ops

from zoo.extensions import Registry

ADVERSARIAL = Registry("adversarial loss")
"""Adversarial losses, name -> ``AdversarialLoss`` (the discriminator's and the generator's terms)."""
CRITERIA: tuple[str, ...] = ("l2", "l1")

# The seed's weights, for SUMMED L2 terms (and the adversarial term per image).
SEED_SUM_WEIGHTS = {"mse": 0.4, "content": 0.8, "adversarial": 1e-5}


def _f32(x):
    x = ops.convert_to_tensor(x)
    return x if x.dtype == "float32" else ops.cast(x, "float32")


@dataclasses.dataclass(frozen=True)
class AdversarialLoss:
    """One adversarial loss: ``discriminator(real_logits, fake_logits)`` and ``generator(fake_logits)``,
    each a scalar in ``keras.ops`` on float32 logits."""

    discriminator: Callable
    generator: Callable


def register_adversarial(name: str, discriminator: Callable, generator: Callable, *,
                         description: str = "") -> AdversarialLoss:
    """Adds an adversarial loss; ``msrgan train --adversarial NAME`` and ``MSRGAN(adversarial=)`` then take it."""
    return ADVERSARIAL.register(name, AdversarialLoss(discriminator, generator), description=description)


def check_adversarial(kind: str) -> str:
    """Returns ``kind`` if it names an adversarial loss, else raises a ValueError listing them."""
    if kind not in ADVERSARIAL:
        raise ValueError(f"adversarial loss must be one of {tuple(ADVERSARIAL)}, got {kind!r}")
    return kind


def pixel_mse(y_true, y_pred):
    """Mean squared error over all elements (computed in float32).

    Args:
        y_true: Real high-resolution images ``(B, H, W, C)``.
        y_pred: Super-resolved images of the same shape.

    Returns:
        A scalar tensor.

    Example:
        >>> import numpy as np
        >>> float(pixel_mse(np.zeros((1, 2, 2, 1)), np.ones((1, 2, 2, 1))))
        1.0
    """
    return ops.mean(ops.square(_f32(y_pred) - _f32(y_true)))


def psnr(y_true, y_pred, max_val: float = 1.0):
    """Mean over the batch of the per-image PSNR in dB, predictions clipped to [0, ``max_val``].

    This is the training-time metric (float32, no border crop). Reported evaluations use
    ``msrgan.metrics`` (float64, ``scale``-pixel border crop).

    Args:
        y_true: Real images ``(B, H, W, C)`` in [0, ``max_val``].
        y_pred: Predicted images of the same shape.
        max_val: Peak signal value.

    Returns:
        A scalar tensor.
    """
    y_true, y_pred = _f32(y_true), ops.clip(_f32(y_pred), 0.0, max_val)
    mse = ops.mean(ops.square(y_pred - y_true), axis=(1, 2, 3))
    return ops.mean(10.0 * ops.log(max_val**2 / ops.maximum(mse, 1e-10)) / math.log(10.0))


def feature_distance(features_pred: Sequence, features_true: Sequence, layer_weights: Sequence[float] | None = None,
                     criterion: str = "l2"):
    """Weighted sum over layers of the mean distance between two lists of feature maps.

    ``sum_k w_k * mean(|f_k(pred) - f_k(true)| ** p)`` with ``p = 2`` (``"l2"``) or ``p = 1``
    (``"l1"``). The true features are treated as constants (no gradient flows into them).

    Args:
        features_pred: Feature maps of the super-resolved images, one per layer.
        features_true: Feature maps of the real images, same shapes.
        layer_weights: One weight per layer (default 1.0 each).
        criterion: ``"l2"`` or ``"l1"``.

    Returns:
        A scalar tensor.

    Example:
        >>> import numpy as np
        >>> float(feature_distance([np.ones((1, 2, 2, 4))], [np.zeros((1, 2, 2, 4))], criterion="l1"))
        1.0
    """
    if criterion not in CRITERIA:
        raise ValueError(f"criterion must be one of {CRITERIA}, got {criterion!r}")
    features_pred, features_true = list(features_pred), list(features_true)
    if len(features_pred) != len(features_true) or not features_pred:
        raise ValueError(f"feature lists must be non-empty and of equal length, got {len(features_pred)} "
                         f"and {len(features_true)}")
    if layer_weights is None:
        layer_weights = [1.0] * len(features_pred)
    if len(layer_weights) != len(features_pred):
        raise ValueError(f"layer_weights has {len(layer_weights)} value(s) for {len(features_pred)} feature layer(s)")
    total = 0.0
    for w, a, b in zip(layer_weights, features_pred, features_true):
        diff = _f32(a) - ops.stop_gradient(_f32(b))
        d = ops.square(diff) if criterion == "l2" else ops.abs(diff)
        total = total + float(w) * ops.mean(d)
    return total


class ContentLoss:
    """The content loss of a frozen extractor: ``feature_distance(extractor(sr), extractor(hr))``.

    Args:
        extractor: A ``msrgan.models.FeatureExtractor`` (images in [0, 1] -> list of feature maps).
        layer_weights: One weight per extractor layer (default 1.0 each).
        criterion: ``"l2"`` or ``"l1"``.

    Example:
        >>> import numpy as np
        >>> from msrgan.models import MiniVGG19, MiniVGG19Features
        >>> loss = ContentLoss(MiniVGG19Features(MiniVGG19(channels=1, width=0.125)))
        >>> x = np.zeros((1, 32, 32, 1), "float32")
        >>> float(loss(x, x))
        0.0
    """

    def __init__(self, extractor, layer_weights: Sequence[float] | None = None, criterion: str = "l2"):
        if criterion not in CRITERIA:
            raise ValueError(f"criterion must be one of {CRITERIA}, got {criterion!r}")
        n = len(extractor.layer_names)
        if layer_weights is not None and len(layer_weights) != n:
            raise ValueError(f"layer_weights has {len(layer_weights)} value(s) but the extractor has {n} layer(s) "
                             f"{list(extractor.layer_names)}")
        self.extractor = extractor
        self.layer_weights = [1.0] * n if layer_weights is None else [float(w) for w in layer_weights]
        self.criterion = criterion

    def __call__(self, y_true, y_pred):
        fp = self.extractor(y_pred, training=False)
        ft = self.extractor(ops.stop_gradient(ops.convert_to_tensor(y_true)), training=False)
        return feature_distance(fp, ft, self.layer_weights, self.criterion)


def discriminator_loss(real_logits, fake_logits, kind: str = "lsgan"):
    """The discriminator's loss on logits of real and generated images (sum of both halves).

    - ``vanilla``: ``BCE(real, 1) + BCE(fake, 0)`` on logits (numerically stable form);
    - ``lsgan``: ``mean((real - 1)^2) + mean(fake^2)`` (least squares, targets 1 and 0);
    - ``hinge``: ``mean(relu(1 - real)) + mean(relu(1 + fake))``.

    Args:
        real_logits: Discriminator outputs on real images, ``(B, 1)``.
        fake_logits: Discriminator outputs on generated images, ``(B, 1)``.
        kind: A name in ``ADVERSARIAL``.

    Returns:
        A scalar tensor.
    """
    return ADVERSARIAL[check_adversarial(kind)].discriminator(_f32(real_logits), _f32(fake_logits))


def generator_adversarial_loss(fake_logits, kind: str = "lsgan"):
    """The generator's adversarial loss on the discriminator's logits of generated images.

    - ``vanilla``: ``BCE(fake, 1)`` (the non-saturating ``-log D(G(x))``);
    - ``lsgan``: ``mean((fake - 1)^2)``;
    - ``hinge``: ``-mean(fake)``.

    Args:
        fake_logits: Discriminator outputs on generated images, ``(B, 1)``.
        kind: A name in ``ADVERSARIAL``.

    Returns:
        A scalar tensor.
    """
    return ADVERSARIAL[check_adversarial(kind)].generator(_f32(fake_logits))


def _bce_logits(logits, target: float):
    # mean(max(z, 0) - z * t + log(1 + exp(-|z|))): binary cross-entropy on logits without overflow.
    return ops.mean(ops.relu(logits) - logits * target + ops.log1p(ops.exp(-ops.abs(logits))))


register_adversarial("vanilla", lambda real, fake: _bce_logits(real, 1.0) + _bce_logits(fake, 0.0),
                     lambda fake: _bce_logits(fake, 1.0),
                     description="binary cross-entropy on logits; the generator's non-saturating form")
register_adversarial("lsgan", lambda real, fake: ops.mean(ops.square(real - 1.0)) + ops.mean(ops.square(fake)),
                     lambda fake: ops.mean(ops.square(fake - 1.0)), description="least squares, targets 1 and 0")
register_adversarial("hinge", lambda real, fake: ops.mean(ops.relu(1.0 - real)) + ops.mean(ops.relu(1.0 + fake)),
                     lambda fake: -ops.mean(fake), description="hinge loss")
ADVERSARIAL_LOSSES: tuple[str, ...] = tuple(ADVERSARIAL)
"""The built-in adversarial losses' names (``tuple(ADVERSARIAL)`` includes any registered later)."""


def generator_loss(mse, content, adversarial, *, alpha: float = 1.0, beta: float = 1.0 / 3.0,
                   gamma: float = 9.04e-10):
    """The mSRGAN generator loss ``alpha * mse + beta * content + gamma * adversarial``.

    A weight of 0 drops its term even when the term is not finite. Defaults: ``LossWeights()``.

    Example:
        >>> float(generator_loss(1.0, 3.0, 0.0, alpha=1.0, beta=1.0, gamma=0.0))
        4.0
    """
    total = 0.0
    for w, term in ((alpha, mse), (beta, content), (gamma, adversarial)):
        if w:
            total = total + float(w) * _f32(term)
    return total


@dataclasses.dataclass(frozen=True)
class LossWeights:
    """The weights ``alpha`` (pixel MSE), ``beta`` (content) and ``gamma`` (adversarial), for means.

    The defaults are the seed's weights (0.4, 0.8, 1e-5 for summed L2 terms) translated to means
    for the default configuration: 96x96 high-resolution patches with 3 channels (27648 pixel
    values per image) and the miniVGG19 ``block5`` tap at width 0.25 (6 x 6 x 128 = 4608 feature
    values per image). See ``from_seed``.
    """

    alpha: float = 1.0
    beta: float = 1.0 / 3.0
    gamma: float = 9.04e-10

    @classmethod
    def from_seed(cls, pixel_values: int, feature_values: int, *, mse: float = SEED_SUM_WEIGHTS["mse"],
                  content: float = SEED_SUM_WEIGHTS["content"],
                  adversarial: float = SEED_SUM_WEIGHTS["adversarial"]) -> "LossWeights":
        """Mean-based weights equivalent to the seed's weights on sums, normalized to ``alpha = 1``.

        A sum over a patch is the mean times the number of summed elements, so the seed's
        per-image loss ``mse * N_pix * MSE + content * N_feat * CONTENT + adversarial * ADV`` is
        ``mse * N_pix`` times ``MSE + beta * CONTENT + gamma * ADV`` with
        ``beta = content * N_feat / (mse * N_pix)`` and ``gamma = adversarial / (mse * N_pix)``
        (one adversarial value per image). Dividing the whole loss by a constant only rescales
        the learning rate, which Adam undoes.

        Args:
            pixel_values: Values per high-resolution patch, ``H * W * C``.
            feature_values: Feature values per patch summed over the content layers, ``h * w * c``.
            mse, content, adversarial: The weights used on sums.

        Example:
            >>> w = LossWeights.from_seed(96 * 96 * 3, 6 * 6 * 128)
            >>> round(w.beta, 4), f"{w.gamma:.3g}"
            (0.3333, '9.04e-10')
        """
        if pixel_values <= 0 or feature_values <= 0:
            raise ValueError(f"pixel_values and feature_values must be positive, got {pixel_values}, {feature_values}")
        scale = mse * pixel_values
        return cls(alpha=1.0, beta=content * feature_values / scale, gamma=adversarial / scale)
