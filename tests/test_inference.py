"""Tiled upscaling: exactness, blending, dtypes, shapes, streaming TIFF, bad input, and the CLI."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

import msrgan.inference as inference
import msrgan.tile_codec as tile_codec
import msrgan.tiling as tiling
from msrgan.cli import main
from msrgan.data.io import read_image, write_image
from msrgan.data.normalize import fit_normalization
from msrgan.errors import EXIT_INPUT, EXIT_RUNTIME
from msrgan.inference import (
    default_overlap,
    plan_tiles,
    predict_batch,
    upscale,
    upscale_to_tiff,
)
from msrgan.models import Generator


class Nearest:
    """A model stand-in: pixel replication, so every correct tiling reproduces np.repeat exactly."""

    receptive_margin = 0

    def __init__(self, scale: int, channels: int):
        self.scale, self.channels = scale, channels

    def predict_on_batch(self, x):
        return np.repeat(np.repeat(np.asarray(x), self.scale, axis=1), self.scale, axis=2)


class TileMean(Nearest):
    """Each tile's output is the constant mean of its input: neighbouring tiles disagree."""

    def predict_on_batch(self, x):
        x = np.asarray(x)
        means = x.mean(axis=(1, 2, 3), keepdims=True)
        return np.broadcast_to(means, (x.shape[0], x.shape[1] * self.scale, x.shape[2] * self.scale,
                                       self.channels)).copy()


def _repeat(x, s):
    return np.repeat(np.repeat(x, s, axis=0), s, axis=1)


@pytest.fixture(scope="module")
def gens():
    """Tiny generators (built once per module), keyed by (channels, scale)."""
    cache = {}

    def get(channels=3, scale=4, blocks=1):
        key = (channels, scale, blocks)
        if key not in cache:
            g = Generator(num_blocks=blocks, filters=8, channels=channels, scale=scale)
            g(np.zeros((1, 16, 16, channels), np.float32))
            cache[key] = g
        return cache[key]

    return get


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory, gens):
    path = tmp_path_factory.mktemp("model") / "g"
    gens(3, 4).save_pretrained(path)
    return path


# ------------------------------------------------------------------------------------------
# Receptive margin and exactness
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("scale", [2, 4, 8])
def test_receptive_margin_bounds_what_an_output_pixel_depends_on(gens, scale):
    g = gens(1, scale, blocks=2)
    m = default_overlap(g)
    assert m == g.receptive_margin == 4 + 2 * 2 + 1 + int(np.log2(scale)) + int(np.ceil(4 / scale))
    x = np.random.default_rng(scale).random((1, 48, 48, 1), dtype=np.float32)
    y = predict_batch(g, x)
    x2 = x.copy()
    x2[0, 24, 24, 0] += 1.0
    changed = np.abs(predict_batch(g, x2) - y)[0, ..., 0] > 0
    ys, xs = np.nonzero(changed)
    assert ys.size > 0
    # Every changed output pixel lies within m LR pixels of the perturbed one.
    assert ys.min() >= (24 - m) * scale and ys.max() < (25 + m) * scale
    assert xs.min() >= (24 - m) * scale and xs.max() < (25 + m) * scale


@pytest.mark.parametrize("scale,channels,blocks,size", [(2, 4, 2, (40, 44)), (4, 3, 1, (36, 44)), (8, 1, 1, (36, 40))])
def test_tiled_equals_whole_image(gens, scale, channels, blocks, size):
    g = gens(channels, scale, blocks=blocks)
    img = np.random.default_rng(0).random(size + (channels,)).astype(np.float32)
    whole = upscale(img, g, tile=64, normalization="none")
    tile = 2 * g.receptive_margin + 4 + 8  # blend 4, blocks of 8 LR pixels
    plan = plan_tiles(img.shape[:2], scale, tile=tile, overlap=g.receptive_margin, blend=4, margin=g.receptive_margin)
    assert plan.grid[0] > 1 and plan.grid[1] > 1 and plan.exact
    tiled = upscale(img, g, tile=tile, blend=4, normalization="none", batch_size=8)
    assert tiled.shape == whole.shape == (size[0] * scale, size[1] * scale, channels)
    assert np.max(np.abs(tiled - whole)) <= 1e-4
    # And the whole-image pass is the plain model call.
    direct = predict_batch(g, img[None])[0]
    assert np.max(np.abs(whole - direct)) <= 1e-5


def test_blending_is_a_partition_of_unity_for_many_layouts():
    rng = np.random.default_rng(7)
    checked = 0
    while checked < 60:
        scale = int(rng.choice([2, 4, 8]))
        h, w = (int(v) for v in rng.integers(8, 80, 2))
        channels = int(rng.choice([1, 3, 4]))
        tile, overlap, blend = int(rng.integers(8, 48)), int(rng.integers(0, 6)), int(rng.integers(0, 6))
        align = 16 // min(scale, 16)
        step = tile - 2 * overlap - blend
        if max(h, w) > tile and step - step % align < max(blend, align):
            with pytest.raises(ValueError, match=f"tile={tile} is too small"):
                plan_tiles((h, w), scale, tile=tile, overlap=overlap, blend=blend)
            continue
        x = rng.random((h, w, channels)).astype(np.float32)
        y = upscale(x, Nearest(scale, channels), tile=tile, overlap=overlap, blend=blend, normalization="none",
                    batch_size=int(rng.integers(1, 5)))
        np.testing.assert_allclose(y, _repeat(x, scale), rtol=0, atol=2e-7)
        checked += 1


def test_disagreeing_tiles_are_blended_without_a_seam():
    # Two tiles along x whose outputs are different constants: a hard cut would jump by the
    # full difference between two adjacent pixels; the raised-cosine ramp spreads it out.
    x = np.tile(np.linspace(0, 1, 80, dtype=np.float32), (16, 1))[..., None]
    y = upscale(x, TileMean(2, 1), tile=48, overlap=4, blend=8, normalization="none")[..., 0]
    row = y[0]
    jump = row.max() - row.min()
    assert jump > 0.2
    assert np.max(np.abs(np.diff(row))) < 0.12 * jump
    assert np.all(np.diff(row) >= -1e-7)  # monotone between the two constants


# ------------------------------------------------------------------------------------------
# dtype, range, normalization, shapes
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_dtype_and_range_are_preserved(dtype, gens):
    rng = np.random.default_rng(1)
    if dtype == np.float32:
        img = (rng.random((30, 34, 3)) * 900.0 + 100.0).astype(dtype)
    else:
        top = np.iinfo(dtype).max
        img = rng.integers(top // 10, top // 2, (30, 34, 3)).astype(dtype)
    # With pixel replication the percentile normalization and its inverse must give the input back.
    out = upscale(img, Nearest(2, 3), tile=24, overlap=2, blend=4)
    assert out.dtype == img.dtype
    if dtype == np.float32:
        np.testing.assert_allclose(out, _repeat(img, 2), rtol=1e-5)
    else:
        np.testing.assert_array_equal(out, _repeat(img, 2))
    for c in range(3):
        lo, hi = out[..., c].min(), out[..., c].max()
        np.testing.assert_allclose([lo, hi], [img[..., c].min(), img[..., c].max()], rtol=1e-6)
    # A real generator keeps the dtype too; integer outputs saturate inside the dtype's range.
    real = upscale(img, gens(3, 2))
    assert real.dtype == img.dtype and real.shape == (60, 68, 3)


def test_range_normalization_and_explicit_percentiles():
    img = np.random.default_rng(2).integers(0, 65535, (20, 20, 1)).astype(np.uint16)
    out = upscale(img, Nearest(2, 1), normalization="range")
    np.testing.assert_array_equal(out, _repeat(img, 2))
    out = upscale(img, Nearest(2, 1), normalization=(1.0, 99.0))
    np.testing.assert_array_equal(out, _repeat(img, 2))
    with pytest.raises(ValueError, match="normalization='none'.*uint16"):
        upscale(img, Nearest(2, 1), normalization="none")


def test_histogram_percentiles_match_fit_normalization():
    rng = np.random.default_rng(3)
    for dtype in (np.uint8, np.uint16):
        for _ in range(10):
            shape = (int(rng.integers(1, 40)), int(rng.integers(1, 40)), 3)
            a = rng.integers(0, int(rng.integers(2, np.iinfo(dtype).max)), shape).astype(dtype)
            a[..., 1] = 7  # a flat channel gets the unit span
            ref = fit_normalization(a)
            got = tile_codec._fit_percentiles(a, 2.0, 99.8, "a")
            np.testing.assert_allclose(got.low, ref.low, rtol=1e-12, atol=1e-9)
            np.testing.assert_allclose(got.high, ref.high, rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("scale", [2, 4, 8])
def test_output_shape_for_each_scale_and_2d_input(gens, scale):
    gray = np.random.default_rng(scale).integers(0, 255, (19, 23)).astype(np.uint8)
    out = upscale(gray, gens(1, scale))
    assert out.shape == (19 * scale, 23 * scale) and out.dtype == np.uint8
    out3 = upscale(gray[..., None], gens(1, scale))
    assert out3.shape == (19 * scale, 23 * scale, 1)
    np.testing.assert_array_equal(out3[..., 0], out)


def test_model_from_a_pretrained_folder_equals_the_instance(gens, saved_model):
    img = np.random.default_rng(4).integers(0, 255, (20, 24, 3)).astype(np.uint8)
    np.testing.assert_array_equal(upscale(img, str(saved_model)), upscale(img, gens(3, 4)))


# ------------------------------------------------------------------------------------------
# Streaming TIFF
# ------------------------------------------------------------------------------------------

def test_streamed_tiff_equals_in_memory_result(tmp_path, gens):
    g = gens(1, 2)
    img = np.random.default_rng(5).integers(0, 65535, (256, 256)).astype(np.uint16)
    in_memory = upscale(img, g, tile=64, batch_size=16)
    path = upscale_to_tiff(img, g, tmp_path / "big.tif", tile=64, batch_size=16)
    with tifffile.TiffFile(path) as tf:
        page = tf.pages[0]
        assert page.is_tiled and page.tilelength % 16 == 0 and page.tilewidth % 16 == 0
        assert page.tilelength < 512  # really tiled, not one block
        streamed = page.asarray()
    assert streamed.dtype == np.uint16
    np.testing.assert_array_equal(streamed, in_memory)
    assert [p.name for p in tmp_path.iterdir()] == ["big.tif"]


def test_streamed_tiff_multichannel_reads_back_channels_last(tmp_path, gens):
    g = gens(3, 4)
    img = np.random.default_rng(6).random((40, 52, 3)).astype(np.float32)
    path = upscale_to_tiff(img, g, tmp_path / "rgb.tiff", tile=32, overlap=4, blend=4)
    back = read_image(path)
    assert back.shape == (160, 208, 3) and back.dtype == np.float32
    np.testing.assert_array_equal(back, upscale(img, g, tile=32, overlap=4, blend=4))


def test_streamed_tiff_refuses_to_overwrite_and_leaves_nothing_on_failure(tmp_path, gens, monkeypatch):
    g = gens(1, 2)
    img = np.random.default_rng(8).random((64, 64)).astype(np.float32)
    target = tmp_path / "out.tif"
    target.write_bytes(b"keep me")
    with pytest.raises(FileExistsError, match="out.tif"):
        upscale_to_tiff(img, g, target, tile=32, overlap=2, blend=2)
    assert target.read_bytes() == b"keep me"

    calls = {"n": 0}
    real = inference.predict_batch

    def failing(model, batch):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("simulated failure mid-write")
        return real(model, batch)

    monkeypatch.setattr(tiling, "predict_batch", failing)
    fresh = tmp_path / "fresh.tif"
    with pytest.raises(RuntimeError, match="mid-write"):
        upscale_to_tiff(img, g, fresh, tile=32, overlap=2, blend=2, batch_size=1)
    assert calls["n"] == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.tif"]  # no partial or temporary file
    with pytest.raises(RuntimeError, match="mid-write"):
        calls["n"] = 0
        upscale_to_tiff(img, g, target, tile=32, overlap=2, blend=2, batch_size=1, overwrite=True)
    assert target.read_bytes() == b"keep me"


# ------------------------------------------------------------------------------------------
# Bad input
# ------------------------------------------------------------------------------------------

def test_nan_input_is_refused():
    img = np.zeros((20, 20, 1), np.float32)
    img[3, 4] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        upscale(img, Nearest(2, 1))


def test_image_smaller_than_the_model_minimum_is_refused():
    with pytest.raises(ValueError, match=r"\(5, 30, 1\).*minimum"):
        upscale(np.zeros((5, 30, 1), np.uint8), Nearest(2, 1))


def test_channel_mismatch_is_named_and_the_channel_map_fixes_it():
    img = np.random.default_rng(9).integers(0, 255, (16, 16, 4)).astype(np.uint8)
    with pytest.raises(ValueError, match=r"4 channel\(s\).*expects 3.*channels_map.*1,3,0"):
        upscale(img, Nearest(2, 3))
    out = upscale(img, Nearest(2, 3), channels_map=(1, 3, 0))
    np.testing.assert_array_equal(out, _repeat(img[..., [1, 3, 0]], 2))
    np.testing.assert_array_equal(upscale(img, Nearest(2, 3), channels_map="1,3,0"), out)
    gray = img[..., 0]
    np.testing.assert_array_equal(upscale(gray, Nearest(2, 3), channels_map=(0, 0, 0)),
                                  _repeat(np.stack([gray] * 3, -1), 2))
    with pytest.raises(ValueError, match=r"refers to channel\(s\) \[5\]"):
        upscale(img, Nearest(2, 3), channels_map=(5, 1, 0))
    with pytest.raises(ValueError, match=r"picks 2 channel\(s\)"):
        upscale(img, Nearest(2, 3), channels_map=(0, 1))
    with pytest.raises(ValueError, match="expects 3"):
        upscale(gray, Nearest(2, 3))


@pytest.mark.parametrize("dtype", [np.int32, np.bool_, np.complex64])
def test_unsupported_dtypes_are_refused(dtype):
    with pytest.raises(ValueError, match="dtype"):
        upscale(np.zeros((16, 16, 1), dtype), Nearest(2, 1))


def test_bad_tile_arguments_are_named():
    with pytest.raises(ValueError, match="tile=20 is too small for overlap=8 and blend=8 along the height"):
        upscale(np.zeros((64, 64, 1), np.float32), Nearest(2, 1), tile=20, overlap=8)
    with pytest.raises(ValueError, match="batch_size"):
        upscale(np.zeros((16, 16, 1), np.float32), Nearest(2, 1), batch_size=0)
    with pytest.raises(ValueError, match="not a super-resolution generator"):
        upscale(np.zeros((16, 16, 1), np.float32), object())


# ------------------------------------------------------------------------------------------
# msrgan upscale (CLI)
# ------------------------------------------------------------------------------------------

def _inputs(folder, n=2, channels=3, dtype=np.uint8, size=(24, 28)):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(10)
    paths = []
    for i in range(n):
        top = 255 if dtype == np.uint8 else 65535
        img = rng.integers(0, top, size + (channels,)).astype(dtype)
        paths.append(write_image(folder / f"field{i}.png", img))
    return paths


def test_cli_folder_input_creates_output_and_keeps_inputs(tmp_path, saved_model, gens, capsys):
    src = _inputs(tmp_path / "in")
    before = {p: p.read_bytes() for p in src}
    out = tmp_path / "new" / "out"
    assert main(["upscale", str(tmp_path / "in"), "-o", str(out), "--model", str(saved_model)]) == 0
    written = sorted(p.name for p in out.iterdir())
    assert written == ["field0_x4.png", "field1_x4.png"]
    for p in src:
        assert p.read_bytes() == before[p]
        np.testing.assert_array_equal(read_image(out / f"{p.stem}_x4.png"), upscale(read_image(p), gens(3, 4)))


def test_cli_glob_and_tiff_output(tmp_path, saved_model):
    _inputs(tmp_path / "in")
    out = tmp_path / "out"
    rc = main(["upscale", str(tmp_path / "in" / "field1*"), "-o", str(out), "--model", str(saved_model),
               "--suffix", ".tif", "--tile", "64"])
    assert rc == 0
    assert [p.name for p in out.iterdir()] == ["field1_x4.tif"]
    assert read_image(out / "field1_x4.tif").shape == (96, 112, 3)


def test_cli_bad_inputs_give_clear_errors(tmp_path, saved_model, capsys):
    (tmp_path / "notes.txt").write_text("hello")
    assert main(["upscale", str(tmp_path / "notes.txt"), "-o", str(tmp_path / "o"),
                 "--model", str(saved_model)]) == EXIT_INPUT
    assert "notes.txt: unsupported image type '.txt'" in capsys.readouterr().err
    assert main(["upscale", str(tmp_path / "missing.png"), "-o", str(tmp_path / "o"),
                 "--model", str(saved_model)]) == EXIT_INPUT
    assert "missing.png" in capsys.readouterr().err
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["upscale", str(empty), "-o", str(tmp_path / "o"), "--model", str(saved_model)]) == EXIT_INPUT
    assert "no images" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_cli_never_overwrites_an_input_and_respects_existing_outputs(tmp_path, saved_model, capsys):
    (src,) = _inputs(tmp_path / "in", n=1)
    original = src.read_bytes()
    rc = main(["upscale", str(src), "-o", str(src), "--model", str(saved_model), "--overwrite"])
    assert rc == EXIT_INPUT and "inputs are never overwritten" in capsys.readouterr().err
    assert src.read_bytes() == original
    out = tmp_path / "in" / "field0_x4.png"
    out.write_bytes(b"earlier result")
    assert main(["upscale", str(src), "-o", str(tmp_path / "in"), "--model", str(saved_model)]) == EXIT_INPUT
    assert "--overwrite" in capsys.readouterr().err and out.read_bytes() == b"earlier result"
    assert main(["upscale", str(src), "-o", str(tmp_path / "in"), "--model", str(saved_model), "--overwrite"]) == 0
    assert read_image(out).shape == (96, 112, 3) and src.read_bytes() == original


def test_cli_channel_mismatch_and_channel_map(tmp_path, saved_model, capsys):
    (src,) = _inputs(tmp_path / "in", n=1, channels=1, dtype=np.uint16)
    out = tmp_path / "out"
    assert main(["upscale", str(src), "-o", str(out), "--model", str(saved_model)]) == EXIT_INPUT
    err = capsys.readouterr().err
    assert "1 channel(s)" in err and "expects 3" in err and "--channels" in err
    assert not out.exists() or not any(out.iterdir())
    assert main(["upscale", str(src), "-o", str(out), "--model", str(saved_model), "--channels", "0,0,0"]) == 0
    result = read_image(out / "field0_x4.png")
    assert result.shape == (96, 112, 1) and result.dtype == np.uint16  # gray in, gray out
    # the gray channel fed to every model channel; the output is their mean, in the input's range
    norm = tile_codec._fit_percentiles(read_image(src), 2.0, 99.8, "src")
    from msrgan.data.normalize import denormalize

    lr = (read_image(src).astype(np.float64) - norm.low) / (norm.high - norm.low)
    rgb = inference.predict_batch(inference.load_generator(str(saved_model)), np.repeat(lr, 3, -1)[None].astype(np.float32))[0]
    np.testing.assert_array_equal(result, denormalize(rgb.mean(-1, keepdims=True), norm))


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_cli_failure_mid_write_leaves_no_partial_output(tmp_path, saved_model, monkeypatch, capsys, suffix):
    _inputs(tmp_path / "in", n=2, size=(80, 80))
    out = tmp_path / "out"
    calls = {"n": 0}
    real = inference.predict_batch

    def failing(model, batch):
        calls["n"] += 1
        if calls["n"] == 4:  # 16 tiles, 2 batches per image: while writing the second one
            raise RuntimeError("simulated failure")
        return real(model, batch)

    monkeypatch.setattr(tiling, "predict_batch", failing)
    assert main(["upscale", str(tmp_path / "in"), "-o", str(out), "--model", str(saved_model), "--tile", "40",
                 "--overlap", "4", "--batch-size", "8", "--suffix", suffix]) == EXIT_RUNTIME
    assert "msrgan upscale: error: simulated failure" in capsys.readouterr().err
    # The first image is complete; the second left nothing, not even a temporary file.
    assert sorted(p.name for p in out.iterdir()) == [f"field0_x4{suffix}"]
    assert read_image(out / f"field0_x4{suffix}").shape == (320, 320, 3)
