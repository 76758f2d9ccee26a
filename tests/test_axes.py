"""Microscopy files as microscopists have them: axes, stacks and physical metadata (issue 13).

Every round trip checks the written file against independent expectations: the axes, plane count
and channel names that went in, the pixel size divided by the scale, and each plane equal to the
2-D upscale of that plane (``msrgan.inference.upscale`` on the plane alone).
"""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

from msrgan.cli import main
from msrgan.data.axes import AxesError, check_axes, file_axes, working_axes
from msrgan.data.stack import read_stack
from msrgan.errors import EXIT_INPUT
from msrgan.inference import upscale
from msrgan.models import Generator
from msrgan.models.channels import PerChannel

SCALE = 2
NAMES = ["DAPI", "tubulin", "ER"]


@pytest.fixture(scope="module")
def gray():
    g = Generator(num_blocks=1, filters=8, channels=1, scale=SCALE)
    g(np.zeros((1, 16, 16, 1), np.float32))
    return g


@pytest.fixture(scope="module")
def gray_folder(gray, tmp_path_factory):
    return gray.save_pretrained(tmp_path_factory.mktemp("model") / "gray")


def _data(shape, seed=0):
    return np.random.default_rng(seed).integers(0, 50000, shape).astype(np.uint16)


def _imagej(path, data, axes, **metadata):
    tifffile.imwrite(path, data, imagej=True, resolution=(1 / 0.65, 1 / 0.65),
                     metadata={"axes": axes, "unit": "um", **metadata})
    return path


def _expected_plane(plane_cyx_or_yx, model):
    """The 2-D upscale of one plane, with the stack's channels first as in the file."""
    if plane_cyx_or_yx.ndim == 2:
        return upscale(plane_cyx_or_yx, model)
    c = plane_cyx_or_yx.shape[0]
    return np.moveaxis(upscale(np.moveaxis(plane_cyx_or_yx, 0, -1), PerChannel(model, c)), -1, 0)


# ------------------------------------------------------------------------------------------------
# ImageJ and OME round trips through `msrgan upscale`
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("axes, shape", [("ZYX", (3, 16, 20)), ("TYX", (2, 16, 20)), ("CYX", (3, 16, 20)),
                                         ("TZCYX", (2, 2, 3, 16, 20))])
def test_imagej_hyperstack_round_trip(axes, shape, gray, gray_folder, tmp_path):
    data = _data(shape)
    labels = NAMES * (int(np.prod(shape[:-2])) // 3) if "C" in axes else None
    extra = {"spacing": 2.5} if "Z" in axes else {}
    if "T" in axes:
        extra["finterval"] = 30.0
    _imagej(tmp_path / "in.tif", data, axes, **extra, **({"Labels": labels} if labels else {}))
    assert main(["upscale", str(tmp_path / "in.tif"), "-o", str(tmp_path / "out"), "--model", str(gray_folder)]) == 0
    out = tmp_path / "out" / "in_x2.tif"
    with tifffile.TiffFile(out) as tif:
        assert tif.is_imagej and tif.series[0].axes == axes
        result = tif.asarray()
        ij = tif.imagej_metadata
        xres = tif.pages[0].tags["XResolution"].value
    assert result.shape == shape[:-2] + (shape[-2] * SCALE, shape[-1] * SCALE) and result.dtype == np.uint16
    assert xres[1] / xres[0] == pytest.approx(0.65 / SCALE) and ij["unit"] in ("micron", "um")
    if "Z" in axes:
        assert ij["spacing"] == 2.5
    if "T" in axes:
        assert ij["finterval"] == 30.0
    if "C" in axes:
        assert ij["Labels"][:3] == NAMES
    back = read_stack(out)
    assert back.axes == axes and back.meta.pixel_size == pytest.approx((0.325, 0.325)) and back.meta.unit == "µm"
    assert back.meta.channel_names == (tuple(NAMES) if "C" in axes else None)
    lead = shape[:-3] if "C" in axes else shape[:-2]
    for index in np.ndindex(lead):
        np.testing.assert_array_equal(result[index], _expected_plane(data[index], gray))


def test_ome_tiff_round_trip_keeps_ome_and_its_name(gray, gray_folder, tmp_path):
    data = _data((2, 3, 16, 20), seed=1)
    tifffile.imwrite(tmp_path / "cells.ome.tif", data, ome=True, metadata={
        "axes": "ZCYX", "PhysicalSizeX": 0.65, "PhysicalSizeY": 0.65, "PhysicalSizeXUnit": "µm",
        "PhysicalSizeYUnit": "µm", "PhysicalSizeZ": 1.5, "Channel": {"Name": NAMES}, "Name": "well A1"})
    assert main(["upscale", str(tmp_path / "cells.ome.tif"), "-o", str(tmp_path / "out"),
                 "--model", str(gray_folder)]) == 0
    out = tmp_path / "out" / "cells_x2.ome.tif"
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["cells_x2.ome.tif"]
    with tifffile.TiffFile(out) as tif:
        assert tif.is_ome and tif.series[0].axes == "ZCYX"
        result = tif.asarray()
        xml = tif.ome_metadata
    assert 'PhysicalSizeX="0.325"' in xml and 'PhysicalSizeZ="1.5"' in xml and 'Name="tubulin"' in xml
    back = read_stack(out)
    assert back.meta.kind == "ome" and back.meta.channel_names == tuple(NAMES) and back.meta.name == "well A1"
    assert back.meta.pixel_size == pytest.approx((0.325, 0.325)) and back.meta.z_spacing == 1.5
    for z in range(2):
        np.testing.assert_array_equal(result[z], _expected_plane(data[z], gray))


def test_the_z_stack_that_was_read_as_rgb_is_upscaled_as_planes(gray, tmp_path):
    """Before: a 3-plane ImageJ z-stack was read as one RGB image and run through the RGB model."""
    rgb = Generator(num_blocks=1, filters=8, channels=3, scale=SCALE)
    rgb(np.zeros((1, 16, 16, 3), np.float32))
    folder = rgb.save_pretrained(tmp_path / "rgb")
    data = _data((3, 16, 16), seed=2)
    _imagej(tmp_path / "z.tif", data, "ZYX")
    # an RGB model cannot take a one-channel plane: a clear error, no output
    assert main(["upscale", str(tmp_path / "z.tif"), "-o", str(tmp_path / "out"), "--model", str(folder)]) == EXIT_INPUT
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    # the default presets pick the gray model for one channel; here, a gray model given explicitly
    gray_folder = gray.save_pretrained(tmp_path / "gray")
    assert main(["upscale", str(tmp_path / "z.tif"), "-o", str(tmp_path / "out"), "--model", str(gray_folder)]) == 0
    result = tifffile.imread(tmp_path / "out" / "z_x2.tif")
    assert result.shape == (3, 32, 32)
    for z in range(3):
        np.testing.assert_array_equal(result[z], upscale(data[z], gray))


def test_axes_option_reads_an_ambiguous_stack(gray, gray_folder, tmp_path, capsys):
    data = _data((5, 16, 16), seed=3)
    tifffile.imwrite(tmp_path / "pages.tif", data)  # no metadata: tifffile calls the axes QYX
    assert main(["upscale", str(tmp_path / "pages.tif"), "-o", str(tmp_path / "out"),
                 "--model", str(gray_folder)]) == EXIT_INPUT
    err = capsys.readouterr().err
    assert "pages.tif" in err and "'QYX'" in err and "(5, 16, 16)" in err and "--axes" in err
    assert main(["upscale", str(tmp_path / "pages.tif"), "-o", str(tmp_path / "out"), "--model", str(gray_folder),
                 "--axes", "zyx"]) == 0
    with tifffile.TiffFile(tmp_path / "out" / "pages_x2.tif") as tif:
        assert tif.series[0].axes == "ZYX"
        result = tif.asarray()
    for z in range(5):
        np.testing.assert_array_equal(result[z], upscale(data[z], gray))


def test_python_axes_keep_the_order_given(gray):
    data = _data((3, 2, 16, 16), seed=4)  # C, Z, Y, X: processed per Z plane, returned as CZYX
    out = upscale(data, gray, axes="CZYX")
    assert out.shape == (3, 2, 32, 32)
    for z in range(2):
        np.testing.assert_array_equal(out[:, z], _expected_plane(data[:, z], gray))


def test_png_output_of_a_stack_is_refused_before_the_model_runs(gray_folder, tmp_path, capsys):
    _imagej(tmp_path / "z.tif", _data((3, 16, 16)), "ZYX")
    assert main(["upscale", str(tmp_path / "z.tif"), "-o", str(tmp_path / "out"), "--model", str(gray_folder),
                 "--suffix", ".png"]) == EXIT_INPUT
    err = capsys.readouterr().err
    assert "one 2-D image" in err and "'ZYX'" in err and "--suffix .tif" in err


def test_unparseable_ome_xml_warns_and_the_output_is_written(gray_folder, tmp_path, capsys):
    data = _data((16, 16), seed=5)
    broken = ('<?xml version="1.0" encoding="UTF-8"?><OME xmlns="http://www.openmicroscopy.org/Schemas/OME/2016-06">'
              '<Image ID="Image:0"><Pixels DimensionOrder="XYZCT" SizeX="16" <<broken</OME>')
    tifffile.imwrite(tmp_path / "bad.ome.tif", data, description=broken, metadata=None)
    assert main(["upscale", str(tmp_path / "bad.ome.tif"), "-o", str(tmp_path / "out"),
                 "--model", str(gray_folder)]) == 0
    assert "bad.ome.tif: its OME-XML cannot be parsed" in capsys.readouterr().err
    assert tifffile.imread(tmp_path / "out" / "bad_x2.ome.tif").shape == (32, 32)


# ------------------------------------------------------------------------------------------------
# Reading axes and metadata (no Keras backend involved)
# ------------------------------------------------------------------------------------------------

@pytest.mark.one_backend
def test_axes_letters_and_shapes_are_checked():
    assert check_axes("tzcyx", (1, 2, 3, 4, 5)) == "TZCYX"
    with pytest.raises(AxesError, match=r"unknown axis letter\(s\) Q"):
        check_axes("QYX", (2, 4, 4))
    with pytest.raises(AxesError, match=r"'ZYX' name 3 axes but the image has 4 \(shape \(2, 3, 4, 4\)\)"):
        check_axes("ZYX", (2, 3, 4, 4))
    with pytest.raises(AxesError, match="repeated"):
        check_axes("ZZX", (2, 3, 4))
    with pytest.raises(AxesError, match="ambiguous.*'IYX'.*--axes"):
        file_axes("IYX", (7, 4, 4))
    assert file_axes("YXS", (4, 4, 3)) == "YXC"  # tifffile's colour samples are channels
    assert working_axes("CZYX") == "ZCYX" and working_axes("TZCYX") == "TZCYX"


@pytest.mark.one_backend
def test_metadata_is_read_from_imagej_ome_and_tags(tmp_path):
    _imagej(tmp_path / "ij.tif", _data((2, 3, 8, 8)), "ZCYX", spacing=0.5, Labels=NAMES * 2)
    s = read_stack(tmp_path / "ij.tif")
    assert (s.axes, s.planes, s.channels) == ("ZCYX", 2, 3)
    assert s.meta.pixel_size == pytest.approx((0.65, 0.65)) and s.meta.unit == "µm" and s.meta.z_spacing == 0.5
    assert s.meta.channel_names == tuple(NAMES)
    tifffile.imwrite(tmp_path / "cm.tif", _data((8, 8)), resolution=(1e4 / 0.2, 1e4 / 0.2), resolutionunit="CENTIMETER")
    assert read_stack(tmp_path / "cm.tif").meta.pixel_size == pytest.approx((0.2, 0.2))
    plain = read_stack(tmp_path / "cm.tif", axes="YX")
    assert plain.axes == "YX"


@pytest.mark.one_backend
def test_a_truncated_stack_is_a_clear_error(tmp_path):
    _imagej(tmp_path / "z.tif", _data((5, 8, 8)), "ZYX")
    with tifffile.TiffFile(tmp_path / "z.tif") as tif:
        description = tif.pages[0].description
    tifffile.imwrite(tmp_path / "short.tif", _data((3, 8, 8)), description=description, metadata=None)
    with pytest.raises(AxesError, match=r"short.tif: its metadata promises 5 planes \(slices=5\).*holds 3"):
        read_stack(tmp_path / "short.tif")
