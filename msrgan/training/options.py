"""The settings of a training run: ``TrainOptions``, their checks, and the run folder.

``TrainOptions`` holds every setting of ``msrgan train`` (the command's long flag names, ``_`` for
``-``), typed, with its default, and is checked whole when made: the types and ranges of
``train_settings()`` (``msrgan.training.config.Setting``), the structured values, and the
combinations no run takes (``check_options``). It is made from keywords, a dict
(``from_dict``), a JSON, TOML or YAML file (``from_file``), or, as ``msrgan train`` does, from
the defaults < a config file < the flags given (``resolve``); ``to_dict`` gives the same keys back,
and ``run_record`` the subset that ``train_config.json`` records. Those methods are
``msrgan.training.config.Options``'s, shared with ``msrgan train-classifier``'s ``ClassifierOptions``.

Example:
    >>> options = TrainOptions(count=8, size=64, pretrain_steps=4, gan_steps=0, out="runs/tiny")
    >>> options.batch_size, options.replace(batch_size=4).batch_size
    (16, 4)
    >>> TrainOptions.from_dict(options.to_dict()) == options
    True
"""

from __future__ import annotations

import dataclasses

from msrgan.training.config import Options, check_common, refuser
from msrgan.training.runs import run_folder

SYNTHETIC_COUNT = 64  # synthetic fields drawn when --count is not given
# Settings a --resume may change: more adversarial steps, logging, compilation and scale-out. Any
# other difference from the run's train_config.json (data, networks, losses, schedule) is refused,
# since the resumed run would no longer continue the same training.
RESUMABLE_CHANGES = frozenset({"gan_steps", "checkpoint_every", "log_every", "verbose", "tensorboard", "grid_images",
                               "out", "jit_compile", "distribute", "coordinator", "num_processes", "process_id",
                               "max_memory", "strict"})
# How this invocation treats OUT, and where its processes run (process_id even differs between
# them): not part of the run, never recorded in train_config.json. A run written by several processes
# then resumes with --config OUT/train_config.json on one device (--distribute none) or on others.
NOT_RECORDED = ("overwrite", "resume", "coordinator", "num_processes", "process_id")


@dataclasses.dataclass(frozen=True)
class TrainOptions(Options):
    """Every setting of a training run; ``msrgan train --help`` says what each one does.

    Values are checked and converted when the options are made (``3.0`` for an integer setting
    becomes ``3``, a path becomes a string); a wrong one raises ``UsageError`` (a ``ValueError``)
    naming the setting and the value, and a ``ValueError`` naming the file too when it came from one.
    Frozen: ``replace(**changes)`` makes checked new options. The methods are ``Options``'s
    (``msrgan.training.config``); OUT of ``resolve`` is ``run_folder``'s.
    """

    COMMAND = "msrgan train"
    NOT_RECORDED = NOT_RECORDED
    resolve_out = staticmethod(run_folder)

    # data
    data: str = "synthetic"  # 'synthetic', 'varied', an image folder or a Hugging Face dataset
    data_params: dict | None = None  # field parameters of msrgan.data.varied
    count: int | None = None  # None: SYNTHETIC_COUNT synthetic fields, or every image of a folder or dataset
    size: int = 256
    channels: int = 3
    bit_depth: int = 8
    seed: int = 0
    val_fraction: float = 0.1
    val_size: int = 128
    degradation: str = "bicubic"
    degradation_params: dict | None = None
    scale: int = 4
    patch_size: int = 96
    batch_size: int = 16
    normalization: str = "percentile"
    augment: bool = True
    max_memory: str | int | None = None  # budget for the decoded images: more streams them (None: half the RAM)
    strict: bool = False  # an unreadable image file stops the run instead of being skipped with a warning
    # networks
    generator: str = "msrgan-x4"  # a zoo name, or a pretrained folder / Hub id to start from
    generator_options: dict | None = None  # overrides of the zoo entry's settings
    discriminator_filters: int = 64
    discriminator_dense: int = 1024
    discriminator_batch_norm: bool = True
    content: str | None = "none"  # NAME[=ARG] of a registered content extractor, or none
    content_layers: str | list | None = None  # comma-separated string or list of layer names
    layer_weights: str | list | None = None  # comma-separated string or list of numbers
    criterion: str = "l2"
    # losses and optimization (alpha, beta, gamma None: the seed's weights for this configuration)
    alpha: float | None = None
    beta: float | None = None
    gamma: float | None = None
    adversarial: str = "lsgan"
    g_lr: float = 1e-4
    d_lr: float = 1e-3
    pretrain_lr: float | None = None  # None: g_lr
    lr_decay: str = "constant"
    pretrain_steps: int = 1000
    gan_steps: int = 1000
    steps_per_epoch: int = 100
    ema: float | None = None
    mixed_precision: str | None = None
    loss_scale: float = 1024.0
    jit_compile: str | bool = "auto"
    # scale-out
    distribute: str = "none"
    coordinator: str | None = None
    num_processes: int | None = None
    process_id: int | None = None
    # outputs
    out: str | None = None
    overwrite: bool = False
    resume: bool = False
    checkpoint_every: int | None = 500  # 0 or None: only the final checkpoint
    log_every: int = 10
    tensorboard: bool = True
    grid_images: int = 4
    verbose: int = 1

    @classmethod
    def settings(cls) -> dict:
        """``train_settings()``."""
        return train_settings()

    @classmethod
    def check(cls, values: dict, origin=None) -> dict:
        """``check_values``: the settings one by one, the structured values and their combinations."""
        return check_values(values, origin)


def train_settings() -> dict:
    """The type and range of every numeric, boolean, choice and plain string setting
    (``msrgan.training.config.Setting``)."""
    from msrgan.data.degrade import DEGRADATIONS
    from msrgan.data.normalize import NORMALIZATIONS
    from msrgan.losses import ADVERSARIAL
    from msrgan.training.config import Setting as S

    def steps(low):
        return S(int, low)

    return {
        "data": S(str), "count": S(int, 1, optional=True), "size": S(int, 32), "channels": S(int, choices=(1, 3, 4)),
        "bit_depth": S(int, choices=(8, 16)), "seed": S(int, 0), "val_fraction": S(float, 0, 1, open_low=True,
                                                                                 open_high=True),
        "val_size": S(int, 8), "degradation": S(str, choices=tuple(DEGRADATIONS)), "scale": S(int, choices=(2, 4, 8)),
        "patch_size": S(int, 8), "batch_size": S(int, 1), "normalization": S(str, choices=tuple(NORMALIZATIONS)),
        "augment": S(bool), "strict": S(bool), "generator": S(str), "discriminator_filters": S(int, 1), "discriminator_dense": S(int, 1),
        "discriminator_batch_norm": S(bool), "content": S(str, optional=True), "criterion": S(str, choices=("l2", "l1")),
        "alpha": S(float, 0, optional=True), "beta": S(float, 0, optional=True), "gamma": S(float, 0, optional=True),
        "adversarial": S(str, choices=tuple(ADVERSARIAL)), "g_lr": S(float, 0, open_low=True),
        "d_lr": S(float, 0, open_low=True), "pretrain_lr": S(float, 0, open_low=True, optional=True),
        "lr_decay": S(str, choices=("constant", "step", "cosine")), "pretrain_steps": steps(0), "gan_steps": steps(0),
        "steps_per_epoch": steps(1), "ema": S(float, 0, 1, optional=True, open_low=True, open_high=True),
        "mixed_precision": S(str, choices=("bfloat16", "float16"), optional=True),
        "loss_scale": S(float, 0, open_low=True), "distribute": S(str, choices=("none", "data-parallel")),
        "coordinator": S(str, optional=True), "num_processes": S(int, 1, optional=True),
        "process_id": S(int, 0, optional=True),
        "checkpoint_every": S(int, 0, optional=True),  # 0 or null: only the final checkpoint
        "log_every": S(int, 1), "tensorboard": S(bool), "grid_images": S(int, 0), "verbose": S(int, 0, 2),
        "overwrite": S(bool), "resume": S(bool), "out": S(str, optional=True),
    }


def check_values(values: dict, origin=None) -> dict:
    """``values`` (settings by name) checked and converted; the one place where settings are checked.

    Args:
        values: Settings by name (a subset: only those given are checked, with the defaults for
            the checks that combine settings).
        origin: ``origin(name) -> str``, where a value came from, for the message
            (``msrgan.training.config.origins``).

    Raises:
        UsageError (a ValueError): naming the setting, where it came from, what it must be and the
            value; a plain ValueError (an input error) when the value came from a config file.
    """
    from msrgan.training.config import check_settings

    refuse = refuser(origin)
    out = check_common(values, refuse)  # paths, a normalization alias, jit_compile
    for name in ("data_params", "degradation_params", "generator_options"):
        value = out.get(name)
        if value is not None and not (isinstance(value, dict) and all(isinstance(k, str) for k in value)):
            refuse(name, f"setting {name} must be a table of KEY = VALUE settings (or null), got {value!r}")
    for name, kind in (("content_layers", str), ("layer_weights", (int, float))):
        value = out.get(name)
        if isinstance(value, tuple):
            out[name] = value = list(value)
        if not (value is None or isinstance(value, str) or (isinstance(value, list) and all(
                isinstance(v, kind) and not isinstance(v, bool) for v in value))):
            what = "layer names" if kind is str else "numbers"
            refuse(name, f"setting {name} must be a comma-separated string or a list of {what} (or null), "
                         f"got {value!r}")
    if out.get("max_memory") is not None:
        from msrgan.data.stream import parse_bytes

        try:
            parse_bytes(out["max_memory"])
        except ValueError as exc:
            refuse("max_memory", f"setting {exc}")
    out = check_settings(out, train_settings(), origin)
    check_options({**TrainOptions.defaults(), **out}, origin)
    return out


def check_options(opt: dict, origin) -> None:
    """Refuses settings that no run takes together, before anything is read: degradation
    parameters the degradation does not take, an unknown content extractor or one without its
    argument, multi-host settings without ``distribute='data-parallel'``, and a process id outside
    ``0 .. num_processes - 1``.

    A usage error (``UsageError``) when the value came from a flag, an input error (``ValueError``)
    when it came from a config file (``origin`` as for ``check_settings``).
    """
    from msrgan.data.degrade import degradation_params
    from msrgan.models.extractors import EXTRACTORS

    refuse = refuser(origin)
    try:
        degradation_params(opt["degradation"], int(opt["scale"]), **(opt["degradation_params"] or {}))
    except ValueError as exc:
        refuse("degradation_params", f"setting degradation_params {opt['degradation_params']!r} of degradation "
                                     f"{opt['degradation']!r}: {exc}")
    kind, _, arg = str(opt["content"] or "none").partition("=")
    if kind.lower() != "none" and (kind not in EXTRACTORS or (EXTRACTORS[kind].needs_arg and not arg)):
        refuse("content", f"setting content {opt['content']!r}: use "
                          + ", ".join(EXTRACTORS.describe(n) for n in EXTRACTORS) + " or none")
    multi = [k for k in ("coordinator", "num_processes", "process_id") if opt[k] is not None]
    if multi and opt["distribute"] != "data-parallel":
        refuse(multi[0], f"setting{'s' if len(multi) > 1 else ''} {'/'.join(multi)} "
                         f"(--{'/--'.join(k.replace('_', '-') for k in multi)}) need{'' if len(multi) > 1 else 's'} "
                         f"--distribute data-parallel, got distribute {opt['distribute']!r}")
    if opt["num_processes"] is not None and opt["process_id"] is not None \
            and not opt["process_id"] < opt["num_processes"]:
        refuse("process_id", f"setting process_id (--process-id) {opt['process_id']} does not fit num_processes "
                             f"(--num-processes) {opt['num_processes']}: process ids run from 0 to "
                             f"{opt['num_processes'] - 1}")


def csv_list(value, cast=str):
    """A list from a comma-separated string (or a list), each item ``cast``; None stays None."""
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        return [cast(v) for v in value]
    return [cast(v.strip()) for v in str(value).split(",") if v.strip()]
