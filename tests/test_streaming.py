"""Streaming training data: the lazy folder source, its cache and region reads, sharding, the choice of
``open_training_source`` and Hugging Face datasets in streaming mode."""

from __future__ import annotations

import json
import logging
import shutil
import warnings

import numpy as np
import pytest
import tifffile

from msrgan.data.folders import load_folder
from msrgan.data.io import read_image, write_image
from msrgan.data.lazy import LazyImage, probe_file
from msrgan.data.patches import PatchDataset, validation_pairs
from msrgan.data.shard import check_shard, shard_indices, shard_source
from msrgan.data.stream import estimate_bytes, open_lazy_folder, open_training_source, parse_bytes

pytestmark = pytest.mark.one_backend  # NumPy batches and file formats: no Keras backend involved

PATCH = dict(patch_size=32, scale=4, batch_size=4, steps_per_epoch=3, seed=7)


def _field(seed, shape, dtype=np.uint16):
    rng = np.random.default_rng(seed)
    hi = 65536 if dtype == np.uint16 else 256
    return (rng.gamma(2.0, hi / 12, shape)).clip(0, hi - 1).astype(dtype)


def _mkdir(path):
    path.mkdir(parents=True, exist_ok=True)
    return path


def _mixed_folder(d):
    """Every way the lazy source reads a file: contiguous (ImageJ CYX and plain YXC), tiled and compressed
    TIFFs (zarr), 16-bit RGB PNG and 8-bit PNG (decoded); 3 channels, several sizes."""
    imgs = {"00_a.tif": _field(0, (80, 72, 3)), "01_b.tif": _field(1, (64, 96, 3)),
            "02_c.tif": _field(2, (96, 64, 3)), "03_d.tif": _field(3, (70, 66, 3)),
            "04_e.png": _field(4, (64, 64, 3)), "05_f.png": _field(5, (48, 72, 3), np.uint8)}
    write_image(d / "00_a.tif", imgs["00_a.tif"])
    tifffile.imwrite(d / "01_b.tif", imgs["01_b.tif"], photometric="rgb")
    tifffile.imwrite(d / "02_c.tif", imgs["02_c.tif"], tile=(32, 32), compression="zlib", photometric="rgb")
    tifffile.imwrite(d / "03_d.tif", imgs["03_d.tif"], compression="zlib", rowsperstrip=8, photometric="rgb")
    write_image(d / "04_e.png", imgs["04_e.png"])
    write_image(d / "05_f.png", imgs["05_f.png"])
    return imgs


def test_every_file_kind_reads_as_read_image(tmp_path):
    imgs = _mixed_folder(tmp_path)
    kinds = {}
    for name, want in imgs.items():
        lay = probe_file(tmp_path / name)
        im = LazyImage([lay], open_lazy_folder(tmp_path).info["store"])
        kinds[name] = im.kind
        assert im.shape == want.shape and im.dtype == want.dtype
        assert np.array_equal(np.asarray(im), want)
        assert np.array_equal(im[5:30, 7:19], want[5:30, 7:19]) and np.array_equal(im[3, 4:9, 1], want[3, 4:9, 1])
        if im.kind == "contiguous":  # a region is laid out in memory as read_image lays out the file (planar or not)
            loaded = read_image(tmp_path / name)[5:30, 7:19]
            assert np.argsort(im[5:30, 7:19].strides).tolist() == np.argsort(loaded.strides).tolist()
    assert kinds == {"00_a.tif": "contiguous", "01_b.tif": "contiguous", "02_c.tif": "chunked",
                     "03_d.tif": "chunked", "04_e.png": "decoded", "05_f.png": "decoded"}


@pytest.mark.parametrize("normalization", ["percentile", "unit"])
def test_lazy_source_draws_the_in_memory_batches(tmp_path, normalization):
    """The contract: the same images, names and labels, and bit-identical batches for the same seed."""
    _mixed_folder(tmp_path)
    mem, lazy = load_folder(tmp_path), open_lazy_folder(tmp_path)
    assert lazy.names == mem.names and lazy.labels.tolist() == mem.labels.tolist() and lazy.channels == 3
    a = PatchDataset(mem.images, normalization=normalization, **PATCH)
    b = PatchDataset(lazy.images, normalization=normalization, **PATCH)
    assert all(isinstance(im, LazyImage) for im in b.images)  # not read whole by the dataset
    for epoch, index in [(0, 0), (0, 2), (3, 1)]:
        for x, y in zip(a.batch(index, epoch), b.batch(index, epoch)):
            assert np.array_equal(x, y)
    for x, y in zip(validation_pairs(mem.images, scale=4, patch_size=32, normalization=normalization),
                    validation_pairs(lazy.images, scale=4, patch_size=32, normalization=normalization)):
        assert np.array_equal(x, y)


def test_per_channel_files_stream_like_they_load(tmp_path):
    for i in range(3):
        for c, tok in enumerate(("dapi", "tub", "er")):
            write_image(tmp_path / f"0{i}_f{i}_{tok}.tif", _field(10 * i + c, (40, 48)))
    kw = dict(pattern="{label}_{id}_{channel}.tif", channel_order=["dapi", "tub", "er"])
    mem, lazy = load_folder(tmp_path, **kw), open_lazy_folder(tmp_path, **kw)
    assert lazy.names == mem.names and lazy.channels == 3 and lazy.info["channel_order"] == ["dapi", "tub", "er"]
    for x, y in zip(PatchDataset(mem.images, **PATCH)[1], PatchDataset(lazy.images, **PATCH)[1]):
        assert np.array_equal(x, y)


def test_decoded_image_cache_stays_within_its_budget(tmp_path):
    imgs = [_field(i, (64, 64, 3), np.uint8) for i in range(6)]
    for i, im in enumerate(imgs):
        write_image(tmp_path / f"f{i}.png", im)
    budget = int(2.5 * imgs[0].nbytes)
    src = open_lazy_folder(tmp_path, cache_bytes=budget)
    store = src.info["store"]
    ds = PatchDataset(src.images, patch_size=16, scale=4, batch_size=8, steps_per_epoch=5, normalization="unit")
    ref = PatchDataset(imgs, patch_size=16, scale=4, batch_size=8, steps_per_epoch=5, normalization="unit")
    for i in range(5):
        assert np.array_equal(ds[i][1], ref[i][1])
        assert store.cache.nbytes <= budget
    assert 0 < store.cache.peak_bytes <= budget and len(store.cache) <= 2
    assert store.decoded > len(imgs)  # images were evicted and decoded again


def test_region_reads_touch_only_the_region(tmp_path):
    """A 96x96 crop of a 1024x1024x4 16-bit field maps only its rows of each plane (contiguous files) or
    reads only the tiles it overlaps (tiled, compressed files); counted by the store, not guessed."""
    img = _field(0, (1024, 1024, 4))
    write_image(tmp_path / "a.tif", img)  # ImageJ CYX, contiguous
    tifffile.imwrite(tmp_path / "b.tif", img, tile=(128, 128), compression="zlib", photometric="minisblack",
                     planarconfig="contig")
    src = open_lazy_folder(tmp_path)
    store = src.info["store"]
    a, b = src.images
    assert (a.kind, b.kind) == ("contiguous", "chunked")
    np.testing.assert_array_equal(a[300:396, 500:596], img[300:396, 500:596])
    assert store.bytes_mapped <= 4 * (96 * 1024 * 2 + 4096)  # 4 planes x the 96 rows: under 1/10 of the field
    opened = store.bytes_read
    np.testing.assert_array_equal(b[260:356, 140:236], img[260:356, 140:236])  # inside 1 tile row, 2 tile columns
    tile = (tmp_path / "b.tif").stat().st_size / 64
    assert store.bytes_read - opened < 4 * tile + 64 * 1024  # 2 tiles (4 at most) and headers, of 64


def test_unreadable_files_are_skipped_with_a_warning_or_stop_with_strict(tmp_path):
    write_image(tmp_path / "good.tif", _field(0, (40, 40, 1)))
    (tmp_path / "garbage.tif").write_bytes(b"not a tiff at all")
    write_image(tmp_path / "cut.tif", _field(1, (40, 40, 1)))
    data = (tmp_path / "cut.tif").read_bytes()
    (tmp_path / "cut.tif").write_bytes(data[:len(data) // 2])  # the header is fine, half the pixels are gone
    with pytest.warns(UserWarning, match="skipping unreadable image") as rec:
        src = open_lazy_folder(tmp_path)
    assert src.names == ["good.tif"] and sorted(n for n, _ in src.skipped) == ["cut.tif", "garbage.tif"]
    assert any("truncated" in str(w.message) for w in rec)
    with pytest.raises(ValueError, match="cut.tif|garbage.tif"):
        open_lazy_folder(tmp_path, strict=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert open_training_source(tmp_path, max_memory=1).names == ["good.tif"]


def test_sharding_is_disjoint_and_covering(tmp_path):
    for n in (1, 5, 12):
        for p in (1, 2, 3, 5):
            parts = [shard_indices(n, process_id=i, num_processes=p) for i in range(p)]
            flat = [i for part in parts for i in part]
            assert sorted(flat) == list(range(n)) and len(set(flat)) == n
    for i in range(7):
        write_image(tmp_path / f"{i:02d}_f.tif", _field(i, (32, 32, 1)))
    names = [open_lazy_folder(tmp_path, process_id=i, num_processes=3).names for i in range(3)]
    assert sorted(sum(names, [])) == load_folder(tmp_path).names and names[1] == ["01_f.tif", "04_f.tif"]
    mem = [shard_source(load_folder(tmp_path), process_id=i, num_processes=3).names for i in range(3)]
    assert mem == names
    src = open_training_source(tmp_path, max_memory="1G", process_id=2, num_processes=3)
    assert src.info["streaming"] is False and src.names == names[2]


@pytest.mark.parametrize("pid, n, match", [(2, 2, "process_id=2 does not fit num_processes=2"),
                                           (-1, 2, "process_id=-1"), (0, 0, "num_processes must be >= 1"),
                                           (True, 2, "process_id must be an int")])
def test_mismatched_process_values_are_a_clear_error(tmp_path, pid, n, match):
    with pytest.raises(ValueError, match=match):
        check_shard(pid, n)
    with pytest.raises(ValueError, match=match):
        open_training_source(tmp_path / "not-read", process_id=pid, num_processes=n)
    write_image(tmp_path / "only.tif", _field(0, (32, 32, 1)), overwrite=True)
    with pytest.raises(ValueError, match="fewer than num_processes=3"):
        open_lazy_folder(tmp_path, num_processes=3, process_id=0)
    with pytest.raises(ValueError, match="fewer than num_processes=3"):
        shard_source(load_folder(tmp_path), process_id=0, num_processes=3)


def test_open_training_source_streams_when_the_estimate_exceeds_the_budget(tmp_path, caplog):
    imgs = [_field(i, (64, 64, 4)) for i in range(3)]
    for i, im in enumerate(imgs):
        write_image(tmp_path / f"{i:02d}_f.tif", im)
    assert estimate_bytes(tmp_path) == (sum(im.nbytes for im in imgs), 3)
    with caplog.at_level(logging.INFO, logger="msrgan.data.stream"):
        lazy = open_training_source(tmp_path, max_memory=sum(im.nbytes for im in imgs) - 1)
        mem = open_training_source(tmp_path, max_memory="10MB")
    assert lazy.info["streaming"] and isinstance(lazy.images[0], LazyImage)
    assert not mem.info["streaming"] and isinstance(mem.images[0], np.ndarray)
    assert "streaming from the files" in caplog.text and "loading into memory" in caplog.text
    assert "max_memory" in lazy.info["loading"]
    assert open_training_source("synthetic", count=2, size=32, max_memory=1).info["streaming"] is False
    assert parse_bytes("400M") == 400_000_000 and parse_bytes("1.5GiB") == 3 * 2**29
    with pytest.raises(ValueError, match="400M, 8G or 2GiB"):
        parse_bytes("lots")


def test_hf_streaming_source_from_the_local_hub(local_hub):
    from msrgan.data.hf import push_dataset, to_hf_dataset
    from msrgan.data.hf.stream import HFStreamSource, open_hf_stream

    imgs = [_field(i, (48, 40, 4)) for i in range(7)]
    push_dataset(to_hf_dataset(imgs, names=[f"f{i}" for i in range(7)]), "user/msrgan-test-stream",
                 license="cc0-1.0", generation="tests/test_streaming.py")
    src = open_training_source("user/msrgan-test-stream", max_memory=1000)
    assert isinstance(src, HFStreamSource) and src.info["streaming"] and src.num_examples == 7
    assert src.info["estimated_bytes"] == 7 * imgs[0].nbytes
    train, val = src.split(0.3)
    assert len(val) == 2 and np.array_equal(val.images[1], imgs[1]) and train.num_examples == 5
    kw = dict(patch_size=16, scale=4, batch_size=3, steps_per_epoch=4, seed=3, pool_size=2, steps_per_pool=3)
    ds, again = train.patch_dataset(**kw), train.patch_dataset(**kw)
    ref = PatchDataset(imgs[2:4], patch_size=16, scale=4, batch_size=3, steps_per_epoch=3, seed=3)
    for x, y, z in zip(ds.batch(1, 0), again.batch(1, 0), ref.batch(1, 0)):
        assert np.array_equal(x, y) and np.array_equal(x, z)
    # step 2 * 4 + 2 = 10 is batch 1 of pool 3: stream items 6 and 7, which wrap round to the 2nd and 3rd
    ref2 = PatchDataset([imgs[3], imgs[4]], patch_size=16, scale=4, batch_size=3, steps_per_epoch=3, seed=3)
    assert np.array_equal(ds.batch(2, 2)[1], ref2.batch(1, 3)[1])
    shuffled = open_hf_stream("user/msrgan-test-stream", shuffle_buffer=8, seed=1)
    rest, held = shuffled.split_first(2)
    first_pixels = [sorted(int(im[0, 0, 0]) for im in rest.iter_pass(p)) for p in (0, 1)]
    assert first_pixels[0] == first_pixels[1] == sorted(int(im[0, 0, 0]) for im in imgs[2:])  # never the held out
    assert [int(im[0, 0, 0]) for im in rest.iter_pass(0)] != [int(im[0, 0, 0]) for im in rest.iter_pass(1)]
    shards = [open_training_source("user/msrgan-test-stream", max_memory=1000, process_id=i, num_processes=2)
              for i in range(2)]
    seen = [[int(im[0, 0, 0]) for im in s] for s in shards]
    assert sorted(seen[0] + seen[1]) == sorted(int(im[0, 0, 0]) for im in imgs) and not set(seen[0]) & set(seen[1])
    assert [s.num_examples for s in shards] == [4, 3]


def test_msrgan_train_streams_a_folder_over_max_memory_with_the_same_result(tmp_path, capsys):
    """``msrgan train --max-memory``: a folder over the budget is streamed (and says so), and the run
    trains on the same batches as the in-memory one: the saved generators are identical."""
    import json

    from msrgan.cli import main
    from zoo.weights import read_weights as read_tensors

    data = tmp_path / "data"
    data.mkdir()
    for i in range(4):
        write_image(data / f"0{i}_field.tif", _field(10 + i, (64, 64, 1)))
    args = ["train", "--data", str(data), "--channels", "1", "--generator", "msrgan-x4-small",
            "--generator-option", "num_blocks=1", "--generator-option", "filters=4", "--scale", "2",
            "--patch-size", "16", "--batch-size", "2", "--val-size", "16", "--val-fraction", "0.25",
            "--pretrain-steps", "2", "--gan-steps", "0", "--steps-per-epoch", "2", "--checkpoint-every", "0",
            "--no-tensorboard", "--jit-compile", "off", "--verbose", "1"]
    assert main(args + ["--out", str(tmp_path / "streamed"), "--max-memory", "20k"]) == 0
    assert "streaming from the files" in capsys.readouterr().out
    assert main(args + ["--out", str(tmp_path / "loaded"), "--max-memory", "1G"]) == 0
    assert "loading into memory" in capsys.readouterr().out
    summaries = [json.loads((tmp_path / run / "training.json").read_text())["data"] for run in ("streamed", "loaded")]
    assert [s["streaming"] for s in summaries] == [True, False]
    assert summaries[0]["train_images"] == summaries[1]["train_images"] == 3
    streamed, loaded = (read_tensors(tmp_path / run / "model.safetensors") for run in ("streamed", "loaded"))
    assert streamed.keys() == loaded.keys()
    assert all(np.array_equal(streamed[k], loaded[k]) for k in streamed)
    # a budget that is no byte count is a usage error naming the flag
    assert main(args + ["--out", str(tmp_path / "bad"), "--max-memory", "lots"]) == 2
    assert "max_memory" in capsys.readouterr().err


def test_mapped_pages_are_dropped_in_batches(tmp_path, monkeypatch):
    """Reads from memory-mapped files drop their pages once a worker has touched RELEASE_EVERY bytes:
    every mapping touched since the last drop is released then, and no file is mapped twice."""
    import threading

    from msrgan.data import file_regions

    fields = [_field(i, (256, 256, 4)) for i in range(3)]
    for i, f in enumerate(fields):
        write_image(tmp_path / f"f{i}.tif", f)  # ImageJ CYX: 4 planes per region read
    src = open_lazy_folder(tmp_path)
    store = src.info["store"]
    plane = 31 * 256 * 2 + 32 * 2  # the span one 32x32 read touches in one plane of a 256-wide uint16 field
    monkeypatch.setattr(file_regions, "RELEASE_EVERY", 10 * plane)
    monkeypatch.setattr(file_regions, "_pending", threading.local())  # this test's worker state only
    released, opened, reads = [], [], [0]
    real_release, real_init = file_regions._Mapped.release, file_regions._Mapped.__init__

    def counting_release(self):
        assert self.span is not None
        released.append(reads[0])  # how many region reads had been made when this mapping was dropped
        real_release(self)

    def counting_init(self, path):
        opened.append(path)
        real_init(self, path)

    monkeypatch.setattr(file_regions._Mapped, "release", counting_release)
    monkeypatch.setattr(file_regions._Mapped, "__init__", counting_init)
    for k in range(12):
        reads[0] = k + 1
        y = 7 * k
        np.testing.assert_array_equal(src.images[k % 3][y:y + 32, 10:42], fields[k % 3][y:y + 32, 10:42])
    # 12 region reads of 4 planes each: the touched bytes reach 10 planes' worth at reads 3, 6, 9 and 12,
    # and each drop releases the 3 files touched since the last one
    assert released == [3] * 3 + [6] * 3 + [9] * 3 + [12] * 3
    assert sorted(opened) == sorted(str(tmp_path / f"f{i}.tif") for i in range(3))  # each mapped once
    assert store.bytes_mapped == 48 * plane


# ------------------------------------------------------------------------------- msrgan data convert


def test_convert_folder_reads_back_exactly_and_streams_by_region(tmp_path):
    """Every image becomes an uncompressed TIFF of the same name that read_image reads as the original and
    the streamed source maps (no whole-file decodes): the batches equal those of the original in memory."""
    from msrgan.data.convert import convert_folder

    src = tmp_path / "src"
    src.mkdir()
    imgs = _mixed_folder(src)
    (src / "metadata.csv").write_text("file_name,label\n")
    (src / ".manifest.json").write_text("{}")
    (src / "nucleoli").mkdir()
    write_image(src / "nucleoli" / "g.png", _field(7, (40, 40), np.uint8))  # class subfolder, one channel
    extra = {"int16_2ch.tif": np.arange(2 * 24 * 20, dtype=np.int16).reshape(24, 20, 2) - 300,
             "float64_3ch.tif": np.random.default_rng(3).normal(size=(20, 24, 3)),
             "uint16_5ch.tif": _field(8, (16, 16, 5))}
    for name, im in extra.items():  # dtypes and channel counts ImageJ has no hyperstack for
        tifffile.imwrite(src / "more" / name if (src / "more").is_dir() else _mkdir(src / "more") / name,
                         np.moveaxis(im, -1, 0), photometric="minisblack", metadata={"axes": "CYX"})
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in src.rglob("*") if p.is_file()}
    report = convert_folder(src, tmp_path / "out", progress=False)
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in src.rglob("*") if p.is_file()} == before  # untouched
    out = tmp_path / "out"
    assert sorted(p.relative_to(out).as_posix() for p in report.written) == sorted(
        [n.rsplit(".", 1)[0] + ".tif" for n in imgs] + ["nucleoli/g.tif"] + [f"more/{n}" for n in extra])
    for name, im in extra.items():
        back = read_image(out / "more" / name)
        assert back.dtype == im.dtype and np.array_equal(back, im), name
        assert probe_file(out / "more" / name).kind == "contiguous", name
    assert [p.name for p in report.copied] == ["metadata.csv"] and not (out / ".manifest.json").exists()
    assert report.skipped == [] and report.bytes_written == sum(p.stat().st_size for p in report.written)
    for folder in (src, out):
        shutil.rmtree(folder / "more")
    for name in imgs:
        back = read_image(out / (name.rsplit(".", 1)[0] + ".tif"))
        assert back.dtype == imgs[name].dtype and np.array_equal(back, imgs[name]), name
        assert probe_file(out / (name.rsplit(".", 1)[0] + ".tif")).kind == "contiguous", name
    for folder in (out, src):  # the rest is the original flat folder
        (folder / "nucleoli" / (("g.tif") if folder is out else "g.png")).unlink()
        (folder / "nucleoli").rmdir()
    mem, lazy = load_folder(src), open_lazy_folder(out)
    assert {im.kind for im in lazy.images} == {"contiguous"}
    assert [n.rsplit(".", 1)[0] for n in lazy.names] == [n.rsplit(".", 1)[0] for n in mem.names]
    for x, y in zip(PatchDataset(mem.images, **PATCH)[2], PatchDataset(lazy.images, **PATCH)[2]):
        assert np.array_equal(x, y)


def test_convert_folder_refuses_before_writing_and_never_leaves_a_partial_folder(tmp_path):
    from msrgan.data.convert import convert_folder

    src = tmp_path / "src"
    write_image(src / "a.png", _field(0, (32, 32), np.uint8))
    write_image(src / "b.tif", _field(1, (32, 32, 3)))
    (src / "broken.png").write_bytes(b"not a png")
    (tmp_path / "taken").mkdir()
    with pytest.raises(FileExistsError, match="taken exists"):
        convert_folder(src, tmp_path / "taken", progress=False)
    with pytest.raises(ValueError, match="inside the folder it converts"):
        convert_folder(src, src / "out", progress=False)
    with pytest.raises(ValueError, match="broken.png"):
        convert_folder(src, tmp_path / "strict", strict=True, progress=False)
    with pytest.warns(UserWarning, match="skipping unreadable image .*broken.png"):
        report = convert_folder(src, tmp_path / "out", progress=False)
    assert [p.name for p in report.written] == ["a.tif", "b.tif"] and report.skipped == [src / "broken.png"]
    write_image(src / "a.jpg", _field(2, (32, 32, 3), np.uint8))
    with pytest.raises(ValueError, match="would both be written as .*a.tif"):
        convert_folder(src, tmp_path / "clash", progress=False)
    with pytest.raises(ValueError, match="tile must be a positive multiple of 16"):
        convert_folder(src, tmp_path / "bad_tile", compression="zlib", tile=100, progress=False)
    with pytest.raises(ValueError, match="compression must be one of"):
        convert_folder(src, tmp_path / "bad_codec", compression="lzw", progress=False)
    # nothing but the one finished folder, and no partial folder beside it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "src", "taken"]


def test_convert_folder_zlib_writes_lossless_tiles_read_tile_by_tile(tmp_path):
    from msrgan.data.convert import convert_folder

    src = tmp_path / "src"
    src.mkdir()
    imgs = _mixed_folder(src)
    convert_folder(src, tmp_path / "z", compression="zlib", tile=32, progress=False)
    for name, want in imgs.items():
        path = tmp_path / "z" / (name.rsplit(".", 1)[0] + ".tif")
        with tifffile.TiffFile(path) as tif:
            page = tif.pages[0]
            assert page.is_tiled and (page.tilelength, page.tilewidth) == (32, 32) and page.compression == 8
        assert probe_file(path).kind == "chunked" and np.array_equal(read_image(path), want), name
    mem, lazy = load_folder(src), open_lazy_folder(tmp_path / "z")
    for x, y in zip(PatchDataset(mem.images, **PATCH)[1], PatchDataset(lazy.images, **PATCH)[1]):
        assert np.array_equal(x, y)
    lazy.info["store"].handles.close()  # this worker's open files


def test_streaming_whole_file_formats_warns_and_names_the_conversion(tmp_path, capsys):
    from msrgan.cli import main

    for i in range(3):
        write_image(tmp_path / "src" / f"0{i}_f{i}.png", _field(i, (48, 48, 3), np.uint8))
    with pytest.warns(UserWarning, match="3 of 3 streamed images .*msrgan data convert"):
        open_training_source(tmp_path / "src", max_memory=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # streamed, but every decoded image fits the cache: decoded once each
        open_training_source(tmp_path / "src", max_memory=1, cache_bytes=3 * 48 * 48 * 3)
    assert main(["data", "convert", str(tmp_path / "src"), str(tmp_path / "tif")]) == 0
    assert "wrote 3 image(s) as TIFF" in capsys.readouterr().out
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the converted folder streams without the warning
        assert len(open_training_source(tmp_path / "tif", max_memory=1).images) == 3
    assert main(["data", "convert", str(tmp_path / "src"), str(tmp_path / "tif")]) == 3  # exists: input error
    assert "tif exists" in capsys.readouterr().err
    assert main(["data", "convert", str(tmp_path / "src"), str(tmp_path / "z"), "--compression", "zlib",
                 "--tile", "40"]) == 2  # usage error, before anything is read
    assert "--tile must be a positive multiple of 16 (TIFF tiles are), got 40" in capsys.readouterr().err
    assert main(["data", "convert", str(tmp_path / "src"), str(tmp_path / "z"), "--compression", "zlib"]) == 0
    assert {probe_file(p).kind for p in (tmp_path / "z").glob("*.tif")} == {"chunked"}


def test_an_interrupted_conversion_resumes_and_keeps_what_it_wrote(tmp_path, monkeypatch, capsys):
    from msrgan.cli import main
    from msrgan.data import convert

    src = tmp_path / "src"
    imgs = {f"0{i}_f{i}.png": _field(i, (32, 40, 3), np.uint8) for i in range(4)}
    for name, im in imgs.items():
        write_image(src / name, im)
    real_write, calls = convert._write_tiff, []

    def failing_write(path, image, *args):
        calls.append(path)
        if len(calls) == 3:
            raise KeyboardInterrupt  # Ctrl-C while the third image is written
        return real_write(path, image, *args)

    monkeypatch.setattr(convert, "_write_tiff", failing_write)
    with pytest.raises(KeyboardInterrupt):
        convert.convert_folder(src, tmp_path / "out", progress=False)
    stage = convert.staging_folder(tmp_path / "out")
    assert not (tmp_path / "out").exists()  # no partial folder passes for the whole one
    assert sorted(p.name for p in stage.glob("*.tif")) == ["00_f0.tif", "01_f1.tif"]
    monkeypatch.setattr(convert, "_write_tiff", real_write)
    with pytest.raises(FileExistsError, match="interrupted conversion .*--resume"):
        convert.convert_folder(src, tmp_path / "out", progress=False)
    with pytest.raises(ValueError, match="compression None.*with 'zlib'"):
        convert.convert_folder(src, tmp_path / "out", compression="zlib", resume=True, progress=False)
    # what a power loss or an edit can leave: a stage file cut short, one of a source removed since
    first = stage / "00_f0.tif"
    first.write_bytes(first.read_bytes()[:200])
    (stage / "09_gone.tif").write_bytes(b"a conversion of a file deleted since")
    assert main(["data", "convert", str(src), str(tmp_path / "out"), "--resume"]) == 0
    said = capsys.readouterr().out
    assert "wrote 4 image(s)" in said and "1 already written by the interrupted run" in said
    assert not (tmp_path / "out" / "09_gone.tif").exists()
    assert not stage.exists() and json.loads((tmp_path / "out" / convert.RECORD).read_text())["compression"] is None
    for name, im in imgs.items():
        assert np.array_equal(read_image(tmp_path / "out" / name.replace(".png", ".tif")), im)


def test_bench_formats_script_runs_small(capsys):
    """scripts/bench_formats.py (docs/benchmarks.md), made small: one row per format, read as it should be."""
    import importlib.util

    from tests.helpers import ROOT

    spec = importlib.util.spec_from_file_location("bench_formats", ROOT / "scripts" / "bench_formats.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.main(["--fields", "3", "--size", "128", "--batches", "1", "--cache-fields", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    rows = [line.split(" | ") for line in lines if line.startswith("| ") and "---" not in line]
    assert [r[1] for r in rows[1:]] == ["decoded", "contiguous", "chunked"]
    assert all(float(r[2].replace(",", "")) > 0 for r in rows[1:])


def test_convert_folder_follows_linked_folders_and_checks_the_disk(tmp_path, monkeypatch):
    import collections

    from msrgan.data import convert

    src, elsewhere = tmp_path / "src", tmp_path / "elsewhere"
    write_image(src / "a.png", _field(0, (16, 16), np.uint8))
    write_image(elsewhere / "b.png", _field(1, (16, 16), np.uint8))
    (src / "linked").symlink_to(elsewhere, target_is_directory=True)  # a class folder kept elsewhere
    (elsewhere / "loop").symlink_to(src, target_is_directory=True)   # and a link back: walked once
    usage = collections.namedtuple("usage", "total used free")
    monkeypatch.setattr(convert.shutil, "disk_usage", lambda path: usage(10**6, 10**6 - 300, 300))
    with pytest.raises(ValueError, match=r"need about .* GB, the disk has"):
        convert.convert_folder(src, tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists() and not convert.staging_folder(tmp_path / "out").exists()
    monkeypatch.undo()
    report = convert.convert_folder(src, tmp_path / "out", progress=False)
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in report.written) == [
        "a.tif", "linked/b.tif"]  # the link back into src is not walked again
