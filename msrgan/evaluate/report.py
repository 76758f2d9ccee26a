"""The evaluation report: Markdown and CSV tables (each states its convention) and ``evaluation.json``."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from msrgan.evaluate.figures import _boxplot
from msrgan.evaluate.files import _atomic_write
from msrgan.evaluate.result import (HIGHER_IS_BETTER, LABELS, METHODS, QUALITY, SEGMENTATION, EvaluationResult,
                                   _fmt, _mean_std, _p, _pm)


def _csv_bytes(rows: list[dict], columns: Sequence[str]) -> bytes:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for r in rows:
        writer.writerow({k: (repr(v) if isinstance(v, float) else v) for k, v in r.items()})
    return buf.getvalue().encode()


def models_table(results: Sequence[EvaluationResult | None], names: Sequence[str], *,
                 not_run: Mapping[str, str] | None = None, pairwise: bool = True) -> str:
    """One Markdown table for several models evaluated on the same images: nearest, bicubic, then each model.

    Each model row has its Wilcoxon p-values against bicubic (PSNR, SSIM); the conventions follow it,
    then (``pairwise``) the table of ``pairwise_table``: every method against every other one.

    Args:
        results: One ``EvaluationResult`` per name, or None for a model that was not evaluated.
        names: The row names, in table order.
        not_run: ``{name: reason}`` for each None in ``results``; its row says "not run: reason".
        pairwise: Append the pairwise Wilcoxon tests.
    """
    not_run = dict(not_run or {})
    if not results or len(results) != len(names):
        raise ValueError(f"models_table needs one name per result, got {len(results)} result(s), {len(names)} name(s)")
    missing = [n for r, n in zip(results, names) if r is None and n not in not_run]
    if missing:
        raise ValueError(f"models_table: no result and no not_run reason for {', '.join(missing)}")
    done = [(n, r) for n, r in zip(names, results) if r is not None]
    if not done:
        raise ValueError("models_table needs at least one evaluated model")
    first = done[0][1]
    base = first.summary_by_method()
    lines = ["| method | PSNR (dB) | SSIM | Dice | Wilcoxon p vs bicubic (PSNR / SSIM) |", "|---|---:|---:|---:|---|"]
    for m in ("nearest", "bicubic"):
        lines.append(f"| {m} | {_pm(base[m]['psnr'], 2)} | {_pm(base[m]['ssim'], 4)} | {_pm(base[m]['dice'], 3)} | |")
    for name, result in zip(names, results):
        if result is None:
            lines.append(f"| {name} | not run: {not_run[name]} | | | |")
            continue
        sr = result.summary_by_method()["sr"]
        tests = {t["metric"]: t for t in result.tests}
        lines.append(f"| {name} | {_pm(sr['psnr'], 2)} | {_pm(sr['ssim'], 4)} | {_pm(sr['dice'], 3)} | "
                     f"{_p(tests['psnr']['pvalue'])} / {_p(tests['ssim']['pvalue'])} |")
    text = "\n".join(lines) + "\n\n" + first.convention()
    if pairwise:
        text += "\n\n" + pairwise_table([r for _, r in done], [n for n, _ in done])
    return text


def method_values(results: Sequence[EvaluationResult], names: Sequence[str], metric: str) -> dict:
    """``{method: per-image values of metric}``: nearest and bicubic (from the first result), then each model's SR.

    Raises:
        ValueError: the results were not scored on the same images (names, or bicubic scores, differ).
    """
    if len(results) != len(names) or not results:
        raise ValueError(f"method_values needs one name per result, got {len(results)} result(s), {len(names)} name(s)")
    images = [[r["image"] for r in res.rows if r["method"] == "sr"] for res in results]
    bicubic = [res.values("bicubic", metric) for res in results]
    for name, im, bic in zip(names[1:], images[1:], bicubic[1:]):
        if im != images[0] or not np.array_equal(bic, bicubic[0], equal_nan=True):
            raise ValueError(f"{name} was not scored on the same images as {names[0]}; pairwise tests pair by image")
    out = {m: results[0].values(m, metric) for m in ("nearest", "bicubic")}
    for name, res in zip(names, results):
        key, k = str(name), 1
        while key in out:  # the same model given twice stays two rows
            k += 1
            key = f"{name} ({k})"
        out[key] = res.values("sr", metric)
    return out


def pairwise_table(results: Sequence[EvaluationResult], names: Sequence[str], *, metrics: Sequence[str] = QUALITY,
                   correction: str = "holm") -> str:
    """Markdown: a Wilcoxon signed-rank test (``msrgan.evaluate.stats.pairwise_wilcoxon``) for every pair of
    nearest, bicubic and the models, per metric, with Holm's correction over the pairs of each metric."""
    from msrgan.evaluate.stats import pairwise_wilcoxon

    tests = {k: pairwise_wilcoxon(method_values(results, names, k), higher_is_better=HIGHER_IS_BETTER[k],
                                  correction=correction) for k in metrics}
    pairs = len(tests[metrics[0]])
    adj = "p (Holm)" if correction == "holm" else "p (uncorrected)"
    head = "| pair (A vs B) | n |" + "".join(f" {LABELS[k]}: median A - B | A better | p | {adj} |" for k in metrics)
    lines = [
        "Pairwise Wilcoxon signed-rank tests (scipy.stats.wilcoxon, two-sided, zero differences dropped), "
        "paired by image: every method against each one above it in the table. 'A better' counts the images "
        "where A scores better. "
        + (f"{adj}: Holm's step-down correction over the {pairs} pairs of each metric (family-wise error rate)."
           if correction == "holm" else "No correction for multiple comparisons."),
        "",
        head,
        "|---|---:|" + "---:|---:|---:|---:|" * len(metrics),
    ]
    digits = {"psnr": 2, "ssim": 4}
    for i in range(pairs):
        t0 = tests[metrics[0]][i]
        cells = [f"{t0['method']} vs {t0['baseline']}", str(t0["n"])]
        for k in metrics:
            t = tests[k][i]
            cells += [_signed(t["median_difference"], digits.get(k, 3)), f"{t['better']}/{t['n']}",
                      _p(t["pvalue"]), _p(t["pvalue_adjusted"])]
        lines.append("| " + " | ".join(cells) + " |")
    notes = sorted({t["note"] for k in metrics for t in tests[k] if t["note"]})
    if notes:
        lines += ["", "Notes: " + "; ".join(notes) + "."]
    return "\n".join(lines)


def _signed(x: float, digits: int) -> str:
    return "n/a" if x is None or not np.isfinite(x) else f"{x:+.{digits}f}"


def markdown_report(result: EvaluationResult) -> str:
    """The Markdown summary: settings, convention, quality, segmentation, Wilcoxon and per-image tables."""
    s = result.settings
    summ = result.summary_by_method()
    deg = s["degradation"]
    params = "".join(f", {k}={v}" for k, v in deg.items() if k not in ("method", "scale", "implementation"))
    deg_text = f'"{deg["method"]}"{params}'
    from msrgan.data.normalize import get_normalizer

    norm_text = get_normalizer(s["normalization"], clip=True).describe()  # evaluate fits each image, clipped
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


def read_report(folder: str | os.PathLike) -> EvaluationResult:
    """The ``EvaluationResult`` that ``write_report`` saved in ``folder`` (its ``evaluation.json``).

    Raises:
        FileNotFoundError: ``folder`` holds no ``evaluation.json``.
        ValueError: the file is not an evaluation report.
    """
    path = Path(folder) / "evaluation.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no evaluation report (msrgan evaluate -o {folder} writes one)")
    try:
        payload = json.loads(path.read_text())
        return EvaluationResult(rows=payload["rows"], tests=payload["tests"], settings=payload["settings"],
                                files={"evaluation.json": str(path)})
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path} is not an msrgan evaluation report ({type(exc).__name__}: {exc})") from None


def _json_default(v):
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, (np.floating,)):
        return float(v)
    raise TypeError(f"cannot serialise {type(v).__name__}")
