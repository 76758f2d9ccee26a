"""``TrainOptions``: the typed settings of a training run, their files, and the command line's use of them.

No training here (``tests/test_training.py`` trains): these check what options are made from, what
they refuse, and that the command line, the files and the library agree.
"""

from __future__ import annotations

import dataclasses
import json

import pytest

from msrgan.errors import UsageError
from msrgan.training.options import NOT_RECORDED, TrainOptions
from tests.helpers import command_parser

# One run's settings, written below as JSON, TOML and YAML.
SETTINGS = {"data": "varied", "data_params": {"oversampled_prob": 0.4, "psf": [0.8, 2.5]}, "count": 12, "size": 64,
            "channels": 1, "scale": 2, "patch_size": 32, "degradation": "microscope",
            "degradation_params": {"photons": 50}, "generator": "msrgan-x4-small",
            "generator_options": {"num_blocks": 2, "batch_norm": False}, "content": "vgg19-imagenet=none",
            "content_layers": "block1_conv2,block2_conv2", "layer_weights": [0.5, 1.0], "g_lr": 1e-4,
            "pretrain_lr": 5e-4, "ema": 0.999, "augment": False, "checkpoint_every": 0, "jit_compile": "off",
            "out": "runs/x2"}
TOML = """\
data = "varied"
data-params = { oversampled_prob = 0.4, psf = [0.8, 2.5] }
count = 12
size = 64
channels = 1
scale = 2
patch-size = 32
degradation = "microscope"
degradation_params = { photons = 50 }
generator = "msrgan-x4-small"
generator-options = { num_blocks = 2, batch_norm = false }
content = "vgg19-imagenet=none"
content-layers = "block1_conv2,block2_conv2"
layer-weights = [0.5, 1.0]
g-lr = 1e-4
pretrain-lr = 5e-4
ema = 0.999
augment = false
checkpoint-every = 0  # TOML has no null
jit-compile = "off"
out = "runs/x2"
"""
# YAML 1.1 (PyYAML) reads 1e-4 and 5e-4, without a dot, as strings: they must still be numbers here.
YAML = """\
data: varied
data_params: {oversampled_prob: 0.4, psf: [0.8, 2.5]}
count: 12
size: 64
channels: 1
scale: 2
patch-size: 32
degradation: microscope
degradation_params: {photons: 50}
generator: msrgan-x4-small
generator_options: {num_blocks: 2, batch_norm: false}
content: vgg19-imagenet=none
content_layers: block1_conv2,block2_conv2
layer_weights: [0.5, 1.0]
g_lr: 1e-4
pretrain-lr: 5e-4
ema: 0.999
augment: false
checkpoint_every: 0
jit_compile: "off"
out: runs/x2
"""


def test_defaults_are_the_command_lines():
    parser, train = command_parser("train")
    args = parser.parse_args(["train", "--out", "runs/x"])
    flags = {k: v for k, v in vars(args).items() if k not in ("func", "command")}
    assert TrainOptions.resolve(flags) == TrainOptions(out="runs/x")
    # every flag is a setting and every setting a flag (the KEY=VALUE flags fill the *_params/options)
    dests = {a.dest for a in train._actions} - {"help", "config", "quiet", "verbosity"}
    dests = {{"data_param": "data_params", "degradation_param": "degradation_params",
              "generator_option": "generator_options"}.get(d, d) for d in dests}
    assert dests == set(TrainOptions.names())
    d = TrainOptions()
    assert (d.data, d.channels, d.scale, d.patch_size, d.batch_size, d.generator, d.g_lr, d.d_lr) == \
        ("synthetic", 3, 4, 96, 16, "msrgan-x4", 1e-4, 1e-3)
    assert TrainOptions.defaults() == {k: getattr(d, k) for k in TrainOptions.names()}


def test_json_toml_and_yaml_files_make_the_same_options(tmp_path):
    (tmp_path / "run.json").write_text(json.dumps(SETTINGS))
    (tmp_path / "run.toml").write_text(TOML)
    (tmp_path / "run.yaml").write_text(YAML)
    (tmp_path / "run.yml").write_text(YAML)
    expected = TrainOptions(**SETTINGS)
    for name in ("run.json", "run.toml", "run.yaml", "run.yml"):
        assert TrainOptions.from_file(tmp_path / name) == expected, name
    assert expected.g_lr == 1e-4 and isinstance(TrainOptions.from_file(tmp_path / "run.yaml").g_lr, float)
    assert expected.checkpoint_every == 0 and expected.count == 12  # the file's value, not the default's


def test_an_unknown_setting_in_a_file_is_named_with_the_file(tmp_path):
    cfg = tmp_path / "run.toml"
    cfg.write_text('count = 4\nlearning-rate = 3\n')
    with pytest.raises(ValueError, match=r"'learning_rate'.*run\.toml") as err:
        TrainOptions.from_file(cfg)
    assert not isinstance(err.value, UsageError)  # a file's fault: an input error
    cfg.write_text('gan-step = 4\n')
    with pytest.raises(ValueError, match=r"'gan_step' \(did you mean 'gan_steps'\?\) in .*run\.toml"):
        TrainOptions.from_file(cfg)
    with pytest.raises(ValueError, match="'learning_rate'"):
        TrainOptions.from_dict({"learning_rate": 3})
    with pytest.raises(ValueError, match="'learning_rate'"):
        TrainOptions().replace(learning_rate=3)
    with pytest.raises(TypeError, match="learning_rate"):
        TrainOptions(learning_rate=3)
    cfg = tmp_path / "run.ini"
    cfg.write_text("[x]\n")
    with pytest.raises(ValueError, match=r"run\.ini must end in \.json, \.toml, \.yaml or \.yml"):
        TrainOptions.from_file(cfg)


@pytest.mark.parametrize("setting, value, what", [
    ("batch_size", 0, "an integer >= 1"), ("scale", 3, "one of [2, 4, 8]"), ("ema", 1.5, "< 1"),
    ("g_lr", 0, "> 0"), ("augment", "yes", "true or false"), ("log_every", 0, ">= 1"),
    ("tensorboard", "off", "true or false"), ("data_params", [1, 2], "a table"),
    ("jit_compile", "maybe", "auto, on or off"), ("layer_weights", ["a"], "list of numbers"),
    ("content", "bogus=1", "minivgg19=PATH_OR_REPO"), ("degradation_params", {"photon": 3}, "photon"),
])
def test_a_value_out_of_range_is_named_with_its_setting(setting, value, what, tmp_path):
    with pytest.raises(UsageError, match=f"setting {setting}") as err:
        TrainOptions(**{setting: value})
    assert what in str(err.value) and repr(value) in str(err.value)
    with pytest.raises(UsageError, match=f"setting {setting}"):
        TrainOptions().replace(**{setting: value})
    # from a file: an input error naming the setting, the file and the value
    cfg = tmp_path / "bad.json"
    cfg.write_text(json.dumps({setting: value}))
    with pytest.raises(ValueError, match=f"setting {setting}") as err:
        TrainOptions.from_file(cfg)
    assert not isinstance(err.value, UsageError) and str(cfg) in str(err.value)


def test_settings_that_no_run_takes_together():
    with pytest.raises(UsageError, match="process_id .*need.* --distribute data-parallel"):
        TrainOptions(process_id=1)
    assert TrainOptions(distribute="data-parallel", process_id=1, num_processes=2).process_id == 1
    with pytest.raises(UsageError, match="photons"):  # bicubic takes no parameters
        TrainOptions(degradation_params={"photons": 50})
    assert TrainOptions(degradation="microscope", degradation_params={"photons": 50}).degradation_params == \
        {"photons": 50}


def test_normalization_choices_are_the_registrys():
    from msrgan.data.normalize import NORMALIZATIONS

    _, train = command_parser("train")
    flag = next(a for a in train._actions if a.dest == "normalization")
    assert flag.choices is NORMALIZATIONS
    assert {TrainOptions(normalization=n).normalization for n in NORMALIZATIONS} == set(NORMALIZATIONS)
    assert TrainOptions(normalization="range").normalization == "unit"  # an alias is recorded by its name
    with pytest.raises(UsageError, match="setting normalization must be one of"):
        TrainOptions(normalization="zscore")


def test_values_are_converted_and_the_options_frozen(tmp_path):
    o = TrainOptions(batch_size=8.0, g_lr=1, out=tmp_path / "run", data=tmp_path, content_layers=("a", "b"))
    assert (o.batch_size, o.g_lr, o.out, o.data) == (8, 1.0, str(tmp_path / "run"), str(tmp_path))
    assert type(o.batch_size) is int and type(o.g_lr) is float and o.content_layers == ["a", "b"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        o.batch_size = 4
    assert o.replace(batch_size=4).batch_size == 4 and o.batch_size == 8


def test_to_dict_round_trips_and_train_config_keeps_its_keys(tmp_path):
    from msrgan.training.config import write_config

    o = TrainOptions(**SETTINGS, overwrite=True)
    assert TrainOptions.from_dict(o.to_dict()) == o
    assert list(o.to_dict()) == list(TrainOptions.names())
    d = o.to_dict()
    d["data_params"]["psf"].append(9)  # a copy: the options do not change
    assert o.data_params["psf"] == [0.8, 2.5]
    # train_config.json: every setting but how this invocation treated OUT and where its processes ran;
    # read back by from_file
    record = o.run_record()
    assert set(NOT_RECORDED) == {"overwrite", "resume", "coordinator", "num_processes", "process_id"}
    assert set(record) == set(TrainOptions.names()) - set(NOT_RECORDED)
    write_config(tmp_path / "train_config.json", record)
    assert TrainOptions.from_file(tmp_path / "train_config.json") == o.replace(overwrite=False)


def test_the_command_line_resolves_defaults_then_file_then_flags(tmp_path):
    cfg = tmp_path / "run.toml"
    cfg.write_text('count = 4\nsize = 64\nbatch-size = 2\nout = "elsewhere"\n')
    flags = {"size": 128, "batch_size": None, "out": str(tmp_path / "o"), "func": print, "command": "train"}
    o = TrainOptions.resolve(flags, config=cfg)
    assert (o.count, o.size, o.batch_size, o.out, o.patch_size) == (4, 128, 2, str(tmp_path / "o"), 96)
    # where a wrong value came from decides the error: a flag is a usage error, the file an input error
    with pytest.raises(UsageError, match=r"setting batch_size \(from --batch-size\)"):
        TrainOptions.resolve({**flags, "batch_size": 0}, config=cfg)
    cfg.write_text('batch-size = 0\n')
    with pytest.raises(ValueError, match=rf"setting batch_size \(from config file {cfg}\)") as err:
        TrainOptions.resolve(flags, config=cfg)
    assert not isinstance(err.value, UsageError)
    with pytest.raises(UsageError, match="--out is required"):
        TrainOptions.resolve({"count": 4})


def test_train_takes_options_and_the_dict_form_is_checked_alike(tmp_path):
    from msrgan.training.pipeline import train, train_msrgan

    with pytest.raises(TypeError, match="TrainOptions"):
        train({"out": str(tmp_path / "o")})
    with pytest.raises(UsageError, match="out is required"):
        train(TrainOptions())
    with pytest.raises(UsageError, match="setting batch_size"):
        train_msrgan({"batch_size": 0, "out": str(tmp_path / "o")})
    assert not (tmp_path / "o").exists()


def test_key_value_flags():
    from msrgan.commands._args import key_values

    assert key_values(["photons=50", "clip=true", "psf=[0.8, 2.5]", "name=x=y"], "--p") == \
        {"photons": 50, "clip": True, "psf": [0.8, 2.5], "name": "x=y"}
    assert key_values(None, "--p") is None and key_values({"a": 1}, "--p") == {"a": 1}
    with pytest.raises(UsageError, match="--p must be KEY=VALUE, got 'photons'"):
        key_values(["photons"], "--p")
