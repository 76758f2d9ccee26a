"""``msrgan evaluate``: PSNR/SSIM, nuclei segmentation and a paired test of a generator against bicubic."""

from __future__ import annotations

import argparse

from msrgan.errors import UsageError


def register(sub) -> None:
    from msrgan.data.degrade import DEGRADATIONS
    from msrgan.data.normalize import NORMALIZATIONS

    p = sub.add_parser(
        "evaluate",
        help="score a generator against nearest and bicubic upscaling (tables, figures, Wilcoxon test)",
        description="For each HR image of DATA: make the LR image (--degradation), upscale it with nearest, "
                    "bicubic and the model, and score each against HR: PSNR and SSIM (float64 on [0, 1], "
                    "a scale-pixel border cropped, SSIM averaged over channels), Dice/IoU of an Otsu + "
                    "watershed nuclei segmentation against the HR one, and nuclei counts. Writes summary.md, "
                    "metrics.csv, summary.csv, wilcoxon.csv, evaluation.json and figures/ into OUT.",
    )
    p.add_argument("--model", action="append", default=None, metavar="SOURCE",
                   help="pretrained generator: preset name, local folder, hf://owner/name or owner/name; repeat it "
                        "to compare several models in one table (each model's report goes to OUT/<n>_<name>/)")
    p.add_argument("--data", default=None, metavar="DIR_OR_REPO",
                   help="HR images: 'synthetic', an image folder, or a Hugging Face dataset (folder or owner/name); "
                        "LR images are made from them with --degradation")
    p.add_argument("--lr", default=None, metavar="DIR",
                   help="real LR acquisitions, scored instead of degraded HR images (with --hr; files paired by "
                        "name, LR at 1/scale of HR)")
    p.add_argument("--hr", default=None, metavar="DIR", help="the HR acquisitions paired with --lr")
    p.add_argument("--channels", default=None, metavar="I,J,K",
                   help="channel indices picked from every image, e.g. 1,3,0 (4-channel into RGB) or 0")
    p.add_argument("--per-channel", action=argparse.BooleanOptionalAction, default=None,
                   help="run a single-channel model on each channel (default: when the model has one channel "
                        "and the images more)")
    p.add_argument("--degradation", default="bicubic", choices=tuple(DEGRADATIONS),
                   help="how the LR images are made (default bicubic)")
    p.add_argument("--degradation-param", action="append", default=None, metavar="KEY=VALUE",
                   help="degradation parameter (values as JSON), e.g. photons=50; repeatable")
    p.add_argument("--scale", type=int, default=None, help="must match the model's scale (default: the model's)")
    p.add_argument("--count", type=int, default=None,
                   help="evaluate the first N images (synthetic: draw N; default 20)")
    p.add_argument("--size", type=int, default=None, help="synthetic field size in pixels (default 256)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the synthetic fields and of the degradation noise (use one the model was not "
                        "trained on)")
    p.add_argument("--bit-depth", type=int, default=8, choices=(8, 16), help="synthetic bit depth (default 8)")
    p.add_argument("--split", default="train", help="Hugging Face dataset split (default train)")
    p.add_argument("--normalization", default="percentile", choices=NORMALIZATIONS,
                   help="HR to [0, 1]: per-image percentiles (training default), the dtype range (unit) or as "
                        "given (none: float images in [0, 1])")
    p.add_argument("--nucleus-channel", type=int, default=None,
                   help="channel to segment (default: the nucleus channel of the layout)")
    p.add_argument("--min-distance", type=int, default=5, help="watershed: smallest nucleus-centre distance (px)")
    p.add_argument("--tile", type=int, default=None, help="model tile side in LR pixels (default 256)")
    p.add_argument("--no-figures", action="store_true", help="tables only")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="report folder (created)")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier report in OUT")
    p.set_defaults(func=run)


def run(args) -> int:
    from pathlib import Path

    from msrgan.commands._args import key_values
    from msrgan.data import load_source
    from msrgan.evaluate import _atomic_write, evaluate, models_table
    from msrgan.inference import load_generator
    from msrgan.models.channels import default_model

    if (args.lr is None) != (args.hr is None):
        raise UsageError("--lr and --hr go together: the LR and HR folders of real paired acquisitions")
    if (args.data is None) == (args.lr is None):
        raise UsageError("give either --data (HR images, LR made by --degradation) or --lr and --hr (real pairs)")
    specs = args.model or [default_model(3)]
    models = [load_generator(spec) for spec in specs]
    for spec, model in zip(specs, models):
        if args.scale is not None and args.scale != int(model.scale):
            raise ValueError(f"--scale {args.scale} but the model {spec} upscales x{model.scale}")
    if len({(int(m.scale), int(m.channels)) for m in models}) > 1:
        raise ValueError("--model: the models differ in scale or channel count ("
                         + ", ".join(f"{s}: x{m.scale}, {m.channels} ch" for s, m in zip(specs, models))
                         + "); compare models of one kind in one table")
    count = args.count
    synthetic = args.data in ("synthetic", "varied")
    if synthetic and count is None:
        count = 20
    lrs = None
    if args.lr is not None:
        from msrgan.evaluate import load_pairs

        lrs, images, names = load_pairs(args.lr, args.hr)
        if count is not None:
            lrs, images, names = lrs[:count], images[:count], names[:count]
        data_name = f"{args.lr} (LR) / {args.hr} (HR)"
    else:
        source = load_source(args.data, channels=int(models[0].channels) if synthetic and args.channels is None
                             else None, count=count, size=args.size, seed=args.seed, bit_depth=args.bit_depth,
                             split=args.split)
        images, names, data_name = source.images, source.names, str(args.data)
    params = key_values(args.degradation_param, "--degradation-param")
    out = Path(args.output)
    results = []
    for i, (spec, model) in enumerate(zip(specs, models)):
        folder = out if len(models) == 1 else out / f"{i + 1}_{Path(str(spec)).name or 'model'}"
        results.append(evaluate(model, images, names=names, lr_images=lrs, channels_map=args.channels,
                                per_channel=args.per_channel, degradation=args.degradation,
                                degradation_params=params, seed=args.seed, normalization=args.normalization,
                                nucleus_channel=args.nucleus_channel, min_distance=args.min_distance,
                                out_dir=folder, overwrite=args.overwrite, figures=not args.no_figures,
                                tile=args.tile, model_name=str(spec), data_name=data_name))
    table = models_table(results, [str(s) for s in specs])
    print(table)
    if len(models) > 1:
        _atomic_write(out / "models.md", (table + "\n").encode(), args.overwrite)
        print(f"reports: {out / 'models.md'} and one folder per model in {out}")
    else:
        print(f"report: {results[0].files['summary.md']}")
    return 0
