"""The MSRGAN model, its per-backend train steps, the two-phase trainer, checkpoints and ``msrgan train``.

Tiny networks (1 channel, x2, 32-pixel HR patches) so each test takes seconds on every backend.
"""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest
from keras import ops

from msrgan.errors import EXIT_INPUT, EXIT_USAGE
from msrgan.models import Discriminator, Generator, ImageNetVGG19Features, MiniVGG19, MiniVGG19Features
from msrgan.training.checkpoints import latest_checkpoint, restore_checkpoint, save_checkpoint
from msrgan.training.gan import MSRGAN
from msrgan.training.trainer import epoch_plan, train_gan


def _networks(seed=0, extractor="minivgg19", d=True):
    keras.utils.set_random_seed(seed)
    g = Generator(num_blocks=1, filters=8, channels=1, scale=2, batch_norm=True)
    disc = Discriminator(channels=1, filters=4, dense_units=8) if d else None
    if extractor == "minivgg19":
        fx = MiniVGG19Features(MiniVGG19(channels=1, width=0.125), layers=("block2",))
    elif extractor == "vgg19":
        fx = ImageNetVGG19Features(layers=("block1_conv2",), weights=None, channels=1)
    else:
        fx = None
    return g, disc, fx


def _gan(seed=0, *, ema=None, extractor="minivgg19", adversarial="lsgan", d=True, gamma=1e-2, beta=0.1):
    g, disc, fx = _networks(seed, extractor, d)
    gan = MSRGAN(g, disc, fx, ema_decay=ema)
    gan.compile(keras.optimizers.Adam(2e-3), keras.optimizers.Adam(1e-3) if d else None, beta=beta, gamma=gamma,
                adversarial=adversarial, sample_shape=(16, 16))
    return gan


def _batch(seed=0, n=2):
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    hr = gaussian_filter(rng.random((n, 32, 32, 1)), sigma=(0, 1.5, 1.5, 0))
    hr = ((hr - hr.min()) / (hr.max() - hr.min())).astype("float32")
    lr = hr.reshape(n, 16, 2, 16, 2, 1).mean(axis=(2, 4)).astype("float32")
    return lr, hr


def _snapshot(variables):
    return [np.array(ops.convert_to_numpy(v.value)) for v in variables]


def _changed(before, after):
    return [not np.array_equal(a, b) for a, b in zip(before, after)]


@pytest.mark.parametrize("phase,expect", [
    ("discriminator", {"g": False, "d": True}),
    ("generator", {"g": True, "d": False}),
    ("pretrain", {"g": True, "d": False}),
    ("gan", {"g": True, "d": True}),
])
def test_each_step_changes_only_its_network(phase, expect):
    gan = _gan()
    lr, hr = _batch()
    nets = {"g": gan.generator, "d": gan.discriminator, "e": gan.extractor}
    before = {k: _snapshot(n.weights) for k, n in nets.items()}
    gan.set_phase(phase)
    gan.fit(lr, hr, batch_size=2, epochs=1, verbose=0, shuffle=False)
    after = {k: _snapshot(n.weights) for k, n in nets.items()}
    assert not any(_changed(before["e"], after["e"])), "the extractor must never change"
    for k in ("g", "d"):
        changed = _changed(before[k], after[k])
        if expect[k]:
            # every trainable weight moves, and the BatchNorm statistics too
            assert all(changed[: len(nets[k].trainable_weights)]), f"{phase}: some {k} weights did not change"
            assert any(changed[len(nets[k].trainable_weights):]), f"{phase}: {k}'s BatchNorm statistics did not move"
        else:
            assert not any(changed), f"{phase} step changed {k}'s weights"
    assert gan.step == 1


def test_pretrain_loss_is_the_mse_and_logs_all_metrics():
    gan = _gan()
    lr, hr = _batch()
    logs = gan.fit(lr, hr, batch_size=2, epochs=1, verbose=0).history
    assert sorted(logs) == ["adversarial", "content", "d_loss", "g_loss", "mse", "psnr"]
    assert logs["g_loss"][0] == pytest.approx(logs["mse"][0])
    assert logs["content"][0] == 0.0 and logs["d_loss"][0] == 0.0


def test_phase_one_can_use_its_own_generator_optimizer():
    from msrgan.training.trainer import PretrainSchedule

    g, disc, fx = _networks()
    gan = MSRGAN(g, disc, fx)
    pre = keras.optimizers.Adam(PretrainSchedule(1e-3, 2, decay="step", final_fraction=0.5))
    gan.compile(keras.optimizers.Adam(1e-4), keras.optimizers.Adam(1e-3), pretrain_optimizer=pre, gamma=1e-2,
                sample_shape=(16, 16))
    lr, hr = _batch()
    gan.fit(lr, hr, batch_size=2, epochs=2, verbose=0)
    assert (int(pre.iterations), int(gan.g_optimizer.iterations)) == (2, 0)
    assert float(pre.learning_rate) == pytest.approx(5e-4)  # the schedule at update 2
    gan.set_phase("gan")
    gan.fit(lr, hr, batch_size=2, epochs=1, verbose=0)
    assert (int(pre.iterations), int(gan.g_optimizer.iterations), int(gan.d_optimizer.iterations)) == (2, 1, 1)
    assert gan.step == 3
    with pytest.raises(ValueError, match="own optimizer"):
        MSRGAN(*_networks()).compile(gan.g_optimizer, keras.optimizers.Adam(), pretrain_optimizer=gan.g_optimizer)


def test_loss_falls_on_a_fixed_batch():
    gan = _gan()
    batch = _batch()
    history = train_gan(gan, lambda step: batch, pretrain_steps=20, gan_steps=20, steps_per_epoch=5, verbose=0)
    pre = [h for h in history if h["phase"] == "pretrain"]
    adv = [h for h in history if h["phase"] == "gan"]
    assert pre[-1]["mse"] < 0.5 * pre[0]["mse"]
    assert adv[-1]["g_loss"] < adv[0]["g_loss"]
    assert adv[-1]["d_loss"] > 0 and all(np.isfinite(h["g_loss"]) for h in history)
    assert [h["step"] for h in history] == [5, 10, 15, 20, 25, 30, 35, 40]


def test_epoch_plan_restarts_at_the_phase_change():
    assert epoch_plan(3, 4, 2) == [(0, "pretrain", 0, 2), (1, "pretrain", 2, 3), (2, "gan", 3, 5), (3, "gan", 5, 7)]
    with pytest.raises(ValueError, match="steps_per_epoch"):
        epoch_plan(1, 1, 0)


class _Interrupt(keras.callbacks.Callback):
    def __init__(self, at):
        super().__init__()
        self.at, self.n = at, 0

    def on_train_begin(self, logs=None):
        self.n = self.model.step

    def on_train_batch_end(self, batch, logs=None):
        self.n += 1
        if self.n == self.at:
            raise KeyboardInterrupt("simulated interruption")


def test_resumed_run_equals_uninterrupted_run(tmp_path):
    batches = [_batch(seed=s) for s in range(4)]

    def source(step):
        return batches[step % 4]

    plan = dict(pretrain_steps=3, gan_steps=5, steps_per_epoch=2, verbose=0)
    full = _gan(seed=1, ema=0.9)
    train_gan(full, source, **plan)

    first = _gan(seed=1, ema=0.9)
    with pytest.raises(KeyboardInterrupt):
        # checkpoints at steps 3 (the phase change) and 6 (mid-epoch); stopped during step 7
        train_gan(first, source, checkpoint_dir=tmp_path, checkpoint_every=3, callbacks=[_Interrupt(7)], **plan)
    assert latest_checkpoint(tmp_path).name == "step-00000006"

    # Other initial weights: G, D, EMA and optimizer state must all come from the checkpoint. The
    # frozen extractor is not in checkpoints (it comes from its own pretrained source): reuse it.
    resumed = _gan(seed=99, ema=0.9)
    for dst, src in zip(resumed.extractor.weights, full.extractor.weights):
        dst.assign(ops.copy(src.value))
    logs = train_gan(resumed, source, checkpoint_dir=tmp_path, resume=True, **plan)
    assert resumed.step == full.step == 8
    assert [h["step"] for h in logs] == [7, 8]
    for a, b, v in zip(_snapshot(full.checkpoint_variables()), _snapshot(resumed.checkpoint_variables()),
                       full.checkpoint_variables()):
        np.testing.assert_allclose(b, a, atol=1e-5, rtol=0, err_msg=v.path)
    # the final checkpoint of the resumed run is the finished state
    assert latest_checkpoint(tmp_path).name == "step-00000008"


def test_checkpoint_of_another_architecture_is_refused(tmp_path):
    gan = _gan()
    path = save_checkpoint(gan, tmp_path)
    other = _gan(ema=0.99)  # EMA adds variables
    with pytest.raises(ValueError, match="variable"):
        restore_checkpoint(other, path)


def test_ema_follows_the_warmed_up_decay():
    gan = _gan(ema=0.999)
    lr, hr = _batch()
    w0 = _snapshot(gan.generator.trainable_variables)
    gan.fit(lr, hr, batch_size=2, epochs=1, verbose=0)
    w1 = _snapshot(gan.generator.trainable_variables)
    decay = min(0.999, 1.0 / 10.0)  # first update: (1 + 0) / (10 + 0)
    for e, a, b in zip(_snapshot(gan.ema_weights), w0, w1):
        np.testing.assert_allclose(e, decay * a + (1 - decay) * b, rtol=1e-5, atol=1e-6)
    ema_g = gan.ema_generator()
    assert ema_g is not gan.generator
    for e, v in zip(_snapshot(gan.ema_weights), _snapshot(ema_g.trainable_variables)):
        np.testing.assert_array_equal(e, v)


@pytest.mark.parametrize("extractor,adversarial", [("minivgg19", "vanilla"), ("vgg19", "hinge")])
def test_training_runs_with_each_content_extractor(extractor, adversarial):
    gan = _gan(extractor=extractor, adversarial=adversarial, beta=1.0)
    e_before = _snapshot(gan.extractor.weights)
    gan.set_phase("gan")
    lr, hr = _batch()
    logs = gan.fit(lr, hr, batch_size=2, epochs=2, verbose=0).history
    assert all(c > 0 and np.isfinite(c) for c in logs["content"])
    assert all(np.isfinite(x) for x in logs["d_loss"] + logs["adversarial"])
    assert not any(_changed(e_before, _snapshot(gan.extractor.weights)))


def test_generator_only_model_and_bad_settings():
    g, _, _ = _networks(d=False, extractor=None)
    gan = MSRGAN(g)
    gan.compile(keras.optimizers.Adam(1e-3))
    with pytest.raises(ValueError, match="discriminator"):
        gan.set_phase("gan")
    with pytest.raises(ValueError, match="phase"):
        gan.set_phase("warmup")
    with pytest.raises(ValueError, match="ema_decay"):
        MSRGAN(g, ema_decay=1.5)
    wrong = Discriminator(channels=3, filters=4, dense_units=8)
    with pytest.raises(ValueError, match="channel"):
        MSRGAN(Generator(num_blocks=1, filters=8, channels=1, scale=2), wrong).compile(sample_shape=(16, 16))
    with pytest.raises(ValueError, match="lr, hr"):
        gan.fit(np.zeros((2, 16, 16, 1), "float32"), epochs=1, batch_size=2, verbose=0)
    with pytest.raises(ValueError, match="checkpoint_dir"):  # nothing to resume from: not a silent fresh start
        train_gan(gan, lambda step: _batch(), pretrain_steps=1, gan_steps=0, steps_per_epoch=1, resume=True, verbose=0)


def test_mixed_precision_bfloat16_step():
    if keras.backend.backend() == "torch":
        # Deliberate: PyTorch's CPU bfloat16 convolution (slow_conv2d) requires a contiguous weight
        # gradient, and the convolution weights torch receives here are channels-last views
        # ("grad_weight must be contiguous"). Mixed precision is for GPUs, where cuDNN takes any
        # layout; TensorFlow and JAX run this test on CPU.
        pytest.skip("bfloat16 conv backward is not supported by PyTorch on CPU")
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        gan = _gan()
        assert gan.generator.compute_dtype == "bfloat16"
        assert all(v.dtype == "float32" for v in gan.generator.weights)
        gan.set_phase("gan")
        lr, hr = _batch()
        logs = gan.fit(lr, hr, batch_size=2, epochs=1, verbose=0).history
        assert all(np.isfinite(v[0]) for v in logs.values())
    finally:
        keras.config.set_dtype_policy("float32")


def test_train_command_end_to_end(tmp_path, capsys):
    from msrgan.cli import main

    out = tmp_path / "run"
    args = ["train", "--count", "6", "--size", "64", "--channels", "1", "--generator", "msrgan-x4-small",
            "--generator-option", "num_blocks=1", "--generator-option", "filters=8", "--scale", "2",
            "--patch-size", "32", "--batch-size", "2", "--val-size", "32", "--val-fraction", "0.34",
            "--discriminator-filters", "4", "--discriminator-dense", "8",
            "--content", "vgg19-imagenet=none", "--content-layers", "block1_conv2", "--gamma", "1e-3",
            "--pretrain-steps", "2", "--gan-steps", "2", "--steps-per-epoch", "2", "--checkpoint-every", "3",
            "--ema", "0.9", "--log-every", "1", "--verbose", "0", "--jit-compile", "off", "--out", str(out)]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert "bicubic" in printed and "msrgan" in printed
    # train_config.json records the run's settings as TrainOptions reads them back
    from msrgan.training.options import TrainOptions

    recorded = json.loads((out / "train_config.json").read_text())
    assert TrainOptions.from_file(out / "train_config.json").run_record() == recorded
    from msrgan.models import Generator as G

    g = G.from_pretrained(out)
    assert (g.channels, g.scale, g.num_blocks) == (1, 2, 1)
    meta = json.loads((out / "config.json").read_text())["metadata"]["training"]
    assert meta["steps"] == 4 and meta["losses"]["gamma"] == 1e-3
    assert set(meta["validation"]) >= {"msrgan", "bicubic", "convention"}
    # the model card carries the run's validation scores
    saved = json.loads((out / "config.json").read_text())["metadata"]
    assert saved["metrics"]["psnr"] == pytest.approx(meta["validation"]["msrgan"]["psnr"])
    card = (out / "README.md").read_text()
    assert "No evaluation recorded" not in card and "PSNR (dB)" in card
    assert (out / "logs" / "steps.csv").is_file() and (out / "logs" / "epochs.csv").is_file()
    assert sorted(p.name for p in (out / "grids").iterdir()) == ["epoch-001.png", "epoch-002.png"]
    assert [p.name for p in (out / "checkpoints").iterdir() if p.name.startswith("step-")] == ["step-00000003",
                                                                                              "step-00000004"]
    epochs = (out / "logs" / "epochs.csv").read_text().splitlines()
    assert "val_psnr" in epochs[0] and len(epochs) == 3

    # an existing run is not overwritten by accident
    assert main(args) == EXIT_INPUT
    assert "--overwrite" in capsys.readouterr().err
    # resuming with more adversarial steps continues from step 4
    resume = args[:args.index("--gan-steps") + 1] + ["4"] + args[args.index("--gan-steps") + 2:] + ["--resume"]
    # a resume that would not continue the same training is refused, naming the setting
    assert main(resume + ["--alpha", "0.5"]) == EXIT_INPUT
    assert "alpha" in capsys.readouterr().err
    assert main(resume) == 0
    meta = json.loads((out / "config.json").read_text())["metadata"]["training"]
    assert meta["steps"] == 6
    assert len((out / "logs" / "epochs.csv").read_text().splitlines()) == 4
    # the documented way: the run's own train_config.json, plus more adversarial steps
    assert main(["train", "--config", str(out / "train_config.json"), "--resume", "--gan-steps", "5"]) == 0
    assert json.loads((out / "config.json").read_text())["metadata"]["training"]["steps"] == 7


def test_train_is_a_library_call(tmp_path):
    from msrgan.training.options import TrainOptions
    from msrgan.training.pipeline import train

    options = TrainOptions(count=4, size=32, channels=1, scale=2, generator="msrgan-x4-small",
                           generator_options={"num_blocks": 1, "filters": 8}, patch_size=16, batch_size=2,
                           val_size=16, val_fraction=0.25, pretrain_steps=2, gan_steps=0, steps_per_epoch=2,
                           tensorboard=False, checkpoint_every=0, jit_compile="off", verbose=0, out=tmp_path / "run")
    result = train(options)
    assert result["steps"] == 2 and "bicubic" in result["table"] and len(result["history"]) == 1
    assert json.loads((tmp_path / "run" / "train_config.json").read_text()) == options.run_record()
    assert TrainOptions.from_file(tmp_path / "run" / "train_config.json") == options
    assert Generator.from_pretrained(tmp_path / "run").num_blocks == 1


def test_grid_images_zero_draws_no_grid(tmp_path):
    """``msrgan train --grid-images 0``: no comparison grid, neither PNG nor TensorBoard image (it failed with
    "need at least one array to concatenate")."""
    from msrgan.cli import main
    from msrgan.training.validation import ValidationMonitor

    out = tmp_path / "run"
    assert main(["train", "--count", "4", "--size", "32", "--channels", "1", "--scale", "2", "--generator",
                 "msrgan-x4-small", "--generator-option", "num_blocks=1", "--generator-option", "filters=8",
                 "--patch-size", "16", "--batch-size", "2", "--val-size", "16", "--val-fraction", "0.25",
                 "--pretrain-steps", "2", "--gan-steps", "0", "--steps-per-epoch", "2", "--checkpoint-every", "0",
                 "--jit-compile", "off", "--verbose", "0", "--grid-images", "0", "--out", str(out)]) == 0
    assert not (out / "grids").exists()
    assert json.loads((out / "train_config.json").read_text())["grid_images"] == 0
    assert (out / "logs" / "epochs.csv").is_file()  # the epoch's validation still ran
    lr, hr = _batch()
    with pytest.raises(ValueError, match="grid_images must be >= 0"):
        ValidationMonitor(lr, hr, scale=2, grid_images=-1)

def test_train_command_config_file_and_errors(tmp_path, capsys):
    from msrgan.cli import main

    cfg = tmp_path / "train.toml"
    cfg.write_text('count = 4\nsize = 64\nchannels = 1\nlearning-rate = 3\n')
    assert main(["train", "--config", str(cfg), "--out", str(tmp_path / "o")]) == EXIT_INPUT
    assert "learning_rate" in capsys.readouterr().err
    assert main(["train", "--config", str(tmp_path / "missing.json"), "--out", str(tmp_path / "o")]) == EXIT_INPUT
    assert "missing.json" in capsys.readouterr().err
    assert main(["train", "--count", "4", "--size", "64"]) == EXIT_USAGE
    assert "--out" in capsys.readouterr().err
    # an extractor that needs its argument (minivgg19=PATH) is refused before any data is read
    assert main(["train", "--content", "minivgg19", "--out", str(tmp_path / "c")]) == EXIT_USAGE
    assert "minivgg19=PATH_OR_REPO" in capsys.readouterr().err and not (tmp_path / "c").exists()
    # --resume needs a checkpoint to continue from; a folder without one is not trained from scratch
    assert main(["train", "--count", "4", "--size", "64", "--resume", "--out", str(tmp_path / "none")]) == EXIT_INPUT
    assert "no checkpoint" in capsys.readouterr().err
    assert not (tmp_path / "none").exists()


def test_count_defaults_to_all_images_of_a_folder():
    from msrgan.training.config import data_count

    assert data_count("synthetic", None, 64) == 64       # synthetic: the command's default draw
    assert data_count("/data/cyto2017", None, 64) is None  # a folder or dataset: every image, not the first 64
    assert data_count("/data/cyto2017", 10, 64) == 10
