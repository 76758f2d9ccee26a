"""``msrgan train``: train an mSRGAN generator (phase 1 MSE pre-training, phase 2 adversarial).

Example::

    msrgan train --data synthetic --count 64 --generator msrgan-x4-small \\
        --content minivgg19=runs/minivgg19 --pretrain-steps 2000 --gan-steps 1000 --out runs/msrgan
    msrgan upscale --model runs/msrgan ...

Settings come from the defaults, then ``--config FILE`` (JSON, TOML or YAML, long flag names as keys),
then the flags given. ``OUT`` receives the generator in the zoo's pretrained format (so ``OUT`` is
a model folder), ``discriminator/``, ``checkpoints/``, ``logs/`` (``steps.csv``, ``epochs.csv``,
TensorBoard events), ``grids/`` (LR | bicubic | SR | HR per epoch), ``train_config.json`` and
``training.json``.
"""

from __future__ import annotations

import argparse

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


def register(sub) -> None:
    from msrgan.data.degrade import DEGRADATIONS
    from msrgan.losses import ADVERSARIAL
    from msrgan.models.extractors import EXTRACTORS

    p = sub.add_parser(
        "train", help="train an mSRGAN generator (SRResNet pre-training, then adversarial)",
        description="Train an mSRGAN/SRGAN generator on HR images degraded on the fly: phase 1 pre-trains the "
                    "generator on the pixel MSE (SRResNet), phase 2 trains generator and discriminator with "
                    "alpha*MSE + beta*content + gamma*adversarial. Settings: defaults < --config file (JSON/TOML) "
                    "< flags. Runs on the Keras backend of KERAS_BACKEND.")
    d = DEFAULTS
    boolean = argparse.BooleanOptionalAction
    p.add_argument("--config", default=None, help="JSON, TOML or YAML file of settings (long flag names as keys)")
    g = p.add_argument_group("data")
    g.add_argument("--data", default=None, help="'synthetic', 'varied' (randomised acquisitions, msrgan.data.varied), "
                                                "an image folder or a Hugging Face dataset (Hub id or local "
                                                "folder) (default synthetic)")
    g.add_argument("--data-param", action="append", default=None, metavar="KEY=VALUE",
                   help="--data varied only: a field parameter of msrgan.data.varied, e.g. oversampled_prob=0.4 "
                        "or psf=[0.8,2.5] (values as JSON); repeatable")
    g.add_argument("--count", type=int, default=None, help=f"synthetic fields to draw / images to read "
                                                           f"(default {SYNTHETIC_COUNT} synthetic, all otherwise)")
    g.add_argument("--size", type=int, default=None, help=f"synthetic field size (default {d['size']})")
    g.add_argument("--channels", type=int, default=None, help=f"1, 3 or 4 (default {d['channels']})")
    g.add_argument("--bit-depth", type=int, default=None, help="synthetic bit depth, 8 or 16 (default 8)")
    g.add_argument("--seed", type=int, default=None, help="seed of data, split, weights and batches (default 0)")
    g.add_argument("--val-fraction", type=float, default=None, help=f"held-out share for validation "
                                                                    f"(default {d['val_fraction']})")
    g.add_argument("--val-size", type=int, default=None, help=f"side of the validation centre crops "
                                                              f"(default {d['val_size']})")
    g.add_argument("--degradation", choices=tuple(DEGRADATIONS), default=None,
                   help="how LR images are made from HR (default bicubic; random: msrgan.data.degrade_random)")
    g.add_argument("--degradation-param", action="append", default=None, metavar="KEY=VALUE",
                   help="degradation parameter, e.g. microscope: sigma, photons, read_noise, clip; random: "
                        "blur_prob, sigma=[lo,hi], ... (values as JSON); repeatable")
    g.add_argument("--scale", type=int, default=None, help="2, 4 or 8 (default 4)")
    g.add_argument("--patch-size", type=int, default=None, help=f"HR training patch side (default {d['patch_size']})")
    g.add_argument("--batch-size", type=int, default=None, help=f"patches per step (default {d['batch_size']})")
    g.add_argument("--normalization", choices=("percentile", "unit"), default=None,
                   help="per-image percentiles 2/99.8 (default) or the dtype range")
    g.add_argument("--augment", action=boolean, default=None, help="flips/rot90 augmentation (default on)")
    n = p.add_argument_group("networks")
    n.add_argument("--generator", default=None, help=f"zoo name of the generator (default {d['generator']}), or a "
                                                     "pretrained folder / Hub id to start from")
    n.add_argument("--generator-option", action="append", default=None, metavar="KEY=VALUE",
                   help="override a generator setting, e.g. batch_norm=false or num_blocks=8; repeatable")
    n.add_argument("--discriminator-filters", type=int, default=None, help="first conv width (default 64)")
    n.add_argument("--discriminator-dense", type=int, default=None, help="hidden dense units (default 1024)")
    n.add_argument("--discriminator-batch-norm", action=boolean, default=None, help="BatchNorm in D (default on)")
    n.add_argument("--content", default=None, help="content extractor: "
                   + ", ".join(EXTRACTORS.describe(n) for n in EXTRACTORS) + ", or none (default none)")
    n.add_argument("--content-layers", default=None, help="comma-separated taps, e.g. block2,block5 or "
                                                          "block5_conv4 (default block5 / block5_conv4)")
    n.add_argument("--layer-weights", default=None, help="comma-separated weight per content layer (default 1 each)")
    n.add_argument("--criterion", choices=("l2", "l1"), default=None, help="content distance (default l2)")
    o = p.add_argument_group("losses and optimization")
    o.add_argument("--alpha", type=float, default=None, help="weight of the pixel MSE (default 1)")
    o.add_argument("--beta", type=float, default=None,
                   help="weight of the content loss (default: the seed's 0.8 on sums translated to means for this "
                        "patch size and extractor, 1/3 for 96px RGB patches and miniVGG19 block5; docs/training.md)")
    o.add_argument("--gamma", type=float, default=None,
                   help="weight of the adversarial loss (default: the seed's 1e-5 on sums translated likewise, "
                        "9.04e-10 for 96px RGB patches; SRGAN used 1e-3)")
    o.add_argument("--adversarial", choices=tuple(ADVERSARIAL), default=None,
                   help="adversarial loss (default lsgan, the seed's)")
    o.add_argument("--g-lr", type=float, default=None, help=f"generator Adam learning rate in phase 2 "
                                                            f"(default {d['g_lr']})")
    o.add_argument("--d-lr", type=float, default=None, help=f"discriminator Adam learning rate (default {d['d_lr']})")
    o.add_argument("--pretrain-lr", type=float, default=None, help="generator learning rate in phase 1 (its own "
                                                                   "Adam; default: --g-lr)")
    o.add_argument("--lr-decay", choices=("constant", "step", "cosine"), default=None,
                   help="phase 1 learning rate: constant (default); step: 5x lower for the last fifth of phase 1; "
                        "cosine: half cosine down to 5%% of --pretrain-lr")
    o.add_argument("--pretrain-steps", type=int, default=None, help=f"phase 1 steps (default {d['pretrain_steps']})")
    o.add_argument("--gan-steps", type=int, default=None, help=f"phase 2 steps (default {d['gan_steps']})")
    o.add_argument("--steps-per-epoch", type=int, default=None, help=f"steps between validations "
                                                                     f"(default {d['steps_per_epoch']})")
    o.add_argument("--ema", type=float, default=None, metavar="DECAY",
                   help="keep an EMA of the generator weights (e.g. 0.999); the EMA generator is saved")
    o.add_argument("--mixed-precision", choices=("bfloat16", "float16"), default=None,
                   help="mixed precision (GPUs); float16 uses a static loss scale (--loss-scale)")
    o.add_argument("--loss-scale", type=float, default=None, help="static loss scale for float16 (default 1024)")
    o.add_argument("--jit-compile", default=None, help="auto, on or off (default auto)")
    s = p.add_argument_group("scale-out (keras.distribution; JAX backend only)")
    s.add_argument("--distribute", choices=("none", "data-parallel"), default=None,
                   help="data-parallel: replicate the networks on every device (GPUs, TPUs, or the virtual CPUs "
                        "of XLA_FLAGS=--xla_force_host_platform_device_count=N) and split each batch over them; "
                        "--batch-size is the global batch and must be a multiple of the device count "
                        "(default none)")
    s.add_argument("--coordinator", default=None, metavar="HOST:PORT",
                   help="multi-host: address of process 0 (with --num-processes and --process-id)")
    s.add_argument("--num-processes", type=int, default=None, help="multi-host: number of processes (one per host)")
    s.add_argument("--process-id", type=int, default=None, help="multi-host: this process's index, 0 .. N-1")
    r = p.add_argument_group("outputs")
    r.add_argument("--out", default=None, help="output folder (required)")
    r.add_argument("--overwrite", action="store_true", default=None, help="replace an existing run in --out")
    r.add_argument("--resume", action="store_true", default=None,
                   help="continue the run in --out from its latest checkpoint (same settings)")
    r.add_argument("--checkpoint-every", type=int, default=None, help=f"checkpoint interval in steps; 0: only the "
                                                                      f"final one (default {d['checkpoint_every']})")
    r.add_argument("--log-every", type=int, default=None, help="steps.csv / TensorBoard interval (default 10)")
    r.add_argument("--tensorboard", action=boolean, default=None,
                   help="TensorBoard events in OUT/logs (needs TensorFlow installed; default on)")
    r.add_argument("--grid-images", type=int, default=None, help="validation images in each PNG grid (default 4)")
    r.add_argument("--verbose", type=int, default=None, help="Keras verbosity 0, 1 or 2 (default 1)")
    p.set_defaults(func=run)


def _key_values(items, what: str) -> dict | None:
    import json

    if not items:
        return None
    if isinstance(items, dict):
        return items
    out = {}
    for item in items:
        key, sep, value = str(item).partition("=")
        if not sep or not key:
            raise UsageError(f"{what} must be KEY=VALUE, got {item!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def _csv(value, cast=str):
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        return [cast(v) for v in value]
    return [cast(v.strip()) for v in str(value).split(",") if v.strip()]


def run(args) -> int:
    from msrgan.training.config import check_settings, load_config_file, origins, resolve_options

    flags = vars(args).copy()
    flags["degradation_params"] = _key_values(flags.pop("degradation_param", None), "--degradation-param")
    flags["data_params"] = _key_values(flags.pop("data_param", None), "--data-param")
    flags["generator_options"] = _key_values(flags.pop("generator_option", None), "--generator-option")
    file_cfg = load_config_file(args.config) if args.config else None
    opt = resolve_options(DEFAULTS, file_cfg, flags, source=str(args.config))
    opt["out"] = run_folder(args.config, file_cfg, flags.get("out"))
    origin = origins(flags, file_cfg, args.config)
    opt = check_settings(opt, train_settings(), origin)
    _check_options(opt, origin)
    result = train_msrgan(opt)
    print(result["table"])
    print(f"saved the generator to {opt['out']} ({result['seconds']:.0f} s on {result['backend']})")
    return 0


def _check_options(opt: dict, origin) -> None:
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
    if kind.lower() != "none" and (kind not in EXTRACTORS or (kind == "minivgg19" and not arg)):
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


def _check_out(out, opt) -> bool:
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


def _replace_run(stage, out) -> None:
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


def build_generator(spec: str, channels: int, scale: int, options: dict | None):
    """A generator from a zoo name (with overrides), or loaded from a pretrained folder / Hub id.

    Any super-resolution network of the zoo (a ``msrgan.models.base.SRModel``: SRResNet, SRCNN,
    EDSR, PAN, ...) can be trained; other zoo entries (discriminator, classifier) are refused.
    """
    import zoo
    from msrgan.models.base import SRModel

    options = dict(options or {})
    if spec in zoo.list_models():
        builder = zoo.get_entry(spec).builder
        if not (isinstance(builder, type) and issubclass(builder, SRModel)):
            sr = ", ".join(n for n in zoo.list_models()
                           if isinstance(zoo.get_entry(n).builder, type) and issubclass(zoo.get_entry(n).builder, SRModel))
            raise UsageError(f"--generator {spec!r} is a {zoo.describe(spec)['class']}, not a super-resolution "
                             f"network; choose one of: {sr}")
        return zoo.create(spec, channels=channels, scale=scale, **options)
    if options:
        raise UsageError("--generator-option applies to zoo names, not to a pretrained generator")
    g = zoo.from_pretrained(spec)
    if not isinstance(g, SRModel):
        raise ValueError(f"--generator {spec}: a {type(g).__name__}, not a super-resolution network")
    if g.channels != channels or g.scale != scale:
        raise ValueError(f"the generator at {spec} is {g.channels}-channel x{g.scale}; the run is {channels}-channel "
                         f"x{scale}")
    return g


def _distribution(opt: dict):
    """Sets up ``--distribute`` before any network is built; returns the distribution or None."""
    mode = str(opt["distribute"] or "none")
    multi = {k: opt[k] for k in ("coordinator", "num_processes", "process_id") if opt[k] is not None}
    if mode == "none":
        if multi:
            raise UsageError(f"--{'/--'.join(k.replace('_', '-') for k in multi)} need --distribute data-parallel")
        return None
    if mode != "data-parallel":
        raise UsageError(f"--distribute must be 'none' or 'data-parallel', got {mode!r}")
    from msrgan.training.distribute import check_global_batch, enable_data_parallel

    try:  # another backend than JAX, an incomplete multi-host set-up: the command line does not fit
        distribution = enable_data_parallel(coordinator=opt["coordinator"], num_processes=opt["num_processes"],
                                            process_id=opt["process_id"])
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    try:
        check_global_batch(int(opt["batch_size"]), distribution)
    except ValueError as exc:
        import keras

        keras.distribution.set_distribution(None)
        raise UsageError(f"--batch-size: {exc}") from None
    return distribution


def seed_loss_weights(extractor, patch_size: int, channels: int):
    """The seed's loss weights (0.4, 0.8, 1e-5 on sums) as mean-based weights for this configuration.

    ``N_pix = patch_size**2 * channels``; ``N_feat`` sums ``h * w * c`` over the extractor's
    layers for a ``patch_size`` input (``msrgan.losses.LossWeights.from_seed``). Without an
    extractor the pixel count alone sets ``gamma``.
    """
    from msrgan.losses import LossWeights

    n_pix = int(patch_size) ** 2 * int(channels)
    if extractor is not None and hasattr(extractor, "feature_shapes"):
        n_feat = sum(h * w * c for h, w, c in extractor.feature_shapes(patch_size, patch_size))
    else:
        n_feat = 1
    return LossWeights.from_seed(n_pix, max(n_feat, 1))


def train_msrgan(opt: dict) -> dict:
    """Runs a whole ``msrgan train`` from resolved options; returns a summary (and a printable ``table``)."""
    import dataclasses
    import time
    from pathlib import Path

    import keras

    from msrgan.convention import check_channels, check_scale
    from msrgan.data import load_source
    from msrgan.data.patches import PatchDataset, validation_pairs
    from msrgan.models import Discriminator, load_extractor
    from msrgan.training.config import check_settings, data_count, load_config_file, parse_jit, set_precision
    from msrgan.training.evaluation import PSNR_CONVENTION, SSIM_CONVENTION
    from msrgan.training.gan import MSRGAN
    from msrgan.training.trainer import PretrainSchedule

    t0 = time.time()
    opt = check_settings(opt, train_settings())
    if not opt["out"]:
        raise UsageError("out is required: the folder of the trained generator, logs and checkpoints")
    out = Path(opt["out"])
    replace = _check_out(out, opt)
    channels = check_channels(int(opt["channels"]), name="--channels")
    scale = check_scale(int(opt["scale"]), name="--scale")
    if opt["resume"] and (out / "train_config.json").is_file():
        saved = load_config_file(out / "train_config.json")
        changed = sorted(k for k in saved if k not in RESUMABLE_CHANGES and k in opt and saved[k] != opt[k])
        if changed:
            raise ValueError(f"--resume: settings {changed} differ from the run in {out}; resume with the same "
                             "settings (--config OUT/train_config.json)")
    distribution = _distribution(opt)
    policy = set_precision(opt["mixed_precision"])
    keras.utils.set_random_seed(int(opt["seed"]))

    # Data: split by image, so validation fields are never trained on.
    src = load_source(opt["data"], channels=channels, count=data_count(opt["data"], opt["count"], SYNTHETIC_COUNT),
                      size=opt["size"], seed=opt["seed"], field_params=opt["data_params"],
                      bit_depth=opt["bit_depth"])
    # Labels play no part in super-resolution: a plain (not class-stratified) split.
    train_src, val_src = dataclasses.replace(src, labels=None).split(opt["val_fraction"], seed=opt["seed"])
    patch = int(opt["patch_size"])
    train_ds = PatchDataset(train_src.images, patch_size=patch, scale=scale, batch_size=int(opt["batch_size"]),
                            degradation=opt["degradation"], degradation_params=opt["degradation_params"],
                            augment=bool(opt["augment"]), normalization=opt["normalization"],
                            steps_per_epoch=int(opt["steps_per_epoch"]), seed=int(opt["seed"]))
    side = min(min(im.shape[:2]) for im in val_src.images)
    val_side = min(int(opt["val_size"]), side)
    val_side -= val_side % scale
    val_lr, val_hr = validation_pairs(val_src.images, scale=scale, patch_size=val_side,
                                      degradation=opt["degradation"], degradation_params=opt["degradation_params"],
                                      seed=int(opt["seed"]) + 1, normalization=opt["normalization"])

    # Networks.
    generator = build_generator(opt["generator"], channels, scale, opt["generator_options"])
    discriminator = None
    if int(opt["gan_steps"]) > 0 and opt["gamma"] != 0:
        discriminator = Discriminator(channels=channels, filters=int(opt["discriminator_filters"]),
                                      dense_units=int(opt["discriminator_dense"]),
                                      batch_norm=bool(opt["discriminator_batch_norm"]))
    extractor = None
    content = str(opt["content"] or "none")
    if content.lower() != "none":
        extractor = load_extractor(content, channels=channels, layers=_csv(opt["content_layers"]))
    gan = MSRGAN(generator, discriminator, extractor, layer_weights=_csv(opt["layer_weights"], float),
                 criterion=opt["criterion"], ema_decay=opt["ema"])
    pretrain_lr = opt["pretrain_lr"] if opt["pretrain_lr"] is not None else opt["g_lr"]
    schedule = PretrainSchedule(float(pretrain_lr), int(opt["pretrain_steps"]), decay=opt["lr_decay"],
                                final_fraction=0.2 if opt["lr_decay"] == "step" else 0.05)
    seed_weights = seed_loss_weights(extractor, patch, channels)
    beta = opt["beta"] if opt["beta"] is not None else seed_weights.beta
    gamma = opt["gamma"] if opt["gamma"] is not None else seed_weights.gamma
    # Phase 2 starts with fresh Adam moments for G (its own optimizer), as SRGAN starts from SRResNet.
    gan.compile(keras.optimizers.Adam(float(opt["g_lr"])), keras.optimizers.Adam(float(opt["d_lr"])),
                pretrain_optimizer=keras.optimizers.Adam(schedule),
                alpha=opt["alpha"] if opt["alpha"] is not None else 1.0, beta=beta, gamma=gamma,
                adversarial=opt["adversarial"], jit_compile=parse_jit(opt["jit_compile"]),
                loss_scale=float(opt["loss_scale"]) if opt["mixed_precision"] == "float16" else None,
                sample_shape=(patch // scale, patch // scale))

    # Everything that can fail on bad settings has run: only now is OUT touched. A run replacing an
    # earlier one is written into a partial folder inside OUT and swapped in when it has finished.
    from zoo.files import discard, partial_path

    work = partial_path(out / "run", directory=True) if replace else out
    try:
        summary, scores = _fit_and_save(gan, train_ds, opt, work=work, val_lr=val_lr, val_hr=val_hr,
                                        scale=scale, val_side=val_side, src=src, train_src=train_src,
                                        val_src=val_src, extractor=extractor, content=content,
                                        discriminator=discriminator, distribution=distribution, policy=policy, t0=t0)
        if replace:
            _replace_run(work, out)
    except BaseException:
        if replace:
            discard(work)
        raise
    history = summary.pop("history")
    rows = [("method", "PSNR (dB)", "SSIM"),
            ("bicubic", f"{scores['bicubic']['psnr']:.3f}", f"{scores['bicubic']['ssim']:.4f}"),
            ("msrgan", f"{scores['msrgan']['psnr']:.3f}", f"{scores['msrgan']['ssim']:.4f}")]
    table = "\n".join(f"{a:<10}{b:>12}{c:>10}" for a, b, c in rows)
    table = (f"validation on {scores['images']} held-out image(s), {val_side} px crops, x{scale}\n{table}\n"
             f"({PSNR_CONVENTION}; {SSIM_CONVENTION})")
    return {**summary, "table": table, "history": history}


def _fit_and_save(gan, train_ds, opt, *, work, val_lr, val_hr, scale, val_side, src, train_src, val_src, extractor,
                  content, discriminator, distribution, policy, t0):
    """Trains both phases with the run's callbacks, writing into ``work``; returns (summary, final scores)."""
    import time

    import keras

    from msrgan.training.callbacks import TensorBoardLogs, ValidationMonitor
    from msrgan.training.config import write_config
    from msrgan.training.evaluation import PSNR_CONVENTION, SSIM_CONVENTION
    from msrgan.training.trainer import train_gan

    # Callbacks: validation first (it adds val_* to the epoch logs), then the loggers.
    logs_dir = work / "logs"
    tensorboard = TensorBoardLogs(logs_dir, every=int(opt["log_every"])) if opt["tensorboard"] else None
    monitor = ValidationMonitor(val_lr, val_hr, scale=scale, grid_dir=work / "grids",
                                grid_images=int(opt["grid_images"]), tensorboard=tensorboard)
    callbacks = [monitor] + ([tensorboard] if tensorboard is not None and tensorboard.available else [])
    config_to_save = {k: v for k, v in opt.items() if k not in ("overwrite", "resume", "config")}
    write_config(work / "train_config.json", config_to_save)

    history = train_gan(gan, train_ds, pretrain_steps=int(opt["pretrain_steps"]), gan_steps=int(opt["gan_steps"]),
                        steps_per_epoch=int(opt["steps_per_epoch"]), callbacks=callbacks,
                        checkpoint_dir=work / "checkpoints", checkpoint_every=opt["checkpoint_every"],
                        resume=bool(opt["resume"]), log_dir=logs_dir, log_every=int(opt["log_every"]),
                        verbose=int(opt["verbose"]),
                        checkpoint_extra={"train_config": config_to_save})

    # Final validation of the saved generator (the EMA one when kept).
    from msrgan.training.evaluation import evaluate_generator

    keras.config.set_dtype_policy("float32")
    final = gan.ema_generator()
    scores = evaluate_generator(final, val_lr, val_hr, scale=scale)
    seconds = time.time() - t0
    last = history[-1] if history else {}
    summary = {
        "backend": keras.backend.backend(), "dtype_policy": policy, "seconds": round(seconds, 1), "steps": gan.step,
        "pretrain_steps": int(opt["pretrain_steps"]), "gan_steps": int(opt["gan_steps"]),
        "final_epoch": {k: v for k, v in last.items() if isinstance(v, (int, float, str))},
        "validation": {"msrgan": scores["msrgan"], "bicubic": scores["bicubic"], "images": scores["images"],
                       "crop": val_side, "convention": f"{PSNR_CONVENTION}; {SSIM_CONVENTION}"},
        "losses": {"alpha": gan.alpha, "beta": gan.beta, "gamma": gan.gamma, "adversarial": gan.adversarial,
                   "criterion": gan.criterion, "layer_weights": gan.layer_weights,
                   "content": content, "content_layers": list(extractor.layer_names) if extractor else []},
        "data": {"spec": opt["data"], "kind": src.kind, "train_images": len(train_src), "val_images": len(val_src),
                 "patches": train_ds.get_config()},
        "ema": opt["ema"], "seed": int(opt["seed"]),
        "distribute": {"mode": str(opt["distribute"] or "none"),
                       "devices": int(distribution.device_mesh.devices.size) if distribution is not None else 1},
    }
    # _check_out has already refused to touch an existing run without --overwrite or --resume.
    card_metrics = {"psnr": scores["msrgan"]["psnr"], "ssim": scores["msrgan"]["ssim"],
                    "bicubic_psnr": scores["bicubic"]["psnr"], "bicubic_ssim": scores["bicubic"]["ssim"]}
    evaluation = {"data": str(opt["data"]), "split": "validation (held out by image)", "images": scores["images"],
                  "crop": val_side}
    final.save_pretrained(work, metadata={"training": summary, "metrics": card_metrics, "evaluation": evaluation},
                          overwrite=True)
    if discriminator is not None:
        discriminator.save_pretrained(work / "discriminator", overwrite=True,
                                      metadata={"training": {"backend": summary["backend"], "steps": gan.step}})
    write_config(work / "training.json", {**summary, "history": history})
    return {**summary, "history": history}, scores
