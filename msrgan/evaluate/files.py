"""The report's files: names, the overwrite check, atomic writes and publishing the staged folder."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Sequence

from zoo.files import atomic_write_bytes, move_entries

REPORT_FILES = ("summary.md", "metrics.csv", "summary.csv", "wilcoxon.csv", "evaluation.json",
                "figures/metrics_boxplot.png")


def _safe_name(name: str, index: int) -> str:
    stem = Path(str(name)).stem if name else f"image-{index:04d}"
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._") or f"image-{index:04d}"
    return stem


def _unique_stems(names: Sequence[str]) -> list[str]:
    stems, seen = [], {}
    for i, n in enumerate(names):
        s = _safe_name(n, i)
        if s in seen:
            seen[s] += 1
            s = f"{s}-{seen[s]}"
        else:
            seen[s] = 0
        stems.append(s)
    return stems


def _check_targets(out: Path, stems: Sequence[str], overwrite: bool, figures: bool) -> None:
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{out} exists and is not a folder")
    if overwrite:
        return
    targets = [out / f for f in REPORT_FILES if figures or not f.startswith("figures/")]
    targets += [out / "figures" / f"{s}_comparison.png" for s in stems]
    existing = [str(p) for p in targets if p.exists()]
    if existing:
        raise FileExistsError(f"{len(existing)} report file(s) exist, e.g. {existing[0]}; "
                              f"pass overwrite=True (--overwrite) or choose another output folder")


def _publish(stage: Path, out: Path, files: dict) -> dict:
    """Moves the staged report into ``out`` and remaps ``files``: one rename an entry, folders merged
    (other files of ``out`` and ``out/figures`` stay), the files replaced deleted only once all are in,
    and all put back on a failure (``zoo.files.move_entries``)."""
    move_entries(stage, out, merge=True)
    return {k: str(out / Path(v).relative_to(stage)) for k, v in files.items()}


def _atomic_write(path: Path, data: bytes, overwrite: bool) -> Path:
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True (--overwrite) to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write_bytes(path, data)
