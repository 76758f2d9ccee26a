"""What msrgan promises about files and loading, one test per hostile case (docs/guarantees.md).

Nothing the user had is lost or overwritten, nothing is written before the settings are validated,
partial outputs never pass for whole ones (and are cleaned up), loading runs no code, and every
user or environment error is one clear line instead of a traceback, with the exit status of its kind
(``msrgan.errors``: 2 usage, 3 input, 1 runtime). Secrets and
Hub failures are in ``tests/test_guarantees_hub.py``. A new command must pass these too: add its
cases to the tables below.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from msrgan.cli import main
from msrgan.errors import EXIT_INPUT, EXIT_RUNTIME, EXIT_USAGE

RUN_SETTINGS = ["train", "--count", "6", "--size", "64", "--channels", "1", "--scale", "2",
                "--patch-size", "32", "--batch-size", "2", "--val-size", "32", "--val-fraction", "0.34",
                "--pretrain-steps", "4", "--gan-steps", "0", "--steps-per-epoch", "2", "--checkpoint-every", "2",
                "--no-tensorboard", "--verbose", "0"]
TINY_RUN = [*RUN_SETTINGS, "--generator", "msrgan-x4-small", "--generator-option", "num_blocks=1",
            "--generator-option", "filters=8"]


def _tree(folder: Path) -> dict:
    """Every file under ``folder`` (hidden ones included) -> its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _one_line_error(capsys, *needles) -> str:
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    for needle in needles:
        assert needle in err, err
    return err


@pytest.fixture
def earlier_run(tmp_path) -> Path:
    """A folder holding an earlier training run (its files' content is what must survive) and a user file."""
    out = tmp_path / "run"
    (out / "checkpoints" / "step-00000002").mkdir(parents=True)
    (out / "checkpoints" / "step-00000002" / "state.safetensors").write_bytes(b"old state")
    (out / "logs").mkdir()
    (out / "logs" / "steps.csv").write_text("step,loss\n1,0.5\n")
    for name in ("config.json", "model.safetensors", "README.md", "training.json", "train_config.json"):
        (out / name).write_text(f"old {name}")
    (out / "notes.txt").write_text("the user's own notes")
    return out


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    """A real (tiny) finished run with two checkpoints, trained once for the module."""
    out = tmp_path_factory.mktemp("finished") / "run"
    assert main([*TINY_RUN, "--out", str(out)]) == 0
    return out


# ------------------------------------------------------------------------------------------------
# 1, 16: nothing is written or removed before every setting has been validated
# ------------------------------------------------------------------------------------------------

BAD_SETTINGS = {  # flags, what the error line names, exit status
    "negative steps": (["--pretrain-steps", "-5"], "pretrain_steps", EXIT_USAGE),
    "unknown extractor": (["--content", "bogus=xyz"], "bogus", EXIT_USAGE),
    "ImageNet weights that are not HDF5": (["--content", "vgg19-imagenet={notes}"], "not a VGG19", EXIT_INPUT),
    "bad learning rate": (["--g-lr", "0"], "g_lr", EXIT_USAGE),
    "unknown degradation parameter": (["--degradation", "random", "--degradation-param", "photon=3"], "photon",
                                      EXIT_USAGE),
}


@pytest.mark.parametrize("case", sorted(BAD_SETTINGS))
def test_failed_overwrite_leaves_the_earlier_run_untouched(case, earlier_run, capsys):
    flags, needle, status = BAD_SETTINGS[case]
    flags = [f.format(notes=earlier_run / "notes.txt") for f in flags]
    before = _tree(earlier_run)
    assert main([*TINY_RUN, *flags, "--out", str(earlier_run), "--overwrite"]) == status
    _one_line_error(capsys, needle)
    assert _tree(earlier_run) == before


@pytest.mark.parametrize("case", sorted(BAD_SETTINGS))
def test_failed_new_run_writes_nothing(case, tmp_path, capsys):
    flags, needle, status = BAD_SETTINGS[case]
    (tmp_path / "notes.txt").write_text("x")
    flags = [f.format(notes=tmp_path / "notes.txt") for f in flags]
    assert main([*TINY_RUN, *flags, "--out", str(tmp_path / "new")]) == status
    _one_line_error(capsys, needle)
    assert not (tmp_path / "new").exists()


def test_a_crash_mid_run_keeps_the_earlier_run(earlier_run, monkeypatch, capsys):
    import msrgan.training.pipeline as train

    def crash(*args, work, **kwargs):
        (work / "checkpoints").mkdir()
        (work / "checkpoints" / "half-written").write_text("partial")
        raise RuntimeError("simulated crash during training")

    monkeypatch.setattr(train, "_fit_and_save", crash)
    before = _tree(earlier_run)
    assert main([*TINY_RUN, "--out", str(earlier_run), "--overwrite"]) == EXIT_RUNTIME
    _one_line_error(capsys, "msrgan train: error: simulated crash during training")
    assert _tree(earlier_run) == before  # the old run, whole, and no partial folder left beside it


def test_overwrite_replaces_the_run_and_keeps_other_files(earlier_run, capsys):
    assert main([*TINY_RUN, "--out", str(earlier_run), "--overwrite"]) == 0
    assert (earlier_run / "notes.txt").read_text() == "the user's own notes"
    assert json.loads((earlier_run / "config.json").read_text())["class_name"] == "Generator"
    assert sorted(p.name for p in (earlier_run / "checkpoints").iterdir()) == ["step-00000002", "step-00000004"]
    assert (earlier_run / "checkpoints" / "step-00000002" / "state.safetensors").read_bytes() != b"old state"
    assert not [p for p in earlier_run.iterdir() if p.name.startswith(".partial-")]


# ------------------------------------------------------------------------------------------------
# 3, 15: config files
# ------------------------------------------------------------------------------------------------

def test_a_copied_run_never_writes_into_the_original(finished_run, tmp_path, capsys):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(finished_run, copy)
    before = _tree(finished_run)
    assert main(["train", "--config", str(copy / "train_config.json"), "--resume"]) == EXIT_INPUT
    _one_line_error(capsys, str(finished_run), "--out")
    # with --out the copy resumes in its own folder; the original is untouched
    assert main(["train", "--config", str(copy / "train_config.json"), "--resume", "--out", str(copy)]) == 0
    assert _tree(finished_run) == before


@pytest.mark.parametrize("setting, value", [("pretrain_steps", "many"), ("batch_size", 0), ("augment", "yes"),
                                            ("scale", 3), ("ema", 1.5)])
def test_config_file_values_are_checked_by_name_and_file(setting, value, tmp_path, capsys):
    cfg = tmp_path / "bad.json"
    cfg.write_text(json.dumps({setting: value}))
    assert main(["train", "--config", str(cfg), "--out", str(tmp_path / "o")]) == EXIT_INPUT
    _one_line_error(capsys, f"setting {setting}", str(cfg))
    assert not (tmp_path / "o").exists()


# ------------------------------------------------------------------------------------------------
# 11: checkpoints
# ------------------------------------------------------------------------------------------------

def test_a_truncated_checkpoint_is_named_with_the_previous_one(finished_run, tmp_path, capsys):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    cfg = json.loads((run / "train_config.json").read_text())
    cfg["out"] = str(run)
    (run / "train_config.json").write_text(json.dumps(cfg))
    state = run / "checkpoints" / "step-00000004" / "state.safetensors"
    state.write_bytes(state.read_bytes()[:100])
    assert main(["train", "--config", str(run / "train_config.json"), "--resume", "--gan-steps", "1"]) == EXIT_INPUT
    _one_line_error(capsys, "step-00000004", "truncated", "step-00000002")


# ------------------------------------------------------------------------------------------------
# 8, 9: loading runs no code and every bad config is one clear error
# ------------------------------------------------------------------------------------------------

@pytest.fixture
def model_folder(tmp_path) -> Path:
    from msrgan.models import Generator

    g = Generator(num_blocks=1, filters=8, channels=1, scale=2)
    g(np.zeros((1, 8, 8, 1), "float32"))
    return g.save_pretrained(tmp_path / "model")


TAMPERED = {
    "dtype naming a module": {"dtype": {"module": "os", "class_name": "system", "config": {}}},
    "nested serialized object": {"filters": {"module": "builtins", "class_name": "eval", "config": "1"}},
    "dtype not a string": {"dtype": 3},
    "wrong value type": {"num_blocks": "many"},
}


@pytest.mark.parametrize("case", sorted(TAMPERED))
def test_a_tampered_config_is_refused_without_a_traceback(case, model_folder, tmp_path, capsys):
    import zoo

    cfg = json.loads((model_folder / "config.json").read_text())
    cfg["config"].update(TAMPERED[case])
    (model_folder / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match="config.json"):
        zoo.from_pretrained(model_folder)
    # the same folder through the commands that load models
    img = tmp_path / "a.png"
    from msrgan.data.io import write_image

    write_image(img, np.zeros((16, 16), np.uint8))
    assert main(["upscale", str(img), "-o", str(tmp_path / "out"), "--model", str(model_folder)]) == EXIT_INPUT
    _one_line_error(capsys, "config.json")
    assert main([*RUN_SETTINGS, "--generator", str(model_folder), "--out", str(tmp_path / "run")]) == EXIT_INPUT
    _one_line_error(capsys, "config.json")
    assert not (tmp_path / "run").exists() and not (tmp_path / "out").exists()


# ------------------------------------------------------------------------------------------------
# 5: stacks are never read as channels: each plane is upscaled as a 2-D image, axes kept
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("axes, planes", [("ZYX", 3), ("TYX", 3), ("ZYX", 5), ("TZYX", 2)])
def test_a_stack_is_upscaled_plane_by_plane_not_as_channels(axes, planes, model_folder, tmp_path):
    import tifffile

    from msrgan.inference import upscale, load_generator

    shape = (planes,) * (len(axes) - 2) + (16, 16)
    data = np.random.default_rng(planes).integers(0, 4000, shape).astype(np.uint16)
    tifffile.imwrite(tmp_path / "stack.tif", data, imagej=True, metadata={"axes": axes})
    assert main(["upscale", str(tmp_path / "stack.tif"), "-o", str(tmp_path / "out"),
                 "--model", str(model_folder)]) == 0
    with tifffile.TiffFile(tmp_path / "out" / "stack_x2.tif") as tif:
        assert tif.series[0].axes == axes
        out = tif.asarray()
    assert out.shape == shape[:-2] + (32, 32)
    g = load_generator(str(model_folder))
    for index in np.ndindex(shape[:-2]):
        np.testing.assert_array_equal(out[index], upscale(data[index], g))


# ------------------------------------------------------------------------------------------------
# 6, 7 and the format checks: output problems are found before the model runs
# ------------------------------------------------------------------------------------------------

def _unwritable_folder(tmp_path) -> Path:
    if os.geteuid() == 0:  # root writes through permission bits; sysfs refuses new files even to root
        return Path("/sys/msrgan-test-output")
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    return ro / "out"


OUTPUT_PROBLEMS = {
    "output under a file": (lambda tmp: tmp / "a.png" / "sub", None, "is a file"),
    "unwritable output folder": (_unwritable_folder, None, "not writable"),
    "JPEG for a 16-bit image": (lambda tmp: tmp / "out", ".jpg", "JPEG holds 8-bit"),
    "PNG for a float image": (lambda tmp: tmp / "out", ".png", "PNG holds uint8 or uint16"),
}


@pytest.mark.parametrize("case", sorted(OUTPUT_PROBLEMS))
def test_output_problems_stop_before_the_model_runs(case, model_folder, tmp_path, monkeypatch, capsys):
    import tifffile

    from msrgan import tiling
    from msrgan.data.io import write_image

    target, suffix, needle = OUTPUT_PROBLEMS[case]
    write_image(tmp_path / "a.png", np.zeros((16, 16), np.uint8))
    src = tmp_path / "in.tif"
    dtype = np.float32 if "float" in case else np.uint16
    tifffile.imwrite(src, np.ones((16, 16), dtype))
    if "under a file" in case:
        src = tmp_path / "a.png"
    calls = []
    monkeypatch.setattr(tiling, "predict_batch", lambda *a, **k: calls.append(1))
    out = target(tmp_path)
    args = ["upscale", str(src), "-o", str(out), "--model", str(model_folder)]
    assert main(args + (["--suffix", suffix] if suffix else [])) == EXIT_INPUT
    _one_line_error(capsys, needle)
    assert calls == [] and not out.exists()


@pytest.mark.parametrize("flag,value,needles", [
    ("--tile", "0", ["tile must be an integer >= 1", "tile=0"]),
    ("--tile", "-5", ["tile must be an integer >= 1", "tile=-5"]),
    ("--overlap", "-1", ["overlap must be an integer >= 0", "overlap=-1"]),
    ("--batch-size", "0", ["batch_size must be a positive integer, got 0"]),
    ("--channels", "x", ["--channels", "'x' must be comma-separated integers"]),
    ("--channels", ",", ["--channels", "channels_map is empty (got ',')"]),
])
def test_tiling_flag_errors_are_usage_errors_before_any_input_is_read(flag, value, needles, tmp_path, capsys,
                                                                      monkeypatch):
    """Values the command line alone shows to be wrong: exit status 2, the library's rule in one line,
    and neither the input nor the model is opened (neither exists here)."""
    from msrgan.commands import upscale

    opened = []
    monkeypatch.setattr(upscale, "expand_inputs", lambda *a: opened.append(a) or [])
    assert main(["upscale", str(tmp_path / "missing.png"), "-o", str(tmp_path / "o"), "--model",
                 str(tmp_path / "no-model"), flag, value]) == EXIT_USAGE
    _one_line_error(capsys, *needles)
    assert opened == [] and not (tmp_path / "o").exists()


# ------------------------------------------------------------------------------------------------
# 17: a killed write leaves one recognisable partial file, removed by the next run into the folder
# ------------------------------------------------------------------------------------------------

def test_a_killed_tiff_write_is_cleaned_by_the_next_run(model_folder, tmp_path):
    from msrgan.data.io import write_image

    out = tmp_path / "out"
    image = tmp_path / "big.tif"
    write_image(image, (np.arange(96 * 96) % 65535).astype(np.uint16).reshape(96, 96))
    code = f"""
        import os, signal, numpy as np, zoo, msrgan
        from msrgan.data.io import read_image
        from msrgan.inference import upscale_to_tiff
        g = zoo.from_pretrained({str(model_folder)!r})
        calls = []
        class Killed:
            scale, channels, receptive_margin = g.scale, g.channels, g.receptive_margin
            def predict_on_batch(self, x):
                calls.append(1)
                if len(calls) == 2:
                    os.kill(os.getpid(), signal.SIGKILL)
                return g.predict_on_batch(x)
        upscale_to_tiff(read_image({str(image)!r}), Killed(), {str(out / "big_x2.tif")!r}, tile=40, batch_size=1,
                        progress=False)
    """
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    left = [p.name for p in out.iterdir()]
    assert len(left) == 1 and left[0].startswith(".partial-") and "big_x2.tif" in left[0]
    # the next run into the folder removes it, and writes its own output whole
    assert main(["upscale", str(image), "-o", str(out), "--model", str(model_folder), "--suffix", ".tif"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["big_x2.tif"]


def test_partials_of_a_live_process_are_kept(tmp_path):
    from zoo.files import partial_path, remove_stale_partials

    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        dead_pid = subprocess.Popen([sys.executable, "-c", "pass"])
        dead_pid.wait()
        (tmp_path / f".partial-{live.pid}-x.tif-abc.tif").write_bytes(b"live")
        (tmp_path / f".partial-{dead_pid.pid}-y.tif-abc.tif").write_bytes(b"dead")
        removed = [p.name for p in remove_stale_partials(tmp_path)]
        assert removed == [f".partial-{dead_pid.pid}-y.tif-abc.tif"]
        assert (tmp_path / f".partial-{live.pid}-x.tif-abc.tif").exists()
        mine = partial_path(tmp_path / "z.tif")  # a writer cleans the folder, and never its own partials
        assert mine.name.startswith(f".partial-{os.getpid()}-z.tif-") and remove_stale_partials(tmp_path) == []
    finally:
        live.kill()
        live.wait()
