"""Benchmark the synthetic HCS field generator on one core.

Prints the median fields/s over several runs, single-threaded (OMP/OPENBLAS/MKL threads = 1) and pinned
to one core; also the rate per CPU-second of the process, which is the better number on a busy machine.
The project's performance goal lives here, not in timed tests: at least 50 fields/s for 256x256x3
8-bit fields on one core.

Example:
    PYTHONPATH=. .venv/bin/python scripts/bench_synthetic.py --size 256 --channels 3 --fields 100 --runs 5
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
    args = parser.parse_args(argv)

    if hasattr(os, "sched_setaffinity"):  # one core, so the number means "per core"
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})

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


if __name__ == "__main__":
    main()
