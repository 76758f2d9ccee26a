"""Hugging Face datasets: exact (16-bit) image column, ClassLabel, local folders, the Hub, the card."""

from __future__ import annotations

import numpy as np
import pytest

from msrgan.data import load_source
from msrgan.data.hf import decode_image, encode_image, from_hf_dataset, push_dataset, size_category, to_hf_dataset
from msrgan.data.synthetic import CLASS_NAMES, synthesize_dataset

pytestmark = pytest.mark.one_backend  # file formats and the Hub client: no Keras backend involved


def _mixed_images():
    """Every kind the image column must keep exactly: 8/16-bit, float, 1/3/4 channels, two sizes."""
    rng = np.random.default_rng(0)
    return [
        rng.integers(0, 65536, (40, 48, 1), dtype=np.uint16),
        rng.integers(0, 65536, (32, 32, 3), dtype=np.uint16),
        rng.integers(0, 65536, (32, 40, 4), dtype=np.uint16),
        rng.integers(0, 256, (32, 32, 3), dtype=np.uint8),
        rng.integers(0, 256, (32, 32, 4), dtype=np.uint8),
        rng.random((24, 24, 1), dtype=np.float32),
    ]


def test_encode_decode_is_exact_for_every_kind():
    for img in _mixed_images():
        data, suffix = encode_image(img)
        assert suffix == (".png" if img.dtype != np.float32 and img.shape[-1] in (1, 3) else ".tif")
        back = decode_image(data)
        assert back.dtype == img.dtype and np.array_equal(back, img), (img.dtype, img.shape)
        tiff = decode_image(encode_image(img, "tiff")[0])
        assert tiff.dtype == img.dtype and np.array_equal(tiff, img)
    with pytest.raises(ValueError, match="tiff"):
        encode_image(np.zeros((4, 4, 4), np.uint16), "png")


def test_decode_accepts_pil_images_and_paths(tmp_path):
    from PIL import Image

    from msrgan.data.io import write_image

    img = np.arange(64, dtype=np.uint16).reshape(8, 8) * 1000
    assert np.array_equal(decode_image(Image.fromarray(img))[..., 0], img)
    path = write_image(tmp_path / "a.png", img)
    assert np.array_equal(decode_image({"bytes": None, "path": str(path)})[..., 0], img)


def test_dataset_features_and_labels():
    import datasets

    images, labels = synthesize_dataset(13, seed=0, size=32, channels=4, bit_depth=16)
    ds = to_hf_dataset(images, labels, names=[f"{y:02d}_{i}" for i, y in enumerate(labels)])
    assert list(ds.features) == ["channel_0", "channel_1", "channel_2", "channel_3", "label", "name"]
    assert isinstance(ds.features["label"], datasets.ClassLabel)
    assert ds.features["label"].names == list(CLASS_NAMES) and len(CLASS_NAMES) == 13
    assert all(isinstance(ds.features[f"channel_{c}"], datasets.Image) and ds.features[f"channel_{c}"].decode
               for c in range(4))
    assert ds[3]["label"] == 3 and ds[3]["name"] == "03_3"
    for c in range(4):  # Pillow, datasets' own decoder, gives each plane exactly: 16-bit stays 16-bit
        plane = np.asarray(ds[3][f"channel_{c}"])
        assert plane.dtype == np.uint16 and np.array_equal(plane, images[3][..., c])
    with pytest.raises(ValueError, match="labels must lie in 0..12"):
        to_hf_dataset(images[:1], [13])
    with pytest.raises(ValueError, match="image 1 .* has 3 channel"):
        to_hf_dataset([images[0], images[0][..., :3]])
    unlabelled = to_hf_dataset(images[:2])
    assert "label" not in unlabelled.features
    assert from_hf_dataset(unlabelled).labels is None


def test_datasets_pushed_in_the_earlier_single_image_column_format_still_load(tmp_path):
    """Earlier versions wrote one ``image`` column of Image(decode=False): PNG or TIFF bytes of (H, W, C)."""
    import datasets

    images = [im for im in _mixed_images() if im.shape[-1] == 4]
    cells = [{"bytes": encode_image(im)[0], "path": f"{i:02d}_{i}.tif"} for i, im in enumerate(images)]
    old = datasets.Dataset.from_dict(
        {"image": cells, "label": [0, 5], "name": ["a", "b"]},
        features=datasets.Features({"image": datasets.Image(decode=False), "label": datasets.ClassLabel(
            names=list(CLASS_NAMES)), "name": datasets.Value("string")}))
    old.save_to_disk(str(tmp_path / "old"))
    src = load_source(tmp_path / "old")
    assert src.labels.tolist() == [0, 5] and src.names == ["a", "b"] and src.channels == 4
    for got, want in zip(src.images, images):
        assert got.dtype == want.dtype and np.array_equal(got, want)


def test_round_trip_through_a_local_save_to_disk_folder(tmp_path):
    images = _mixed_images()
    same_c = [im for im in images if im.shape[-1] == 3]  # a source holds one channel count
    ds = to_hf_dataset(same_c, [1, 12], names=["a.png", "b.png"])
    ds.save_to_disk(str(tmp_path / "saved"))
    src = load_source(tmp_path / "saved")
    assert src.kind == "hf" and src.labels.tolist() == [1, 12] and src.class_names == CLASS_NAMES
    assert src.names == ["a.png", "b.png"]
    for got, want in zip(src.images, same_c):
        assert got.dtype == want.dtype and np.array_equal(got, want)
    with pytest.raises(ValueError, match="channel-count mismatch"):
        load_source(tmp_path / "saved", channels=4)


def test_round_trip_through_a_local_parquet_folder(tmp_path):
    images, labels = synthesize_dataset(5, seed=4, size=32, channels=1, bit_depth=16)
    ds = to_hf_dataset(images, labels)
    (tmp_path / "pq" / "data").mkdir(parents=True)
    ds.to_parquet(str(tmp_path / "pq" / "data" / "train-00000-of-00001.parquet"))
    src = load_source(tmp_path / "pq")
    assert src.labels.tolist() == labels.tolist()
    assert all(np.array_equal(a, b) for a, b in zip(src.images, images))


def test_size_categories():
    assert [size_category(n) for n in (1, 999, 1000, 25_000, 2_000_000)] == [
        "n<1K", "n<1K", "1K<n<10K", "10K<n<100K", "1M<n<10M"]


def test_push_dataset_to_the_local_hub_with_a_card(local_hub, tmp_path):
    import datasets
    from huggingface_hub import DatasetCard, HfApi

    images, labels = synthesize_dataset(13, seed=9, size=32, channels=4, bit_depth=16)
    repo_id = "user/msrgan-test-push-api"
    url = push_dataset(to_hf_dataset(images, labels), repo_id, license="cc0-1.0",
                       generation="msrgan data synth --count 13 --size 32 --channels 4 --bit-depth 16 --seed 9",
                       channel_names=["nucleus", "microtubules", "er", "protein"], tags=["synthetic"])
    assert url.endswith(f"/datasets/{repo_id}")

    api = HfApi()
    files = {f.path: f for f in api.list_repo_tree(repo_id, repo_type="dataset", recursive=True)
             if hasattr(f, "lfs")}
    shards = [p for p in files if p.startswith("data/train-") and p.endswith(".parquet")]
    assert shards and all(files[p].lfs is not None for p in shards)  # parquet went through LFS

    card = DatasetCard.load(api.hf_hub_download(repo_id, "README.md", repo_type="dataset"))
    meta = card.data.to_dict()
    assert meta["license"] == "cc0-1.0"
    assert meta["task_categories"] == ["image-classification", "image-to-image"]
    assert meta["size_categories"] == ["n<1K"] and "synthetic" in meta["tags"]
    feature = {f["name"]: f for f in meta["dataset_info"]["features"]}
    assert feature["label"]["dtype"]["class_label"]["names"]["7"] == "golgi_apparatus"
    assert "msrgan data synth --count 13" in card.text and "| 12 | intermediate_filaments | 1 |" in card.text

    ds = datasets.load_dataset(repo_id, split="train", cache_dir=str(tmp_path / "cache"))
    assert ds.features["label"].names == list(CLASS_NAMES)
    assert ds["label"] == labels.tolist()
    for row, want in zip(ds, images):
        got = np.stack([np.asarray(row[f"channel_{c}"]) for c in range(4)])  # CYX
        assert got.dtype == np.uint16 and np.array_equal(got, np.moveaxis(want, -1, 0))
    assert "`channel_3` protein" in card.text and "(C, Y, X)" in card.text
    src = load_source(repo_id)  # the Hub id path of load_source
    assert all(np.array_equal(a, b) for a, b in zip(src.images, images))


def test_missing_hub_dataset_is_a_file_not_found_error(local_hub):
    with pytest.raises(FileNotFoundError, match="user/no-such-dataset"):
        load_source("user/no-such-dataset")


def test_pushing_another_channel_count_to_the_same_repo_replaces_the_features(local_hub, tmp_path):
    """datasets keeps an earlier push's features in the card; push_dataset writes the new ones."""
    import datasets

    four = [np.full((32, 32, 4), 7, np.uint16)] * 2
    three = [np.arange(32 * 32 * 3, dtype=np.uint16).reshape(32, 32, 3)] * 3
    push_dataset(to_hf_dataset(four, [0, 1]), "user/repush-other-channels")
    push_dataset(to_hf_dataset(three, [0, 1, 2]), "user/repush-other-channels")
    ds = datasets.load_dataset("user/repush-other-channels", split="train", cache_dir=str(tmp_path))
    assert list(ds.features)[:4] == ["channel_0", "channel_1", "channel_2", "label"] and len(ds) == 3
    src = load_source("user/repush-other-channels")
    assert src.channels == 3 and all(np.array_equal(a, three[0]) for a in src.images)
