"""``evaluate``: degrade, upscale three ways, score and segment each image, then test SR against bicubic."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Sequence

import numpy as np

from msrgan.evaluate.figures import _comparison_figure
from msrgan.evaluate.files import _check_targets, _publish, _unique_stems
from msrgan.evaluate.report import write_report
from msrgan.evaluate.result import METHODS, EvaluationResult, wilcoxon_tests
from msrgan.metrics import count_nuclei, dice, iou, psnr, segment_nuclei, ssim
from zoo.files import partial_path


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


def _to_unit(hr: np.ndarray, normalization: str, name: str) -> np.ndarray:
    """``hr`` in [0, 1] by the normalizer named ``normalization``, fitted on ``hr`` itself, clipped."""
    from msrgan.data.normalize import get_normalizer

    return get_normalizer(normalization, clip=True).before(hr, name=name)


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
        normalization: How HR images reach [0, 1], a name of ``msrgan.data.normalize.NORMALIZATIONS``:
            ``"percentile"`` (training default), ``"unit"`` or ``"none"``; each image fitted on its own.
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
    from msrgan.data.normalize import NORMALIZATIONS
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
    normalization = NORMALIZATIONS.canonical(normalization)
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
