"""PSNR/SSIM against scikit-image with the BasicSR convention; Dice, IoU and the nuclei segmentation."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from msrgan.metrics import count_nuclei, dice, iou, psnr, segment_nuclei, ssim

pytestmark = pytest.mark.one_backend  # numpy, files and the Hub client only: no Keras backend involved


def _pair(rng, shape):
    hr = rng.random(shape)
    sr = np.clip(hr + rng.normal(0, 0.05, shape), 0, 1)
    return sr, hr


@pytest.mark.parametrize("shape", [(40, 36), (40, 36, 1), (40, 36, 3), (33, 47, 4)])
@pytest.mark.parametrize("crop", [0, 2, 4])
def test_psnr_matches_scikit_image_on_the_cropped_images(rng, shape, crop):
    sr, hr = _pair(rng, shape)
    c = slice(crop, shape[0] - crop), slice(crop, shape[1] - crop)
    expected = peak_signal_noise_ratio(hr[c], sr[c], data_range=1)
    assert psnr(sr, hr, crop_border=crop) == pytest.approx(expected, rel=1e-12)
    # By hand: float64 MSE over every remaining pixel and channel.
    mse = np.mean((sr[c].astype(np.float64) - hr[c]) ** 2)
    assert psnr(sr, hr, crop_border=crop) == pytest.approx(10 * np.log10(1 / mse), rel=1e-12)


@pytest.mark.parametrize("shape", [(40, 36), (40, 36, 3), (33, 47, 4)])
@pytest.mark.parametrize("crop", [0, 4])
def test_ssim_matches_scikit_image_averaged_over_channels(rng, shape, crop):
    sr, hr = _pair(rng, shape)
    c = slice(crop, shape[0] - crop), slice(crop, shape[1] - crop)
    got = ssim(sr, hr, crop_border=crop)
    if len(shape) == 3:
        expected = structural_similarity(sr[c], hr[c], data_range=1, channel_axis=-1)
        per_channel = [structural_similarity(sr[c][..., k], hr[c][..., k], data_range=1) for k in range(shape[2])]
        assert got == pytest.approx(np.mean(per_channel), rel=1e-12)
    else:
        expected = structural_similarity(sr[c], hr[c], data_range=1)
    assert got == pytest.approx(expected, rel=1e-12)


def test_float32_inputs_are_scored_in_float64(rng):
    sr, hr = _pair(rng, (32, 32, 3))
    assert psnr(sr.astype(np.float32), hr.astype(np.float32), crop_border=4) == pytest.approx(
        peak_signal_noise_ratio(hr[4:-4, 4:-4].astype(np.float32).astype(np.float64),
                                sr[4:-4, 4:-4].astype(np.float32).astype(np.float64), data_range=1), rel=1e-12)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_integer_images_are_divided_by_the_dtype_maximum(rng, dtype):
    top = np.iinfo(dtype).max
    hr = rng.integers(0, top, (24, 24, 3)).astype(dtype)
    sr = rng.integers(0, top, (24, 24, 3)).astype(dtype)
    assert psnr(sr, hr, crop_border=2) == pytest.approx(
        psnr(sr / top, hr / top, crop_border=2), rel=1e-12)
    assert ssim(sr, hr, crop_border=2) == pytest.approx(ssim(sr / top, hr / top, crop_border=2), rel=1e-12)


def test_identical_images_and_known_values():
    x = np.full((16, 16, 3), 0.25)
    assert psnr(x, x, crop_border=0) == float("inf")
    assert ssim(x, x, crop_border=0) == pytest.approx(1.0)
    assert psnr(x + 0.1, x, crop_border=2) == pytest.approx(20.0)  # MSE 0.01 -> 20 dB
    # The border crop really removes the border: a difference only there does not count.
    y = x.copy()
    y[:2] = 1.0
    assert psnr(y, x, crop_border=2) == float("inf")


def test_bad_metric_inputs_are_named(rng):
    a = rng.random((16, 16, 3))
    with pytest.raises(ValueError, match=r"\(16, 16, 3\).*\(16, 12, 3\)"):
        psnr(a, a[:, :12], crop_border=0)
    with pytest.raises(ValueError, match="crop_border=8"):
        psnr(a, a, crop_border=8)
    with pytest.raises(ValueError, match="crop_border"):
        ssim(a, a, crop_border=-1)
    with pytest.raises(ValueError, match="NaN"):
        psnr(np.full((8, 8), np.nan), np.zeros((8, 8)), crop_border=0)
    with pytest.raises(ValueError, match="7x7"):
        ssim(a[:10, :10], a[:10, :10], crop_border=2)
    with pytest.raises(TypeError):
        psnr(a, a)  # the crop is part of the convention: it must be given


def test_dice_and_iou():
    a = np.zeros((10, 10), bool)
    b = np.zeros((10, 10), bool)
    a[:5] = True          # 50 pixels
    b[:, :4] = True       # 40 pixels, 20 shared
    assert dice(a, b) == pytest.approx(2 * 20 / 90)
    assert iou(a, b) == pytest.approx(20 / 70)
    assert dice(a, b) == pytest.approx(2 * iou(a, b) / (1 + iou(a, b)))
    assert dice(a, a) == iou(a, a) == 1.0
    empty = np.zeros_like(a)
    assert dice(empty, empty) == iou(empty, empty) == 1.0
    assert dice(a, empty) == iou(a, empty) == 0.0
    labels = a.astype(np.int32) * 7  # label images count as masks (nonzero = foreground)
    assert dice(labels, a) == 1.0
    with pytest.raises(ValueError, match="shape"):
        dice(a, b[:5])


def _disks(shape, centres, radius):
    yy, xx = np.mgrid[:shape[0], :shape[1]]
    img = np.zeros(shape)
    for cy, cx in centres:
        img[(yy - cy) ** 2 + (xx - cx) ** 2 <= radius ** 2] = 1.0
    return img


def test_segmentation_counts_separate_and_touching_nuclei(rng):
    centres = [(20, 20), (20, 70), (70, 20), (75, 75), (75, 92)]  # the last two touch
    img = _disks((100, 110), centres, 9) * 0.8 + 0.1
    img = img + rng.normal(0, 0.03, img.shape)
    labels = segment_nuclei(img)
    assert labels.dtype == np.int32 and labels.shape == img.shape
    assert count_nuclei(labels) == 5
    # Each disk centre is inside a different nucleus.
    ids = {int(labels[cy, cx]) for cy, cx in centres}
    assert len(ids) == 5 and 0 not in ids
    # The foreground matches the disks closely.
    assert dice(labels, _disks((100, 110), centres, 9)) > 0.95


def test_segmentation_of_flat_or_empty_images():
    assert count_nuclei(segment_nuclei(np.zeros((32, 32)))) == 0
    assert count_nuclei(segment_nuclei(np.full((32, 32), 0.5))) == 0
    with pytest.raises(ValueError, match=r"\(8, 8, 2\)"):
        segment_nuclei(np.zeros((8, 8, 2)))
