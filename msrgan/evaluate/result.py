"""What ``evaluate`` measured (``EvaluationResult``), the paired Wilcoxon tests, and how numbers are shown."""

from __future__ import annotations

import dataclasses

import numpy as np

METHODS = ("nearest", "bicubic", "sr")
"""The compared reconstructions, in table order."""
QUALITY = ("psnr", "ssim")
SEGMENTATION = ("dice", "iou", "nuclei", "count_error")
TESTED = ("psnr", "ssim", "dice", "iou", "count_error")
LABELS = {"psnr": "PSNR (dB)", "ssim": "SSIM", "dice": "Dice vs HR", "iou": "IoU vs HR",
          "nuclei": "nuclei count", "count_error": "abs. count error"}
HIGHER_IS_BETTER = {"psnr": True, "ssim": True, "dice": True, "iou": True, "count_error": False}


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


def wilcoxon_tests(result: EvaluationResult) -> list[dict]:
    """Wilcoxon signed-rank tests, SR against bicubic, paired by image, one per metric.

    Uses ``scipy.stats.wilcoxon(sr, bicubic)`` (two-sided, ``zero_method="wilcox"``). With
    fewer than two usable pairs, or when every difference is zero, the statistic and p-value
    are NaN and ``note`` says why.
    """
    from msrgan.evaluate.stats import paired_wilcoxon

    tests = []
    for metric in TESTED:
        t = paired_wilcoxon(result.values("sr", metric), result.values("bicubic", metric),
                            higher_is_better=HIGHER_IS_BETTER[metric])
        tests.append({"metric": metric, "n": t["n"], "median_difference": t["median_difference"],
                      "sr_better": t["better"], "statistic": t["statistic"], "pvalue": t["pvalue"], "note": t["note"]})
    return tests


def _fmt(x: float, digits: int) -> str:
    return "n/a" if x is None or not np.isfinite(x) else f"{x:.{digits}f}"


def _p(p) -> str:
    return "n/a" if p is None or not np.isfinite(p) else f"{p:.3g}"


def _pm(stats: tuple[float, float, int], digits: int) -> str:
    mean, std, n = stats
    return "n/a" if n == 0 else f"{mean:.{digits}f} ± {std:.{digits}f}"
