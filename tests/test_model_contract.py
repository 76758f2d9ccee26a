"""The contract every zoo entry keeps, in the style of keras-hub's ``run_backbone_test``.

Every registered model builds, round-trips its config, saves and reloads with the same outputs;
every super-resolution network (``msrgan.models.base.SRModel``) also has the documented output
shape, tiles exactly (its ``receptive_margin`` is honest), runs through ``FastGenerator`` and
gives the same outputs on every backend. A new architecture is covered by registering it.
"""

from __future__ import annotations

import numpy as np
import pytest

import msrgan  # noqa: F401  (registers the zoo entries)
import zoo
from msrgan.models.base import SRModel
from tests.helpers import other_backends, run_in_backend

SMALL = {"vgg19-imagenet": {"weights": None}}  # no download; every other entry builds with its defaults


def _is_sr(name: str) -> bool:
    builder = zoo.get_entry(name).builder
    return isinstance(builder, type) and issubclass(builder, SRModel)


SR_NAMES = [n for n in zoo.list_models() if _is_sr(n)]


def _small_sr(name: str, channels: int = 1, **kw):
    """The entry with 2 blocks where it has blocks: the same code paths, a small receptive field."""
    blocks = {"num_blocks": 2} if "num_blocks" in zoo.get_entry(name).defaults else {}
    return zoo.create(name, channels=channels, **blocks, **kw)


def _np(t):
    import keras

    return keras.ops.convert_to_numpy(t)


def _randomize(model, seed: int = 0) -> None:
    """Small random weights (zero-initialised last layers would hide a broken load) and BatchNorm statistics."""
    rng = np.random.default_rng(seed)
    for v in model.weights:
        if "moving_variance" in v.path:
            v.assign(rng.uniform(0.5, 1.5, v.shape).astype("float32"))
        else:
            v.assign(rng.normal(0.0, 0.05, v.shape).astype("float32"))


def _first(y):
    return y[0] if isinstance(y, (list, tuple)) else y


@pytest.mark.parametrize("name", zoo.list_models())
def test_every_entry_builds_round_trips_its_config_and_reloads(name, tmp_path):
    model = _small_sr(name, channels=3) if _is_sr(name) else zoo.create(name, **SMALL.get(name, {}))
    assert model.built and model.count_params() > 0
    _randomize(model)
    x = np.random.default_rng(1).random(model.example_input_shape()).astype("float32")
    y = _np(_first(model(x, training=False)))

    twin = type(model).from_config(model.get_config())
    twin(x, training=False)
    twin.set_weights(model.get_weights())
    np.testing.assert_allclose(_np(_first(twin(x, training=False))), y, atol=1e-6)

    folder = model.save_pretrained(tmp_path / name)
    loaded = zoo.from_pretrained(folder)
    assert type(loaded) is type(model) and loaded.get_config() == model.get_config()
    np.testing.assert_allclose(_np(_first(loaded(x, training=False))), y, atol=1e-6)
    card = (folder / "README.md").read_text()
    assert type(model).card_kind["what"].split(":")[0].format(scale=getattr(model, "scale", "?")) in card


@pytest.mark.parametrize("name", SR_NAMES)
def test_super_resolution_networks_scale_tile_exactly_and_run_fast(name):
    from msrgan.inference import upscale
    from msrgan.models.fast import FastGenerator

    model = _small_sr(name)
    _randomize(model, seed=2)
    s = model.scale
    lr = np.random.default_rng(3).random((91, 77)).astype("float32")
    whole = _np(model(lr[None, :, :, None], training=False))[0]
    assert whole.shape == (91 * s, 77 * s, 1)
    tile = 2 * model.receptive_margin + 16  # several tiles; overlap = receptive_margin by default
    assert tile < 77
    tiled = upscale(lr, model, tile=tile, normalization="none")
    np.testing.assert_allclose(tiled.reshape(whole.shape), whole, atol=1e-4)
    fast = FastGenerator(model)
    np.testing.assert_allclose(fast.predict(lr[None, :, :, None]), whole[None], atol=1e-4)


@pytest.mark.one_backend  # loads on the two other backends, from whichever runs first
def test_super_resolution_networks_give_the_same_outputs_on_every_backend(tmp_path, backend):
    x = np.random.default_rng(4).random((1, 12, 10, 1)).astype("float32")
    np.save(tmp_path / "x.npy", x)
    expected = {}
    for name in SR_NAMES:
        model = _small_sr(name)
        _randomize(model, seed=5)
        model.save_pretrained(tmp_path / name)
        expected[name] = _np(model(x, training=False))
    for other in other_backends(backend):
        got = run_in_backend(other, f"""
            import json, numpy as np, keras, zoo, msrgan
            x = np.load({str(tmp_path / 'x.npy')!r})
            out = {{}}
            for name in {SR_NAMES!r}:
                y = keras.ops.convert_to_numpy(zoo.from_pretrained({str(tmp_path)!r} + "/" + name)(x))
                out[name] = y.ravel().tolist()
            print(json.dumps(out))
        """)
        for name in SR_NAMES:
            np.testing.assert_allclose(np.asarray(got[name]).reshape(expected[name].shape), expected[name],
                                       atol=1e-4, err_msg=f"{name} on {other}")


def test_the_new_architectures_are_registered_and_documented_in_their_own_files():
    import inspect

    for name, cls_name in (("srcnn-x4", "SRCNN"), ("edsr-baseline-x4", "EDSR"), ("pan-x4", "PAN")):
        entry = zoo.get_entry(name)
        assert entry.class_name == cls_name and issubclass(entry.builder, SRModel)
        assert inspect.getmodule(entry.builder).__name__ == f"msrgan.models.{cls_name.lower()}"


@pytest.mark.one_backend  # the command-line path is the same on every backend; the networks are checked on each above
@pytest.mark.parametrize("name,options", [("srcnn-x4", ["filters=[8,4]"]),
                                          ("edsr-baseline-x4", ["num_blocks=1", "filters=8"]),
                                          ("pan-x4", ["num_blocks=1", "filters=8", "upsample_filters=4"])])
def test_a_new_architecture_trains_upscales_and_evaluates_from_the_command_line(name, options, tmp_path, capsys):
    import tifffile

    from msrgan.cli import main
    from msrgan.data.synthetic import synthesize_field

    run = tmp_path / "run"
    args = ["train", "--generator", name, "--count", "4", "--size", "48", "--channels", "1", "--scale", "2",
            "--patch-size", "24", "--batch-size", "2", "--val-size", "24", "--val-fraction", "0.25",
            "--discriminator-filters", "4", "--discriminator-dense", "8", "--pretrain-steps", "2", "--gan-steps", "1",
            "--steps-per-epoch", "3", "--jit-compile", "off", "--verbose", "0", "--no-tensorboard", "--out", str(run)]
    for option in options:
        args += ["--generator-option", option]
    assert main(args) == 0
    model = zoo.from_pretrained(run)
    assert type(model) is zoo.get_entry(name).builder and (model.channels, model.scale) == (1, 2)
    assert json_steps(run) == 3

    fields = tmp_path / "fields"
    fields.mkdir()
    for i in range(2):
        tifffile.imwrite(fields / f"f{i}.tif", synthesize_field(i, size=48, channels=1)[0][..., 0])
    assert main(["upscale", str(fields / "f0.tif"), "-o", str(tmp_path / "up"), "--model", str(run)]) == 0
    assert tifffile.imread(tmp_path / "up" / "f0_x2.tif").shape == (96, 96)
    assert main(["evaluate", "--model", str(run), "--data", str(fields), "--scale", "2", "--degradation", "bicubic",
                 "-o", str(tmp_path / "report")]) == 0
    assert "| bicubic |" in (tmp_path / "report" / "summary.md").read_text()


def json_steps(run) -> int:
    import json

    return json.loads((run / "config.json").read_text())["metadata"]["training"]["steps"]
