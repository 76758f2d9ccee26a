"""Model cards: a ``README.md`` with YAML front matter, as the Hugging Face Hub reads it.

Generic helpers only; a model family writes its own card body and calls :func:`render`.

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


def render(front_matter: Mapping[str, Any], body: str) -> str:
    """Returns the card text: ``---``, the front matter as YAML, ``---``, a blank line, ``body``.

    Args:
        front_matter: JSON-like metadata (``library_name``, ``tags``, ``license``, ``datasets``,
            ``metrics``, ``model-index``...). Keys keep their order.
        body: Markdown text of the card.

    Returns:
        The complete ``README.md`` text.
    """
    head = yaml.safe_dump(dict(front_matter), sort_keys=False, allow_unicode=True, default_flow_style=False)
    return f"{FENCE}\n{head}{FENCE}\n\n{body.lstrip()}"


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


def model_index(model_name: str, *, task_type: str, task_name: str, dataset_name: str, dataset_type: str,
                metrics: Mapping[str, float], metric_names: Mapping[str, str] | None = None,
                dataset_split: str | None = None) -> list[dict[str, Any]]:
    """The Hub's ``model-index`` block for one task evaluated on one dataset.

    Args:
        model_name: The model's name.
        task_type: Hub task id, e.g. ``"image-to-image"``.
        task_name: Human-readable task name.
        dataset_name: Human-readable dataset name.
        dataset_type: Dataset id (a Hub dataset id when there is one).
        metrics: Metric id -> value; values must be finite numbers.
        metric_names: Optional metric id -> human-readable name.
        dataset_split: Optional split name.

    Returns:
        A list with one ``{"name", "results"}`` entry, ready for the front matter.

    Example:
        >>> model_index("m", task_type="image-to-image", task_name="Super-resolution",
        ...             dataset_name="d", dataset_type="d", metrics={"psnr": 30.0})[0]["results"][0]["metrics"]
        [{'type': 'psnr', 'value': 30.0}]
    """
    names = dict(metric_names or {})
    entries = []
    for key, value in metrics.items():
        value = check_metric(key, value)
        item: dict[str, Any] = {"type": key, "value": value}
        if key in names:
            item["name"] = names[key]
        entries.append(item)
    dataset: dict[str, Any] = {"name": dataset_name, "type": dataset_type}
    if dataset_split:
        dataset["split"] = dataset_split
    return [{"name": model_name, "results": [{
        "task": {"type": task_type, "name": task_name},
        "dataset": dataset,
        "metrics": entries,
    }]}]


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
    """Metric id -> value from a front matter's ``model-index`` (all results merged).

    Example:
        >>> metrics_from_model_index({"model-index": [{"name": "m", "results": [
        ...     {"metrics": [{"type": "psnr", "value": 30.0}]}]}]})
        {'psnr': 30.0}
    """
    out: dict[str, float] = {}
    for model in front_matter.get("model-index") or []:
        for result in model.get("results") or []:
            for metric in result.get("metrics") or []:
                out[metric["type"]] = metric["value"]
    return out
