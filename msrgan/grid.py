"""The held-out evaluation grid of the presets: noise x blur x object scale x sampling.

Each condition fixes the acquisition that ``msrgan.data.varied`` and the ``random`` degradation
otherwise draw, and scores models against bicubic on fields drawn with seeds that training never
uses (training draws ``(seed, i)`` with seeds below 1000; the grid uses ``(GRID_SEED + k, i)``):

| axis | values |
|---|---|
| noise (LR) | ``none``; ``moderate``: 200 photons at full scale, read noise 0.005; ``heavy``: 30 photons, read noise 0.02 |
| blur | ``none``: bicubic downsampling (the paper's); ``psf``: Gaussian PSF of 0.5 LR px, then area sampling |
| objects | ``small``: zoom 0.35 (nuclei about 7-12 px); ``large``: zoom 1.2 (about 24-40 px) |
| sampling | ``sharp``: PSF 0.6-1.6 HR px; ``oversampled``: PSF 2.5-4.5 HR px (already smooth at HR) |

HR fields keep the rest of ``varied_field``'s randomness (background, dynamic range, HR shot noise
of 2000-20000 photons at full scale, bit depth). Scores follow ``msrgan.metrics``: PSNR in float64 on [0, 1],
predictions clipped, a ``scale``-pixel border cropped; SSIM as scikit-image's with ``data_range=1``.

Example:
    >>> names = [c.name for c in conditions()]
    >>> len(names), names[0]
    (24, 'noise=none blur=none objects=small sampling=sharp')
"""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np

GRID_SEED = 5000
NOISE = {"none": {"noise_prob": 0.0},
         "moderate": {"noise_prob": 1.0, "photons": 200.0, "read_noise": 0.005},
         "heavy": {"noise_prob": 1.0, "photons": 30.0, "read_noise": 0.02}}
BLUR = {"none": {"blur_prob": 0.0, "downsample": "bicubic"},
        "psf": {"blur_prob": 1.0, "sigma": 0.5, "anisotropy": 1.0, "downsample": "area"}}
OBJECTS = {"small": {"zoom": 0.35}, "large": {"zoom": 1.2}}
SAMPLING = {"sharp": {"oversampled_prob": 0.0}, "oversampled": {"oversampled_prob": 1.0}}
HR_FIXED = {"photons": (2000.0, 20000.0), "level": (0.4, 1.0)}


@dataclasses.dataclass(frozen=True)
class Condition:
    """One grid cell: the axis values, the field parameters and the degradation parameters."""

    noise: str
    blur: str
    objects: str
    sampling: str

    @property
    def name(self) -> str:
        return f"noise={self.noise} blur={self.blur} objects={self.objects} sampling={self.sampling}"

    @property
    def field_params(self) -> dict:
        return {**HR_FIXED, **OBJECTS[self.objects], **SAMPLING[self.sampling]}

    @property
    def degradation_params(self) -> dict:
        return {"quantize": None, **BLUR[self.blur], **NOISE[self.noise]}


def conditions(noise=None, blur=None, objects=None, sampling=None) -> list[Condition]:
    """Every condition of the grid, or of the sub-grid whose axes are restricted to the given values."""
    axes = [noise or list(NOISE), blur or list(BLUR), objects or list(OBJECTS), sampling or list(SAMPLING)]
    for given, known, name in zip(axes, (NOISE, BLUR, OBJECTS, SAMPLING), ("noise", "blur", "objects", "sampling")):
        bad = [v for v in given if v not in known]
        if bad:
            raise ValueError(f"unknown {name} value(s) {bad}; known: {list(known)}")
    return [Condition(*values) for values in itertools.product(*axes)]


def pairs(condition: Condition, *, channels: int, count: int, size: int = 128, scale: int = 4, seed: int = 0):
    """``(lr, hr)`` float32 batches of ``count`` held-out fields for ``condition``.

    HR fields are percentile-normalized (2 / 99.8, clipped), as the models see them in training.
    """
    from msrgan.data.degrade import degrade
    from msrgan.data.normalize import normalize
    from msrgan.data.varied import varied_field

    index = conditions().index(condition)
    hr = np.stack([normalize(varied_field((GRID_SEED + seed, index, i), size=size, channels=channels,
                                          **condition.field_params), clip=True)[0] for i in range(count)])
    lr = degrade(hr.astype(np.float32), scale, "random", seed=(GRID_SEED + seed, index),
                 **condition.degradation_params)
    return lr, hr.astype(np.float32)


def score_grid(models: dict, *, channels: int, count: int = 6, size: int = 128, seed: int = 0,
               grid: list[Condition] | None = None, progress: bool | None = None) -> list[dict]:
    """Scores each model of ``{name: generator}`` and bicubic on every condition.

    Returns:
        One row per (condition, method): ``condition``, ``method``, ``psnr``, ``ssim`` (means over
        ``count`` fields), ``images``.
    """
    from tqdm.auto import tqdm

    from msrgan.inference import upscale
    from msrgan.training.evaluation import bicubic_upscale, psnr, ssim

    scales = {int(m.scale) for m in models.values()}
    if len(scales) > 1:
        raise ValueError(f"the models have different scales {sorted(scales)}; score one scale at a time")
    scale = scales.pop() if scales else 4
    rows = []
    disable = None if progress is None else not progress
    for cond in tqdm(grid or conditions(), desc="grid", unit="condition", disable=disable):
        lr, hr = pairs(cond, channels=channels, count=count, size=size, scale=scale, seed=seed)
        outputs = {"bicubic": bicubic_upscale(lr, scale)}
        for name, model in models.items():
            outputs[name] = np.stack([upscale(x, model, normalization="none", progress=False) for x in lr])
        for method, sr in outputs.items():
            rows.append({"condition": cond.name, "method": method, "psnr": psnr(sr, hr, crop=scale),
                         "ssim": ssim(sr, hr, crop=scale), "images": count})
    return rows


def markdown_table(rows: list[dict]) -> str:
    """One row per (model, condition): PSNR and SSIM, bicubic's, and the differences."""
    bic = {r["condition"]: r for r in rows if r["method"] == "bicubic"}
    lines = ["| model | condition | PSNR (dB) | bicubic PSNR | ΔPSNR | SSIM | bicubic SSIM | ΔSSIM |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        if r["method"] == "bicubic":
            continue
        b = bic[r["condition"]]
        lines.append(f"| {r['method']} | {r['condition']} | {r['psnr']:.2f} | {b['psnr']:.2f} | "
                     f"{r['psnr'] - b['psnr']:+.2f} | {r['ssim']:.4f} | {b['ssim']:.4f} | {r['ssim'] - b['ssim']:+.4f} |")
    return "\n".join(lines)
