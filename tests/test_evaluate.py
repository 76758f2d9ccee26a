"""``msrgan evaluate``: tables with their convention, figures, the Wilcoxon test, and failure modes."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from PIL import Image
from scipy.stats import wilcoxon
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from msrgan.cli import main
from msrgan.data.degrade import degrade
from msrgan.data.io import write_image
from msrgan.data.normalize import normalize
from msrgan.errors import EXIT_INPUT
from msrgan.data.synthetic import synthesize_field
from msrgan.evaluate import METHODS, evaluate, nucleus_channel_index, upsample
from msrgan.models import Generator


class Bicubic:
    """A model stand-in that upsamples its input bicubically: SR then equals the bicubic baseline."""

    receptive_margin = 0

    def __init__(self, scale=4, channels=3, fail_on_call=None):
        self.scale, self.channels, self.calls, self.fail_on_call = scale, channels, 0, fail_on_call

    def predict_on_batch(self, x):
        self.calls += 1
        if self.fail_on_call is not None and self.calls >= self.fail_on_call:
            raise RuntimeError("simulated model failure")
        return np.stack([upsample(t, self.scale, "bicubic") for t in np.asarray(x)])


def _fields(n, size=64, channels=3, bit_depth=16):
    return [synthesize_field(100 + i, size=size, channels=channels, bit_depth=bit_depth)[0] for i in range(n)]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("eval")
    data = root / "fields"
    for i, im in enumerate(_fields(3)):
        write_image(data / f"field_{i}.png", im)
    model = root / "model"
    g = Generator(num_blocks=1, filters=8, channels=3, scale=4)
    g(np.zeros((1, 16, 16, 3), np.float32))
    g.save_pretrained(model)
    return root


def _read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_cli_evaluate_writes_tables_figures_and_the_test_statistic(folder):
    out = folder / "report"
    rc = main(["evaluate", "--model", str(folder / "model"), "--data", str(folder / "fields"), "--scale", "4",
               "--degradation", "bicubic", "-o", str(out)])
    assert rc == 0
    md = (out / "summary.md").read_text()
    for text in ("data_range=1", "4-pixel border cropped", "channel_axis=-1", "mean of the per-channel SSIMs",
                 "Wilcoxon", "| nearest |", "| bicubic |", "| sr |", "Dice vs HR", "nuclei count"):
        assert text in md, text

    rows = _read_csv(out / "metrics.csv")
    assert len(rows) == 3 * len(METHODS)
    assert {r["crop_border"] for r in rows} == {"4"} and {r["data_range"] for r in rows} == {"1.0"}
    assert {r["channels"] for r in rows} == {"mean over 3"}

    # The bicubic rows, recomputed independently: percentile-normalized HR, MATLAB-bicubic LR,
    # Pillow bicubic up, clipped, scored by scikit-image on the 4-pixel-cropped images.
    for i, im in enumerate(_fields(3)):
        hr = normalize(im, clip=True)[0]
        lr = degrade(hr, 4, "bicubic")
        up = np.stack([np.asarray(Image.fromarray(lr[..., k], mode="F").resize((64, 64), Image.BICUBIC))
                       for k in range(3)], axis=-1)
        up = np.clip(up, 0, 1).astype(np.float64)
        row = next(r for r in rows if r["image"] == f"field_{i}.png" and r["method"] == "bicubic")
        c = slice(4, -4)
        assert float(row["psnr"]) == pytest.approx(
            peak_signal_noise_ratio(hr[c, c].astype(np.float64), up[c, c], data_range=1), rel=1e-6)
        assert float(row["ssim"]) == pytest.approx(
            structural_similarity(up[c, c], hr[c, c].astype(np.float64), data_range=1, channel_axis=-1), rel=1e-6)
        assert int(row["hr_nuclei"]) >= 1

    # The Wilcoxon statistic and p-value are scipy's on the paired per-image values.
    tests = {r["metric"]: r for r in _read_csv(out / "wilcoxon.csv")}
    for metric in ("psnr", "ssim", "dice", "iou"):
        sr = [float(r[metric]) for r in rows if r["method"] == "sr"]
        bic = [float(r[metric]) for r in rows if r["method"] == "bicubic"]
        ref = wilcoxon(sr, bic)
        assert float(tests[metric]["statistic"]) == pytest.approx(float(ref.statistic))
        assert float(tests[metric]["pvalue"]) == pytest.approx(float(ref.pvalue))
        assert int(tests[metric]["n"]) == 3

    summary = _read_csv(out / "summary.csv")
    psnr_sr = next(r for r in summary if r["method"] == "sr" and r["metric"] == "psnr")
    values = [float(r["psnr"]) for r in rows if r["method"] == "sr"]
    assert float(psnr_sr["mean"]) == pytest.approx(np.mean(values))
    assert float(psnr_sr["std"]) == pytest.approx(np.std(values, ddof=1))
    assert "crop" in psnr_sr["convention"]

    data = json.loads((out / "evaluation.json").read_text())
    assert data["settings"]["crop_border"] == 4 and len(data["rows"]) == 9

    figures = sorted(p.name for p in (out / "figures").iterdir())
    assert figures == [f"field_{i}_comparison.png" for i in range(3)] + ["metrics_boxplot.png"]
    for name in figures:
        with Image.open(out / "figures" / name) as im:
            assert im.format == "PNG" and im.size[0] > 600 and im.size[1] > 300
    # Nothing else (no staging folder) is left behind.
    assert sorted(p.name for p in out.iterdir()) == ["evaluation.json", "figures", "metrics.csv", "summary.csv",
                                                     "summary.md", "wilcoxon.csv"]


def test_cli_evaluate_refuses_to_replace_a_report_without_overwrite(folder, capsys):
    out = folder / "old-report"
    out.mkdir()
    (out / "summary.md").write_text("earlier")
    rc = main(["evaluate", "--model", str(folder / "model"), "--data", str(folder / "fields"), "-o", str(out)])
    assert rc == EXIT_INPUT and "--overwrite" in capsys.readouterr().err
    assert (out / "summary.md").read_text() == "earlier"
    assert sorted(p.name for p in out.iterdir()) == ["summary.md"]


def test_cli_evaluate_scale_mismatch(folder, capsys):
    rc = main(["evaluate", "--model", str(folder / "model"), "--data", str(folder / "fields"), "--scale", "2",
               "-o", str(folder / "x")])
    err = capsys.readouterr().err
    assert rc == EXIT_INPUT and "--scale 2" in err and "x4" in err


def test_sr_identical_to_bicubic_has_no_test_statistic(tmp_path):
    images = _fields(3, size=48)
    result = evaluate(Bicubic(), images, progress=False, out_dir=tmp_path / "r", figures=False)
    for metric in ("psnr", "ssim", "dice", "iou"):
        np.testing.assert_array_equal(result.values("sr", metric), result.values("bicubic", metric))
    for t in result.tests:
        assert np.isnan(t["pvalue"]) and t["note"] == "all differences are zero"
    assert not (tmp_path / "r" / "figures").exists()
    assert "all differences are zero" in (tmp_path / "r" / "summary.md").read_text()


def test_microscope_degradation_is_seeded_and_recorded():
    images = _fields(2, size=48, channels=4)
    a = evaluate(Bicubic(channels=4), images, degradation="microscope", seed=3, progress=False)
    b = evaluate(Bicubic(channels=4), images, degradation="microscope", seed=3, progress=False)
    c = evaluate(Bicubic(channels=4), images, degradation="microscope", seed=4, progress=False)
    assert a.rows == b.rows and a.rows != c.rows
    assert a.settings["degradation"]["method"] == "microscope" and a.settings["degradation"]["sigma"] == 2.0
    assert a.settings["nucleus_channel"] == 0 == nucleus_channel_index(4)
    assert nucleus_channel_index(3) == 2 and nucleus_channel_index(1) == 0


def test_a_failure_leaves_no_partial_report(tmp_path):
    images = _fields(3, size=48)
    out = tmp_path / "new"
    with pytest.raises(RuntimeError, match="simulated"):
        evaluate(Bicubic(fail_on_call=2), images, out_dir=out, progress=False)
    assert not out.exists()
    kept = tmp_path / "kept"
    kept.mkdir()
    (kept / "notes.txt").write_text("mine")
    with pytest.raises(RuntimeError, match="simulated"):
        evaluate(Bicubic(fail_on_call=3), images, out_dir=kept, progress=False)
    assert [p.name for p in kept.iterdir()] == ["notes.txt"]


def test_bad_evaluation_inputs_are_named():
    with pytest.raises(ValueError, match="scale=2.*x4"):
        evaluate(Bicubic(), _fields(1), scale=2, progress=False)
    with pytest.raises(ValueError, match=r"field-a has 4 channel.*expects 3.*--channels"):
        evaluate(Bicubic(), _fields(1, channels=4), names=["field-a"], progress=False)
    with pytest.raises(ValueError, match="too small"):
        evaluate(Bicubic(), [np.zeros((20, 20, 3), np.uint8)], progress=False)
    bad = np.zeros((64, 64, 3), np.float32)
    bad[1, 1, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        evaluate(Bicubic(), [bad], progress=False)
    with pytest.raises(ValueError, match="no images"):
        evaluate(Bicubic(), [], progress=False)


def test_cli_evaluate_compares_several_models_in_one_table(folder, tmp_path, capsys):
    """Two models, one table: nearest and bicubic once, then one row per model with its own scores."""
    other = tmp_path / "other"
    g = Generator(num_blocks=1, filters=8, channels=3, scale=4, residual="bicubic")  # untrained: exactly bicubic
    g(np.zeros((1, 16, 16, 3), np.float32))
    g.save_pretrained(other)
    out = tmp_path / "report"
    rc = main(["evaluate", "--model", str(folder / "model"), "--model", str(other), "--data", str(folder / "fields"),
               "--no-figures", "-o", str(out)])
    assert rc == 0
    table = (out / "models.md").read_text()
    rows = {line.split("|")[1].strip(): line for line in table.splitlines() if line.startswith("| ")}
    assert {"nearest", "bicubic", str(folder / "model"), str(other)} <= set(rows)
    # each model's row is its own report's mean; the untrained residual model scores as bicubic
    first = json.loads((out / "1_model" / "evaluation.json").read_text())
    second = json.loads((out / "2_other" / "evaluation.json").read_text())
    mean = lambda report, m: np.mean([r["psnr"] for r in report["rows"] if r["method"] == m])  # noqa: E731
    assert f"{mean(first, 'sr'):.2f}" in rows[str(folder / "model")]
    assert mean(second, "sr") == pytest.approx(mean(second, "bicubic"), abs=0.05)
    assert capsys.readouterr().out.count("| bicubic |") == 1


# ------------------------------------------------------------------------------------------------
# Real pairs (--lr/--hr) and channel layouts (--channels, channel by channel)
# ------------------------------------------------------------------------------------------------

def _acquired_lr(hr, scale, seed):
    """A stand-in acquisition at 1/scale: block means of HR plus noise, in HR's dtype."""
    h, w = hr.shape[0] // scale, hr.shape[1] // scale
    blocks = hr[:h * scale, :w * scale].astype(np.float64).reshape(h, scale, w, scale, -1).mean(axis=(1, 3))
    noisy = blocks + np.random.default_rng(seed).normal(0, 300, blocks.shape)
    return np.clip(noisy, 0, 65535).astype(np.uint16)


def _psnr_cropped(y, hr, border):
    return peak_signal_noise_ratio(hr[border:-border, border:-border], y[border:-border, border:-border], data_range=1)


@pytest.mark.one_backend  # a NumPy stand-in for the model: nothing depends on the Keras backend
def test_real_pairs_are_scored_as_acquired():
    hrs = [np.pad(im, ((0, 3), (0, 2), (0, 0))) for im in _fields(2, size=64, channels=1)]  # not multiples of 4
    lrs = [_acquired_lr(hr, 4, i) for i, hr in enumerate(hrs)]
    result = evaluate(Bicubic(channels=1), hrs, lr_images=lrs, names=["a.tif", "b.tif"], progress=False)
    assert result.settings["degradation"]["method"] == "acquired"
    for i, (hr, lr) in enumerate(zip(hrs, lrs)):
        hr_unit = normalize(hr[:64, :64], clip=True)[0]  # HR cropped to 4x the LR size
        up = np.clip(upsample(normalize(lr, clip=True)[0], 4, "bicubic"), 0, 1)  # LR normalized on its own
        assert result.values("bicubic", "psnr")[i] == pytest.approx(_psnr_cropped(up, hr_unit, 4), abs=1e-6)
    with pytest.raises(ValueError, match="LR image of shape .* times 4 is larger than the HR image"):
        evaluate(Bicubic(channels=1), hrs[:1], lr_images=[np.zeros((20, 20, 1), np.uint16)], progress=False)
    with pytest.raises(ValueError, match="1 LR images for 2 HR images"):
        evaluate(Bicubic(channels=1), hrs, lr_images=lrs[:1], progress=False)


@pytest.mark.one_backend  # a NumPy stand-in for the model: nothing depends on the Keras backend
def test_channels_are_picked_or_run_one_by_one():
    images = _fields(2, size=48, channels=4)
    picked = evaluate(Bicubic(channels=1), images, channels_map="2", progress=False)
    alone = evaluate(Bicubic(channels=1), [im[..., 2:3] for im in images], progress=False)
    for metric in ("psnr", "ssim"):
        np.testing.assert_array_equal(picked.values("sr", metric), alone.values("sr", metric))
    per_channel = evaluate(Bicubic(channels=1), images, progress=False)  # a 1-channel model on 4 channels
    assert per_channel.settings["channels"] == 4 and per_channel.settings["model_class"] == "PerChannel"
    np.testing.assert_array_equal(per_channel.values("sr", "psnr"), per_channel.values("bicubic", "psnr"))
    with pytest.raises(ValueError, match=r"refers to channel\(s\) \[7\].*has 4 channel"):
        evaluate(Bicubic(channels=1), images, channels_map="7", progress=False)


def test_cli_evaluate_real_pairs(folder, tmp_path, capsys):
    for i, im in enumerate(_fields(3)):
        write_image(tmp_path / "lr" / f"field_{i}.png", _acquired_lr(im, 4, i))
    out = tmp_path / "pairs"
    assert main(["evaluate", "--model", str(folder / "model"), "--lr", str(tmp_path / "lr"), "--hr",
                 str(folder / "fields"), "--no-figures", "-o", str(out)]) == 0
    report = json.loads((out / "evaluation.json").read_text())
    assert report["settings"]["degradation"]["method"] == "acquired"
    assert len(_read_csv(out / "metrics.csv")) == 3 * len(METHODS)
    (tmp_path / "lr" / "field_2.png").rename(tmp_path / "lr" / "other.png")
    assert main(["evaluate", "--model", str(folder / "model"), "--lr", str(tmp_path / "lr"), "--hr",
                 str(folder / "fields"), "-o", str(tmp_path / "x")]) == EXIT_INPUT
    err = capsys.readouterr().err
    assert "paired by name" in err and "other" in err and "field_2" in err


# ------------------------------------------------------------------------------------------------
# Pairwise tests: every method against every other one, Holm's correction
# ------------------------------------------------------------------------------------------------

def test_pairwise_wilcoxon_is_scipy_on_every_pair_with_holm():
    from msrgan.evaluate import pairwise_wilcoxon

    rng = np.random.default_rng(3)
    base = rng.normal(25, 1, 12)
    values = {"bicubic": base, "a": base + rng.normal(0.5, 0.3, 12), "b": base + rng.normal(0.0, 0.3, 12)}
    values["b"][4] = np.nan  # left out of b's pairs only
    rows = pairwise_wilcoxon(values)
    assert [(r["method"], r["baseline"]) for r in rows] == [("a", "bicubic"), ("b", "bicubic"), ("b", "a")]
    for r in rows:
        x, y = values[r["method"]], values[r["baseline"]]
        ok = np.isfinite(x) & np.isfinite(y)
        ref = wilcoxon(x[ok], y[ok])
        assert r["n"] == ok.sum() and r["statistic"] == pytest.approx(ref.statistic)
        assert r["pvalue"] == pytest.approx(ref.pvalue)
        assert r["median_difference"] == pytest.approx(np.median(x[ok] - y[ok]))
        assert r["better"] == int(np.sum(x[ok] > y[ok])) and r["correction"] == "holm"
    # Holm by hand: sort the three p-values, multiply by 3, 2, 1, keep the running maximum, cap at 1.
    p = np.array([r["pvalue"] for r in rows])
    order = np.argsort(p)
    expected = np.empty(3)
    running = 0.0
    for k, i in enumerate(order):
        running = max(running, min(1.0, (3 - k) * p[i]))
        expected[i] = running
    np.testing.assert_allclose([r["pvalue_adjusted"] for r in rows], expected)
    none = pairwise_wilcoxon(values, correction="none")
    assert [r["pvalue_adjusted"] for r in none] == [r["pvalue"] for r in rows]


def test_holm_known_values_and_edge_cases():
    from msrgan.evaluate import holm, pairwise_wilcoxon

    # Holm (1979) on four p-values: 0.01*4, max(0.04, 0.02*3), max(0.06, 0.03*2), max(0.06, 0.04*1)
    np.testing.assert_allclose(holm([0.03, 0.01, 0.04, 0.02]), [0.06, 0.04, 0.06, 0.06])
    np.testing.assert_allclose(holm([0.5, 0.9]), [1.0, 1.0])  # capped at 1
    out = holm([0.2, np.nan])
    assert out[0] == pytest.approx(0.2) and np.isnan(out[1])  # NaN does not count in m
    assert np.isnan(holm([np.nan])).all() and holm([]).shape == (0,)
    same = pairwise_wilcoxon({"x": [1.0, 2.0, 3.0], "y": [1.0, 2.0, 3.0]})[0]
    assert np.isnan(same["pvalue"]) and np.isnan(same["pvalue_adjusted"]) and same["note"] == "all differences are zero"
    lower = pairwise_wilcoxon({"x": [3.0, 2.0, 5.0], "y": [1.0, 4.0, 4.0]}, higher_is_better=False)[0]
    assert lower["better"] == 2  # y minus x: two of three images lower
    with pytest.raises(ValueError, match="same images"):
        pairwise_wilcoxon({"x": [1.0, 2.0], "y": [1.0]})
    with pytest.raises(ValueError, match="correction"):
        pairwise_wilcoxon({"x": [1.0, 2.0], "y": [2.0, 1.0]}, correction="bonferroni")


def _result(names, bicubic, sr, model="m"):
    from msrgan.evaluate import EvaluationResult

    rows = []
    for name, b, s in zip(names, bicubic, sr):
        for method, v in (("nearest", b - 1.0), ("bicubic", b), ("sr", s)):
            rows.append({"image": name, "method": method, "psnr": v, "ssim": v / 40, "dice": 0.9, "iou": 0.8,
                         "nuclei": 3, "hr_nuclei": 3, "count_error": 0})
    settings = {"crop_border": 4, "images": len(names), "model": model}
    result = EvaluationResult(rows=rows, tests=[], settings=settings)
    from msrgan.evaluate import wilcoxon_tests

    result.tests = wilcoxon_tests(result)
    return result


def test_models_table_keeps_the_bicubic_column_and_adds_every_pair():
    from msrgan.evaluate import models_table

    names = [f"f{i}" for i in range(8)]
    bic = np.linspace(24.0, 28.0, 8)
    a = _result(names, bic, bic + np.linspace(0.2, 1.0, 8))
    b = _result(names, bic, bic - np.linspace(0.1, 0.8, 8))
    text = models_table([a, None, b], ["A", "VGG", "B"], not_run={"VGG": "no weights"})
    lines = text.splitlines()
    assert lines[0] == "| method | PSNR (dB) | SSIM | Dice | Wilcoxon p vs bicubic (PSNR / SSIM) |"
    assert "| VGG | not run: no weights | | | |" in lines
    assert [ln.split("|")[1].strip() for ln in lines[2:7]] == ["nearest", "bicubic", "A", "VGG", "B"]
    assert "Holm" in text and text.count("| bicubic |") == 1
    pairs = [ln for ln in lines if ln.startswith("| ") and " vs " in ln.split("|")[1] and not ln.startswith("| pair")]
    assert [p.split("|")[1].strip() for p in pairs] == [
        "bicubic vs nearest", "A vs nearest", "A vs bicubic", "B vs nearest", "B vs bicubic", "B vs A"]
    b_vs_a = pairs[-1].split("|")
    ref = wilcoxon(b.values("sr", "psnr"), a.values("sr", "psnr"))
    assert b_vs_a[2].strip() == "8" and b_vs_a[4].strip() == "0/8" and b_vs_a[5].strip() == f"{ref.pvalue:.3g}"
    assert float(b_vs_a[3]) == pytest.approx(np.median(b.values("sr", "psnr") - a.values("sr", "psnr")), abs=0.005)
    with pytest.raises(ValueError, match="not_run"):
        models_table([a, None], ["A", "VGG"])
    other = _result([f"g{i}" for i in range(8)], bic, bic)
    with pytest.raises(ValueError, match="same images"):
        models_table([a, other], ["A", "O"])


def test_cli_evaluate_writes_the_pairwise_table(folder, tmp_path):
    from msrgan.evaluate import read_report

    out = tmp_path / "two"
    assert main(["evaluate", "--model", str(folder / "model"), "--model", str(folder / "model"), "--data",
                 str(folder / "fields"), "--no-figures", "-o", str(out)]) == 0
    table = (out / "models.md").read_text()
    assert "Pairwise Wilcoxon signed-rank tests" in table
    first, second = read_report(out / "1_model"), read_report(out / "2_model")
    np.testing.assert_array_equal(first.values("sr", "psnr"), second.values("sr", "psnr"))
    same = f"| {folder / 'model'} (2) vs {folder / 'model'} |"
    assert same in table and "all differences are zero" in table
    with pytest.raises(FileNotFoundError, match="evaluation.json"):
        read_report(tmp_path)
