"""``msrgan train-classifier``: train the miniVGG19 microscopy classifier (the content-loss extractor).

Example::

    msrgan train-classifier --data synthetic --count 520 --size 64 --crop 64 --width 0.125 \\
        --steps 600 --out runs/minivgg19
    msrgan train --content minivgg19=runs/minivgg19 ...
"""

from __future__ import annotations

from msrgan.errors import UsageError


def register(sub) -> None:
    from msrgan.data.normalize import NORMALIZATIONS
    from msrgan.training.classifier import SYNTHETIC_COUNT, ClassifierOptions

    p = sub.add_parser(
        "train-classifier",
        help="train the miniVGG19 microscopy classifier (content-loss extractor)",
        description="Train MiniVGG19 on labelled microscopy images (synthetic fields, a CYTO2017-layout folder or "
                    "a Hugging Face dataset); report validation top-1 accuracy and the confusion matrix; save it in "
                    "the zoo's pretrained format, usable as `msrgan train --content minivgg19=OUT`. Settings come "
                    "from the defaults, then --config (JSON, TOML or YAML), then the flags given. The library call "
                    "is msrgan.training.classifier.train_and_save(ClassifierOptions).")
    d = ClassifierOptions.defaults()
    p.add_argument("--config", default=None, help="JSON, TOML or YAML file of settings (long flag names as keys)")
    p.add_argument("--data", default=None, help=f"'synthetic', a folder or a Hub dataset id (default {d['data']})")
    p.add_argument("--count", type=int, default=None, help=f"synthetic fields to draw / images to read "
                                                           f"(default {SYNTHETIC_COUNT} synthetic, all otherwise)")
    p.add_argument("--size", type=int, default=None, help=f"synthetic field size in pixels (default {d['size']})")
    p.add_argument("--channels", type=int, default=None, help=f"1, 3 or 4 (default {d['channels']})")
    p.add_argument("--seed", type=int, default=None, help=f"seed of data, split, weights, batches (default {d['seed']})")
    p.add_argument("--val-fraction", type=float, default=None, help=f"stratified validation share "
                                                                    f"(default {d['val_fraction']})")
    p.add_argument("--normalization", choices=NORMALIZATIONS, default=None,
                   help="percentile (per image 2/99.8, as the GAN's patches; default), unit (dtype range, also "
                        "spelled range) or none (float images already in [0, 1])")
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
    from msrgan.training.classifier import ClassifierOptions, train_and_save

    options = ClassifierOptions.resolve(vars(args), config=args.config)
    if not options.out:
        raise UsageError("--out is required: the folder to save the trained classifier in")
    report = train_and_save(options)
    print(report["text"])
    print(f"saved the classifier to {options.out} (val top-1 {report['accuracy']:.4f}, {report['seconds']:.0f} s); "
          f"use it with: msrgan train --content minivgg19={options.out}")
    return 0
