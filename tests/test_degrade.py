"""HR -> LR degradations: shapes, the bicubic reference, the microscope noise statistics, seeds."""

from __future__ import annotations

import numpy as np
import pytest

from msrgan.data.degrade import DEGRADATIONS, degradation_params, degrade


@pytest.mark.parametrize("method", DEGRADATIONS)
@pytest.mark.parametrize("scale", [2, 4, 8])
def test_output_shapes_single_and_batch(method, scale, rng):
    hr = rng.random((64, 96, 3), dtype=np.float32)
    lr = degrade(hr, scale, method, seed=0)
    assert lr.shape == (64 // scale, 96 // scale, 3) and lr.dtype == np.float32
    batch = rng.random((2, 64, 64, 1), dtype=np.float32)
    assert degrade(batch, scale, method, seed=0).shape == (2, 64 // scale, 64 // scale, 1)


@pytest.mark.parametrize("scale", [2, 4, 8])
def test_bicubic_matches_pillow_in_the_interior(scale, rng):
    """Independent reference: Pillow's antialiased bicubic (a = -0.5) on float images; only the
    border handling differs (Pillow renormalizes, MATLAB mirrors), so compare away from the border."""
    from PIL import Image

    hr = rng.random((96, 80, 2), dtype=np.float32)
    lr = degrade(hr, scale, "bicubic")
    for c in range(2):
        ref = np.asarray(Image.fromarray(hr[..., c], mode="F").resize((80 // scale, 96 // scale), Image.BICUBIC))
        np.testing.assert_allclose(lr[2:-2, 2:-2, c], ref[2:-2, 2:-2], atol=1e-5)


def test_bicubic_reproduces_constants_and_ramps():
    """Normalized symmetric weights: a constant stays constant everywhere, a linear ramp is sampled
    at the output pixel centres (i + 0.5) * scale - 0.5 (in the interior)."""
    flat = np.full((32, 32, 1), 0.37, np.float32)
    np.testing.assert_allclose(degrade(flat, 4), 0.37, atol=1e-6)
    x = np.arange(64, dtype=np.float32) / 64
    ramp = np.broadcast_to(x[None, :, None], (16, 64, 1)).copy()
    lr = degrade(ramp, 4)[..., 0]
    expected = ((np.arange(16) + 0.5) * 4 - 0.5) / 64
    np.testing.assert_allclose(lr[:, 2:-2], np.broadcast_to(expected[2:-2], (4, 12)), atol=1e-6)


def test_microscope_noise_statistics_match_parameters():
    """On a flat image of value m: mean m, variance m / photons + read_noise**2 (clip off)."""
    m, photons, read_noise = 0.4, 50.0, 0.03
    hr = np.full((512, 512, 1), m, np.float32)
    lr = degrade(hr, 2, "microscope", seed=7, photons=photons, read_noise=read_noise, clip=False)
    expected_var = m / photons + read_noise ** 2  # 0.0089
    assert abs(lr.mean() - m) < 0.002
    assert lr.var() == pytest.approx(expected_var, rel=0.03)
    # Each component alone.
    shot = degrade(hr, 2, "microscope", seed=8, photons=photons, read_noise=0.0, clip=False)
    assert shot.var() == pytest.approx(m / photons, rel=0.03)
    read = degrade(hr, 2, "microscope", seed=9, photons=None, read_noise=read_noise, clip=False)
    assert read.var() == pytest.approx(read_noise ** 2, rel=0.03)
    # Shot noise is quantized in photons: every value times photons is an integer.
    np.testing.assert_allclose(shot * photons, np.round(shot * photons), atol=1e-3)


def test_microscope_without_noise_is_blur_then_area_mean(rng):
    from scipy.ndimage import gaussian_filter

    hr = rng.random((32, 32, 2), dtype=np.float32)
    lr = degrade(hr, 4, "microscope", sigma=1.5, photons=None, read_noise=0.0, clip=False)
    blurred = gaussian_filter(hr.astype(np.float64), sigma=(1.5, 1.5, 0), mode="reflect", truncate=4.0)
    expected = blurred.reshape(8, 4, 8, 4, 2).mean(axis=(1, 3))
    np.testing.assert_allclose(lr, expected, atol=1e-6)
    # sigma=0: pure area (box) downsampling.
    box = degrade(hr, 2, "microscope", sigma=0, photons=None, read_noise=0.0, clip=False)
    np.testing.assert_allclose(box, hr.reshape(16, 2, 16, 2, 2).mean(axis=(1, 3)), atol=1e-6)


def test_microscope_default_sigma_and_clip(rng):
    assert degradation_params("microscope", 4)["sigma"] == 2.0
    assert degradation_params("microscope", 8, sigma=1.0)["sigma"] == 1.0
    dark = np.zeros((64, 64, 1), np.float32)
    lr = degrade(dark, 2, "microscope", seed=0, read_noise=0.1)
    assert lr.min() == 0.0 and lr.max() > 0.1  # clipped at 0, noise present
    unclipped = degrade(dark, 2, "microscope", seed=0, read_noise=0.1, clip=False)
    assert unclipped.min() < 0


def test_determinism_under_seed(rng):
    hr = rng.random((64, 64, 4), dtype=np.float32)
    a = degrade(hr, 4, "microscope", seed=123)
    b = degrade(hr, 4, "microscope", seed=123)
    c = degrade(hr, 4, "microscope", seed=124)
    assert a.tobytes() == b.tobytes()
    assert not np.array_equal(a, c)
    assert degrade(hr, 4).tobytes() == degrade(hr, 4).tobytes()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(scale=3), "scale"),
        (dict(method="lanczos"), "lanczos"),
        (dict(method="microscope", gain=2.0), "gain"),
        (dict(method="bicubic", sigma=1.0), "no parameters"),
        (dict(method="microscope", photons=0), "photons"),
        (dict(method="microscope", read_noise=-1), "read_noise"),
        (dict(method="microscope", sigma=-1), "sigma"),
    ],
)
def test_bad_arguments_are_named(kwargs, match):
    hr = np.zeros((16, 16, 1), np.float32)
    kwargs = {"scale": 4, **kwargs}
    with pytest.raises(ValueError, match=match):
        degrade(hr, kwargs.pop("scale"), kwargs.pop("method", "bicubic"), **kwargs)


def test_bad_images_are_rejected():
    with pytest.raises(ValueError, match=r"multiples of scale=4.*\(18, 16, 1\)"):
        degrade(np.zeros((18, 16, 1), np.float32), 4)
    with pytest.raises(ValueError, match="uint16"):
        degrade(np.zeros((16, 16, 1), np.uint16), 4)
    with pytest.raises(ValueError, match="shape"):
        degrade(np.zeros((16, 16), np.float32), 4)
