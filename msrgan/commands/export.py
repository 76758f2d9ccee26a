"""``msrgan export bioimageio``: a model package for the bioimage.io model zoo (Fiji/deepImageJ, ilastik,
QuPath, napari)."""

from __future__ import annotations

import argparse


def register(sub) -> None:
    p = sub.add_parser("export", help="export a generator for other tools (bioimage.io model package)",
                       description="Exports a pretrained generator in another tool's format.")
    formats = p.add_subparsers(dest="format", metavar="FORMAT", required=True)
    b = formats.add_parser(
        "bioimageio", help="a bioimage.io model package (.zip) with ONNX weights",
        description="Writes a bioimage.io model package: rdf.yaml, ONNX weights, a test input and its expected "
                    "output, a cover image, the model card as documentation and the citations. It is validated "
                    "with bioimageio.spec and, with --test (the default when bioimageio.core is installed), its "
                    "test tensors are run by bioimageio.core. Needs pip install 'msrgan[bioimageio]'.")
    b.add_argument("model", metavar="MODEL_OR_PRESET",
                   help="preset name (msrgan models), pretrained folder, hf://owner/name or owner/name")
    b.add_argument("-o", "--output", required=True, metavar="OUT.zip", help="the package to write")
    b.add_argument("--name", default=None, help="the package's name (default: msrgan <model name>)")
    b.add_argument("--test", action=argparse.BooleanOptionalAction, default=None,
                   help="run bioimageio.core's test of the package (default: when bioimageio.core is installed)")
    b.add_argument("--overwrite", action="store_true", help="replace an existing OUT.zip")
    b.set_defaults(func=run)


def run(args) -> int:
    import importlib.util

    from msrgan.bioimageio import export_bioimageio, validate_package

    test = args.test if args.test is not None else importlib.util.find_spec("bioimageio.core") is not None
    try:
        path = export_bioimageio(args.model, args.output, overwrite=args.overwrite, name=args.name)
        if test:
            validate_package(path)
    except ImportError as exc:
        raise ValueError(str(exc)) from None
    print(f"wrote {path}" + (" (validated; bioimageio.core's test run passed)" if test else " (validated)"))
    return 0
