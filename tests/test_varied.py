"""Randomised HR fields (msrgan.data.varied): determinism and the documented effect of each parameter."""

from __future__ import annotations

import numpy as np
import pytest

from msrgan.data.varied import VARIED_DEFAULTS, varied_field

pytestmark = pytest.mark.one_backend  # numpy, files and the Hub client only: no Keras backend involved


def _gradient_energy(img) -> float:
    x = img.astype(np.float64)
    x = (x - x.min()) / max(np.ptp(x), 1e-9)
    return float(np.mean(np.diff(x, axis=0) ** 2) + np.mean(np.diff(x, axis=1) ** 2))


def test_same_seed_same_bytes_and_seeds_differ():
    a = varied_field(3, size=64, channels=1)
    assert np.array_equal(a, varied_field(3, size=64, channels=1))
    assert not np.array_equal(a, varied_field(4, size=64, channels=1))


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_shapes_and_bit_depths(channels):
    assert varied_field(0, size=48, channels=channels, bit_depth=8).shape == (48, 48, channels)
    assert varied_field(0, size=48, channels=channels, bit_depth=8).dtype == np.uint8
    assert varied_field(0, size=48, channels=channels, bit_depth=16).dtype == np.uint16
    assert {varied_field(s, size=32, channels=channels).dtype for s in range(12)} == {np.dtype("uint8"),
                                                                                      np.dtype("uint16")}


def _correlation_length(img) -> int:
    """Pixels until the image's autocorrelation falls below one half: the size of its structures."""
    x = img[..., 0].astype(np.float64)
    x = x - x.mean()
    f = np.fft.fft2(x)
    ac = np.real(np.fft.ifft2(f * np.conj(f)))
    r = 0.5 * (ac[0, :48] + ac[:48, 0]) / ac[0, 0]
    return int(np.argmax(r < 0.5))


def test_zoom_sets_object_scale():
    """Zooming in makes structures larger: their correlation length grows."""
    fixed = dict(psf=1.0, oversampled_prob=0.0, photons=1e6, read_noise=0.0, extra_prob=0.0, bit_depth=16)
    small = np.mean([_correlation_length(varied_field(s, size=96, zoom=0.3, **fixed)) for s in range(6)])
    large = np.mean([_correlation_length(varied_field(s, size=96, zoom=2.0, **fixed)) for s in range(6)])
    assert large > 1.8 * small


def test_oversampled_fields_are_smooth_and_noise_is_in_the_hr_image():
    clean = dict(photons=1e6, read_noise=0.0, bit_depth=16, zoom=0.5, extra_prob=0.0)
    sharp = varied_field(1, size=96, oversampled_prob=0.0, **clean)
    smooth = varied_field(1, size=96, oversampled_prob=1.0, **clean)
    assert _gradient_energy(smooth) < 0.5 * _gradient_energy(sharp)
    noisy = varied_field(1, size=96, oversampled_prob=1.0, **{**clean, "photons": 30.0})
    assert _gradient_energy(noisy) > 2 * _gradient_energy(smooth)


def test_level_sets_the_dynamic_range():
    dim = varied_field(2, size=64, level=0.05, bit_depth=16, photons=1e6)
    saturated = varied_field(2, size=64, level=1.3, bit_depth=16, photons=1e6)
    assert dim.max() < 0.1 * 65535 and (saturated == 65535).mean() > 0.001


@pytest.mark.parametrize("params, needle", [({"zom": 1.0}, "zom"), ({"zoom": (2.0, 1.0)}, "zoom"),
                                            ({"bit_depth": 12}, "bit_depth"), ({"zoom": (0.0, 1.0)}, "zoom")])
def test_bad_parameters_are_named(params, needle):
    with pytest.raises(ValueError, match=needle):
        varied_field(0, size=32, **params)


def test_defaults_are_documented_ranges():
    assert VARIED_DEFAULTS["zoom"] == (0.25, 2.0) and VARIED_DEFAULTS["bit_depth"] is None


def test_training_data_takes_field_parameters():
    from msrgan.data import load_source

    src = load_source("varied", count=3, size=48, channels=1, seed=5, field_params={"oversampled_prob": 1.0})
    for i, img in enumerate(src.images):  # the fields varied_field draws with the same seed and parameters
        assert np.array_equal(img, varied_field((5, i), size=48, channels=1, oversampled_prob=1.0))
    plain = load_source("varied", count=3, size=48, channels=1, seed=5)
    assert not all(np.array_equal(a, b) for a, b in zip(src.images, plain.images))
    assert src.info["field_params"] == {"oversampled_prob": 1.0} and "field_params" not in plain.info
    with pytest.raises(ValueError, match="oversampled_probb"):
        load_source("varied", count=1, size=48, field_params={"oversampled_probb": 1.0})
    with pytest.raises(ValueError, match="'varied' data only"):
        load_source("synthetic", count=1, size=48, field_params={"oversampled_prob": 1.0})
