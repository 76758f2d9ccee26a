"""Network interpolation of a GAN fine-tune with the PSNR-oriented model it started from (ESRGAN, Wang
et al. 2018, section 3.4): every weight ``(1 - alpha) * psnr + alpha * gan``.

The GAN fine-tune alone draws sharper texture but loses to bicubic on smooth (oversampled) fields; the
PSNR-oriented model never adds texture. Interpolating trades one for the other continuously. This
script picks ``alpha`` as the largest of ``--alphas`` for which every condition of a *validation*
grid (``msrgan.grid`` with ``--select-seed``, fields the evaluation grid of ``bundle_preset.py``
never uses) scores at or above bicubic in PSNR, and in SSIM within ``--ssim-tolerance`` (the
validation grid's own noise: 6 fields per condition; the PSNR-oriented ``msrgan-x4-rgb`` itself is
0.0002 below bicubic on one condition of the seed-1 grid and above it on the seed-0 and seed-2
grids), and saves that model as a run folder (``config.json`` + ``model.safetensors``) that
``scripts/bundle_preset.py`` bundles and scores on the evaluation grid like any run.

Usage:
    python scripts/interpolate_preset.py runs/presets/msrgan-x4-rgb runs/presets/msrgan-x4-gan \\
        --out runs/presets/msrgan-x4-gan-interpolated
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

DEFAULT_ALPHAS = "1.0,0.8,0.6,0.5,0.4,0.3,0.25,0.2,0.15,0.1,0.05"


def _weights(model) -> dict:
    import numpy as np
    from keras import ops

    return {v.path: np.asarray(ops.convert_to_numpy(v.value), np.float64) for v in model.variables}


def interpolate_into(model, psnr: dict, gan: dict, alpha: float) -> None:
    """Assigns ``(1 - alpha) * psnr + alpha * gan`` to every variable of ``model`` (float64 mix, then cast)."""
    for v in model.variables:
        v.assign(((1.0 - alpha) * psnr[v.path] + alpha * gan[v.path]).astype(v.dtype))


def min_deltas(rows: list[dict]) -> tuple[float, float]:
    """The lowest PSNR and SSIM margins over bicubic across the grid's conditions."""
    bic = {r["condition"]: r for r in rows if r["method"] == "bicubic"}
    ours = [r for r in rows if r["method"] != "bicubic"]
    return (min(r["psnr"] - bic[r["condition"]]["psnr"] for r in ours),
            min(r["ssim"] - bic[r["condition"]]["ssim"] for r in ours))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n", 2)[2])
    p.add_argument("psnr_run", help="the PSNR-oriented model folder the GAN fine-tune started from")
    p.add_argument("gan_run", help="the finished GAN fine-tune's folder")
    p.add_argument("--out", required=True, help="folder to write the chosen interpolation to (replaced whole)")
    p.add_argument("--alphas", default=DEFAULT_ALPHAS, help=f"weights of the GAN model to try, the largest "
                   f"passing wins (default {DEFAULT_ALPHAS})")
    p.add_argument("--select-seed", type=int, default=1, help="msrgan.grid seed of the validation grid (default 1; "
                   "the bundled cards report seed 0)")
    p.add_argument("--count", type=int, default=6, help="fields per condition (default 6)")
    p.add_argument("--ssim-tolerance", type=float, default=0.001,
                   help="largest SSIM shortfall to bicubic allowed on a validation condition (default 0.001)")
    args = p.parse_args(argv)
    try:
        alphas = sorted({float(a) for a in args.alphas.split(",") if a.strip()}, reverse=True)
    except ValueError:
        p.error(f"--alphas must be comma-separated numbers, got {args.alphas!r}")
    if not alphas or any(not 0.0 <= a <= 1.0 for a in alphas):
        p.error(f"--alphas must lie in [0, 1], got {args.alphas!r}")

    import zoo
    from msrgan import grid
    from zoo.files import CONFIG_NAME, atomic_folder

    psnr_model, model = zoo.from_pretrained(args.psnr_run), zoo.from_pretrained(args.gan_run)
    psnr, gan = _weights(psnr_model), _weights(model)
    if psnr.keys() != gan.keys() or any(psnr[k].shape != gan[k].shape for k in psnr):
        raise SystemExit(f"{args.psnr_run} and {args.gan_run} are not the same architecture: their variables differ")
    tried, chosen = [], None
    for alpha in alphas:
        interpolate_into(model, psnr, gan, alpha)
        rows = grid.score_grid({"model": model}, channels=int(model.channels), count=args.count,
                               seed=args.select_seed, progress=False)
        d_psnr, d_ssim = min_deltas(rows)
        tried.append({"alpha": alpha, "min_delta_psnr": round(d_psnr, 4), "min_delta_ssim": round(d_ssim, 5)})
        print(f"alpha {alpha:.2f}: lowest margin over bicubic {d_psnr:+.3f} dB PSNR, {d_ssim:+.4f} SSIM", flush=True)
        if d_psnr >= 0.0 and d_ssim >= -args.ssim_tolerance:
            chosen = alpha
            break
    if chosen is None:
        raise SystemExit(f"no alpha of {alphas} keeps every validation condition at or above bicubic "
                         f"(SSIM within {args.ssim_tolerance})")
    interpolate_into(model, psnr, gan, chosen)
    config = json.loads((Path(args.gan_run) / CONFIG_NAME).read_text())
    metadata = dict(config.get("metadata") or {})
    metadata["interpolation"] = {
        "method": "network interpolation (ESRGAN): (1 - alpha) * psnr + alpha * gan, every weight",
        "psnr_model": str(args.psnr_run), "gan_model": str(args.gan_run), "alpha": chosen,
        "selected_on": f"msrgan.grid seed {args.select_seed}, {args.count} fields per condition: the largest alpha "
                       f"with every condition at or above bicubic in PSNR, and in SSIM within {args.ssim_tolerance}",
        "tried": tried}
    with atomic_folder(Path(args.out)) as stage:
        model.save_pretrained(stage, metadata=metadata)
    print(f"wrote alpha {chosen} to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
