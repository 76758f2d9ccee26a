"""The miniVGG19 classifier: training on synthetic classes, the report, and ``msrgan train-classifier``."""

from __future__ import annotations

import dataclasses
import json
import pathlib

import numpy as np
import pytest

from msrgan.errors import EXIT_INPUT, EXIT_USAGE, UsageError
from msrgan.training.classifier import (ClassifierBatches, ClassifierOptions, center_crops, classification_report,
                                        confusion_matrix, format_confusion, prepare_images, train_and_save,
                                        train_classifier)
from tests.helpers import ROOT, command_parser

# Four localization classes with distinct protein patterns, drawn as the protein channel alone.
CLASSES = ("nucleoplasm", "plasma_membrane", "microtubules", "centrosome")


def _fields(per_class, seed):
    from msrgan.data.synthetic import CLASS_NAMES, synthesize_field

    images, labels = [], []
    for k, name in enumerate(CLASSES):
        for i in range(per_class):
            img, _ = synthesize_field(seed * 1000 + k * 100 + i, size=32, channels=1, label=CLASS_NAMES.index(name))
            images.append(img)
            labels.append(k)
    return prepare_images(images), np.asarray(labels)


def test_confusion_matrix_counts_rows_true_columns_predicted():
    cm = confusion_matrix([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 0, 2], num_classes=3)
    np.testing.assert_array_equal(cm, [[1, 1, 0], [0, 1, 0], [1, 0, 2]])
    assert cm.sum() == 6


def test_prepare_images_percentile_and_unit():
    img = np.arange(64 * 64, dtype=np.uint16).reshape(64, 64, 1)
    (p,) = prepare_images([img], "percentile")
    (u,) = prepare_images([img], "unit")
    assert p.dtype == np.float32 and p.min() == 0.0 and p.max() == 1.0
    np.testing.assert_allclose(u, img / 65535.0, rtol=1e-6)
    with pytest.raises(ValueError, match="normalization"):
        prepare_images([img], "zscore")
    with pytest.raises(ValueError, match=r"images\[0\]"):
        prepare_images([np.zeros((4, 4))])


def test_batches_are_deterministic_and_labelled():
    images = [np.full((40, 40, 1), i / 10, np.float32) for i in range(5)]
    ds = ClassifierBatches(images, np.arange(5), crop=32, batch_size=8, seed=3)
    x1, y1 = ds[2]
    x2, y2 = ClassifierBatches(images, np.arange(5), crop=32, batch_size=8, seed=3)[2]
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(y1, y2)
    # each crop comes from the image its label names
    np.testing.assert_allclose(x1[:, 0, 0, 0], y1 / 10, rtol=1e-6)
    with pytest.raises(ValueError, match="smaller than the crop"):
        ClassifierBatches(images, np.arange(5), crop=48)
    assert center_crops(images, 32).shape == (5, 32, 32, 1)


def test_classifier_learns_synthetic_classes_above_chance():
    x_train, y_train = _fields(12, seed=1)
    x_val, y_val = _fields(6, seed=2)
    model, report = train_classifier(x_train, y_train, x_val, y_val, class_names=CLASSES, crop=32, width=0.125,
                                     steps=200, steps_per_epoch=100, batch_size=16, learning_rate=3e-3, seed=0,
                                     verbose=0)
    chance = 1 / len(CLASSES)
    assert report["accuracy"] >= 2 * chance, format_confusion(report)
    cm = np.asarray(report["confusion_matrix"])
    assert cm.shape == (4, 4) and cm.sum() == len(y_val)
    assert report["accuracy"] == pytest.approx(np.trace(cm) / cm.sum())
    again = classification_report(model, x_val, y_val, CLASSES)
    assert again["confusion_matrix"] == report["confusion_matrix"]
    text = format_confusion(report)
    assert "centrosome" in text and "recall" in text
    assert len(report["history"]) == 2 and "val_accuracy" in report["history"][-1]
    assert report["steps"] == 200  # two whole epochs of 100


def test_train_classifier_command_saves_a_usable_extractor(tmp_path, capsys):
    from msrgan.cli import main
    from msrgan.models import MiniVGG19, load_extractor

    out = tmp_path / "minivgg19"
    args = ["train-classifier", "--count", "26", "--size", "32", "--crop", "32", "--width", "0.125", "--steps", "3",
            "--steps-per-epoch", "3", "--batch-size", "4", "--val-fraction", "0.5", "--verbose", "0", "--out", str(out)]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "top-1 accuracy" in printed and f"minivgg19={out}" in printed
    report = json.loads((out / "report.json").read_text())
    assert np.asarray(report["confusion_matrix"]).shape == (13, 13)
    assert report["val_images"] == 13 and 0.0 <= report["val_accuracy"] <= 1.0
    meta = json.loads((out / "config.json").read_text())["metadata"]
    assert meta["training"]["val_accuracy"] == report["val_accuracy"]
    # train_config.json records the settings as ClassifierOptions reads them back
    recorded = ClassifierOptions.from_file(out / "train_config.json")
    assert json.loads((out / "train_config.json").read_text()) == recorded.run_record()
    assert (recorded.steps, recorded.width, recorded.out, recorded.overwrite) == (3, 0.125, str(out), False)
    assert len(meta["class_names"]) == 13
    model = MiniVGG19.from_pretrained(out)
    assert (model.width, model.channels) == (0.125, 3)
    fx = load_extractor(f"minivgg19={out}", channels=3, layers=("block3",))
    (f,) = fx(np.zeros((1, 32, 32, 3), "float32"))
    assert tuple(f.shape) == (1, 8, 8, 32)

    assert main(args) == EXIT_INPUT
    assert "--overwrite" in capsys.readouterr().err
    assert main(args[:-2] + ["--config", str(tmp_path / "nope.toml"), "--out", str(out)]) == EXIT_INPUT


def test_classifier_options_are_the_command_lines():
    parser, command = command_parser("train-classifier")
    args = parser.parse_args(["train-classifier", "--out", "runs/c"])
    assert ClassifierOptions.resolve(vars(args)) == ClassifierOptions(out="runs/c")
    dests = {a.dest for a in command._actions} - {"help", "config", "quiet", "verbosity"}
    assert dests == set(ClassifierOptions.names())  # every flag is a setting and every setting a flag
    d = ClassifierOptions()
    assert (d.size, d.crop, d.width, d.steps, d.batch_size, d.lr, d.val_fraction) == (64, 64, 0.25, 600, 32, 2e-3, 0.2)
    assert ClassifierOptions.defaults() == {k: getattr(d, k) for k in ClassifierOptions.names()}
    assert ClassifierOptions(normalization="range").normalization == "unit"  # an alias is recorded by its name
    o = ClassifierOptions(steps=3.0, lr=1, out=pathlib.Path("runs/c"))
    assert (type(o.steps), type(o.lr), o.out) == (int, float, "runs/c")
    with pytest.raises(dataclasses.FrozenInstanceError):
        o.steps = 4
    assert o.replace(steps=4).steps == 4 and ClassifierOptions.from_dict(o.to_dict()) == o
    assert set(o.run_record()) == set(ClassifierOptions.names()) - {"overwrite"}


def test_classifier_options_files_and_the_preset_config(tmp_path):
    settings = {"count": 1300, "width": 0.125, "lr": 2e-3, "augment": False, "out": "runs/m"}
    (tmp_path / "c.json").write_text(json.dumps(settings))
    (tmp_path / "c.toml").write_text('count = 1300\nwidth = 0.125\nlr = 2e-3\naugment = false\nout = "runs/m"\n')
    (tmp_path / "c.yaml").write_text("count: 1300\nwidth: 0.125\nlr: 2e-3\naugment: false\nout: runs/m\n")
    for name in ("c.json", "c.toml", "c.yaml"):  # YAML reads 2e-3 as a string: still the number
        assert ClassifierOptions.from_file(tmp_path / name) == ClassifierOptions(**settings), name
    preset = ClassifierOptions.from_file(ROOT / "scripts" / "presets" / "minivgg19-rgb.json")
    assert (preset.count, preset.width, preset.steps, preset.augment) == (1300, 0.125, 500, False)


@pytest.mark.parametrize("setting, value, what", [
    ("steps", 0, "an integer >= 1"), ("channels", 2, "one of [1, 3, 4]"), ("val_fraction", 1.0, "< 1"),
    ("lr", 0, "> 0"), ("augment", "no", "true or false"), ("jit_compile", "maybe", "auto, on or off"),
    ("normalization", "zscore", "one of"), ("size", 16, ">= 32"),
])
def test_a_wrong_classifier_setting_is_named(setting, value, what, tmp_path, capsys):
    with pytest.raises(UsageError, match=f"setting {setting}") as err:
        ClassifierOptions(**{setting: value})
    assert what in str(err.value) and repr(value) in str(err.value)
    cfg = tmp_path / "bad.json"  # from a file: an input error naming the setting and the file
    cfg.write_text(json.dumps({setting: value}))
    with pytest.raises(ValueError, match=f"setting {setting}") as err:
        ClassifierOptions.from_file(cfg)
    assert not isinstance(err.value, UsageError) and str(cfg) in str(err.value)
    # the command refuses it before anything is read or written
    from msrgan.cli import main

    assert main(["train-classifier", "--config", str(cfg), "--out", str(tmp_path / "o")]) == EXIT_INPUT
    assert f"setting {setting}" in capsys.readouterr().err and not (tmp_path / "o").exists()


def test_unknown_classifier_settings_and_the_library_call(tmp_path, capsys):
    from msrgan.cli import main

    cfg = tmp_path / "c.toml"
    cfg.write_text("step = 4\n")
    with pytest.raises(ValueError, match=r"'step' \(did you mean 'steps'\?\) in .*c\.toml; the settings are msrgan "
                                         r"train-classifier's long flag names"):
        ClassifierOptions.from_file(cfg)
    with pytest.raises(TypeError, match="learning_rate"):
        ClassifierOptions(learning_rate=3)
    with pytest.raises(ValueError, match="'learning_rate'"):
        train_and_save({"learning_rate": 3}, tmp_path / "o")
    with pytest.raises(UsageError, match="setting batch_size"):
        train_and_save({"batch_size": 0}, tmp_path / "o")
    with pytest.raises(UsageError, match="out is required"):
        train_and_save(ClassifierOptions())
    assert main(["train-classifier", "--steps", "0", "--out", str(tmp_path / "o")]) == EXIT_USAGE
    assert "setting steps (from --steps)" in capsys.readouterr().err
    assert main(["train-classifier", "--count", "26"]) == EXIT_USAGE
    assert "--out is required" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
