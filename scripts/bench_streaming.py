"""The ``streaming`` section of ``scripts/benchmark.py``: training batches from a folder larger than memory.

The parent writes a folder of ``--streaming-fields`` 16-bit 4-channel fields of ``--streaming-size``
pixels (ImageJ TIFFs, as ``msrgan data synth`` writes them; 60 x 2048 x 2048 x 4 x 2 bytes = 2.0 GB by
default) and a small one of ``--streaming-small`` fields, in a temporary folder. Two worker processes
(``KERAS_BACKEND=jax``, whose import is the lightest) each open their folder with
``msrgan.data.stream.open_training_source(folder, max_memory=--streaming-budget)``, which streams the
large one and loads the small one in memory, split it as ``msrgan train`` does (10% held out) and draw
``--streaming-batches`` batches of ``PatchDataset`` per round (96x96 HR patches, batch 16, x4 bicubic,
augmentation, per-image percentile normalization: ``msrgan train``'s defaults), one epoch per round,
the rounds interleaved. This measures the data path as training draws it, not the training step: the
model step is the same for both sources and is the ``training`` section's subject.

Reported: patches/s of each and their ratio (median of the per-round ratios; target >= 0.9), the lazy
source's one-time statistics pass (each image read once, band by band, for its exact percentiles),
and each worker's peak RSS (``ru_maxrss``), which for the streamed folder must stay under the budget,
though the folder is several times larger; the RSS before any image is opened (the interpreter, NumPy,
Keras and JAX) is given too.
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from pathlib import Path

STREAMING_TARGET = 0.9
WORKERS = ("streamed", "in-memory")


def add_arguments(p) -> None:
    p.add_argument("--streaming-fields", type=int, default=60, help="fields in the streamed folder (default 60)")
    p.add_argument("--streaming-small", type=int, default=4, help="fields in the in-memory folder (default 4)")
    p.add_argument("--streaming-size", type=int, default=2048, help="field side in pixels (default 2048)")
    p.add_argument("--streaming-budget", default="600M",
                   help="max_memory of the streaming section, for the whole worker process (default 600M)")
    p.add_argument("--streaming-batches", type=int, default=40, help="batches of 16 patches per round (default 40)")


def worker_options(args, folder: Path) -> list[str]:
    return ["--_folder", str(folder), "--streaming-budget", str(args.streaming_budget),
            "--streaming-batches", str(args.streaming_batches)]


def write_folder(folder: Path, count: int, size: int, seed: int) -> int:
    """``count`` random 4-channel uint16 fields as ImageJ TIFFs; returns the bytes written."""
    import numpy as np

    from msrgan.data.io import write_image

    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    for i in range(count):
        img = rng.gamma(2.0, 4000.0, (size, size, 4)).clip(0, 65535).astype(np.uint16) if i < 2 else \
            rng.integers(0, 65535, (size, size, 4), dtype=np.uint16)
        write_image(folder / f"{i % 13:02d}_field{i:04d}.tif", img)
    return sum(f.stat().st_size for f in folder.iterdir())


def worker(args, send, serve, rss_mb, peak_rss_mb) -> None:
    """Opens ``--_folder`` with ``open_training_source`` and serves rounds of ``--streaming-batches``."""
    from msrgan.data.normalize import DEFAULT_PMAX, DEFAULT_PMIN
    from msrgan.data.patches import PatchDataset
    from msrgan.data.stream import open_training_source

    baseline = rss_mb()
    src = open_training_source(args.folder, max_memory=args.streaming_budget, seed=0)
    train, _ = dataclasses.replace(src, labels=None).split(0.1, seed=0)  # as msrgan train splits
    start = time.perf_counter()
    for im in train.images:  # lazy images: the statistics pass (in-memory images: PatchDataset's own fit)
        if hasattr(im, "fit_normalization"):
            im.fit_normalization(DEFAULT_PMIN, DEFAULT_PMAX)
    ds = PatchDataset(train.images, patch_size=96, scale=4, batch_size=16, degradation="bicubic", augment=True,
                      normalization="percentile", steps_per_epoch=args.streaming_batches, seed=0)
    prepare_s = time.perf_counter() - start
    ds[0]

    def call():
        for i in range(len(ds)):
            ds[i]
        ds.on_epoch_end()

    send({"ready": True, "streaming": src.info["streaming"], "loading": src.info["loading"], "images": len(train),
          "prepare_s": round(prepare_s, 2), "rss_before_mb": round(baseline, 1)})
    serve(call, lambda: {"peak_rss_mb": round(peak_rss_mb(), 1)})


def run(args, tmp: Path, log, make_worker) -> dict:
    from msrgan.data.stream import parse_bytes

    budget = parse_bytes(args.streaming_budget)
    big, small = tmp / "streaming-large", tmp / "streaming-small"
    log(f"streaming: writing {args.streaming_fields} + {args.streaming_small} fields of {args.streaming_size}^2 x 4 "
        "uint16 ...")
    big_bytes = write_folder(big, args.streaming_fields, args.streaming_size, 0)
    small_bytes = write_folder(small, args.streaming_small, args.streaming_size, 1)
    workers, ready = {}, {}
    try:
        for name, folder in zip(WORKERS, (big, small)):
            log(f"streaming: starting the {name} worker ...")
            workers[name] = make_worker(name, folder)
            ready[name] = workers[name].receive()
            log(f"  {name}: {ready[name]['loading']}; prepared in {ready[name]['prepare_s']} s")
        times, extra = _rounds(workers, args.runs, log)
    finally:
        for w in workers.values():
            w.close()
    patches = 16 * args.streaming_batches
    result = {"budget_mb": round(budget / 1e6), "fields": [args.streaming_fields, args.streaming_small],
              "field": [args.streaming_size, args.streaming_size, 4, "uint16"],
              "folder_mb": [round(big_bytes / 1e6), round(small_bytes / 1e6)],
              "patches_per_round": patches, "patch": 96, "batch": 16, "scale": 4, "backend": "jax"}
    for name in WORKERS:
        med = statistics.median(times[name])
        result[name] = {"patches_s": round(patches / med, 1), "median_s": round(med, 3),
                        "seconds": [round(t, 3) for t in times[name]], "peak_rss_mb": extra[name]["peak_rss_mb"],
                        **{k: ready[name][k] for k in ("streaming", "loading", "images", "prepare_s", "rss_before_mb")}}
    ratios = [m / s for s, m in zip(times["streamed"], times["in-memory"])]
    result["ratio_streamed_to_in_memory"] = round(statistics.median(ratios), 3)
    result["peak_rss_under_budget"] = result["streamed"]["peak_rss_mb"] * 2**20 < budget
    return result


def _rounds(workers: dict, runs: int, log) -> tuple[dict, dict]:
    """Per-round seconds of every worker, always in the same order, and each one's last reply.

    The order is fixed so that every round of a worker follows a round of the other: rotating it put
    two rounds of the same worker back to back at each turn, and the second of those, its data still
    in the shared caches, ran up to 1.5x faster, which the median of the ratios then picked up."""
    names = list(workers)
    times, last = {n: [] for n in names}, {}
    for r in range(runs):
        for n in names:
            last[n] = workers[n].request("run")
            times[n].append(last[n]["seconds"])
        log(f"  round {r + 1}/{runs}: " + ", ".join(f"{n} {times[n][-1]:.3f}s" for n in names))
    return times, last


def markdown(r: dict) -> list[str]:
    h, w, c, dtype = r["field"]
    lines = [f"### Streaming ({r['fields'][0]} fields of {h}x{w}x{c} {dtype}, {r['folder_mb'][0]} MB on disk, "
             f"max_memory {r['budget_mb']} MB; against {r['fields'][1]} fields in memory; {r['patches_per_round']} "
             f"patches of {r['patch']}x{r['patch']} per round, x{r['scale']} bicubic, {r['backend']})", "",
             "| source | how | images | first pass s | patches/s | peak RSS MB | RSS before MB |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for name in WORKERS:
        s = r[name]
        lines.append(f"| {name} | {'lazy, read by region' if s['streaming'] else 'arrays'} | {s['images']} | "
                     f"{s['prepare_s']:.1f} | {s['patches_s']:.0f} | {s['peak_rss_mb']:.0f} | {s['rss_before_mb']:.0f} |")
    ok_ratio = r["ratio_streamed_to_in_memory"] >= STREAMING_TARGET
    lines += ["", f"Streamed / in memory: {r['ratio_streamed_to_in_memory']:.2f}x the patches/s (target >= "
                  f"{STREAMING_TARGET}: {'met' if ok_ratio else 'NOT met'}); peak RSS "
                  f"{'under' if r['peak_rss_under_budget'] else 'OVER'} the {r['budget_mb']} MB budget.", ""]
    return lines
