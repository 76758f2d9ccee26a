"""Benchmark of the streaming upscale path: wall time and peak memory of a large 16-bit image.

Upscales a synthetic ``SIZE x SIZE`` uint16 image (default 4096, one channel) with a generator
straight into a tiled TIFF (``msrgan.inference.upscale_to_tiff``) and reports:

- wall time and output megapixels per second;
- peak resident memory (RSS) of the process during the streaming phase, sampled every 20 ms
  from ``/proc/self/status``, next to the RSS before it started (model built, input in memory)
  and to the size the whole output would take in memory (uint16 and float32);
- the OS's overall peak (``ru_maxrss``).

The point: memory is bounded by the tile size (one batch of tiles and a thin band of blend rows
across the width), not by the image: at x4, a 4096x4096 input makes a 16384x16384 output of
512 MiB as uint16 (1 GiB as float32), while the streaming path's peak stays far below it.

Usage:
    python scripts/bench_tiling.py                       # 4096x4096 uint16 x4, msrgan-x4-small
    python scripts/bench_tiling.py --size 1024 --model msrgan-x4 --tile 256 --batch-size 2
    python scripts/bench_tiling.py --model runs/demo/msrgan      # a pretrained folder (or owner/name)

``--model`` is a zoo entry name (untrained weights are fine for timing and memory), ``tiny`` (a
1-block, 8-filter, 1-channel x4 generator that isolates the tiling machinery; ``tiny3`` for RGB)
or anything ``zoo.from_pretrained`` takes. ``--check`` also compares a crop of the streamed TIFF with an
in-memory ``upscale`` of the matching input crop (only meaningful for small ``--size``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def rss_bytes() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


class PeakRSS:
    """Samples the process RSS in a background thread; ``peak`` is the largest sample."""

    def __init__(self, interval: float = 0.02):
        self.interval = interval
        self.peak = rss_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_bytes())
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes())


def make_input(size: int, channels: int, seed: int = 0) -> np.ndarray:
    """A smooth-plus-speckle 16-bit field (cheap to make at any size)."""
    rng = np.random.default_rng(seed)
    y = np.linspace(0, 8 * np.pi, size, dtype=np.float32)
    base = (np.sin(y)[:, None] * np.cos(0.7 * y)[None, :] + 1.0) * 12000.0
    img = np.empty((size, size, channels), np.uint16)
    for c in range(channels):
        noise = rng.integers(0, 4000, (size, size), dtype=np.uint16)
        img[..., c] = (base + noise + 1000 * c).astype(np.uint16)
    return img


def load_model(spec: str):
    import zoo

    if spec.startswith("tiny"):
        # A one-channel x4 generator of 1 block and 8 filters: the tiling machinery's cost
        # (memory, bookkeeping, TIFF writing) without a big network's compute ("tiny3" for RGB).
        from msrgan.models import Generator

        model = Generator(num_blocks=1, filters=8, channels=3 if spec == "tiny3" else 1, scale=4)
        model(np.zeros(model.example_input_shape(), np.float32))
        return model
    if spec in zoo.list_models():
        model = zoo.create(spec)
        model(np.zeros(model.example_input_shape(), np.float32))
        return model
    return zoo.from_pretrained(spec)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", type=int, default=4096, help="input side in pixels (default 4096)")
    p.add_argument("--channels", type=int, default=1, help="input channels (default 1)")
    p.add_argument("--model", default="msrgan-x4-small", help="zoo name or pretrained source")
    p.add_argument("--tile", type=int, default=None, help="model tile side (default: msrgan's)")
    p.add_argument("--overlap", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=2)
    p.add_argument("--out", default=None, help="keep the TIFF here (default: a temporary file, deleted)")
    p.add_argument("--check", action="store_true", help="compare the streamed TIFF with in-memory upscale")
    p.add_argument("--json", default=None, help="also write the results to this JSON file")
    args = p.parse_args(argv)

    import keras

    from msrgan.inference import DEFAULT_TILE, default_overlap, plan_tiles, upscale, upscale_to_tiff

    model = load_model(args.model)
    channels = int(model.channels)
    img = make_input(args.size, args.channels)
    channels_map = None if args.channels == channels else tuple([0] * channels)
    scale = int(model.scale)
    overlap = default_overlap(model) if args.overlap is None else args.overlap
    plan = plan_tiles(img.shape[:2], scale, tile=args.tile, overlap=overlap)
    # Warm up (compile) on one batch-sized call so the timing is the steady state.
    warm = img[:plan.tile[0], :plan.tile[1]]
    upscale(warm, model, tile=args.tile, overlap=args.overlap, batch_size=args.batch_size, channels_map=channels_map)

    out_shape = (args.size * scale, args.size * scale, channels)
    full_u16 = int(np.prod(out_shape)) * 2
    full_f32 = int(np.prod(out_shape)) * 4
    tmpdir = None
    if args.out:
        target = Path(args.out)
    else:
        tmpdir = tempfile.mkdtemp(prefix="msrgan-bench-")
        target = Path(tmpdir) / "upscaled.tif"
    before = rss_bytes()
    t0 = time.perf_counter()
    with PeakRSS() as peak:
        upscale_to_tiff(img, model, target, tile=args.tile, overlap=args.overlap, batch_size=args.batch_size,
                        channels_map=channels_map, overwrite=True, progress=True)
    wall = time.perf_counter() - t0
    result = {
        "backend": keras.backend.backend(), "model": args.model, "input": list(img.shape), "dtype": str(img.dtype),
        "scale": scale, "output": list(out_shape), "tile": list(plan.tile), "overlap": overlap, "blend": plan.blend,
        "grid": list(plan.grid), "tiff_tile": list(plan.block), "batch_size": args.batch_size,
        "default_tile": DEFAULT_TILE, "wall_s": round(wall, 2),
        "output_mpix_per_s": round(np.prod(out_shape[:2]) / 1e6 / wall, 3),
        "rss_before_mib": round(before / 2**20, 1), "peak_rss_during_mib": round(peak.peak / 2**20, 1),
        "peak_increase_mib": round((peak.peak - before) / 2**20, 1),
        "full_output_uint16_mib": round(full_u16 / 2**20, 1), "full_output_float32_mib": round(full_f32 / 2**20, 1),
        "ru_maxrss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "tiff_bytes": target.stat().st_size,
    }
    if args.check:
        import tifffile

        whole = upscale(img, model, tile=args.tile, overlap=args.overlap, batch_size=args.batch_size,
                        channels_map=channels_map)
        streamed = tifffile.imread(target)
        result["check_equal"] = bool(np.array_equal(streamed, whole[..., 0] if channels == 1 else whole))
    if tmpdir:
        target.unlink()
        os.rmdir(tmpdir)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
