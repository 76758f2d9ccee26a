"""``msrgan export bioimageio``: a package that bioimageio.spec validates, whose test tensors bioimageio.core
reproduces, and whose prediction is msrgan's.

Runs under one backend only (``one_backend``): the ONNX weights are converted through the torch
backend whatever backend is active (in a child process elsewhere) and run by ONNX Runtime, so the
package does not depend on the backend of the test process; an export and bioimageio.core's test
run take about 30 seconds, not worth paying three times.
"""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

pytest.importorskip("bioimageio.core")
pytest.importorskip("onnxruntime")
pytest.importorskip("torch")

from msrgan.bioimageio import _scale_range, validate_package  # noqa: E402
from msrgan.cli import main  # noqa: E402
from msrgan.errors import EXIT_INPUT  # noqa: E402
from msrgan.inference import load_generator, upscale  # noqa: E402
from msrgan.models import Generator  # noqa: E402

pytestmark = pytest.mark.one_backend


def test_exported_package_validates_runs_and_predicts_like_msrgan(tmp_path, capsys):
    g = Generator(num_blocks=1, filters=8, channels=1, scale=2)
    g(np.zeros((1, 16, 16, 1), np.float32))
    folder = g.save_pretrained(tmp_path / "tiny")
    target = tmp_path / "tiny.zip"
    assert main(["export", "bioimageio", str(folder), "-o", str(target), "--no-test"]) == 0
    with zipfile.ZipFile(target) as zf:
        assert {"rdf.yaml", "weights.onnx", "test_input.npy", "test_output.npy", "cover.png",
                "README.md"} <= set(zf.namelist())
        zf.extract("test_input.npy", tmp_path)
        zf.extract("test_output.npy", tmp_path)
        rdf = zf.read("rdf.yaml").decode()
    assert "10.1109/CVPR.2017.19" in rdf and "scale_range" in rdf
    validate_package(target)  # bioimageio.spec, then bioimageio.core's test run of the test tensors
    x = np.load(tmp_path / "test_input.npy")
    expected = upscale(_scale_range(x)[0], load_generator(str(folder)), normalization="none")
    np.testing.assert_allclose(np.load(tmp_path / "test_output.npy")[0], expected, atol=1e-4)

    before = target.read_bytes()
    assert main(["export", "bioimageio", str(folder), "-o", str(target), "--no-test"]) == EXIT_INPUT
    assert "exists" in capsys.readouterr().err and target.read_bytes() == before
