"""``scripts/compare.py``: the comparison runs end to end (``--quick``), resumes, and never fakes the ImageNet row."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest

from tests.helpers import ROOT

SCRIPT = ROOT / "scripts" / "compare.py"
NOT_RUN = "| SRGAN (ImageNet VGG54) | not run: ImageNet VGG19 weights not available (pass --imagenet-weights) | | | |"


def _compare(*args, timeout=600):
    # The script is backend-independent; TensorFlow starts its short runs fastest on CPU.
    env = {**os.environ, "KERAS_BACKEND": "tensorflow"}
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=timeout)


def _script():
    spec = importlib.util.spec_from_file_location("compare_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("compare") / "runs"
    proc = _compare("--quick", "--out", out)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return out, proc


@pytest.mark.one_backend
def test_quick_comparison_writes_the_table(quick):
    out, proc = quick
    page = (out / "comparison.md").read_text()
    lines = page.splitlines()
    head = lines.index("| method | PSNR (dB) | SSIM | Dice | Wilcoxon p vs bicubic (PSNR / SSIM) |")
    rows = [ln.split("|")[1].strip() for ln in lines[head + 2:head + 8]]
    assert rows == ["nearest", "bicubic", "SRCNN", "SRResNet (MSE)", "SRGAN (ImageNet VGG54)", "mSRGAN (miniVGG19)"]
    assert NOT_RUN in lines  # said, not faked: no numbers in that row, no run folder
    assert not (out / "srgan-vgg54").exists()
    for name in ("SRCNN", "SRResNet (MSE)", "mSRGAN (miniVGG19)"):
        cells = [c.strip() for c in next(ln for ln in lines[head:] if ln.startswith(f"| {name} |")).split("|")]
        assert " ± " in cells[2] and " ± " in cells[3] and " / " in cells[5]  # mean ± std PSNR / SSIM, p vs bicubic
    # every pair of the five methods scored, with Holm-adjusted p-values
    pairs = [ln for ln in lines if ln.startswith("| ") and " vs " in ln.split("|")[1] and not ln.startswith("| pair")]
    assert len(pairs) == 10 and "Holm" in page
    assert "| mSRGAN (miniVGG19) vs SRResNet (MSE) |" in page
    # the settings, the convention, the exact command and the machine are on the page
    for text in ("python scripts/compare.py --quick --out", "data_range=1", "4-pixel border cropped",
                 "## Machine and time", "cores available", "msrgan train-classifier", "--content minivgg19="):
        assert text in page, text
    # the table is msrgan evaluate's: the same per-model report the page was made from
    report = json.loads((out / "eval" / "3_msrgan" / "evaluation.json").read_text())
    assert report["settings"]["images"] == 2 and (out / "eval" / "models.md").is_file()
    for stage in ("minivgg19", "srcnn", "pretrain", "srresnet", "msrgan"):
        assert "==> [" in proc.stdout and stage in proc.stdout


@pytest.mark.one_backend
def test_a_second_run_skips_finished_runs_and_refuses_changed_ones(quick):
    out, _ = quick
    before = (out / "msrgan" / "model.safetensors").stat().st_mtime_ns
    proc = _compare("--quick", "--out", out, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("skipped") == 6  # five runs and the evaluation
    assert (out / "msrgan" / "model.safetensors").stat().st_mtime_ns == before
    config = out / "srcnn" / "train_config.json"
    settings = json.loads(config.read_text())
    config.write_text(json.dumps({**settings, "pretrain_steps": 99}))
    try:
        proc = _compare("--quick", "--out", out, timeout=300)
    finally:
        config.write_text(json.dumps(settings))
    assert proc.returncode != 0
    assert "other settings" in proc.stderr and "pretrain_steps: 99 there, 4 here" in proc.stderr
    assert "--overwrite" in proc.stderr


@pytest.mark.one_backend
def test_missing_weights_file_is_a_usage_error(tmp_path):
    proc = _compare("--quick", "--out", tmp_path / "runs", "--imagenet-weights", tmp_path / "vgg19.h5", timeout=120)
    assert proc.returncode == 2 and "--imagenet-weights" in proc.stderr and "no such file" in proc.stderr
    assert not (tmp_path / "runs").exists()


@pytest.mark.one_backend
def test_plan_gives_every_trained_row_the_same_budget(tmp_path):
    compare = _script()
    stages = {s.name: s for s in compare.plan(compare.FULL, tmp_path, None)}
    p, g = compare.FULL["pretrain_steps"], compare.FULL["final_steps"]
    steps = lambda s: s.settings["pretrain_steps"] + s.settings["gan_steps"]  # noqa: E731
    assert steps(stages["srcnn"]) == p + g == steps(stages["pretrain"]) + steps(stages["srresnet"])
    assert steps(stages["pretrain"]) + steps(stages["msrgan"]) == p + g
    assert stages["srgan-vgg54"].not_run == compare.NOT_RUN_IMAGENET
    assert stages["msrgan"].settings["generator"] == stages["srgan-vgg54"].settings["generator"]
    with_weights = {s.name: s for s in compare.plan(compare.FULL, tmp_path, tmp_path / "vgg19.h5")}
    assert not with_weights["srgan-vgg54"].not_run
    assert with_weights["srgan-vgg54"].settings["content"] == f"vgg19-imagenet={tmp_path / 'vgg19.h5'}"
    flags = compare.flags({"tensorboard": False, "generator_options": {"num_blocks": 1}, "gamma": 0.001,
                           "content_layers": None})
    assert flags == ["--no-tensorboard", "--generator-option", "num_blocks=1", "--gamma", "0.001"]
