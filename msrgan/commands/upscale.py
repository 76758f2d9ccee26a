"""``msrgan upscale``: super-resolve image files (any size; tiled, dtype kept) with a pretrained model."""

from __future__ import annotations

import argparse
import glob
import os
from pathlib import Path

import numpy as np

GLOB_CHARS = set("*?[")


def register(sub) -> None:
    from msrgan.data.normalize import NORMALIZATIONS

    p = sub.add_parser(
        "upscale",
        help="super-resolve images (files, folders or globs) with a pretrained generator",
        description="Upscales each INPUT (a file, a folder of images, or a quoted glob) with the generator "
                    "SOURCE and writes <name>_x<scale><suffix> into OUT. Any size works: the image runs "
                    "through overlapping, blended tiles; the output keeps the input's dtype (8/16-bit, "
                    "float32). TIFF outputs are streamed into a tiled TIFF, and --suffix .ome.zarr into an "
                    "OME-Zarr with a multiscale pyramid, without holding the whole result. Inputs are never "
                    "overwritten; each output is written to a temporary file or folder and renamed.",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image file, folder, or glob (PNG, JPEG, TIFF)")
    p.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="output folder (created); a file name with an image suffix (or NAME.ome.zarr) when there is "
                        "one input")
    p.add_argument("--model", default=None, metavar="SOURCE",
                   help="pretrained generator: a preset name (msrgan models), local folder, hf://owner/name or "
                        "owner/name (default: msrgan-x4-gray, channel by channel for multi-channel images)")
    p.add_argument("--per-channel", action=argparse.BooleanOptionalAction, default=None,
                   help="run a single-channel model on each channel separately (default: on whenever the model "
                        "has one channel and the image more)")
    p.add_argument("--tile", type=int, default=None, help="model input tile side in LR pixels (default 256)")
    p.add_argument("--overlap", type=int, default=None,
                   help="per-side tile context in LR pixels (default: the model's receptive margin)")
    p.add_argument("--batch-size", type=int, default=2, help="tiles per model call (default 2)")
    p.add_argument("--channels", default=None, metavar="I,J,K",
                   help="input channel indices fed to the model, e.g. 2,1,0 or 1,3,0 (4-channel into RGB)")
    p.add_argument("--normalization", default="percentile", choices=NORMALIZATIONS,
                   help="intensity mapping to the model's [0, 1] (default: per-channel 2/99.8 percentiles; "
                        "unit: the dtype's range, also spelled range; none: float images already in [0, 1])")
    p.add_argument("--axes", default=None, metavar="AXES",
                   help="the input's axes in CARE's letters S,T,C,Z,Y,X (e.g. ZYX, TCYX), overriding the file's "
                        "own; needed when a file does not name them. S, T and Z planes are upscaled one by one")
    p.add_argument("--suffix", default=None,
                   choices=(".tif", ".tiff", ".ome.tif", ".ome.tiff", ".ome.zarr", ".png", ".jpg", ".jpeg"),
                   help="output format (default: the input's; TIFF outputs are ImageJ hyperstacks, .ome.tif OME-TIFF, "
                        ".ome.zarr an OME-Zarr (NGFF 0.5) folder with a multiscale pyramid)")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files (never an input)")
    p.set_defaults(func=run)


def expand_inputs(specs) -> list[Path]:
    """Files named by ``specs``: files as given, folders' image files (sorted), glob matches (sorted).

    Raises:
        FileNotFoundError: a path that does not exist, or a glob or folder without images.
        ValueError: an explicitly named file with an unsupported type.
    """
    from msrgan.data.io import IMAGE_SUFFIXES, is_image_file

    files: list[Path] = []
    for spec in specs:
        path = Path(spec).expanduser()
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and is_image_file(p) and not p.name.startswith("."))
            if not found:
                raise FileNotFoundError(f"{path}: no images ({', '.join(IMAGE_SUFFIXES)}) in this folder")
            files.extend(found)
        elif path.is_file():
            if not is_image_file(path):
                raise ValueError(f"{path}: unsupported image type {path.suffix!r}; "
                                 f"use one of {', '.join(IMAGE_SUFFIXES)}")
            files.append(path)
        elif GLOB_CHARS & set(str(spec)):
            found = sorted(Path(p) for p in glob.glob(os.path.expanduser(str(spec)))
                           if Path(p).is_file() and is_image_file(p))
            if not found:
                raise FileNotFoundError(f"{spec}: the pattern matches no image files")
            files.extend(found)
        else:
            raise FileNotFoundError(f"No such file or folder: {path}")
    unique, seen = [], set()
    for f in files:
        key = f.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return unique


def plan_outputs(inputs: list[Path], output: str, scale: int, suffix: str | None, overwrite: bool) -> list[Path]:
    """One output path per input (``x.ome.tif`` -> ``x_x4.ome.tif``); checks collisions before any work."""
    from msrgan.data.io import is_image_file
    from msrgan.data.stack import is_omezarr_name, ome_stem

    out = Path(output).expanduser()
    if is_omezarr_name(out) or (is_image_file(out) and not out.is_dir()):
        if len(inputs) != 1:
            raise ValueError(f"-o {out} names one file but there are {len(inputs)} inputs; give a folder")
        targets = [out]
    else:
        if out.exists() and not out.is_dir():
            raise FileExistsError(f"{out} exists and is not a folder")
        targets = [out / f"{ome_stem(p)}_x{scale}{(suffix or _suffix(p)).lower()}" for p in inputs]
    check_writable_folder(targets[0].parent)
    inputs_resolved = {p.resolve() for p in inputs}
    seen = {}
    for src, dst in zip(inputs, targets):
        if dst.resolve() in inputs_resolved:
            raise ValueError(f"{dst} is an input file; inputs are never overwritten, choose another output")
        if dst.resolve() in seen:
            raise ValueError(f"{src} and {seen[dst.resolve()]} would both be written to {dst}")
        seen[dst.resolve()] = src
        if dst.exists() and not overwrite:
            raise FileExistsError(f"{dst} exists; pass --overwrite to replace it")
    return targets


def _suffix(path: Path) -> str:
    from msrgan.data.stack import is_ome_name

    return (".ome" + path.suffix) if is_ome_name(path) else path.suffix


def check_writable_folder(folder: Path) -> None:
    """Fails before any model runs when ``folder`` cannot be created or written (nothing is created).

    Raises:
        FileExistsError: a path component is a file.
        PermissionError: the folder, or the existing folder it would be created in, is not writable
            (read-only file system, permissions).
    """
    from zoo.files import discard, partial_path

    existing = folder
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise FileExistsError(f"cannot write into {folder}: {existing} is a file, not a folder")
    try:
        discard(partial_path(existing / "write-check"))
    except OSError as exc:
        raise PermissionError(f"cannot write into {folder}: {existing} is not writable ({exc.strerror})") from None


def upscale_file(src: Path, dst: Path, model, *, axes=None, tile=None, overlap=None, batch_size=2, channels_map=None,
                 normalization="percentile", overwrite=False, progress=False, per_channel=None) -> Path:
    """Reads ``src`` with its axes and metadata, upscales every plane and writes ``dst`` atomically.

    TIFF and OME-Zarr targets are streamed plane by plane (``msrgan.inference.upscale_stack_to_file``: ImageJ
    hyperstack, OME-TIFF for ``.ome.tif``, OME-Zarr for ``.ome.zarr``, physical metadata kept); PNG/JPEG
    hold one 2-D image.
    ``model``: a loaded generator, or ``DefaultPresets`` (the default preset for the input's channels).
    """
    from msrgan.data.io import TIFF_SUFFIXES, check_format, write_image
    from msrgan.data.stack import is_omezarr_name, read_stack
    from msrgan.models.channels import DefaultPresets
    from msrgan.inference import upscale_stack_to_file
    from msrgan.planes import fit_stack_model, output_format, upscale_stack

    stack = read_stack(src, axes=axes)
    if isinstance(model, DefaultPresets):
        model = model(stack.channels)
    fitted = fit_stack_model(model, stack.channels, channels_map=channels_map, per_channel=per_channel,
                             name=str(src))
    kwargs = dict(tile=tile, overlap=overlap, batch_size=batch_size, channels_map=channels_map,
                  normalization=normalization, per_channel=per_channel, progress=progress)
    if dst.suffix.lower() in TIFF_SUFFIXES or is_omezarr_name(dst):
        output_format(dst, stack.data.dtype, stack.axes)
        return upscale_stack_to_file(stack, model, dst, overwrite=overwrite, **kwargs)
    if stack.planes > 1:
        raise ValueError(f"{dst}: {dst.suffix} holds one 2-D image, but {src} has axes {stack.axes!r} (shape "
                         f"{stack.data.shape}, {stack.planes} planes); write TIFF or OME-Zarr (--suffix .tif, "
                         ".ome.tif or .ome.zarr)")
    check_format(dst, stack.data.dtype, fitted.out_channels)
    result = upscale_stack(stack, model, name=str(src), **kwargs)
    image, has_c = result.data, "C" in result.axes
    if has_c:
        image = np.moveaxis(image, result.axes.index("C"), -1)
    return write_image(dst, image.reshape(image.shape[-3:] if has_c else image.shape[-2:]), overwrite=overwrite)


def run(args) -> int:
    from tqdm.auto import tqdm

    from msrgan.errors import UsageError
    from msrgan.inference import load_generator

    # the rules plan_tiles and predict_tiled state, checked before any input or model is read
    for value, name, low in ((args.tile, "tile", 1), (args.overlap, "overlap", 0)):
        if value is not None and value < low:
            raise UsageError(f"{name} must be an integer >= {low}, got {name}={value}")
    if args.batch_size < 1:
        raise UsageError(f"batch_size must be a positive integer, got {args.batch_size}")
    channels_map = None
    if args.channels is not None:
        from msrgan.inference import parse_channels_map

        try:
            channels_map = parse_channels_map(args.channels)
        except ValueError as exc:
            raise UsageError(f"--channels: {exc}") from None
    inputs = expand_inputs(args.inputs)
    if args.model is not None:
        model = load_generator(args.model)
        scale = int(model.scale)
    else:
        from msrgan.models.channels import DefaultPresets

        model = DefaultPresets(load_generator)
        scale = int(model(1).scale)
    targets = plan_outputs(inputs, args.output, scale, args.suffix, args.overwrite)
    for src, dst in tqdm(list(zip(inputs, targets)), desc="upscaling", unit="image", disable=len(inputs) < 2):
        upscale_file(src, dst, model, axes=args.axes, tile=args.tile, overlap=args.overlap, batch_size=args.batch_size,
                     channels_map=channels_map, normalization=args.normalization, overwrite=args.overwrite,
                     progress=True, per_channel=args.per_channel)
        tqdm.write(f"{src} -> {dst}")
    return 0
