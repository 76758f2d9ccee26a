#!/usr/bin/env python
"""The msrgan main job, end to end on the embedded synthetic data (a few minutes on 2 CPU cores).

1. synthesize data: labelled 64x64 fields for the classifier, 128x128 fields for the GAN and
   held-out 128x128 fields (other seeds) for the final evaluation;
2. train the small miniVGG19 (``msrgan.training.classifier.train_and_save(ClassifierOptions)``, what ``msrgan
   train-classifier`` calls); target >= 90% validation top-1;
3. train ``msrgan-x4-small`` (no BatchNorm, a residual over bicubic) with the miniVGG19 content loss
   (``msrgan.training.pipeline.train``, what ``msrgan train`` calls): phase 1 MSE pre-training,
   phase 2 adversarial with
   ``alpha * MSE + beta * content + gamma * adversarial``;
4. evaluate the saved generator on the held-out fields against bicubic upsampling (PSNR/SSIM, the
   ``msrgan.metrics`` conventions); targets: at least +0.5 dB PSNR over bicubic and an SSIM at or
   above bicubic's;
5. the generator is saved with ``save_pretrained`` (``OUT/msrgan``);
6. reload it in a subprocess on a different Keras backend and check identical outputs (<= 1e-4).

Prints a table and writes ``OUT/metrics.json``. Exits 1 when a target is missed. The Keras
backend is ``KERAS_BACKEND`` (Keras's own default, tensorflow, when unset; ``scripts/demo.sh`` sets jax).

Usage: python scripts/demo.py [--out runs/demo] [--seed 0]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# The whole demo configuration, in one place.
CLASSIFIER = {
    "data": "synthetic", "count": 1300, "size": 64, "channels": 3, "seed": 0, "val_fraction": 0.2,
    "normalization": "percentile", "crop": 64, "width": 0.125, "dropout": 0.3, "steps": 500,
    "steps_per_epoch": 100, "batch_size": 32, "lr": 2e-3, "augment": False, "jit_compile": "auto",
    "mixed_precision": None, "verbose": 2,
}
GAN = {
    "data": "synthetic", "count": 48, "size": 128, "seed": 1, "val_fraction": 0.1, "val_size": 128,
    "degradation": "bicubic", "scale": 4, "patch_size": 48, "batch_size": 8, "normalization": "percentile",
    "augment": False, "jit_compile": "auto",
    "generator": "msrgan-x4-small", "generator_options": {"batch_norm": False, "residual": "bicubic"},
    "discriminator_filters": 16, "discriminator_dense": 128, "content_layers": "block5", "criterion": "l2",
    "alpha": 1.0, "beta": 0.01, "gamma": 1e-4, "adversarial": "lsgan",
    "pretrain_lr": 5e-4, "lr_decay": "cosine", "g_lr": 1e-4, "d_lr": 1e-3, "pretrain_steps": 1000, "gan_steps": 100,
    "steps_per_epoch": 100, "ema": None, "tensorboard": False, "checkpoint_every": None, "log_every": 10,
    "verbose": 2,
}
HELD_OUT = {"count": 12, "size": 128, "seed": 2}
TARGETS = {"classifier_val_accuracy": 0.90, "psnr_gain_db": 0.5, "ssim_gain": 0.0, "cross_backend_max_abs_diff": 1e-4,
           "seconds": 600}
OTHER_BACKEND = {"tensorflow": "jax", "jax": "torch", "torch": "jax"}


def log(msg: str) -> None:
    print(f"[demo {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def cross_backend_check(model_dir: Path, lr, reference, backend: str) -> dict:
    """Runs the saved generator on ``lr`` in a fresh process on ``backend``; compares with ``reference``."""
    import numpy as np

    with tempfile.TemporaryDirectory(prefix="msrgan-demo-") as tmp:
        inp, outp = Path(tmp) / "lr.npy", Path(tmp) / "sr.npy"
        np.save(inp, lr)
        code = (
            "import sys, numpy as np, keras\n"
            "from msrgan.models import Generator\n"
            f"g = Generator.from_pretrained({str(model_dir)!r})\n"
            f"x = np.load({str(inp)!r})\n"
            "y = np.concatenate([keras.ops.convert_to_numpy(g(x[i:i + 4], training=False)) for i in range(0, len(x), 4)])\n"
            f"np.save({str(outp)!r}, y)\n"
            "print(keras.backend.backend())\n"
        )
        env = {**os.environ, "KERAS_BACKEND": backend, "PYTHONPATH": str(ROOT)}
        proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
        if proc.returncode != 0:
            raise RuntimeError(f"reloading the generator on {backend} failed:\n{proc.stderr[-3000:]}")
        used = proc.stdout.strip().splitlines()[-1]
        other = np.load(outp)
    return {"backend": used, "images": int(len(lr)),
            "max_abs_diff": float(np.max(np.abs(other.astype(np.float64) - reference.astype(np.float64))))}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(ROOT / "runs" / "demo"), help="output folder (replaced)")
    parser.add_argument("--seed", type=int, default=0, help="offset added to every seed")
    args = parser.parse_args(argv)

    t0 = time.time()
    import keras

    from msrgan.data import load_source
    from msrgan.data.patches import validation_pairs
    from msrgan.models import Generator
    from msrgan.training.classifier import ClassifierOptions, train_and_save
    from msrgan.training.config import write_config
    from msrgan.training.evaluation import PSNR_CONVENTION, SSIM_CONVENTION, evaluate_generator, super_resolve
    from msrgan.training.options import TrainOptions
    from msrgan.training.pipeline import train

    backend = keras.backend.backend()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    timings = {}
    log(f"backend {backend}; outputs in {out}")

    # 1-2. Classifier: synthesizes its labelled fields, trains, saves a pretrained folder.
    t = time.time()
    clf_opt = ClassifierOptions(**{**CLASSIFIER, "seed": CLASSIFIER["seed"] + args.seed}, out=out / "minivgg19",
                                overwrite=True)
    log(f"training miniVGG19 (width {clf_opt.width}) on {clf_opt.count} synthetic {clf_opt.size}px fields")
    report = train_and_save(clf_opt)
    print(report["text"], flush=True)
    timings["classifier"] = round(time.time() - t, 1)

    # 3. mSRGAN with the miniVGG19 content loss (its GAN fields are synthesized inside).
    t = time.time()
    gan_opt = TrainOptions(**{**GAN, "seed": GAN["seed"] + args.seed}, content=f"minivgg19={out / 'minivgg19'}",
                           out=out / "msrgan", overwrite=True)
    log(f"training {gan_opt.generator} ({gan_opt.pretrain_steps} MSE steps + {gan_opt.gan_steps} "
        f"adversarial steps, {gan_opt.patch_size}px patches, batch {gan_opt.batch_size})")
    summary = train(gan_opt)
    timings["msrgan"] = round(time.time() - t, 1)

    # 4. Held-out evaluation of the saved generator against bicubic.
    t = time.time()
    held = load_source("synthetic", count=HELD_OUT["count"], size=HELD_OUT["size"], seed=HELD_OUT["seed"] + args.seed,
                       channels=3)
    lr, hr = validation_pairs(held.images, scale=GAN["scale"], patch_size=HELD_OUT["size"], degradation="bicubic",
                              normalization=GAN["normalization"])
    generator = Generator.from_pretrained(out / "msrgan")
    scores = evaluate_generator(generator, lr, hr, scale=GAN["scale"])
    timings["evaluation"] = round(time.time() - t, 1)

    # 6. The saved generator on another backend, in another process.
    t = time.time()
    other = OTHER_BACKEND[backend]
    sample = lr[:4]
    cross = cross_backend_check(out / "msrgan", sample, super_resolve(generator, sample), other)
    timings["cross_backend"] = round(time.time() - t, 1)

    seconds = round(time.time() - t0, 1)
    gain = scores["msrgan"]["psnr"] - scores["bicubic"]["psnr"]
    ssim_gain = scores["msrgan"]["ssim"] - scores["bicubic"]["ssim"]
    metrics = {
        "bicubic": scores["bicubic"], "msrgan": scores["msrgan"],
        "classifier": {"val_accuracy": report["accuracy"], "val_images": report["images"]},
        "backend": backend, "seconds": seconds,
        "psnr_gain_db": gain, "ssim_gain": ssim_gain, "held_out_images": scores["images"], "convention": scores["convention"],
        "cross_backend": cross, "timings": timings, "targets": TARGETS,
        "msrgan_training": {"steps": summary["steps"], "losses": summary["losses"],
                            "validation": summary["validation"]},
    }
    failures = []
    if report["accuracy"] < TARGETS["classifier_val_accuracy"]:
        failures.append(f"classifier validation accuracy {report['accuracy']:.3f} < {TARGETS['classifier_val_accuracy']}")
    if gain < TARGETS["psnr_gain_db"]:
        failures.append(f"PSNR gain over bicubic {gain:+.3f} dB < {TARGETS['psnr_gain_db']} dB")
    if ssim_gain < TARGETS["ssim_gain"]:
        failures.append(f"SSIM {scores['msrgan']['ssim']:.4f} below bicubic's {scores['bicubic']['ssim']:.4f}")
    if not cross["max_abs_diff"] <= TARGETS["cross_backend_max_abs_diff"]:
        failures.append(f"{backend} vs {cross['backend']} outputs differ by {cross['max_abs_diff']:.2e} "
                        f"> {TARGETS['cross_backend_max_abs_diff']}")
    metrics["passed"] = not failures
    metrics["failures"] = failures
    write_config(out / "metrics.json", metrics)

    print()
    print(f"mSRGAN demo on {backend}: {scores['images']} held-out synthetic {HELD_OUT['size']}px fields, x{GAN['scale']}")
    print(f"{'method':<10}{'PSNR (dB)':>12}{'SSIM':>10}")
    print(f"{'bicubic':<10}{scores['bicubic']['psnr']:>12.3f}{scores['bicubic']['ssim']:>10.4f}")
    print(f"{'msrgan':<10}{scores['msrgan']['psnr']:>12.3f}{scores['msrgan']['ssim']:>10.4f}")
    print(f"({PSNR_CONVENTION}; {SSIM_CONVENTION})")
    print(f"PSNR gain {gain:+.3f} dB (target >= +{TARGETS['psnr_gain_db']}), SSIM gain {ssim_gain:+.4f} "
          f"(target >= {TARGETS['ssim_gain']})")
    print(f"miniVGG19 validation top-1 {report['accuracy']:.4f} on {report['images']} fields "
          f"(target >= {TARGETS['classifier_val_accuracy']})")
    print(f"reloaded on {cross['backend']} in a subprocess: max |difference| {cross['max_abs_diff']:.2e} "
          f"(target <= {TARGETS['cross_backend_max_abs_diff']})")
    print(f"time {seconds:.0f} s ({', '.join(f'{k} {v:.0f} s' for k, v in timings.items())}); "
          f"metrics in {out / 'metrics.json'}")
    if seconds > TARGETS["seconds"]:
        print(f"WARNING: the demo took {seconds:.0f} s, over its {TARGETS['seconds']} s budget "
              "(a busy machine?)", flush=True)
    if failures:
        print("DEMO FAILED: " + "; ".join(failures), file=sys.stderr)
        return 1
    print("demo passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
