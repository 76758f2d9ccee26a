"""Writing datasets: ``to_hf_dataset`` builds one from arrays, ``push_dataset`` publishes it with the
dataset card ``dataset_card`` writes."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from msrgan.data.datasource import tqdm_disable
from msrgan.data.hf.encoding import AXES, CHANNEL_PREFIX, channel_columns, decode_image, encode_plane

TASK_CATEGORIES = ("image-classification", "image-to-image")
DEFAULT_LICENSE = "cc-by-4.0"


def _default_class_names() -> tuple[str, ...]:
    from msrgan.data.synthetic import CLASS_NAMES

    return CLASS_NAMES


def to_hf_dataset(
    images: Sequence[np.ndarray],
    labels: Sequence[int] | None = None,
    *,
    class_names: Sequence[str] | None = None,
    names: Sequence[str] | None = None,
    image_format: str = "auto",
    progress: bool | None = None,
):
    """A ``datasets.Dataset`` with one exact ``Image`` column per channel, a ``label`` and a ``name``.

    Args:
        images: ``(H, W, C)`` arrays (uint8, uint16 or float32; sizes may differ, the channel count
            may not), or an ``(N, H, W, C)`` array.
        labels: Class ids, one per image, or ``None`` (no ``label`` column).
        class_names: Names of the class ids (default: the 13 localization classes).
        names: One name per image (default ``image_000000``...).
        image_format: How each plane is stored: ``"auto"`` (PNG for 8/16-bit, TIFF for floats),
            ``"png"`` or ``"tiff"`` (see :func:`encode_plane`). All are exact.
        progress: Show a progress bar (default: when the output is a terminal).

    Returns:
        ``datasets.Dataset`` with columns ``channel_0`` ... ``channel_{C-1}`` (``Image()``, one
        ``(H, W)`` plane each: axes ``CYX`` in column order), ``label`` (``ClassLabel``) and
        ``name`` (string).

    Example:
        >>> ds = to_hf_dataset([np.zeros((8, 8, 1), np.uint16)], [2])
        >>> ds.features["label"].int2str(2), np.asarray(ds[0]["channel_0"]).dtype
        ('nucleoli', dtype('uint16'))
    """
    import datasets
    from tqdm.auto import tqdm

    images = list(images)
    if not images:
        raise ValueError("images is empty")
    class_names = tuple(class_names) if class_names is not None else _default_class_names()
    if names is None:
        names = [f"image_{i:06d}" for i in range(len(images))]
    names = [str(n) for n in names]
    if len(names) != len(images):
        raise ValueError(f"{len(images)} images but {len(names)} names")
    first = np.asarray(images[0])
    channels = 1 if first.ndim == 2 else first.shape[-1]
    columns: dict[str, list] = {f"{CHANNEL_PREFIX}{c}": [] for c in range(channels)}
    for i, (img, name) in enumerate(tqdm(list(zip(images, names)), desc="encoding images", unit="image",
                                         disable=tqdm_disable(progress))):
        a = np.asarray(img)
        a = a[..., None] if a.ndim == 2 else a
        if a.ndim != 3 or a.shape[-1] not in (1, 2, 3, 4):
            raise ValueError(f"image {i} ({name}) has shape {np.asarray(img).shape}; expected (H, W, C<=4)")
        if a.shape[-1] != channels:
            raise ValueError(f"image {i} ({name}) has {a.shape[-1]} channel(s), image 0 has {channels}; "
                             "a dataset holds one channel count")
        stem = Path(name).with_suffix("").as_posix() if Path(name).suffix else name
        for c in range(channels):
            data, suffix = encode_plane(a[..., c], image_format)
            columns[f"{CHANNEL_PREFIX}{c}"].append({"bytes": data, "path": f"{stem}_c{c}{suffix}"})
    features = {k: datasets.Image() for k in columns}
    if labels is not None:
        labels = np.asarray(labels, dtype=np.int64)
        if labels.shape != (len(images),):
            raise ValueError(f"labels must have shape ({len(images)},), got {labels.shape}")
        if len(labels) and (labels.min() < 0 or labels.max() >= len(class_names)):
            raise ValueError(f"labels must lie in 0..{len(class_names) - 1}, got {labels.min()}..{labels.max()}")
        columns["label"] = labels.tolist()
        features["label"] = datasets.ClassLabel(names=list(class_names))
    columns["name"] = names
    features["name"] = datasets.Value("string")
    return datasets.Dataset.from_dict(columns, features=datasets.Features(features))


def size_category(n: int) -> str:
    """The Hub's ``size_categories`` tag for ``n`` examples (``"n<1K"``, ``"1K<n<10K"``, ...)."""
    bounds = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
              (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M"), (1_000_000_000, "100M<n<1B")]
    for bound, tag in bounds:
        if n < bound:
            return tag
    return "n>1T" if n >= 10 ** 12 else "1B<n<10B"


def dataset_card(ds, repo_id: str, *, license: str = DEFAULT_LICENSE, pretty_name: str | None = None,
                 description: str | None = None, generation: str | None = None,
                 channel_names: Sequence[str] | None = None, tags: Sequence[str] = ()) -> tuple[dict, str]:
    """Front-matter metadata and Markdown body of the dataset card for ``ds``.

    Args:
        ds: The dataset (its size, label names and image encodings are described).
        repo_id: Where it is published (used in the loading snippet).
        license: An SPDX-style Hub license id, e.g. ``cc-by-4.0``.
        pretty_name: Human title (default: the repo name).
        description: One paragraph on what the images are.
        generation: How the dataset was made (command line, generator parameters, source).
        channel_names: Meaning of each channel, in order.
        tags: Extra Hub tags.

    Returns:
        ``(metadata dict, markdown body)``.
    """
    import datasets

    n = len(ds)
    label_feat = ds.features.get("label")
    names = list(label_feat.names) if isinstance(label_feat, datasets.ClassLabel) else []
    meta = {
        "license": license,
        "task_categories": list(TASK_CATEGORIES),
        "size_categories": [size_category(n)],
        "tags": sorted({"microscopy", "fluorescence", "super-resolution", "high-content-screening", "msrgan",
                        *tags}),
        "pretty_name": pretty_name or repo_id.split("/")[-1],
    }
    lines = [f"# {meta['pretty_name']}", ""]
    lines += [description or "Fluorescence microscopy images for super-resolution (mSRGAN) and protein-localization "
              "classification.", ""]
    lines += ["## How it was generated", "", generation or "Not recorded.", ""]
    cols = channel_columns(ds.features)
    kind = "uint8/uint16/float32"
    if cols and n:
        first = ds.select(range(1)).cast_column(cols[0], datasets.Image(decode=False))[0][cols[0]]
        kind = str(decode_image(first).dtype)
    lines += ["## Structure", "", f"- {n} image(s), one split `train`."]
    lines += [f"- `{CHANNEL_PREFIX}0` ... `{CHANNEL_PREFIX}{max(len(cols), 1) - 1}`: one `datasets.Image()` column per "
              f"channel, each cell one `(Y, X)` plane of dtype {kind}, stored losslessly (PNG for 8/16-bit planes, "
              "TIFF for float planes). Pillow (the default decoder) reads them exactly: 16-bit stays 16-bit.",
              f"- Axes: the channel columns stacked in order give `(C, Y, X)` (`{AXES}`), the order `msrgan data "
              "synth` writes its 4-channel TIFFs in."]
    if channel_names:
        lines += ["- Channels: " + ", ".join(f"`{CHANNEL_PREFIX}{i}` {c}" for i, c in enumerate(channel_names)) + "."]
    if names:
        lines += [f"- `label`: `ClassLabel` with {len(names)} protein-localization classes."]
    lines += ["- `name`: the source file name or id.", ""]
    if names:
        counts = np.bincount(np.asarray(ds["label"], dtype=np.int64), minlength=len(names))
        lines += ["| id | class | images |", "|---:|---|---:|"]
        lines += [f"| {i} | {c} | {counts[i]} |" for i, c in enumerate(names)]
        lines += [""]
    lines += ["## Loading", "", "With `datasets` alone:", "", "```python", "import datasets, numpy as np", "",
              f'ds = datasets.load_dataset("{repo_id}", split="train")', "row = ds[0]",
              f'image = np.stack([np.asarray(row[k]) for k in ds.column_names if k.startswith("{CHANNEL_PREFIX}")])'
              f"  # (C, Y, X), {kind}",
              "```", "", "With msrgan (arrays `(Y, X, C)`, labels and class names):", "", "```python",
              "from msrgan.data import load_source", "",
              f'src = load_source("{repo_id}")', "```", ""]
    return meta, "\n".join(lines)


def push_dataset(ds, repo_id: str, *, license: str = DEFAULT_LICENSE, pretty_name: str | None = None,
                 description: str | None = None, generation: str | None = None,
                 channel_names: Sequence[str] | None = None, tags: Sequence[str] = (), private: bool | None = None,
                 token: str | None = None, revision: str | None = None, commit_message: str | None = None) -> str:
    """Pushes ``ds`` to the Hub as parquet shards (through LFS), with a dataset card README.md.

    The card's YAML front matter has ``license``, ``task_categories``, ``size_categories``, ``tags``,
    ``pretty_name`` and the ``dataset_info``/``configs`` that ``datasets`` writes; its body says how the
    data were generated, the structure, the class counts and how to load it (see ``dataset_card``).

    Args:
        ds: A dataset from ``to_hf_dataset`` (or any with an image column).
        repo_id: ``owner/name`` of the dataset repository (created if needed).
        license, pretty_name, description, generation, channel_names, tags: For the card.
        private, token, revision: Passed to the Hub client.
        commit_message: Message of the data commit.

    Returns:
        The dataset's Hub URL.

    Raises:
        ValueError: The Hub refused the push (e.g. a rejected token), cannot be reached, or an upload
            failed: one line naming the repository and the endpoint, never the token
            (``zoo.hub.errors``, as for model pushes).

    Example (needs a Hub; the tests use a local server)::

        push_dataset(to_hf_dataset(images, labels), "me/hcs-synthetic", generation="msrgan data synth ...")
    """
    from huggingface_hub import DatasetCard, DatasetCardData, constants, hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError

    from zoo import hub

    meta, body = dataset_card(ds, repo_id, license=license, pretty_name=pretty_name, description=description,
                              generation=generation, channel_names=channel_names, tags=tags)
    with hub.errors(f"Pushing the dataset {repo_id}", token=token):
        ds.push_to_hub(repo_id, private=private, token=token, revision=revision,
                       commit_message=commit_message or f"Upload {len(ds)} images with msrgan")
        try:  # keep the dataset_info and configs that push_to_hub wrote into the card
            path = hf_hub_download(repo_id, "README.md", repo_type="dataset", revision=revision, token=token)
            data = DatasetCard.load(path).data.to_dict()
        except EntryNotFoundError:
            data = {}
        data.update(meta)
        info = data.get("dataset_info")
        if isinstance(info, dict) and hasattr(ds.features, "_to_yaml_list"):
            # datasets keeps the features of an earlier push to this repository (say, another channel
            # count) in the card; the card must describe the data just pushed
            info["features"] = ds.features._to_yaml_list()
        card = DatasetCard(f"---\n{DatasetCardData(**data).to_yaml()}\n---\n\n{body}")
        card.push_to_hub(repo_id, token=token, repo_type="dataset", revision=revision,
                         commit_message="Dataset card (msrgan)")
    return f"{constants.ENDPOINT}/datasets/{repo_id}"
