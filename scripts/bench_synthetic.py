"""Benchmark the synthetic HCS field generator on one core.

Prints the median fields/s over several runs, single-threaded (OMP/OPENBLAS/MKL threads = 1) and pinned
to one core; also the rate per CPU-second of the process, which is the better number on a busy machine.
The project's performance goal lives here, not in timed tests: at least 50 fields/s for 256x256x3
8-bit fields on one core.

With ``--patches`` it measures the training-data path instead: ``PatchDataset`` batches (random crops,
augmentation, percentile normalization and the on-the-fly degradation, ``bicubic`` and ``microscope``)
in HR patches per second on one core, from a pool of synthetic fields.

Example:
    PYTHONPATH=. .venv/bin/python scripts/bench_synthetic.py --size 256 --channels 3 --fields 100 --runs 5
    PYTHONPATH=. .venv/bin/python scripts/bench_synthetic.py --patches --patch-size 96 --scale 4 --runs 3
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402


def main(argv: list[str] | None = None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--channels", type=int, default=3, choices=(1, 3, 4))
    parser.add_argument("--bit-depth", type=int, default=8, choices=(8, 16))
    parser.add_argument("--fields", type=int, default=100, help="fields per run")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--target", type=float, default=50.0, help="fields/s goal (256x256x3)")
    parser.add_argument("--patches", action="store_true", help="benchmark PatchDataset batches instead")
    parser.add_argument("--patch-size", type=int, default=96)
    parser.add_argument("--scale", type=int, default=4, choices=(2, 4, 8))
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args(argv)

    if hasattr(os, "sched_setaffinity"):  # one core, so the number means "per core"
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    if args.patches:
        return bench_patches(args)

    from msrgan.data.synthetic import NUM_CLASSES, synthesize_field

    synthesize_field(0, size=args.size, channels=args.channels, bit_depth=args.bit_depth)  # warm-up
    wall, cpu = [], []
    for run in range(args.runs):
        t0, c0 = time.perf_counter(), time.process_time()
        for i in range(args.fields):
            synthesize_field(
                run * args.fields + i,
                size=args.size,
                channels=args.channels,
                bit_depth=args.bit_depth,
                label=i % NUM_CLASSES,  # every class equally often
            )
        wall.append(args.fields / (time.perf_counter() - t0))
        cpu.append(args.fields / (time.process_time() - c0))
    median = statistics.median(wall)
    print(
        f"synthesize_field {args.size}x{args.size}x{args.channels} {args.bit_depth}-bit, one core: "
        f"{median:.1f} fields/s wall-clock median of {args.runs} runs x {args.fields} fields "
        f"(min {min(wall):.1f}, max {max(wall):.1f}); {statistics.median(cpu):.1f} fields/s per CPU-second "
        f"(higher than wall-clock when the core is shared); goal {args.target:g} fields/s: "
        f"{'met' if median >= args.target else 'NOT met'}"
    )
    return median


def bench_patches(args) -> float:
    """HR patches per second (median over runs) of PatchDataset for each degradation; returns the slowest."""
    from msrgan.data.patches import PatchDataset
    from msrgan.data.synthetic import synthesize_dataset

    images, _ = synthesize_dataset(26, seed=0, size=args.size, channels=args.channels, bit_depth=args.bit_depth)
    steps = max(1, args.fields // args.batch_size)
    rates = {}
    for degradation in ("bicubic", "microscope"):
        ds = PatchDataset(list(images), patch_size=args.patch_size, scale=args.scale, batch_size=args.batch_size,
                          degradation=degradation, brightness=0.2, gamma=0.3, steps_per_epoch=steps)
        ds[0]  # warm-up (kernel matrices are cached)
        wall = []
        for run in range(args.runs):
            ds.set_epoch(run)
            t0 = time.perf_counter()
            for i in range(steps):
                ds[i]
            wall.append(steps * args.batch_size / (time.perf_counter() - t0))
        rates[degradation] = statistics.median(wall)
        print(f"PatchDataset {degradation:10s} {args.patch_size}px HR -> x{args.scale}, {args.channels} channel(s), "
              f"batch {args.batch_size}, one core: {rates[degradation]:.0f} patches/s "
              f"(median of {args.runs} runs x {steps} batches)")
    return min(rates.values())


if __name__ == "__main__":
    main()
