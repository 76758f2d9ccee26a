#!/usr/bin/env python
"""Train the miniVGG19 microscopy classifier (the content-loss extractor of mSRGAN).

The same as ``msrgan train-classifier`` with every flag (``--help`` lists them); settings can come
from a JSON/TOML/YAML file with ``--config``. Examples::

    # the demo's classifier: 1300 synthetic 64px fields, width 0.125, 500 steps (>= 90% top-1)
    python scripts/train_minivgg19.py --count 1300 --size 64 --width 0.125 --steps 500 --no-augment --out runs/minivgg19

    # a CYTO2017-layout folder (NN_<id>.png names or class subfolders), 4 channels
    python scripts/train_minivgg19.py --data /data/cyto2017 --channels 4 --crop 128 --steps 20000 \\
        --out runs/minivgg19-cyto
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from msrgan.cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(["train-classifier", *sys.argv[1:]]))
