"""The Keras callbacks of a training run, and the checkpoint functions, in one import.

Each lives in the module named for what it holds:

- ``msrgan.training.checkpoints``: ``save_checkpoint``, ``restore_checkpoint``,
  ``latest_checkpoint``, ``read_checkpoint_meta``, ``read_checkpoint_state`` and the
  ``StepCheckpoint`` callback;
- ``msrgan.training.logs``: ``CSVLogs`` and ``TensorBoardLogs``;
- ``msrgan.training.validation``: ``ValidationMonitor`` and its ``comparison_grid``.
"""

from __future__ import annotations

from msrgan.training.checkpoints import (
    StepCheckpoint,
    latest_checkpoint,
    read_checkpoint_meta,
    read_checkpoint_state,
    restore_checkpoint,
    save_checkpoint,
)
from msrgan.training.logs import CSVLogs, TensorBoardLogs
from msrgan.training.validation import ValidationMonitor, comparison_grid

__all__ = ["CSVLogs", "StepCheckpoint", "TensorBoardLogs", "ValidationMonitor", "comparison_grid",
           "latest_checkpoint", "read_checkpoint_meta", "read_checkpoint_state", "restore_checkpoint", "save_checkpoint"]
