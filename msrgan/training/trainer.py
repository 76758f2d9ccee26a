"""The two-phase mSRGAN training loop on top of ``MSRGAN.fit``: epochs, checkpoints, exact resume.

Training is indexed by the *global step*: batch ``k`` of the whole run is ``source(k)``, whatever
epoch or process computes it. That is what makes a resumed run identical to an uninterrupted
one: the checkpoint restores every weight and optimizer slot and the step, and the data resume
at the same global step.

Epochs are ``steps_per_epoch`` steps, restarted at the phase change::

    phase 1 "pretrain" (MSE only):  steps [0, pretrain_steps)
    phase 2 "gan" (full loss):      steps [pretrain_steps, pretrain_steps + gan_steps)

Each epoch is one ``model.fit`` call (Keras progress bar, callbacks), so per-epoch callbacks
(validation, grids, logs) run at the same steps in a resumed run.

Example:
    >>> import numpy as np, keras
    >>> from msrgan.models import Generator
    >>> from msrgan.training.gan import MSRGAN
    >>> gan = MSRGAN(Generator(num_blocks=1, filters=8, channels=1, scale=2))
    >>> gan.compile(keras.optimizers.Adam(1e-3))
    >>> batch = (np.zeros((2, 8, 8, 1), "float32"), np.zeros((2, 16, 16, 1), "float32"))
    >>> logs = train_gan(gan, lambda step: batch, pretrain_steps=3, gan_steps=0, steps_per_epoch=2, verbose=0)
    >>> [(e["epoch"], e["phase"], e["step"]) for e in logs]
    [(1, 'pretrain', 2), (2, 'pretrain', 3)]
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

import keras
import numpy as np

from msrgan.training.checkpoints import StepCheckpoint, latest_checkpoint, restore_checkpoint, save_checkpoint
from msrgan.training.logs import CSVLogs


class StepBatches(keras.utils.PyDataset):
    """``count`` batches ``source(start)``, ``source(start + 1)``, ... as a Keras ``PyDataset``.

    Args:
        source: ``step -> (lr, hr)`` (see ``as_step_source``).
        start: Global step of the first batch.
        count: Number of batches.
    """

    def __init__(self, source: Callable[[int], tuple], start: int, count: int):
        super().__init__(workers=1, use_multiprocessing=False)
        self.source = source
        self.start = int(start)
        self.count = int(count)

    def __len__(self):
        return self.count

    def __getitem__(self, index):
        if not 0 <= index < self.count:
            raise IndexError(index)
        lr, hr = self.source(self.start + index)[:2]
        return np.asarray(lr, np.float32), np.asarray(hr, np.float32)


def as_step_source(data) -> Callable[[int], tuple]:
    """Turns training data into ``step -> (lr, hr)``.

    Accepts a callable (returned as is); a sequence dataset with ``__len__``/``__getitem__``
    whose batches depend on ``(epoch, index)`` such as ``msrgan.data.patches.PatchDataset``
    (step ``k`` is batch ``k % len(ds)`` of epoch ``k // len(ds)``, the epoch set through
    ``ds.set_epoch(e)`` or an ``epoch`` attribute); or a pair of arrays ``(lr, hr)`` of whole
    batches ``(S, B, h, w, C)`` / ``(S, B, H, W, C)`` cycled over ``S``.
    """
    if callable(data) and not hasattr(data, "__getitem__"):
        return data
    if isinstance(data, (tuple, list)) and len(data) == 2 and all(isinstance(a, np.ndarray) for a in data):
        lr, hr = data
        if lr.ndim != 5 or hr.ndim != 5 or len(lr) != len(hr) or not len(lr):
            raise ValueError(f"in-memory training data must be (steps, batch, h, w, C) arrays; got lr {lr.shape}, "
                             f"hr {hr.shape}")
        return lambda step: (lr[step % len(lr)], hr[step % len(hr)])
    if hasattr(data, "__getitem__") and hasattr(data, "__len__"):
        ds = data
        n = len(ds)
        if n < 1:
            raise ValueError("the training dataset has no batches")

        def source(step):
            epoch, index = divmod(int(step), n)
            if hasattr(ds, "set_epoch"):
                ds.set_epoch(epoch)
            elif hasattr(ds, "epoch"):
                ds.epoch = epoch
            elif epoch:
                raise ValueError(f"{type(ds).__name__} cannot be positioned at an epoch (no set_epoch() or epoch); "
                                 "wrap it in a step -> (lr, hr) function")
            return ds[index]

        return source
    raise ValueError(f"cannot train on {type(data).__name__}: pass a step -> (lr, hr) function, a PatchDataset-like "
                     "sequence or (lr, hr) arrays")


def process_rows(source: Callable[[int], tuple], distributed) -> Callable[[int], tuple]:
    """``step -> (lr, hr)`` of this process: its rows of each global batch (``distributed.local_rows``)."""

    def rows(step):
        batch = source(step)
        distributed.check_batch(len(batch[0]))
        keep = distributed.local_rows(len(batch[0]))
        return tuple(a[keep] for a in batch[:2])

    return rows


def epoch_plan(pretrain_steps: int, gan_steps: int, steps_per_epoch: int) -> list[tuple[int, str, int, int]]:
    """``(epoch, phase, first_step, end_step)`` of every epoch of a run.

    Example:
        >>> epoch_plan(5, 3, 2)
        [(0, 'pretrain', 0, 2), (1, 'pretrain', 2, 4), (2, 'pretrain', 4, 5), (3, 'gan', 5, 7), (4, 'gan', 7, 8)]
    """
    if steps_per_epoch < 1:
        raise ValueError(f"steps_per_epoch must be >= 1, got {steps_per_epoch}")
    if pretrain_steps < 0 or gan_steps < 0:
        raise ValueError(f"step counts must be >= 0, got pretrain_steps={pretrain_steps}, gan_steps={gan_steps}")
    plan, start, epoch = [], 0, 0
    for phase, n in (("pretrain", pretrain_steps), ("gan", gan_steps)):
        stop = start + n
        while start < stop:
            end = min(start + steps_per_epoch, stop)
            plan.append((epoch, phase, start, end))
            start, epoch = end, epoch + 1
    return plan


@keras.saving.register_keras_serializable(package="msrgan")
class PretrainSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """The generator's phase 1 learning rate, a function of its optimizer's update count.

    ``"constant"``: ``learning_rate`` throughout; ``"step"``: ``final_fraction`` times lower for
    the last fifth of the ``steps`` (a short-run stabilizer); ``"cosine"``: a half cosine from
    ``learning_rate`` down to ``final_fraction * learning_rate`` at ``steps - 1``. Being a
    function of the optimizer's ``iterations``, it resumes exactly from a checkpoint.

    Example:
        >>> s = PretrainSchedule(1e-3, 100, decay="cosine")
        >>> [round(float(s(k)), 6) for k in (0, 50, 99)]
        [0.001, 0.000517, 5e-05]
        >>> s = PretrainSchedule(1e-3, 100, decay="step", final_fraction=0.2)
        >>> [round(float(s(k)), 6) for k in (0, 79, 80)]
        [0.001, 0.001, 0.0002]
    """

    def __init__(self, learning_rate: float, steps: int, decay: str = "constant", final_fraction: float = 0.05):
        if decay not in ("constant", "step", "cosine"):
            raise ValueError(f"decay must be 'constant', 'step' or 'cosine', got {decay!r}")
        self.learning_rate, self.steps = float(learning_rate), int(steps)
        self.decay, self.final_fraction = decay, float(final_fraction)

    def __call__(self, step):
        from keras import ops

        step = ops.cast(step, "float32")
        if self.decay == "cosine":
            t = ops.clip(step / float(max(self.steps - 1, 1)), 0.0, 1.0)
            factor = self.final_fraction + (1.0 - self.final_fraction) * 0.5 * (1.0 + ops.cos(np.pi * t))
        elif self.decay == "step":
            factor = ops.where(step < float(int(0.8 * self.steps)), 1.0, self.final_fraction)
        else:
            return ops.convert_to_tensor(self.learning_rate, "float32")
        return self.learning_rate * factor

    def get_config(self):
        return {"learning_rate": self.learning_rate, "steps": self.steps, "decay": self.decay,
                "final_fraction": self.final_fraction}


class _StopAtEpochEnd(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        self.model.stop_training = True


def train_gan(model, data, *, pretrain_steps: int, gan_steps: int, steps_per_epoch: int = 100,
              callbacks: Sequence[keras.callbacks.Callback] = (), checkpoint_dir=None, checkpoint_every: int | None = None,
              keep_checkpoints: int | None = 3, resume: bool | str | Path = False, log_dir=None, log_every: int = 10,
              checkpoint_extra: dict | None = None, verbose="auto", distributed=None) -> list[dict]:
    """Runs phase 1 (MSE pre-training) then phase 2 (adversarial) on a compiled ``MSRGAN``.

    Args:
        model: A compiled ``msrgan.training.gan.MSRGAN``.
        data: Training batches, anything ``as_step_source`` accepts.
        pretrain_steps: Phase 1 steps (generator on the MSE alone).
        gan_steps: Phase 2 steps (generator and discriminator, full loss).
        steps_per_epoch: Steps per epoch (validation, grids and epoch logs run per epoch).
        callbacks: Extra Keras callbacks (e.g. ``ValidationMonitor``, ``TensorBoardLogs``), run in
            this order before the CSV logs and checkpoints.
        checkpoint_dir: Folder of the checkpoints (None: none). A final checkpoint is always
            written there at the end.
        checkpoint_every: Checkpoint interval in steps (None: only the final one).
        keep_checkpoints: How many periodic checkpoints to keep.
        resume: False; True (resume from the latest checkpoint in ``checkpoint_dir`` when there
            is one); or a checkpoint folder.
        log_dir: Folder of ``steps.csv``/``epochs.csv`` (None: no CSV logs).
        log_every: Step interval of ``steps.csv``.
        checkpoint_extra: Facts stored with each checkpoint (e.g. the run configuration).
        verbose: Keras ``fit`` verbosity.
        distributed: The ``msrgan.training.distribute.DataParallel`` in effect (networks made in its
            scope), or None. Each process then feeds its rows of every global batch; the chief
            (process 0) alone reads a ``resume`` checkpoint, whose state (as the initial weights) is
            broadcast to the others, and alone writes checkpoints and CSV logs.

    Returns:
        The epoch logs of the epochs run in this call: dicts with ``epoch``, ``phase``, ``step``
        and the metrics (and validation values when a ``ValidationMonitor`` is given).
    """
    if getattr(model, "g_optimizer", None) is None:
        raise ValueError("compile the MSRGAN before training it")
    source = as_step_source(data)
    writes = distributed is None or distributed.is_chief
    if distributed is not None:
        source = process_rows(source, distributed)
    plan = epoch_plan(int(pretrain_steps), int(gan_steps), int(steps_per_epoch))
    total = plan[-1][3] if plan else 0
    if gan_steps and model.discriminator is None and model.extractor is None:
        raise ValueError("gan_steps > 0 needs a discriminator or a content extractor")

    if resume is True and checkpoint_dir is None:
        raise ValueError("resume=True looks for the latest checkpoint in checkpoint_dir; pass checkpoint_dir "
                         "(or resume=<checkpoint folder>)")
    csv_logs = CSVLogs(log_dir, every=log_every) if log_dir is not None and writes else None
    if resume and writes:
        path = Path(resume) if not isinstance(resume, bool) else latest_checkpoint(checkpoint_dir)
        if path is not None:
            if not Path(path).is_dir():
                raise FileNotFoundError(f"resume checkpoint {path} does not exist")
            restore_checkpoint(model, path)
            if csv_logs is not None:
                csv_logs.truncate_after(model.step)
    if distributed is not None:  # the same start everywhere: the chief's weights, optimizer state and step
        distributed.broadcast(model.checkpoint_variables())
    start = model.step
    if start > total:
        raise ValueError(f"the model has already taken {start} steps, more than the {total} of this run")

    cbs = list(callbacks)
    if csv_logs is not None:
        cbs.append(csv_logs)
    if checkpoint_dir is not None and checkpoint_every and writes:
        cbs.append(StepCheckpoint(checkpoint_dir, checkpoint_every, keep=keep_checkpoints, extra=checkpoint_extra))
    cbs.append(_StopAtEpochEnd())

    history = []
    for epoch, phase, first, end in plan:
        if end <= start:
            continue
        begin = max(first, start)
        if phase == "gan" and model.discriminator is None:
            phase = "generator"
        model.set_phase(phase)
        fit = model.fit(StepBatches(source, begin, end - begin), epochs=len(plan), initial_epoch=epoch,
                        steps_per_epoch=end - begin, callbacks=cbs, verbose=verbose, shuffle=False)
        logs = {k: float(v[-1]) for k, v in fit.history.items() if v}
        history.append({"epoch": epoch + 1, "phase": phase, "step": model.step, **logs})
    if checkpoint_dir is not None and writes and (model.step != start or latest_checkpoint(checkpoint_dir) is None):
        save_checkpoint(model, checkpoint_dir, extra=checkpoint_extra)
    return history
