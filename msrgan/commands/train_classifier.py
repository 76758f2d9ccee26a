"""``msrgan train-classifier``: train the miniVGG19 microscopy classifier (the content-loss extractor).

Example::

    msrgan train-classifier --data synthetic --count 520 --size 64 --crop 64 --width 0.125 \\
        --steps 600 --out runs/minivgg19
    msrgan train --content minivgg19=runs/minivgg19 ...
"""

from __future__ import annotations

from msrgan.errors import UsageError

SYNTHETIC_COUNT = 520  # synthetic fields drawn when --count is not given

DEFAULTS = {
    "data": "synthetic", "count": None, "size": 64, "channels": 3, "seed": 0, "val_fraction": 0.2,
    "normalization": "percentile", "crop": 64, "width": 0.25, "dropout": 0.3, "steps": 600,
    "steps_per_epoch": 100, "batch_size": 32, "lr": 2e-3, "augment": True, "jit_compile": "auto",
    "mixed_precision": None, "out": None, "overwrite": False, "verbose": 1,
}


def register(sub) -> None:
    p = sub.add_parser(
        "train-classifier",
        help="train the miniVGG19 microscopy classifier (content-loss extractor)",
        description="Train MiniVGG19 on labelled microscopy images (synthetic fields, a CYTO2017-layout folder or "
                    "a Hugging Face dataset); report validation top-1 accuracy and the confusion matrix; save it in "
                    "the zoo's pretrained format, usable as `msrgan train --content minivgg19=OUT`. Settings come "
                    "from the defaults, then --config (JSON, TOML or YAML), then the flags given.")
    d = DEFAULTS
    p.add_argument("--config", default=None, help="JSON, TOML or YAML file of settings (long flag names as keys)")
    p.add_argument("--data", default=None, help=f"'synthetic', a folder or a Hub dataset id (default {d['data']})")
    p.add_argument("--count", type=int, default=None, help=f"synthetic fields to draw / images to read "
                                                           f"(default {SYNTHETIC_COUNT} synthetic, all otherwise)")
    p.add_argument("--size", type=int, default=None, help=f"synthetic field size in pixels (default {d['size']})")
    p.add_argument("--channels", type=int, default=None, help=f"1, 3 or 4 (default {d['channels']})")
    p.add_argument("--seed", type=int, default=None, help=f"seed of data, split, weights, batches (default {d['seed']})")
    p.add_argument("--val-fraction", type=float, default=None, help=f"stratified validation share "
                                                                    f"(default {d['val_fraction']})")
    p.add_argument("--normalization", choices=("percentile", "unit"), default=None,
                   help="percentile (per image 2/99.8, as the GAN's patches) or unit (dtype range)")
    p.add_argument("--crop", type=int, default=None, help=f"training crop / validation centre crop side "
                                                          f"(default {d['crop']})")
    p.add_argument("--width", type=float, default=None, help=f"MiniVGG19 width multiplier (default {d['width']})")
    p.add_argument("--dropout", type=float, default=None, help=f"dropout before the classifier (default {d['dropout']})")
    p.add_argument("--steps", type=int, default=None, help=f"training steps (default {d['steps']})")
    p.add_argument("--steps-per-epoch", type=int, default=None, help=f"steps between validations "
                                                                     f"(default {d['steps_per_epoch']})")
    p.add_argument("--batch-size", type=int, default=None, help=f"crops per step (default {d['batch_size']})")
    p.add_argument("--lr", type=float, default=None, help=f"Adam learning rate, cosine-decayed (default {d['lr']})")
    p.add_argument("--augment", action=_bool_action(), default=None, help="flips/rot90 augmentation (default on)")
    p.add_argument("--jit-compile", default=None, help="auto, on or off (default auto)")
    p.add_argument("--mixed-precision", choices=("bfloat16", "float16"), default=None,
                   help="mixed-precision training (GPUs); weights stay float32")
    p.add_argument("--out", default=None, help="output folder of the trained model (required)")
    p.add_argument("--overwrite", action="store_true", default=None, help="replace an existing model in --out")
    p.add_argument("--verbose", type=int, default=None, help="Keras verbosity 0, 1 or 2 (default 1)")
    p.set_defaults(func=run)


def _bool_action():
    import argparse

    return argparse.BooleanOptionalAction


def run(args) -> int:
    from pathlib import Path

    from msrgan.training.config import load_config_file, resolve_options

    file_cfg = load_config_file(args.config) if args.config else None
    opt = resolve_options(DEFAULTS, file_cfg, vars(args), source=str(args.config))
    if not opt["out"]:
        raise UsageError("--out is required: the folder to save the trained classifier in")
    out = Path(opt["out"])
    if (out / "config.json").exists() and not opt["overwrite"]:
        raise FileExistsError(f"{out} already holds a model; pass --overwrite to replace it")
    report = train_and_save(opt, out)
    print(report["text"])
    print(f"saved the classifier to {out} (val top-1 {report['accuracy']:.4f}, {report['seconds']:.0f} s); "
          f"use it with: msrgan train --content minivgg19={out}")
    return 0


def train_and_save(opt: dict, out) -> dict:
    """Loads the data, trains, saves the model and ``report.json``; returns the report (plus ``text``)."""
    import time
    from pathlib import Path

    import keras

    from msrgan.data import load_source
    from msrgan.training.classifier import format_confusion, prepare_images, train_classifier
    from msrgan.training.config import data_count, parse_jit, set_precision, write_config

    t0 = time.time()
    out = Path(out)
    policy = set_precision(opt["mixed_precision"])
    src = load_source(opt["data"], channels=opt["channels"], count=data_count(opt["data"], opt["count"], SYNTHETIC_COUNT),
                      size=opt["size"], seed=opt["seed"])
    if src.labels is None:
        raise ValueError(f"data {opt['data']!r} has no class labels; the classifier needs labelled images "
                         "(class subfolders, CYTO2017 names or a labelled dataset)")
    train, val = src.split(opt["val_fraction"], seed=opt["seed"])
    x_train = prepare_images(train.images, opt["normalization"])
    x_val = prepare_images(val.images, opt["normalization"])
    model, report = train_classifier(
        x_train, train.labels, x_val, val.labels, class_names=src.class_names, crop=opt["crop"], width=opt["width"],
        dropout=opt["dropout"], steps=opt["steps"], steps_per_epoch=opt["steps_per_epoch"],
        batch_size=opt["batch_size"], learning_rate=opt["lr"], seed=opt["seed"], augment=opt["augment"],
        jit_compile=parse_jit(opt["jit_compile"]), verbose=opt["verbose"])
    seconds = time.time() - t0
    summary = {"val_accuracy": report["accuracy"], "per_class_accuracy": report["per_class_accuracy"],
               "confusion_matrix": report["confusion_matrix"], "class_names": report["class_names"],
               "val_images": report["images"], "train_images": len(train), "seconds": round(seconds, 1),
               "backend": keras.backend.backend(), "dtype_policy": policy,
               "data": {"spec": opt["data"], "kind": src.kind, **({"synthetic": src.info} if src.kind == "synthetic"
                                                                   else {})},
               "options": {k: v for k, v in opt.items() if k not in ("out", "overwrite", "verbose", "config")}}
    keras.config.set_dtype_policy("float32")
    model.save_pretrained(out, metadata={"class_names": list(src.class_names), "training": summary},
                          overwrite=bool(opt.get("overwrite")))
    write_config(out / "train_config.json", {k: v for k, v in opt.items() if k not in ("overwrite",)})
    write_config(out / "report.json", summary)
    report = dict(report)
    report["seconds"] = seconds
    report["text"] = format_confusion(report)
    return report
