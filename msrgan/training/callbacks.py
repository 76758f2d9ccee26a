"""Callbacks and checkpoints for the training loops (``msrgan.training.trainer``).

- ``save_checkpoint`` / ``restore_checkpoint`` / ``latest_checkpoint``: the whole training state
  of an ``MSRGAN`` (generator, discriminator, BatchNorm statistics, EMA weights, both optimizers
  and the step count; the frozen extractor is not stored) as ``state.safetensors`` +
  ``checkpoint.json`` in a ``step-NNNNNNNN`` folder, written to a temporary folder and renamed.
  Restoring into a freshly compiled model and training on gives the same weights as an
  uninterrupted run.
- ``StepCheckpoint``: a checkpoint every N steps, the last ``keep`` kept.
- ``CSVLogs``: ``steps.csv`` (every N steps) and ``epochs.csv`` (every epoch, with validation).
- ``TensorBoardLogs``: the same scalars and the validation grid as TensorBoard events. It writes
  with ``tf.summary.write``, so it needs TensorFlow installed (on any Keras backend; the
  ``tensorboard`` package is only needed to view them); without TensorFlow it warns once and
  does nothing (the CSV files hold the same numbers).
- ``ValidationMonitor``: validation PSNR/SSIM (and the bicubic baseline) at the end of each
  epoch, and a PNG grid LR | bicubic | SR | HR of fixed validation images.

Logged step values are Keras's running means since the start of the epoch (as in the progress
bar); ``epochs.csv`` holds the epoch means.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import time
import warnings
from pathlib import Path

import keras
import numpy as np

from msrgan.training import evaluation
from zoo.files import partial_path

CHECKPOINT_FORMAT = "msrgan-checkpoint/1"
STATE_NAME = "state.safetensors"
META_NAME = "checkpoint.json"
STEP_PREFIX = "step-"


def _sync(model) -> None:
    if keras.backend.backend() == "jax" and getattr(model, "_jax_state", None):
        model.jax_state_sync()


def _float(x) -> float:
    return float(np.asarray(keras.ops.convert_to_numpy(x) if not isinstance(x, (int, float)) else x))


# --------------------------------------------------------------------------------- checkpoints


def save_checkpoint(model, directory, *, extra: dict | None = None) -> Path:
    """Writes the training state of ``model`` (an ``MSRGAN``) to ``directory/step-NNNNNNNN``.

    Args:
        model: A compiled ``MSRGAN``.
        directory: The checkpoints folder (created if missing).
        extra: JSON-serialisable facts stored in ``checkpoint.json`` (e.g. the run config).

    Returns:
        The checkpoint folder. An existing checkpoint of the same step is replaced.
    """
    from safetensors.numpy import save_file

    _sync(model)
    step = model.step
    variables = model.checkpoint_variables()
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"{STEP_PREFIX}{step:08d}"
    tmp = partial_path(final, directory=True)
    try:
        arrays = {f"{i:05d}": np.ascontiguousarray(keras.ops.convert_to_numpy(v.value)) for i, v in enumerate(variables)}
        save_file(arrays, str(tmp / STATE_NAME))
        meta = {"format": CHECKPOINT_FORMAT, "step": step, "phase": model.phase, "backend": keras.backend.backend(),
                "variables": [[v.path, list(v.shape), str(v.dtype)] for v in variables], "extra": extra or {}}
        (tmp / META_NAME).write_text(json.dumps(meta, indent=1) + "\n")
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


def read_checkpoint_meta(path) -> dict:
    """The ``checkpoint.json`` of a checkpoint folder."""
    meta_path = Path(path) / META_NAME
    if not meta_path.is_file():
        raise FileNotFoundError(f"{path} is not a checkpoint folder (no {META_NAME})")
    try:
        meta = json.loads(meta_path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{meta_path} is truncated or corrupted: {exc}") from None
    if not isinstance(meta, dict) or meta.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{meta_path}: unknown checkpoint format "
                         f"{meta.get('format') if isinstance(meta, dict) else type(meta).__name__!r}")
    return meta


def read_checkpoint_state(path) -> dict:
    """The arrays of a checkpoint's ``state.safetensors``.

    Raises:
        ValueError: a truncated or corrupted file, naming the checkpoint and the previous one to resume from.
    """
    from safetensors.numpy import load_file

    try:
        return load_file(str(Path(path) / STATE_NAME))
    except Exception as exc:  # safetensors raises SafetensorError (or OSError) on a truncated file
        older = [p for p in _checkpoints(Path(path).parent) if p.name < Path(path).name]
        hint = (f"the previous checkpoint is {older[-1]}: move the broken one aside (mv {path} {path}.broken) and "
                "resume again" if older else "no earlier checkpoint is left; start the run again")
        raise ValueError(f"checkpoint {path} is truncated or corrupted ({type(exc).__name__}: {exc}); {hint}") from None


def restore_checkpoint(model, path) -> dict:
    """Loads a checkpoint written by ``save_checkpoint`` into a compiled ``MSRGAN``; returns its metadata.

    The model must have the same architecture, optimizers and options (EMA on/off) as the one
    saved; a mismatch raises a ValueError naming the first differing variable.
    """
    meta = read_checkpoint_meta(path)
    state = read_checkpoint_state(path)
    variables = model.checkpoint_variables()
    if len(state) != len(variables) or len(meta["variables"]) != len(variables):
        raise ValueError(f"{path} holds {len(state)} variable(s) but the model needs {len(variables)}: "
                         "the architecture or training options differ")
    values = []
    for i, v in enumerate(variables):
        saved_shape = tuple(meta["variables"][i][1])  # safetensors stores 0-d arrays as (1,)
        if saved_shape != tuple(v.shape):
            raise ValueError(f"{path}: variable {i} ({meta['variables'][i][0]}) has shape {saved_shape}, "
                             f"the model's {v.path} has {tuple(v.shape)}")
        values.append(state[f"{i:05d}"].reshape(saved_shape).astype(keras.backend.standardize_dtype(v.dtype)))
    for v, value in zip(variables, values):
        v.assign(value)
    if meta.get("phase"):
        model.set_phase(meta["phase"])
    return meta


def latest_checkpoint(directory) -> Path | None:
    """The checkpoint folder with the highest step in ``directory``, or None."""
    found = _checkpoints(directory)
    return found[-1] if found else None


def _checkpoints(directory) -> list[Path]:
    """The checkpoint folders in ``directory``, oldest first."""
    root = Path(directory)
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and p.name.startswith(STEP_PREFIX)
                  and (p / META_NAME).is_file())


class StepCheckpoint(keras.callbacks.Callback):
    """Saves a checkpoint every ``every`` training steps (global steps), keeping the last ``keep``.

    Args:
        directory: Checkpoints folder.
        every: Interval in steps.
        keep: How many checkpoints to keep (None keeps all).
        extra: Facts stored in each ``checkpoint.json``.
    """

    def __init__(self, directory, every: int, *, keep: int | None = 3, extra: dict | None = None):
        super().__init__()
        if int(every) < 1:
            raise ValueError(f"checkpoint every must be >= 1 step, got {every!r}")
        self.directory = Path(directory)
        self.every = int(every)
        self.keep = keep
        self.extra = extra
        self._step = 0

    def on_train_begin(self, logs=None):
        self._step = self.model.step

    def on_train_batch_end(self, batch, logs=None):
        self._step += 1
        if self._step % self.every == 0:
            self.save()

    def save(self) -> Path:
        path = save_checkpoint(self.model, self.directory, extra=self.extra)
        if self.keep:
            old = sorted(p for p in self.directory.iterdir() if p.is_dir() and p.name.startswith(STEP_PREFIX))
            for p in old[: -self.keep]:
                shutil.rmtree(p, ignore_errors=True)
        return path


# ------------------------------------------------------------------------------------- logs


class CSVLogs(keras.callbacks.Callback):
    """Appends training logs to ``steps.csv`` (every ``every`` steps) and ``epochs.csv``.

    On ``truncate_after(step)`` (resume), rows of steps after ``step`` are dropped first, so a
    resumed run's files read like an uninterrupted one's.
    """

    def __init__(self, directory, every: int = 10):
        super().__init__()
        self.directory = Path(directory)
        self.every = max(1, int(every))
        self.steps_path = self.directory / "steps.csv"
        self.epochs_path = self.directory / "epochs.csv"
        self._step = 0
        self._t0 = None

    def truncate_after(self, step: int) -> None:
        for path in (self.steps_path, self.epochs_path):
            if not path.is_file():
                continue
            with open(path, newline="") as f:
                rows = list(csv.DictReader(f))
            keep = [r for r in rows if int(float(r.get("step", 0) or 0)) <= step]
            if len(keep) != len(rows):
                self._write_all(path, keep)

    @staticmethod
    def _write_all(path: Path, rows: list[dict]) -> None:
        import io

        from zoo.files import atomic_write_bytes

        buf = io.StringIO(newline="")
        if rows:
            w = csv.DictWriter(buf, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
        atomic_write_bytes(path, buf.getvalue().encode("utf-8"))

    def _append(self, path: Path, row: dict) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        if path.is_file() and path.stat().st_size:
            with open(path, newline="") as f:
                header = next(csv.reader(f), [])
            if set(row) - set(header):
                with open(path, newline="") as f:
                    rows = list(csv.DictReader(f))
                header = header + [k for k in row if k not in header]
                self._write_all(path, [{k: r.get(k, "") for k in header} for r in rows] + [
                    {k: row.get(k, "") for k in header}])
                return
        else:
            header = list(row)
            with open(path, "w", newline="") as f:
                csv.writer(f).writerow(header)
        with open(path, "a", newline="") as f:
            csv.writer(f).writerow([row.get(k, "") for k in header])

    def on_train_begin(self, logs=None):
        self._step = self.model.step
        self._t0 = self._t0 or time.time()

    def on_train_batch_end(self, batch, logs=None):
        self._step += 1
        if self._step % self.every == 0 and logs:
            row = {"step": self._step, "phase": self.model.phase, "time": round(time.time() - self._t0, 3)}
            row.update({k: _float(v) for k, v in logs.items()})
            self._append(self.steps_path, row)

    def on_epoch_end(self, epoch, logs=None):
        row = {"epoch": epoch + 1, "step": self.model.step, "phase": self.model.phase,
               "time": round(time.time() - (self._t0 or time.time()), 3)}
        row.update({k: _float(v) for k, v in (logs or {}).items()})
        self._append(self.epochs_path, row)


class TensorBoardLogs(keras.callbacks.Callback):
    """Writes step and epoch scalars (and validation grids) as TensorBoard event files.

    Works on every Keras backend when TensorFlow is installed: events are written with the
    low-level ``tf.summary.write`` and the ``scalars``/``images`` plugin metadata, so the
    ``tensorboard`` package itself is not needed to write them (only to view them). Without
    TensorFlow it warns once and writes nothing (the CSV logs hold the same numbers). Scalars are
    indexed by the global step: ``train/*`` every ``every`` steps, ``epoch/*`` and ``val/*`` at
    each epoch end.
    """

    def __init__(self, log_dir, every: int = 10):
        super().__init__()
        self.log_dir = str(log_dir)
        self.every = max(1, int(every))
        self._writer = None
        self._tf = None
        self._step = 0
        try:
            import tensorflow as tf

            self._tf = tf
        except ImportError:
            warnings.warn("TensorBoard logs need TensorFlow installed; writing CSV logs only", stacklevel=2)

    @property
    def available(self) -> bool:
        return self._tf is not None

    def _write(self, records, step: int) -> None:
        tf = self._tf
        if tf is None:
            return
        from tensorflow.core.framework import summary_pb2

        if self._writer is None:
            self._writer = tf.summary.create_file_writer(self.log_dir)
        try:
            with self._writer.as_default():
                for tag, tensor, plugin in records:
                    meta = summary_pb2.SummaryMetadata(
                        plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name=plugin))
                    tf.summary.write(tag, tensor, step=int(step), metadata=meta)
            self._writer.flush()
        except Exception as exc:  # never let logging stop a training run
            warnings.warn(f"TensorBoard logging disabled: {exc}", stacklevel=2)
            self._tf = None

    def _scalars(self, prefix, logs, step):
        if self._tf is None or not logs:
            return
        tf = self._tf
        self._write([(f"{prefix}/{k}", tf.constant(_float(v), tf.float32), "scalars") for k, v in logs.items()], step)

    def image(self, name: str, image_uint8: np.ndarray, step: int) -> None:
        """Writes one uint8 ``(H, W, 3)`` image (PNG-encoded, TensorBoard's ``images`` plugin)."""
        if self._tf is None:
            return
        import io

        from PIL import Image

        buf = io.BytesIO()
        Image.fromarray(np.asarray(image_uint8, np.uint8)).save(buf, format="PNG")
        h, w = image_uint8.shape[:2]
        tensor = self._tf.constant([str(w).encode(), str(h).encode(), buf.getvalue()])
        self._write([(name, tensor, "images")], step)

    def on_train_begin(self, logs=None):
        self._step = self.model.step

    def on_train_batch_end(self, batch, logs=None):
        self._step += 1
        if self._step % self.every == 0:
            self._scalars("train", logs, self._step)

    def on_epoch_end(self, epoch, logs=None):
        logs = dict(logs or {})
        self._scalars("epoch", {k: v for k, v in logs.items() if not k.startswith("val_")}, self.model.step)
        self._scalars("val", {k[4:]: v for k, v in logs.items() if k.startswith("val_")}, self.model.step)

    def on_train_end(self, logs=None):
        if self._writer is not None:
            self._writer.flush()


# ------------------------------------------------------------------------------- validation


def display_rgb(x: np.ndarray) -> np.ndarray:
    """An ``(H, W, C)`` image in [0, 1] as ``(H, W, 3)`` uint8 for display (RGB merge for 4 channels)."""
    from msrgan.convention import rgb_merge_indices

    x = np.clip(np.asarray(x, np.float32), 0.0, 1.0)
    rgb = x[..., list(rgb_merge_indices(x.shape[-1]))]
    return np.round(rgb * 255.0).astype(np.uint8)


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
        grid_images: How many validation images go into the grid.
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
        self.use_ema = use_ema
        self.tensorboard = tensorboard
        self.batch_size = batch_size
        self.bicubic = evaluation.bicubic_upscale(self.lr, self.scale)
        self.baseline = {"psnr": evaluation.psnr(self.bicubic, self.hr, crop=self.scale),
                         "ssim": evaluation.ssim(self.bicubic, self.hr, crop=self.scale)}

    def on_epoch_end(self, epoch, logs=None):
        model = self.model
        _sync(model)
        generator = model.ema_generator() if self.use_ema else model.generator  # the live one without EMA
        sr = evaluation.super_resolve(generator, self.lr, batch_size=self.batch_size)
        result = {"val_psnr": evaluation.psnr(sr, self.hr, crop=self.scale),
                  "val_ssim": evaluation.ssim(sr, self.hr, crop=self.scale),
                  "val_bicubic_psnr": self.baseline["psnr"], "val_bicubic_ssim": self.baseline["ssim"]}
        if logs is not None:
            logs.update(result)
        if self.grid_dir is not None or self.tensorboard is not None:
            k = min(self.grid_images, len(self.lr))
            grid = comparison_grid(self.lr[:k], self.bicubic[:k], sr[:k], self.hr[:k])
            if self.grid_dir is not None:
                from msrgan.data.io import write_image

                self.grid_dir.mkdir(parents=True, exist_ok=True)
                write_image(self.grid_dir / f"epoch-{epoch + 1:03d}.png", grid, overwrite=True)
            if self.tensorboard is not None:
                self.tensorboard.image("val/lr_bicubic_sr_hr", grid, model.step)
