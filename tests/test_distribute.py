"""Data-parallel training matches training on one device, on every backend, with the engine each ships.

- JAX: ``keras.distribution.DataParallel`` over 4 virtual CPU devices (``XLA_FLAGS``), in a JAX subprocess,
  and over two processes on this host (the multi-host flags; XLA's collectives over gloo);
- TensorFlow: ``MirroredStrategy`` over 2 logical CPU devices, and ``MultiWorkerMirroredStrategy`` over two
  worker processes on this host;
- PyTorch: ``torchrun --nproc_per_node 2`` on gloo (one process per device, DDP's gradient all-reduce).

Each compares N data-parallel steps with N steps on one device on the same global batches: every weight and
optimizer slot (Adam's moments too, which a wrongly scaled gradient changes) within 1e-4 absolute. Same
math, other reduction orders: float32 rounding only (measured: 6e-8 or less on TensorFlow and PyTorch), for
networks without BatchNorm (TensorFlow and PyTorch normalize by each device's rows, as MirroredStrategy and
DDP do). A checkpoint written data-parallel resumes on one device to the same weights; a worker that dies
leaves the last checkpoint whole. The backend-specific tests run in that backend's session of
scripts/test.sh (their subprocesses run on CPUs, also on a GPU machine).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from msrgan.errors import EXIT_USAGE
from tests.helpers import ROOT, run_in_backend

TOLERANCE = 1e-4  # absolute, on every weight and optimizer slot (see the module docstring)

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

# A tiny msrgan train run: 1 MSE step then 3 adversarial steps (gamma 0.1, so D's updates reach G), networks
# without BatchNorm, global batch 4, a checkpoint every 2 steps (step-00000002, then the final step-00000004).
TINY = ["train", "--count", "4", "--size", "32", "--channels", "1", "--scale", "2", "--patch-size", "16",
        "--val-size", "16", "--val-fraction", "0.25", "--generator", "msrgan-x4-small",
        "--generator-option", "num_blocks=1", "--generator-option", "filters=8",
        "--generator-option", "batch_norm=false",
        "--discriminator-filters", "4", "--discriminator-dense", "8", "--no-discriminator-batch-norm",
        "--gamma", "0.1", "--pretrain-steps", "1", "--gan-steps", "3", "--steps-per-epoch", "4", "--batch-size", "4",
        "--checkpoint-every", "2", "--no-tensorboard", "--verbose", "0", "--jit-compile", "off"]
CPU_ONLY = {"CUDA_VISIBLE_DEVICES": "", "JAX_PLATFORMS": "cpu"}  # the engines' CPU forms, also on a GPU machine


def _max_diff(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    return max(float(np.max(np.abs(np.asarray(a[k]) - np.asarray(b[k])))) for k in a)


def _state(run: Path, step: int) -> dict:
    """The arrays of a run's checkpoint at ``step``."""
    from safetensors.numpy import load_file

    return load_file(str(run / "checkpoints" / f"step-{step:08d}" / "state.safetensors"))


def _assert_same_training(run: Path, reference: Path, steps=(2, 4)) -> None:
    """``run``'s checkpoints equal ``reference``'s within TOLERANCE, and training moved the weights far more."""
    for step in steps:
        worst = _max_diff(_state(run, step), _state(reference, step))
        assert worst < TOLERANCE, f"step {step}: {worst}"
    assert _max_diff(_state(reference, 2), _state(reference, 4)) > 100 * TOLERANCE


def _env(backend: str) -> dict:
    return {**os.environ, **CPU_ONLY, "KERAS_BACKEND": backend, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}


def _two_processes(backend: str, port: int, out: Path) -> dict:
    """TINY data-parallel in two processes of this host (--coordinator localhost:PORT); their
    training.json. Both must succeed, and only process 0 (the chief) writes the networks."""
    workers = [subprocess.Popen(
        [sys.executable, "-m", "msrgan", *TINY, "--distribute", "data-parallel", "--coordinator", f"localhost:{port}",
         "--num-processes", "2", "--process-id", str(i), "--out", str(out)],
        env=_env(backend), cwd=str(ROOT), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for i in range(2)]
    try:
        results = [w.communicate(timeout=600) for w in workers]
    finally:
        for w in workers:
            w.kill()
    for w, (_, err) in zip(workers, results):
        assert w.returncode == 0, err[-4000:]
    assert "saved the generator" in results[0][0] and "saved the generator" not in results[1][0]
    return json.loads((out / "training.json").read_text())


@pytest.fixture(scope="module")
def one_device_run(tmp_path_factory, backend):
    """TINY on one device, in this session's process: the reference of the data-parallel runs (every
    backend's session compares its own engine's runs with it)."""
    from msrgan.cli import main

    out = tmp_path_factory.mktemp("one-device") / "run"
    if Path("/dev/nvidiactl").exists():  # a GPU machine (scripts/gpu_check.sh): on the CPU, as the others run
        proc = subprocess.run([sys.executable, "-m", "msrgan", *TINY, "--out", str(out)], env=_env(backend),
                              cwd=str(ROOT), capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr[-4000:]
    else:
        assert main([*TINY, "--out", str(out)]) == 0
    return out


# ------------------------------------------------------------------------------------------ JAX


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
    assert worst < TOLERANCE
    # Training moved the weights far more than that, so the comparison is meaningful.
    assert _max_diff(single["init"], single["trained"]) > 100 * worst


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
assert keras.distribution.distribution() is None  # nor does a finished run
meta = json.loads(open({str(out / "training.json")!r}).read())
print(json.dumps({{"bad": bad, "rc": rc, "distribute": meta["distribute"], "steps": meta["steps"]}}))
"""
    res = run_in_backend("jax", code, env=FOUR_CPUS, timeout=600)
    assert res["bad"] == EXIT_USAGE and res["rc"] == 0  # --batch-size 6 over 4 devices
    assert res["distribute"] == {"mode": "data-parallel", "engine": "keras.distribution.DataParallel", "devices": 4,
                                 "processes": 1}
    assert res["steps"] == 4


def test_jax_multi_process_matches_one_device(backend, tmp_path, one_device_run):
    """Two JAX processes on this host, one CPU device each (--coordinator localhost:PORT, as on two hosts):
    each feeds its rows of the global batch, XLA all-reduces the gradients over gloo, the chief writes."""
    if backend != "jax":  # deliberate: needs this session's reference run; one run covers it
        pytest.skip("runs in the KERAS_BACKEND=jax session (its subprocesses use JAX)")
    out = tmp_path / "run"
    meta = _two_processes("jax", _free_ports(1), out)
    assert meta["distribute"] == {"mode": "data-parallel", "engine": "keras.distribution.DataParallel",
                                  "devices": 2, "processes": 2}
    _assert_same_training(out, one_device_run)
    # its step-2 checkpoint, resumed in this process on one device, reaches the one-device step 4
    from msrgan.cli import main

    resumed = tmp_path / "resumed"
    shutil.copytree(out, resumed)
    shutil.rmtree(resumed / "checkpoints" / "step-00000004")
    assert main(["train", "--config", str(resumed / "train_config.json"), "--resume", "--distribute", "none",
                 "--out", str(resumed)]) == 0
    _assert_same_training(resumed, one_device_run, steps=(4,))


# --------------------------------------------------------------------------------- TensorFlow

MIRRORED = """
import json, shutil, sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from msrgan.cli import main
tiny, root = {tiny!r}, {root!r}
rc = {{
    "odd_batch": main(tiny + ["--batch-size", "3", "--distribute", "data-parallel", "--out", root + "/odd"]),
    "xla": main(tiny + ["--jit-compile", "on", "--distribute", "data-parallel", "--out", root + "/xla"]),
    "parallel": main(tiny + ["--distribute", "data-parallel", "--out", root + "/parallel"]),
}}
# The data-parallel run's step-2 checkpoint, resumed on one device (CPU:0, no strategy).
shutil.copytree(root + "/parallel", root + "/resumed")
shutil.rmtree(root + "/resumed/checkpoints/step-00000004")
rc["resumed"] = main(["train", "--config", root + "/resumed/train_config.json", "--resume", "--distribute", "none",
                      "--out", root + "/resumed"])
print(json.dumps(rc))
"""


def test_tensorflow_mirrored_strategy_matches_one_device_and_resumes_there(backend, tmp_path, one_device_run, capsys):
    if backend != "tensorflow":  # deliberate: needs this session's reference run; one run covers it
        pytest.skip("runs in the KERAS_BACKEND=tensorflow session (its subprocess uses TensorFlow)")
    # The logical devices must be set before TensorFlow starts: a fresh interpreter.
    rc = run_in_backend("tensorflow", MIRRORED.format(tiny=TINY, root=str(tmp_path)), env=CPU_ONLY, timeout=600)
    assert rc == {"odd_batch": EXIT_USAGE, "xla": EXIT_USAGE, "parallel": 0, "resumed": 0}
    assert not (tmp_path / "odd").exists() and not (tmp_path / "xla").exists()  # refused before writing
    meta = json.loads((tmp_path / "parallel" / "training.json").read_text())
    assert meta["distribute"] == {"mode": "data-parallel", "engine": "tf.distribute.MirroredStrategy", "devices": 2,
                                  "processes": 1}
    _assert_same_training(tmp_path / "parallel", one_device_run)
    _assert_same_training(tmp_path / "resumed", one_device_run, steps=(4,))


def _free_ports(n: int) -> int:
    """A port P such that P .. P + n - 1 were free just now."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port + n > 65535:
            continue
        try:
            held = []
            for p in range(port, port + n):
                s = socket.socket()
                held.append(s)
                s.bind(("127.0.0.1", p))
        except OSError:
            continue
        finally:
            for s in held:
                s.close()
        return port
    raise RuntimeError("no free ports")


def test_tensorflow_multi_worker_matches_one_device(backend, tmp_path, one_device_run):
    """Two worker processes on this host (--coordinator localhost:PORT: workers at PORT and PORT + 1)."""
    if backend != "tensorflow":  # deliberate: needs this session's reference run
        pytest.skip("runs in the KERAS_BACKEND=tensorflow session (its subprocesses use TensorFlow)")
    out = tmp_path / "run"
    meta = _two_processes("tensorflow", _free_ports(2), out)
    assert meta["distribute"] == {"mode": "data-parallel", "engine": "tf.distribute.MultiWorkerMirroredStrategy",
                                  "devices": 2, "processes": 2}
    _assert_same_training(out, one_device_run)


def test_tensorflow_checks_tf_config_against_the_flags(backend, monkeypatch):
    if backend != "tensorflow":  # deliberate: the TensorFlow backend's own set-up
        pytest.skip("the TensorFlow backend's set-up")
    from msrgan.training.distribute import enable_data_parallel

    config = {"cluster": {"worker": ["host0:2222", "host1:2222"]}, "task": {"type": "worker", "index": 1}}
    monkeypatch.setenv("TF_CONFIG", json.dumps(config))
    with pytest.raises(ValueError, match="--num-processes 3 does not match TF_CONFIG's worker count=2"):
        enable_data_parallel(num_processes=3)
    with pytest.raises(ValueError, match="--process-id 0 does not match TF_CONFIG's task=1"):
        enable_data_parallel(process_id=0)
    with pytest.raises(ValueError, match="--coordinator host9:1 does not match TF_CONFIG's first worker=host0:2222"):
        enable_data_parallel(coordinator="host9:1")
    monkeypatch.delenv("TF_CONFIG")
    with pytest.raises(ValueError, match="--coordinator lists 3 worker addresses but --num-processes is 2"):
        enable_data_parallel(coordinator="a:1,b:1,c:1", num_processes=2, process_id=0)


# ------------------------------------------------------------------------------------ PyTorch

DYING = """
import os, sys
from msrgan.training import gan

if os.environ["RANK"] == "1":  # this worker dies (no clean-up) as it starts step 4, once rank 0 has written
    step = gan.MSRGAN.train_step  # step 2's checkpoint (step 3 needed rank 0 in its all-reduce)

    def dying(self, *args):
        if self.step >= 3:
            os._exit(17)
        return step(self, *args)

    gan.MSRGAN.train_step = dying
from msrgan.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _torchrun(target: list[str], args: list[str]) -> subprocess.CompletedProcess:
    """``torchrun --standalone --nproc_per_node 2 TARGET ARGS`` (torchrun is ``python -m torch.distributed.run``)."""
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           *target, *args], env=_env("torch"), cwd=str(ROOT), capture_output=True, text=True,
                          timeout=600)


def test_torchrun_matches_one_device_and_a_dead_worker_leaves_a_checkpoint_to_resume(backend, tmp_path,
                                                                                   one_device_run):
    if backend != "torch":  # deliberate: needs this session's reference run; one run covers it
        pytest.skip("runs in the KERAS_BACKEND=torch session (its subprocesses use PyTorch)")
    from msrgan.cli import main
    from msrgan.training.checkpoints import latest_checkpoint, read_checkpoint_state

    # Two processes, gloo: the same weights as one device, written once (by rank 0).
    out = tmp_path / "parallel"
    proc = _torchrun(["-m", "msrgan"], [*TINY, "--distribute", "data-parallel", "--out", str(out)])
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert proc.stdout.count("saved the generator") == 1  # rank 1 says nothing: it wrote nothing
    meta = json.loads((out / "training.json").read_text())
    assert meta["distribute"] == {"mode": "data-parallel", "engine": "torch.distributed", "devices": 2,
                                  "processes": 2}
    _assert_same_training(out, one_device_run)
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in one_device_run.iterdir())
    assert (out / "logs" / "epochs.csv").read_text().count("\n") == 3  # a header and 2 epochs, once

    # Rank 1 dies in step 4: torchrun stops rank 0; the step-2 checkpoint is whole and resumes on one device.
    dying = tmp_path / "dying.py"
    dying.write_text(textwrap.dedent(DYING))
    crashed = tmp_path / "crashed"
    proc = _torchrun([str(dying)], [*TINY, "--distribute", "data-parallel", "--out", str(crashed)])
    assert proc.returncode != 0
    latest = latest_checkpoint(crashed / "checkpoints")
    assert latest is not None and latest.name == "step-00000002"
    read_checkpoint_state(latest)  # complete
    assert main(["train", "--config", str(crashed / "train_config.json"), "--resume", "--distribute", "none"]) == 0
    _assert_same_training(crashed, one_device_run, steps=(4,))


def test_torch_checks_torchrun_environment_against_the_flags(backend, monkeypatch):
    if backend != "torch":  # deliberate: the PyTorch backend's own set-up
        pytest.skip("the PyTorch backend's set-up")
    import torch.distributed as dist

    from msrgan.training.distribute import enable_data_parallel

    for k, v in {"WORLD_SIZE": "2", "RANK": "1", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29500"}.items():
        monkeypatch.setenv(k, v)
    with pytest.raises(ValueError, match="--num-processes 3 does not match WORLD_SIZE=2"):
        enable_data_parallel(num_processes=3)
    with pytest.raises(ValueError, match="--process-id 0 does not match RANK=1"):
        enable_data_parallel(process_id=0)
    with pytest.raises(ValueError, match="--coordinator host:1 does not match MASTER_ADDR:MASTER_PORT=127.0.0.1:29500"):
        enable_data_parallel(coordinator="host:1")
    with pytest.raises(ValueError, match="one process per device"):
        enable_data_parallel(["cpu:0", "cpu:1"])
    assert not dist.is_initialized()  # refused before joining a process group


# -------------------------------------------------------------------------- every backend


@pytest.mark.one_backend
def test_global_batch_must_split_over_devices():
    from msrgan.training.distribute import DataParallel, check_global_batch

    class FakeMesh:
        class devices:
            size = 4

    class FakeDistribution:
        device_mesh = FakeMesh

    check_global_batch(8, FakeDistribution())
    with pytest.raises(ValueError, match="batch size 6 does not split over 4 devices"):
        check_global_batch(6, FakeDistribution())
    with pytest.raises(ValueError, match="batch size 6 does not split over 4 devices"):
        DataParallel(4, num_processes=2).check_batch(6)


@pytest.mark.one_backend
def test_each_process_feeds_its_rows_of_the_global_batch():
    from msrgan.training.distribute import DataParallel
    from msrgan.training.trainer import process_rows

    batch = (np.arange(8)[:, None], np.arange(8)[:, None] * 10)
    second = DataParallel(4, num_processes=2, process_id=1)  # 2 hosts, 2 devices each
    assert second.local_rows(8) == slice(4, 8) and not second.is_chief
    lr, hr = process_rows(lambda step: batch, second)(0)
    assert lr.ravel().tolist() == [4, 5, 6, 7] and hr.ravel().tolist() == [40, 50, 60, 70]
    assert DataParallel(2).local_rows(8) == slice(0, 8)  # one process: all rows (its engine splits them)
    with pytest.raises(ValueError, match="batch size 6 does not split over 4 devices"):
        process_rows(lambda step: (np.zeros((6, 1)), np.zeros((6, 1))), second)(0)


@pytest.mark.one_backend
def test_multi_process_settings_are_checked_and_named():
    from msrgan.backends.common import check_agrees, check_multi_host
    from msrgan.training.distribute import check_single_process, launched_processes

    assert check_multi_host(None, None, None) is False
    assert check_multi_host("h:1", 2, 1) is True
    with pytest.raises(ValueError, match="got --num-processes 2 without --coordinator, --process-id"):
        check_multi_host(None, 2, None)
    with pytest.raises(ValueError, match="--process-id 2 does not fit --num-processes 2: process ids run from 0 to 1"):
        check_multi_host("h:1", 2, 2)
    check_agrees("--process-id", None, "RANK", 1)  # not given: nothing to agree with
    with pytest.raises(ValueError, match="--process-id 0 does not match RANK=1"):
        check_agrees("--process-id", 0, "RANK", 1)
    assert launched_processes({"WORLD_SIZE": "1"}) is None
    assert launched_processes({"WORLD_SIZE": "4", "RANK": "2"})[0] == 4
    two = json.dumps({"cluster": {"chief": ["a:1"], "worker": ["b:1"]}, "task": {"type": "worker", "index": 0}})
    assert launched_processes({"TF_CONFIG": two})[0] == 2
    with pytest.raises(ValueError, match=r"one of 4 started by torchrun \(WORLD_SIZE=4, RANK=2\).*--distribute is no"):
        check_single_process({"WORLD_SIZE": "4", "RANK": "2"})


@pytest.mark.one_backend
def test_train_command_refuses_bad_process_settings_before_writing(tmp_path, capsys, monkeypatch):
    from msrgan.cli import main

    out = tmp_path / "o"
    base = ["train", "--count", "4", "--size", "32", "--out", str(out)]
    assert main(base + ["--distribute", "data-parallel", "--num-processes", "2", "--process-id", "2"]) == EXIT_USAGE
    assert "process_id (--process-id) 2 does not fit num_processes (--num-processes) 2" in capsys.readouterr().err
    assert main(base + ["--process-id", "1"]) == EXIT_USAGE
    assert "--distribute data-parallel" in capsys.readouterr().err
    assert main(base + ["--distribute", "data-parallel", "--num-processes", "2"]) == EXIT_USAGE
    assert "got --num-processes 2 without --coordinator, --process-id" in capsys.readouterr().err
    # Started by torchrun as one of 2, without --distribute: each process would train alone into OUT.
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    assert main(base) == EXIT_USAGE
    assert "one of 2 started by torchrun (WORLD_SIZE=2, RANK=1)" in capsys.readouterr().err
    assert not out.exists()
