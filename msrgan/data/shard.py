"""Sharding a source by process for multi-host training: process ``p`` of ``n`` keeps images
``p, p + n, p + 2n, ...``; the shards of all processes are disjoint and together cover the source.

Example:
    >>> shard_indices(7, process_id=1, num_processes=3)
    [1, 4]
    >>> sorted(i for p in range(3) for i in shard_indices(7, process_id=p, num_processes=3))
    [0, 1, 2, 3, 4, 5, 6]
"""

from __future__ import annotations

import numpy as np


def check_shard(process_id, num_processes) -> tuple[int, int]:
    """``(process_id, num_processes)`` as ints after checking them.

    Raises:
        ValueError: ``num_processes`` < 1, or ``process_id`` outside ``0 .. num_processes - 1``; the
            message names both values.
    """
    for name, v in (("process_id", process_id), ("num_processes", num_processes)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise ValueError(f"{name} must be an int, got {name}={v!r}")
    if num_processes < 1:
        raise ValueError(f"num_processes must be >= 1, got num_processes={num_processes}")
    if not 0 <= process_id < num_processes:
        raise ValueError(f"process_id={process_id} does not fit num_processes={num_processes}: process ids run "
                         f"from 0 to {num_processes - 1} (every process must be given the same num_processes)")
    return int(process_id), int(num_processes)


def shard_indices(n: int, *, process_id: int = 0, num_processes: int = 1) -> list[int]:
    """The indices of ``n`` items that process ``process_id`` of ``num_processes`` keeps."""
    process_id, num_processes = check_shard(process_id, num_processes)
    return list(range(process_id, int(n), num_processes))


def shard_source(src, *, process_id: int = 0, num_processes: int = 1):
    """This process's shard of a ``DataSource`` (in memory or lazy): ``src.subset(shard_indices(...))``,
    with ``info["shard"]`` recording it; the source itself when ``num_processes`` is 1.

    Raises:
        ValueError: bad values (``check_shard``), or fewer images than processes (a shard would be empty).
    """
    process_id, num_processes = check_shard(process_id, num_processes)
    if num_processes == 1:
        return src
    if len(src) < num_processes:
        raise ValueError(f"{src.spec or 'the data'} has {len(src)} image(s), fewer than num_processes="
                         f"{num_processes}: every process needs at least one")
    out = src.subset(shard_indices(len(src), process_id=process_id, num_processes=num_processes))
    out.info["shard"] = {"process_id": process_id, "num_processes": num_processes, "of_images": len(src)}
    return out
