"""PatchDataset: shapes, normalization, augmentation, determinism, Keras fit with workers, backends."""

from __future__ import annotations

import numpy as np
import pytest

from msrgan.data.degrade import degrade
from msrgan.data.normalize import normalize
from msrgan.data.patches import PatchDataset, validation_pairs
from tests.helpers import run_in_backend


def _images(n=3, size=80, channels=3, dtype=np.uint16, seed=0):
    rng = np.random.default_rng(seed)
    hi = 255 if dtype == np.uint8 else 4095  # 12-bit data in 16-bit files, as cameras write
    return [rng.integers(0, hi, (size, size + 8 * i, channels)).astype(dtype) for i in range(n)]


@pytest.mark.parametrize("scale", [2, 4, 8])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_batch_shapes_dtype_and_range(scale, dtype):
    ds = PatchDataset(_images(dtype=dtype), patch_size=64, scale=scale, batch_size=3, steps_per_epoch=4)
    assert len(ds) == 4
    lr, hr = ds[0]
    assert hr.shape == (3, 64, 64, 3) and lr.shape == (3, 64 // scale, 64 // scale, 3)
    assert hr.dtype == lr.dtype == np.float32
    assert hr.min() >= 0 and hr.max() <= 1 and hr.max() > 0.9  # percentile-stretched, not /65535
    with pytest.raises(IndexError):
        ds[4]


def test_no_augmentation_gives_normalized_crop_and_its_degradation():
    """One image exactly patch-sized: the HR patch is the whole image, percentile-normalized and
    clipped (computed independently with msrgan.data.normalize); LR is degrade(HR)."""
    img = _images(1, size=64, channels=4)[0]
    ds = PatchDataset([img], patch_size=64, scale=4, batch_size=2, augment=False, steps_per_epoch=1)
    lr, hr = ds[0]
    expected, _ = normalize(img, clip=True)
    np.testing.assert_allclose(hr[0], expected, atol=1e-6)
    np.testing.assert_allclose(hr[1], expected, atol=1e-6)
    np.testing.assert_allclose(lr, degrade(hr, 4), atol=1e-6)
    unit = PatchDataset([img], patch_size=64, scale=4, batch_size=1, augment=False, normalization="unit",
                        steps_per_epoch=1)
    np.testing.assert_allclose(unit[0][1][0], img / 65535.0, atol=1e-7)


def test_augmentation_draws_the_eight_symmetries():
    img = _images(1, size=32, channels=1, seed=3)[0]
    ds = PatchDataset([img], patch_size=32, scale=2, batch_size=16, steps_per_epoch=4, seed=1)
    base = normalize(img, clip=True)[0]
    variants = [np.rot90(f, k) for f in (base, base[:, ::-1]) for k in range(4)]
    seen = set()
    for i in range(4):
        for patch in ds[i][1]:
            match = [j for j, v in enumerate(variants) if np.allclose(patch, v, atol=1e-6)]
            assert len(match) >= 1, "augmented patch is not a flip/rotation of the image"
            seen.add(match[0])
    assert len(seen) >= 6  # 64 draws over 8 symmetries


def test_brightness_and_gamma_stay_in_range_and_change_values():
    img = _images(1, size=32, channels=1, seed=4)[0]
    plain = PatchDataset([img], patch_size=32, scale=2, batch_size=8, augment=False, steps_per_epoch=1)[0][1]
    jit = PatchDataset([img], patch_size=32, scale=2, batch_size=8, augment=False, brightness=0.3, gamma=0.5,
                       steps_per_epoch=1)[0][1]
    assert jit.min() >= 0 and jit.max() <= 1
    assert not np.allclose(jit, plain)
    # Monotonic point transforms: pixel order within a patch is kept (ties aside).
    a, b = plain[0].ravel(), jit[0].ravel()
    order = np.argsort(a, kind="stable")
    assert np.all(np.diff(b[order]) >= -1e-6)


def test_determinism_over_seed_epoch_and_index():
    kw = dict(patch_size=32, scale=4, batch_size=4, steps_per_epoch=3, degradation="microscope", seed=11)
    a, b = PatchDataset(_images(), **kw), PatchDataset(_images(), **kw)
    for i in range(3):
        for x, y in zip(a[i], b[i]):
            assert x.tobytes() == y.tobytes()
    first = a[0][1].copy()
    assert not np.array_equal(a[1][1], first)
    a.on_epoch_end()
    assert a.epoch == 1 and not np.array_equal(a[0][1], first)

    a.set_epoch(0)
    assert a[0][1].tobytes() == first.tobytes()
    other = PatchDataset(_images(), **{**kw, "seed": 12})
    assert not np.array_equal(other[0][1], first)


def test_bad_arguments_are_named():
    imgs = _images(2, size=48)
    with pytest.raises(ValueError, match=r"images\[1\].*smaller than patch_size=64"):
        PatchDataset([np.zeros((64, 64, 3), np.uint8), imgs[0]], patch_size=64, scale=4)
    with pytest.raises(ValueError, match=r"channel-count mismatch: images\[1\] has 1"):
        PatchDataset([imgs[0], imgs[1][..., :1]], patch_size=32, scale=4)
    with pytest.raises(ValueError, match="multiple of scale=4"):
        PatchDataset(imgs, patch_size=30, scale=4)
    with pytest.raises(ValueError, match="photon"):
        PatchDataset(imgs, patch_size=32, scale=4, degradation="microscope", degradation_params={"photon": 3})
    with pytest.raises(ValueError, match="scale"):
        PatchDataset(imgs, patch_size=32, scale=3)
    with pytest.raises(ValueError, match="normalization='none'"):
        PatchDataset(imgs, patch_size=32, scale=4, normalization="none")


def test_validation_pairs_are_centre_crops():
    img = _images(1, size=40, channels=1)[0]  # 40 x 40
    lr, hr = validation_pairs([img], scale=4, patch_size=32, normalization="unit")
    np.testing.assert_allclose(hr[0], img[4:36, 4:36] / 65535.0, atol=1e-7)
    np.testing.assert_allclose(lr, degrade(hr, 4), atol=1e-6)


def test_keras_fit_with_thread_workers(backend):
    import keras

    ds = PatchDataset(_images(channels=1), patch_size=16, scale=2, batch_size=4, steps_per_epoch=3, workers=2)
    model = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3, padding="same"),
                              keras.layers.UpSampling2D(2), keras.layers.Conv2D(1, 3, padding="same")])
    model.compile(optimizer="adam", loss="mse")
    hist = model.fit(ds, epochs=2, verbose=0, shuffle=False)
    assert len(hist.history["loss"]) == 2 and np.all(np.isfinite(hist.history["loss"]))
    assert ds.epoch >= 2  # fit advanced the draws after each epoch


_HASH_CODE = """
import hashlib, json, numpy as np
from msrgan.data.patches import PatchDataset
rng = np.random.default_rng(0)
images = [rng.integers(0, 4095, (80, 88, 3)).astype(np.uint16) for _ in range(2)]
h = hashlib.sha256()
for deg in ("bicubic", "microscope"):
    lr, hr = PatchDataset(images, patch_size=32, scale=4, batch_size=4, degradation=deg, seed=3,
                          brightness=0.2, gamma=0.3)[1]
    h.update(lr.tobytes()); h.update(hr.tobytes())
print(json.dumps({"sha": h.hexdigest()}))
"""


def test_batches_are_identical_on_every_backend(backend):
    """Compared with the next backend in the cycle tensorflow -> torch -> jax -> tensorflow, so a run
    of the suite on all three backends checks every pair (one subprocess per run keeps it short)."""
    here = {}
    exec(compile(_HASH_CODE.replace("print(json.dumps(", "here.update(("), "<hash>", "exec"), {"here": here})
    other = {"tensorflow": "torch", "torch": "jax", "jax": "tensorflow"}[backend]
    assert run_in_backend(other, _HASH_CODE)["sha"] == here["sha"], other
