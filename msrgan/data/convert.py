"""A folder of images converted to one that streams at full speed (``msrgan data convert``).

A streamed folder (``msrgan.data.stream``) reads uncompressed TIFFs by region through a memory map
and tiled or compressed TIFFs tile by tile, but PNG and JPEG can only be decoded whole: every patch
of a field that is not in the decoded-image cache costs the whole field (2048x2048x3 16-bit PNGs
streamed at 3 patches/s on 2 cores, the same fields as uncompressed TIFFs at about 3900:
``scripts/bench_formats.py``). :func:`convert_folder` writes every image of a folder as an
uncompressed TIFF (planes stored one after another, which the streamed source maps; an ImageJ
hyperstack for 8/16-bit and float32 images, as ``write_image`` writes them; other dtypes and channel
counts with their axes recorded), with the same relative path and name and the suffix ``.tif``, so
the folder layouts, labels and per-channel patterns read it as before (a ``--pattern`` names the new
suffix). ``compression="zlib"`` writes lossless tiled TIFFs instead, streamed tile by tile: slower
(about 390 patches/s for those fields) but smaller on disk for real microscopy, which compresses.
Non-image files (``metadata.csv``) are copied; hidden files are not. ``read_image`` of each new file
gives exactly the array it gives of the original (the dtype and channels kept: decoded JPEG pixels
are written as decoded).

The output folder is new: it is written as a staging folder beside it (``.OUT.converting``, each
file written whole) and renamed into place only when every image is written, so an interrupted
conversion never passes for a whole one; ``resume=True`` continues it, keeping the images it wrote
that are whole and newer than their source (a conversion of a large collection takes hours), and
dropping those of sources gone since. ``OUT/.msrgan-convert.json`` records the source and settings.
Unreadable images are skipped with a warning (``strict=True``: an error), as the loaders do; two
sources that would become the same file (``a.png`` and ``a.jpg``), an output inside the source, or a
disk too small for the estimated size stop it before anything is written.

Example:
    >>> import tempfile, pathlib, numpy as np
    >>> from msrgan.data.io import read_image, write_image
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> _ = write_image(root / "src" / "03_field1.png", np.arange(48, dtype=np.uint8).reshape(4, 4, 3))
    >>> report = convert_folder(root / "src", root / "out", progress=False)
    >>> [p.name for p in report.written], np.array_equal(read_image(root / "out" / "03_field1.tif"),
    ...                                                  read_image(root / "src" / "03_field1.png"))
    (['03_field1.tif'], True)
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
import warnings
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

__all__ = ["COMPRESSIONS", "RECORD", "ConversionReport", "convert_folder", "staging_folder"]


@dataclasses.dataclass(frozen=True)
class ConversionReport:
    """What :func:`convert_folder` did: the images written (their paths in the output folder), the
    other files copied, the sources skipped as unreadable, the bytes of the images, and how many of
    them a resumed conversion found already written."""

    out: Path
    written: list[Path]
    copied: list[Path]
    skipped: list[Path]
    bytes_written: int
    resumed: int = 0  # of ``written``, the images an interrupted run had already written


COMPRESSIONS = (None, "zlib")


RECORD = ".msrgan-convert.json"  # in OUT: the source and settings it was converted from (hidden: loaders skip it)


def staging_folder(out) -> Path:
    """Where :func:`convert_folder` writes ``out`` until every image is in it (beside ``out``, hidden)."""
    out = Path(out)
    return out.with_name(f".{out.name}.converting")


def convert_folder(src, out, *, compression: str | None = None, tile: int = 256, strict: bool = False,
                   resume: bool = False, progress: bool = True) -> ConversionReport:
    """Writes every image under ``src`` as a TIFF under the new folder ``out``: uncompressed by default.

    Args:
        src: The folder to convert (every layout the loaders read: flat, class subfolders, per-channel files).
        out: The folder to create; it must not exist yet, nor lie inside ``src``.
        compression: ``None`` (an uncompressed TIFF, memory-mapped when streamed: the fastest) or
            ``"zlib"`` (lossless, tiled: a patch decodes the tiles it overlaps; 2048x2048x3 16-bit fields
            streamed at about 390 patches/s on 2 cores against about 3900, in a fraction of the disk
            space for real microscopy, which compresses).
        tile: The tile side of compressed files, a multiple of 16 (TIFF's rule).
        strict: Stop at an unreadable image instead of skipping it with a warning.
        resume: Continue an interrupted conversion into ``out`` (its staging folder, see
            :func:`staging_folder`): the images it wrote are kept, the others written.
        progress: Show a progress bar.

    Returns:
        A :class:`ConversionReport`.

    Raises:
        FileNotFoundError / NotADirectoryError: ``src`` is missing or not a folder.
        FileExistsError: ``out`` exists; an interrupted conversion into ``out`` exists and ``resume`` is
            not set.
        ValueError: ``out`` inside ``src``; two images that would be written to the same file; an
            unreadable image with ``strict``; a disk without room for the estimated output (the
            uncompressed size, also when compressing); an unknown ``compression`` or a bad ``tile``.
    """
    from tqdm.auto import tqdm

    from msrgan.data.file_regions import probe_file
    from msrgan.data.io import is_image_file, read_image
    from zoo.files import atomic_file, plain_folder_permissions

    if compression not in COMPRESSIONS:
        raise ValueError(f"compression must be one of {', '.join(map(str, COMPRESSIONS))}, got {compression!r}")
    if isinstance(tile, bool) or not isinstance(tile, (int, np.integer)) or tile < 16 or tile % 16:
        raise ValueError(f"tile must be a positive multiple of 16 (TIFF tiles are), got tile={tile!r}")
    src, out = Path(src), Path(out)
    if not src.exists():
        raise FileNotFoundError(f"{src}: no such folder")
    if not src.is_dir():
        raise NotADirectoryError(f"{src} is not a folder")
    if out.exists() or out.is_symlink():
        raise FileExistsError(f"{out} exists; converting writes a new folder (remove it or pick another name)")
    if out.resolve() == src.resolve() or src.resolve() in out.resolve().parents:
        raise ValueError(f"{out} lies inside the folder it converts ({src}); write it elsewhere")
    stage = staging_folder(out)
    record = {"source": str(src.resolve()), "compression": compression, "tile": int(tile) if compression else None}
    if stage.exists() and not resume:
        raise FileExistsError(f"{stage} holds an interrupted conversion into {out}; resume it (--resume) or "
                              "delete it")
    if stage.exists() and (stage / RECORD).is_file():
        before = json.loads((stage / RECORD).read_text())
        if before != record:
            raise ValueError(f"{stage} is a conversion of {before['source']} with compression "
                             f"{before['compression']!r}, tile {before['tile']}; this one is of {record['source']} "
                             f"with {compression!r}, tile {record['tile']}: delete it to start over")

    images, others, targets = [], [], {}
    for rel in _files(src):
        path = src / rel
        if not is_image_file(path):
            others.append(rel)
            continue
        target = rel.with_suffix(".tif")
        if target in targets:
            raise ValueError(f"{src / targets[target]} and {path} would both be written as {out / target}; "
                             "rename one of them first")
        targets[target] = rel
        images.append(rel)
    if not images:
        raise ValueError(f"{src}: no image files found (looked for .tif, .tiff, .png, .jpg, .jpeg)")

    estimate, readable, layouts, done = 0, [], {}, set()
    for rel in images:
        try:
            layouts[rel] = probe_file(src / rel)
        except ValueError as exc:
            if strict:
                raise
            warnings.warn(f"skipping unreadable image {src / rel}: {exc}", UserWarning, stacklevel=2)
            continue
        if _done(stage / rel.with_suffix(".tif"), src / rel, layouts[rel], probe_file):
            done.add(rel)  # an interrupted run's whole conversion of it
        else:
            estimate += int(np.prod(layouts[rel].shape)) * layouts[rel].dtype.itemsize
        readable.append(rel)
    estimate += sum((src / rel).stat().st_size for rel in others)
    kept = set(readable)
    skipped = [src / rel for rel in images if rel not in kept]
    disk = out.resolve().parent
    while not disk.exists():
        disk = disk.parent
    free = shutil.disk_usage(disk).free
    if estimate > free:
        raise ValueError(f"{out}: the converted files need about {estimate / 1e9:,.1f} GB, the disk has "
                         f"{free / 1e9:,.1f} GB free")

    # Each file is written whole (a partial file, renamed), into the staging folder, which becomes
    # OUT only when every image is in it: an interrupted run leaves the staging folder to resume.
    stage.mkdir(parents=True, exist_ok=True)
    with atomic_file(stage / RECORD) as tmp:
        tmp.write_text(json.dumps(record, indent=2) + "\n")
    written, copied, total, resumed = [], [], 0, 0
    for rel in tqdm(readable, desc="converting", unit="image", disable=not progress):
        dst = stage / rel.with_suffix(".tif")
        if rel in done:
            resumed += 1
        else:
            try:
                image = read_image(src / rel)
            except (ValueError, OSError) as exc:
                if strict:
                    raise
                warnings.warn(f"skipping unreadable image {src / rel}: {exc}", UserWarning, stacklevel=2)
                skipped.append(src / rel)
                continue
            dst.parent.mkdir(parents=True, exist_ok=True)
            with atomic_file(dst) as tmp:
                _write_tiff(tmp, image, compression, int(tile))
        total += dst.stat().st_size
        written.append(out / rel.with_suffix(".tif"))
    for rel in others:
        dst, source = stage / rel, (src / rel).stat()
        if not (dst.is_file() and dst.stat().st_size == source.st_size
                and dst.stat().st_mtime_ns == source.st_mtime_ns):  # copied whole by an interrupted run
            dst.parent.mkdir(parents=True, exist_ok=True)
            with atomic_file(dst) as tmp:
                shutil.copy2(src / rel, tmp)
        copied.append(out / rel)
    expected = {stage / RECORD} | {stage / p.relative_to(out) for p in written + copied}
    for path in sorted(stage.rglob("*"), reverse=True):  # an earlier run's files of sources gone since
        if path.is_file() and path not in expected:
            path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    if out.exists() or out.is_symlink():
        raise FileExistsError(f"{out} appeared while converting; the converted folder stays in {stage}")
    plain_folder_permissions(stage)
    os.replace(stage, out)
    logger.info("converted %d image(s) of %s to %s (%.1f MB)", len(written), src, out, total / 1e6)
    return ConversionReport(out, written, copied, skipped, total, resumed)


def _files(src: Path) -> list[Path]:
    """The files under ``src`` (relative, sorted), following linked folders (as the loaders do) once
    each; hidden files and folders are left out."""
    found, seen = [], set()
    for root, dirs, files in os.walk(src, followlinks=True):
        real = os.path.realpath(root)
        if real in seen:  # a link back into a folder already walked
            dirs[:] = []
            continue
        seen.add(real)
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        rel_root = Path(root).relative_to(src)
        found += [rel_root / f for f in files if not f.startswith(".") and os.path.isfile(os.path.join(root, f))]
    return sorted(found)


def _done(dst: Path, source: Path, layout, probe_file) -> bool:
    """Whether an interrupted run's ``dst`` is the finished conversion of ``source`` as it is now: a
    whole TIFF (its header and size agree) of the source's shape and dtype, written after the
    source last changed."""
    if not dst.is_file() or dst.stat().st_mtime_ns < source.stat().st_mtime_ns:
        return False
    try:
        got = probe_file(dst)
    except ValueError:
        return False
    return tuple(got.shape) == tuple(layout.shape) and got.dtype.newbyteorder("=") == layout.dtype.newbyteorder("=")


def _write_tiff(path: Path, image: np.ndarray, compression: str | None, tile: int) -> None:
    """``image`` as a TIFF that ``read_image`` reads back exactly: planes (CYX) for several channels, its
    axes recorded. Uncompressed: contiguous, an ImageJ hyperstack for 8/16-bit and float32 images (what
    ``write_image`` writes); zlib: tiled, so a patch of one channel decodes that channel's tiles only."""
    import tifffile

    data, axes = (np.moveaxis(image, -1, 0), "CYX") if image.ndim == 3 and image.shape[-1] > 1 else (
        image.reshape(image.shape[:2]), "YX")
    if compression is None and image.dtype in (np.uint8, np.uint16, np.float32):
        tifffile.imwrite(path, data, imagej=True, metadata={"axes": axes})
    elif compression is None:
        tifffile.imwrite(path, data, photometric="minisblack", metadata={"axes": axes})
    else:
        tifffile.imwrite(path, data, tile=(tile, tile), compression=compression, photometric="minisblack",
                         metadata={"axes": axes})
