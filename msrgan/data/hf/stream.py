"""Hugging Face datasets in streaming mode (``datasets.IterableDataset``): training patches from Hub
datasets larger than the memory, or the disk.

``open_hf_stream(spec)`` opens a Hub id, a ``save_to_disk`` folder or a parquet folder as a stream of
exact ``(H, W, C)`` images (the formats ``msrgan.data.hf`` reads: channel columns or the earlier single
image column), sharded by process with ``datasets.distributed.split_dataset_by_node``.
``HFStreamSource.patch_dataset(...)`` gives a ``StreamPatchDataset``: a Keras ``PyDataset`` whose
batches are ``PatchDataset`` batches drawn from a pool of consecutive images of the stream, ``pool_size``
images at a time, each pool used for ``steps_per_pool`` batches, then the next (the stream starts over,
reshuffled when ``shuffle_buffer`` is given, at its end). A batch depends only on ``(seed, epoch, index)``
and the stream's order, so it is deterministic for a seed; memory holds two pools.

Example:
    >>> import numpy as np, tempfile
    >>> from msrgan.data.hf import to_hf_dataset
    >>> d = tempfile.mkdtemp()
    >>> to_hf_dataset([np.full((32, 32, 1), 100 * i, np.uint16) for i in range(6)]).save_to_disk(d)
    >>> src = open_hf_stream(d)
    >>> train, val = src.split(0.2)
    >>> len(val), train.num_examples
    (1, 5)
    >>> ds = train.patch_dataset(patch_size=16, scale=4, batch_size=2, steps_per_epoch=3, pool_size=2)
    >>> [a.shape for a in ds[0]]
    [(2, 4, 4, 1), (2, 16, 16, 1)]
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import threading
from collections import OrderedDict
from pathlib import Path

import keras
import numpy as np

from msrgan.data.datasource import DataSource
from msrgan.data.hf.encoding import channel_columns, decode_image


def _open_iterable(spec, split: str, revision):
    import datasets

    spec = os.fspath(spec)
    path = Path(spec).expanduser()
    if path.is_dir() and any((path / f).is_file() for f in ("dataset_info.json", "state.json", "dataset_dict.json")):
        ds = datasets.load_from_disk(str(path))
        if isinstance(ds, datasets.DatasetDict):
            if split not in ds:
                raise ValueError(f"{spec}: no split {split!r}; it has {sorted(ds)}")
            ds = ds[split]
        return ds.to_iterable_dataset(), len(ds)
    hub_id = spec if path.is_dir() else spec.removeprefix("hf://").removeprefix("datasets/")
    ds = datasets.load_dataset(str(path) if path.is_dir() else hub_id, split=split, revision=revision, streaming=True)
    splits = ds.info.splits or {}
    n = splits[split].num_examples if split in splits and splits[split].num_examples else None
    return ds, n


def _image_columns(features, spec) -> list[str]:
    import datasets

    cols = channel_columns(features)
    if cols:
        return cols
    col = next((k for k, f in features.items() if isinstance(f, datasets.Image)), "image" if "image" in features else None)
    if col is None:
        raise ValueError(f"{spec}: no image column among {list(features)}")
    return [col]


def _decode_row(row, cols, where: str, i: int) -> np.ndarray:
    name = row.get("name", f"row {i}")
    try:
        planes = [decode_image(row[k]) for k in cols]
    except (ValueError, OSError) as exc:
        raise ValueError(f"{where}: row {i} ({name}): cannot decode the image ({exc})") from None
    if len(cols) == 1:
        return planes[0]
    if any(p.shape[-1] != 1 for p in planes) or len({(p.shape, p.dtype) for p in planes}) > 1:
        raise ValueError(f"{where}: row {i} ({name}): the channel planes differ in shape, dtype or channel count")
    return np.concatenate(planes, axis=-1)


@dataclasses.dataclass
class HFStreamSource:
    """A streamed Hugging Face dataset of images (build with ``open_hf_stream``).

    Attributes:
        dataset: The ``datasets.IterableDataset`` (image columns undecoded: exact bytes).
        columns: The image columns (``channel_0``... or one image column).
        channels: Channels per image.
        num_examples: Images in this stream (this process's shard), or None when the dataset does not say.
        shuffle_buffer, seed: Each pass over the stream is shuffled with a buffer of ``shuffle_buffer`` rows,
            seeded by ``seed`` and the pass (``None``: the stored order).
        spec, kind, labels, info: As in ``DataSource`` (``labels`` is None: streams train unlabelled).
    """

    dataset: object
    columns: list
    channels: int
    num_examples: int | None
    shuffle_buffer: int | None = None
    seed: int = 0
    spec: str = ""
    kind: str = "hf"
    labels: None = None
    skipped: list = dataclasses.field(default_factory=list)
    info: dict = dataclasses.field(default_factory=dict)

    def __iter__(self):
        """The images of the first pass, ``(H, W, C)`` in their stored dtype."""
        return self.iter_pass(0)

    def iter_pass(self, n: int):
        """The images of pass ``n`` over the stream (reshuffled for each pass when ``shuffle_buffer`` is set)."""
        ds = self.dataset
        if self.shuffle_buffer:
            ds = ds.shuffle(seed=self.seed, buffer_size=int(self.shuffle_buffer))
            ds.set_epoch(n)
        for i, row in enumerate(ds):
            img = _decode_row(row, self.columns, self.spec or "dataset", i)
            if img.shape[-1] != self.channels:
                raise ValueError(f"channel-count mismatch: {self.spec} row {i} has {img.shape[-1]} channel(s) but "
                                 f"{self.channels} are expected")
            yield img

    def split(self, val_fraction: float = 0.1, *, seed: int = 0) -> tuple["HFStreamSource", DataSource]:
        """``(train stream, validation DataSource)``: the first ``round(num_examples * val_fraction)`` images
        (at least 1) are held out in memory and skipped by the training stream (``seed`` is unused: the
        stream's order decides)."""
        if not 0 < val_fraction < 1:
            raise ValueError(f"val_fraction must lie in (0, 1), got {val_fraction}")
        if self.num_examples is None:
            raise ValueError(f"{self.spec}: the dataset does not say how many images it has, so val_fraction "
                             "cannot be applied; hold out a number of images with split_first(n)")
        return self.split_first(max(1, int(round(self.num_examples * val_fraction))))

    def split_first(self, n: int) -> tuple["HFStreamSource", DataSource]:
        """``(train stream, validation DataSource)`` with the first ``n`` images of the stored order held out
        (before any shuffling, so that no pass trains on them)."""
        if self.num_examples is not None and n >= self.num_examples:
            raise ValueError(f"cannot hold out {n} of {self.num_examples} image(s): nothing would be left to train on")
        val = list(itertools.islice(dataclasses.replace(self, shuffle_buffer=None), n))
        train = dataclasses.replace(self, dataset=self.dataset.skip(n), info=dict(self.info),
                                    num_examples=None if self.num_examples is None else self.num_examples - n)
        return train, DataSource(images=val, labels=None, class_names=(), names=[f"row {i}" for i in range(n)],
                                 channels=self.channels, kind="hf", spec=self.spec, info={"held_out_first": n})

    def patch_dataset(self, **kwargs) -> "StreamPatchDataset":
        """``StreamPatchDataset(self, **kwargs)``."""
        return StreamPatchDataset(self, **kwargs)


def open_hf_stream(spec, *, split: str = "train", revision: str | None = None, channels: int | None = None,
                   count: int | None = None, shuffle_buffer: int | None = None, seed: int = 0,
                   process_id: int = 0, num_processes: int = 1) -> HFStreamSource:
    """A streamed dataset (Hub id ``owner/name``, ``save_to_disk`` folder or parquet folder).

    Args:
        split, revision: The split and Hub revision.
        channels: Expected channel count (a mismatch raises a ValueError).
        count: Only the first ``count`` images.
        shuffle_buffer: Shuffle the stream with a buffer of this many rows (``IterableDataset.shuffle``,
            seeded by ``seed``; reshuffled at each pass); default the stored order.
        process_id, num_processes: This process's shard (``datasets.distributed.split_dataset_by_node``:
            whole parquet shards when their count divides evenly, else every ``num_processes``-th row).
    """
    import datasets
    from datasets.distributed import split_dataset_by_node

    from msrgan.data.shard import check_shard

    process_id, num_processes = check_shard(process_id, num_processes)
    ds, n = _open_iterable(spec, split, revision)
    cols = _image_columns(ds.features, spec)
    for k in cols:
        ds = ds.cast_column(k, datasets.Image(decode=False))
    if count is not None:
        ds, n = ds.take(count), count if n is None else min(count, n)
    if num_processes > 1:
        ds = split_dataset_by_node(ds, rank=process_id, world_size=num_processes)
        n = None if n is None else len(range(process_id, n, num_processes))
    first = _decode_row(next(iter(ds)), cols, os.fspath(spec), 0)
    c = first.shape[-1]
    if channels is not None and c != channels:
        raise ValueError(f"channel-count mismatch: {spec} has {c} channel(s) but {channels} are expected")
    if c not in (1, 3, 4):
        raise ValueError(f"{spec}: images have {c} channels; msrgan works with 1, 3 or 4")
    info = {"streaming": True, "split": split, "columns": cols, "image_bytes": int(first.nbytes)}
    if num_processes > 1:
        info["shard"] = {"process_id": process_id, "num_processes": num_processes}
    return HFStreamSource(ds, cols, c, n, shuffle_buffer=shuffle_buffer, seed=int(seed), spec=os.fspath(spec), info=info)


def estimate_hf_bytes(spec, *, split: str = "train", revision: str | None = None, count: int | None = None):
    """Decoded bytes of a dataset: its first image's size times its number of images (from the dataset's
    metadata); None when the dataset does not say how many images it has."""
    src = open_hf_stream(spec, split=split, revision=revision, count=count)
    return None if src.num_examples is None else src.info["image_bytes"] * src.num_examples


class StreamPatchDataset(keras.utils.PyDataset):
    """``PatchDataset`` batches from a stream, a pool of ``pool_size`` consecutive images at a time.

    Args:
        source: An ``HFStreamSource`` (or any re-iterable of ``(H, W, C)`` images).
        pool_size: Images per pool; memory holds two pools.
        steps_per_pool: Batches drawn from each pool (default ``pool_size``).
        steps_per_epoch, seed, workers, use_multiprocessing, max_queue_size: As ``PatchDataset``.
        **patch_kwargs: ``PatchDataset``'s other settings (``patch_size``, ``scale``, ``batch_size``,
            ``degradation``, ``normalization``...).

    Global step ``g = epoch * steps_per_epoch + index`` is batch ``g % steps_per_pool`` (as epoch ``pool``)
    of a ``PatchDataset`` over pool ``g // steps_per_pool``: images ``pool * pool_size ...`` of the stream
    read over and over.
    """

    def __init__(self, source, *, pool_size: int = 16, steps_per_pool: int | None = None, steps_per_epoch: int = 100,
                 seed: int = 0, workers: int = 1, use_multiprocessing: bool = False, max_queue_size: int = 10,
                 **patch_kwargs):
        super().__init__(workers=workers, use_multiprocessing=use_multiprocessing, max_queue_size=max_queue_size)
        from msrgan.data.patches import PatchDataset

        self.source = source
        self.pool_size = int(pool_size)
        self.steps_per_pool = int(steps_per_pool or pool_size)
        self.steps_per_epoch = int(steps_per_epoch)
        if min(self.pool_size, self.steps_per_pool, self.steps_per_epoch) < 1:
            raise ValueError(f"pool_size, steps_per_pool and steps_per_epoch must be >= 1, got {pool_size}, "
                             f"{steps_per_pool}, {steps_per_epoch}")
        self.seed = int(seed)
        self.patch_kwargs = dict(patch_kwargs)
        self.epoch = 0
        self._make = lambda images: PatchDataset(images, steps_per_epoch=self.steps_per_pool, seed=self.seed,
                                                 **self.patch_kwargs)
        self._pools: OrderedDict = OrderedDict()
        self._lock = threading.Lock()
        self._it, self._pos, self._pass, self._in_pass = None, 0, 0, 0
        first = self._pool(0)  # checks the settings against the first images now
        self.channels = first.channels

    def __len__(self) -> int:
        return self.steps_per_epoch

    def on_epoch_end(self) -> None:
        self.epoch += 1

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __getitem__(self, index: int):
        return self.batch(index, self.epoch)

    def batch(self, index: int, epoch: int | None = None):
        if not 0 <= int(index) < self.steps_per_epoch:
            raise IndexError(f"batch index {index} out of range for {self.steps_per_epoch} steps per epoch")
        step = (self.epoch if epoch is None else int(epoch)) * self.steps_per_epoch + int(index)
        pool, k = divmod(step, self.steps_per_pool)
        return self._pool(pool).batch(k, pool)

    def _pool(self, pool: int):
        with self._lock:
            if pool not in self._pools:
                images = self._read(pool * self.pool_size, self.pool_size)
                self._pools[pool] = self._make(images)
                while len(self._pools) > 2:
                    self._pools.popitem(last=False)
            return self._pools[pool]

    def _read(self, start: int, n: int) -> list:
        """Images ``start .. start + n`` of the stream read over and over (pass by pass)."""
        if self._it is None or self._pos > start:
            self._it, self._pos, self._pass, self._in_pass = self._open_pass(0), 0, 0, 0
        out = []
        while len(out) < n:
            try:
                img = next(self._it)
            except StopIteration:
                if not self._in_pass:
                    raise ValueError(f"{getattr(self.source, 'spec', 'the stream')}: the stream has no images") from None
                self._pass, self._in_pass = self._pass + 1, 0
                self._it = self._open_pass(self._pass)
                continue
            if self._pos >= start:
                out.append(img)
            self._pos, self._in_pass = self._pos + 1, self._in_pass + 1
        return out

    def _open_pass(self, n: int):
        return self.source.iter_pass(n) if hasattr(self.source, "iter_pass") else iter(self.source)

    def get_config(self) -> dict:
        return {"pool_size": self.pool_size, "steps_per_pool": self.steps_per_pool,
                "steps_per_epoch": self.steps_per_epoch, "seed": self.seed, "streaming": True, **self.patch_kwargs}
