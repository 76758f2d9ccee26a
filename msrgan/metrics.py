"""Image-quality and segmentation metrics, with their conventions written in the signatures.

Conventions (BasicSR style, stated again in every table ``msrgan evaluate`` writes):

- Images are compared on the [0, 1] range: float images as given, 8/16-bit images divided by
  255 / 65535 (``msrgan.data.normalize.to_unit_range``). ``data_range`` is therefore 1.
- ``crop_border`` pixels are removed on every side of both images before scoring; for
  super-resolution it is the scale factor (BasicSR's ``crop_border=scale``), because the
  border of an upscaled image depends on how each method pads.
- PSNR is computed in float64 over all pixels and channels together:
  ``10 * log10(data_range**2 / MSE)``; identical images give ``inf``.
- SSIM is scikit-image's ``structural_similarity(data_range=1, channel_axis=-1)`` (7x7 uniform
  window, K1=0.01, K2=0.03), computed per channel and averaged over the channels.
- Dice and IoU compare binary masks (foreground = nonzero); two empty masks score 1.
- Nuclei are segmented with Otsu's threshold plus a distance-transform watershed
  (``segment_nuclei``), the thesis's segmentation proof of concept.

Example:
    >>> import numpy as np
    >>> hr = np.zeros((32, 32, 3)); sr = hr + 0.1
    >>> round(psnr(sr, hr, crop_border=4), 6)
    20.0
"""

from __future__ import annotations

import numpy as np

__all__ = ["count_nuclei", "dice", "iou", "psnr", "segment_nuclei", "ssim"]


def _as_unit_float(x, name: str) -> np.ndarray:
    x = np.asarray(x)
    if x.dtype == np.bool_:
        raise ValueError(f"{name} is a boolean mask; PSNR/SSIM compare intensity images")
    if np.issubdtype(x.dtype, np.integer):
        if x.dtype not in (np.uint8, np.uint16):
            raise ValueError(f"{name} has dtype {x.dtype}; use uint8, uint16 or a float image in [0, 1]")
        return x.astype(np.float64) / float(np.iinfo(x.dtype).max)
    if not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"{name} has dtype {x.dtype}; use uint8, uint16 or a float image in [0, 1]")
    x = x.astype(np.float64)
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return x


def _prepare_pair(sr, hr, crop_border: int) -> tuple[np.ndarray, np.ndarray]:
    sr = _as_unit_float(sr, "sr")
    hr = _as_unit_float(hr, "hr")
    if sr.shape != hr.shape:
        raise ValueError(f"sr has shape {sr.shape} but hr has shape {hr.shape}; they must match")
    if sr.ndim not in (2, 3):
        raise ValueError(f"images must be (H, W) or (H, W, C), got shape {sr.shape}")
    if isinstance(crop_border, bool) or int(crop_border) != crop_border or crop_border < 0:
        raise ValueError(f"crop_border must be a non-negative integer, got {crop_border!r}")
    c = int(crop_border)
    if c:
        if 2 * c >= min(sr.shape[:2]):
            raise ValueError(f"crop_border={c} leaves nothing of images of shape {sr.shape}")
        sr = sr[c:-c, c:-c]
        hr = hr[c:-c, c:-c]
    return sr, hr


def psnr(sr, hr, *, crop_border: int, data_range: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB, float64, on the [0, 1] range (BasicSR convention).

    Args:
        sr: Estimated image, ``(H, W)`` or ``(H, W, C)``; float in [0, 1], or uint8/uint16
            (divided by the dtype's maximum).
        hr: Reference image of the same shape.
        crop_border: Pixels removed on each side before scoring (the scale factor for SR).
        data_range: Peak value of the range (1 for images in [0, 1]).

    Returns:
        ``10 * log10(data_range**2 / MSE)`` over all remaining pixels and channels; ``inf``
        when the images are identical.

    Example:
        >>> import numpy as np
        >>> psnr(np.full((8, 8), 0.5), np.full((8, 8), 0.6), crop_border=0)  # doctest: +ELLIPSIS
        20.0...
    """
    sr, hr = _prepare_pair(sr, hr, crop_border)
    mse = float(np.mean((sr - hr) ** 2))
    if mse == 0.0:
        return float("inf")
    return float(10.0 * np.log10(float(data_range) ** 2 / mse))


def ssim(sr, hr, *, crop_border: int, data_range: float = 1.0) -> float:
    """Structural similarity, scikit-image's ``structural_similarity`` averaged over channels.

    Args:
        sr: Estimated image, ``(H, W)`` or ``(H, W, C)`` (same input rules as ``psnr``).
        hr: Reference image of the same shape.
        crop_border: Pixels removed on each side before scoring (the scale factor for SR).
        data_range: Passed to scikit-image (1 for images in [0, 1]).

    Returns:
        The mean SSIM (float64): ``structural_similarity(sr, hr, data_range=data_range,
        channel_axis=-1)`` for ``(H, W, C)`` images (the mean of the per-channel SSIMs), and
        ``channel_axis=None`` for ``(H, W)``.

    Example:
        >>> import numpy as np
        >>> x = np.random.default_rng(0).random((16, 16, 3))
        >>> ssim(x, x, crop_border=2)
        1.0
    """
    from skimage.metrics import structural_similarity

    sr, hr = _prepare_pair(sr, hr, crop_border)
    if min(sr.shape[:2]) < 7:
        raise ValueError(f"SSIM needs at least 7x7 pixels after cropping, got {sr.shape[:2]}")
    channel_axis = -1 if sr.ndim == 3 else None
    return float(structural_similarity(sr, hr, data_range=float(data_range), channel_axis=channel_axis))


def _as_mask(m, name: str) -> np.ndarray:
    m = np.asarray(m)
    if m.ndim != 2:
        raise ValueError(f"{name} must be a 2-D mask, got shape {m.shape}")
    return m != 0


def dice(a, b) -> float:
    """Dice coefficient ``2|A∩B| / (|A| + |B|)`` of two binary masks (nonzero = foreground).

    Two empty masks score 1.0 (they agree perfectly).

    Example:
        >>> import numpy as np
        >>> a = np.zeros((4, 4), bool); a[:2] = True
        >>> b = np.zeros((4, 4), bool); b[:, :2] = True
        >>> dice(a, b)
        0.5
    """
    a, b = _as_mask(a, "a"), _as_mask(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"masks differ in shape: {a.shape} and {b.shape}")
    total = int(a.sum()) + int(b.sum())
    return 1.0 if total == 0 else 2.0 * int(np.logical_and(a, b).sum()) / total


def iou(a, b) -> float:
    """Intersection over union (Jaccard index) of two binary masks; two empty masks score 1.0.

    Example:
        >>> import numpy as np
        >>> a = np.zeros((4, 4), bool); a[:2] = True
        >>> b = np.zeros((4, 4), bool); b[:, :2] = True
        >>> round(iou(a, b), 4)
        0.3333
    """
    a, b = _as_mask(a, "a"), _as_mask(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"masks differ in shape: {a.shape} and {b.shape}")
    union = int(np.logical_or(a, b).sum())
    return 1.0 if union == 0 else int(np.logical_and(a, b).sum()) / union


def segment_nuclei(channel, *, sigma: float = 1.0, min_distance: int = 5, min_size: int = 16) -> np.ndarray:
    """Labels nuclei in one nucleus (DAPI) channel: Otsu threshold plus distance-transform watershed.

    Steps (scikit-image / SciPy): Gaussian smoothing (``sigma`` pixels); Otsu's threshold on the
    smoothed image; removal of objects smaller than ``min_size`` pixels and filling of holes;
    Euclidean distance transform of the mask; one marker per local maximum of the distance at
    least ``min_distance`` pixels apart (``peak_local_max`` within each connected component);
    watershed of the negated distance inside the mask. Touching nuclei are split at their necks.

    Args:
        channel: ``(H, W)`` nucleus channel, any real dtype (the threshold adapts to the image).
        sigma: Gaussian smoothing before thresholding, in pixels (0 disables it).
        min_distance: Smallest distance between two nucleus centres, in pixels.
        min_size: Objects with fewer pixels are discarded as noise.

    Returns:
        ``(H, W)`` int32 label image: 0 background, 1..N one label per nucleus.

    Example:
        >>> import numpy as np
        >>> yy, xx = np.mgrid[:64, :64]
        >>> img = ((yy - 20) ** 2 + (xx - 20) ** 2 < 64) | ((yy - 44) ** 2 + (xx - 44) ** 2 < 64)
        >>> count_nuclei(segment_nuclei(img.astype(float)))
        2
    """
    from scipy import ndimage as ndi
    from skimage.feature import peak_local_max
    from skimage.filters import gaussian, threshold_otsu
    from skimage.segmentation import watershed

    x = np.asarray(channel)
    if x.ndim != 2:
        raise ValueError(f"segment_nuclei takes one (H, W) channel, got shape {x.shape}")
    x = x.astype(np.float64)
    if not np.all(np.isfinite(x)):
        raise ValueError("the nucleus channel contains NaN or infinite values")
    if sigma > 0:
        x = gaussian(x, sigma=sigma, preserve_range=True)
    if float(x.max()) <= float(x.min()):
        return np.zeros(x.shape, np.int32)
    mask = x > threshold_otsu(x)
    mask = ndi.binary_fill_holes(mask)
    comp, n = ndi.label(mask)
    if n == 0:
        return np.zeros(x.shape, np.int32)
    sizes = np.bincount(comp.ravel())
    keep = sizes >= int(min_size)
    keep[0] = False
    mask = keep[comp]
    if not mask.any():
        return np.zeros(x.shape, np.int32)
    comp, _ = ndi.label(mask)
    distance = ndi.distance_transform_edt(mask)
    peaks = peak_local_max(distance, min_distance=max(1, int(min_distance)), labels=comp, exclude_border=False)
    markers = np.zeros(x.shape, np.int32)
    markers[tuple(peaks.T)] = np.arange(1, len(peaks) + 1, dtype=np.int32)
    # A component without any peak (a flat plateau) still gets one marker.
    missing = np.setdiff1d(np.unique(comp[comp > 0]), np.unique(comp[markers > 0]))
    next_label = len(peaks) + 1
    for lab in missing:
        ys, xs = np.nonzero(comp == lab)
        markers[ys[len(ys) // 2], xs[len(xs) // 2]] = next_label
        next_label += 1
    labels = watershed(-distance, markers, mask=mask)
    return labels.astype(np.int32)


def count_nuclei(labels) -> int:
    """Number of distinct nonzero labels in a label image (from ``segment_nuclei``)."""
    labels = np.asarray(labels)
    values = np.unique(labels)
    return int(np.count_nonzero(values))
