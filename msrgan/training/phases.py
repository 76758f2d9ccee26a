"""The training phases of ``MSRGAN`` and which networks each one updates.

- ``pretrain``: the generator alone, on the pixel loss (SRResNet pre-training);
- ``gan``: generator and discriminator in turn (SRGAN training);
- ``generator`` / ``discriminator``: one network, the other frozen.

Shared by the model (``msrgan.training.gan``) and the per-backend train steps
(``msrgan.backends.<name>.train_step``), so neither imports the other for them.
"""

from __future__ import annotations

PHASES: tuple[str, ...] = ("pretrain", "gan", "generator", "discriminator")
G_PHASES: tuple[str, ...] = ("pretrain", "gan", "generator")
"""Phases that update the generator."""
D_PHASES: tuple[str, ...] = ("gan", "discriminator")
"""Phases that update the discriminator."""
