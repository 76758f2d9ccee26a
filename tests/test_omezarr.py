"""OME-Zarr output of ``msrgan upscale --suffix .ome.zarr`` (issue 13, part 3).

The written folders are read back with ``ome_zarr``'s own reader (``parse_url`` + ``Reader``), as a
viewer would, and compared with independent expectations: the TIFF output of the same input (level
0), the 2-D upscale of each plane, 2x2 means of the level above (the pyramid), the input's pixel
size divided by the scale (the coordinate transformations), the axes and channel names that went in.
"""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from msrgan.cli import main
from msrgan.data.stack import PhysicalMetadata, Stack, read_stack
from msrgan.inference import upscale
from msrgan.models.channels import PerChannel
from msrgan.omezarr import coordinate_transformations, pyramid_shapes, upscale_stack_to_omezarr
from tests.test_axes import NAMES, SCALE, _data, _imagej, gray, gray_folder  # noqa: F401  (fixtures shared)


def _read(path):
    """The image node of an OME-Zarr as ome_zarr reads it: (levels as NumPy arrays, metadata)."""
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Reader

    location = parse_url(str(path), mode="r")
    assert location is not None, f"ome_zarr does not recognise {path}"
    node = list(Reader(location)())[0]
    return [np.asarray(level) for level in node.data], node.metadata


def _upscale_cli(src, out, model_folder, *extra) -> int:
    return main(["upscale", str(src), "-o", str(out), "--model", str(model_folder), "--tile", "44", *extra])


# ------------------------------------------------------------------------------------------------
# Values, axes and metadata through `msrgan upscale`
# ------------------------------------------------------------------------------------------------

def test_level_0_equals_the_tiff_output_and_carries_the_pixel_size(gray_folder, tmp_path):
    src = _imagej(tmp_path / "x.tif", _data((48, 60)), "YX")
    assert _upscale_cli(src, tmp_path / "out", gray_folder, "--suffix", ".tif") == 0
    assert _upscale_cli(src, tmp_path / "out", gray_folder, "--suffix", ".ome.zarr") == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["x_x2.ome.zarr", "x_x2.tif"]
    levels, meta = _read(tmp_path / "out" / "x_x2.ome.zarr")
    tiff = tifffile.imread(tmp_path / "out" / "x_x2.tif")
    assert levels[0].dtype == np.uint16 and levels[0].shape == (96, 120)  # tiled: --tile 44 makes 3x4 tiles
    np.testing.assert_array_equal(levels[0], tiff)
    assert [a["name"] for a in meta["axes"]] == ["y", "x"]
    assert all(a.get("unit") == "micrometer" for a in meta["axes"])
    scale = meta["coordinateTransformations"][0][0]
    assert scale["type"] == "scale" and scale["scale"] == pytest.approx([0.65 / SCALE] * 2)


@pytest.mark.parametrize("axes, shape, extra, ngff", [
    ("ZYX", (3, 16, 20), {"spacing": 2.5}, "zyx"),
    ("TCYX", (2, 3, 16, 20), {"finterval": 30.0, "Labels": NAMES * 2}, "tcyx"),
])
def test_stacks_keep_their_axes_and_each_plane_is_its_2d_upscale(axes, shape, extra, ngff, gray, gray_folder,
                                                                  tmp_path):
    data = _data(shape, seed=1)
    _imagej(tmp_path / "s.tif", data, axes, **extra)
    assert _upscale_cli(tmp_path / "s.tif", tmp_path / "out", gray_folder, "--suffix", ".ome.zarr") == 0
    levels, meta = _read(tmp_path / "out" / "s_x2.ome.zarr")
    assert "".join(a["name"] for a in meta["axes"]) == ngff
    assert levels[0].shape == shape[:-2] + (shape[-2] * SCALE, shape[-1] * SCALE)
    units = {a["name"]: a.get("unit") for a in meta["axes"]}
    scale = dict(zip(ngff, meta["coordinateTransformations"][0][0]["scale"]))
    assert scale["y"] == pytest.approx(0.325) and scale["x"] == pytest.approx(0.325) and units["x"] == "micrometer"
    if "z" in ngff:
        assert scale["z"] == 2.5 and units["z"] == "micrometer"
        for z in range(shape[0]):
            np.testing.assert_array_equal(levels[0][z], upscale(data[z], gray))
    else:
        assert scale["t"] == 30.0 and units["t"] == "second" and units["c"] is None
        assert meta["channel_names"] == NAMES
        for t in range(shape[0]):
            expected = upscale(np.moveaxis(data[t], 0, -1), PerChannel(gray, 3))
            np.testing.assert_array_equal(levels[0][t], np.moveaxis(expected, -1, 0))


def test_an_ome_tiff_gives_ngff_order_channel_names_and_its_name(gray_folder, tmp_path):
    data = _data((2, 3, 16, 20), seed=2)
    tifffile.imwrite(tmp_path / "cells.ome.tif", data, ome=True, metadata={
        "axes": "ZCYX", "PhysicalSizeX": 0.65, "PhysicalSizeY": 0.65, "PhysicalSizeXUnit": "µm",
        "PhysicalSizeYUnit": "µm", "PhysicalSizeZ": 1.5, "Channel": {"Name": NAMES}, "Name": "well A1"})
    assert _upscale_cli(tmp_path / "cells.ome.tif", tmp_path / "out", gray_folder) == 0
    assert _upscale_cli(tmp_path / "cells.ome.tif", tmp_path / "out", gray_folder, "--suffix", ".ome.zarr") == 0
    levels, meta = _read(tmp_path / "out" / "cells_x2.ome.zarr")
    assert [a["name"] for a in meta["axes"]] == ["c", "z", "y", "x"]  # NGFF's order: channels before space
    assert meta["channel_names"] == NAMES and meta["name"] == "well A1"
    assert meta["coordinateTransformations"][0][0]["scale"] == pytest.approx([1.0, 1.5, 0.325, 0.325])
    ome_tiff = tifffile.imread(tmp_path / "out" / "cells_x2.ome.tif")  # ZCYX
    np.testing.assert_array_equal(levels[0], np.moveaxis(ome_tiff, 1, 0))


# ------------------------------------------------------------------------------------------------
# The pyramid
# ------------------------------------------------------------------------------------------------

def test_pyramid_levels_are_2x2_means_with_their_scale_and_translation(gray, tmp_path):
    stack = Stack(_data((2, 20, 26), seed=3), "ZYX", PhysicalMetadata(pixel_size=(0.5, 0.4), unit="µm", z_spacing=3.0))
    path = upscale_stack_to_omezarr(stack, gray, tmp_path / "p.ome.zarr", levels=4)
    levels, meta = _read(path)
    assert [lv.shape for lv in levels] == [(2, 40, 52), (2, 20, 26), (2, 10, 13), (2, 5, 7)]
    for above, level in zip(levels, levels[1:]):
        h, w = above.shape[-2:]
        padded = np.pad(above.astype(np.float64), ((0, 0), (0, h % 2), (0, w % 2)), mode="edge")
        means = padded.reshape(2, (h + 1) // 2, 2, (w + 1) // 2, 2).mean(axis=(2, 4))
        np.testing.assert_array_equal(level, np.rint(means).astype(np.uint16))
    transforms = meta["coordinateTransformations"]
    for k, level in enumerate(transforms):
        assert level[0]["scale"] == pytest.approx([3.0, 0.25 * 2 ** k, 0.2 * 2 ** k])
        if k:
            assert level[1]["translation"] == pytest.approx([0.0, 0.25 * (2 ** k - 1) / 2, 0.2 * (2 ** k - 1) / 2])


@pytest.mark.one_backend
def test_pyramid_shapes_and_transformations_without_calibration():
    assert pyramid_shapes((3, 1000, 600), side=256) == [(3, 1000, 600), (3, 500, 300), (3, 250, 150)]
    assert pyramid_shapes((32768, 32768)) == [(32768 // 2 ** k,) * 2 for k in range(8)]
    assert pyramid_shapes((5, 7), 3) == [(5, 7), (3, 4), (2, 2)]
    with pytest.raises(ValueError, match=r"levels must be an integer from 1 to 4 for a 5x7 image, got levels=9"):
        pyramid_shapes((5, 7), 9)
    plain = coordinate_transformations("CYX", PhysicalMetadata(), 2)  # no calibration: output pixels, no unit
    assert plain == [[{"type": "scale", "scale": [1.0, 1.0, 1.0]}],
                     [{"type": "scale", "scale": [1.0, 2.0, 2.0]},
                      {"type": "translation", "translation": [0.0, 0.5, 0.5]}]]


# ------------------------------------------------------------------------------------------------
# Files: no overwrite without --overwrite, no partial target, clear errors
# ------------------------------------------------------------------------------------------------

def test_an_existing_target_needs_overwrite_and_is_left_untouched(gray_folder, tmp_path, capsys):
    src = _imagej(tmp_path / "x.ome.tif", _data((24, 24), seed=4), "YX")
    target = tmp_path / "out" / "x_x2.ome.zarr"
    target.mkdir(parents=True)
    (target / "mine.txt").write_text("keep me")
    assert _upscale_cli(src, tmp_path / "out", gray_folder, "--suffix", ".ome.zarr") != 0
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    assert "x_x2.ome.zarr exists" in err and "--overwrite" in err
    assert [p.name for p in target.iterdir()] == ["mine.txt"] and (target / "mine.txt").read_text() == "keep me"
    assert _upscale_cli(src, tmp_path / "out", gray_folder, "--suffix", ".ome.zarr", "--overwrite") == 0
    assert not (target / "mine.txt").exists() and _read(target)[0][0].shape == (48, 48)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["x_x2.ome.zarr"]  # nothing else left
    # -o NAME.ome.zarr names the target itself (one input)
    assert _upscale_cli(src, tmp_path / "named.ome.zarr", gray_folder) == 0
    assert _read(tmp_path / "named.ome.zarr")[0][0].shape == (48, 48)


class _FailsOnSecondBatch:
    """A generator that raises on its second model call, mid-output."""

    def __init__(self, model):
        self.model, self.calls = model, 0
        self.scale, self.channels, self.receptive_margin = model.scale, model.channels, model.receptive_margin

    def predict_on_batch(self, x):
        self.calls += 1
        if self.calls == 2:
            raise RuntimeError("the model failed")
        return self.model.predict_on_batch(x)


def test_a_failed_write_leaves_no_partial_target_and_keeps_the_old_one(gray, tmp_path):
    stack = Stack(_data((40, 40), seed=5), "YX")
    out = tmp_path / "out"
    with pytest.raises(RuntimeError, match="the model failed"):
        upscale_stack_to_omezarr(stack, _FailsOnSecondBatch(gray), out / "f.ome.zarr", tile=36, batch_size=1)
    assert list(out.iterdir()) == []
    earlier = upscale_stack_to_omezarr(stack, gray, out / "f.ome.zarr")
    before = {p.relative_to(earlier): p.read_bytes() for p in earlier.rglob("*") if p.is_file()}
    with pytest.raises(RuntimeError, match="the model failed"):
        upscale_stack_to_omezarr(stack, _FailsOnSecondBatch(gray), earlier, tile=36, batch_size=1, overwrite=True)
    assert [p.name for p in out.iterdir()] == ["f.ome.zarr"]
    assert {p.relative_to(earlier): p.read_bytes() for p in earlier.rglob("*") if p.is_file()} == before


@pytest.mark.one_backend
def test_bad_requests_are_one_line_errors_naming_the_file(gray_folder, tmp_path, capsys, monkeypatch):
    from msrgan import tiling

    calls = []
    monkeypatch.setattr(tiling, "predict_batch", lambda *a, **k: calls.append(1))
    tifffile.imwrite(tmp_path / "samples.tif", _data((3, 16, 16)))
    assert _upscale_cli(tmp_path / "samples.tif", tmp_path / "out", gray_folder, "--axes", "SYX",
                        "--suffix", ".ome.zarr") != 0
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    assert "samples_x2.ome.zarr" in err and "no sample axis S" in err
    _imagej(tmp_path / "a.tif", _data((16, 16)), "YX")
    _imagej(tmp_path / "b.tif", _data((16, 16)), "YX")
    assert main(["upscale", str(tmp_path / "a.tif"), str(tmp_path / "b.tif"), "-o", str(tmp_path / "one.ome.zarr"),
                 "--model", str(gray_folder)]) != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "one.ome.zarr names one file but there are 2 inputs" in err
    assert calls == [] and not (tmp_path / "out").exists() and not (tmp_path / "one.ome.zarr").exists()
    assert read_stack(tmp_path / "a.tif").meta.pixel_size == pytest.approx((0.65, 0.65))  # inputs untouched
