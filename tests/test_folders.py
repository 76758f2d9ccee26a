"""Folder loaders (CYTO2017 layout, class subfolders, per-channel TIFFs) and ``load_source``."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from msrgan.data import load_source
from msrgan.data.folders import load_folder
from msrgan.data.io import read_image, write_image
from msrgan.data.normalize import denormalize, normalize
from msrgan.data.synthetic import CLASS_NAMES, synthesize_dataset

pytestmark = pytest.mark.one_backend  # numpy, files and the Hub client only: no Keras backend involved


@pytest.fixture(scope="module")
def fields16():
    """13 small 4-channel 16-bit synthetic fields, one per class."""
    return synthesize_dataset(13, seed=5, size=64, channels=4, bit_depth=16)


def _write_cyto(folder, images, labels, suffix):
    for i, (img, y) in enumerate(zip(images, labels)):
        write_image(folder / f"{y:02d}_{i:04d}{suffix}", img)


@pytest.mark.parametrize("channels, bit_depth, suffix", [(4, 16, ".tif"), (3, 16, ".png"), (1, 8, ".png"),
                                                         (3, 8, ".jpg")])
def test_cyto2017_layout_on_generated_files(tmp_path, channels, bit_depth, suffix):
    images, labels = synthesize_dataset(6, seed=1, size=64, channels=channels, bit_depth=bit_depth)
    _write_cyto(tmp_path, images, labels, suffix)
    (tmp_path / "metadata.csv").write_text("file_name,label\n")  # non-image files are ignored
    src = load_folder(tmp_path)
    assert src.info["layout"] == "cyto2017" and src.kind == "folder"
    assert src.labels.tolist() == labels.tolist() == [0, 1, 2, 3, 4, 5]
    assert src.class_names == CLASS_NAMES and src.channels == channels
    assert src.names == [f"{y:02d}_{i:04d}{suffix}" for i, y in enumerate(labels)]
    for got, want in zip(src.images, images):
        assert got.shape == want.shape and got.dtype == want.dtype
        if suffix != ".jpg":  # lossless formats are exact
            assert np.array_equal(got, want)


def test_16bit_round_trip_through_files_loader_and_normalization(tmp_path, fields16):
    images, labels = fields16
    _write_cyto(tmp_path, images[:3], labels[:3], ".tif")
    write_image(tmp_path / "rgb" / "03_rgb.png", images[3][..., :3])  # 16-bit RGB PNG too
    with pytest.warns(UserWarning, match=r"subfolder\(s\) \['rgb'\] are ignored"):
        src = load_source(tmp_path)
    assert src.dtypes == ["uint16"] and len(src) == 3
    for got, want in zip(src.images, images[:3]):
        assert got.dtype == np.uint16 and np.array_equal(got, want)
    rgb = load_source(tmp_path / "rgb").images[0]
    assert rgb.dtype == np.uint16 and np.array_equal(rgb, images[3][..., :3])
    # uses the low bits: not an 8-bit image scaled up
    assert np.any(src.images[0] % 257 != 0)
    for img in [*src.images, rgb]:
        y, norm = normalize(img)
        back = denormalize(y, norm)
        assert back.dtype == np.uint16 and np.array_equal(back, img)
        write_image(tmp_path / "out" / "back.tif", back, overwrite=True)
        assert np.array_equal(read_image(tmp_path / "out" / "back.tif"), img)


def test_class_subfolders_with_standard_and_custom_names(tmp_path, fields16):
    images, labels = fields16
    std = tmp_path / "std"
    for folder, k in [("nucleoli", 2), ("Golgi apparatus", 7), ("actin-filaments", 9)]:
        for j in range(2):
            write_image(std / folder / f"field{j}.tif", images[k])
    src = load_folder(std)
    assert src.info["layout"] == "class_folders"
    assert src.class_names == CLASS_NAMES
    assert sorted(src.labels.tolist()) == [2, 2, 7, 7, 9, 9]
    for img, y in zip(src.images, src.labels):
        assert np.array_equal(img, images[y])
    assert "Golgi apparatus/field0.tif" in src.names

    custom = tmp_path / "custom"
    write_image(custom / "treated" / "a.png", images[0][..., :3])
    write_image(custom / "control" / "a.png", images[1][..., :3])
    write_image(custom / "control" / "b.png", images[2][..., :3])
    src = load_folder(custom)
    assert src.class_names == ("control", "treated")
    assert src.labels.tolist() == [0, 0, 1]
    assert np.array_equal(src.images[2], images[0][..., :3])


def test_per_channel_tiffs_combined_by_pattern(tmp_path, fields16):
    images, labels = fields16
    tokens = ("dapi", "tubulin", "er", "protein")
    for i in range(4):
        for c, tok in enumerate(tokens):
            write_image(tmp_path / f"{labels[i]:02d}_f{i:03d}_{tok}.tif", images[i][..., c])
    # given in a different order than the alphabetical one, to prove the order is honoured
    src = load_folder(tmp_path, pattern="{label}_{id}_{channel}.tif", channel_order=tokens)
    assert src.info["layout"] == "per_channel" and src.channels == 4
    assert src.labels.tolist() == labels[:4].tolist() and src.class_names == CLASS_NAMES
    for got, want in zip(src.images, images[:4]):
        assert got.dtype == np.uint16 and np.array_equal(got, want)
    # through load_source too
    assert np.array_equal(load_source(tmp_path, pattern="{label}_{id}_{channel}.tif",
                                      channel_order=tokens).images[1], images[1])

    # {class} folders and numeric channel tokens, sorted numerically (c2 before c10 would matter)
    root = tmp_path / "bycls"
    for i, cls in [(0, "nucleoli"), (1, "cytosol")]:
        for c in range(3):
            write_image(root / cls / f"well{i}_c{c}.tif", images[i][..., c])
    src = load_folder(root, pattern="{class}/{id}_c{channel}.tif")
    assert src.channels == 3 and src.class_names == CLASS_NAMES
    assert sorted(src.labels.tolist()) == [2, 3]
    for img, name in zip(src.images, src.names):
        i = 0 if name.startswith("nucleoli") else 1
        assert np.array_equal(img, images[i][..., :3])


def test_per_channel_missing_file_is_skipped_or_strict(tmp_path, fields16):
    images, labels = fields16
    for i in range(2):
        for c in range(3 if i == 0 else 2):  # field 1 lacks channel 2
            write_image(tmp_path / f"00_{i}_ch{c}.tif", images[i][..., c])
    with pytest.warns(UserWarning, match=r"'00_1'.*\['2'\]"):
        src = load_folder(tmp_path, pattern="{label}_{id}_ch{channel}.tif", channel_order=["0", "1", "2"])
    assert src.names == ["00_0"] and [n for n, _ in src.skipped] == ["00_1"]
    assert np.array_equal(src.images[0], images[0][..., :3])
    with pytest.raises(ValueError, match=r"'00_1'.*\['2'\]"):
        load_folder(tmp_path, pattern="{label}_{id}_ch{channel}.tif", channel_order=["0", "1", "2"], strict=True)


def test_corrupt_file_is_skipped_with_a_warning_naming_it(tmp_path, fields16):
    images, labels = fields16
    _write_cyto(tmp_path, images[:3, ..., :3], labels[:3], ".png")
    bad = tmp_path / "04_broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    with pytest.warns(UserWarning, match="04_broken.png"):
        src = load_folder(tmp_path)
    assert len(src) == 3 and [n for n, _ in src.skipped] == ["04_broken.png"]
    assert 4 not in src.labels.tolist()  # not turned into a zero image
    with pytest.raises(ValueError, match="04_broken.png"):
        load_folder(tmp_path, strict=True)
    with pytest.raises(ValueError, match="04_broken.png"):
        load_source(tmp_path, strict=True)


def test_all_files_corrupt_is_an_error(tmp_path):
    (tmp_path / "00_a.tif").write_bytes(b"II*\x00garbage")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match="00_a.tif"):
            load_folder(tmp_path)


def test_channel_count_mismatch_names_the_file(tmp_path, fields16):
    images, _ = fields16
    write_image(tmp_path / "00_a.png", images[0][..., :3])
    write_image(tmp_path / "01_b.png", images[1][..., 0])
    with pytest.raises(ValueError, match=r"channel-count mismatch.*01_b.png has 1 channel.*3"):
        load_folder(tmp_path)
    with pytest.raises(ValueError, match=r"00_a.png has 3 channel\(s\) but 4"):
        load_source(tmp_path, channels=4)


def test_empty_and_missing_folders(tmp_path):
    with pytest.raises(ValueError, match="no image files"):
        load_folder(tmp_path)
    (tmp_path / "metadata.csv").write_text("file_name\n")
    (tmp_path / "sub").mkdir()
    with pytest.raises(ValueError, match=str(tmp_path)):
        load_source(tmp_path)
    with pytest.raises(FileNotFoundError, match="nope"):
        load_folder(tmp_path / "nope")
    with pytest.raises(FileNotFoundError, match="nope"):
        load_source(str(tmp_path / "nope"))
    with pytest.raises(ValueError, match="no files match"):
        load_folder(tmp_path, pattern="{id}_{channel}.tif")


def test_mixed_naming_and_unlabelled_flat_folders(tmp_path):
    img = np.zeros((8, 8), np.uint8)
    write_image(tmp_path / "mixed" / "00_a.png", img)
    write_image(tmp_path / "mixed" / "b.png", img)
    with pytest.raises(ValueError, match=r"mixed file naming.*b\.png"):
        load_folder(tmp_path / "mixed")
    for n in ("x.png", "y.png"):
        write_image(tmp_path / "plain" / n, img)
    src = load_folder(tmp_path / "plain")
    assert src.labels is None and src.info["layout"] == "flat" and src.names == ["x.png", "y.png"]


def test_count_max_per_class_and_split(tmp_path):
    images, labels = synthesize_dataset(26, seed=2, size=32, channels=1)
    _write_cyto(tmp_path, images, labels, ".png")
    assert len(load_folder(tmp_path, count=5)) == 5
    one = load_folder(tmp_path, max_per_class=1)
    assert sorted(one.labels.tolist()) == list(range(13))
    src = load_folder(tmp_path)
    train, val = src.split(0.5, seed=0)
    assert len(train) + len(val) == 26
    assert sorted(val.labels.tolist()) == list(range(13))  # stratified: one of each class's two
    assert not set(train.names) & set(val.names)


def test_load_source_synthetic_and_bad_specs():
    src = load_source("synthetic", count=4, size=32, channels=4, bit_depth=16, seed=3)
    assert src.kind == "synthetic" and len(src) == 4 and src.images[0].shape == (32, 32, 4)
    assert src.labels.tolist() == [0, 1, 2, 3] and src.images[0].dtype == np.uint16
    again = load_source("synthetic", count=4, size=32, channels=4, bit_depth=16, seed=3)
    assert all(a.tobytes() == b.tobytes() for a, b in zip(src.images, again.images))
    with pytest.raises(ValueError, match="channels"):
        load_source("synthetic", channels=2)
    with pytest.raises(ValueError, match="count"):
        load_source("synthetic", count=0)
    with pytest.raises(FileNotFoundError, match="not-a-thing"):
        load_source("not-a-thing")
