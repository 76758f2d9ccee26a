"""The bundled presets: offline loading on every backend, the sha256 check, the defaults of
``msrgan upscale`` per channel count, ``msrgan models`` and a small held-out evaluation grid."""

from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
import pytest

import zoo
from msrgan.cli import main
from msrgan.errors import EXIT_INPUT
from msrgan.models.channels import DEFAULT_PRESETS, PER_CHANNEL_PRESET
from tests.helpers import other_backends, run_in_backend

PRESETS = ("msrgan-x4-gray", "msrgan-x4-rgb", "msrgan-x4-gan")


def _input(channels: int) -> np.ndarray:
    return np.random.default_rng(channels).random((1, 24, 20, channels)).astype("float32")


def test_presets_are_registered_with_their_facts():
    assert set(PRESETS) <= set(zoo.list_presets())
    for name in PRESETS:
        p = zoo.describe_preset(name)
        assert p["model"] in zoo.list_models() and p["scale"] == 4 and p["kind"] in ("psnr", "gan")
        assert p["command"] and p["layout"] and len(p["sha256"]) == 64
        folder = zoo.preset_folder(name)
        assert hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest() == p["sha256"]
        card = (folder / "README.md").read_text()
        assert name in card and p["command"] in card and "Held-out evaluation grid" in card
    assert zoo.describe_preset("msrgan-x4-gan")["kind"] == "gan"
    assert {zoo.describe_preset(n)["kind"] for n in DEFAULT_PRESETS.values()} == {"psnr"}


def test_bundled_weights_stay_within_the_size_cap():
    total = sum((zoo.preset_folder(n) / "model.safetensors").stat().st_size for n in zoo.list_presets())
    assert total <= 10 * 1000 * 1000


@pytest.mark.one_backend  # compares this backend's outputs with the two others': one run covers every pair
def test_every_preset_loads_offline_with_the_same_outputs_on_every_backend(backend):
    import keras

    from msrgan.models import Generator

    here = {}
    for name in PRESETS:
        g = Generator.from_pretrained(name)
        assert g.pretrained_source == {"preset": name}
        here[name] = keras.ops.convert_to_numpy(g(_input(g.channels), training=False))
    for other in other_backends(backend):  # one process per backend runs every preset
        got = run_in_backend(other, f"""
            import json, numpy as np, zoo, msrgan
            out = {{}}
            for name in {list(PRESETS)!r}:
                g = zoo.from_pretrained(name)
                x = np.random.default_rng(g.channels).random((1, 24, 20, g.channels)).astype("float32")
                out[name] = np.asarray(g.predict_on_batch(x)).ravel().tolist()
            print(json.dumps(out))
        """, env={"HF_HUB_OFFLINE": "1"})
        assert sorted(got) == sorted(PRESETS)
        for name in PRESETS:
            np.testing.assert_allclose(np.asarray(got[name]).reshape(here[name].shape), here[name], atol=1e-4,
                                       err_msg=f"{name} on {other}")


def test_unknown_preset_lists_the_presets():
    with pytest.raises(ValueError, match="msrgan-x4-gray"):
        zoo.get_preset("msrgan-x4-grey")


def test_a_tampered_or_missing_preset_is_never_loaded(tmp_path):
    source = zoo.get_preset("msrgan-x4-gray")
    copy = tmp_path / "gray"
    shutil.copytree(source.folder, copy)
    zoo.register_preset("test-tampered", copy, sha256=source.sha256, model=source.model)
    assert zoo.from_pretrained("test-tampered").channels == 1  # an intact copy loads
    # tamper with the weights AND the sha256 in config.json: only the registered digest can tell
    weights = bytearray((copy / "model.safetensors").read_bytes())
    weights[-1] ^= 1
    (copy / "model.safetensors").write_bytes(bytes(weights))
    cfg = json.loads((copy / "config.json").read_text())
    cfg["weights"]["sha256"] = hashlib.sha256(bytes(weights)).hexdigest()
    (copy / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match="sha256"):
        zoo.from_pretrained("test-tampered")
    (copy / "model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="missing"):
        zoo.from_pretrained("test-tampered")


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_upscale_without_model_uses_the_default_preset(channels, tmp_path, capsys):
    import tifffile

    from msrgan.data.io import read_image
    from msrgan.inference import upscale

    rng = np.random.default_rng(channels)
    image = (rng.random((20, 24, channels)) * 60000).astype(np.uint16)
    src = tmp_path / "in.tif"
    tifffile.imwrite(src, np.moveaxis(image, -1, 0) if channels > 1 else image[..., 0], imagej=True,
                     metadata={"axes": "CYX" if channels > 1 else "YX"})
    assert main(["upscale", str(src), "-o", str(tmp_path / "out")]) == 0
    got = read_image(tmp_path / "out" / "in_x4.tif")
    assert got.shape == (80, 96, channels) and got.dtype == np.uint16
    preset = DEFAULT_PRESETS.get(channels, PER_CHANNEL_PRESET)
    g = zoo.from_pretrained(preset)
    if g.channels == channels:
        want = upscale(image, g, progress=False)
    else:  # channel by channel with the single-channel preset
        want = np.stack([upscale(image[..., k], g, progress=False) for k in range(channels)], axis=-1)
    np.testing.assert_allclose(got.reshape(want.shape).astype(np.int64), want.astype(np.int64), atol=2)


def test_a_channel_count_no_model_takes_names_the_ways_out(tmp_path, capsys):
    import tifffile

    src = tmp_path / "two.tif"
    tifffile.imwrite(src, np.zeros((2, 16, 16), np.uint16), imagej=True, metadata={"axes": "CYX"})
    assert main(["upscale", str(src), "-o", str(tmp_path / "o"), "--model", "msrgan-x4-rgb"]) == EXIT_INPUT
    err = capsys.readouterr().err
    assert "--channels" in err and "--per-channel" in err
    assert main(["upscale", str(src), "-o", str(tmp_path / "o"), "--model", "msrgan-x4-rgb",
                 "--per-channel"]) == EXIT_INPUT
    assert "single-channel" in capsys.readouterr().err


def test_models_command_lists_presets_with_their_results(capsys):
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    for name in PRESETS:
        line = next(ln for ln in out.splitlines() if ln.strip().startswith(name))
        assert "x4" in line and "channel" in line
    assert out.count("grid mean PSNR") >= len(PRESETS)


def test_a_small_evaluation_grid_runs_and_scores_bicubic_independently():
    from msrgan import grid
    from msrgan.evaluate import upsample
    from msrgan.metrics import psnr

    cond = grid.conditions(noise=["none"], blur=["none"], objects=["large"], sampling=["sharp"])
    rows = grid.score_grid({"default": zoo.from_pretrained(DEFAULT_PRESETS[1])}, channels=1, count=2, grid=cond,
                           progress=False)
    by = {r["method"]: r for r in rows}
    lr, hr = grid.pairs(cond[0], channels=1, count=2)
    bic = np.mean([psnr(np.clip(upsample(x, 4, "bicubic"), 0, 1), y, crop_border=4) for x, y in zip(lr, hr)])
    assert by["bicubic"]["psnr"] == pytest.approx(bic, abs=1e-6)
    assert by["default"]["psnr"] > by["bicubic"]["psnr"] and by["default"]["ssim"] > by["bicubic"]["ssim"]


def test_interpolate_preset_picks_the_largest_alpha_that_passes_and_saves_the_mix(tmp_path, monkeypatch):
    """scripts/interpolate_preset.py: every weight (1 - alpha) * psnr + alpha * gan, alpha the largest
    of --alphas whose validation margins pass (grid scores stubbed here: margin 0.45 - alpha)."""
    import importlib.util

    from keras import ops

    from msrgan import grid
    from tests.helpers import ROOT

    spec = importlib.util.spec_from_file_location("interpolate_preset", ROOT / "scripts" / "interpolate_preset.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    folders = {}
    for name, seed in (("psnr", 1), ("gan", 2)):
        model = zoo.create("msrgan-x4-small", channels=1)
        model(np.zeros((1, 8, 8, 1), np.float32))
        rng = np.random.default_rng(seed)
        for v in model.variables:
            v.assign(rng.normal(size=tuple(v.shape)).astype(np.float32))
        folders[name] = tmp_path / name
        model.save_pretrained(folders[name])
    weights = {name: {v.path: ops.convert_to_numpy(v) for v in zoo.from_pretrained(folders[name]).variables}
               for name in folders}
    seen = []

    def fake_grid(models, *, channels, count, seed, progress):
        (model,) = models.values()
        kernel = next(v for v in model.variables if v.path.endswith("kernel"))
        p, g = weights["psnr"][kernel.path], weights["gan"][kernel.path]
        alpha = float(np.mean((ops.convert_to_numpy(kernel) - p) / (g - p)))  # the mix the script assigned
        seen.append((round(alpha, 4), seed))
        margin = 0.45 - alpha
        return [{"condition": "c", "method": "bicubic", "psnr": 20.0, "ssim": 0.5},
                {"condition": "c", "method": "model", "psnr": 20.0 + margin, "ssim": 0.5 + margin / 100}]

    monkeypatch.setattr(grid, "score_grid", fake_grid)
    out = tmp_path / "blend"
    assert script.main([str(folders["psnr"]), str(folders["gan"]), "--out", str(out),
                        "--alphas", "0.2,0.9,0.6,0.4", "--select-seed", "7"]) == 0
    assert seen == [(0.9, 7), (0.6, 7), (0.4, 7)]  # largest first, stopping at the first that passes
    blend = zoo.from_pretrained(out)
    for v in blend.variables:
        want = 0.6 * weights["psnr"][v.path].astype(np.float64) + 0.4 * weights["gan"][v.path]
        np.testing.assert_allclose(ops.convert_to_numpy(v), want, rtol=1e-6, atol=1e-6)
    meta = json.loads((out / "config.json").read_text())["metadata"]["interpolation"]
    assert meta["alpha"] == 0.4 and [t["alpha"] for t in meta["tried"]] == [0.9, 0.6, 0.4]
    with pytest.raises(SystemExit, match="no alpha"):
        script.main([str(folders["psnr"]), str(folders["gan"]), "--out", str(tmp_path / "none"), "--alphas", "0.9"])
    assert not (tmp_path / "none").exists()
