"""``msrgan evaluate``: PSNR/SSIM, nuclei segmentation and a paired test of a generator against bicubic."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser(
        "evaluate",
        help="score a generator against nearest and bicubic upscaling (tables, figures, Wilcoxon test)",
        description="For each HR image of DATA: make the LR image (--degradation), upscale it with nearest, "
                    "bicubic and the model, and score each against HR: PSNR and SSIM (float64 on [0, 1], "
                    "a scale-pixel border cropped, SSIM averaged over channels), Dice/IoU of an Otsu + "
                    "watershed nuclei segmentation against the HR one, and nuclei counts. Writes summary.md, "
                    "metrics.csv, summary.csv, wilcoxon.csv, evaluation.json and figures/ into OUT.",
    )
    p.add_argument("--model", required=True, metavar="SOURCE",
                   help="pretrained generator: local folder, hf://owner/name or owner/name")
    p.add_argument("--data", required=True, metavar="DIR_OR_REPO",
                   help="HR images: 'synthetic', an image folder, or a Hugging Face dataset (folder or owner/name)")
    p.add_argument("--degradation", default="bicubic", choices=("bicubic", "microscope"),
                   help="how the LR images are made (default bicubic)")
    p.add_argument("--scale", type=int, default=None, help="must match the model's scale (default: the model's)")
    p.add_argument("--count", type=int, default=None,
                   help="evaluate the first N images (synthetic: draw N; default 20)")
    p.add_argument("--size", type=int, default=None, help="synthetic field size in pixels (default 256)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the synthetic fields and of the degradation noise (use one the model was not "
                        "trained on)")
    p.add_argument("--bit-depth", type=int, default=8, choices=(8, 16), help="synthetic bit depth (default 8)")
    p.add_argument("--split", default="train", help="Hugging Face dataset split (default train)")
    p.add_argument("--normalization", default="percentile", choices=("percentile", "unit"),
                   help="HR to [0, 1]: per-image percentiles (training default) or the dtype range")
    p.add_argument("--nucleus-channel", type=int, default=None,
                   help="channel to segment (default: the nucleus channel of the layout)")
    p.add_argument("--min-distance", type=int, default=5, help="watershed: smallest nucleus-centre distance (px)")
    p.add_argument("--tile", type=int, default=None, help="model tile side in LR pixels (default 256)")
    p.add_argument("--no-figures", action="store_true", help="tables only")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="report folder (created)")
    p.add_argument("--overwrite", action="store_true", help="replace an earlier report in OUT")
    p.set_defaults(func=run)


def run(args) -> int:
    from msrgan.data import load_source
    from msrgan.evaluate import evaluate
    from msrgan.inference import load_generator

    model = load_generator(args.model)
    if args.scale is not None and args.scale != int(model.scale):
        raise ValueError(f"--scale {args.scale} but the model {args.model} upscales x{model.scale}")
    count = args.count
    if args.data == "synthetic" and count is None:
        count = 20
    source = load_source(args.data, channels=int(model.channels), count=count, size=args.size, seed=args.seed,
                         bit_depth=args.bit_depth, split=args.split)
    result = evaluate(model, source.images, names=source.names, degradation=args.degradation, seed=args.seed,
                      normalization=args.normalization, nucleus_channel=args.nucleus_channel,
                      min_distance=args.min_distance, out_dir=args.output, overwrite=args.overwrite,
                      figures=not args.no_figures, tile=args.tile, model_name=str(args.model),
                      data_name=str(args.data))
    summary = result.summary_by_method()
    for m in ("nearest", "bicubic", "sr"):
        psnr, ssim = summary[m]["psnr"], summary[m]["ssim"]
        print(f"{m:8s} PSNR {psnr[0]:6.2f} ± {psnr[1]:.2f} dB   SSIM {ssim[0]:.4f} ± {ssim[1]:.4f}")
    test = {t["metric"]: t for t in result.tests}
    print(f"Wilcoxon SR vs bicubic: PSNR p={test['psnr']['pvalue']:.4g}, SSIM p={test['ssim']['pvalue']:.4g}, "
          f"Dice p={test['dice']['pvalue']:.4g}")
    print(f"report: {result.files['summary.md']}")
    return 0
