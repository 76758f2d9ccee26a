"""The pretrained folder format on a local disk: config.json, model.safetensors, README.md, and its safety checks."""

from __future__ import annotations

import hashlib
import json

import keras
import numpy as np
import pytest
import yaml
from safetensors import safe_open

import msrgan
import zoo
from msrgan.convention import INPUT_CONVENTION
from msrgan.models import Discriminator, Generator, MiniVGG19, MiniVGG19Features

TINY = dict(num_blocks=1, filters=8, channels=1, scale=2)
METADATA = {
    "training": {"dataset": "lab/hcs-fields", "degradation": "bicubic", "steps": 12, "patch_size": 32},
    "evaluation": {"dataset": "lab/hcs-fields", "split": "test", "images": 3},
    "metrics": {"psnr": np.float32(27.25), "ssim": 0.8125},
}


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _generator_keys(num_blocks: int, upsamplers: int) -> set[str]:
    """The weight keys of a batch-norm Generator, written out from its architecture."""
    conv = ("kernel", "bias")
    bn = ("gamma", "beta", "moving_mean", "moving_variance")
    keys = {f"head_conv/{v}" for v in conv} | {"head_prelu/alpha"}
    for b in range(num_blocks):
        keys |= {f"block_{b:02d}/conv{i}/{v}" for i in (1, 2) for v in conv}
        keys |= {f"block_{b:02d}/bn{i}/{v}" for i in (1, 2) for v in bn}
        keys.add(f"block_{b:02d}/prelu/alpha")
    keys |= {f"body_conv/{v}" for v in conv} | {f"body_bn/{v}" for v in bn}
    for u in range(upsamplers):
        keys |= {f"up{u}_conv/{v}" for v in conv} | {f"up{u}_prelu/alpha"}
    return keys | {f"tail_conv/{v}" for v in conv}


@pytest.fixture
def saved(tmp_path):
    g = zoo.create("msrgan-x4-small", **TINY)
    g(np.zeros((1, 8, 8, 1), "float32"))
    folder = g.save_pretrained(tmp_path / "g", metadata=METADATA)
    return g, folder


def test_config_json_records_class_config_versions_convention_and_training(saved):
    g, folder = saved
    config = json.loads((folder / "config.json").read_text())
    assert config["format"] == "zoo-pretrained/1"
    assert (config["zoo_name"], config["class_name"], config["keras_class"]) == (
        "msrgan-x4-small", "Generator", "msrgan>Generator")
    assert config["config"] == {"name": "generator", **TINY, "batch_norm": True, "residual": "none"}
    assert config["versions"]["keras"] == keras.__version__
    assert config["versions"]["msrgan"] == msrgan.__version__
    assert config["versions"]["backend"] == keras.backend.backend()
    meta = config["metadata"]
    assert meta["input_convention"] == json.loads(json.dumps(INPUT_CONVENTION))
    assert (meta["scale"], meta["channels"], meta["channel_names"]) == (2, 1, ["gray"])
    assert meta["training"] == METADATA["training"] and meta["evaluation"] == METADATA["evaluation"]
    assert meta["metrics"] == {"psnr": 27.25, "ssim": 0.8125}
    weights = config["weights"]
    assert weights["sha256"] == hashlib.sha256((folder / "model.safetensors").read_bytes()).hexdigest()
    assert weights["parameters"] == g.count_params()  # every variable, trainable or not


def test_weights_are_float32_keyed_by_layer_path(saved):
    _, folder = saved
    with safe_open(str(folder / "model.safetensors"), "np") as f:
        keys = set(f.keys())
        dtypes = {f.get_tensor(k).dtype for k in keys}
        assert f.get_tensor("block_00/conv1/kernel").shape == (3, 3, 8, 8)
    assert keys == _generator_keys(num_blocks=1, upsamplers=1)
    assert dtypes == {np.dtype("float32")}


def test_keys_do_not_depend_on_name_scope_or_build_order(tmp_path):
    inner = zoo.create("msrgan-x4-small", **TINY)
    with keras.name_scope("training_loop"):  # e.g. first called inside the GAN's own call
        inner(np.zeros((1, 8, 8, 1), "float32"))
    assert set(zoo.pretrained.model_state(inner)) == _generator_keys(1, 1)
    inner.save_pretrained(tmp_path / "g")
    assert zoo.from_pretrained(tmp_path / "g").get_config() == inner.get_config()

    # The same extractor, built with its backbone first or through its own call, saves the same keys.
    backbone = MiniVGG19(channels=1, width=0.0625)
    backbone(np.zeros((1, 32, 32, 1), "float32"))
    fx_a = MiniVGG19Features(backbone)
    fx_b = MiniVGG19Features(backbone_config=backbone.get_config())
    for fx in (fx_a, fx_b):
        fx(np.zeros((1, 32, 32, 1), "float32"))
    keys_a, keys_b = set(zoo.pretrained.model_state(fx_a)), set(zoo.pretrained.model_state(fx_b))
    assert keys_a == keys_b and "minivgg19/block1_conv1/conv/kernel" in keys_a
    fx_a.save_pretrained(tmp_path / "fx")
    x = np.random.default_rng(0).random((1, 32, 32, 1), dtype=np.float32)
    loaded = MiniVGG19Features.from_pretrained(tmp_path / "fx")
    np.testing.assert_allclose(_np(loaded(x)[0]), _np(fx_a(x)[0]), atol=1e-6)


def test_every_family_member_round_trips(tmp_path, rng):
    models = {
        "discriminator": (zoo.create("discriminator", channels=1, filters=4, dense_units=8), (1, 16, 16, 1)),
        "minivgg19": (zoo.create("minivgg19", channels=1, width=0.0625), (1, 32, 32, 1)),
    }
    for name, (model, shape) in models.items():
        x = rng.random(shape, dtype=np.float32)
        y = _np(model(x))
        model.save_pretrained(tmp_path / name)
        loaded = type(model).from_pretrained(tmp_path / name)
        np.testing.assert_array_equal(_np(loaded(x)), y)
        assert loaded.zoo_name == name


def test_config_that_does_not_fit_the_weights_names_variable_and_both_shapes(saved):
    _, folder = saved
    config = json.loads((folder / "config.json").read_text())
    config["config"]["filters"] = 16  # the weights were trained with 8
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError) as err:
        zoo.from_pretrained(folder)
    msg = str(err.value)
    assert "'head_conv/kernel'" in msg and "(9, 9, 1, 8)" in msg and "(9, 9, 1, 16)" in msg
    assert "model.safetensors" in msg


def test_config_with_other_block_count_lists_missing_variables(saved):
    _, folder = saved
    config = json.loads((folder / "config.json").read_text())
    config["config"]["num_blocks"] = 2
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match=r"missing \d+ variable\(s\).*block_01/"):
        zoo.from_pretrained(folder)


@pytest.mark.parametrize("class_name", ["Sequential", "Functional", "EvilModel"])
def test_config_naming_a_class_outside_the_zoo_is_refused(saved, class_name):
    _, folder = saved
    config = json.loads((folder / "config.json").read_text())
    config["class_name"] = class_name
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match=f"names class '{class_name}'.*refusing"):
        zoo.from_pretrained(folder)


def test_saving_a_class_outside_the_zoo_is_refused(tmp_path):
    class Unregistered(Generator):
        pass

    with pytest.raises(ValueError, match="Unregistered is not built by any zoo entry"):
        zoo.save_pretrained(Unregistered(**TINY), tmp_path / "u")
    seq = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="Sequential is not built by any zoo entry"):
        zoo.save_pretrained(seq, tmp_path / "s")
    assert not (tmp_path / "u").exists() and not (tmp_path / "s").exists()


def test_truncated_weights_give_a_clear_error(saved):
    _, folder = saved
    path = folder / "model.safetensors"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ValueError, match=r"model\.safetensors is corrupted or truncated"):
        zoo.from_pretrained(folder)
    # Without the recorded sha256, the safetensors reader itself refuses the file.
    config = json.loads((folder / "config.json").read_text())
    del config["weights"]
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match=r"model\.safetensors is truncated or corrupted and cannot be read"):
        zoo.from_pretrained(folder)
    path.write_bytes(b"\xff" * 64)  # garbage header
    with pytest.raises(ValueError, match="cannot be read as safetensors"):
        zoo.from_pretrained(folder)


def test_flipped_bytes_in_the_weights_are_caught(saved):
    g, folder = saved
    path = folder / "model.safetensors"
    data = bytearray(path.read_bytes())
    data[-5] ^= 0x40  # inside the last tensor: the file still parses, only the checksum notices
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="corrupted or truncated"):
        zoo.from_pretrained(folder)


def test_card_front_matter_parses_and_its_metrics_match_config(saved):
    _, folder = saved
    text = (folder / "README.md").read_text()
    assert text.startswith("---\n")
    front = yaml.safe_load(text.split("---\n")[1])
    config = json.loads((folder / "config.json").read_text())
    assert front["library_name"] == "keras" and front["license"] == "apache-2.0" and "msrgan" in front["tags"]
    assert {"microscopy", "super-resolution", "keras"} <= set(front["tags"])
    assert front["datasets"] == ["lab/hcs-fields"]
    assert front["metrics"] == ["psnr", "ssim"]
    (result,) = front["model-index"][0]["results"]
    assert result["dataset"]["name"] == "lab/hcs-fields" and result["dataset"]["split"] == "test"
    assert {m["type"]: m["value"] for m in result["metrics"]} == config["metadata"]["metrics"]
    body = text.split("---\n", 2)[2]
    for section in ("## Intended use", "## Training data", "## Evaluation", "## How to use"):
        assert section in body
    for backend in ("KERAS_BACKEND", "tensorflow", "torch", "jax", "from_pretrained"):
        assert backend in body
    assert "| PSNR (dB) | 27.25 |" in body and "| patch_size | 32 |" in body


def test_card_without_metrics_has_no_model_index(tmp_path):
    folder = zoo.create("msrgan-x4-small", **TINY).save_pretrained(tmp_path / "g")
    front, body = zoo.card.parse((folder / "README.md").read_text())
    assert "model-index" not in front and "metrics" not in front
    assert "No evaluation recorded" in body and "Not recorded" in body


def test_bad_metadata_is_named(tmp_path):
    g = zoo.create("msrgan-x4-small", **TINY)
    with pytest.raises(ValueError, match="metric 'psnr' must be a number"):
        g.save_pretrained(tmp_path / "a", metadata={"metrics": {"psnr": "high"}})
    with pytest.raises(ValueError, match="metric 'ssim' must be a finite number"):
        g.save_pretrained(tmp_path / "b", metadata={"metrics": {"ssim": float("nan")}})
    with pytest.raises(ValueError, match=r"metadata\.training\.optimizer is a object"):
        g.save_pretrained(tmp_path / "c", metadata={"training": {"optimizer": object()}})
    assert not any(tmp_path.iterdir())


def test_save_refuses_to_overwrite_unless_asked(saved):
    g, folder = saved
    (folder / "notes.txt").write_text("mine")
    before = (folder / "model.safetensors").read_bytes()
    with pytest.raises(FileExistsError, match="overwrite"):
        g.save_pretrained(folder)
    assert (folder / "model.safetensors").read_bytes() == before
    g.save_pretrained(folder, overwrite=True)
    assert (folder / "notes.txt").read_text() == "mine"  # other files are left alone
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "config.json", "model.safetensors", "notes.txt"]


def test_local_sources_that_are_not_models(saved, tmp_path):
    _, folder = saved
    with pytest.raises(FileNotFoundError, match="No pretrained folder at ./missing"):
        zoo.from_pretrained("./missing")
    with pytest.raises(FileNotFoundError, match="No pretrained folder"):
        zoo.from_pretrained(tmp_path / "missing")
    with pytest.raises(ValueError, match="nor a Hub repository id of the form owner/name"):
        zoo.from_pretrained("hf://too/many/parts")
    only_config = tmp_path / "only_config"
    only_config.mkdir()
    (only_config / "config.json").write_text((folder / "config.json").read_text())
    with pytest.raises(FileNotFoundError, match="has config.json but no model.safetensors"):
        zoo.from_pretrained(only_config)
    with pytest.raises(FileNotFoundError, match="No config.json"):
        zoo.from_pretrained(tmp_path)
    with pytest.raises(ValueError, match="revision"):
        zoo.from_pretrained(folder, revision="main")
    with pytest.raises(ValueError, match="holds a Generator, not a Discriminator"):
        Discriminator.from_pretrained(folder)


def test_atomic_write_gives_plain_file_permissions_and_leaves_no_temporary(tmp_path):
    import os

    from zoo.pretrained import atomic_write_bytes

    umask = os.umask(0o022)
    try:
        path = atomic_write_bytes(tmp_path / "a.json", b"{}")
    finally:
        os.umask(umask)
    assert path.read_bytes() == b"{}"
    assert path.stat().st_mode & 0o777 == 0o644  # what open() gives under umask 022, not mkstemp's 0600
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]
