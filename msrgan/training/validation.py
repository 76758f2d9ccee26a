"""Validation during training: a Keras callback scoring the generator on fixed images each epoch.

- ``ValidationMonitor``: validation PSNR/SSIM (and the bicubic baseline) at the end of each epoch,
  and a PNG grid LR | bicubic | SR | HR of fixed validation images (also sent to TensorBoard).
- ``comparison_grid``: that grid, as uint8 RGB (each image drawn by ``msrgan.display.display_rgb``).
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np

from msrgan import backends
from msrgan.display import display_rgb
from msrgan.training import evaluation
from msrgan.training.logs import TensorBoardLogs


def comparison_grid(lr, bicubic, sr, hr, *, gap: int = 2) -> np.ndarray:
    """One row per image: LR (nearest-upscaled) | bicubic | SR | HR, as uint8 RGB."""
    lr, bicubic, sr, hr = (np.asarray(a) for a in (lr, bicubic, sr, hr))
    n, h, w, _ = hr.shape
    f = h // lr.shape[1]
    rows = []
    for i in range(n):
        up = np.repeat(np.repeat(lr[i], f, axis=0), f, axis=1)
        tiles = [display_rgb(t) for t in (up, bicubic[i], sr[i], hr[i])]
        sep = np.full((h, gap, 3), 255, np.uint8)
        rows.append(np.concatenate([tiles[0], sep, tiles[1], sep, tiles[2], sep, tiles[3]], axis=1))
        rows.append(np.full((gap, rows[-1].shape[1], 3), 255, np.uint8))
    return np.concatenate(rows[:-1], axis=0)


class ValidationMonitor(keras.callbacks.Callback):
    """At each epoch end: validation PSNR/SSIM of the generator and a PNG grid of fixed images.

    Adds ``val_psnr``, ``val_ssim``, ``val_bicubic_psnr`` and ``val_bicubic_ssim`` to the epoch
    logs (place it before the loggers). The generator used is the EMA one when the model keeps
    an EMA (``use_ema``).

    Args:
        lr: Validation low-resolution images ``(N, h, w, C)`` in [0, 1].
        hr: The matching high-resolution images ``(N, h*scale, w*scale, C)``.
        scale: Upscaling factor (also the border crop of the measures).
        grid_dir: Folder of the ``epoch-NNN.png`` grids, or None for no grids.
        grid_images: How many validation images go into the grid; 0: no grid at all (no PNG, no
            TensorBoard image).
        use_ema: Validate the EMA generator when there is one.
        tensorboard: A ``TensorBoardLogs`` that also receives the grid, or None.
    """

    def __init__(self, lr, hr, *, scale: int, grid_dir=None, grid_images: int = 4, use_ema: bool = True,
                 tensorboard: TensorBoardLogs | None = None, batch_size: int = 8):
        super().__init__()
        self.lr = np.asarray(lr, np.float32)
        self.hr = np.asarray(hr, np.float32)
        if self.lr.ndim != 4 or self.hr.ndim != 4 or len(self.lr) != len(self.hr) or not len(self.lr):
            raise ValueError(f"validation lr {self.lr.shape} and hr {self.hr.shape} must be non-empty (N, H, W, C) "
                             "batches of the same length")
        if self.hr.shape[1] != self.lr.shape[1] * scale or self.hr.shape[2] != self.lr.shape[2] * scale:
            raise ValueError(f"validation hr {self.hr.shape} is not {scale}x the lr {self.lr.shape}")
        self.scale = int(scale)
        self.grid_dir = None if grid_dir is None else Path(grid_dir)
        self.grid_images = int(grid_images)
        if self.grid_images < 0:
            raise ValueError(f"grid_images must be >= 0 (0: no grid), got {grid_images}")
        self.use_ema = use_ema
        self.tensorboard = tensorboard
        self.batch_size = batch_size
        self.bicubic = evaluation.bicubic_upscale(self.lr, self.scale)
        self.baseline = {"psnr": evaluation.psnr(self.bicubic, self.hr, crop=self.scale),
                         "ssim": evaluation.ssim(self.bicubic, self.hr, crop=self.scale)}

    def on_epoch_end(self, epoch, logs=None):
        model = self.model
        backends.current().sync_state(model)
        generator = model.ema_generator() if self.use_ema else model.generator  # the live one without EMA
        sr = evaluation.super_resolve(generator, self.lr, batch_size=self.batch_size)
        result = {"val_psnr": evaluation.psnr(sr, self.hr, crop=self.scale),
                  "val_ssim": evaluation.ssim(sr, self.hr, crop=self.scale),
                  "val_bicubic_psnr": self.baseline["psnr"], "val_bicubic_ssim": self.baseline["ssim"]}
        if logs is not None:
            logs.update(result)
        k = min(self.grid_images, len(self.lr))
        if k and (self.grid_dir is not None or self.tensorboard is not None):
            grid = comparison_grid(self.lr[:k], self.bicubic[:k], sr[:k], self.hr[:k])
            if self.grid_dir is not None:
                from msrgan.data.io import write_image

                self.grid_dir.mkdir(parents=True, exist_ok=True)
                write_image(self.grid_dir / f"epoch-{epoch + 1:03d}.png", grid, overwrite=True)
            if self.tensorboard is not None:
                self.tensorboard.image("val/lr_bicubic_sr_hr", grid, model.step)
