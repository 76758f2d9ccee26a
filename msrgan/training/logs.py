"""Logs of a training run, as Keras callbacks: CSV files and TensorBoard events.

- ``CSVLogs``: ``steps.csv`` (every N steps) and ``epochs.csv`` (every epoch, with validation).
- ``TensorBoardLogs``: the same scalars and the validation grid as TensorBoard events. It writes
  with ``tf.summary.write``, so it needs TensorFlow installed (on any Keras backend; the
  ``tensorboard`` package is only needed to view them); without TensorFlow it warns once and
  does nothing (the CSV files hold the same numbers).

Logged step values are Keras's running means since the start of the epoch (as in the progress
bar); ``epochs.csv`` holds the epoch means.
"""

from __future__ import annotations

import csv
import time
import warnings
from pathlib import Path

import keras
import numpy as np


def _float(x) -> float:
    return float(np.asarray(keras.ops.convert_to_numpy(x) if not isinstance(x, (int, float)) else x))


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
