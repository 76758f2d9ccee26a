"""msrgan.losses against NumPy references (float64), on the current Keras backend."""

from __future__ import annotations

import numpy as np
import pytest
from keras import ops

from msrgan import losses as L


def _np(x):
    return float(ops.convert_to_numpy(x))


def _bce(z, t):
    # -t*log(sigmoid(z)) - (1-t)*log(1-sigmoid(z)), via logaddexp for stability
    return np.mean(t * np.logaddexp(0.0, -z) + (1.0 - t) * np.logaddexp(0.0, z))


@pytest.fixture
def pair(rng):
    a = rng.random((3, 8, 10, 2)).astype("float32")
    b = rng.random((3, 8, 10, 2)).astype("float32")
    return a, b


def test_pixel_mse_matches_numpy(pair):
    a, b = pair
    ref = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    assert _np(L.pixel_mse(a, b)) == pytest.approx(ref, rel=1e-5)


def test_psnr_is_mean_of_per_image_psnr_with_clipping(pair):
    a, b = pair
    b = b * 1.5 - 0.2  # predictions outside [0, 1] are clipped first
    clipped = np.clip(b.astype(np.float64), 0, 1)
    per_image = [10 * np.log10(1.0 / np.mean((clipped[i] - a[i]) ** 2)) for i in range(len(a))]
    assert _np(L.psnr(a, b)) == pytest.approx(np.mean(per_image), rel=1e-5)


@pytest.mark.parametrize("criterion", ["l2", "l1"])
def test_feature_distance_weighted_layers(rng, criterion):
    f1 = [rng.normal(size=(2, 8, 8, 4)).astype("float32"), rng.normal(size=(2, 2, 2, 16)).astype("float32")]
    f2 = [rng.normal(size=(2, 8, 8, 4)).astype("float32"), rng.normal(size=(2, 2, 2, 16)).astype("float32")]
    w = [0.25, 2.0]
    p = 2 if criterion == "l2" else 1
    ref = sum(wk * np.mean(np.abs(a.astype(np.float64) - b) ** p) for wk, a, b in zip(w, f1, f2))
    assert _np(L.feature_distance(f1, f2, w, criterion)) == pytest.approx(ref, rel=1e-5)


def test_feature_distance_rejects_bad_arguments(rng):
    f = [np.zeros((1, 2, 2, 1), "float32")]
    with pytest.raises(ValueError, match="criterion"):
        L.feature_distance(f, f, criterion="l3")
    with pytest.raises(ValueError, match="layer_weights"):
        L.feature_distance(f, f, [1.0, 2.0])
    with pytest.raises(ValueError, match="equal length"):
        L.feature_distance(f, f + f)


def test_content_loss_is_distance_of_extractor_features(rng):
    from msrgan.models import MiniVGG19, MiniVGG19Features

    fx = MiniVGG19Features(MiniVGG19(channels=1, width=0.125), layers=("block1", "block3"))
    sr = rng.random((2, 16, 16, 1)).astype("float32")
    hr = rng.random((2, 16, 16, 1)).astype("float32")
    loss = L.ContentLoss(fx, layer_weights=[1.0, 0.5], criterion="l1")
    f_sr = [ops.convert_to_numpy(f).astype(np.float64) for f in fx(sr)]
    f_hr = [ops.convert_to_numpy(f).astype(np.float64) for f in fx(hr)]
    ref = np.mean(np.abs(f_sr[0] - f_hr[0])) + 0.5 * np.mean(np.abs(f_sr[1] - f_hr[1]))
    assert _np(loss(hr, sr)) == pytest.approx(ref, rel=1e-4)
    assert _np(loss(hr, hr)) == 0.0
    with pytest.raises(ValueError, match="2 layer"):
        L.ContentLoss(fx, layer_weights=[1.0])


@pytest.mark.parametrize("kind", L.ADVERSARIAL_LOSSES)
def test_adversarial_losses_match_numpy(rng, kind):
    real = (rng.normal(size=(6, 1)) * 3).astype("float32")
    fake = (rng.normal(size=(6, 1)) * 3).astype("float32")
    r, f = real.astype(np.float64), fake.astype(np.float64)
    if kind == "vanilla":
        d_ref, g_ref = _bce(r, 1.0) + _bce(f, 0.0), _bce(f, 1.0)
    elif kind == "lsgan":
        d_ref, g_ref = np.mean((r - 1) ** 2) + np.mean(f**2), np.mean((f - 1) ** 2)
    else:
        d_ref, g_ref = np.mean(np.maximum(0, 1 - r)) + np.mean(np.maximum(0, 1 + f)), -np.mean(f)
    assert _np(L.discriminator_loss(real, fake, kind)) == pytest.approx(d_ref, rel=1e-5, abs=1e-6)
    assert _np(L.generator_adversarial_loss(fake, kind)) == pytest.approx(g_ref, rel=1e-5, abs=1e-6)


def test_vanilla_is_stable_for_large_logits():
    big = np.array([[80.0], [-80.0]], "float32")
    d = _np(L.discriminator_loss(big, -big, "vanilla"))
    g = _np(L.generator_adversarial_loss(big, "vanilla"))
    assert np.isfinite(d) and np.isfinite(g)
    assert g == pytest.approx(_bce(big.astype(np.float64), 1.0), rel=1e-5)


def test_unknown_adversarial_loss_is_named():
    with pytest.raises(ValueError, match="wgan"):
        L.discriminator_loss(np.zeros((1, 1)), np.zeros((1, 1)), "wgan")


def test_generator_loss_combination_and_zero_weights():
    assert _np(L.generator_loss(2.0, 3.0, 5.0, alpha=0.5, beta=2.0, gamma=0.1)) == pytest.approx(1 + 6 + 0.5)
    # a zero weight drops its term even when that term is not finite
    assert _np(L.generator_loss(1.0, float("nan"), 2.0, alpha=1.0, beta=0.0, gamma=1.0)) == pytest.approx(3.0)


def test_seed_weights_translate_to_means():
    from msrgan.models import MiniVGG19, MiniVGG19Features

    # the default configuration: 96x96x3 HR patches, miniVGG19 (width 0.25) block5 tap
    (h, w, c), = MiniVGG19Features(MiniVGG19(channels=3, width=0.25), layers=("block5",)).feature_shapes(96, 96)
    assert (h, w, c) == (6, 6, 128)
    n_pix, n_feat = 96 * 96 * 3, h * w * c
    weights = L.LossWeights.from_seed(n_pix, n_feat)
    assert weights.alpha == 1.0
    assert weights.beta == pytest.approx(0.8 * n_feat / (0.4 * n_pix)) == pytest.approx(1 / 3)
    assert weights.gamma == pytest.approx(1e-5 / (0.4 * n_pix))
    defaults = L.LossWeights()
    assert defaults.alpha == 1.0
    assert defaults.beta == pytest.approx(weights.beta)
    assert defaults.gamma == pytest.approx(weights.gamma, rel=1e-3)
    # the same loss value: the seed's summed loss is (0.4 * N_pix) times the mean-based one
    rng = np.random.default_rng(0)
    sr, hr = rng.random((96, 96, 3)), rng.random((96, 96, 3))
    fs, fh = rng.random((6, 6, 128)), rng.random((6, 6, 128))
    adv = 0.7
    seed_loss = 0.4 * np.sum((sr - hr) ** 2) + 0.8 * np.sum((fs - fh) ** 2) + 1e-5 * adv
    mean_loss = np.mean((sr - hr) ** 2) + weights.beta * np.mean((fs - fh) ** 2) + weights.gamma * adv
    assert seed_loss == pytest.approx(0.4 * n_pix * mean_loss, rel=1e-9)


def test_a_registered_adversarial_loss_is_used_by_name(rng):
    real = rng.normal(size=(4, 1)).astype("float32")
    fake = rng.normal(size=(4, 1)).astype("float32")
    L.register_adversarial("test-abs", lambda r, f: ops.mean(ops.abs(r - f)), lambda f: ops.mean(ops.abs(f)))
    try:
        assert _np(L.discriminator_loss(real, fake, "test-abs")) == pytest.approx(np.mean(np.abs(real - fake)), rel=1e-5)
        assert _np(L.generator_adversarial_loss(fake, "test-abs")) == pytest.approx(np.mean(np.abs(fake)), rel=1e-5)
    finally:
        del L.ADVERSARIAL._items["test-abs"]
    with pytest.raises(ValueError, match="test-abs"):
        L.check_adversarial("test-abs")
