"""``msrgan data synth | show | push``, run in-process through ``msrgan.cli.main``."""

from __future__ import annotations

import csv

import numpy as np
import pytest

from msrgan.cli import main
from msrgan.data.io import read_image
from msrgan.errors import EXIT_INPUT, EXIT_USAGE
from msrgan.data.synthetic import CLASS_NAMES, synthesize_field

pytestmark = pytest.mark.one_backend  # numpy, files and the Hub client only: no Keras backend involved


def _synth(out, *extra, count=13, channels=4, bit_depth=16, seed=5):
    return main(["data", "synth", "--count", str(count), "--size", "64", "--channels", str(channels),
                 "--bit-depth", str(bit_depth), "--seed", str(seed), "--out", str(out), *extra])


def test_synth_writes_cyto2017_files_and_metadata(tmp_path):
    out = tmp_path / "hcs"
    assert _synth(out) == 0
    files = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))  # not the hidden manifest
    assert files == sorted([f"{i:02d}_{i:06d}.tif" for i in range(13)] + ["metadata.csv"])
    with open(out / "metadata.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["file_name"] for r in rows] == [f"{i:02d}_{i:06d}.tif" for i in range(13)]
    assert [r["class_name"] for r in rows] == list(CLASS_NAMES)
    assert {r["seed"] for r in rows} == {"5"} and {r["bit_depth"] for r in rows} == {"16"}
    # each file is the generator's field (seed, index), bit for bit
    for i in (0, 7):
        want, label = synthesize_field((5, i), size=64, channels=4, bit_depth=16, label=i)
        got = read_image(out / f"{label:02d}_{i:06d}.tif")
        assert got.dtype == np.uint16 and np.array_equal(got, want)
    # same seed, same bytes; another seed, other images
    assert _synth(tmp_path / "again") == 0 and _synth(tmp_path / "other", seed=6) == 0
    a = (out / "03_000003.tif").read_bytes()
    assert (tmp_path / "again" / "03_000003.tif").read_bytes() == a
    assert not np.array_equal(read_image(tmp_path / "other" / "03_000003.tif"), read_image(out / "03_000003.tif"))


def test_synth_needs_overwrite_for_a_non_empty_folder(tmp_path, capsys):
    out = tmp_path / "hcs"
    assert _synth(out, count=26, channels=3, bit_depth=8) == 0
    before = (out / "00_000000.png").read_bytes()
    capsys.readouterr()
    assert _synth(out, count=13, channels=3, bit_depth=8, seed=1) == EXIT_INPUT
    assert "--overwrite" in capsys.readouterr().err
    assert (out / "00_000000.png").read_bytes() == before  # untouched
    (out / "notes.txt").write_text("mine")
    assert _synth(out, "--overwrite", count=13, channels=3, bit_depth=8, seed=1) == 0
    images = sorted(p.name for p in out.glob("*.png"))
    assert images == [f"{i:02d}_{i:06d}.png" for i in range(13)]  # the previous run's 26 fields are gone
    assert (out / "notes.txt").read_text() == "mine"  # files it did not write are kept


def test_synth_then_show_makes_a_contact_sheet(tmp_path, capsys):
    from PIL import Image

    out = tmp_path / "hcs"
    assert _synth(out, count=26) == 0
    sheet = tmp_path / "sheet.png"
    assert main(["data", "show", str(out), "-o", str(sheet), "--per-class", "2", "--tile", "48"]) == 0
    with Image.open(sheet) as im:
        assert im.format == "PNG" and im.mode == "RGB"
        w, h = im.size
    assert h > 13 * 48 and w > 2 * 48  # 13 class rows of two 48-px tiles, plus labels
    capsys.readouterr()
    assert main(["data", "show", str(out), "-o", str(sheet)]) == EXIT_INPUT
    assert "--overwrite" in capsys.readouterr().err
    assert main(["data", "show", str(out), "-o", str(sheet), "--overwrite", "--colors", "64"]) == 0
    with Image.open(sheet) as im:
        assert im.mode == "P"


def test_show_skips_corrupt_files_by_name_unless_strict(tmp_path, capsys):
    out = tmp_path / "hcs"
    assert _synth(out, count=3, channels=1, bit_depth=8) == 0
    (out / "05_broken.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    assert main(["data", "show", str(out), "-o", str(tmp_path / "s.png")]) == 0
    err = capsys.readouterr().err
    assert "05_broken.png" in err and "warning" in err
    assert main(["data", "show", str(out), "-o", str(tmp_path / "t.png"), "--strict"]) == EXIT_INPUT
    err = capsys.readouterr().err
    assert "05_broken.png" in err and "error" in err
    assert not (tmp_path / "t.png").exists()


def test_show_errors_on_an_empty_folder(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["data", "show", str(tmp_path / "empty"), "-o", str(tmp_path / "s.png")]) == EXIT_INPUT
    assert "no image files" in capsys.readouterr().err


def test_push_then_load_dataset_from_the_local_hub(local_hub, tmp_path):
    import datasets
    from huggingface_hub import hf_hub_download

    import tifffile

    out = tmp_path / "hcs"
    assert _synth(out, count=13) == 0
    repo_id = "user/msrgan-test-cli-push"
    assert main(["data", "push", str(out), "--repo", repo_id]) == 0
    ds = datasets.load_dataset(repo_id, split="train", cache_dir=str(tmp_path / "cache"))
    assert ds["label"] == list(range(13)) and ds.features["label"].names == list(CLASS_NAMES)
    assert ds["name"] == [f"{i:02d}_{i:06d}.tif" for i in range(13)]
    for row in ds:  # datasets' own decoding, axes CYX in the dataset as in the TIFF that data synth wrote
        got = np.stack([np.asarray(row[f"channel_{c}"]) for c in range(4)])
        on_disk = tifffile.imread(out / row["name"])
        assert on_disk.shape == got.shape == (4, 64, 64) and got.dtype == np.uint16
        assert np.array_equal(got, on_disk) and np.array_equal(np.moveaxis(got, 0, -1), read_image(out / row["name"]))
    readme = open(hf_hub_download(repo_id, "README.md", repo_type="dataset")).read()
    assert "msrgan data synth --count 13 --size 64 --channels 4 --bit-depth 16 --seed 5" in readme
    assert "license: cc-by-4.0" in readme and "synthetic" in readme


def test_data_without_subcommand_prints_help(capsys):
    assert main(["data"]) == EXIT_USAGE
    assert "synth" in capsys.readouterr().out


@pytest.mark.parametrize("bad", [["--count", "0"], ["--channels", "2"], ["--bit-depth", "12"]])
def test_synth_rejects_bad_options(tmp_path, bad, capsys):
    argv = ["data", "synth", "--out", str(tmp_path / "x"), "--size", "32", *bad]
    try:
        rc = main(argv)
    except SystemExit as exc:  # argparse choices
        rc = exc.code
    assert rc == EXIT_USAGE
    assert not (tmp_path / "x").exists() or not any((tmp_path / "x").iterdir())
