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
    assert rc == 2 and "--overwrite" in capsys.readouterr().err
    assert (out / "summary.md").read_text() == "earlier"
    assert sorted(p.name for p in out.iterdir()) == ["summary.md"]


def test_cli_evaluate_scale_mismatch(folder, capsys):
    rc = main(["evaluate", "--model", str(folder / "model"), "--data", str(folder / "fields"), "--scale", "2",
               "-o", str(folder / "x")])
    err = capsys.readouterr().err
    assert rc == 2 and "--scale 2" in err and "x4" in err


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
    with pytest.raises(ValueError, match=r"field-a.*\(64, 64, 4\).*3 channel"):
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
