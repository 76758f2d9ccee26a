"""Subcommands of the ``msrgan`` CLI, one module each (see ``msrgan.cli``)."""
