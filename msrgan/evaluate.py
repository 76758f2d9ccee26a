"""Evaluation a biologist can check: image quality, nuclei segmentation and a paired test.

For each high-resolution (HR) image:

1. map it to [0, 1] the way the training data was (``normalization="percentile"``: per image and
   channel, 2 / 99.8 percentiles to 0 / 1, clipped, as ``msrgan.data.patches.PatchDataset``;
   or ``"unit"``: divide by 255 / 65535), cropping the bottom/right rows and columns that do
   not divide by the scale;
2. make the low-resolution (LR) image with ``msrgan.data.degrade.degrade`` (``bicubic`` or
   ``microscope``; the seed of image ``i`` is ``seed + i``);
3. upscale it three ways: ``nearest`` (pixel replication), ``bicubic`` (Keys' cubic, a = -0.5,
   Pillow) and ``sr`` (the model, through ``msrgan.inference.upscale``); every result is
   clipped to [0, 1];
4. score each against the HR image: PSNR and SSIM (``msrgan.metrics``, ``crop_border=scale``);
   segment nuclei (Otsu + watershed, ``msrgan.metrics.segment_nuclei``) on the nucleus channel
   of HR, nearest, bicubic and SR; Dice and IoU of each mask against the HR mask; nuclei counts.

Then a Wilcoxon signed-rank test (``scipy.stats.wilcoxon``, two-sided) pairs SR with bicubic
over the images, per metric. ``write_report`` writes Markdown and CSV tables (each states the
convention), one comparison figure per image (LR | bicubic | SR | HR, zoomed insets, nuclei
outlines) and a box plot of the metrics.

Example:
    >>> import numpy as np, tempfile
    >>> from msrgan.models import Generator
    >>> g = Generator(num_blocks=1, filters=8, channels=3, scale=4)
    >>> hr = [np.random.default_rng(i).integers(0, 255, (64, 64, 3), dtype=np.uint8) for i in range(3)]
    >>> result = evaluate(g, hr, progress=False)
    >>> sorted(result.summary_by_method())
    ['bicubic', 'nearest', 'sr']
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import re
import shutil
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np

from msrgan.metrics import count_nuclei, dice, iou, psnr, segment_nuclei, ssim
from zoo.files import atomic_write_bytes, partial_path

__all__ = ["METHODS", "EvaluationResult", "evaluate", "load_pairs", "nucleus_channel_index", "upsample", "write_report"]

METHODS = ("nearest", "bicubic", "sr")
"""The compared reconstructions, in table order."""
QUALITY = ("psnr", "ssim")
SEGMENTATION = ("dice", "iou", "nuclei", "count_error")
TESTED = ("psnr", "ssim", "dice", "iou", "count_error")
LABELS = {"psnr": "PSNR (dB)", "ssim": "SSIM", "dice": "Dice vs HR", "iou": "IoU vs HR",
          "nuclei": "nuclei count", "count_error": "abs. count error"}
HIGHER_IS_BETTER = {"psnr": True, "ssim": True, "dice": True, "iou": True, "count_error": False}
REPORT_FILES = ("summary.md", "metrics.csv", "summary.csv", "wilcoxon.csv", "evaluation.json",
                "figures/metrics_boxplot.png")


def nucleus_channel_index(channels: int) -> int:
    """Index of the nucleus (DAPI) channel in a channel layout of ``msrgan.convention``.

    4 channels (nucleus, microtubules, ER, protein): 0; 3 channels (RGB merge, B = nucleus): 2;
    1 channel, or a count without a layout (2, 5 or more channels, read channel by channel): 0.
    """
    from msrgan.convention import CHANNEL_LAYOUTS

    names = CHANNEL_LAYOUTS.get(int(channels), ())
    return names.index("nucleus") if "nucleus" in names else 0


def upsample(lr: np.ndarray, scale: int, method: str) -> np.ndarray:
    """Classical upscaling of a float ``(h, w, C)`` image: ``"nearest"`` or ``"bicubic"``.

    ``bicubic`` is Pillow's (Keys' cubic convolution, a = -0.5) on float32 channels, the
    interpolation MATLAB's ``imresize`` uses when enlarging; it is not clipped.

    Example:
        >>> upsample(np.ones((4, 4, 1), np.float32), 2, "bicubic").shape
        (8, 8, 1)
    """
    lr = np.asarray(lr, np.float32)
    if lr.ndim != 3:
        raise ValueError(f"lr must be (h, w, C), got shape {lr.shape}")
    if method == "nearest":
        return np.repeat(np.repeat(lr, scale, axis=0), scale, axis=1)
    if method == "bicubic":
        from PIL import Image

        h, w, c = lr.shape
        out = np.empty((h * scale, w * scale, c), np.float32)
        for k in range(c):
            im = Image.fromarray(np.ascontiguousarray(lr[..., k]), mode="F")
            out[..., k] = np.asarray(im.resize((w * scale, h * scale), Image.BICUBIC), np.float32)
        return out
    raise ValueError(f"unknown upsampling method {method!r}; use 'nearest' or 'bicubic'")


@dataclasses.dataclass
class EvaluationResult:
    """What ``evaluate`` measured.

    Attributes:
        rows: One dict per (image, method) with ``image``, ``method``, ``psnr``, ``ssim``,
            ``dice``, ``iou``, ``nuclei``, ``hr_nuclei``, ``count_error``.
        tests: One dict per tested metric: ``metric``, ``n``, ``statistic`` (Wilcoxon W),
            ``pvalue``, ``median_difference`` (SR minus bicubic), ``sr_better`` (images where SR
            scores better), ``note``.
        settings: Scale, degradation, normalization, crop border, nucleus channel, model, data.
        files: Paths written by ``write_report`` (empty until then).
    """

    rows: list
    tests: list
    settings: dict
    files: dict = dataclasses.field(default_factory=dict)

    def values(self, method: str, metric: str) -> np.ndarray:
        """Per-image values of ``metric`` for ``method``, in image order."""
        return np.asarray([r[metric] for r in self.rows if r["method"] == method], np.float64)

    def summary_by_method(self) -> dict:
        """``{method: {metric: (mean, std, n)}}``; std is the sample standard deviation (ddof=1)."""
        out = {}
        for m in METHODS:
            out[m] = {}
            for k in QUALITY + SEGMENTATION:
                v = self.values(m, k)
                out[m][k] = _mean_std(v)
        return out

    def convention(self) -> str:
        s = self.settings
        return (f"PSNR in dB, float64, on images in [0, 1] (data_range=1), all channels pooled, "
                f"{s['crop_border']}-pixel border cropped on each side (BasicSR crop_border=scale); "
                f"SSIM = scikit-image structural_similarity(data_range=1, channel_axis=-1), the mean of the "
                f"per-channel SSIMs, same crop; every reconstruction clipped to [0, 1] before scoring; "
                f"mean ± sample standard deviation (ddof=1) over {s['images']} image(s)")


def _mean_std(v: np.ndarray) -> tuple[float, float, int]:
    v = v[np.isfinite(v)]
    if v.size == 0:
        return float("nan"), float("nan"), 0
    return float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else 0.0, int(v.size)


def _to_unit(hr: np.ndarray, normalization: str, name: str) -> np.ndarray:
    from msrgan.data.normalize import normalize, to_unit_range

    if normalization == "percentile":
        return normalize(hr, clip=True, name=name)[0]
    if normalization == "unit":
        return np.clip(to_unit_range(hr), 0.0, 1.0).astype(np.float32)
    raise ValueError(f"normalization must be 'percentile' or 'unit', got {normalization!r}")


def _safe_name(name: str, index: int) -> str:
    stem = Path(str(name)).stem if name else f"image-{index:04d}"
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", stem).strip("._") or f"image-{index:04d}"
    return stem


def evaluate(model, images: Sequence[np.ndarray], *, names: Sequence[str] | None = None,
             scale: int | None = None, degradation: str = "bicubic", degradation_params: dict | None = None,
             seed: int = 0, normalization: str = "percentile", nucleus_channel: int | None = None,
             min_distance: int = 5, out_dir: str | os.PathLike | None = None, overwrite: bool = False,
             figures: bool = True, tile: int | None = None, batch_size: int = 2, progress: bool = True,
             model_name: str | None = None, data_name: str | None = None, lr_images: Sequence[np.ndarray] | None = None,
             channels_map=None, per_channel: bool | None = None) -> EvaluationResult:
    """Scores the model against nearest and bicubic upscaling on HR images (see the module doc).

    Args:
        model: A generator or anything ``zoo.from_pretrained`` takes.
        images: HR images ``(H, W, C)`` (or ``(H, W)`` for 1 channel), uint8, uint16 or float,
            with the model's channel count.
        names: One name per image (file names or ids), used in the tables and figure names.
        scale: Must equal the model's scale when given (default: the model's).
        degradation: ``"bicubic"`` or ``"microscope"``; ``degradation_params`` are passed on.
        seed: The LR of image ``i`` uses ``seed + i`` (microscope noise).
        normalization: How HR images reach [0, 1]: ``"percentile"`` (training default) or ``"unit"``.
        nucleus_channel: Channel to segment (default: the nucleus of the layout, see
            ``nucleus_channel_index``).
        min_distance: Smallest distance between nucleus centres (HR pixels) for the watershed.
        out_dir: When given, ``write_report`` is called with it (tables and figures).
        overwrite: Replace existing report files in ``out_dir``.
        figures: Write the per-image comparison figures and the box plot (with ``out_dir``).
        tile, batch_size: Passed to ``msrgan.inference.upscale``.
        progress: Show a progress bar over the images.
        model_name, data_name: How the report names the model and the data.
        lr_images: Real low-resolution acquisitions, one per HR image (the same field at 1/scale):
            scored as they are instead of LR images made by ``degradation``. Each is mapped to [0, 1]
            by ``normalization`` on its own, and the HR image is cropped to ``scale`` times its size.
        channels_map: Channel indices picked from every image (HR and LR) before scoring, e.g. ``(1, 3, 0)``.
        per_channel: Run a single-channel model channel by channel (default: whenever the model has one
            channel and the images more; ``msrgan.models.channels.fit_channels``).

    Returns:
        An ``EvaluationResult``.
    """
    from tqdm.auto import tqdm

    from msrgan.convention import check_scale
    from msrgan.data.degrade import degradation_params as resolve_degradation
    from msrgan.inference import load_generator

    model = load_generator(model)
    images = list(images)
    if not images:
        raise ValueError("no images to evaluate")
    lrs = None if lr_images is None else list(lr_images)
    if lrs is not None and len(lrs) != len(images):
        raise ValueError(f"{len(lrs)} LR images for {len(images)} HR images; give one LR image per HR image")
    if channels_map is not None:
        images, lrs = _pick_channels(images, lrs, channels_map, names)
    model = _fit_model(model, images[0], per_channel, names[0] if names else "image 0")
    mscale = int(model.scale)
    if scale is not None and check_scale(scale) != mscale:
        raise ValueError(f"scale={scale} but the model upscales x{mscale}; pass --scale {mscale} or another model")
    scale = mscale
    channels = int(model.channels)
    deg = resolve_degradation(degradation, scale, **(degradation_params or {}))
    if normalization not in ("percentile", "unit"):
        raise ValueError(f"normalization must be 'percentile' or 'unit', got {normalization!r}")
    if lrs is not None:
        deg = {"method": "acquired", "scale": scale, "lr": "real LR acquisitions, each normalized on its own"}
    names = [str(n) for n in names] if names is not None else [f"image-{i:04d}" for i in range(len(images))]
    if len(names) != len(images):
        raise ValueError(f"{len(names)} names for {len(images)} images")
    nuc = nucleus_channel_index(channels) if nucleus_channel is None else int(nucleus_channel)
    if not 0 <= nuc < channels:
        raise ValueError(f"nucleus_channel={nucleus_channel} is not a channel of a {channels}-channel model")
    stems = _unique_stems(names)
    out = Path(out_dir) if out_dir is not None else None
    if out is not None:
        _check_targets(out, stems if figures else [], overwrite, figures)

    settings = {
        "model": model_name or getattr(model, "zoo_name", None) or type(model).__name__,
        "model_class": type(model).__name__, "scale": scale, "channels": channels,
        "degradation": deg, "seed": int(seed), "normalization": normalization,
        "crop_border": scale, "data_range": 1.0, "nucleus_channel": nuc, "min_distance": int(min_distance),
        "images": len(images), "data": data_name, "segmentation": "Otsu + distance-transform watershed",
        "test": "scipy.stats.wilcoxon, two-sided, SR vs bicubic, paired by image",
    }
    created = out is not None and not out.exists()
    stage = None
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        stage = partial_path(out / "evaluate", directory=True)
    try:
        rows = []
        fig_dir = stage / "figures" if (stage is not None and figures) else None
        bar = tqdm(list(enumerate(images)), desc="evaluating", unit="image", disable=not progress)
        for i, im in bar:
            rows.extend(_evaluate_one(model, np.asarray(im), names[i], stems[i], i, scale=scale, channels=channels,
                                      lr=None if lrs is None else np.asarray(lrs[i]),
                                      degradation=degradation, degradation_params=degradation_params, seed=seed,
                                      normalization=normalization, nuc=nuc, min_distance=min_distance, tile=tile,
                                      batch_size=batch_size, fig_dir=fig_dir))
        result = EvaluationResult(rows=rows, tests=[], settings=settings)
        result.tests = wilcoxon_tests(result)
        if stage is not None:
            write_report(result, stage, overwrite=True, figures=figures)
            result.files = _publish(stage, out, result.files)
    except BaseException:
        if stage is not None:
            shutil.rmtree(stage, ignore_errors=True)
            stage = None
            if created:
                shutil.rmtree(out, ignore_errors=True)
        raise
    finally:
        if stage is not None:
            shutil.rmtree(stage, ignore_errors=True)
    return result


def _publish(stage: Path, out: Path, files: dict) -> dict:
    """Moves every file of the staging folder into ``out`` (one rename each) and remaps ``files``."""
    for src in sorted(p for p in stage.rglob("*") if p.is_file()):
        dst = out / src.relative_to(stage)
        dst.parent.mkdir(parents=True, exist_ok=True)
        os.replace(src, dst)
    return {k: str(out / Path(v).relative_to(stage)) for k, v in files.items()}


def load_pairs(lr_dir: str | os.PathLike, hr_dir: str | os.PathLike) -> tuple[list, list, list[str]]:
    """Real paired acquisitions: ``(lr_images, hr_images, names)`` of the files with the same name
    (without suffix) in ``lr_dir`` and ``hr_dir``, sorted by name.

    Raises:
        FileNotFoundError: a missing folder, or a folder without images.
        ValueError: files present in one folder only (named).
    """
    from msrgan.data.io import is_image_file, read_image

    def listing(folder, what):
        folder = Path(folder)
        if not folder.is_dir():
            raise FileNotFoundError(f"--{what} {folder}: no such folder")
        files = {p.stem: p for p in sorted(folder.iterdir())
                 if p.is_file() and is_image_file(p) and not p.name.startswith(".")}
        if not files:
            raise FileNotFoundError(f"--{what} {folder}: no images in this folder")
        return files

    lr, hr = listing(lr_dir, "lr"), listing(hr_dir, "hr")
    only_lr, only_hr = sorted(set(lr) - set(hr)), sorted(set(hr) - set(lr))
    if only_lr or only_hr:
        raise ValueError(f"LR and HR images are paired by name; without a partner: "
                         f"{', '.join(only_lr[:5]) or '-'} (in {lr_dir} only), "
                         f"{', '.join(only_hr[:5]) or '-'} (in {hr_dir} only)")
    names = sorted(lr)
    return [read_image(lr[n]) for n in names], [read_image(hr[n]) for n in names], [hr[n].name for n in names]


def _pick_channels(images, lrs, channels_map, names):
    from msrgan.inference import parse_channels_map

    idx = list(parse_channels_map(channels_map))

    def pick(im, name):
        im = np.asarray(im)
        im = im[..., None] if im.ndim == 2 else im
        bad = [i for i in idx if not 0 <= i < im.shape[-1]]
        if bad:
            raise ValueError(f"{name}: --channels {','.join(map(str, idx))} refers to channel(s) {bad}, but the "
                             f"image (shape {im.shape}) has {im.shape[-1]} channel(s)")
        return im[..., idx]

    label = [str(n) for n in names] if names is not None else [f"image {i}" for i in range(len(images))]
    images = [pick(im, label[i]) for i, im in enumerate(images)]
    if lrs is not None:
        lrs = [pick(im, f"LR of {label[i]}") for i, im in enumerate(lrs)]
    return images, lrs


def _fit_model(model, first, per_channel, name):
    """A single-channel model runs channel by channel on multi-channel images (``PerChannel``)."""
    from msrgan.models.channels import fit_channels

    first = np.asarray(first)
    channels = 1 if first.ndim == 2 else int(first.shape[-1])
    return fit_channels(model, channels, per_channel=per_channel, name=str(name))


def _evaluate_one(model, im, name, stem, i, *, scale, channels, degradation, degradation_params, seed,
                  normalization, nuc, min_distance, tile, batch_size, fig_dir, lr=None) -> list[dict]:
    from msrgan.data.degrade import degrade
    from msrgan.inference import MIN_INPUT_SIZE, upscale

    if im.ndim == 2:
        im = im[..., None]
    if im.ndim != 3 or im.shape[-1] != channels:
        raise ValueError(f"{name}: image of shape {im.shape} does not have the model's {channels} channel(s)")
    h, w = (im.shape[0] // scale) * scale, (im.shape[1] // scale) * scale
    if lr is not None:
        lr = lr[..., None] if lr.ndim == 2 else lr
        if lr.ndim != 3 or lr.shape[-1] != channels:
            raise ValueError(f"LR of {name}: shape {lr.shape} does not have the model's {channels} channel(s)")
        if lr.shape[0] * scale > im.shape[0] or lr.shape[1] * scale > im.shape[1]:
            raise ValueError(f"{name}: the LR image of shape {lr.shape} times {scale} is larger than the HR image "
                             f"of shape {im.shape}; LR must be the same field at 1/{scale} of the HR size")
        h, w = lr.shape[0] * scale, lr.shape[1] * scale
    if min(h, w) // scale < MIN_INPUT_SIZE or min(h, w) - 2 * scale < 7:
        raise ValueError(f"{name}: image of shape {im.shape} is too small for x{scale} evaluation "
                         f"(needs at least {scale * MIN_INPUT_SIZE} pixels per side)")
    if np.issubdtype(im.dtype, np.floating) and not np.all(np.isfinite(im)):
        raise ValueError(f"{name}: image contains NaN or infinite values")
    hr = _to_unit(im[:h, :w], normalization, name)
    if lr is None:
        lr = degrade(hr, scale, degradation, seed=int(seed) + i, **(degradation_params or {}))
    else:
        lr = _to_unit(lr, normalization, f"LR of {name}")
    recon = {
        "nearest": upsample(lr, scale, "nearest"),
        "bicubic": upsample(lr, scale, "bicubic"),
        "sr": upscale(lr, model, tile=tile, batch_size=batch_size, normalization="none", name=name),
    }
    recon = {k: np.clip(v, 0.0, 1.0) for k, v in recon.items()}
    hr_labels = segment_nuclei(hr[..., nuc], min_distance=min_distance)
    hr_count = count_nuclei(hr_labels)
    labels = {"hr": hr_labels}
    rows = []
    for method in METHODS:
        y = recon[method]
        lab = segment_nuclei(y[..., nuc], min_distance=min_distance)
        labels[method] = lab
        n = count_nuclei(lab)
        rows.append({
            "image": name, "method": method,
            "psnr": psnr(y, hr, crop_border=scale), "ssim": ssim(y, hr, crop_border=scale),
            "dice": dice(lab, hr_labels), "iou": iou(lab, hr_labels),
            "nuclei": n, "hr_nuclei": hr_count, "count_error": abs(n - hr_count),
        })
    if fig_dir is not None:
        _comparison_figure(fig_dir / f"{stem}_comparison.png", lr, recon, hr, labels,
                           {r["method"]: r for r in rows}, channels, nuc, scale, name, overwrite=True)
    return rows


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


def wilcoxon_tests(result: EvaluationResult) -> list[dict]:
    """Wilcoxon signed-rank tests, SR against bicubic, paired by image, one per metric.

    Uses ``scipy.stats.wilcoxon(sr, bicubic)`` (two-sided, ``zero_method="wilcox"``). With
    fewer than two usable pairs, or when every difference is zero, the statistic and p-value
    are NaN and ``note`` says why.
    """
    from scipy.stats import wilcoxon

    tests = []
    for metric in TESTED:
        a, b = result.values("sr", metric), result.values("bicubic", metric)
        ok = np.isfinite(a) & np.isfinite(b)
        a, b = a[ok], b[ok]
        d = a - b
        better = int(np.sum(d > 0) if HIGHER_IS_BETTER[metric] else np.sum(d < 0))
        row = {"metric": metric, "n": int(d.size), "median_difference": float(np.median(d)) if d.size else float("nan"),
               "sr_better": better, "statistic": float("nan"), "pvalue": float("nan"), "note": ""}
        if d.size < 2:
            row["note"] = "fewer than 2 paired images"
        elif np.all(d == 0):
            row["note"] = "all differences are zero"
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                res = wilcoxon(a, b, zero_method="wilcox", alternative="two-sided")
            row["statistic"], row["pvalue"] = float(res.statistic), float(res.pvalue)
            if d.size < 6:
                row["note"] = f"n={d.size}: the smallest attainable two-sided p-value is {2 / 2 ** d.size:.3g}"
        tests.append(row)
    return tests


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------

def _atomic_write(path: Path, data: bytes, overwrite: bool) -> Path:
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass overwrite=True (--overwrite) to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write_bytes(path, data)


def _fmt(x: float, digits: int) -> str:
    return "n/a" if x is None or not np.isfinite(x) else f"{x:.{digits}f}"


def _p(p) -> str:
    return "n/a" if p is None or not np.isfinite(p) else f"{p:.3g}"


def _pm(stats: tuple[float, float, int], digits: int) -> str:
    mean, std, n = stats
    return "n/a" if n == 0 else f"{mean:.{digits}f} ± {std:.{digits}f}"


def _csv_bytes(rows: list[dict], columns: Sequence[str]) -> bytes:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: (repr(v) if isinstance(v, float) else v) for k, v in r.items()})
    return buf.getvalue().encode()


def models_table(results: Sequence[EvaluationResult], names: Sequence[str]) -> str:
    """One Markdown table for several models evaluated on the same images: nearest, bicubic, then each model.

    Each model row has its Wilcoxon p-values against bicubic (PSNR, SSIM); the conventions follow it.
    """
    if not results or len(results) != len(names):
        raise ValueError(f"models_table needs one name per result, got {len(results)} result(s), {len(names)} name(s)")
    base = results[0].summary_by_method()
    lines = ["| method | PSNR (dB) | SSIM | Dice | Wilcoxon p vs bicubic (PSNR / SSIM) |", "|---|---:|---:|---:|---|"]
    for m in ("nearest", "bicubic"):
        lines.append(f"| {m} | {_pm(base[m]['psnr'], 2)} | {_pm(base[m]['ssim'], 4)} | {_pm(base[m]['dice'], 3)} | |")
    for name, result in zip(names, results):
        sr = result.summary_by_method()["sr"]
        tests = {t["metric"]: t for t in result.tests}
        lines.append(f"| {name} | {_pm(sr['psnr'], 2)} | {_pm(sr['ssim'], 4)} | {_pm(sr['dice'], 3)} | "
                     f"{_p(tests['psnr']['pvalue'])} / {_p(tests['ssim']['pvalue'])} |")
    return "\n".join(lines) + "\n\n" + results[0].convention()


def markdown_report(result: EvaluationResult) -> str:
    """The Markdown summary: settings, convention, quality, segmentation, Wilcoxon and per-image tables."""
    s = result.settings
    summ = result.summary_by_method()
    deg = s["degradation"]
    params = "".join(f", {k}={v}" for k, v in deg.items() if k not in ("method", "scale", "implementation"))
    deg_text = f'"{deg["method"]}"{params}'
    norm_text = ("per image and channel, 2 / 99.8 percentiles to 0 / 1, clipped" if s["normalization"] == "percentile"
                 else "divided by the dtype maximum (255 / 65535), clipped")
    lines = [
        "# msrgan evaluation",
        "",
        f"- Model: `{s['model']}` ({s['model_class']}, x{s['scale']}, {s['channels']} channel(s))",
        f"- Data: `{s['data']}`, {s['images']} image(s); HR mapped to [0, 1] {norm_text}",
        f"- LR: `msrgan.data.degrade.degrade(hr, {s['scale']}, {deg_text})`, seed {s['seed']} + image index",
        "- Methods: `nearest` (pixel replication) and `bicubic` (Keys' cubic a = -0.5) upsampling of the LR; "
        "`sr` = the model",
        f"- **Convention:** {result.convention()}.",
        "",
        "## Image quality",
        "",
        f"| method | PSNR (dB), crop {s['crop_border']} | SSIM, crop {s['crop_border']} |",
        "|---|---|---|",
    ]
    for m in METHODS:
        lines.append(f"| {m} | {_pm(summ[m]['psnr'], 2)} | {_pm(summ[m]['ssim'], 4)} |")
    hr_counts = result.values("sr", "hr_nuclei")
    lines += [
        "",
        f"## Nuclei segmentation (channel {s['nucleus_channel']}; {s['segmentation']}, "
        f"min_distance {s['min_distance']} px)",
        "",
        "Dice and IoU of each foreground mask against the mask segmented on the HR image; counts are "
        "watershed objects.",
        "",
        "| method | Dice vs HR | IoU vs HR | nuclei count | abs. count error |",
        "|---|---|---|---|---|",
        f"| HR | 1 | 1 | {_pm(_mean_std(hr_counts), 1)} | 0 |",
    ]
    for m in METHODS:
        lines.append(f"| {m} | {_pm(summ[m]['dice'], 4)} | {_pm(summ[m]['iou'], 4)} | "
                     f"{_pm(summ[m]['nuclei'], 1)} | {_pm(summ[m]['count_error'], 1)} |")
    lines += [
        "",
        "## Paired test: SR vs bicubic",
        "",
        f"Wilcoxon signed-rank test ({s['test']}); difference = SR - bicubic; "
        "'SR better' counts images where SR scores better (lower for the count error).",
        "",
        "| metric | n | median difference | SR better | W | p-value | note |",
        "|---|---|---|---|---|---|---|",
    ]
    for t in result.tests:
        lines.append(f"| {LABELS[t['metric']]} | {t['n']} | {_fmt(t['median_difference'], 4)} | "
                     f"{t['sr_better']}/{t['n']} | {_fmt(t['statistic'], 1)} | {_fmt(t['pvalue'], 4)} | {t['note']} |")
    lines += [
        "",
        "## Per image",
        "",
        "| image | method | PSNR (dB) | SSIM | Dice | IoU | nuclei (HR) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in result.rows:
        lines.append(f"| {r['image']} | {r['method']} | {_fmt(r['psnr'], 2)} | {_fmt(r['ssim'], 4)} | "
                     f"{_fmt(r['dice'], 4)} | {_fmt(r['iou'], 4)} | {r['nuclei']} ({r['hr_nuclei']}) |")
    if result.files.get("figures"):
        lines += ["", "Figures: `figures/<image>_comparison.png` (LR | bicubic | SR | HR) and "
                  "`figures/metrics_boxplot.png`."]
    return "\n".join(lines) + "\n"


def write_report(result: EvaluationResult, out_dir: str | os.PathLike, *, overwrite: bool = False,
                 figures: bool = True) -> dict:
    """Writes the tables (and the box plot) of ``result`` into ``out_dir``; returns the paths.

    Files: ``summary.md`` (Markdown, convention stated), ``metrics.csv`` (per image and method),
    ``summary.csv`` (mean and std per method and metric), ``wilcoxon.csv``, ``evaluation.json``
    (all of it) and ``figures/metrics_boxplot.png``. CSV rows carry the convention in their
    ``data_range``, ``crop_border`` and ``channels`` columns. Each file is written to a
    temporary name and renamed; existing files need ``overwrite=True``.
    """
    out = Path(out_dir)
    s = result.settings
    conv = {"data_range": s["data_range"], "crop_border": s["crop_border"],
            "channels": f"mean over {s['channels']}" if s["channels"] > 1 else "1"}
    files = dict(result.files)
    if figures:
        files["figures"] = str(out / "figures")
    result.files = files
    per_image = [{**r, **conv} for r in result.rows]
    cols = ["image", "method", "psnr", "ssim", "dice", "iou", "nuclei", "hr_nuclei", "count_error",
            "data_range", "crop_border", "channels"]
    files["metrics.csv"] = str(_atomic_write(out / "metrics.csv", _csv_bytes(per_image, cols), overwrite))
    summ = result.summary_by_method()
    srows = []
    for m in METHODS:
        for k in QUALITY + SEGMENTATION:
            mean, std, n = summ[m][k]
            srows.append({"method": m, "metric": k, "mean": mean, "std": std, "n": n, **conv,
                          "convention": result.convention() if k in QUALITY else s["segmentation"]})
    files["summary.csv"] = str(_atomic_write(
        out / "summary.csv",
        _csv_bytes(srows, ["method", "metric", "mean", "std", "n", "data_range", "crop_border", "channels",
                           "convention"]), overwrite))
    files["wilcoxon.csv"] = str(_atomic_write(
        out / "wilcoxon.csv",
        _csv_bytes([{**t, "test": s["test"]} for t in result.tests],
                   ["metric", "n", "statistic", "pvalue", "median_difference", "sr_better", "note", "test"]),
        overwrite))
    if figures:
        files["boxplot"] = str(_boxplot(out / "figures" / "metrics_boxplot.png", result, overwrite))
    files["summary.md"] = str(_atomic_write(out / "summary.md", markdown_report(result).encode(), overwrite))
    payload = {"settings": s, "convention": result.convention(), "rows": result.rows, "tests": result.tests,
               "summary": {m: {k: dict(zip(("mean", "std", "n"), v)) for k, v in d.items()}
                           for m, d in summ.items()}}
    files["evaluation.json"] = str(_atomic_write(
        out / "evaluation.json", (json.dumps(payload, indent=2, default=_json_default) + "\n").encode(), overwrite))
    result.files = files
    return files


def _json_default(v):
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return float(v)
    raise TypeError(f"cannot serialise {type(v).__name__}")


# --------------------------------------------------------------------------------------------
# Figures (matplotlib's Agg canvas directly: headless, no global backend change)
# --------------------------------------------------------------------------------------------

def _display(img: np.ndarray, channels: int) -> np.ndarray:
    from msrgan.convention import rgb_merge_indices

    if channels == 1:
        return np.clip(img[..., 0], 0, 1)
    return np.clip(img[..., list(rgb_merge_indices(channels))], 0, 1)


def _zoom_window(hr: np.ndarray) -> tuple[int, int, int]:
    """``(y, x, size)`` of the square with the most HR detail (gradient energy), for the insets."""
    g = hr.mean(axis=-1)
    energy = np.abs(np.diff(g, axis=0))[:, :-1] + np.abs(np.diff(g, axis=1))[:-1, :]
    size = max(8, min(g.shape) // 4)
    step = max(1, size // 2)
    best, pos = -1.0, (0, 0)
    for y in range(0, max(1, energy.shape[0] - size + 1), step):
        for x in range(0, max(1, energy.shape[1] - size + 1), step):
            e = float(energy[y:y + size, x:x + size].sum())
            if e > best:
                best, pos = e, (y, x)
    return pos[0], pos[1], size


def _savefig(fig, path: Path, overwrite: bool) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=fig.dpi)
    return _atomic_write(path, buf.getvalue(), overwrite)


def _comparison_figure(path: Path, lr, recon, hr, labels, scores, channels, nuc, scale, name, *, overwrite):
    from matplotlib.figure import Figure
    from skimage.segmentation import find_boundaries

    h, w = hr.shape[:2]
    y0, x0, size = _zoom_window(hr)
    panels = [("LR (nearest)", recon["nearest"], "nearest"), ("bicubic", recon["bicubic"], "bicubic"),
              ("SR (model)", recon["sr"], "sr"), ("HR", hr, "hr")]
    fig = Figure(figsize=(13, 7.4), dpi=100)
    axes = fig.subplots(2, 4)
    for col, (title, img, key) in enumerate(panels):
        ax = axes[0, col]
        shown = _display(img, channels)
        ax.imshow(shown, cmap="gray" if channels == 1 else None, vmin=0, vmax=1, interpolation="nearest",
                  extent=(0, w, h, 0))
        if key == "nearest":
            sub = f"{lr.shape[1]}x{lr.shape[0]} px, x{scale}"
        elif key == "hr":
            sub = f"{w}x{h} px"
        else:
            sub = f"PSNR {scores[key]['psnr']:.2f} dB, SSIM {scores[key]['ssim']:.3f}"
        ax.set_title(f"{title}\n{sub}", fontsize=9)
        ax.set_axis_off()
        inset = ax.inset_axes([0.58, 0.58, 0.4, 0.4])
        inset.imshow(shown[y0:y0 + size, x0:x0 + size], cmap="gray" if channels == 1 else None, vmin=0, vmax=1,
                     interpolation="nearest", extent=(x0, x0 + size, y0 + size, y0))
        inset.set_xticks([])
        inset.set_yticks([])
        for spine in inset.spines.values():
            spine.set_edgecolor("yellow")
        ax.indicate_inset_zoom(inset, edgecolor="yellow")
        # Row 2: nuclei outlines on the nucleus channel.
        ax2 = axes[1, col]
        lab = labels[key]
        base = np.clip(img[..., nuc], 0, 1)
        rgb = np.stack([base] * 3, axis=-1)
        rgb[find_boundaries(lab, mode="inner")] = (1.0, 0.2, 0.2)
        ax2.imshow(rgb, interpolation="nearest")
        n = int(len(np.unique(lab)) - (1 if (lab == 0).any() else 0))
        extra = "" if key == "hr" else f", Dice {scores[key]['dice']:.3f}"
        ax2.set_title(f"nuclei: {n}{extra}", fontsize=9)
        ax2.set_axis_off()
    fig.suptitle(f"{name}: LR | bicubic | SR | HR (yellow: zoomed region; red: nuclei, channel {nuc})", fontsize=10)
    fig.tight_layout()
    return _savefig(fig, path, overwrite)


def _boxplot(path: Path, result: EvaluationResult, overwrite: bool) -> Path:
    from matplotlib.figure import Figure

    metrics = ("psnr", "ssim", "dice", "iou")
    fig = Figure(figsize=(13, 3.6), dpi=100)
    axes = fig.subplots(1, len(metrics))
    for ax, k in zip(axes, metrics):
        data = [result.values(m, k)[np.isfinite(result.values(m, k))] for m in METHODS]
        ax.boxplot(data, tick_labels=list(METHODS), showmeans=True)
        ax.set_title(LABELS[k] + (f", crop {result.settings['crop_border']}" if k in QUALITY else ""), fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    test = {t["metric"]: t for t in result.tests}
    ptxt = ", ".join(f"{LABELS[k].split(' ')[0]} p={_fmt(test[k]['pvalue'], 3)}" for k in metrics)
    fig.suptitle(f"{result.settings['images']} image(s), x{result.settings['scale']}, "
                 f"{result.settings['degradation']['method']} degradation; Wilcoxon SR vs bicubic: {ptxt}",
                 fontsize=10)
    fig.tight_layout()
    return _savefig(fig, path, overwrite)
