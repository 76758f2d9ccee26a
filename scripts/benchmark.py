"""Speed of msrgan on this machine, per Keras backend, against native PyTorch, measured in one run.

Sections (``--sections``; the first three by default):

- ``inference``: output megapixels/s of the ``msrgan-x4`` paper generator (16 blocks, 64
  filters, x4) on 128x128 inputs, through ``msrgan.models.fast.FastGenerator`` (BatchNorm folded,
  no per-layer transposes, compiled) on each Keras backend, against the identical architecture
  in native PyTorch (``scripts/torch_reference.py``: ``nn.Module``, channels_last,
  ``torch.inference_mode``) with the same weights, batch, input and precision (float32, or
  ``--mixed-precision``: both sides compute in bfloat16/float16 with the weights cast once).
- ``training``: HR patches/s of a full GAN step (generator update with MSE + miniVGG19 content +
  adversarial terms, then the discriminator update) through ``msrgan.training.MSRGAN``'s
  ``train_on_batch`` with its default settings, against a native PyTorch SRGAN step of the same
  three networks (``torch_reference.SRGANStep``); batch 4 of 96x96 HR patches by default.
- ``tiling``: wall time and peak RSS of tiled upscaling (``msrgan.inference.upscale_to_tiff``,
  streamed to a TIFF) of a 2048x2048 16-bit image with the fast path, by default with
  ``msrgan-x4-small`` on JAX (the paper model's speed is the inference section's; with it the
  image takes about 15 minutes on 2 busy cores: ``--tiling-model msrgan-x4``).
- ``streaming`` (on request: ``--sections streaming``): peak RSS and patches/s of training batches drawn
  from a generated folder several times larger than the memory budget (``msrgan.data.stream``), against
  the in-memory source on a small folder; ``scripts/bench_streaming.py`` says how.
- ``omezarr`` (on request: ``--sections omezarr``): peak memory and wall time of x4 of one
  8192x8192 16-bit image (``--omezarr-size``) into an OME-Zarr with its pyramid
  (``msrgan.omezarr``), and into a streamed ImageJ TIFF for comparison, each writer in its own
  worker process (peak RSS from ``resource``, the peak of NumPy's allocations from
  ``tracemalloc``, which traces the writing call). The generator is a tiny untrained
  ``Generator(num_blocks=1, filters=8, channels=1)`` through the fast path, so the section
  measures the writers' I/O and memory, not a model. The 32768x32768 output is 2 GiB as uint16
  (about 2 GB on disk for each writer, in the temporary folder).

How it measures: each backend (``KERAS_BACKEND`` is fixed per process) and the PyTorch reference
run in their own worker process; all workers build the same weights, compile and warm up, then
the measurements are interleaved round by round (the order rotates each round), so load from
other processes falls on every contender within a round. Each figure is the median over
``--runs`` rounds (at least 5); the ratio to PyTorch is the median of the per-round ratios (each
backend against the reference measured in the same round). Every worker uses all cores
(``torch.set_num_threads``). Oversubscribed cores hurt PyTorch's OpenMP threads far more than
the XLA/TensorFlow thread pools (a training step can take 5x longer), so take figures on a quiet
machine: the load average before and after is recorded. The inference outputs are checked
against the reference (max absolute difference), so a fast wrong answer cannot pass.

Examples:
    python scripts/benchmark.py                                  # everything, Markdown table
    python scripts/benchmark.py --json out.json                  # also the JSON summary
    python scripts/benchmark.py --quick --backends jax,torch     # a smoke run (small model)
    python scripts/benchmark.py --sections inference --plain     # also time model(x) without the fast path
    python scripts/benchmark.py --mixed-precision bfloat16       # GPUs: half-precision compute everywhere
    python scripts/benchmark.py --sections omezarr               # memory of OME-Zarr vs TIFF output, 8192x8192 x4
    python scripts/benchmark.py --sections streaming             # a 2 GB folder under a 600 MB budget vs in memory

``--mixed-precision bfloat16|float16`` is for GPUs (``scripts/gpu_check.sh``): inference computes in
that dtype on every contender; training uses Keras's ``mixed_<dtype>`` policy (float32 variables,
a static loss scale for float16) against ``torch.autocast`` (with a ``GradScaler`` for float16).
On CPUs half precision is usually slower than float32, and PyTorch's CPU kernels lack some
bfloat16 backward passes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
import bench_streaming  # noqa: E402  (the streaming section)
BACKENDS = ("tensorflow", "torch", "jax")
SECTIONS = ("inference", "training", "tiling", "omezarr", "streaming")
DEFAULT_SECTIONS = ("inference", "training", "tiling")
OMEZARR_WRITERS = ("tiff", "omezarr")  # the omezarr section's workers, in the order they run
REFERENCE = "pytorch"  # the native PyTorch worker's name
_MSG = "@@bench "  # prefix of the worker protocol lines on stdout (anything else is library noise)

INFERENCE_TARGET = 1.2  # FastGenerator against native PyTorch inference
TRAINING_TARGET = 1.0  # the full GAN step (train_on_batch and fit) against a native PyTorch step
TRAINING_WARMUP = 3  # untimed training steps after the first, at least
FIT_STEPS = 6  # steps per fit() call (one epoch); the figure is the median time of steps 3..6 (steady state)


# --------------------------------------------------------------------------------------------
# Shared by the workers: deterministic weights and input, identical in every process.
# --------------------------------------------------------------------------------------------

def deterministic_value(path: str, shape: tuple) -> "np.ndarray":  # noqa: F821
    """A reproducible, well-scaled value for the variable at ``path`` (same in every backend).

    Kernels are normal with variance 1 / fan-in, BatchNorm statistics and scales are non-trivial
    (so folding is exercised), PReLU slopes lie in [0, 0.3]; the generator's last convolution is
    scaled down so its outputs have the spread of images (about +-1), like a trained model's.
    """
    import numpy as np

    rng = np.random.default_rng(zlib.crc32(path.encode()))
    if path.endswith("kernel"):
        fan_in = int(np.prod(shape[:-1]))
        val = rng.normal(0.0, np.sqrt(1.0 / fan_in), shape) * (0.04 if path.endswith("tail_conv/kernel") else 1.0)
    elif path.endswith("moving_variance"):
        val = rng.uniform(0.5, 2.0, shape)
    elif path.endswith("gamma"):
        val = rng.uniform(0.5, 1.5, shape)
    elif path.endswith("alpha"):
        val = rng.uniform(0.0, 0.3, shape)
    else:  # biases, beta, moving_mean
        val = rng.normal(0.0, 0.05, shape)
    return val.astype("float32")


def build_generator(model: str):
    """``zoo.create(model)``, built, with :func:`deterministic_value` weights."""
    import numpy as np

    import msrgan.models  # noqa: F401  (registers the zoo entries)
    import zoo

    g = zoo.create(model)
    g(np.zeros(g.example_input_shape(), "float32"))
    for v in g.variables:
        v.assign(deterministic_value(v.path.split("/", 1)[-1], tuple(v.shape)))
    return g


def make_input(batch: int, size: int, channels: int):
    import numpy as np

    return np.random.default_rng(0).random((batch, size, size, channels), dtype=np.float32)


def _send(obj) -> None:
    sys.stdout.write(_MSG + json.dumps(obj) + "\n")
    sys.stdout.flush()


def _torch_device() -> str:
    """Where the PyTorch reference runs: the GPU when there is one (as the Keras backends do)."""
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _set_threads(worker: str) -> int:
    """All cores for every contender: torch's intra-op pool is set explicitly (TensorFlow and XLA
    size theirs to the core count by default)."""
    cores = os.cpu_count() or 1
    if worker in (REFERENCE, "torch"):
        import torch

        torch.set_num_threads(cores)
    return cores


# --------------------------------------------------------------------------------------------
# Workers: build, warm up, then answer "run" with one timed call until "quit".
# --------------------------------------------------------------------------------------------

def _inference_worker(args) -> None:
    import numpy as np

    cores = _set_threads(args.worker)
    g = build_generator(args.model)
    x = make_input(args.batch, args.size, g.channels)
    info = {"cores": cores}
    if args.worker == REFERENCE:
        import torch

        sys.path.insert(0, str(ROOT / "scripts"))
        import torch_reference

        device = _torch_device()
        dtype = getattr(torch, args.mixed_precision or "float32")
        net = torch_reference.from_keras(g).to(device=device, dtype=dtype, memory_format=torch.channels_last)
        del g

        def call():
            with torch.inference_mode():
                xt = torch.from_numpy(x).to(device, dtype).permute(0, 3, 1, 2)  # NHWC memory = channels_last NCHW
                return net(xt).permute(0, 2, 3, 1).float().cpu().numpy()  # .cpu() waits for the device

        info.update(path=f"nn.Module, channels_last, inference_mode{'' if device == 'cpu' else ', ' + device}",
                    torch=torch.__version__)
    elif args.plain:
        import keras

        def call():
            return keras.ops.convert_to_numpy(g(x, training=False))

        info.update(path="model(x, training=False)")
    else:
        from msrgan.models.fast import FastGenerator

        fast = FastGenerator(g, jit=not args.no_jit, dtype=args.mixed_precision or "float32")
        start = time.perf_counter()
        fast.predict(x)
        info["compile_s"] = round(time.perf_counter() - start, 2) if fast.jit else None
        compiler = {"jax": "jax.jit", "tensorflow": "XLA tf.function", "torch": "torch.compile"}
        tail = (", stacked-rows tail" + (" uncompiled" if getattr(fast, "_tail_uncompiled", False) and fast.jit
                                         else "")) if fast.stack_tail_rows else ""
        info.update(path=f"FastGenerator ({compiler.get(args.worker, '?') if fast.jit else 'eager'}, "
                         f"{fast.data_format}{tail}{'' if fast.dtype == 'float32' else ', ' + fast.dtype})")

        def call():
            return fast.predict(x)

    out = call()
    for _ in range(args.warmup):
        call()
    np.save(args.output, np.asarray(out, dtype=np.float32))
    info["output"] = args.output
    _send({"ready": True, **info})
    _serve(call)


def _rss_mb() -> float:
    """Resident set size of this process now, in MB (Linux /proc; 0 where unavailable)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _peak_rss_mb() -> float:
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def _tiling_worker(args) -> None:
    """Tiled upscaling of one ``--tiling-size`` square 16-bit image into a streamed TIFF."""
    import numpy as np

    from msrgan.inference import DEFAULT_TILE, upscale_to_tiff
    from msrgan.models.fast import FastGenerator

    _set_threads(args.worker)
    g = build_generator(args.model)
    model = FastGenerator(g, jit=not args.no_jit) if not args.plain else g
    rng = np.random.default_rng(0)
    image = rng.integers(0, 65536, (args.size, args.size, g.channels), dtype=np.uint16)
    tile = min(DEFAULT_TILE, args.size)
    start = time.perf_counter()
    model.predict_on_batch(np.zeros((args.batch, tile, tile, g.channels), np.float32))  # compile for the tile shape
    compile_s = time.perf_counter() - start
    baseline = _rss_mb()
    seconds = []
    for r in range(args.runs):
        out = Path(args.output).with_suffix(f".{r}.tif")
        start = time.perf_counter()
        upscale_to_tiff(image, model, out, batch_size=args.batch)
        seconds.append(time.perf_counter() - start)
        size_mb = out.stat().st_size / 1e6
        out.unlink()
    _send({"seconds": statistics.median(seconds), "all_seconds": seconds, "peak_rss_mb": _peak_rss_mb(),
           "rss_before_mb": baseline, "compile_s": compile_s, "output_mb": size_mb,
           "path": "FastGenerator" if not args.plain else "model.predict_on_batch"})


def _omezarr_worker(args) -> None:
    """x4 of one ``--size`` square 16-bit image into an OME-Zarr or a TIFF (``--_format``), with a tiny
    untrained generator: the peak memory and time of the writer, not of a model."""
    import tracemalloc

    import keras
    import numpy as np

    from msrgan.data.stack import PhysicalMetadata, Stack
    from msrgan.inference import DEFAULT_TILE, upscale_stack_to_file
    from msrgan.models import Generator
    from msrgan.models.fast import FastGenerator

    _set_threads(args.worker)
    keras.utils.set_random_seed(0)
    g = Generator(num_blocks=1, filters=8, channels=1)  # x4, untrained: the section measures I/O and memory
    g(np.zeros((1, 16, 16, 1), np.float32))
    model = FastGenerator(g, jit=not args.no_jit)
    image = np.random.default_rng(0).integers(0, 65536, (args.size, args.size), dtype=np.uint16)
    stack = Stack(image, "YX", PhysicalMetadata("tiff", (0.65, 0.65), "µm"))
    tile = min(DEFAULT_TILE, args.size)
    start = time.perf_counter()
    model.predict_on_batch(np.zeros((args.batch, tile, tile, 1), np.float32))  # compile for the tile shape
    compile_s = time.perf_counter() - start
    import tifffile, zarr, ome_zarr.writer  # noqa: E401, F401  (imported before the baseline: not the writers' memory)
    baseline = _rss_mb()
    seconds, traced = [], []
    for r in range(args.runs):
        out = Path(args.output).with_suffix(f".{r}" + (".ome.zarr" if args.format == "omezarr" else ".tif"))
        tracemalloc.start()
        start = time.perf_counter()
        upscale_stack_to_file(stack, model, out, batch_size=args.batch)
        seconds.append(time.perf_counter() - start)
        traced.append(tracemalloc.get_traced_memory()[1] / 2**20)
        tracemalloc.stop()
        files = [out] if out.is_file() else [f for f in out.rglob("*") if f.is_file()]
        size_mb = sum(f.stat().st_size for f in files) / 1e6
        levels = len([d for d in out.iterdir() if d.is_dir()]) if out.is_dir() else 1
        shutil.rmtree(out) if out.is_dir() else out.unlink()
    _send({"seconds": statistics.median(seconds), "all_seconds": seconds, "peak_rss_mb": _peak_rss_mb(),
           "rss_before_mb": baseline, "traced_peak_mb": statistics.median(traced), "compile_s": compile_s,
           "output_mb": size_mb, "levels": levels})


def build_gan_parts(model: str):
    """Generator, discriminator and content extractor from the zoo, built, deterministic weights."""
    import numpy as np

    import zoo

    g = build_generator(model)
    d = zoo.create("discriminator", channels=g.channels)
    e = zoo.create("minivgg19-features", backbone_config={"channels": g.channels})
    probe = np.zeros((1, 32, 32, g.channels), "float32")
    d(probe)
    e(probe)
    for net in (d, e):
        for v in net.variables:
            v.assign(deterministic_value(v.path.split("/", 1)[-1], tuple(v.shape)))
    return g, d, e


def _training_worker(args) -> None:
    """Times full GAN steps (G update with MSE + content + adversarial, then D update)."""
    import numpy as np

    cores = _set_threads(args.worker)
    if args.mixed_precision and args.worker != REFERENCE:
        import keras

        keras.config.set_dtype_policy(f"mixed_{args.mixed_precision}")  # before the networks are built
    g, d, e = build_gan_parts(args.model)
    lr_size = args.size // g.scale
    lr = make_input(args.batch, lr_size, g.channels)
    hr = np.random.default_rng(1).random((args.batch, args.size, args.size, g.channels), dtype=np.float32)
    from msrgan.losses import LossWeights

    weights = LossWeights()
    info = {"cores": cores}
    if args.worker == REFERENCE:
        import torch

        sys.path.insert(0, str(ROOT / "scripts"))
        import torch_reference as tr

        device = _torch_device()
        nets = [m.to(device) for m in (tr.from_keras(g), tr.discriminator_from_keras(d),
                                       tr.minivgg19_features_from_keras(e))]
        step = tr.SRGANStep(*nets, alpha=weights.alpha, beta=weights.beta, gamma=weights.gamma,
                            autocast=args.mixed_precision)
        lr_t = torch.from_numpy(lr).to(device).permute(0, 3, 1, 2)
        hr_t = torch.from_numpy(hr).to(device).permute(0, 3, 1, 2)  # the step's float() results wait for the device

        def call():
            return step(lr_t, hr_t)

        def fit():  # a PyTorch user's training loop: one step per batch
            ends = [time.perf_counter()]
            for _ in range(FIT_STEPS):
                step(lr_t, hr_t)
                ends.append(time.perf_counter())
            return statistics.median(b - a for a, b in zip(ends[2:], ends[3:]))  # steps 3.. as for fit

        info["path"] = "SRGAN step, nn.Module, channels_last, Adam" + (
            f", autocast {args.mixed_precision}" if args.mixed_precision else "")
        info["fit_path"] = "the same step in a Python loop"
    else:
        import keras

        try:
            from msrgan.training import MSRGAN
        except ImportError:
            from msrgan.training.gan import MSRGAN

        gan = MSRGAN(g, d, e)
        from msrgan.training.config import parse_jit

        # jit_compile as `msrgan train --jit-compile auto` sets it (XLA on TensorFlow and JAX, eager torch).
        gan.compile(keras.optimizers.Adam(1e-4), keras.optimizers.Adam(1e-3), sample_shape=(lr_size, lr_size),
                    loss_scale=1024.0 if args.mixed_precision == "float16" else None, jit_compile=parse_jit("auto"))
        gan.set_phase("gan")

        def call():
            return gan.train_on_batch(lr, hr)

        from msrgan.training.trainer import StepBatches

        class BatchEnds(keras.callbacks.Callback):
            def on_train_batch_end(self, batch, logs=None):
                ends.append(time.perf_counter())

        ends = []

        def fit():  # what `msrgan train` runs: Model.fit over a PyDataset of (lr, hr) batches
            ends.clear()
            gan.fit(StepBatches(lambda step: (lr, hr), 0, FIT_STEPS), epochs=1, steps_per_epoch=FIT_STEPS,
                    verbose=0, shuffle=False, callbacks=[BatchEnds()])
            return statistics.median(b - a for a, b in zip(ends[1:], ends[2:]))

        info["path"] = f"MSRGAN.train_on_batch (jit_compile={gan.jit_compile}" + (
            f", mixed_{args.mixed_precision})" if args.mixed_precision else ")")
        info["fit_path"] = "MSRGAN.fit over a PyDataset (steady state)"
    start = time.perf_counter()
    call()
    info["compile_s"] = round(time.perf_counter() - start, 2)
    for _ in range(max(args.warmup, TRAINING_WARMUP)):  # the first eager PyTorch steps run slow
        call()
    fit()  # fit's own set-up (data adapter, compiled multi-step function) before timing
    _send({"ready": True, **info})
    _serve(call, commands={"fit": fit})


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _serve(call, extra=None, commands=None) -> None:
    """Answers "run" with the seconds of one call (and ``extra()``'s entries), a name of ``commands`` with
    what that function returns as seconds, until "quit"."""
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "run":
            seconds = _timed(call)
            _send({"seconds": seconds, **(extra() if extra else {})})
        elif commands and cmd in commands:
            _send({"seconds": commands[cmd]()})
        elif cmd == "quit":
            break


def worker_main(args) -> int:
    try:
        if args.section == "inference":
            _inference_worker(args)
        elif args.section == "tiling":
            _tiling_worker(args)
        elif args.section == "training":
            _training_worker(args)
        elif args.section == "omezarr":
            _omezarr_worker(args)
        elif args.section == "streaming":
            bench_streaming.worker(args, _send, _serve, _rss_mb, _peak_rss_mb)
        else:
            raise ValueError(f"unknown worker section {args.section!r}")
    except Exception as exc:  # reported to the parent, which prints it with the worker's log
        _send({"error": f"{type(exc).__name__}: {exc}"})
        raise
    return 0


# --------------------------------------------------------------------------------------------
# The parent: start workers, interleave the rounds, summarize.
# --------------------------------------------------------------------------------------------

class Worker:
    """One worker process speaking the line protocol (requests on stdin, ``@@bench`` JSON on stdout)."""

    def __init__(self, name: str, section: str, opts: list[str], tmp: Path, tag: str = ""):
        self.name = name
        self.log_path = tmp / f"{section}{tag}-{name}.log"
        self.output = tmp / f"{section}{tag}-{name}.npy"
        backend = "torch" if name == REFERENCE else name
        pythonpath = f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"
        env = {**os.environ, "KERAS_BACKEND": backend, "PYTHONPATH": pythonpath,
               "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")}
        cmd = [sys.executable, str(Path(__file__).resolve()), "--_worker", name, "--_section", section,
               "--_output", str(self.output), *opts]
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log,
                                     text=True, env=env, cwd=str(ROOT))

    def receive(self) -> dict:
        for line in self.proc.stdout:
            if line.startswith(_MSG):
                msg = json.loads(line[len(_MSG):])
                if "error" in msg:
                    raise RuntimeError(f"{self.name} worker failed: {msg['error']}\n{self.log_tail()}")
                return msg
        self.proc.wait()
        raise RuntimeError(f"{self.name} worker exited ({self.proc.returncode}) without answering\n"
                           f"{self.log_tail()}")

    def request(self, cmd: str) -> dict:
        self.proc.stdin.write(cmd + "\n")
        self.proc.stdin.flush()
        return self.receive()

    def log_tail(self, chars: int = 3000) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")[-chars:]

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
                self.proc.wait(timeout=30)
            except (BrokenPipeError, subprocess.TimeoutExpired, OSError):
                self.proc.kill()
                self.proc.wait()
        self._log.close()


def _interleave(workers: dict, runs: int, log, cmd: str = "run") -> dict[str, list[float]]:
    """Per-round seconds of ``cmd`` for every worker; the order rotates each round to cancel drift."""
    names = list(workers)
    times = {n: [] for n in names}
    for r in range(runs):
        order = names[r % len(names):] + names[:r % len(names)]
        for n in order:
            times[n].append(workers[n].request(cmd)["seconds"])
        log(f"  {cmd} round {r + 1}/{runs}: " + ", ".join(f"{n} {times[n][-1]:.3f}s" for n in names))
    return times


def _precision_opts(args) -> list[str]:
    return ["--mixed-precision", args.mixed_precision] if args.mixed_precision else []


def run_inference(args, tmp: Path, log) -> dict:
    import numpy as np

    opts = ["--model", args.model, "--size", str(args.size), "--batch", str(args.batch),
            "--warmup", str(args.warmup)] + (["--no-jit"] if args.no_jit else []) + _precision_opts(args)
    names = [REFERENCE, *args.backends]
    workers: dict[str, Worker] = {}
    ready: dict[str, dict] = {}
    try:
        for n in names:  # one at a time, so compile times are not inflated by each other
            log(f"inference: starting {n} ...")
            workers[n] = Worker(n, "inference", opts, tmp)
            ready[n] = workers[n].receive()
            log(f"  {n}: {ready[n]['path']}" + (f", compiled in {ready[n]['compile_s']} s"
                                                  if ready[n].get("compile_s") is not None else ""))
        if args.plain:
            for b in args.backends:
                key = f"{b}-plain"
                log(f"inference: starting {key} (model(x) without the fast path) ...")
                workers[key] = Worker(b, "inference", [*opts, "--plain"], tmp / "plain")
                ready[key] = workers[key].receive()
        times = _interleave(workers, args.runs, log)
    finally:
        for w in workers.values():
            w.close()

    ref_out = np.load(ready[REFERENCE]["output"])
    b, h, w, _ = ref_out.shape
    mpix = b * h * w / 1e6
    result = {}
    for n in workers:
        med = statistics.median(times[n])
        ratios = [tr / tn for tr, tn in zip(times[REFERENCE], times[n])]
        out = np.load(ready[n]["output"])
        result[n] = {
            "mpix_s": round(mpix / med, 4),
            "ratio_to_torch": round(statistics.median(ratios), 3),
            "median_s": round(med, 4),
            "seconds": [round(t, 4) for t in times[n]],
            "compile_s": ready[n].get("compile_s"),
            "path": ready[n]["path"],
            "max_abs_diff": float(np.abs(out - ref_out).max()),
            "output_max_abs": float(np.abs(out).max()),
        }
    return result


def training_available() -> bool:
    """Whether this checkout has the trainer (``msrgan.training.MSRGAN``) the training section times."""
    import importlib.util

    try:
        return importlib.util.find_spec("msrgan.training.gan") is not None
    except (ImportError, ValueError):
        return False


def run_training(args, tmp: Path, log) -> dict:
    opts = ["--model", args.model, "--size", str(args.train_patch), "--batch", str(args.train_batch),
            "--warmup", str(args.warmup)] + _precision_opts(args)
    workers: dict[str, Worker] = {}
    ready: dict[str, dict] = {}
    try:
        for n in [REFERENCE, *args.backends]:
            log(f"training: starting {n} ...")
            workers[n] = Worker(n, "training", opts, tmp)
            ready[n] = workers[n].receive()
            log(f"  {n}: {ready[n]['path']}, first step {ready[n]['compile_s']} s")
        times = _interleave(workers, args.runs, log)
        fit_times = _interleave(workers, args.runs, log, cmd="fit")
    finally:
        for w in workers.values():
            w.close()
    result = {}
    for n in workers:
        result[n] = {**_step_figures(times, n, args.train_batch), "first_step_s": ready[n]["compile_s"],
                     "path": ready[n]["path"],
                     "fit": {**_step_figures(fit_times, n, args.train_batch), "path": ready[n]["fit_path"],
                             "steps_per_call": FIT_STEPS}}
    return result


def _step_figures(times: dict, n: str, batch: int) -> dict:
    """Median seconds per step, patches per second, and the median per-round ratio to the reference."""
    med = statistics.median(times[n])
    ratios = [tr / tn for tr, tn in zip(times[REFERENCE], times[n])]
    return {"patches_s": round(batch / med, 3), "ratio_to_torch": round(statistics.median(ratios), 3),
            "median_s": round(med, 4), "seconds": [round(t, 4) for t in times[n]]}


def run_tiling(args, tmp: Path, log) -> dict:
    opts = ["--model", args.tiling_model, "--size", str(args.tiling_size), "--batch", str(args.tiling_batch),
            "--runs", str(args.tiling_runs)] + (["--no-jit"] if args.no_jit else [])
    log(f"tiling: {args.tiling_size}x{args.tiling_size} 16-bit image, {args.tiling_model} on "
        f"{args.tiling_backend}, {args.tiling_runs} run(s) ...")
    w = Worker(args.tiling_backend, "tiling", opts, tmp)
    try:
        r = w.receive()
    finally:
        w.close()
    log(f"  {r['seconds']:.1f} s, peak RSS {r['peak_rss_mb']:.0f} MB")
    return {"seconds": round(r["seconds"], 2), "peak_rss_mb": round(r["peak_rss_mb"], 1),
            "rss_before_mb": round(r["rss_before_mb"], 1), "compile_s": round(r["compile_s"], 2),
            "all_seconds": [round(t, 2) for t in r["all_seconds"]], "backend": args.tiling_backend,
            "model": args.tiling_model, "image": [args.tiling_size, args.tiling_size, "uint16"],
            "batch_size": args.tiling_batch, "output_tiff_mb": round(r["output_mb"], 1), "path": r["path"]}


def run_omezarr(args, tmp: Path, log) -> dict:
    size = args.omezarr_size
    out_mib = (size * 4) ** 2 * 2 / 2**20
    log(f"omezarr: x4 of a {size}x{size} 16-bit image ({out_mib:.0f} MiB of output as uint16), tiny untrained "
        f"generator on {args.tiling_backend}, {args.omezarr_runs} run(s) per writer ...")
    result = {"backend": args.tiling_backend, "image": [size, size, "uint16"], "scale": 4,
              "output_mib": round(out_mib, 1), "batch_size": args.tiling_batch, "runs": args.omezarr_runs,
              "model": "Generator(num_blocks=1, filters=8, channels=1), untrained, FastGenerator"}
    for writer in OMEZARR_WRITERS:
        opts = ["--size", str(size), "--batch", str(args.tiling_batch), "--runs", str(args.omezarr_runs),
                "--_format", writer] + (["--no-jit"] if args.no_jit else [])
        w = Worker(args.tiling_backend, "omezarr", opts, tmp, tag=f"-{writer}")
        try:
            r = w.receive()
        finally:
            w.close()
        log(f"  {writer}: {r['seconds']:.1f} s, peak RSS {r['peak_rss_mb']:.0f} MB "
            f"(before writing {r['rss_before_mb']:.0f} MB), traced peak {r['traced_peak_mb']:.0f} MiB")
        result[writer] = {k: (round(v, 2) if isinstance(v, float) else v) for k, v in r.items()}
    tif, zarr = result["tiff"], result["omezarr"]
    result["ratios_omezarr_to_tiff"] = {
        "seconds": round(zarr["seconds"] / tif["seconds"], 2),
        "peak_rss": round(zarr["peak_rss_mb"] / tif["peak_rss_mb"], 2),
        "rss_growth": round((zarr["peak_rss_mb"] - zarr["rss_before_mb"])
                            / max(tif["peak_rss_mb"] - tif["rss_before_mb"], 1e-9), 2)}
    return result


def machine_info() -> dict:
    info = {"python": platform.python_version(), "platform": platform.platform(), "cores": os.cpu_count()}
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                info["cpu"] = line.split(":", 1)[1].strip()
    except (OSError, subprocess.SubprocessError):
        pass
    from importlib import metadata

    for pkg in ("keras", "torch", "jax", "jaxlib", "tensorflow-cpu", "tensorflow", "numpy"):
        try:
            info[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            pass
    if hasattr(os, "getloadavg"):
        info["load_average_start"] = [round(v, 2) for v in os.getloadavg()]
    return info


def _precision(args) -> str:
    return f"mixed precision {args.mixed_precision}" if args.mixed_precision else "float32"


def markdown(results: dict, args) -> str:
    lines = []
    inf = results.get("inference")
    if inf:
        mpix_note = f"{args.model}, batch {args.batch}, {args.size}x{args.size} inputs, {_precision(args)}"
        lines += [f"### Inference ({mpix_note})", "",
                  "| contender | path | compile s | median s/batch | output MPix/s | ratio to PyTorch | "
                  "max abs diff |",
                  "|---|---|---:|---:|---:|---:|---:|"]
        for n, r in inf.items():
            label = "PyTorch (native reference)" if n == REFERENCE else f"Keras / {n}"
            comp = "" if r["compile_s"] is None else f"{r['compile_s']:.1f}"
            lines.append(f"| {label} | {r['path']} | {comp} | {r['median_s']:.3f} | {r['mpix_s']:.3f} | "
                         f"{r['ratio_to_torch']:.2f}x | {r['max_abs_diff']:.1e} |")
        met = [n for n in args.backends if inf[n]["ratio_to_torch"] >= INFERENCE_TARGET]
        lines += ["", f"Target: every backend >= {INFERENCE_TARGET}x native PyTorch: "
                      + ("met" if len(met) == len(args.backends) else
                         "NOT met by " + ", ".join(n for n in args.backends if n not in met)), ""]
    tra = results.get("training")
    if tra:
        lines += [f"### Training (full GAN step: {args.model}, discriminator, miniVGG19 block5 content; "
                  f"batch {args.train_batch} of {args.train_patch}x{args.train_patch} HR patches, "
                  f"{_precision(args)})", "",
                  "| contender | path | first step s | median s/step | HR patches/s | ratio to PyTorch |",
                  "|---|---|---:|---:|---:|---:|"]
        for n, r in tra.items():
            label = "PyTorch (native reference)" if n == REFERENCE else f"Keras / {n}"
            lines.append(f"| {label} | {r['path']} | {r['first_step_s']:.1f} | {r['median_s']:.3f} | "
                         f"{r['patches_s']:.2f} | {r['ratio_to_torch']:.2f}x |")
        for n, r in tra.items():
            if "fit" in r:
                label = "PyTorch (native reference)" if n == REFERENCE else f"Keras / {n}"
                f = r["fit"]
                lines.append(f"| {label} | {f['path']} |  | {f['median_s']:.3f} | {f['patches_s']:.2f} | "
                             f"{f['ratio_to_torch']:.2f}x |")
        met = [n for n in args.backends if min(tra[n]["ratio_to_torch"],
                                               tra[n].get("fit", {}).get("ratio_to_torch", 1e9)) >= TRAINING_TARGET]
        lines += ["", f"Target: every backend >= {TRAINING_TARGET}x native PyTorch (train_on_batch and fit): "
                      + ("met" if len(met) == len(args.backends) else
                         "NOT met by " + ", ".join(n for n in args.backends if n not in met)), ""]
    til = results.get("tiling")
    if til:
        h, w, dtype = til["image"]
        lines += [f"### Tiled upscaling ({h}x{w} {dtype} image, {til['model']} on {til['backend']}, "
                  f"{til['path']}, {til['batch_size']} tiles per call, streamed to a TIFF)", "",
                  "| seconds | peak RSS MB | RSS before MB | compile s | output TIFF MB |",
                  "|---:|---:|---:|---:|---:|",
                  f"| {til['seconds']:.1f} | {til['peak_rss_mb']:.0f} | {til['rss_before_mb']:.0f} | "
                  f"{til['compile_s']:.1f} | {til['output_tiff_mb']:.0f} |", ""]
    oz = results.get("omezarr")
    if oz:
        h, w, dtype = oz["image"]
        lines += [f"### OME-Zarr vs TIFF output (x4 of a {h}x{w} {dtype} image: {oz['output_mib']:.0f} MiB of "
                  f"output; {oz['model']} on {oz['backend']}, {oz['batch_size']} tiles per call; "
                  f"median of {oz['runs']} run(s))", "",
                  "| writer | seconds | peak RSS MB | RSS before writing MB | RSS growth MB | "
                  "traced peak MiB | output on disk MB | levels |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|"]
        for writer in OMEZARR_WRITERS:
            r = oz[writer]
            lines.append(f"| {writer} | {r['seconds']:.1f} | {r['peak_rss_mb']:.0f} | {r['rss_before_mb']:.0f} | "
                         f"{r['peak_rss_mb'] - r['rss_before_mb']:.0f} | {r['traced_peak_mb']:.0f} | "
                         f"{r['output_mb']:.0f} | {r['levels']} |")
        ratio = oz["ratios_omezarr_to_tiff"]
        lines += ["", f"OME-Zarr / TIFF: {ratio['seconds']:.2f}x the time, {ratio['peak_rss']:.2f}x the peak RSS, "
                      f"{ratio['rss_growth']:.2f}x the RSS growth while writing.", ""]
    if results.get("streaming"):
        lines += bench_streaming.markdown(results["streaming"])
    for section in ("training", "tiling"):
        if section in args.sections and not results.get(section):
            lines += [f"### {section.capitalize()}", "", "not available yet in this checkout", ""]
    return "\n".join(lines)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n", 2)[2])
    p.add_argument("--sections", default=",".join(DEFAULT_SECTIONS),
                   help=f"comma-separated, from {SECTIONS} (default: all but omezarr)")
    p.add_argument("--backends", default=",".join(BACKENDS), help=f"comma-separated Keras backends, from {BACKENDS}")
    p.add_argument("--runs", type=int, default=5, help="measured rounds (>= 5); the figures are their medians")
    p.add_argument("--warmup", type=int, default=1, help="untimed calls after the first (compiling) one")
    p.add_argument("--model", help="zoo generator to time (default: msrgan-x4, the paper configuration)")
    p.add_argument("--size", type=int, help="input height and width in pixels (default 128)")
    p.add_argument("--batch", type=int, default=1, help="images per call, the same for every contender")
    p.add_argument("--no-jit", action="store_true", help="time the fast path uncompiled (eager)")
    p.add_argument("--plain", action="store_true", help="also time model(x, training=False) without the fast path")
    p.add_argument("--mixed-precision", choices=("bfloat16", "float16"), default=None,
                   help="half-precision compute for the inference and training sections (GPUs; default float32)")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: msrgan-x4-small, 64x64 inputs, a 512x512 tiling image (figures not comparable "
                        "to the paper model's); explicit --model/--size/--tiling-* still win")
    p.add_argument("--train-batch", type=int, default=4, help="HR patches per training step (all contenders)")
    p.add_argument("--train-patch", type=int, help="HR patch side of the training section (default 96; --quick 48)")
    p.add_argument("--tiling-backend", default="jax", choices=BACKENDS, help="backend of the tiling section")
    p.add_argument("--tiling-model", help="zoo generator of the tiling section (default msrgan-x4-small: the section "
                                          "measures the tiling's time and memory; the paper model's speed is the "
                                          "inference section's, and it needs about 15 min for 2048x2048 on 2 cores)")
    p.add_argument("--tiling-size", type=int, help="side of the square 16-bit test image (default 2048)")
    p.add_argument("--tiling-batch", type=int, default=2, help="tiles per model call in the tiling section")
    p.add_argument("--tiling-runs", type=int, default=1,
                   help="tiling repetitions (a 2048x2048 image takes minutes per run on a few cores)")
    p.add_argument("--omezarr-size", type=int, default=8192,
                   help="side of the square 16-bit image of the omezarr section (default 8192: a 32768x32768 output; "
                        "uses --tiling-backend and --tiling-batch)")
    p.add_argument("--omezarr-runs", type=int, default=1, help="runs per writer in the omezarr section (median)")
    bench_streaming.add_arguments(p)
    p.add_argument("--json", type=Path, help="write the results as JSON to this file")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --json file")
    # worker-side options (internal)
    p.add_argument("--_worker", dest="worker", help=argparse.SUPPRESS)
    p.add_argument("--_section", dest="section", help=argparse.SUPPRESS)
    p.add_argument("--_output", dest="output", help=argparse.SUPPRESS)
    p.add_argument("--_format", dest="format", choices=OMEZARR_WRITERS, help=argparse.SUPPRESS)
    p.add_argument("--_folder", dest="folder", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        return args
    args.sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    args.backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    for s in args.sections:
        if s not in SECTIONS:
            p.error(f"--sections: unknown section {s!r}; choose from {', '.join(SECTIONS)}")
    for b in args.backends:
        if b not in BACKENDS:
            p.error(f"--backends: unknown backend {b!r}; choose from {', '.join(BACKENDS)}")
    if args.runs < 5:
        p.error(f"--runs must be at least 5 (medians of at least 5 runs), got {args.runs}")
    defaults = {"model": ("msrgan-x4", "msrgan-x4-small"), "size": (128, 64),
                "tiling_model": ("msrgan-x4-small", "msrgan-x4-small"), "tiling_size": (2048, 512),
                "train_patch": (96, 48)}
    for key, (full, quick) in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, quick if args.quick else full)
    if args.omezarr_runs < 1 or args.omezarr_size < 16:
        p.error("--omezarr-runs must be >= 1 and --omezarr-size >= 16")
    if args.tiling_runs < 1 or args.tiling_batch < 1 or args.tiling_size < 16:
        p.error("--tiling-runs and --tiling-batch must be >= 1 and --tiling-size >= 16")
    if args.train_batch < 1 or args.train_patch < 32 or args.train_patch % 16:
        p.error(f"--train-batch must be >= 1 and --train-patch a multiple of 16 (>= 32), got "
                f"{args.train_batch} and {args.train_patch}")
    if args.size < 16 or args.batch < 1:
        p.error(f"--size must be >= 16 and --batch >= 1, got {args.size} and {args.batch}")
    if args.json is not None and args.json.exists() and not args.overwrite:
        p.error(f"--json: {args.json} exists; pass --overwrite to replace it")
    return args


def write_json(path: Path, results: dict) -> None:
    from zoo.files import atomic_write_bytes

    atomic_write_bytes(path, (json.dumps(results, indent=2) + "\n").encode("utf-8"))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.worker:
        return worker_main(args)

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    started = time.perf_counter()
    results = {"inference": {}, "training": {}, "tiling": {}, "omezarr": {}, "streaming": {}, "machine": machine_info(),
               "settings": {"model": args.model, "size": args.size, "batch": args.batch, "runs": args.runs,
                            "warmup": args.warmup, "jit": not args.no_jit, "quick": args.quick,
                            "precision": args.mixed_precision or "float32",
                            "training": {"batch": args.train_batch, "patch": args.train_patch},
                            "tiling": {"backend": args.tiling_backend, "model": args.tiling_model,
                                       "size": args.tiling_size, "batch": args.tiling_batch,
                                       "runs": args.tiling_runs},
                            "omezarr": {"size": args.omezarr_size, "runs": args.omezarr_runs}}}
    with tempfile.TemporaryDirectory(prefix="msrgan-bench-") as tmp:
        tmp = Path(tmp)
        (tmp / "plain").mkdir()
        if "inference" in args.sections:
            results["inference"] = run_inference(args, tmp, log)
        if "training" in args.sections:
            if training_available():
                results["training"] = run_training(args, tmp, log)
            else:
                log("training: msrgan.training is not in this checkout; section skipped")
        if "tiling" in args.sections:
            results["tiling"] = run_tiling(args, tmp, log)
        if "omezarr" in args.sections:
            results["omezarr"] = run_omezarr(args, tmp, log)
        if "streaming" in args.sections:
            results["streaming"] = bench_streaming.run(
                args, tmp, log, lambda name, folder: Worker("jax", "streaming", bench_streaming.worker_options(
                    args, folder), tmp, tag=f"-{name}"))
    if hasattr(os, "getloadavg"):
        results["machine"]["load_average_end"] = [round(v, 2) for v in os.getloadavg()]
    results["machine"]["wall_s"] = round(time.perf_counter() - started, 1)
    print(markdown(results, args))
    m = results["machine"]
    print(f"Machine: {m.get('cpu', '?')}, {m['cores']} cores; keras {m.get('keras')}, torch {m.get('torch')}, "
          f"jax {m.get('jax')}, tensorflow {m.get('tensorflow-cpu', m.get('tensorflow'))}; load average "
          f"{m.get('load_average_start')} -> {m.get('load_average_end')}; {m['wall_s']} s in all.")
    if args.json is not None:
        write_json(args.json, results)
        log(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
