"""Tests of the seeded synthetic HCS field generator (msrgan.data.synthetic).

They read as its specification: determinism, layouts and dtypes, balanced datasets, classes that a
simple hand-made feature can tell apart, and argument checking. Small fields keep the file fast.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi
from skimage.filters import threshold_otsu

from msrgan.data.synthetic import (

    CHANNEL_NAMES_1,
    CHANNEL_NAMES_3,
    CHANNEL_NAMES_4,
    CLASS_NAMES,
    NUM_CLASSES,
    iter_fields,
    synthesize_dataset,
    synthesize_field,
)

pytestmark = pytest.mark.one_backend  # numpy, files and the Hub client only: no Keras backend involved


def test_names_and_orders():
    assert CLASS_NAMES == (
        "nucleoplasm",
        "nuclear_membrane",
        "nucleoli",
        "cytosol",
        "plasma_membrane",
        "mitochondria",
        "endoplasmic_reticulum",
        "golgi_apparatus",
        "vesicles",
        "actin_filaments",
        "microtubules",
        "centrosome",
        "intermediate_filaments",
    )
    assert NUM_CLASSES == 13
    assert CHANNEL_NAMES_4 == ("nucleus", "microtubules", "er", "protein")
    assert CHANNEL_NAMES_3 == ("microtubules", "protein", "nucleus")
    assert CHANNEL_NAMES_1 == ("protein",)


# ------------------------------------------------------------------------------------------- determinism


@pytest.mark.parametrize("bit_depth", [8, 16])
def test_same_seed_gives_identical_bytes(bit_depth):
    a, la = synthesize_field(123, size=96, channels=4, bit_depth=bit_depth)
    b, lb = synthesize_field(123, size=96, channels=4, bit_depth=bit_depth)
    assert la == lb
    assert a.tobytes() == b.tobytes()


def test_different_seeds_give_different_images():
    images = [synthesize_field(s, size=64, label=3)[0] for s in range(4)]
    for i in range(len(images)):
        for j in range(i + 1, len(images)):
            assert not np.array_equal(images[i], images[j])
            # not just a little noise: the cells themselves move
            assert np.mean(images[i].astype(int) != images[j].astype(int)) > 0.3


def test_channel_layouts_are_views_of_one_field():
    four, y4 = synthesize_field(9, size=64, channels=4)
    three, y3 = synthesize_field(9, size=64, channels=3)
    one, y1 = synthesize_field(9, size=64, channels=1)
    assert y4 == y3 == y1
    order = [CHANNEL_NAMES_4.index(name) for name in CHANNEL_NAMES_3]
    np.testing.assert_array_equal(three, four[..., order])
    np.testing.assert_array_equal(one[..., 0], four[..., CHANNEL_NAMES_4.index("protein")])


def test_label_changes_only_the_protein_channel():
    a, _ = synthesize_field(5, size=64, channels=4, label=0)
    b, _ = synthesize_field(5, size=64, channels=4, label=9)
    protein = CHANNEL_NAMES_4.index("protein")
    others = [c for c in range(4) if c != protein]
    np.testing.assert_array_equal(a[..., others], b[..., others])
    assert not np.array_equal(a[..., protein], b[..., protein])


def test_8_and_16_bit_are_the_same_signal():
    f8, _ = synthesize_field(4, size=64, bit_depth=8)
    f16, _ = synthesize_field(4, size=64, bit_depth=16)
    assert np.abs(f16.astype(np.int64) / 257.0 - f8).max() <= 1.0


def test_label_from_seed_is_deterministic_and_explicit_label_is_kept():
    drawn = {synthesize_field(s, size=32)[1] for s in range(40)}
    assert drawn <= set(range(NUM_CLASSES)) and len(drawn) > 5
    assert synthesize_field(17, size=32)[1] == synthesize_field(17, size=32)[1]
    assert synthesize_field(17, size=32, label=11)[1] == 11
    assert synthesize_field(17, size=32, label="golgi_apparatus")[1] == CLASS_NAMES.index("golgi_apparatus")


# ------------------------------------------------------------------------------------ shapes and dtypes


@pytest.mark.parametrize("channels", [1, 3, 4])
@pytest.mark.parametrize("bit_depth", [8, 16])
def test_dtype_and_shape(channels, bit_depth):
    img, label = synthesize_field(1, size=(48, 80), channels=channels, bit_depth=bit_depth)
    assert img.shape == (48, 80, channels)
    assert img.dtype == (np.uint8 if bit_depth == 8 else np.uint16)
    assert isinstance(label, int) and 0 <= label < NUM_CLASSES


def test_16_bit_has_real_extra_precision():
    img, _ = synthesize_field(2, size=64, channels=3, bit_depth=16, label=3)
    for c in range(3):
        values = np.unique(img[..., c])
        assert values.size > 256
        assert np.any(values % 257 != 0)  # not an 8-bit image times 257
    assert img.max() > 20000  # the range is used


def test_looks_like_fluorescence():
    """Dark background, bright structures, nuclei in the blue channel of the RGB merge."""
    img, _ = synthesize_field(8, size=128, channels=3, label=0)
    for c in range(3):
        channel = img[..., c]
        assert np.percentile(channel, 25) < 0.1 * 255  # mostly dark
        assert channel.max() > 0.4 * 255  # with bright structures
    nucleus = img[..., 2].astype(float)
    nuclei = nucleus > threshold_otsu(nucleus)
    assert 0.02 < nuclei.mean() < 0.6


# -------------------------------------------------------------------------------------------- datasets


def test_balanced_dataset_contains_all_classes():
    x, y = synthesize_dataset(26, seed=3, size=32, channels=4, bit_depth=16)
    assert x.shape == (26, 32, 32, 4) and x.dtype == np.uint16
    assert y.shape == (26,)
    assert y.tolist() == [i % 13 for i in range(26)]
    assert np.bincount(y, minlength=NUM_CLASSES).tolist() == [2] * NUM_CLASSES


def test_dataset_matches_iter_fields_and_is_prefix_stable():
    x, y = synthesize_dataset(5, seed=7, size=32)
    x_long, y_long = synthesize_dataset(8, seed=7, size=32)
    np.testing.assert_array_equal(x, x_long[:5])
    np.testing.assert_array_equal(y, y_long[:5])
    for i, (img, label) in enumerate(iter_fields(5, seed=7, size=32)):
        np.testing.assert_array_equal(img, x[i])
        assert label == y[i]
    other, _ = synthesize_dataset(5, seed=8, size=32)
    assert not np.array_equal(x, other)


def test_unbalanced_dataset_draws_labels_from_seeds():
    _, y = synthesize_dataset(30, seed=1, size=32, balanced=False)
    assert set(y.tolist()) <= set(range(NUM_CLASSES))
    assert y.tolist() != [i % 13 for i in range(30)]


def test_endless_iterator():
    it = iter_fields(None, seed=2, size=32, channels=1)
    labels = [next(it)[1] for _ in range(15)]
    assert labels == [i % 13 for i in range(15)]


# ------------------------------------------------------------------------- classes differ measurably


def _corr(a, b):
    a = a - a.mean()
    b = b - b.mean()
    return float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum() + 1e-12))


def _features(img):
    """Hand-made localization features of the protein channel, relative to the other three channels."""
    dapi, mt, er, protein = (ndi.gaussian_filter(img[..., c].astype(float), 1.0) for c in range(4))
    p = np.clip(protein - np.percentile(protein, 5), 0, None)
    total = p.sum() + 1e-9
    nuclei = dapi > threshold_otsu(dapi)
    rim = ndi.binary_dilation(nuclei, iterations=2) & ~ndi.binary_erosion(nuclei, iterations=2)
    dist = ndi.distance_transform_edt(~nuclei)  # px from the nearest nucleus
    high_pass = protein - ndi.gaussian_filter(protein, 3.0)
    brightest = np.sort(p.ravel())[::-1][: p.size // 100]
    return np.array(
        [
            p[nuclei].sum() / total,  # nuclear fraction
            p[rim].sum() / total,  # nuclear rim fraction
            p[(dist > 0) & (dist <= 6)].sum() / total,  # perinuclear fraction
            p[dist > 15].sum() / total,  # peripheral fraction
            _corr(protein, mt),
            _corr(protein, er),
            _corr(protein, dapi),
            brightest.sum() / total,  # spottiness
            (high_pass**2).sum() / ((protein - protein.mean()) ** 2).sum(),  # fine structure
        ]
    )


def test_classes_are_distinguishable_by_a_nearest_centroid_classifier():
    def features_of(seeds):
        x, y = [], []
        for label in range(NUM_CLASSES):
            for s in seeds:
                img, _ = synthesize_field(s * NUM_CLASSES + label, size=96, channels=4, label=label)
                x.append(_features(img))
                y.append(label)
        return np.array(x), np.array(y)

    x_train, y_train = features_of(range(6))
    x_test, y_test = features_of(range(1000, 1004))  # held-out fields (about 0.7 accuracy here)
    mean, std = x_train.mean(0), x_train.std(0) + 1e-9
    z_train, z_test = (x_train - mean) / std, (x_test - mean) / std
    centroids = np.stack([z_train[y_train == c].mean(0) for c in range(NUM_CLASSES)])
    predicted = np.argmin(((z_test[:, None, :] - centroids[None]) ** 2).sum(-1), axis=1)
    accuracy = float(np.mean(predicted == y_test))
    chance = 1.0 / NUM_CLASSES
    assert accuracy > 6 * chance, f"nearest-centroid accuracy {accuracy:.2f} (chance {chance:.2f})"


# ---------------------------------------------------------------------------------------- bad arguments


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"channels": 2}, "channels"),
        ({"channels": 0}, "channels"),
        ({"bit_depth": 12}, "bit_depth"),
        ({"size": 31}, "size"),
        ({"size": (64, 16)}, "size"),
        ({"size": "big"}, "size"),
        ({"label": 13}, "label"),
        ({"label": -1}, "label"),
        ({"label": "nucleus"}, "label"),
    ],
)
def test_bad_field_arguments_raise_value_error_naming_them(kwargs, name):
    with pytest.raises(ValueError, match=name):
        synthesize_field(0, **kwargs)


def test_bad_seed_raises():
    with pytest.raises(ValueError, match="seed"):
        synthesize_field(-1)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"count": 0}, "count"),
        ({"count": -3}, "count"),
        ({"count": 2, "channels": 5}, "channels"),
        ({"count": 2, "bit_depth": 7}, "bit_depth"),
        ({"count": 2, "size": 8}, "size"),
        ({"count": 2, "seed": -1}, "seed"),
    ],
)
def test_bad_dataset_arguments_raise_value_error_naming_them(kwargs, name):
    with pytest.raises(ValueError, match=name):
        synthesize_dataset(**kwargs)
    with pytest.raises(ValueError, match=name):
        iter_fields(**kwargs)
