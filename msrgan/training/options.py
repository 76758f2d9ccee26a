"""The settings of a training run: defaults, types and ranges, checks, and the run folder.

``DEFAULTS`` holds every setting of ``msrgan train`` (the command's long flag names, ``_`` for
``-``); ``train_settings()`` their types and ranges for ``msrgan.training.config.check_settings``;
``check_options`` refuses degradation parameters and content extractors that no run takes before
anything is read; ``run_folder`` finds OUT for a run's own config file; ``prepare_out`` and
``replace_run`` keep an earlier run whole until a new one is complete.
"""

from __future__ import annotations

from msrgan.errors import UsageError

SYNTHETIC_COUNT = 64  # synthetic fields drawn when --count is not given
# Settings a --resume may change: more adversarial steps, logging, compilation and scale-out. Any
# other difference from the run's train_config.json (data, networks, losses, schedule) is refused,
# since the resumed run would no longer continue the same training.
RESUMABLE_CHANGES = frozenset({"gan_steps", "checkpoint_every", "log_every", "verbose", "tensorboard", "grid_images",
                               "out", "jit_compile", "distribute", "coordinator", "num_processes", "process_id"})

DEFAULTS = {
    # data
    "data": "synthetic", "data_params": None, "count": None, "size": 256, "channels": 3, "bit_depth": 8, "seed": 0,
    "val_fraction": 0.1,
    "val_size": 128, "degradation": "bicubic", "degradation_params": None, "scale": 4, "patch_size": 96,
    "batch_size": 16, "normalization": "percentile", "augment": True,
    # networks
    "generator": "msrgan-x4", "generator_options": None, "discriminator_filters": 64, "discriminator_dense": 1024,
    "discriminator_batch_norm": True, "content": "none", "content_layers": None, "layer_weights": None,
    "criterion": "l2",
    # losses and optimization
    "alpha": None, "beta": None, "gamma": None, "adversarial": "lsgan", "g_lr": 1e-4, "d_lr": 1e-3,
    "pretrain_lr": None, "lr_decay": "constant", "pretrain_steps": 1000, "gan_steps": 1000, "steps_per_epoch": 100, "ema": None,
    "mixed_precision": None, "loss_scale": 1024.0, "jit_compile": "auto",
    # scale-out
    "distribute": "none", "coordinator": None, "num_processes": None, "process_id": None,
    # outputs
    "out": None, "overwrite": False, "resume": False, "checkpoint_every": 500, "log_every": 10, "tensorboard": True,
    "grid_images": 4, "verbose": 1,
}


# Everything a run writes into OUT; --overwrite replaces exactly these entries (other files stay).
RUN_ENTRIES = ("checkpoints", "logs", "grids", "discriminator", "training.json", "train_config.json",
               "config.json", "model.safetensors", "README.md")
RUN_MARKERS = ("config.json", "checkpoints", "training.json", "train_config.json", "logs")  # OUT holds a run


def train_settings() -> dict:
    """The type and range of every numeric, boolean and choice setting (``msrgan.training.config.Setting``)."""
    from msrgan.data.degrade import DEGRADATIONS
    from msrgan.losses import ADVERSARIAL
    from msrgan.training.config import Setting as S

    def steps(low):
        return S(int, low)

    return {
        "count": S(int, 1, optional=True), "size": S(int, 32), "channels": S(int, choices=(1, 3, 4)),
        "bit_depth": S(int, choices=(8, 16)), "seed": S(int, 0), "val_fraction": S(float, 0, 1, open_low=True,
                                                                                 open_high=True),
        "val_size": S(int, 8), "degradation": S(str, choices=tuple(DEGRADATIONS)), "scale": S(int, choices=(2, 4, 8)),
        "patch_size": S(int, 8), "batch_size": S(int, 1), "normalization": S(str, choices=("percentile", "unit")),
        "augment": S(bool), "generator": S(str), "discriminator_filters": S(int, 1), "discriminator_dense": S(int, 1),
        "discriminator_batch_norm": S(bool), "content": S(str, optional=True), "criterion": S(str, choices=("l2", "l1")),
        "alpha": S(float, 0, optional=True), "beta": S(float, 0, optional=True), "gamma": S(float, 0, optional=True),
        "adversarial": S(str, choices=tuple(ADVERSARIAL)), "g_lr": S(float, 0, open_low=True),
        "d_lr": S(float, 0, open_low=True), "pretrain_lr": S(float, 0, open_low=True, optional=True),
        "lr_decay": S(str, choices=("constant", "step", "cosine")), "pretrain_steps": steps(0), "gan_steps": steps(0),
        "steps_per_epoch": steps(1), "ema": S(float, 0, 1, optional=True, open_low=True, open_high=True),
        "mixed_precision": S(str, choices=("bfloat16", "float16"), optional=True),
        "loss_scale": S(float, 0, open_low=True), "distribute": S(str, choices=("none", "data-parallel")),
        "num_processes": S(int, 1, optional=True), "process_id": S(int, 0, optional=True),
        "checkpoint_every": S(int, 0, optional=True),  # 0 or null: only the final checkpoint "log_every": S(int, 1), "tensorboard": S(bool),
        "grid_images": S(int, 0), "verbose": S(int, 0, 2), "overwrite": S(bool), "resume": S(bool),
        "out": S(str, optional=True),
    }


def check_options(opt: dict, origin) -> None:
    """Refuses degradation parameters or a content extractor that no run takes, before anything is read.

    A usage error (``UsageError``) when the value came from a flag, an input error (``ValueError``)
    when it came from a config file (``origin`` as for ``check_settings``).
    """
    from msrgan.data.degrade import degradation_params
    from msrgan.models.extractors import EXTRACTORS

    def refuse(name: str, message: str):
        where = origin(name)
        raise (ValueError if where.startswith("config file") else UsageError)(f"{message} (from {where})")

    try:
        degradation_params(opt["degradation"], int(opt["scale"]), **(opt["degradation_params"] or {}))
    except ValueError as exc:
        refuse("degradation_params", f"degradation {opt['degradation']!r}: {exc}")
    kind, _, arg = str(opt["content"] or "none").partition("=")
    if kind.lower() != "none" and (kind not in EXTRACTORS or (EXTRACTORS[kind].needs_arg and not arg)):
        refuse("content", f"content extractor {opt['content']!r}: use "
                          + ", ".join(EXTRACTORS.describe(n) for n in EXTRACTORS) + " or none")


def run_folder(config_path, file_config: dict | None, out_flag) -> str | None:
    """OUT of a run: ``--out`` when given; else, for a run's own ``train_config.json``, the folder it lies in.

    A config file that records an ``out`` other than its own folder (a run copied with ``cp -r``) is
    refused unless ``--out`` says where to write: resuming through it must never write into the
    original run.
    """
    from pathlib import Path

    if out_flag is not None:
        return str(out_flag)
    recorded = (file_config or {}).get("out")
    if recorded is None:
        raise UsageError("--out is required: the folder of the trained generator, logs and checkpoints")
    folder = Path(config_path).resolve().parent
    if Path(str(recorded)).expanduser().resolve() != folder:
        raise ValueError(f"{config_path} records out={recorded!r} but lies in {folder} (a copied run?); pass "
                         f"--out {folder} to use the run in this folder, or --out {recorded} for the original")
    return str(folder)


def prepare_out(out, opt) -> bool:
    """Refuses an OUT that cannot take this run; True when it holds an earlier run to replace (--overwrite).

    Nothing is written or removed here: the earlier run is replaced only when the new one has finished.
    """
    from msrgan.training.callbacks import latest_checkpoint, read_checkpoint_state

    if out.exists() and not out.is_dir():
        raise FileExistsError(f"--out {out} is a file, not a folder")
    if opt["resume"]:
        latest = latest_checkpoint(out / "checkpoints")
        if latest is None:
            raise FileNotFoundError(f"--resume: {out / 'checkpoints'} holds no checkpoint to continue from")
        read_checkpoint_state(latest)  # a truncated checkpoint is named before anything is written
        return False
    if not out.exists() or not any((out / n).exists() for n in RUN_MARKERS):
        return False
    if not opt["overwrite"]:
        raise FileExistsError(f"{out} already holds a training run; pass --overwrite to replace it or --resume to "
                              "continue it")
    return True


def replace_run(stage, out) -> None:
    """Moves the finished run in ``stage`` into ``out`` in place of the earlier run's entries (``RUN_ENTRIES``)."""
    import os

    from zoo.files import discard, partial_path

    old = partial_path(out / "replaced-run", directory=True)
    for name in RUN_ENTRIES:
        if (out / name).exists():
            os.replace(out / name, old / name)
    for entry in sorted(stage.iterdir()):
        os.replace(entry, out / entry.name)
    discard(stage)
    discard(old)


def csv_list(value, cast=str):
    """A list from a comma-separated string (or a list), each item ``cast``; None stays None."""
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        return [cast(v) for v in value]
    return [cast(v.strip()) for v in str(value).split(",") if v.strip()]
