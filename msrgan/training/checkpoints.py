"""Checkpoints of a training run: the whole training state of an ``MSRGAN`` on disk, and back.

- ``save_checkpoint`` / ``restore_checkpoint`` / ``latest_checkpoint``: generator, discriminator,
  BatchNorm statistics, EMA weights, every optimizer's state and the step count (the frozen
  extractor is not stored) as ``state.safetensors`` + ``checkpoint.json`` in a ``step-NNNNNNNN``
  folder, written to a temporary folder and renamed. Restoring into a freshly compiled model and
  training on gives the same weights as an uninterrupted run.
- ``read_checkpoint_meta`` / ``read_checkpoint_state``: the two files of a checkpoint, checked.
- ``StepCheckpoint``: a Keras callback saving a checkpoint every N steps, the last ``keep`` kept.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import keras
import numpy as np

from msrgan import backends
from zoo.files import atomic_folder

CHECKPOINT_FORMAT = "msrgan-checkpoint/1"
STATE_NAME = "state.safetensors"
META_NAME = "checkpoint.json"
STEP_PREFIX = "step-"


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

    backends.current().sync_state(model)
    step = model.step
    variables = model.checkpoint_variables()
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"{STEP_PREFIX}{step:08d}"
    with atomic_folder(final) as tmp:  # an existing checkpoint of this step is replaced once the new one is whole
        arrays = {f"{i:05d}": np.ascontiguousarray(keras.ops.convert_to_numpy(v.value)) for i, v in enumerate(variables)}
        save_file(arrays, str(tmp / STATE_NAME))
        meta = {"format": CHECKPOINT_FORMAT, "step": step, "phase": model.phase, "backend": keras.backend.backend(),
                "variables": [[v.path, list(v.shape), str(v.dtype)] for v in variables], "extra": extra or {}}
        (tmp / META_NAME).write_text(json.dumps(meta, indent=1) + "\n")
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
