"""Model cards: a ``README.md`` with YAML front matter, as the Hugging Face Hub reads it.

Generic helpers only; a model family writes its own card body and calls :func:`render`. Cards are
made with ``huggingface_hub``'s ``ModelCard`` and ``ModelCardData`` (evaluation results as its
``EvalResult``), so the front matter is what the Hub and ``ModelCard.load`` expect.

Example:
    >>> from zoo import card
    >>> text = card.render({"library_name": "keras", "tags": ["keras"]}, "# My model\\n")
    >>> card.parse(text)[0]["tags"]
    ['keras']
"""

from __future__ import annotations

import math
from typing import Any, Mapping

import yaml

FENCE = "---"


def render(front_matter: Any, body: str) -> str:
    """Returns the card text: ``---``, the front matter as YAML, ``---``, a blank line, ``body``.

    Args:
        front_matter: A ``huggingface_hub.ModelCardData``, or a mapping of its fields
            (``library_name``, ``tags``, ``license``, ``datasets``, ``metrics``, ``eval_results``
            or ``model-index``...).
        body: Markdown text of the card.

    Returns:
        The complete ``README.md`` text (``str(ModelCard(...))``).
    """
    from huggingface_hub import ModelCard, ModelCardData

    data = front_matter if isinstance(front_matter, ModelCardData) else ModelCardData(**dict(front_matter))
    return str(ModelCard(f"{FENCE}\n{data.to_yaml()}\n{FENCE}\n\n{body.lstrip()}"))


def parse(text: str) -> tuple[dict[str, Any], str]:
    """Splits a card into its front matter (a dict) and its body.

    Args:
        text: The ``README.md`` text.

    Returns:
        ``(front_matter, body)``; ``front_matter`` is ``{}`` when the card has none.

    Raises:
        ValueError: If the front matter is not valid YAML or not a mapping.
    """
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].strip() != FENCE:
        return {}, text
    for i in range(1, len(lines)):
        if lines[i].strip() == FENCE:
            try:
                data = yaml.safe_load("".join(lines[1:i])) or {}
            except yaml.YAMLError as exc:
                raise ValueError(f"The model card's front matter is not valid YAML: {exc}") from None
            if not isinstance(data, dict):
                raise ValueError(f"The model card's front matter must be a mapping, got {type(data).__name__}")
            return data, "".join(lines[i + 1:])
    raise ValueError("The model card starts a front matter block with '---' but never closes it")


def eval_results(*, task_type: str, task_name: str, dataset_name: str, dataset_type: str,
                 metrics: Mapping[str, float], metric_names: Mapping[str, str] | None = None,
                 dataset_split: str | None = None, metric_config: str | None = None,
                 source_name: str | None = None) -> list:
    """One ``huggingface_hub.EvalResult`` per metric: one task evaluated on one dataset.

    Args:
        task_type: Hub task id, e.g. ``"image-to-image"``.
        task_name: Human-readable task name.
        dataset_name: Human-readable dataset name.
        dataset_type: Dataset id (a Hub dataset id when there is one).
        metrics: Metric id -> value; values must be finite numbers.
        metric_names: Optional metric id -> human-readable name.
        dataset_split: Optional split name.
        metric_config: Optional configuration of every metric (e.g. ``"bicubic"`` for a baseline).
        source_name: Optional name of where the results come from.

    Example:
        >>> [(r.metric_type, r.metric_value) for r in eval_results(task_type="image-to-image",
        ...     task_name="Super-resolution", dataset_name="d", dataset_type="d", metrics={"psnr": 30.0})]
        [('psnr', 30.0)]
    """
    from huggingface_hub import EvalResult

    names = dict(metric_names or {})
    return [EvalResult(task_type=task_type, task_name=task_name, dataset_type=dataset_type, dataset_name=dataset_name,
                       dataset_split=dataset_split, metric_type=key, metric_value=check_metric(key, value),
                       metric_name=names.get(key), metric_config=metric_config, source_name=source_name)
            for key, value in metrics.items()]


def model_index(model_name: str, *, task_type: str, task_name: str, dataset_name: str, dataset_type: str,
                metrics: Mapping[str, float], metric_names: Mapping[str, str] | None = None,
                dataset_split: str | None = None) -> list[dict[str, Any]]:
    """The Hub's ``model-index`` block for one task evaluated on one dataset (see :func:`eval_results`).

    Example:
        >>> model_index("m", task_type="image-to-image", task_name="Super-resolution",
        ...             dataset_name="d", dataset_type="d", metrics={"psnr": 30.0})[0]["results"][0]["metrics"]
        [{'type': 'psnr', 'value': 30.0}]
    """
    from huggingface_hub import ModelCardData

    results = eval_results(task_type=task_type, task_name=task_name, dataset_name=dataset_name,
                           dataset_type=dataset_type, metrics=metrics, metric_names=metric_names,
                           dataset_split=dataset_split)
    return ModelCardData(model_name=model_name, eval_results=results).to_dict()["model-index"]


def check_metric(name: str, value: Any) -> float:
    """``value`` as a Python float; a ValueError naming ``name`` if it is not a finite number."""
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"metric {name!r} must be a number, got {value!r}") from None
    if isinstance(value, bool) or not math.isfinite(out):
        raise ValueError(f"metric {name!r} must be a finite number, got {value!r}")
    return out


def metrics_from_model_index(front_matter: Mapping[str, Any]) -> dict[str, float]:
    """Metric id -> value of the model's own results in a front matter's ``model-index``.

    Results with a metric ``config`` (a baseline's, such as ``"bicubic"``) are left out.

    Example:
        >>> metrics_from_model_index({"model-index": [{"name": "m", "results": [
        ...     {"metrics": [{"type": "psnr", "value": 30.0}]}]}]})
        {'psnr': 30.0}
    """
    out: dict[str, float] = {}
    for model in front_matter.get("model-index") or []:
        for result in model.get("results") or []:
            for metric in result.get("metrics") or []:
                if metric.get("config") is None:  # a baseline's results carry a config (e.g. "bicubic")
                    out[metric["type"]] = metric["value"]
    return out
