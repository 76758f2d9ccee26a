"""What the lazy images of one source share (``ImageStore``): the decoded-image cache (``ImageCache``,
least recently used out, within a byte budget) and the open files, one set per worker (``WorkerHandles``:
process and thread; a forked worker opens its own). ``msrgan.data.lazy`` and ``msrgan.data.file_regions``
use them.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict

import numpy as np


class ImageCache:
    """Values (decoded images) by key within ``max_bytes``; the least recently used go first.

    A value larger than the whole budget is not kept. Thread-safe. ``peak_bytes`` is the most it held.
    """

    def __init__(self, max_bytes: int):
        if isinstance(max_bytes, bool) or not isinstance(max_bytes, (int, np.integer)) or max_bytes < 0:
            raise ValueError(f"cache_bytes must be an int >= 0, got {max_bytes!r}")
        self.max_bytes = int(max_bytes)
        self.nbytes = self.peak_bytes = 0
        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key, value: np.ndarray) -> None:
        size = int(value.nbytes)
        if size > self.max_bytes:
            return
        with self._lock:
            if key in self._items:
                return
            while self._items and self.nbytes + size > self.max_bytes:
                self.nbytes -= self._items.popitem(last=False)[1].nbytes
            self._items[key] = value
            self.nbytes += size
            self.peak_bytes = max(self.peak_bytes, self.nbytes)

    def __len__(self) -> int:
        return len(self._items)


class WorkerHandles:
    """Open files, one set per worker (process and thread), at most ``max_open`` per worker.

    ``get(key, opener)`` returns this worker's handle for ``key``, opening it with ``opener()`` when it
    has none (the least recently used one is closed when the set is full). A forked process starts
    with an empty set: handles are never shared across processes or threads.
    """

    def __init__(self, max_open: int = 16):
        self.max_open = max(1, int(max_open))
        self._local = threading.local()

    def get(self, key, opener):
        pid = os.getpid()
        local = self._local
        if getattr(local, "pid", None) != pid:
            local.pid, local.handles = pid, OrderedDict()
        handles = local.handles
        h = handles.get(key)
        if h is None:
            while len(handles) >= self.max_open:
                handles.popitem(last=False)[1].close()
            h = handles[key] = opener()
        else:
            handles.move_to_end(key)
        return h

    def close(self) -> None:
        """Closes this worker's handles."""
        for h in getattr(self._local, "handles", {}).values():
            h.close()
        self._local = threading.local()

    def __getstate__(self):
        return {"max_open": self.max_open}

    def __setstate__(self, state):
        self.__init__(state["max_open"])


class ImageStore:
    """What the lazy images of one source share: the decoded-image cache (``cache_bytes``), the
    per-worker open files (``max_open`` per worker) and memory-mapped ones (``max_mapped``), and
    counters (``bytes_read`` from files, ``bytes_mapped``, ``decoded`` whole-image decodes). Pickles
    without its cache and handles."""

    def __init__(self, cache_bytes: int = 256 * 2**20, max_open: int = 16, max_mapped: int = 4096):
        self.cache = ImageCache(cache_bytes)
        self.handles = WorkerHandles(max_open)
        # Memory-mapped files hold no descriptor and no memory once their pages are dropped: many stay
        # mapped, so reads from a large folder do not map and unmap a file each time.
        self.mappings = WorkerHandles(max_mapped)
        self.bytes_read = self.bytes_mapped = self.decoded = 0

    def __getstate__(self):
        return {"cache_bytes": self.cache.max_bytes, "max_open": self.handles.max_open,
                "max_mapped": self.mappings.max_open}

    def __setstate__(self, state):
        self.__init__(state["cache_bytes"], state["max_open"], state.get("max_mapped", 4096))

