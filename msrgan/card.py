"""Model cards (``README.md``) for the msrgan models published with ``save_pretrained``/``push_to_hub``.

The card is written from ``config.json`` alone, so a card always agrees with the folder it sits
in: architecture from ``config``, input convention, scale and channels from ``metadata``, and the
training summary and metrics from what the caller passed as ``metadata``::

    g.push_to_hub("lab/msrgan-x4", metadata={
        "training": {"dataset": "lab/hcs-fields", "degradation": "bicubic", "steps": 20000,
                     "patch_size": 96, "loss_weights": {"mse": 1.0, "content": 0.006, "adversarial": 0.001},
                     "content": "minivgg19=lab/minivgg19"},
        "evaluation": {"dataset": "lab/hcs-fields", "split": "test", "images": 48},
        "metrics": {"psnr": 31.2, "ssim": 0.912},
    })

Metric values appear in the front matter's ``model-index`` exactly as in ``config.json``.

Example:
    >>> from msrgan.card import model_card
    >>> text = model_card(g.pretrained_config)   # doctest: +SKIP
"""

from __future__ import annotations

import json
from typing import Any, Mapping

from zoo import card as cards
from zoo.hub import is_repo_id

LICENSE = "apache-2.0"
BASE_TAGS = ["microscopy", "fluorescence-microscopy", "keras", "msrgan"]
METRIC_NAMES = {
    "psnr": "PSNR (dB)",
    "ssim": "SSIM",
    "dice": "Dice (segmentation of the output)",
    "mse": "MSE",
    "mae": "MAE",
    "accuracy": "Accuracy",
}
METRIC_CONVENTIONS = {
    "psnr": "float64 on the [0, 1] range, `scale`-pixel border cropped (BasicSR convention)",
    "ssim": "scikit-image `structural_similarity`, `data_range=1`, per channel averaged",
    "dice": "binary masks of the output vs. of the ground truth",
}

CARD_KIND_KEYS = ("task", "task_name", "tags", "what", "intended", "call")
GENERIC_KIND: dict[str, Any] = {
    "task": None, "task_name": "Model", "tags": [], "what": "a network of the msrgan model family",
    "intended": (), "call": "y = model(x[None])\n",
}
CARD_KINDS: dict[str, dict[str, Any]] = {}
"""Class name -> the ``card_kind`` its class declares; ``msrgan.models.base.ZooModel`` fills it."""


def register_card_kind(class_name: str, kind: Mapping[str, Any]) -> dict[str, Any]:
    """Records the card kind of a model class (``GENERIC_KIND`` completed by ``kind``) and returns it.

    Raises:
        TypeError: ``kind`` has a key other than ``CARD_KIND_KEYS``.
    """
    unknown = sorted(set(kind) - set(CARD_KIND_KEYS))
    if unknown:
        raise TypeError(f"{class_name}.card_kind has unknown key(s) {unknown}; known: {list(CARD_KIND_KEYS)}")
    CARD_KINDS[class_name] = merged = {**GENERIC_KIND, **kind}
    return merged


def _kind(class_name: str) -> dict[str, Any]:
    return CARD_KINDS.get(class_name, GENERIC_KIND)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, (dict, list)):
        return "`" + json.dumps(value, sort_keys=True) + "`"
    return str(value).replace("|", "\\|")


def _datasets(meta: Mapping[str, Any]) -> list[str]:
    out = []
    for section in ("training", "evaluation"):
        sec = meta.get(section) or {}
        data = sec.get("data")
        for name in (sec.get("dataset"), data.get("spec") if isinstance(data, Mapping) else data):
            if is_repo_id(name) and name not in out:
                out.append(name)
    return out


BASELINE_PREFIX = "bicubic_"  # metadata["metrics"] keys of the bicubic baseline: bicubic_psnr, bicubic_ssim
_SYNTHETIC = {
    "synthetic": ("msrgan-synthetic-hcs", "synthetic HCS fields (msrgan.data.synthetic)"),
    "varied": ("msrgan-varied-hcs", "synthetic HCS fields through a randomised microscope (msrgan.data.varied)"),
}


def evaluation_dataset(meta: Mapping[str, Any]) -> tuple[str, str] | None:
    """``(dataset id, dataset name)`` the metrics were measured on, or None when not recorded.

    A Hub dataset id is both; synthetic data is named with its seed (``"synthetic HCS fields
    (msrgan.data.synthetic), seed 0"``); a local folder by its name. Looks at
    ``evaluation.dataset``, ``evaluation.data``, then the training data.
    """
    evaluation = meta.get("evaluation") or {}
    training = meta.get("training") or {}
    data = training.get("data")
    candidates = [evaluation.get("dataset"), evaluation.get("data"), training.get("dataset"),
                  data.get("spec") if isinstance(data, Mapping) else data]
    spec = next((c for c in candidates if isinstance(c, str) and c), None)
    if spec is None:
        return None
    if spec in _SYNTHETIC:
        kind, name = _SYNTHETIC[spec]
        seed = evaluation.get("seed", training.get("seed"))
        return kind, name + (f", seed {seed}" if seed is not None else "")
    return spec, spec  # a Hub dataset id, or a local folder's name


def card_data(config: Mapping[str, Any]):
    """The card's front matter as a ``huggingface_hub.ModelCardData``.

    ``library_name`` is ``keras`` (a library the Hub knows and lists; the card body shows how to
    load the folder, since the Hub's own Keras snippet is for ``.keras`` files); ``tags`` include
    ``msrgan``. The model's own metrics and the bicubic baseline's (``bicubic_*`` keys of
    ``metadata["metrics"]``) are separate ``EvalResult``s, the baseline's with
    ``metric_config="bicubic"``; ``metrics`` lists the model's own only.

    Args:
        config: The parsed ``config.json``.
    """
    from huggingface_hub import ModelCardData

    meta = config.get("metadata") or {}
    kind = _kind(config["class_name"])
    tags = list(BASE_TAGS) + [t for t in kind["tags"] if t not in BASE_TAGS]
    if "scale" in meta:
        tags.append(f"x{meta['scale']}")
    fields: dict[str, Any] = {"library_name": "keras", "license": meta.get("license", LICENSE), "tags": tags}
    if kind["task"]:
        fields["pipeline_tag"] = kind["task"]
    datasets = _datasets(meta)
    if datasets:
        fields["datasets"] = datasets
    metrics = dict(meta.get("metrics") or {})
    own = {k: v for k, v in metrics.items() if not k.startswith(BASELINE_PREFIX)}
    baseline = {k[len(BASELINE_PREFIX):]: v for k, v in metrics.items() if k.startswith(BASELINE_PREFIX)}
    if metrics:
        evaluation = meta.get("evaluation") or {}
        dataset_type, dataset_name = evaluation_dataset(meta) or ("unrecorded", "not recorded")
        common = dict(task_type=kind["task"] or "other",
                      task_name=kind["task_name"] + (f" x{meta['scale']}" if "scale" in meta else ""),
                      dataset_name=dataset_name, dataset_type=dataset_type, dataset_split=evaluation.get("split"))
        results = cards.eval_results(metrics=own, metric_names=METRIC_NAMES, **common)
        results += cards.eval_results(metrics=baseline, metric_config="bicubic",
                                      metric_names={k: f"{METRIC_NAMES.get(k, k)}, bicubic baseline"
                                                    for k in baseline}, **common)
        fields["eval_results"] = results
        preset = (meta.get("preset") or {}).get("name")
        fields["model_name"] = preset or config.get("zoo_name") or config["class_name"]
        if own:
            fields["metrics"] = list(own)
    return ModelCardData(**fields)


def front_matter(config: Mapping[str, Any]) -> dict[str, Any]:
    """The card's YAML front matter as a dict (library, license, tags, datasets, metrics, model-index).

    Args:
        config: The parsed ``config.json``.

    Returns:
        ``card_data(config).to_dict()``; ``metrics``/``model-index`` only when ``metadata["metrics"]`` exists.
    """
    return card_data(config).to_dict()


def _architecture(config: Mapping[str, Any]) -> str:
    arch = dict(config["config"])
    arch.pop("name", None)
    rows = "".join(f"| `{k}` | {_fmt(v)} |\n" for k, v in arch.items())
    weights = config.get("weights") or {}
    params = f"\n{weights['parameters']:,} parameters in {weights.get('tensors', '?')} float32 tensors " \
             f"(`model.safetensors`).\n" if "parameters" in weights else ""
    return f"| Setting | Value |\n|---|---|\n{rows}{params}"


def _intended_use(config: Mapping[str, Any], meta: Mapping[str, Any]) -> str:
    channels = meta.get("channels")
    names = meta.get("channel_names") or []
    conv = meta.get("input_convention") or {}
    lines = []
    if channels:
        lines.append(f"- Input: `(batch, height, width, {channels})` images"
                     + (f", channels in the order {', '.join(names)}" if names else "") + ".")
    if conv:
        lines.append(f"- Values: {conv.get('dtype', 'float32')} in {conv.get('value_range', [0, 1])}, "
                     f"{conv.get('normalization', 'per-channel normalized')}; `msrgan.data.normalize` does "
                     f"this and `denormalize` maps results back to the input's dtype and range.")
    classes = meta.get("class_names")
    if classes:
        lines.append(f"- Classes ({len(classes)}): {', '.join(classes)}.")
    lines += [line.format(scale=meta.get("scale", "?")) for line in _kind(config["class_name"])["intended"]]
    return "\n".join(lines) + "\n"


def _training(meta: Mapping[str, Any]) -> str:
    training = meta.get("training")
    if not training:
        return "Not recorded: the model was saved without a training summary.\n"
    if not isinstance(training, Mapping):
        return f"{_fmt(training)}\n"
    rows = "".join(f"| {k} | {_fmt(v)} |\n" for k, v in training.items())
    return f"| Item | Value |\n|---|---|\n{rows}"


def _evaluation(meta: Mapping[str, Any]) -> str:
    metrics = meta.get("metrics") or {}
    if not metrics:
        return "No evaluation recorded.\n"
    evaluation = meta.get("evaluation") or {}
    where = ", ".join(f"{k}: {_fmt(v)}" for k, v in evaluation.items()) or "dataset not recorded"
    dataset = evaluation_dataset(meta)
    named = f"Dataset: {dataset[1]}.\n\n" if dataset else ""

    def name(key: str) -> str:
        if key.startswith(BASELINE_PREFIX):
            plain = key[len(BASELINE_PREFIX):]
            return f"{METRIC_NAMES.get(plain, plain)}, bicubic baseline"
        return METRIC_NAMES.get(key, key)

    order = sorted(metrics, key=lambda k: k.startswith(BASELINE_PREFIX))  # the model's own first
    rows = "".join(
        f"| {name(k)} | {_fmt(metrics[k])} | {METRIC_CONVENTIONS.get(k.removeprefix(BASELINE_PREFIX), '')} |\n"
        for k in order
    )
    return f"{named}On {where}.\n\n| Metric | Value | Convention |\n|---|---|---|\n{rows}"


def _usage(config: Mapping[str, Any], meta: Mapping[str, Any]) -> str:
    call = _kind(config["class_name"])["call"].format(scale=meta.get("scale", "s"))
    return (
        "The same files load on TensorFlow, PyTorch and JAX (Keras 3); pick the backend before Python starts:\n\n"
        "```bash\n"
        "pip install \"msrgan[jax]\"          # or msrgan[torch], msrgan[tensorflow]\n"
        "export KERAS_BACKEND=jax            # or torch, tensorflow: same weights, same outputs\n"
        "msrgan pull OWNER/NAME -o model/    # optional: a local copy (from_pretrained also caches)\n"
        "```\n\n"
        "```python\n"
        "import numpy as np, keras, zoo, msrgan\n"
        "from msrgan.data.normalize import normalize, denormalize\n\n"
        "model = zoo.from_pretrained(\"hf://OWNER/NAME\")        # this repository; or a local folder\n"
        "x, norm = normalize(image)                             # (H, W, C) image -> float32 in [0, 1]\n"
        f"{call}"
        "```\n\n"
        "The card lists `library_name: keras` so that the Hub shows the model among Keras models; "
        "its generic Keras snippet (`keras.saving.load_model`) is for `.keras` files and does not apply "
        "here: load this folder with `zoo.from_pretrained` as above.\n\n"
        "Pin a version with `revision=\"<commit sha or tag>\"`. With `HF_HUB_OFFLINE=1` a model loaded "
        "once before comes from the Hub cache. Loading runs no code from the repository: the class named "
        "in `config.json` must be one the zoo registers, and the weights are plain safetensors.\n"
    )


PRESET_KINDS = {
    "psnr": "a **PSNR-oriented** model (pixel loss only): it recovers what the data supports and adds no "
            "invented texture; the choice for measurements and the default",
    "gan": "a **GAN-trained (mSRGAN)** model: pixel loss plus the miniVGG19 content loss and an adversarial "
           "loss. It draws sharper, more plausible texture but scores lower on PSNR and SSIM than the "
           "PSNR-oriented presets; for viewing, not for measurements",
}


def _preset(meta: Mapping[str, Any]) -> str:
    preset = meta.get("preset")
    if not isinstance(preset, Mapping):
        return ""
    lines = [f"This is the bundled preset `{preset.get('name')}` "
             f"(`zoo.from_pretrained(\"{preset.get('name')}\")`, `msrgan upscale IN -o OUT --model "
             f"{preset.get('name')}`), {PRESET_KINDS.get(preset.get('kind'), 'kind not recorded')}.", ""]
    if preset.get("layout"):
        lines.append(f"- Channel layout: {preset['layout']}.")
    if preset.get("command"):
        lines.append(f"- Trained with: `{preset['command']}`")
    if preset.get("backend"):
        lines.append(f"- Backend: {preset['backend']}, {preset.get('train_seconds', '?')} s of training on "
                     f"{preset.get('machine', 'a 2-core CPU')}.")
    blend = meta.get("interpolation")
    if isinstance(blend, Mapping) and "alpha" in blend:
        alpha = float(blend["alpha"])
        lines.append(f"- Network interpolation (ESRGAN): every weight is {1 - alpha:g} x `{blend.get('psnr_model')}` "
                     f"(PSNR-oriented) + {alpha:g} x `{blend.get('gan_model')}` (its GAN fine-tune); alpha chosen on "
                     f"{blend.get('selected_on', 'a validation grid')}. A larger alpha draws more texture and "
                     "loses to bicubic on smooth fields (`scripts/interpolate_preset.py`).")
    grid = preset.get("grid") or []
    if grid:
        lines += ["", f"Held-out evaluation grid (`msrgan.grid`, {grid[0].get('images', '?')} fields per "
                  "condition, seeds never used in training; PSNR in dB, float64 on [0, 1], 4-px border "
                  "cropped; SSIM as scikit-image, `data_range=1`):", "",
                  "| condition | PSNR | bicubic | ΔPSNR | SSIM | bicubic | ΔSSIM |", "|---|---:|---:|---:|---:|---:|---:|"]
        for r in grid:
            lines.append(f"| {r['condition']} | {r['psnr']:.2f} | {r['bicubic_psnr']:.2f} | "
                         f"{r['psnr'] - r['bicubic_psnr']:+.2f} | {r['ssim']:.4f} | {r['bicubic_ssim']:.4f} | "
                         f"{r['ssim'] - r['bicubic_ssim']:+.4f} |")
    return "## Preset\n\n" + "\n".join(lines) + "\n\n"


def model_card(config: Mapping[str, Any]) -> str:
    """The full ``README.md`` for an msrgan model folder.

    Args:
        config: The ``config.json`` content (``zoo.pretrained.build_config`` plus ``weights``).

    Returns:
        Card text: YAML front matter, then intended use, training data, evaluation, how to load
        it on each backend, and the architecture.
    """
    meta = config.get("metadata") or {}
    kind = _kind(config["class_name"])
    name = (meta.get("preset") or {}).get("name") or config.get("zoo_name") or config["class_name"]
    what = kind["what"].format(scale=meta.get("scale", "?"))
    versions = config.get("versions") or {}
    saved_with = ", ".join(f"{k} {v}" for k, v in versions.items())
    body = (
        f"# {name}\n\n"
        f"This is {what}. Class `msrgan.{config['class_name']}`"
        + (f", x{meta['scale']}" if "scale" in meta else "")
        + (f", {meta['channels']} channel(s)" if "channels" in meta else "")
        + f". Saved with {saved_with}.\n\n"
        + _preset(meta) +
        "## Intended use\n\n" + _intended_use(config, meta) + "\n"
        "## Training data\n\n" + _training(meta) + "\n"
        "## Evaluation\n\n" + _evaluation(meta) + "\n"
        "## How to use\n\n" + _usage(config, meta) + "\n"
        "## Architecture\n\n" + _architecture(config) + "\n"
        "## Files\n\n"
        "- `config.json`: class, configuration, versions, input convention, training summary, metrics.\n"
        "- `model.safetensors`: float32 weights keyed by layer path (backend independent).\n"
        "- `README.md`: this card.\n"
    )
    return cards.render(card_data(config), body)
