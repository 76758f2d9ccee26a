"""``zoo`` on its own: a dummy model family, the registries, the pretrained folder and the files helpers.

Nothing here imports ``msrgan``: the model tests run in a fresh interpreter with the entry-point
plugins off (``ZOO_DISABLE_PLUGIN_AUTOLOAD=1``), register a tiny Keras model of their own and assert
at the end that no ``msrgan`` module was imported. ``tests/test_zoo.py`` tests zoo with the msrgan
family on purpose.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest

from tests.helpers import run_in_backend
from zoo.extensions import Registry
from zoo.files import (
    PARTIAL_PREFIX,
    atomic_file,
    atomic_folder,
    atomic_write_bytes,
    move_entries,
    partial_path,
    remove_stale_partials,
)
from zoo.hub import is_repo_id, parse_repo_id

ALONE = {"ZOO_DISABLE_PLUGIN_AUTOLOAD": "1"}

DUMMY_FAMILY = """
import json, sys, tempfile
from pathlib import Path

import keras
import numpy as np

import zoo


class Tiny(zoo.PretrainedMixin, keras.Model):
    # A two-layer model: all a family needs is named layers (the weights' keys), a get_config that
    # rebuilds it and an example input.
    def __init__(self, units=3, channels=2, **kwargs):
        super().__init__(**kwargs)
        self.units, self.channels = units, channels
        self.hidden = keras.layers.Dense(units, activation="relu", name="hidden")
        self.head = keras.layers.Dense(channels, name="head")

    def call(self, x, training=False):
        return self.head(self.hidden(x))

    def get_config(self):
        return {"name": self.name, "units": self.units, "channels": self.channels}

    def example_input_shape(self):
        return (1, 4, 4, self.channels)


out = {"before": sorted(m for m in sys.modules if m.split(".")[0] == "msrgan")}
zoo.register("tiny-dummy", Tiny, description="two dense layers", tags=("test",), units=3)
out["models"] = zoo.list_models()
out["presets"] = zoo.list_presets()
out["describe"] = zoo.describe("tiny-dummy")
out["describe"].pop("class")
model = zoo.create("tiny-dummy", units=5)
out["created"] = [model.built, model.zoo_name, model.units]
x = np.random.default_rng(0).random((2, 4, 4, 2)).astype("float32")
y = keras.ops.convert_to_numpy(model(x))

folder = Path(tempfile.mkdtemp()) / "tiny"
model.save_pretrained(folder, metadata={"note": "dummy"})
out["files"] = sorted(p.name for p in folder.iterdir())
config = json.loads((folder / "config.json").read_text())
out["config"] = [config["class_name"], config["zoo_name"], config["config"]["units"], config["metadata"]["note"]]
for loaded in (zoo.from_pretrained(folder), Tiny.from_pretrained(str(folder))):
    out.setdefault("same_outputs", []).append(bool(np.array_equal(keras.ops.convert_to_numpy(loaded(x)), y)))
    out.setdefault("loaded_units", []).append(loaded.units)
try:
    model.save_pretrained(folder)
except FileExistsError as exc:
    out["overwrite_refused"] = "already holds" in str(exc)
bad = dict(config, class_name="NotRegistered")
(folder / "config.json").write_text(json.dumps(bad))
try:
    zoo.from_pretrained(folder)
except ValueError as exc:
    out["unknown_class_refused"] = "NotRegistered" in str(exc) and "refusing to load" in str(exc)
(folder / "config.json").write_text(json.dumps(config))
(folder / "model.safetensors").write_bytes((folder / "model.safetensors").read_bytes()[:-4] + b"\\0\\0\\0\\0")
try:
    zoo.from_pretrained(folder)
except ValueError as exc:
    out["corrupt_weights_refused"] = "sha256" in str(exc)

widgets = zoo.Registry("widget")
widgets.register("new-name", 1, description="renamed", aliases=("old-name",))
out["registry"] = [list(widgets), widgets["old-name"], widgets.canonical("old-name")]
out["msrgan_modules"] = sorted(m for m in sys.modules if m.split(".")[0] == "msrgan")
print(json.dumps(out))
"""


def test_a_dummy_family_round_trips_through_the_zoo_without_msrgan(backend):
    out = run_in_backend(backend, DUMMY_FAMILY, env=ALONE)
    assert out["before"] == [] and out["msrgan_modules"] == []
    assert out["models"] == ["tiny-dummy"] and out["presets"] == []
    assert out["describe"] == {"name": "tiny-dummy", "description": "two dense layers", "defaults": {"units": 3},
                               "pretrained": None, "tags": ["test"]}
    assert out["created"] == [True, "tiny-dummy", 5]
    assert out["files"] == ["README.md", "config.json", "model.safetensors"]
    assert out["config"] == ["Tiny", "tiny-dummy", 5, "dummy"]
    assert out["same_outputs"] == [True, True] and out["loaded_units"] == [5, 5]
    assert out["overwrite_refused"] and out["unknown_class_refused"] and out["corrupt_weights_refused"]
    assert out["registry"] == [["new-name"], 1, "new-name"]


@pytest.mark.one_backend
def test_importing_zoo_loads_no_model_family():
    code = ("import json, sys, zoo, zoo.files, zoo.hub, zoo.extensions; zoo.Registry('x'); "
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'msrgan')))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip().splitlines()[-1] == "[]"


# --------------------------------------------------------------------------------- registries


@pytest.mark.one_backend
def test_a_registry_keeps_old_names_as_aliases_without_listing_them():
    reg = Registry("widget")

    @reg.register("wide", description="a wide widget", aliases=("broad", "large"))
    def wide():
        return "w"

    reg.register("narrow", 2)
    assert list(reg) == ["wide", "narrow"] and len(reg) == 2 and dict(reg) == {"wide": wide, "narrow": 2}
    assert "broad" in reg and "large" in reg and "tall" not in reg and ["unhashable"] not in reg
    assert reg["broad"] is wide and reg.get("large") is wide and reg.canonical("broad") == "wide"
    assert reg.canonical("narrow") == "narrow" and reg.describe("broad") == "a wide widget"
    with pytest.raises(ValueError, match="a widget named 'broad' is already registered"):
        reg.register("broad", 3)
    with pytest.raises(ValueError, match="a widget named 'narrow' is already registered"):
        reg.register("slim", 3, aliases=("narrow",))
    with pytest.raises(ValueError, match=r"unknown widget 'tall'; choose one of: wide, narrow"):
        reg.canonical("tall")
    with pytest.raises(ValueError, match="non-empty string"):
        reg.register("ok", 4, aliases=("",))
    reg.register("broad", 5, overwrite=True)  # an alias may become a name of its own
    assert reg["broad"] == 5 and reg.canonical("broad") == "broad" and list(reg) == ["wide", "narrow", "broad"]


@pytest.mark.one_backend
def test_one_hub_id_form():
    assert is_repo_id("lab/msrgan-x4") and is_repo_id("a.b/c_d-e")
    for text in ("lab", "a/b/c", "./x", "/x/y", "lab/", "/name", "-lab/x", "lab/.x", "lab/a..b", "hf://lab/x", None, 3):
        assert not is_repo_id(text), text
    assert parse_repo_id("hf://lab/x") == "lab/x"
    with pytest.raises(ValueError, match="Hub repository id"):
        parse_repo_id("lab/a..b")


# --------------------------------------------------------------------------------- files


def _plain(mode: int) -> int:
    umask = os.umask(0)
    os.umask(umask)
    return mode & ~umask


def _partials(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(PARTIAL_PREFIX))


@pytest.mark.one_backend
def test_atomic_file_renames_only_a_whole_file_with_plain_permissions(tmp_path):
    target = tmp_path / "sub" / "image.tif"
    with atomic_file(target) as tmp:
        assert tmp.parent == target.parent and tmp.name.startswith(f"{PARTIAL_PREFIX}{os.getpid()}-image.tif-")
        assert tmp.suffix == ".tif" and not target.exists()
        tmp.write_bytes(b"whole")
    assert target.read_bytes() == b"whole" and _partials(target.parent) == []
    assert stat.S_IMODE(target.stat().st_mode) == _plain(0o666)
    with pytest.raises(RuntimeError, match="writer failed"):
        with atomic_file(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("writer failed")
    assert target.read_bytes() == b"whole" and _partials(target.parent) == []
    assert atomic_write_bytes(target, b"again") == target and target.read_bytes() == b"again"
    assert _partials(target.parent) == []


@pytest.mark.one_backend
def test_atomic_folder_replaces_the_old_folder_only_once_the_new_one_is_complete(tmp_path):
    target = tmp_path / "run.ome.zarr"
    with atomic_folder(target) as tmp:
        (tmp / "a.txt").write_text("1")
    assert sorted(p.name for p in target.iterdir()) == ["a.txt"]
    assert stat.S_IMODE(target.stat().st_mode) == _plain(0o777)
    with atomic_folder(target) as tmp:
        (tmp / "b.txt").write_text("2")
        assert (target / "a.txt").exists()  # the old folder is whole while the new one is written
    assert sorted(p.name for p in target.iterdir()) == ["b.txt"] and _partials(tmp_path) == []
    with pytest.raises(KeyboardInterrupt):
        with atomic_folder(target) as tmp:
            (tmp / "c.txt").write_text("3")
            raise KeyboardInterrupt
    assert sorted(p.name for p in target.iterdir()) == ["b.txt"] and _partials(tmp_path) == []
    (tmp_path / "file").write_text("a file in the way")
    with atomic_folder(tmp_path / "file") as tmp:
        (tmp / "d.txt").write_text("4")
    assert (tmp_path / "file" / "d.txt").read_text() == "4" and _partials(tmp_path) == []


def _files(folder) -> dict:
    return {str(p.relative_to(folder)): p.read_text() for p in sorted(folder.rglob("*")) if p.is_file()}


def _stage(out, files: dict):
    stage = partial_path(out / "stage", directory=True)
    for name, text in files.items():
        (stage / name).parent.mkdir(parents=True, exist_ok=True)
        (stage / name).write_text(text)
    return stage


@pytest.mark.one_backend
def test_move_entries_replaces_or_merges_and_puts_everything_back_on_a_failure(tmp_path, monkeypatch):
    out = tmp_path / "out"
    (out / "figures").mkdir(parents=True)
    earlier = {"notes.txt": "the user's", "model.bin": "old model", "logs.csv": "old log", "figures/a.png": "old a",
               "figures/b.png": "old b"}
    for name, text in earlier.items():
        (out / name).write_text(text)
    # replace (a run): whole entries, and the earlier run's entries named in clear go even without a new one
    move_entries(_stage(out, {"model.bin": "new model", "figures/a.png": "new a"}), out, clear=["logs.csv"])
    assert _files(out) == {"notes.txt": "the user's", "model.bin": "new model", "figures/a.png": "new a"}
    assert _partials(out) == []
    # merge (a report): folders merged file by file, other files kept
    (out / "figures" / "b.png").write_text("old b")
    move_entries(_stage(out, {"figures/a.png": "newer a", "summary.md": "s"}), out, merge=True)
    assert _files(out) == {"notes.txt": "the user's", "model.bin": "new model", "figures/a.png": "newer a",
                           "figures/b.png": "old b", "summary.md": "s"}
    # a rename failing halfway: the entries moved in go out again, the earlier ones back, no partial left
    before = _files(out)
    calls, real = [], os.replace

    def failing(src, dst):
        calls.append(dst)
        if len(calls) == 4:
            raise OSError("disk gone")
        real(src, dst)

    monkeypatch.setattr(os, "replace", failing)
    stage = _stage(out, {"figures/a.png": "x", "model.bin": "x", "summary.md": "x", "z.txt": "x"})
    with pytest.raises(OSError, match="disk gone"):
        move_entries(stage, out, merge=True, clear=["notes.txt"])
    assert len(calls) > 4  # it did undo renames
    assert _files(out) == before and _partials(out) == [] and not stage.exists()

@pytest.mark.one_backend
def test_stale_partials_of_dead_writers_are_removed_and_live_ones_kept(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f"{PARTIAL_PREFIX}{dead.pid}-x.tif-abc.tif"
    stale.write_bytes(b"left by a killed writer")
    (tmp_path / f"{PARTIAL_PREFIX}{dead.pid}-run-abc").mkdir()
    live = tmp_path / f"{PARTIAL_PREFIX}{os.getpid()}-y.tif-abc.tif"  # this process's: kept
    live.write_bytes(b"being written")
    assert sorted(p.name for p in remove_stale_partials(tmp_path)) == sorted(
        [stale.name, f"{PARTIAL_PREFIX}{dead.pid}-run-abc"])
    assert _partials(tmp_path) == [live.name]
    stale.write_bytes(b"left again")
    fresh = partial_path(tmp_path / "z.tif")  # the next writer into the folder clears what the dead left
    assert _partials(tmp_path) == sorted([live.name, fresh.name])
