"""The training pipeline of ``msrgan train``, as a library function: ``train(options)``.

``options`` is a ``msrgan.training.options.TrainOptions``, checked when it was made. The networks
are built and the content extractor loaded before the output folder is touched; the run is written
beside OUT and swapped in when complete, so an earlier run survives a failure.

Example:
    >>> from msrgan.training.options import TrainOptions
    >>> from msrgan.training.pipeline import train
    >>> options = TrainOptions(count=4, size=32, patch_size=16, pretrain_steps=2, gan_steps=0, out="runs/tiny")
    >>> result = train(options)  # doctest: +SKIP
    >>> print(result["table"])  # doctest: +SKIP
"""

from __future__ import annotations

from msrgan.errors import UsageError
from msrgan.seeding import set_random_seed
from msrgan.training.options import RESUMABLE_CHANGES, SYNTHETIC_COUNT, TrainOptions, csv_list
from msrgan.training.runs import prepare_out, replace_run


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


def _distribution(options: TrainOptions):
    """Sets ``distribute`` up before anything else (it says which process writes); the
    ``DataParallel`` in effect, or None. Settings that do not fit are usage errors naming them."""
    from msrgan.training.config import parse_jit
    from msrgan.training.distribute import check_single_process, enable_data_parallel

    try:  # an incomplete multi-process set-up, flags against the launcher's environment
        if options.distribute == "none":
            check_single_process()
            return None
        distribution = enable_data_parallel(coordinator=options.coordinator, num_processes=options.num_processes,
                                            process_id=options.process_id)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    try:
        distribution.check_batch(options.batch_size)
        if not distribution.compiles_step and str(options.jit_compile).lower() != "auto" \
                and parse_jit(options.jit_compile):
            raise ValueError(f"--jit-compile {options.jit_compile}: {distribution.engine} over "
                             f"{distribution.devices} devices cannot compile the train step; use --jit-compile off "
                             "(auto is off here)")
    except ValueError as exc:
        distribution.close()
        raise UsageError(f"--batch-size: {exc}" if str(exc).startswith("batch size") else str(exc)) from None
    if options.verbose and distribution.is_chief:
        note = " (PyTorch: launch one process per device with torchrun --nproc_per_node N)" \
            if distribution.devices == 1 and distribution.engine == "torch.distributed" else ""
        print(f"data-parallel: {distribution.engine}, {distribution.devices} device(s) in "
              f"{distribution.num_processes} process(es){note}")
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


def train(options: TrainOptions) -> dict:
    """Runs a whole training (``msrgan train``); returns a summary (and a printable ``table``).

    Args:
        options: The run's settings; ``options.out`` is required.

    Returns:
        The summary written to ``OUT/training.json`` (backend, steps, losses, validation scores,
        data), its ``history``, ``table``: the final validation against bicubic, as text, and
        ``chief``: whether this process wrote the run (False on the other processes of a
        data-parallel run, which compute the same but write nothing).
    """
    import time

    if not isinstance(options, TrainOptions):
        raise TypeError(f"options must be TrainOptions (TrainOptions.from_dict makes them from a dict), "
                        f"got {type(options).__name__}")
    t0 = time.time()
    o = options
    if not o.out:
        raise UsageError("out is required: the folder of the trained generator, logs and checkpoints")
    distribution = _distribution(o)
    try:
        result = _run(o, distribution, t0)
        if distribution is not None:
            distribution.barrier()  # every process waits until the chief has written the run
        return result
    finally:
        if distribution is not None:
            distribution.close()


def _run(o: TrainOptions, distribution, t0: float) -> dict:
    """``train`` once ``distribute`` is set up: every process computes, only the chief writes."""
    import contextlib
    import dataclasses
    from pathlib import Path

    import keras

    from msrgan.data.patches import validation_pairs
    from msrgan.data.stream import open_training_source, training_patches
    from msrgan.training.config import data_count, load_config_file, parse_jit, set_precision
    from msrgan.training.evaluation import PSNR_CONVENTION, SSIM_CONVENTION

    chief = distribution is None or distribution.is_chief
    out = Path(o.out)
    replace = prepare_out(out, resume=o.resume, overwrite=o.overwrite) if chief else False
    channels, scale, patch = o.channels, o.scale, o.patch_size
    if chief and o.resume and (out / "train_config.json").is_file():
        saved, current = load_config_file(out / "train_config.json"), o.to_dict()
        changed = sorted(k for k in saved if k not in RESUMABLE_CHANGES and k in current and saved[k] != current[k])
        if changed:
            raise ValueError(f"--resume: settings {changed} differ from the run in {out}; resume with the same "
                             "settings (--config OUT/train_config.json)")
    policy = set_precision(o.mixed_precision)
    set_random_seed(o.seed)  # without importing TensorFlow on the other backends

    # Data: in memory when it fits max_memory, streamed from the files otherwise (said in one line).
    # Split by image, so validation fields are never trained on.
    src = open_training_source(o.data, max_memory=o.max_memory, channels=channels,
                               count=data_count(o.data, o.count, SYNTHETIC_COUNT), size=o.size, seed=o.seed,
                               field_params=o.data_params, bit_depth=o.bit_depth, strict=o.strict)
    if o.verbose and chief and src.kind != "synthetic":
        print(src.info["loading"])
    if hasattr(src, "patch_dataset"):  # a streamed Hugging Face dataset: its first images are held out
        train_src, val_src = src.split(o.val_fraction)
    else:  # labels play no part in super-resolution: a plain (not class-stratified) split
        train_src, val_src = dataclasses.replace(src, labels=None).split(o.val_fraction, seed=o.seed)
    train_ds = training_patches(train_src, patch_size=patch, scale=scale, batch_size=o.batch_size,
                                degradation=o.degradation, degradation_params=o.degradation_params,
                                augment=o.augment, normalization=o.normalization,
                                steps_per_epoch=o.steps_per_epoch, seed=o.seed)
    side = min(min(im.shape[:2]) for im in val_src.images)
    val_side = min(o.val_size, side)
    val_side -= val_side % scale
    val_lr, val_hr = validation_pairs(val_src.images, scale=scale, patch_size=val_side, degradation=o.degradation,
                                      degradation_params=o.degradation_params, seed=o.seed + 1,
                                      normalization=o.normalization)

    # Networks, made where the engine wants them (a tf.distribute strategy's scope).
    scope = distribution.scope() if distribution is not None else contextlib.nullcontext()
    with scope:
        gan, discriminator, extractor, content = _networks(o, parse_jit(o.jit_compile) and (
            distribution is None or distribution.compiles_step))

    # Everything that can fail on bad settings has run: only now is OUT touched (by the chief). A run
    # replacing an earlier one is written into a partial folder inside OUT and swapped in when it has finished.
    from zoo.files import discard, partial_path

    work = partial_path(out / "run", directory=True) if replace else out
    try:
        summary, scores = _fit_and_save(gan, train_ds, o, work=work, val_lr=val_lr, val_hr=val_hr,
                                        scale=scale, val_side=val_side, src=src, train_src=train_src,
                                        val_src=val_src, extractor=extractor, content=content,
                                        discriminator=discriminator, distribution=distribution, policy=policy, t0=t0)
        if replace:
            replace_run(work, out)
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
    return {**summary, "table": table, "history": history, "chief": chief}


def _networks(o: TrainOptions, jit_compile: bool):
    """The compiled ``MSRGAN`` of the run, its discriminator, extractor and content spec."""
    import keras

    from msrgan.models import Discriminator, load_extractor
    from msrgan.training.gan import MSRGAN
    from msrgan.training.trainer import PretrainSchedule

    channels, scale, patch = o.channels, o.scale, o.patch_size
    generator = build_generator(o.generator, channels, scale, o.generator_options)
    discriminator = None
    if o.gan_steps > 0 and o.gamma != 0:
        discriminator = Discriminator(channels=channels, filters=o.discriminator_filters,
                                      dense_units=o.discriminator_dense, batch_norm=o.discriminator_batch_norm)
    extractor = None
    content = str(o.content or "none")
    if content.lower() != "none":
        extractor = load_extractor(content, channels=channels, layers=csv_list(o.content_layers))
    gan = MSRGAN(generator, discriminator, extractor, layer_weights=csv_list(o.layer_weights, float),
                 criterion=o.criterion, ema_decay=o.ema)
    pretrain_lr = o.pretrain_lr if o.pretrain_lr is not None else o.g_lr
    schedule = PretrainSchedule(pretrain_lr, o.pretrain_steps, decay=o.lr_decay,
                                final_fraction=0.2 if o.lr_decay == "step" else 0.05)
    seed_weights = seed_loss_weights(extractor, patch, channels)
    beta = o.beta if o.beta is not None else seed_weights.beta
    gamma = o.gamma if o.gamma is not None else seed_weights.gamma
    # Phase 2 starts with fresh Adam moments for G (its own optimizer), as SRGAN starts from SRResNet.
    gan.compile(keras.optimizers.Adam(o.g_lr), keras.optimizers.Adam(o.d_lr),
                pretrain_optimizer=keras.optimizers.Adam(schedule),
                alpha=o.alpha if o.alpha is not None else 1.0, beta=beta, gamma=gamma,
                adversarial=o.adversarial, jit_compile=jit_compile,
                loss_scale=o.loss_scale if o.mixed_precision == "float16" else None,
                sample_shape=(patch // scale, patch // scale))
    return gan, discriminator, extractor, content


def train_msrgan(options: TrainOptions | dict) -> dict:
    """``train``, also taking the settings as a dict (``TrainOptions.from_dict``; missing ones keep
    their defaults), as scripts written before ``TrainOptions`` do."""
    return train(options if isinstance(options, TrainOptions) else TrainOptions.from_dict(options))


def _fit_and_save(gan, train_ds, o: TrainOptions, *, work, val_lr, val_hr, scale, val_side, src, train_src, val_src, extractor,
                  content, discriminator, distribution, policy, t0):
    """Trains both phases with the run's callbacks, writing into ``work`` (the chief alone); returns
    (summary, final scores)."""
    import time

    import keras

    from msrgan.training.config import write_config
    from msrgan.training.evaluation import PSNR_CONVENTION, SSIM_CONVENTION
    from msrgan.training.logs import TensorBoardLogs
    from msrgan.training.trainer import train_gan
    from msrgan.training.validation import ValidationMonitor

    # Callbacks: validation first (it adds val_* to the epoch logs), then the loggers. Every process
    # validates (the same numbers; JAX runs every computation on all hosts); the chief alone writes.
    chief = distribution is None or distribution.is_chief
    logs_dir = work / "logs"
    tensorboard = TensorBoardLogs(logs_dir, every=o.log_every) if o.tensorboard and chief else None
    monitor = ValidationMonitor(val_lr, val_hr, scale=scale, grid_dir=work / "grids" if chief else None,
                                grid_images=o.grid_images, tensorboard=tensorboard)
    callbacks = [monitor] + ([tensorboard] if tensorboard is not None and tensorboard.available else [])
    config_to_save = o.run_record()
    if chief:
        write_config(work / "train_config.json", config_to_save)

    history = train_gan(gan, train_ds, pretrain_steps=o.pretrain_steps, gan_steps=o.gan_steps,
                        steps_per_epoch=o.steps_per_epoch, callbacks=callbacks,
                        checkpoint_dir=work / "checkpoints", checkpoint_every=o.checkpoint_every,
                        resume=o.resume, log_dir=logs_dir, log_every=o.log_every,
                        verbose=o.verbose if chief else 0, distributed=distribution,
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
        "pretrain_steps": o.pretrain_steps, "gan_steps": o.gan_steps,
        "final_epoch": {k: v for k, v in last.items() if isinstance(v, (int, float, str))},
        "validation": {"msrgan": scores["msrgan"], "bicubic": scores["bicubic"], "images": scores["images"],
                       "crop": val_side, "convention": f"{PSNR_CONVENTION}; {SSIM_CONVENTION}"},
        "losses": {"alpha": gan.alpha, "beta": gan.beta, "gamma": gan.gamma, "adversarial": gan.adversarial,
                   "criterion": gan.criterion, "layer_weights": gan.layer_weights,
                   "content": content, "content_layers": list(extractor.layer_names) if extractor else []},
        "data": {"spec": o.data, "kind": src.kind, "streaming": bool(src.info.get("streaming")),
                 "train_images": getattr(train_src, "num_examples", None) if hasattr(train_src, "patch_dataset")
                 else len(train_src), "val_images": len(val_src),
                 "patches": train_ds.get_config()},
        "ema": o.ema, "seed": o.seed,
        "distribute": {"mode": o.distribute, **(distribution.describe() if distribution is not None else
                                                 {"devices": 1})},
    }
    if not chief:
        return {**summary, "history": history}, scores
    # prepare_out has already refused to touch an existing run without --overwrite or --resume.
    card_metrics = {"psnr": scores["msrgan"]["psnr"], "ssim": scores["msrgan"]["ssim"],
                    "bicubic_psnr": scores["bicubic"]["psnr"], "bicubic_ssim": scores["bicubic"]["ssim"]}
    evaluation = {"data": o.data, "split": "validation (held out by image)", "images": scores["images"],
                  "crop": val_side}
    final.save_pretrained(work, metadata={"training": summary, "metrics": card_metrics, "evaluation": evaluation},
                          overwrite=True)
    if discriminator is not None:
        discriminator.save_pretrained(work / "discriminator", overwrite=True,
                                      metadata={"training": {"backend": summary["backend"], "steps": gan.step}})
    write_config(work / "training.json", {**summary, "history": history})
    return {**summary, "history": history}, scores
