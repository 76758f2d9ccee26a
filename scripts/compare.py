"""The thesis's comparison, reproducible: bicubic, SRCNN, SRResNet, SRGAN (ImageNet VGG54) and mSRGAN
(miniVGG19), trained on the same synthetic data with the same step budget, scored by one
``msrgan evaluate`` table with pairwise Wilcoxon tests, written to docs/comparison.md.

    python scripts/compare.py                                  # the full comparison -> docs/comparison.md
    python scripts/compare.py --imagenet-weights vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5
    python scripts/compare.py --quick --out /tmp/compare       # a tiny version (a few minutes)

Every model is trained through the command line (``msrgan train-classifier``, ``msrgan train``) in its
own folder under ``--out``; a finished run is skipped, an interrupted one resumed from its last
checkpoint, so running the same command again continues where it stopped. The SRResNet-family rows
share their first phase: ``pretrain`` (MSE) is trained once; SRResNet continues it on the MSE, SRGAN
and mSRGAN continue it as GANs with their content loss, for the same number of steps; SRCNN trains on
the MSE for the whole budget. The SRGAN row needs VGG19 ImageNet weights (``--imagenet-weights``):
without them it is not trained, and the table says so.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

NOT_RUN_IMAGENET = "ImageNet VGG19 weights not available (pass --imagenet-weights)"

# The full comparison: sized for about 40 minutes on 2 busy CPU cores (TensorFlow backend).
FULL = {
    "classifier": {"data": "synthetic", "count": 1300, "size": 64, "channels": 3, "seed": 0, "width": 0.125,
                   "crop": 64, "steps": 500, "steps_per_epoch": 100, "batch_size": 32, "lr": 0.002},
    "data": {"data": "synthetic", "count": 64, "size": 128, "channels": 3, "seed": 0, "degradation": "bicubic",
             "patch_size": 48, "batch_size": 8, "val_size": 64},
    "generator": "msrgan-x4-lite", "generator_options": None,
    "pretrain_steps": 2000, "final_steps": 1000, "pretrain_lr": 5e-4, "g_lr": 1e-4, "d_lr": 1e-4, "gamma": 1e-3,
    "discriminator_filters": 32, "discriminator_dense": 256, "steps_per_epoch": 500, "checkpoint_every": 500,
    "jit_compile": "auto", "verbose": 2,
    "eval": {"count": 24, "size": 128, "seed": 1000},
}
# --quick: the same pipeline on tiny networks and images, a few steps each (a test of the script).
QUICK = {
    "classifier": {"data": "synthetic", "count": 26, "size": 32, "channels": 3, "seed": 0, "width": 0.0625,
                   "crop": 32, "steps": 2, "steps_per_epoch": 2, "batch_size": 4, "lr": 0.002},
    "data": {"data": "synthetic", "count": 4, "size": 32, "channels": 3, "seed": 0, "degradation": "bicubic",
             "patch_size": 16, "batch_size": 2, "val_size": 16},
    "generator": "msrgan-x4-lite", "generator_options": {"num_blocks": 1, "filters": 8},
    "pretrain_steps": 2, "final_steps": 2, "pretrain_lr": 5e-4, "g_lr": 1e-4, "d_lr": 1e-4, "gamma": 1e-3,
    "discriminator_filters": 8, "discriminator_dense": 16, "steps_per_epoch": 2, "checkpoint_every": 0,
    "jit_compile": "off", "verbose": 0,
    "eval": {"count": 2, "size": 64, "seed": 1000},
}


@dataclasses.dataclass
class Stage:
    """One run: ``msrgan COMMAND`` with ``settings`` (long flag names) into ``OUT/name``."""

    name: str
    label: str  # its row in the table ("" for the classifier and the shared pre-training)
    command: str  # "train" or "train-classifier"
    settings: dict
    what: str
    not_run: str = ""  # why it is not trained (the row says so)


def plan(cfg: dict, out: Path, imagenet_weights: Path | None) -> list[Stage]:
    """The runs of the comparison, in training order."""
    p, g = cfg["pretrain_steps"], cfg["final_steps"]
    common = {**cfg["data"], "steps_per_epoch": cfg["steps_per_epoch"], "checkpoint_every": cfg["checkpoint_every"],
              "jit_compile": cfg["jit_compile"], "verbose": cfg["verbose"], "tensorboard": False}
    pretrained = _path(out / "pretrain")
    gan = {**common, "generator": pretrained, "pretrain_steps": 0, "gan_steps": g, "g_lr": cfg["g_lr"],
           "d_lr": cfg["d_lr"], "gamma": cfg["gamma"], "adversarial": "lsgan",
           "discriminator_filters": cfg["discriminator_filters"], "discriminator_dense": cfg["discriminator_dense"]}
    cls = {**cfg["classifier"], "jit_compile": cfg["jit_compile"], "verbose": cfg["verbose"]}
    return [
        Stage("minivgg19", "", "train-classifier", cls, "the miniVGG19 classifier (13 localization classes), whose "
              "block5 features are mSRGAN's content loss"),
        Stage("srcnn", "SRCNN", "train", {**common, "generator": "srcnn-x4", "pretrain_steps": p + g, "gan_steps": 0,
                                          "pretrain_lr": cfg["pretrain_lr"], "lr_decay": "cosine"},
              f"srcnn-x4, pixel MSE, {p + g} steps"),
        Stage("pretrain", "", "train", {**common, "generator": cfg["generator"], "generator_options":
                                        cfg["generator_options"], "pretrain_steps": p, "gan_steps": 0,
                                        "pretrain_lr": cfg["pretrain_lr"], "lr_decay": "cosine"},
              f"the shared first phase of the SRResNet-family rows: {cfg['generator']}, pixel MSE, {p} steps"),
        Stage("srresnet", "SRResNet (MSE)", "train", {**common, "generator": pretrained, "pretrain_steps": g,
                                                      "gan_steps": 0, "pretrain_lr": cfg["g_lr"],
                                                      "lr_decay": "constant"},
              f"pretrain + {g} more pixel-MSE steps"),
        Stage("srgan-vgg54", "SRGAN (ImageNet VGG54)", "train",
              {**gan, "content": f"vgg19-imagenet={_path(imagenet_weights) if imagenet_weights else 'WEIGHTS'}",
               "content_layers": "block5_conv4"},
              f"pretrain + {g} GAN steps, content loss on ImageNet VGG19 block5_conv4",
              "" if imagenet_weights else NOT_RUN_IMAGENET),
        Stage("msrgan", "mSRGAN (miniVGG19)", "train",
              {**gan, "content": f"minivgg19={_path(out / 'minivgg19')}", "content_layers": "block5"},
              f"pretrain + {g} GAN steps, content loss on the miniVGG19's block5"),
    ]


def _path(p: Path) -> str:
    """``p`` relative to the repository when inside it (the commands run there), else absolute."""
    p = Path(p).absolute()
    try:
        return str(p.relative_to(ROOT))
    except ValueError:
        return str(p)


def flags(settings: dict) -> list[str]:
    """Command-line flags of ``settings``: ``--key value``; booleans ``--key``/``--no-key``; option tables repeated."""
    out = []
    for key, value in settings.items():
        flag = "--" + key.replace("_", "-")
        if value is None:
            continue
        if key == "generator_options":
            for k, v in value.items():
                out += ["--generator-option", f"{k}={json.dumps(v)}"]
        elif isinstance(value, bool):
            out.append(flag if value else "--no-" + key.replace("_", "-"))
        else:
            out += [flag, str(value)]
    return out


def command(stage: Stage, out: Path) -> list[str]:
    return ["msrgan", stage.command, *flags(stage.settings), "--out", _path(out / stage.name)]


def _differences(stage: Stage, folder: Path) -> list[str]:
    """Settings of ``stage`` that the finished run in ``folder`` was not trained with."""
    if stage.command == "train":
        recorded = json.loads((folder / "train_config.json").read_text())
    else:
        recorded = json.loads((folder / "report.json").read_text()).get("options", {})
    ignore = {"verbose", "jit_compile", "steps_per_epoch", "checkpoint_every", "tensorboard"}
    diff = []
    for key, want in stage.settings.items():
        if key in ignore or key not in recorded:
            continue
        have = recorded[key]
        same = (have == want or (isinstance(want, (int, float)) and isinstance(have, (int, float))
                                 and float(have) == float(want)) or str(have) == str(want))
        if not same:
            diff.append(f"{key}: {have!r} there, {want!r} here")
    return diff


def run_stage(stage: Stage, out: Path, env: dict, overwrite: bool, index: str) -> float | None:
    """Trains ``stage`` unless its finished run is there; returns the seconds taken (None when skipped)."""
    folder = out / stage.name
    marker = folder / ("training.json" if stage.command == "train" else "report.json")
    extra = []
    if marker.is_file():
        diff = _differences(stage, folder)
        for dep in ("pretrain", "minivgg19"):  # a run started from another one is stale once that one is retrained
            weights = out / dep / "model.safetensors"
            if _path(out / dep) in json.dumps(stage.settings) and weights.is_file() \
                    and weights.stat().st_mtime > marker.stat().st_mtime:
                diff.append(f"{dep} was retrained after it")
        if not diff:
            print(f"==> {index} {stage.name}: finished run in {_path(folder)}, skipped", flush=True)
            return None
        if not overwrite:
            raise SystemExit(f"compare: {_path(folder)} holds a run with other settings ({'; '.join(diff)}); "
                             "pass --overwrite to retrain it, or another --out")
        extra = ["--overwrite"]
    elif stage.command == "train" and any((folder / "checkpoints").glob("step-*")):
        extra = ["--resume"]
    elif folder.exists() and any(folder.iterdir()):
        extra = ["--overwrite"]  # an unfinished run without a checkpoint starts again
    cmd = command(stage, out) + extra
    print(f"==> {index} {stage.name}: {stage.what}\n    {shlex.join(cmd)}", flush=True)
    start = time.time()
    rc = subprocess.run([sys.executable, "-m", "msrgan", *cmd[1:]], cwd=ROOT, env=env).returncode
    if rc != 0:
        raise SystemExit(f"compare: {stage.name} failed (msrgan {stage.command} exit {rc}, output above); the same "
                         "command continues from the last finished step")
    seconds = time.time() - start
    print(f"==> {index} {stage.name}: done in {seconds / 60:.1f} min", flush=True)
    return seconds


def evaluate(stages: list[Stage], cfg: dict, out: Path, env: dict) -> tuple[Path, float | None]:
    """``msrgan evaluate`` of every trained row on held-out fields (skipped when the same models were scored)."""
    rows = [s for s in stages if s.label and not s.not_run]
    folder = out / "eval"
    stamp = {"models": {s.name: _digest(out / s.name / "model.safetensors") for s in rows}, "eval": cfg["eval"]}
    stamp_file = folder / "compare-stamp.json"
    if stamp_file.is_file() and json.loads(stamp_file.read_text()) == stamp:
        print(f"==> evaluation: the same models were scored in {_path(folder)}, skipped", flush=True)
        return folder, None
    e = cfg["eval"]
    cmd = ["msrgan", "evaluate", *[a for s in rows for a in ("--model", _path(out / s.name))], "--data", "synthetic",
           "--count", str(e["count"]), "--size", str(e["size"]), "--seed", str(e["seed"]), "--no-figures",
           "-o", _path(folder), "--overwrite"]
    print(f"==> evaluation on {e['count']} held-out fields\n    {shlex.join(cmd)}", flush=True)
    start = time.time()
    rc = subprocess.run([sys.executable, "-m", "msrgan", *cmd[1:]], cwd=ROOT, env=env,
                        stdout=subprocess.DEVNULL if cfg["verbose"] == 0 else None).returncode
    if rc != 0:
        raise SystemExit(f"compare: msrgan evaluate failed (exit {rc}, output above)")
    stamp_file.write_text(json.dumps(stamp, indent=1) + "\n")
    return folder, time.time() - start


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def _minutes(seconds) -> str:
    return "-" if seconds is None else f"{seconds / 60:.1f} min"


def render(stages: list[Stage], cfg: dict, out: Path, folder: Path, timings: dict, info: dict, command_line: str, *,
           quick: bool) -> str:
    """docs/comparison.md: the table, the pairwise tests, the settings, the departures and the machine."""
    from msrgan.evaluate import method_values, models_table, pairwise_wilcoxon, read_report

    rows = [s for s in stages if s.label]
    done = [s for s in rows if not s.not_run]
    results = {s.name: read_report(folder / f"{i}_{s.name}") for i, s in enumerate(done, 1)}
    table = models_table([results.get(s.name) for s in rows], [s.label for s in rows],
                         not_run={s.label: s.not_run for s in rows if s.not_run})
    ordered = [results[s.name] for s in done]
    tests = {k: {(t["method"], t["baseline"]): t for t in pairwise_wilcoxon(
        method_values(ordered, [s.label for s in done], k))} for k in ("psnr", "ssim")}
    trained = {s.name: json.loads((out / s.name / "training.json").read_text()) for s in done}
    classifier = json.loads((out / "minivgg19" / "report.json").read_text())
    pretrain = json.loads((out / "pretrain" / "training.json").read_text())
    d, e, p, g = cfg["data"], cfg["eval"], cfg["pretrain_steps"], cfg["final_steps"]
    lines = [
        "# The thesis's comparison: bicubic, SRCNN, SRResNet, SRGAN and mSRGAN",
        "",
        ("**A quick run (`--quick`: tiny networks, a few steps): it tests the script; its numbers mean nothing.**\n"
         if quick else None),
        "Every model below was trained by this project's command line on the same synthetic fields, with the same "
        f"number of generator updates ({p + g}), and scored by one `msrgan evaluate` run on {e['count']} held-out "
        f"fields. Measured on {info['date']} by `scripts/compare.py` (the command below); every number on this page "
        "is what that run wrote.",
        "",
        "```bash",
        "# the whole comparison: trains every model, scores them, writes this page (a finished run is skipped)",
        command_line,
        "```",
        "",
        "`--imagenet-weights FILE` (Keras's `vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5`) adds the SRGAN "
        "row; `--quick` runs the same pipeline tiny (a few minutes: it tests the script); `--out DIR` (default `runs/compare`) holds "
        "the runs, `--doc FILE` names the page.",
        "",
        "## Results",
        "",
        f"{e['count']} synthetic fields of {e['size']}x{e['size']} px, RGB merge, seed {e['seed']} (training used "
        f"seed {d['seed']}: other fields), x4 bicubic LR (`msrgan.data.degrade`, MATLAB's antialiased imresize). "
        "Mean ± sample standard deviation over the fields; Dice of an Otsu + watershed nuclei segmentation against "
        "the HR one; the last column is each row's two-sided Wilcoxon signed-rank test against bicubic, uncorrected.",
        "",
        table,
        "",
        "Against bicubic and SRResNet, per row (median per-image difference, Holm-adjusted p over the pairs of the "
        "table above):",
        "",
    ]
    for s in done:
        for base in ("bicubic", "SRResNet (MSE)"):
            if base == s.label or (s.label, base) not in tests["psnr"]:
                continue
            tp, ts = tests["psnr"][(s.label, base)], tests["ssim"][(s.label, base)]
            lines.append(f"- {s.label} vs {base}: PSNR {tp['median_difference']:+.2f} dB (better on "
                         f"{tp['better']}/{tp['n']} fields, Holm p {_fmt_p(tp['pvalue_adjusted'])}), SSIM "
                         f"{ts['median_difference']:+.4f} ({ts['better']}/{ts['n']}, Holm p "
                         f"{_fmt_p(ts['pvalue_adjusted'])})")
    lines += [
        "",
        "Do not read more into it than the settings below carry: one seed per model, a short CPU budget, "
        "synthetic fields. GAN training trades PSNR and SSIM for texture by design (SRGAN's own tables show its "
        "PSNR below SRResNet's), so a GAN row below SRResNet on these two metrics is the expected direction, not a "
        "failure; a perceptual comparison would need a user study or a perceptual metric.",
        "",
        "## Settings",
        "",
        f"- **Data**: `--data {d['data']} --count {d['count']} --size {d['size']} --channels {d['channels']} "
        f"--seed {d['seed']}`: the embedded high-content-screening generator (`msrgan.data.synthetic`), RGB merge "
        "(R microtubules, G protein, B nucleus), 10% of the fields held out for validation during training; "
        f"`--degradation {d['degradation']}` x4; random {d['patch_size']} px HR patches (flips/rot90), batch "
        f"{d['batch_size']}; percentile normalization (2 / 99.8).",
        f"- **Budget**: {p + g} generator updates for every trained row (Adam). SRCNN: {p + g} MSE steps at "
        f"{cfg['pretrain_lr']:g}, cosine-decayed. The SRResNet family shares one first phase (`pretrain`: "
        f"{p} MSE steps at {cfg['pretrain_lr']:g}, cosine-decayed; validation PSNR "
        f"{pretrain['validation']['msrgan']['psnr']:.2f} dB, bicubic {pretrain['validation']['bicubic']['psnr']:.2f}),"
        f" then {g} steps each, with fresh Adam moments at {cfg['g_lr']:g}: SRResNet on the MSE alone, SRGAN and "
        "mSRGAN as GANs (SRGAN too starts from a trained SRResNet), so the three differ only in the loss of their "
        "last phase.",
        f"- **GAN phase** (as the project's `msrgan-x4-gan` preset, `scripts/presets/msrgan-x4-gan.json`): "
        f"`alpha * MSE + beta * content + gamma * adversarial` with alpha 1, gamma {cfg['gamma']:g} (SRGAN's), "
        "beta the seed's weight translated to means for the patch size and extractor (docs/training.md); "
        f"least-squares adversarial loss; discriminator {cfg['discriminator_filters']} filters, "
        f"{cfg['discriminator_dense']}-unit head, Adam {cfg['d_lr']:g}.",
        f"- **miniVGG19**: `msrgan train-classifier` on {cfg['classifier']['count']} synthetic "
        f"{cfg['classifier']['size']} px fields (13 localization classes), width {cfg['classifier']['width']}, "
        f"{cfg['classifier']['steps']} steps: validation top-1 {classifier['val_accuracy']:.1%}; mSRGAN's content "
        "loss taps its block5.",
        f"- **Evaluation**: `msrgan evaluate` with every trained row as a `--model`, `--data synthetic --count "
        f"{e['count']} --size {e['size']} --seed {e['seed']}`; its `models.md` is the table above (row names "
        f"given here). **Convention:** {ordered[0].convention()}.",
        "",
        "| row | network | training | beta, gamma | validation PSNR / SSIM (bicubic) | training time |",
        "|---|---|---|---|---|---:|",
    ]
    for s in rows:
        if s.not_run:
            lines.append(f"| {s.label} | {cfg['generator']} | {s.what} | | not run: {s.not_run} | |")
            continue
        t = trained[s.name]
        v = t["validation"]
        losses = t.get("losses") or {}
        bg = (f"{losses['beta']:.3g}, {losses['gamma']:g}" if t.get("gan_steps") else "-")
        lines.append(f"| {s.label} | {s.settings['generator'] if 'srcnn' in s.name else cfg['generator']} | "
                     f"{s.what} | {bg} | {v['msrgan']['psnr']:.2f} / {v['msrgan']['ssim']:.4f} "
                     f"({v['bicubic']['psnr']:.2f} / {v['bicubic']['ssim']:.4f}) | {_minutes(timings.get(s.name))} |")
    lines += [
        "",
        "Validation: the held-out training fields, center crops, as `msrgan train` reports it (training.json).",
        "",
        "## Departures from the thesis",
        "",
        f"- **Generator**: `{cfg['generator']}` for SRResNet, SRGAN and mSRGAN, not SRResNet's 16 blocks of 64 "
        "filters with BatchNorm (`msrgan-x4`): 8 blocks, 48 filters, no BatchNorm, predicting a correction to "
        "bicubic upsampling (the shipped presets' network). In a 40-step trial on this machine the full network "
        "took about 2.3 times as long per step and, without the bicubic skip, was still 10 dB below bicubic on "
        "its validation crops; it was not tried at this budget. All three rows share one network, so their "
        "comparison is like for like.",
        "- **Data**: synthetic fields instead of the Human Protein Atlas crops; the miniVGG19 learns the synthetic "
        "13 classes. What this says about real images is limited (see docs/presets.md on the synthetic-to-real gap).",
        f"- **Budget**: {p + g} updates of batch {d['batch_size']} on {d['patch_size']} px patches, against "
        "SRGAN's 10^6 SRResNet updates and 2 x 10^5 GAN updates of batch 16 on 96 px patches: every trained row is "
        "far from converged, and a longer run may order them differently.",
        "- **SRGAN's content weight**: the same rule as mSRGAN's (the seed's weights translated to means, by the "
        "feature count of the tap), not SRGAN's 1/12.75 feature rescaling, so the two GAN rows differ only in "
        "the extractor.",
        ("- **SRGAN (ImageNet VGG54)** was not run: the ImageNet VGG19 weights cannot be downloaded on the machine "
         "that ran this page, and no weights file was given. Nothing stands in for it."
         if any(s.not_run for s in rows) else
         "- **SRGAN (ImageNet VGG54)** used the weights file given with `--imagenet-weights`."),
        "",
        "## Machine and time",
        "",
        f"- {info['cpu']}, {info['cores']} cores available; Keras backend `{info['backend']}` ({info['versions']}, "
        f"Python {info['python']}).",
        *[f"- Session of {x['date']}: {x['minutes']} min, ran {', '.join(x['ran'])}; load average (1, 5, 15 min) "
          + " -> ".join(", ".join(f"{v:.1f}" for v in x[k]) for k in ("load_start", "load_end") if x.get(k))
          + f" at its start and end on {info['cores']} cores." for x in info["sessions"]],
        "- Wall time per stage (including start-up and validation): "
        + ", ".join(f"{k} {_minutes(v)}" for k, v in timings.items())
        + f"; {_minutes(sum(timings.values()))} in all. A load above the core count means other work shared "
        "the machine, and every time here is longer for it.",
        "",
        "## The runs",
        "",
        f"Each row's folder under `{_path(out)}` holds its generator (`msrgan upscale --model FOLDER`), "
        "`train_config.json`, `training.json`, logs and checkpoints; `eval/` holds the `msrgan evaluate` report "
        "(per-field metrics, `models.md`). The commands, in order:",
        "",
        "```text",
        *[shlex.join(command(s, out)) for s in stages if not s.not_run],
        f"msrgan evaluate {' '.join('--model ' + _path(out / s.name) for s in done)} --data synthetic "
        f"--count {e['count']} --size {e['size']} --seed {e['seed']} --no-figures -o {_path(folder)} --overwrite",
        "```",
        "",
    ]
    return "\n".join(ln for ln in lines if ln is not None) + ("\n" if lines[-1] else "")


def _fmt_p(p: float) -> str:
    return "n/a" if p != p else f"{p:.3g}"


def machine() -> dict:
    """The CPU, cores, load and software versions, for the page."""
    from importlib.metadata import PackageNotFoundError, version

    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                   if ln.startswith("model name"))
    except (OSError, StopIteration):
        pass
    backend = os.environ["KERAS_BACKEND"]
    found = []
    for pkg in ("keras", *{"tensorflow": ("tensorflow", "tensorflow-cpu")}.get(backend, (backend,)), "scipy"):
        try:
            found.append(f"{pkg} {version(pkg)}")
        except PackageNotFoundError:
            pass
    versions = ", ".join(found) or "versions unknown"
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {"cpu": cpu, "cores": cores, "backend": backend, "versions": versions,
            "python": platform.python_version(), "load": os.getloadavg() if hasattr(os, "getloadavg") else None}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=None, help="run folders (default runs/compare; --quick: runs/compare-quick)")
    p.add_argument("--doc", default=None,
                   help="the page written (default docs/comparison.md; --quick: OUT/comparison.md)")
    p.add_argument("--imagenet-weights", default=None, metavar="FILE",
                   help="VGG19 ImageNet 'notop' Keras weights (vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5) "
                        "for the SRGAN row; without it that row is not run")
    p.add_argument("--quick", action="store_true", help="tiny networks, images and step counts (a few minutes)")
    p.add_argument("--overwrite", action="store_true", help="retrain runs in OUT that have other settings")
    args = p.parse_args(argv)

    cfg = QUICK if args.quick else FULL
    out = Path(args.out or ROOT / ("runs/compare-quick" if args.quick else "runs/compare")).absolute()
    doc = Path(args.doc).absolute() if args.doc else (out / "comparison.md" if args.quick else ROOT / "docs/comparison.md")
    weights = Path(args.imagenet_weights).absolute() if args.imagenet_weights else None
    if weights is not None and not weights.is_file():
        p.error(f"--imagenet-weights {args.imagenet_weights}: no such file")
    if out.exists() and not out.is_dir():
        p.error(f"--out {args.out}: exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    env.setdefault("KERAS_BACKEND", "tensorflow")
    os.environ["KERAS_BACKEND"] = env["KERAS_BACKEND"]
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    started, load_start = time.time(), machine()["load"]
    stages = plan(cfg, out, weights)
    timings_file, sessions_file = out / "timings.json", out / "sessions.json"
    timings = json.loads(timings_file.read_text()) if timings_file.is_file() else {}
    sessions = json.loads(sessions_file.read_text()) if sessions_file.is_file() else []
    ran = []
    todo = [s for s in stages if not s.not_run]
    for k, stage in enumerate(todo, 1):
        seconds = run_stage(stage, out, env, args.overwrite, f"[{k}/{len(todo)}]")
        if seconds is not None:
            timings[stage.name] = seconds
            ran.append(stage.name)
            timings_file.write_text(json.dumps(timings, indent=1) + "\n")
    for stage in stages:
        if stage.not_run:
            print(f"==> {stage.name}: not run: {stage.not_run}", flush=True)
    folder, seconds = evaluate(stages, cfg, out, env)
    if seconds is not None:
        timings["evaluation"] = seconds
        ran.append("evaluation")
        timings_file.write_text(json.dumps(timings, indent=1) + "\n")
    if ran:  # the sessions that trained or scored something, for the page
        sessions.append({"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started)), "ran": ran,
                         "minutes": round((time.time() - started) / 60, 1), "load_start": load_start,
                         "load_end": machine()["load"]})
        sessions_file.write_text(json.dumps(sessions, indent=1) + "\n")

    command_line = "python scripts/compare.py" + "".join(f" {shlex.quote(a)}" for a in (argv or sys.argv[1:]))
    info = {**machine(), "sessions": sessions, "date": (sessions[-1]["date"] if sessions else "?")[:10]}
    page = render(stages, cfg, out, folder, timings, info, command_line, quick=args.quick)
    from zoo.files import atomic_write_bytes

    doc.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(doc, page.encode())
    print(f"==> wrote {_path(doc)} ({(time.time() - started) / 60:.1f} min this session)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
