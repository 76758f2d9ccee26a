"""Argument checks of the public generator functions; each error names the argument and its value."""

from __future__ import annotations

import numpy as np

from msrgan.data.synthetic._names import _CHANNEL_NAMES, CLASS_NAMES, NUM_CLASSES

_MIN_SIZE = 32


def _check_size(size) -> tuple[int, int]:
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        hw = (int(size), int(size))
    elif (
        isinstance(size, (tuple, list))
        and len(size) == 2
        and all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) for s in size)
    ):
        hw = (int(size[0]), int(size[1]))
    else:
        raise ValueError(f"size must be an int or a (height, width) pair of ints, got size={size!r}")
    if min(hw) < _MIN_SIZE:
        raise ValueError(f"size must be at least {_MIN_SIZE} pixels per side, got size={size!r}")
    return hw


def _check_channels(channels) -> int:
    if isinstance(channels, bool) or channels not in _CHANNEL_NAMES:
        raise ValueError(f"channels must be 1, 3 or 4, got channels={channels!r}")
    return int(channels)


def _check_bit_depth(bit_depth) -> int:
    if isinstance(bit_depth, bool) or bit_depth not in (8, 16):
        raise ValueError(f"bit_depth must be 8 or 16, got bit_depth={bit_depth!r}")
    return int(bit_depth)


def _check_label(label) -> int | None:
    if label is None:
        return None
    if isinstance(label, str) and label in CLASS_NAMES:
        return CLASS_NAMES.index(label)
    if isinstance(label, (int, np.integer)) and not isinstance(label, bool) and 0 <= label < NUM_CLASSES:
        return int(label)
    raise ValueError(f"label must be a class id 0..{NUM_CLASSES - 1} or one of CLASS_NAMES, got label={label!r}")


def _check_seed(seed):
    def ok(s):
        return isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 0

    if ok(seed):
        return int(seed)
    if isinstance(seed, (tuple, list)) and len(seed) > 0 and all(ok(s) for s in seed):
        return [int(s) for s in seed]
    raise ValueError(f"seed must be a non-negative int (or a sequence of them), got seed={seed!r}")
