"""HR -> LR degradations: shapes, the bicubic reference, the microscope noise statistics, seeds."""

from __future__ import annotations

import numpy as np
import pytest

from msrgan.data.degrade import DEGRADATIONS, degradation_params, degrade

pytestmark = pytest.mark.one_backend  # numpy, files and the Hub client only: no Keras backend involved


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


# ------------------------------------------------------------------------------------------------
# random (msrgan.data.degrade_random)
# ------------------------------------------------------------------------------------------------

FIXED = {"blur_prob": 0.0, "sigma": 0.5, "anisotropy": 1.0, "downsample": "area", "noise_prob": 0.0,
         "photons": 100.0, "read_noise": 0.0, "quantize": None}


def _field(seed=0, n=2):
    from msrgan.data.normalize import normalize
    from msrgan.data.varied import varied_field

    return np.stack([normalize(varied_field((seed, i), size=64, channels=1, zoom=0.6), clip=True)[0]
                     for i in range(n)]).astype(np.float32)


def test_random_is_deterministic_for_a_seed_and_varies_per_image():
    hr = _field()
    a = degrade(hr, 4, "random", seed=3)
    assert np.array_equal(a, degrade(hr, 4, "random", seed=3))
    assert not np.array_equal(a, degrade(hr, 4, "random", seed=4))
    # a batch of identical images still draws one acquisition per image
    same = np.repeat(hr[:1], 6, axis=0)
    lr = degrade(same, 4, "random", seed=0)
    assert len({lr[i].tobytes() for i in range(6)}) > 1


def test_random_with_everything_off_is_the_chosen_sampling():
    """Independent expectations: area sampling is the block mean; bicubic is the ``bicubic`` degradation."""
    hr = _field()
    area = degrade(hr, 4, "random", seed=0, **FIXED)
    np.testing.assert_allclose(area, hr.reshape(2, 16, 4, 16, 4, 1).mean(axis=(2, 4)), atol=1e-6)
    bic = degrade(hr, 4, "random", seed=0, **{**FIXED, "downsample": "bicubic"})
    np.testing.assert_allclose(bic, np.clip(degrade(hr, 4, "bicubic"), 0, 1), atol=1e-6)
    gauss = degrade(hr, 4, "random", seed=0, **{**FIXED, "downsample": "gaussian"})
    assert gauss.shape == area.shape and not np.allclose(gauss, area)


def test_random_blur_lowers_detail_and_anisotropy_has_a_direction():
    hr = np.zeros((1, 64, 64, 1), np.float32)
    hr[0, 32, 32, 0] = 1.0  # a point source: its LR image is the PSF, sampled
    sharp = degrade(hr, 4, "random", seed=0, **FIXED)
    blurred = degrade(hr, 4, "random", seed=0, **{**FIXED, "blur_prob": 1.0, "sigma": 1.0})
    assert blurred.max() < sharp.max() and abs(blurred.sum() - sharp.sum()) < 1e-3  # blur keeps the light

    def axes_ratio(img):  # ratio of the principal standard deviations of an image's light
        y, x = np.mgrid[:img.shape[0], :img.shape[1]]
        w = img / img.sum()
        my, mx = (w * y).sum(), (w * x).sum()
        cov = [[(w * (y - my) ** 2).sum(), (w * (y - my) * (x - mx)).sum()],
               [(w * (y - my) * (x - mx)).sum(), (w * (x - mx) ** 2).sum()]]
        low, high = np.linalg.eigvalsh(cov)
        return float(np.sqrt(high / low))

    blur = {**FIXED, "blur_prob": 1.0, "sigma": 1.0}
    round_ = degrade(hr, 4, "random", seed=0, **blur)[0, ..., 0]
    long_ = degrade(hr, 4, "random", seed=0, **{**blur, "anisotropy": 3.0})[0, ..., 0]
    assert axes_ratio(round_) < 1.1 and axes_ratio(long_) > 2.5  # sigma and 3 * sigma along two axes


@pytest.mark.parametrize("photons, read", [(20.0, 0.0), (1e6, 0.05)])
def test_random_noise_follows_poisson_gaussian_statistics(photons, read):
    hr = np.full((1, 256, 256, 1), 0.5, np.float32)
    lr = degrade(hr, 4, "random", seed=1, **{**FIXED, "noise_prob": 1.0, "photons": photons, "read_noise": read})
    assert lr.mean() == pytest.approx(0.5, abs=0.01)
    assert lr.var() == pytest.approx(0.5 / photons + read ** 2, rel=0.1)


def test_random_quantisation_rounds_to_the_bit_depth():
    hr = _field()
    lr = degrade(hr, 4, "random", seed=0, **{**FIXED, "quantize": 8})
    np.testing.assert_allclose(lr * 255, np.round(lr * 255), atol=1e-4)
    assert np.abs(lr - degrade(hr, 4, "random", seed=0, **FIXED)).max() <= 0.5 / 255 + 1e-6


@pytest.mark.parametrize("params, needle", [({"sigma": (2, 1)}, "sigma"), ({"downsample": "nearest"}, "downsample"),
                                            ({"quantize": 7}, "quantize"), ({"noise_prob": 2}, "noise_prob"),
                                            ({"photon": 3}, "photon")])
def test_random_rejects_bad_parameters_by_name(params, needle):
    with pytest.raises(ValueError, match=needle):
        degradation_params("random", 4, **params)


def test_random_is_registered_for_every_consumer():
    from msrgan.data.patches import PatchDataset

    assert "random" in DEGRADATIONS
    ds = PatchDataset([_field(n=1)[0]] * 2, patch_size=32, scale=4, batch_size=2, degradation="random",
                      degradation_params={"noise_prob": 1.0}, steps_per_epoch=1)
    lr, hr = ds[0]
    assert lr.shape == (2, 8, 8, 1) and ds.get_config()["degradation"]["noise_prob"] == 1.0
