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

Modules: ``run`` (``evaluate``, ``load_pairs``, ``upsample``), ``result`` (``EvaluationResult``, the
Wilcoxon tests against bicubic), ``stats`` (the paired Wilcoxon test, all pairs of methods, Holm's
correction), ``report`` (the tables, including every model against every other in ``models_table``),
``figures`` and ``files`` (the report's file names and writes); every public name is importable
from ``msrgan.evaluate``.

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

from msrgan.evaluate.files import REPORT_FILES, _atomic_write  # noqa: F401  (re-exported)
from msrgan.evaluate.report import (  # noqa: F401  (re-exported)
    markdown_report,
    method_values,
    models_table,
    pairwise_table,
    read_report,
    write_report,
)
from msrgan.evaluate.result import (  # noqa: F401  (re-exported)
    HIGHER_IS_BETTER,
    LABELS,
    METHODS,
    QUALITY,
    SEGMENTATION,
    TESTED,
    EvaluationResult,
    wilcoxon_tests,
)
from msrgan.evaluate.run import evaluate, load_pairs, nucleus_channel_index, upsample  # noqa: F401  (re-exported)
from msrgan.evaluate.stats import holm, paired_wilcoxon, pairwise_wilcoxon  # noqa: F401  (re-exported)

__all__ = ["METHODS", "EvaluationResult", "evaluate", "load_pairs", "nucleus_channel_index", "upsample", "write_report"]
