"""Paired tests over images: one Wilcoxon signed-rank test, all pairs of methods, and Holm's correction.

Every test pairs two methods on the same images (value ``i`` of each is image ``i``) and uses
``scipy.stats.wilcoxon(a, b, zero_method="wilcox", alternative="two-sided")``: zero differences are
dropped, the p-value is exact for small samples without ties and otherwise from the normal
approximation (scipy's ``method="auto"``). Images where either value is not finite are left out of
that pair.

Example:
    >>> import numpy as np
    >>> values = {"bicubic": np.array([20.0, 21.0, 22.0, 23.0, 24.0, 25.0]),
    ...           "sr": np.array([21.0, 21.5, 23.5, 23.2, 26.0, 25.4])}
    >>> row, = pairwise_wilcoxon(values)
    >>> row["method"], row["baseline"], row["better"], round(row["pvalue"], 4)
    ('sr', 'bicubic', 6, 0.0312)
"""

from __future__ import annotations

import warnings
from typing import Mapping, Sequence

import numpy as np

CORRECTIONS = ("holm", "none")


def paired_wilcoxon(a: Sequence[float], b: Sequence[float], *, higher_is_better: bool = True) -> dict:
    """The two-sided Wilcoxon signed-rank test of ``a`` against ``b``, paired by position.

    Returns a dict: ``n`` (pairs with both values finite), ``median_difference`` (of ``a - b``),
    ``better`` (pairs where ``a`` scores better: higher, or lower when ``higher_is_better`` is
    False), ``statistic`` (W) and ``pvalue``, and ``note``. With fewer than two pairs, or when every
    difference is zero, the statistic and p-value are NaN and ``note`` says why; with fewer than 6
    pairs ``note`` gives the smallest p-value the test can reach.
    """
    from scipy.stats import wilcoxon

    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"paired values must be two 1-D arrays of one length, got shapes {a.shape} and {b.shape}")
    ok = np.isfinite(a) & np.isfinite(b)
    a, b = a[ok], b[ok]
    d = a - b
    row = {"n": int(d.size), "median_difference": float(np.median(d)) if d.size else float("nan"),
           "better": int(np.sum(d > 0) if higher_is_better else np.sum(d < 0)),
           "statistic": float("nan"), "pvalue": float("nan"), "note": ""}
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
    return row


def holm(pvalues: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values (family-wise error rate), in the input's order.

    The ``m`` finite p-values are sorted; the ``k``-th smallest (from 1) becomes
    ``max over j <= k of min(1, (m - j + 1) * p_(j))``. NaN stays NaN and does not count in ``m``.

    Example:
        >>> holm([0.01, 0.04, 0.03, float("nan")]).round(3).tolist()
        [0.03, 0.06, 0.06, nan]
    """
    p = np.asarray(pvalues, np.float64)
    out = np.full(p.shape, np.nan)
    idx = np.flatnonzero(np.isfinite(p))
    m = idx.size
    if m == 0:
        return out
    order = idx[np.argsort(p[idx], kind="stable")]
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    out[order] = np.maximum.accumulate(scaled)
    return out


def pairwise_wilcoxon(values: Mapping[str, Sequence[float]], *, higher_is_better: bool = True,
                      correction: str = "holm") -> list[dict]:
    """A Wilcoxon signed-rank test for every pair of methods, paired by image.

    Args:
        values: ``{method: per-image values}``, every array in the same image order; the order of
            the mapping is the table order.
        higher_is_better: How ``better`` counts (False for an error such as a count error).
        correction: ``"holm"`` (Holm over all the pairs of this call, one family) or ``"none"``.

    Returns:
        One dict per pair, for each method against every method before it: ``method``,
        ``baseline``, the keys of ``paired_wilcoxon`` (the difference is method minus baseline),
        ``pvalue_adjusted`` (Holm's, or the raw p-value with ``"none"``) and ``correction``.
    """
    if correction not in CORRECTIONS:
        raise ValueError(f"correction must be one of {CORRECTIONS}, got {correction!r}")
    names = list(values)
    lengths = {n: len(values[n]) for n in names}
    if len(set(lengths.values())) > 1:
        raise ValueError("pairwise tests need the same images for every method; per-image value counts: "
                         + ", ".join(f"{n}: {k}" for n, k in lengths.items()))
    rows = []
    for j, method in enumerate(names):
        for baseline in names[:j]:
            rows.append({"method": method, "baseline": baseline,
                         **paired_wilcoxon(values[method], values[baseline], higher_is_better=higher_is_better)})
    raw = [r["pvalue"] for r in rows]
    adjusted = holm(raw) if correction == "holm" else np.asarray(raw, np.float64)
    for r, p in zip(rows, adjusted):
        r["pvalue_adjusted"], r["correction"] = float(p), correction
    return rows
