"""``DataSource``: the images (and optional class labels) that every data loader returns.

Kept apart from ``msrgan.data.source`` (which dispatches a spec to the synthetic, folder and
Hugging Face loaders), so that the loaders and the dispatcher do not import each other.
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np


def tqdm_disable(progress: bool | None) -> bool | None:
    """tqdm's ``disable`` for a ``progress`` argument: None hides the bar when the output is not a terminal."""
    return None if progress is None else not progress


@dataclasses.dataclass
class DataSource:
    """Images with optional class labels, in their native dtype.

    Attributes:
        images: list of ``(H, W, C)`` arrays (uint8, uint16 or float), sizes may differ.
        labels: ``(N,)`` int64 class ids, or ``None`` for unlabelled data.
        class_names: names of the class ids (``class_names[labels[i]]``).
        names: one name per image: file name (relative to the folder), or an id.
        channels: channel count shared by all images.
        kind: ``"synthetic"``, ``"folder"`` or ``"hf"``.
        spec: what was loaded (the ``load_source`` spec).
        skipped: ``(name, reason)`` of unreadable files that were skipped with a warning.
        info: free-form details of the origin (generator parameters, layout, ...).
    """

    images: list
    labels: np.ndarray | None
    class_names: tuple[str, ...]
    names: list[str]
    channels: int
    kind: str = "folder"
    spec: str = ""
    skipped: list = dataclasses.field(default_factory=list)
    info: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        if len(self.images) != len(self.names):
            raise ValueError(f"{len(self.images)} images but {len(self.names)} names")
        if self.labels is not None:
            self.labels = np.asarray(self.labels, dtype=np.int64)
            if self.labels.shape != (len(self.images),):
                raise ValueError(f"labels must have shape ({len(self.images)},), got {self.labels.shape}")
            if len(self.labels) and (self.labels.min() < 0 or self.labels.max() >= len(self.class_names)):
                raise ValueError(f"labels must lie in 0..{len(self.class_names) - 1} (class_names has "
                                 f"{len(self.class_names)} entries), got {self.labels.min()}..{self.labels.max()}")
        self.class_names = tuple(self.class_names)

    def __len__(self) -> int:
        return len(self.images)

    @property
    def dtypes(self) -> list[str]:
        """The distinct image dtypes, e.g. ``["uint16"]``."""
        return sorted({np.dtype(im.dtype).name for im in self.images})

    def subset(self, indices: Sequence[int]) -> "DataSource":
        """A new source holding the images at ``indices`` (same class names)."""
        idx = [int(i) for i in indices]
        return dataclasses.replace(
            self,
            images=[self.images[i] for i in idx],
            labels=None if self.labels is None else self.labels[idx],
            names=[self.names[i] for i in idx],
            skipped=list(self.skipped),
            info=dict(self.info),
        )

    def split(self, val_fraction: float = 0.1, *, seed: int = 0) -> tuple["DataSource", "DataSource"]:
        """Random train/validation split, stratified by class when labelled (every class with at
        least two images keeps one in each part).

        Returns:
            ``(train, val)``.
        """
        if not 0 < val_fraction < 1:
            raise ValueError(f"val_fraction must lie in (0, 1), got {val_fraction}")
        rng = np.random.default_rng(seed)
        n = len(self)
        groups = [np.arange(n)] if self.labels is None else [np.flatnonzero(self.labels == c)
                                                            for c in np.unique(self.labels)]
        val: list[int] = []
        for g in groups:
            g = rng.permutation(g)
            k = int(round(len(g) * val_fraction))
            k = min(max(k, 1 if len(g) >= 2 else 0), len(g) - 1) if len(g) else 0
            val.extend(g[:k].tolist())
        val_set = set(val)
        train = [i for i in range(n) if i not in val_set]
        if not train or not val:
            raise ValueError(f"cannot split {n} image(s) with val_fraction={val_fraction}: one part would be empty")
        return self.subset(train), self.subset(sorted(val))
