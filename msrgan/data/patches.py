"""Training pairs on the fly: random HR crops, augmentation, LR by a degradation, as a Keras ``PyDataset``.

Each batch is computed in NumPy from ``(seed, epoch, index)`` alone, so it is identical on TensorFlow,
PyTorch and JAX, with one worker or many, threads or processes; ``on_epoch_end`` (called by ``fit``, or
by hand in a custom loop) moves to the next epoch's draws.

Per sample: pick an image (uniformly), a random ``patch_size`` crop, map it to [0, 1] (the
dataset's ``Normalizer`` fitted on the whole image, per-image percentiles by default, see
``normalization``), then with ``augment=True`` a random
horizontal/vertical flip and rot90, optional ``gamma`` and ``brightness`` jitter, and finally
``lr = degrade(hr, scale, degradation, **degradation_params)``.

Example:
    >>> import numpy as np
    >>> images = [np.random.default_rng(i).integers(0, 65535, (128, 128, 4), dtype=np.uint16) for i in range(3)]
    >>> ds = PatchDataset(images, patch_size=64, scale=4, batch_size=2, steps_per_epoch=5)
    >>> lr, hr = ds[0]
    >>> lr.shape, hr.shape, hr.dtype
    ((2, 16, 16, 4), (2, 64, 64, 4), dtype('float32'))
"""

from __future__ import annotations

from typing import Sequence

import keras
import numpy as np

from msrgan.convention import check_scale
from msrgan.data.degrade import degradation_params, degrade
from msrgan.data.lazy import as_image, is_lazy
from msrgan.data.normalize import DEFAULT_PMAX, DEFAULT_PMIN, NORMALIZATIONS, PercentileNormalizer, get_normalizer


class PatchDataset(keras.utils.PyDataset):
    """Random ``(lr, hr)`` training batches cut from a list of high-resolution images.

    Args:
        images: Sequence of HR arrays ``(H, W, C)`` (uint8, uint16 or float), all with the same ``C``
            and at least ``patch_size`` in both dimensions; an ``(N, H, W, C)`` array works too.
        patch_size: HR patch side in pixels, a multiple of ``scale``.
        scale: Super-resolution factor, 2, 4 or 8.
        batch_size: Patches per batch.
        degradation: ``"bicubic"`` or ``"microscope"`` (``msrgan.data.degrade``).
        degradation_params: Parameters of the degradation (``microscope``: ``sigma``, ``photons``,
            ``read_noise``, ``clip``).
        augment: Random flips and rot90 (the 8 symmetries of the square).
        brightness: ``None`` or ``b`` in (0, 1): multiply each HR patch by a factor drawn in ``[1-b, 1+b]``.
        gamma: ``None`` or ``g`` > 0: raise each HR patch to a power drawn log-uniformly in
            ``[exp(-g), exp(g)]``. Brightness and gamma results are clipped to [0, 1].
        normalization: How HR images reach [0, 1], a name of ``msrgan.data.normalize.NORMALIZATIONS``
            (fitted per image, the result clipped): ``"percentile"`` (per image and channel,
            ``pmin``/``pmax`` percentiles to 0/1; the microscopy convention), ``"unit"`` (dtype range:
            uint8 / 255, uint16 / 65535; floats as they are) or ``"none"`` (floats already in [0, 1]).
        pmin, pmax: Percentiles of the ``"percentile"`` normalization.
        steps_per_epoch: Batches per epoch (``len(ds)``).
        seed: Seed of all random draws.
        workers, use_multiprocessing, max_queue_size: Keras ``PyDataset`` parallelism (threads, or
            processes with ``use_multiprocessing=True``).

    ``ds[i]`` returns ``(lr, hr)``: float32 ``(B, p/s, p/s, C)`` and ``(B, p, p, C)``.
    """

    def __init__(
        self,
        images,
        *,
        patch_size: int = 96,
        scale: int = 4,
        batch_size: int = 16,
        degradation: str = "bicubic",
        degradation_params: dict | None = None,
        augment: bool = True,
        brightness: float | None = None,
        gamma: float | None = None,
        normalization: str = "percentile",
        pmin: float = DEFAULT_PMIN,
        pmax: float = DEFAULT_PMAX,
        steps_per_epoch: int = 100,
        seed: int = 0,
        workers: int = 1,
        use_multiprocessing: bool = False,
        max_queue_size: int = 10,
    ):
        super().__init__(workers=workers, use_multiprocessing=use_multiprocessing, max_queue_size=max_queue_size)
        self.scale = check_scale(scale)
        self.patch_size = _positive_int(patch_size, "patch_size")
        if self.patch_size % self.scale:
            raise ValueError(f"patch_size={patch_size} must be a multiple of scale={scale}")
        self.batch_size = _positive_int(batch_size, "batch_size")
        self.steps_per_epoch = _positive_int(steps_per_epoch, "steps_per_epoch")
        self.degradation = degradation
        self.degradation_params = dict(degradation_params or {})
        self.degradation_config = _resolved_degradation(degradation, self.scale, self.degradation_params)
        if brightness is not None and not 0 < float(brightness) < 1:
            raise ValueError(f"brightness must lie in (0, 1) or be None, got brightness={brightness!r}")
        if gamma is not None and not float(gamma) > 0:
            raise ValueError(f"gamma must be > 0 or None, got gamma={gamma!r}")
        if normalization not in NORMALIZATIONS:
            raise ValueError(f"normalization must be one of {tuple(NORMALIZATIONS)}, got normalization={normalization!r}")
        normalization = NORMALIZATIONS.canonical(normalization)
        self.augment = bool(augment)
        self.brightness = None if brightness is None else float(brightness)
        self.gamma = None if gamma is None else float(gamma)
        self.normalization = normalization
        self.seed = int(seed)
        self.epoch = 0

        self.images = list(images) if not isinstance(images, np.ndarray) or images.ndim != 3 else [images]
        if not self.images:
            raise ValueError("images is empty")
        self.channels = None
        for i, im in enumerate(self.images):
            im = as_image(im)  # a lazy image (msrgan.data.lazy) stays lazy: crops read their region
            self.images[i] = im
            if im.ndim != 3:
                raise ValueError(f"images[{i}] must be (H, W, C), got shape {im.shape}")
            if im.shape[0] < self.patch_size or im.shape[1] < self.patch_size:
                raise ValueError(f"images[{i}] of shape {im.shape} is smaller than patch_size={self.patch_size}")
            if self.channels is None:
                self.channels = im.shape[-1]
            elif im.shape[-1] != self.channels:
                raise ValueError(f"channel-count mismatch: images[{i}] has {im.shape[-1]} channel(s), "
                                 f"images[0] has {self.channels}")
        # One normalizer per image, fitted on the whole image (float32 arithmetic per crop); a lazy image's
        # percentiles are fitted on first use (a pass over its file), the same numbers.
        normalizer = (PercentileNormalizer(pmin, pmax, clip=True, compute_dtype="float32")
                      if normalization == "percentile" else get_normalizer(normalization, clip=True))
        self._normalizers = [normalizer if is_lazy(im) and normalization == "percentile"
                             else normalizer.fit(im, name=f"images[{i}]") for i, im in enumerate(self.images)]

    def __len__(self) -> int:
        return self.steps_per_epoch

    @property
    def num_batches(self) -> int:
        return self.steps_per_epoch

    def on_epoch_end(self) -> None:
        """Moves to the next epoch's draws (``fit`` calls it after every epoch).

        Keras (3.15, every backend) also takes one batch before the first epoch of ``fit`` to build
        the model and then calls ``on_epoch_end``, so ``fit(ds, epochs=n)`` on a fresh dataset trains on
        epochs ``1..n``: the same on every backend. Pass ``shuffle=False`` to ``fit``: the batches are
        already random, and Keras' shuffling of the batch order uses Python's global ``random`` state.
        """
        self.epoch += 1

    def set_epoch(self, epoch: int) -> None:
        """Jumps to ``epoch`` (e.g. when resuming training)."""
        self.epoch = int(epoch)

    def __getitem__(self, index: int):
        return self.batch(index, self.epoch)

    def batch(self, index: int, epoch: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The batch ``index`` of ``epoch`` (default: the current one), as ``(lr, hr)``."""
        if not 0 <= int(index) < self.steps_per_epoch:
            raise IndexError(f"batch index {index} out of range for {self.steps_per_epoch} steps per epoch")
        epoch = self.epoch if epoch is None else int(epoch)
        rng = np.random.default_rng((self.seed, epoch, int(index)))
        p = self.patch_size
        hr = np.empty((self.batch_size, p, p, self.channels), np.float32)
        for b in range(self.batch_size):
            hr[b] = self._sample(rng)
        lr = degrade(hr, self.scale, self.degradation, seed=rng, **self.degradation_params)
        return lr, hr

    def _sample(self, rng: np.random.Generator) -> np.ndarray:
        k = int(rng.integers(len(self.images)))
        im = self.images[k]
        p = self.patch_size
        y = int(rng.integers(im.shape[0] - p + 1))
        x = int(rng.integers(im.shape[1] - p + 1))
        patch = self._to_unit(k, im[y:y + p, x:x + p])
        if self.augment:
            if rng.random() < 0.5:
                patch = patch[:, ::-1]
            if rng.random() < 0.5:
                patch = patch[::-1]
            patch = np.rot90(patch, int(rng.integers(4)))
        if self.gamma is not None:
            patch = np.power(patch, np.float32(np.exp(rng.uniform(-self.gamma, self.gamma))))
        if self.brightness is not None:
            patch = np.clip(patch * np.float32(rng.uniform(1 - self.brightness, 1 + self.brightness)), 0.0, 1.0)
        return patch

    def _to_unit(self, k: int, crop: np.ndarray) -> np.ndarray:
        """A crop of ``images[k]`` mapped to float32 [0, 1] by the dataset's normalization."""
        normalizer = self._normalizers[k]
        if not normalizer.fitted:  # a lazy image, on first use
            normalizer = self._normalizers[k] = normalizer.fit(self.images[k], name=f"images[{k}]")
        return normalizer.before(crop)

    def get_config(self) -> dict:
        """The settings (not the images), e.g. to record in a training run's metadata."""
        return {
            "patch_size": self.patch_size, "scale": self.scale, "batch_size": self.batch_size,
            "degradation": self.degradation_config, "augment": self.augment, "brightness": self.brightness,
            "gamma": self.gamma, "normalization": self.normalization, "steps_per_epoch": self.steps_per_epoch,
            "seed": self.seed, "num_images": len(self.images), "channels": self.channels,
        }


def _resolved_degradation(method: str, scale: int, params: dict) -> dict:
    """``degradation_params`` with the PatchDataset argument names in the error."""
    try:
        return degradation_params(method, scale, **params)
    except ValueError as exc:
        raise ValueError(f"degradation={method!r}, degradation_params={params!r}: {exc}") from None


def _positive_int(v, name: str) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
        raise ValueError(f"{name} must be a positive int, got {name}={v!r}")
    return int(v)


def validation_pairs(images: Sequence[np.ndarray], *, scale: int = 4, patch_size: int | None = None,
                     degradation: str = "bicubic", degradation_params: dict | None = None, seed: int = 0,
                     normalization: str = "percentile") -> tuple[np.ndarray, np.ndarray]:
    """A fixed set of ``(lr, hr)`` pairs for validation: one centre crop per image, no augmentation.

    Args:
        images: HR images ``(H, W, C)``.
        scale: 2, 4 or 8.
        patch_size: Side of the centre crop (default: the largest multiple of ``scale`` that fits every image).
        degradation, degradation_params: As in ``PatchDataset``.
        seed: Seed of the degradation noise.
        normalization: A name of ``msrgan.data.normalize.NORMALIZATIONS``, as in ``PatchDataset``.

    Returns:
        ``(lr, hr)`` float32 arrays ``(N, p/s, p/s, C)`` and ``(N, p, p, C)``.

    Example:
        >>> lr, hr = validation_pairs([np.zeros((40, 48, 1), np.uint8)], scale=4)
        >>> lr.shape, hr.shape
        ((1, 10, 10, 1), (1, 40, 40, 1))
    """
    scale = check_scale(scale)
    images = [as_image(im) for im in images]
    if not images:
        raise ValueError("images is empty")
    if patch_size is None:
        side = min(min(im.shape[0], im.shape[1]) for im in images)
        patch_size = side - side % scale
    ds = PatchDataset(images, patch_size=patch_size, scale=scale, batch_size=1, degradation=degradation,
                      degradation_params=degradation_params, augment=False, normalization=normalization,
                      steps_per_epoch=1, seed=seed)
    hr = np.empty((len(images), patch_size, patch_size, ds.channels), np.float32)
    for i, im in enumerate(images):
        y, x = (im.shape[0] - patch_size) // 2, (im.shape[1] - patch_size) // 2
        hr[i] = ds._to_unit(i, im[y:y + patch_size, x:x + patch_size])
    lr = degrade(hr, scale, degradation, seed=seed, **(degradation_params or {}))
    return lr, hr
