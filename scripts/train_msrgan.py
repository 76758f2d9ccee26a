#!/usr/bin/env python
"""Train an mSRGAN generator: phase 1 MSE pre-training (SRResNet), phase 2 adversarial.

The same as ``msrgan train`` with every flag (``--help`` lists them); settings can come from a
JSON/TOML/YAML file with ``--config``. Examples::

    # the paper configuration (msrgan-x4, 96px patches, batch 16, G 1e-4 / D 1e-3, seed loss
    # weights translated to means) with a trained miniVGG19 as the content extractor
    python scripts/train_msrgan.py --data /data/cyto2017 --generator msrgan-x4 \\
        --content minivgg19=runs/minivgg19-cyto --pretrain-steps 100000 --gan-steps 100000 \\
        --ema 0.999 --out runs/msrgan-x4

    # continue it after an interruption
    python scripts/train_msrgan.py --config runs/msrgan-x4/train_config.json --resume
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from msrgan.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["train", *sys.argv[1:]]))
