"""Training: the MSRGAN model, the two-phase trainer, checkpoints, logs, validation, the miniVGG19 classifier.

The per-backend train steps are in ``msrgan.backends``.
"""
