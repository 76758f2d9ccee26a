"""``python -m msrgan``: the ``msrgan`` command line (see ``msrgan.cli``)."""

import sys

from msrgan.cli import main

if __name__ == "__main__":
    sys.exit(main())
