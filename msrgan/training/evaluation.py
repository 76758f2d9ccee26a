"""Validation measures used while training: PSNR and SSIM against the bicubic baseline.

Conventions (those of ``msrgan.metrics``, stated in every table): images in [0, 1], predictions
clipped to [0, 1], a ``scale``-pixel border cropped on every side, PSNR computed in float64 per
image and averaged over images, SSIM as scikit-image's ``structural_similarity`` with
``data_range=1`` (7x7 uniform window, channels averaged). The bicubic baseline is
``msrgan.evaluate.upsample(..., "bicubic")`` (Pillow, Keys a = -0.5, float32), the same on every
backend.

Example:
    >>> import numpy as np
    >>> hr = np.full((1, 16, 16, 1), 0.5, "float32")
    >>> round(psnr(hr + 0.1, hr, crop=2), 1)
    20.0
"""

from __future__ import annotations

import numpy as np

PSNR_CONVENTION = "PSNR (dB) in float64 on [0, 1], predictions clipped, border of `scale` px cropped"
SSIM_CONVENTION = "SSIM as skimage.metrics.structural_similarity(data_range=1), same crop"


def _pairs(pred, true, name="images"):
    pred, true = np.asarray(pred), np.asarray(true)
    if pred.ndim == 3:
        pred, true = pred[None], true[None]
    if pred.shape != true.shape or pred.ndim != 4:
        raise ValueError(f"{name}: predictions {pred.shape} and references {true.shape} must be equal (N, H, W, C) shapes")
    return np.clip(pred.astype(np.float64), 0.0, 1.0), true.astype(np.float64)


def psnr(pred, true, *, crop: int = 0) -> float:
    """Mean over images of ``msrgan.metrics.psnr`` (float64), ``pred`` clipped to [0, 1].

    Args:
        pred: Predictions ``(N, H, W, C)`` or ``(H, W, C)``.
        true: References of the same shape, in [0, 1].
        crop: Border pixels removed on each side (the scale factor, by convention).

    Returns:
        The mean PSNR in dB (an identical pair counts as 100 dB, not infinity).
    """
    from msrgan import metrics

    pred, true = _pairs(pred, true)
    return float(np.mean([min(metrics.psnr(p, t, crop_border=crop), 100.0) for p, t in zip(pred, true)]))


def ssim(pred, true, *, crop: int = 0) -> float:
    """Mean over images of ``msrgan.metrics.ssim`` (scikit-image, ``data_range=1``), ``pred`` clipped."""
    from msrgan import metrics

    pred, true = _pairs(pred, true)
    return float(np.mean([metrics.ssim(p, t, crop_border=crop) for p, t in zip(pred, true)]))


def bicubic_upscale(lr, scale: int) -> np.ndarray:
    """Bicubic upsampling by ``scale`` (``msrgan.evaluate.upsample``: Pillow, a = -0.5, float32).

    Args:
        lr: ``(N, h, w, C)`` or ``(h, w, C)`` float images.
        scale: Upscaling factor.

    Example:
        >>> bicubic_upscale(np.zeros((4, 5, 3), "float32"), 2).shape
        (8, 10, 3)
    """
    from msrgan.evaluate import upsample

    lr = np.asarray(lr, dtype=np.float32)
    if lr.ndim == 3:
        return upsample(lr, scale, "bicubic").astype(np.float32)
    if lr.ndim != 4:
        raise ValueError(f"lr must be (h, w, C) or (N, h, w, C), got shape {lr.shape}")
    return np.stack([upsample(x, scale, "bicubic") for x in lr]).astype(np.float32)


def super_resolve(generator, lr, *, batch_size: int = 8) -> np.ndarray:
    """Runs ``generator`` (inference mode) over ``lr`` in batches; returns float32 NumPy."""
    from keras import ops

    lr = np.asarray(lr, np.float32)
    outs = [ops.convert_to_numpy(generator(lr[i:i + batch_size], training=False)) for i in range(0, len(lr), batch_size)]
    return np.concatenate(outs).astype(np.float32)


def evaluate_generator(generator, lr, hr, *, scale: int, batch_size: int = 8) -> dict:
    """PSNR/SSIM of ``generator`` and of bicubic upsampling on ``(lr, hr)`` pairs.

    Returns:
        ``{"msrgan": {"psnr", "ssim"}, "bicubic": {"psnr", "ssim"}, "images": N, "convention": ...}``.
    """
    hr = np.asarray(hr, np.float32)
    sr = super_resolve(generator, lr, batch_size=batch_size)
    bic = bicubic_upscale(lr, scale)
    if sr.shape != hr.shape:
        raise ValueError(f"the generator's output {sr.shape} does not match the references {hr.shape}")
    return {
        "msrgan": {"psnr": psnr(sr, hr, crop=scale), "ssim": ssim(sr, hr, crop=scale)},
        "bicubic": {"psnr": psnr(bic, hr, crop=scale), "ssim": ssim(bic, hr, crop=scale)},
        "images": int(len(hr)),
        "convention": f"{PSNR_CONVENTION}; {SSIM_CONVENTION}",
    }
