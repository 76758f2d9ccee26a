"""Data-parallel training with keras.distribution (JAX) matches single-device training."""

from __future__ import annotations

import numpy as np
import pytest

from msrgan.errors import EXIT_USAGE
from tests.helpers import run_in_backend

TRAIN = """
import json
import numpy as np
import keras
from msrgan.models import Discriminator, Generator, MiniVGG19, MiniVGG19Features
from msrgan.training.distribute import check_global_batch, enable_data_parallel
from msrgan.training.gan import MSRGAN
from msrgan.training.trainer import train_gan

rng = np.random.default_rng(0)
hr = rng.random((2, 8, 32, 32, 1), dtype=np.float32)          # 2 distinct global batches of 8
lr = hr.reshape(2, 8, 16, 2, 16, 2, 1).mean(axis=(3, 5))

def run():
    keras.utils.set_random_seed(0)
    g = Generator(num_blocks=1, filters=8, channels=1, scale=2)
    d = Discriminator(channels=1, filters=4, dense_units=8)
    fx = MiniVGG19Features(MiniVGG19(channels=1, width=0.0625), layers=("block2",))
    gan = MSRGAN(g, d, fx)
    gan.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3), sample_shape=(16, 16))
    weights = lambda: {v.path.split("/", 1)[1]: keras.ops.convert_to_numpy(v.value).tolist()
                       for v in g.weights + d.weights}
    init = weights()
    train_gan(gan, (lr, hr), pretrain_steps=2, gan_steps=2, steps_per_epoch=2, verbose=0)
    return {"replicas": len(g.weights[0].value.sharding.device_set), "init": init, "trained": weights()}

single = run()                      # one device
dist = enable_data_parallel()       # then the same run, data-parallel over every device
check_global_batch(8, dist)
parallel = run()
print(json.dumps({"devices": len(keras.distribution.list_devices()), "single": single, "parallel": parallel}))
"""

FOUR_CPUS = {"XLA_FLAGS": "--xla_force_host_platform_device_count=4", "JAX_PLATFORMS": "cpu"}


def _max_diff(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max(float(np.max(np.abs(np.asarray(a[k]) - np.asarray(b[k])))) for k in a)


def test_data_parallel_matches_single_device_on_the_same_global_batch(backend):
    # Deliberate skip off JAX: the check runs in its own JAX subprocess with 4 virtual devices,
    # so one run (in the JAX session of scripts/test.sh) covers it; the other sessions would repeat it.
    if backend != "jax":
        pytest.skip("runs once, in the KERAS_BACKEND=jax session (its subprocess uses JAX)")
    out = run_in_backend("jax", TRAIN, env=FOUR_CPUS, timeout=600)
    single, parallel = out["single"], out["parallel"]
    assert out["devices"] == 4
    assert single["replicas"] == 1 and parallel["replicas"] == 4  # variables live on all 4 devices
    assert _max_diff(single["init"], parallel["init"]) == 0.0      # same seed, same start
    worst = _max_diff(single["trained"], parallel["trained"])
    # Same math, different reduction order across devices: float32 rounding only.
    assert worst < 1e-4
    # Training moved the weights far more than that, so the comparison is meaningful.
    assert _max_diff(single["init"], single["trained"]) > 100 * worst


def test_data_parallel_is_refused_with_a_clear_error_off_jax(backend):
    from msrgan.training.distribute import enable_data_parallel

    if backend == "jax":  # deliberate: on JAX there is no error to check (the tests above train)
        pytest.skip("JAX supports keras.distribution; the other sessions check the error")
    with pytest.raises(ValueError, match=f"KERAS_BACKEND=jax.*{backend}"):
        enable_data_parallel()


def test_global_batch_must_split_over_devices():
    from msrgan.training.distribute import check_global_batch

    class FakeMesh:
        class devices:
            size = 4

    class FakeDistribution:
        device_mesh = FakeMesh

    check_global_batch(8, FakeDistribution())
    with pytest.raises(ValueError, match="batch size 6 does not split over 4 devices"):
        check_global_batch(6, FakeDistribution())


def test_train_command_distribute_data_parallel(backend, tmp_path):
    """``msrgan train --distribute data-parallel`` trains over 4 virtual devices and records them."""
    if backend != "jax":  # deliberate: its own JAX subprocess; one run covers it (see above)
        pytest.skip("runs once, in the KERAS_BACKEND=jax session (its subprocess uses JAX)")
    out = tmp_path / "run"
    args = ["train", "--count", "4", "--size", "32", "--channels", "1", "--generator", "msrgan-x4-small",
            "--generator-option", "num_blocks=1", "--generator-option", "filters=8", "--scale", "2",
            "--patch-size", "16", "--val-size", "16", "--val-fraction", "0.25", "--discriminator-filters", "4",
            "--discriminator-dense", "8", "--pretrain-steps", "2", "--gan-steps", "2", "--steps-per-epoch", "2",
            "--no-tensorboard", "--checkpoint-every", "0", "--verbose", "0", "--out", str(out)]
    code = f"""
import json, keras
from msrgan.cli import main
args = {args!r}
bad = main(args + ["--batch-size", "6", "--distribute", "data-parallel"])  # 6 does not split over 4
assert keras.distribution.distribution() is None  # a refused set-up leaves no global state
rc = main(args + ["--batch-size", "8", "--distribute", "data-parallel"])
meta = json.loads(open({str(out / "training.json")!r}).read())
print(json.dumps({{"bad": bad, "rc": rc, "distribute": meta["distribute"], "steps": meta["steps"]}}))
"""
    res = run_in_backend("jax", code, env=FOUR_CPUS, timeout=600)
    assert res["bad"] == EXIT_USAGE and res["rc"] == 0  # --batch-size 6 over 4 devices
    assert res["distribute"] == {"mode": "data-parallel", "devices": 4}
    assert res["steps"] == 4


def test_train_command_distribute_refused_off_jax(backend, tmp_path, capsys):
    from msrgan.cli import main

    if backend == "jax":  # deliberate: JAX trains data-parallel (tested above); only the others refuse
        pytest.skip("JAX supports keras.distribution")
    rc = main(["train", "--count", "4", "--size", "32", "--distribute", "data-parallel", "--out", str(tmp_path / "o")])
    assert rc == EXIT_USAGE
    assert "KERAS_BACKEND=jax" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()  # nothing written before the refusal
    rc = main(["train", "--count", "4", "--size", "32", "--process-id", "1", "--out", str(tmp_path / "o")])
    assert rc == EXIT_USAGE and "--distribute data-parallel" in capsys.readouterr().err
