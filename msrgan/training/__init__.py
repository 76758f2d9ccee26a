"""Training: the MSRGAN model and its per-backend steps, the miniVGG19 classifier, callbacks."""
