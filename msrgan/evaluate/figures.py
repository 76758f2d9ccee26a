"""The report's figures: one comparison per image (LR | bicubic | SR | HR, zoomed insets, nuclei
outlines) and a box plot of the metrics, drawn on matplotlib's Agg canvas directly (headless, no
global backend change)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from msrgan.evaluate.files import _atomic_write
from msrgan.evaluate.result import LABELS, METHODS, QUALITY, EvaluationResult, _fmt


def _display(img: np.ndarray, channels: int) -> np.ndarray:
    """``msrgan.display.display_rgb`` in [0, 1]; one channel as a 2-D gray image (shown with a gray colormap)."""
    from msrgan.display import display_rgb

    rgb = display_rgb(img, dtype=np.float32)
    return rgb[..., 0] if channels == 1 else rgb


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
