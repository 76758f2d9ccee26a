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

from msrgan.commands._args import key_values
from msrgan.training.options import SYNTHETIC_COUNT, TrainOptions


def register(sub) -> None:
    from msrgan.data.degrade import DEGRADATIONS
    from msrgan.data.normalize import NORMALIZATIONS
    from msrgan.losses import ADVERSARIAL
    from msrgan.models.extractors import EXTRACTORS

    p = sub.add_parser(
        "train", help="train an mSRGAN generator (SRResNet pre-training, then adversarial)",
        description="Train an mSRGAN/SRGAN generator on HR images degraded on the fly: phase 1 pre-trains the "
                    "generator on the pixel MSE (SRResNet), phase 2 trains generator and discriminator with "
                    "alpha*MSE + beta*content + gamma*adversarial. Settings: defaults < --config file (JSON/TOML/YAML) "
                    "< flags. Runs on the Keras backend of KERAS_BACKEND. The library call is "
                    "msrgan.training.pipeline.train(TrainOptions).")
    d = TrainOptions.defaults()
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
    g.add_argument("--normalization", choices=NORMALIZATIONS, default=None,
                   help="per-image percentiles 2/99.8 (default), unit: the dtype range (also spelled range), "
                        "none: float images already in [0, 1]")
    g.add_argument("--augment", action=boolean, default=None, help="flips/rot90 augmentation (default on)")
    g.add_argument("--max-memory", default=None, metavar="BYTES",
                   help="memory budget for the decoded training images, e.g. 8G or 500MiB; a folder or dataset "
                        "larger than it is streamed from disk instead of loaded (default: half the RAM)")
    g.add_argument("--strict", action="store_true", default=None,
                   help="stop on an unreadable image file (default: skip it with a warning)")
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
    s = p.add_argument_group("scale-out (JAX: keras.distribution; TensorFlow: tf.distribute; PyTorch: torchrun)")
    s.add_argument("--distribute", choices=("none", "data-parallel"), default=None,
                   help="data-parallel: a replica of the networks on every device, each global batch split over "
                        "them, gradients averaged (JAX: every device this process sees, e.g. XLA_FLAGS="
                        "--xla_force_host_platform_device_count=N on CPUs; TensorFlow: MirroredStrategy over the "
                        "GPUs, MultiWorkerMirroredStrategy with TF_CONFIG; PyTorch: one process per device, "
                        "launched by torchrun --nproc_per_node N -m msrgan train ...); --batch-size is the global "
                        "batch and must be a multiple of the device count; process 0 alone writes (default none)")
    s.add_argument("--coordinator", default=None, metavar="HOST:PORT",
                   help="several hosts: address of process 0 (TensorFlow: every worker's HOST:PORT, comma-separated, "
                        "or TF_CONFIG; under torchrun: its MASTER_ADDR:MASTER_PORT, not needed)")
    s.add_argument("--num-processes", type=int, default=None,
                   help="several hosts: number of processes (one per host; under torchrun: WORLD_SIZE, not needed)")
    s.add_argument("--process-id", type=int, default=None,
                   help="several hosts: this process's index, 0 .. N-1 (under torchrun: RANK, not needed)")
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
    r.add_argument("--grid-images", type=int, default=None, help="validation images in each PNG grid (default 4; 0: no grid)")
    r.add_argument("--verbose", type=int, default=None, help="Keras verbosity 0, 1 or 2 (default 1)")
    p.set_defaults(func=run)


def run(args) -> int:
    from msrgan.training.pipeline import train

    flags = vars(args).copy()
    flags["degradation_params"] = key_values(flags.pop("degradation_param", None), "--degradation-param")
    flags["data_params"] = key_values(flags.pop("data_param", None), "--data-param")
    flags["generator_options"] = key_values(flags.pop("generator_option", None), "--generator-option")
    options = TrainOptions.resolve(flags, config=args.config)
    result = train(options)
    if result["chief"]:  # the other processes of a data-parallel run write nothing
        print(result["table"])
        print(f"saved the generator to {options.out} ({result['seconds']:.0f} s on {result['backend']})")
    return 0
