"""Streamed training patches per second by file format: why ``msrgan data convert`` exists.

Writes ``--fields`` random 16-bit fields of ``--size`` pixels and ``--channels`` channels as PNG (what
many collections ship), converts that folder with ``msrgan.data.convert.convert_folder`` to
uncompressed TIFFs and to zlib-tiled TIFFs, then draws ``--batches`` batches of 16 96x96 patches
(``PatchDataset`` as ``msrgan train`` draws them: x4 bicubic, augmentation, percentile normalization)
from each folder opened as a streamed source whose decoded-image cache holds ``--cache-fields`` fields,
fewer than the folder (as when a collection exceeds memory). Reported: patches/s of each (after one
batch of warm-up, statistics pass excluded), bytes on disk, and the conversion's seconds. Random data
does not compress: real microscopy makes the zlib files smaller.

    python scripts/bench_formats.py                  # 8 fields of 2048x2048x3, about a minute on 2 cores
    python scripts/bench_formats.py --fields 4 --size 512 --batches 2   # a quick look
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("KERAS_BACKEND", "jax")  # the lightest import; the data path is NumPy's


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--fields", type=int, default=8, help="fields in the folder (default 8)")
    p.add_argument("--size", type=int, default=2048, help="field side in pixels (default 2048)")
    p.add_argument("--channels", type=int, default=3, choices=(1, 3), help="channels (PNG holds 1 or 3; default 3)")
    p.add_argument("--batches", type=int, default=4, help="timed batches of 16 patches per format (default 4)")
    p.add_argument("--cache-fields", type=int, default=2, help="fields the decoded-image cache holds (default 2)")
    args = p.parse_args(argv)

    import numpy as np

    from msrgan.data.convert import convert_folder
    from msrgan.data.io import write_image
    from msrgan.data.patches import PatchDataset
    from msrgan.data.stream import open_lazy_folder

    shape = (args.size, args.size, args.channels) if args.channels > 1 else (args.size, args.size)
    field_bytes = int(np.prod(shape)) * 2
    rows = []
    with tempfile.TemporaryDirectory(prefix="msrgan-formats-") as tmp:
        png = Path(tmp) / "png"
        rng = np.random.default_rng(0)
        for i in range(args.fields):
            write_image(png / f"{i % 13:02d}_field{i:04d}.png", rng.gamma(2.0, 4000.0, shape).clip(0, 65535)
                        .astype(np.uint16))
        folders = {"PNG (as shipped)": (png, None)}
        for name, compression in (("TIFF, uncompressed (data convert)", None),
                                  ("TIFF, zlib tiles of 256 (data convert --compression zlib)", "zlib")):
            out = Path(tmp) / (compression or "plain")
            start = time.perf_counter()
            convert_folder(png, out, compression=compression, progress=False)
            folders[name] = (out, time.perf_counter() - start)
        for name, (folder, convert_s) in folders.items():
            src = open_lazy_folder(folder, cache_bytes=args.cache_fields * field_bytes)
            for im in src.images:  # the one-time statistics pass, not timed
                im.fit_normalization(2.0, 99.8)
            ds = PatchDataset(src.images, patch_size=96, scale=4, batch_size=16, augment=True,
                              normalization="percentile", steps_per_epoch=args.batches + 1, seed=0)
            ds[0]
            start = time.perf_counter()
            for i in range(1, args.batches + 1):
                ds[i]
            rate = 16 * args.batches / (time.perf_counter() - start)
            disk = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())
            rows.append((name, src.images[0].kind, rate, disk / 1e6, convert_s))
            src.info["store"].handles.close()
    print(f"### Streamed patches/s by format ({args.fields} fields of {'x'.join(map(str, shape))} uint16, "
          f"decoded-image cache of {args.cache_fields} fields; {args.batches} batches of 16 96x96 patches)\n")
    print("| folder | read as | patches/s | MB on disk | conversion s |")
    print("|---|---|---:|---:|---:|")
    for name, kind, rate, mb, convert_s in rows:
        print(f"| {name} | {kind} | {rate:,.1f} | {mb:,.0f} | {'' if convert_s is None else f'{convert_s:.1f}'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
