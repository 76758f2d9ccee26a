"""The generic registry: listing, creating, describing, plugins, and the local pretrained format."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

import msrgan  # noqa: F401  (registers the msrgan entries)
import zoo
from tests.helpers import ROOT

REQUIRED = {"msrgan-x4", "msrgan-x4-small", "discriminator", "minivgg19", "vgg19-imagenet"}


def test_required_entries_are_listed():
    assert REQUIRED <= set(zoo.list_models())
    assert zoo.list_models("msrgan-*") == ["msrgan-x4", "msrgan-x4-lite", "msrgan-x4-small"]


def test_entries_are_found_through_the_entry_point_without_importing_msrgan():
    code = "import zoo, sys; names = zoo.list_models(); print(','.join(names))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert REQUIRED <= set(out.stdout.strip().split(","))


def test_create_applies_overrides_and_describe_reports_defaults():
    g = zoo.create("msrgan-x4-small", channels=1, scale=2)
    assert (g.channels, g.scale) == (1, 2)
    d = zoo.describe("msrgan-x4")
    assert d["class"] == "Generator"
    assert d["defaults"] == dict(num_blocks=16, filters=64, channels=3, scale=4, batch_norm=True)
    assert d["pretrained"] is None  # no entry names a repository that does not exist


def test_unknown_model_error_lists_known_names():
    with pytest.raises(ValueError, match="msrgan-x4-small"):
        zoo.create("msrgan-x5")


def test_register_is_one_step_and_refuses_silent_replacement():
    class Tiny:
        def __init__(self, width=1):
            self.width = width

    zoo.register("test-tiny", Tiny, description="a test entry", width=2)
    try:
        assert zoo.create("test-tiny").width == 2
        assert zoo.create("test-tiny", width=5).width == 5
        with pytest.raises(ValueError, match="already registered"):
            zoo.register("test-tiny", Tiny, width=3)
    finally:
        zoo.registry._REGISTRY.pop("test-tiny", None)


def test_pretrained_folder_round_trip(tmp_path):
    import keras

    g = zoo.create("msrgan-x4-small", num_blocks=1, filters=8)
    x = np.random.default_rng(0).random((1, 8, 8, 3), dtype=np.float32)
    y = keras.ops.convert_to_numpy(g(x))
    folder = g.save_pretrained(tmp_path / "m")
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "config.json", "model.safetensors"]
    config = json.loads((folder / "config.json").read_text())
    assert config["class_name"] == "Generator" and config["zoo_name"] == "msrgan-x4-small"
    assert config["metadata"]["input_convention"]["value_range"] == [0.0, 1.0]
    g2 = zoo.from_pretrained(folder)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(g2(x)), y)
    assert type(g2).from_pretrained(folder).get_config() == g.get_config()


# Overrides that keep each entry's class but make it quick to build; vgg19-imagenet's default
# weights="imagenet" would download (the entry keeps that default, see below).
SMALL = {
    "msrgan-x4": dict(num_blocks=1, filters=8),
    "msrgan-x4-small": dict(num_blocks=1, filters=8),
    "msrgan-x4-lite": dict(num_blocks=1, filters=8),
    "discriminator": dict(filters=8, dense_units=16),
    "minivgg19": dict(width=0.0625),
    "minivgg19-features": dict(backbone_config={"width": 0.0625}),
    "vgg19-imagenet": dict(weights=None),
}


@pytest.mark.parametrize("name", zoo.list_models())
def test_create_returns_a_built_model_for_every_entry(name):
    """Like keras-hub's backbones, a created model is ready to use: its variables exist."""
    model = zoo.create(name, **SMALL.get(name, {}))
    assert model.built and model.weights, name
    assert model.count_params() > 0
    assert model.zoo_name == name
    assert zoo.describe(name)["class"] == type(model).__name__


def test_create_builds_the_readme_example_with_its_defaults():
    # README: KERAS_BACKEND=torch python -c "import zoo, msrgan; print(zoo.create('msrgan-x4').count_params())"
    assert round(zoo.create("msrgan-x4").count_params() / 1e6, 2) == 1.55  # "1.55 M parameters"
    assert zoo.describe("vgg19-imagenet")["defaults"]["weights"] == "imagenet"  # not downloaded by the tests


def test_create_leaves_objects_it_cannot_build_as_they_are():
    import keras

    zoo.register("test-no-example-shape", lambda units=2: keras.Sequential([keras.layers.Dense(units)]))
    try:
        model = zoo.create("test-no-example-shape")  # a Keras model without example_input_shape(): not called
        assert not model.built
    finally:
        zoo.registry._REGISTRY.pop("test-no-example-shape", None)


def test_a_registry_lists_describes_refuses_duplicates_and_names_the_unknown():
    from zoo import Registry

    reg = Registry("widget")
    reg.register("a", 1, description="first")

    @reg.register("b")
    def b():
        return 2

    assert list(reg) == ["a", "b"] and len(reg) == 2 and "a" in reg and "c" not in reg
    assert reg["b"] is b and reg.describe("a") == "first" and dict(reg) == {"a": 1, "b": b}
    with pytest.raises(ValueError, match="already registered"):
        reg.register("a", 3)
    reg.register("a", 3, overwrite=True)
    assert reg["a"] == 3
    with pytest.raises(ValueError, match=r"unknown widget 'c'; choose one of: a, b"):
        reg["c"]


def test_each_extension_point_is_a_registry_read_by_the_command_line():
    import argparse

    from msrgan.cli import build_parser
    from msrgan.data.degrade import DEGRADATIONS
    from msrgan.losses import ADVERSARIAL
    from msrgan.models.extractors import EXTRACTORS

    assert {type(r) for r in (DEGRADATIONS, ADVERSARIAL, EXTRACTORS)} == {zoo.Registry}
    train = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices["train"]
    choices = {a.dest: a.choices for a in train._actions}
    assert tuple(choices["degradation"]) == tuple(DEGRADATIONS) and tuple(choices["adversarial"]) == tuple(ADVERSARIAL)
    assert all(name in train.format_help().replace("\n", " ").replace("  ", " ") for name in EXTRACTORS)
