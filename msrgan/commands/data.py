"""``msrgan data``: make, look at and publish datasets.

- ``msrgan data synth --count N --size S --channels C --bit-depth 8|16 --seed K --out DIR``: synthetic HCS
  fields, one file per field in the CYTO2017 layout (``NN_<index>.png``, NN = class id; 4-channel
  fields as ``.tif``), plus ``metadata.csv`` and a hidden manifest (``.msrgan-synth.json``: the files it
  wrote, with their sha256). With ``--overwrite`` it replaces only files that manifest lists, unchanged.
- ``msrgan data show SOURCE -o sheet.png``: a contact sheet, one labelled row per class.
- ``msrgan data convert SOURCE OUT``: every image as an uncompressed TIFF in a new folder, which a
  streamed training source reads by region (``msrgan.data.convert``).
- ``msrgan data push SOURCE --repo OWNER/NAME``: a Hugging Face dataset with a dataset card.

``SOURCE`` is anything ``msrgan.data.load_source`` reads: a folder (CYTO2017 layout, class subfolders,
or per-channel files with ``--pattern``), a Hugging Face dataset folder or Hub id, or ``synthetic``.
"""

from __future__ import annotations

import hashlib
import json
import sys

from msrgan.errors import UsageError

_SYNTH_COLUMNS = ("file_name", "label", "class_name", "index", "seed", "size", "channels", "bit_depth", "generator")
SYNTH_MANIFEST = ".msrgan-synth.json"  # the files `data synth` wrote into a folder, with their sha256
SYNTH_GENERATOR = "msrgan data synth"


def register(sub) -> None:
    p = sub.add_parser("data", help="make (synth), look at (show), convert and publish (push) datasets",
                       description="Make synthetic datasets (synth), look at a dataset (show), convert a folder "
                                   "to TIFFs that stream at full speed (convert), publish one to the Hugging Face "
                                   "Hub (push).")
    dsub = p.add_subparsers(dest="data_command", metavar="SUBCOMMAND")
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])

    s = dsub.add_parser("synth", help="write synthetic HCS fields (CYTO2017 layout) and metadata.csv")
    s.add_argument("--count", type=int, default=130, help="number of fields (default 130, 10 per class)")
    s.add_argument("--size", type=int, default=256, help="field side in pixels (default 256)")
    s.add_argument("--channels", type=int, default=3, choices=(1, 3, 4),
                   help="1 (protein), 3 (RGB merge: microtubules, protein, nucleus) or 4 (nucleus, microtubules, "
                        "ER, protein); default 3")
    s.add_argument("--bit-depth", type=int, default=8, choices=(8, 16), help="8 or 16 (default 8)")
    s.add_argument("--seed", type=int, default=0, help="seed (default 0); same seed, same bytes")
    s.add_argument("--unbalanced", action="store_true", help="draw each class at random instead of cycling")
    s.add_argument("--format", choices=("auto", "png", "tif"), default="auto",
                   help="file type: auto = PNG for 1/3 channels, TIFF for 4 (default auto)")
    s.add_argument("--out", required=True, help="output folder")
    s.add_argument("--overwrite", action="store_true",
                   help="allow writing into a non-empty folder: replaces the output of an earlier data synth there "
                        f"(the files its {SYNTH_MANIFEST} lists, if unchanged) and stops, before writing, at any other "
                        "file it would replace")
    s.set_defaults(func=run_synth)

    sh = dsub.add_parser("show", help="contact sheet: one labelled row of example fields per class")
    sh.add_argument("source", help="folder, Hugging Face dataset (folder or OWNER/NAME), or 'synthetic'")
    sh.add_argument("-o", "--output", required=True, help="sheet file (.png or .jpg)")
    sh.add_argument("--per-class", type=int, default=6, help="fields per row (default 6)")
    sh.add_argument("--tile", type=int, default=96, help="tile side in pixels (default 96)")
    sh.add_argument("--colors", type=int, default=None,
                    help="store the PNG with an adaptive palette of this many colours (smaller file)")
    sh.add_argument("--title", default=None, help="header line (default: describes the images)")
    sh.add_argument("--overwrite", action="store_true", help="replace an existing sheet file")
    _source_options(sh)
    sh.set_defaults(func=run_show)

    cv = dsub.add_parser("convert", help="rewrite a folder's images as uncompressed TIFFs, which stream at full speed",
                         description="Writes every image under SOURCE as an uncompressed TIFF under the new "
                                     "folder OUT, with the same relative path and name (suffix .tif), so a folder "
                                     "too large for memory streams at full speed: PNG and JPEG can only be decoded "
                                     "whole, a TIFF is read by region. Non-image files are copied, hidden ones are "
                                     "not; each new file reads back as exactly the original's array. OUT appears "
                                     "only when every image is written; an interrupted run resumes with --resume.")
    cv.add_argument("source", help="folder to convert (any layout msrgan reads)")
    cv.add_argument("out", help="new folder to write (must not exist)")
    cv.add_argument("--compression", choices=("none", "zlib"), default="none",
                    help="none (default: uncompressed, memory-mapped, the fastest to stream) or zlib (lossless, "
                         "tiled: about a tenth of the speed, a fraction of the disk for real microscopy)")
    cv.add_argument("--tile", type=int, default=256, help="tile side of compressed files, a multiple of 16 "
                                                         "(default 256)")
    cv.add_argument("--strict", action="store_true", help="fail on an unreadable file instead of skipping it")
    cv.add_argument("--resume", action="store_true",
                    help="continue an interrupted conversion into OUT (kept in .OUT.converting beside it): the "
                         "images it wrote are kept")
    cv.set_defaults(func=run_convert)

    pu = dsub.add_parser("push", help="publish a folder or dataset to the Hugging Face Hub with a dataset card")
    pu.add_argument("source", help="folder, Hugging Face dataset folder, or 'synthetic'")
    pu.add_argument("--repo", required=True, help="OWNER/NAME of the dataset repository")
    pu.add_argument("--license", default="cc-by-4.0", help="license id for the card (default cc-by-4.0)")
    pu.add_argument("--private", action="store_true", help="create a private repository")
    pu.add_argument("--revision", default=None, help="branch to push to (default main)")
    pu.add_argument("--message", default=None, help="commit message")
    pu.add_argument("--image-format", choices=("auto", "png", "tiff"), default="auto",
                    help="how images are stored (default auto: PNG for 1/3 channels, TIFF for 4; both exact)")
    _source_options(pu)
    pu.set_defaults(func=run_push)


def _source_options(p) -> None:
    p.add_argument("--strict", action="store_true", help="fail on an unreadable file instead of skipping it")
    p.add_argument("--channels", type=int, default=None, choices=(1, 3, 4), help="expected channel count")
    p.add_argument("--pattern", default=None,
                   help="per-channel files: name pattern with {id}, {channel} and {label} or {class}, "
                        "e.g. '{label}_{id}_{channel}.tif'")
    p.add_argument("--channel-order", default=None,
                   help="per-channel files: comma-separated channel tokens in stacking order, e.g. dapi,tub,er,prot")


# ------------------------------------------------------------------------------------------------


def run_convert(args) -> int:
    from msrgan.data.convert import convert_folder

    if args.tile < 16 or args.tile % 16:
        raise UsageError(f"--tile must be a positive multiple of 16 (TIFF tiles are), got {args.tile}")
    report = convert_folder(args.source, args.out, compression=None if args.compression == "none" else args.compression,
                            tile=args.tile, strict=args.strict, resume=args.resume)
    skipped = f"; skipped {len(report.skipped)} unreadable" if report.skipped else ""
    skipped += f"; {report.resumed} already written by the interrupted run" if report.resumed else ""
    print(f"wrote {len(report.written)} image(s) as TIFF ({report.bytes_written / 1e6:,.1f} MB) and copied "
          f"{len(report.copied)} other file(s) to {report.out}{skipped}")
    return 0


def run_synth(args) -> int:
    import csv
    import io
    from pathlib import Path

    from tqdm.auto import tqdm

    import msrgan
    from msrgan.data.io import is_image_file, write_image
    from zoo.files import atomic_write_bytes
    from msrgan.data.synthetic import CLASS_NAMES, iter_fields

    if args.count < 1:
        raise UsageError(f"--count must be at least 1, got {args.count}")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"--out {out} is a file, not a folder")
    suffix = {"png": ".png", "tif": ".tif"}.get(args.format, ".tif" if args.channels == 4 else ".png")
    digits = max(6, len(str(args.count - 1)))
    own: dict[str, str] = {}
    if out.is_dir() and any(out.iterdir()):
        if not args.overwrite:
            raise FileExistsError(f"--out {out} is not empty; pass --overwrite to write into it")
        own = _own_synth_files(out)
        _refuse_foreign_targets(out, own, args.count, digits, suffix, balanced=not args.unbalanced)
    out.mkdir(parents=True, exist_ok=True)
    kept = dict(own)  # synth's files in OUT now: name -> sha256, what the manifest will list
    rows = []
    try:
        for name in list(kept):  # the previous run's output goes, one by one (an interrupted run lists the rest)
            if name != SYNTH_MANIFEST:
                (out / name).unlink(missing_ok=True)
            del kept[name]
        fields = iter_fields(args.count, seed=args.seed, size=args.size, channels=args.channels,
                             bit_depth=args.bit_depth, balanced=not args.unbalanced)
        for i, (image, label) in enumerate(tqdm(fields, total=args.count, desc="synthesizing", unit="field")):
            name = _field_name(label, i, digits, suffix)
            write_image(out / name, image, overwrite=True)
            kept[name] = _sha256((out / name).read_bytes())
            rows.append({"file_name": name, "label": label, "class_name": CLASS_NAMES[label], "index": i,
                         "seed": args.seed, "size": args.size, "channels": args.channels, "bit_depth": args.bit_depth,
                         "generator": f"msrgan.data.synthetic (msrgan {msrgan.__version__})"})
        table = io.StringIO(newline="")
        w = csv.DictWriter(table, fieldnames=_SYNTH_COLUMNS)
        w.writeheader()
        w.writerows(rows)
        data = table.getvalue().encode("utf-8")
        atomic_write_bytes(out / "metadata.csv", data)
        kept["metadata.csv"] = _sha256(data)
    finally:  # also after an error or Ctrl-C: what synth wrote stays recognisably its own
        manifest = {"generator": SYNTH_GENERATOR, "msrgan": msrgan.__version__, "files": dict(sorted(kept.items()))}
        atomic_write_bytes(out / SYNTH_MANIFEST, (json.dumps(manifest, indent=1) + "\n").encode("utf-8"))
    written = {r["file_name"] for r in rows}
    others = [p.name for p in out.iterdir() if is_image_file(p) and not p.name.startswith(".") and p.name not in written]
    if others:
        print(f"warning: {out} also holds {len(others)} other image file(s) (e.g. {others[0]}) that loaders will "
              "read with these", file=sys.stderr)
    print(f"wrote {len(rows)} fields ({args.size}x{args.size}, {args.channels} channel(s), {args.bit_depth}-bit) "
          f"and metadata.csv to {out}")
    return 0


def _field_name(label: int, index: int, digits: int, suffix: str) -> str:
    return f"{label:02d}_{index:0{digits}d}{suffix}"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _own_synth_files(out) -> dict[str, str]:
    """The files of ``out`` that a previous ``data synth`` wrote and nobody changed since: name -> sha256.

    They are the files its manifest (``SYNTH_MANIFEST``) lists, by plain name, whose content still has
    the listed sha256, plus the manifest itself. A missing or unreadable manifest owns nothing.
    """
    path = out / SYNTH_MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        listed = {str(k): str(v) for k, v in manifest["files"].items()}
        if manifest["generator"] != SYNTH_GENERATOR:
            return {}
    except (OSError, ValueError, AttributeError, TypeError, KeyError):
        return {}
    own = {}
    for name, sha in listed.items():
        p = out / name
        if p.name == name and not name.startswith(".") and p.is_file() and not p.is_symlink() \
                and _sha256(p.read_bytes()) == sha:
            own[name] = sha
    own[SYNTH_MANIFEST] = _sha256(path.read_bytes())
    return own


def _refuse_foreign_targets(out, own: dict, count: int, digits: int, suffix: str, *, balanced: bool) -> None:
    """FileExistsError naming the files of ``out`` that synth would replace but did not write (before any write).

    Targets are ``metadata.csv``, the manifest and the field files: ``NN_<index>`` with ``NN = index % 13``
    when balanced, any class id when labels are drawn at random (not known before the fields are made).
    """
    import re

    from msrgan.data.synthetic import CLASS_NAMES

    field = re.compile(rf"^(\d{{2}})_(\d{{{digits}}}){re.escape(suffix)}$")

    def is_target(name: str) -> bool:
        if name in ("metadata.csv", SYNTH_MANIFEST):
            return True
        m = field.match(name)
        if not m or int(m.group(2)) >= count or int(m.group(1)) >= len(CLASS_NAMES):
            return False
        return not balanced or int(m.group(1)) == int(m.group(2)) % len(CLASS_NAMES)

    foreign = sorted(p.name for p in out.iterdir() if is_target(p.name) and p.name not in own)
    if foreign:
        more = f" (and {len(foreign) - 1} more)" if len(foreign) > 1 else ""
        raise FileExistsError(
            f"--out {out} holds {foreign[0]}{more}, which msrgan data synth did not write (or which changed since "
            f"it did) and could replace; nothing was written. Move it away or choose another --out"
        )


def _load(args, **kwargs):
    """load_source with the command's source options; warnings are printed as 'warning: ...'."""
    import warnings

    from msrgan.data import load_source

    order = [t.strip() for t in args.channel_order.split(",")] if args.channel_order else None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        src = load_source(args.source, channels=args.channels, strict=args.strict, pattern=args.pattern,
                          channel_order=order, progress=None, **kwargs)
    for w in caught:
        if issubclass(w.category, UserWarning):
            print(f"warning: {w.message}", file=sys.stderr)
    if src.skipped:
        print(f"warning: skipped {len(src.skipped)} unreadable file(s): "
              f"{', '.join(n for n, _ in src.skipped[:5])}{' ...' if len(src.skipped) > 5 else ''} "
              "(use --strict to fail instead)", file=sys.stderr)
    return src


def run_show(args) -> int:
    from pathlib import Path

    from msrgan.data.sheet import save_contact_sheet

    if args.per_class < 1:
        raise UsageError(f"--per-class must be at least 1, got {args.per_class}")
    out = Path(args.output)
    if out.exists() and not args.overwrite:
        raise FileExistsError(f"{out} exists; pass --overwrite to replace it")
    src = _load(args, max_per_class=args.per_class)
    name = Path(args.source).name if args.source != "synthetic" else "synthetic"
    save_contact_sheet(out, src.images, src.labels, src.class_names or None, per_class=args.per_class,
                       tile=args.tile, title=args.title, source=name, colors=args.colors, overwrite=args.overwrite)
    print(f"wrote {out} ({len(src)} field(s) shown)")
    return 0


def run_push(args) -> int:
    from msrgan.data.hf import push_dataset, to_hf_dataset

    src = _load(args)
    generation, channel_names, tags = _describe(args.source, src)
    ds = to_hf_dataset(src.images, src.labels, class_names=src.class_names or None, names=src.names,
                       image_format=args.image_format, progress=None)
    url = push_dataset(ds, args.repo, license=args.license, generation=generation, channel_names=channel_names,
                       tags=tags, private=args.private or None, revision=args.revision, commit_message=args.message)
    print(f"pushed {len(ds)} image(s) to {url}")
    return 0


def _describe(spec: str, src):
    """(generation text, channel names, extra tags) for the dataset card."""
    import csv
    from pathlib import Path

    import msrgan
    from msrgan.convention import CHANNEL_LAYOUTS
    from msrgan.data.synthetic import CHANNEL_NAMES_1, CHANNEL_NAMES_3, CHANNEL_NAMES_4

    meta = Path(spec) / "metadata.csv" if src.kind == "folder" else None
    row = None
    if meta is not None and meta.is_file():
        with open(meta, newline="") as f:
            row = next(csv.DictReader(f), None)
    if src.kind == "synthetic" or (row and row.get("generator", "").startswith("msrgan.data.synthetic")):
        p = src.info if src.kind == "synthetic" else row
        cmd = (f"msrgan data synth --count {len(src)} --size {p['size']} --channels {p['channels']} "
               f"--bit-depth {p['bit_depth']} --seed {p['seed']}")
        text = (f"Synthetic fluorescence high-content-screening fields, drawn with `{cmd}` (msrgan "
                f"{msrgan.__version__}): a seeded procedural generator (`msrgan.data.synthetic`) of Human Protein "
                "Atlas-like fields of view with 13 protein-localization classes, Gaussian PSF blur, uneven "
                "illumination and Poisson-Gaussian camera noise. The same command gives the same bytes.")
        names = {1: CHANNEL_NAMES_1, 3: CHANNEL_NAMES_3, 4: CHANNEL_NAMES_4}[src.channels]
        return text, list(names), ["synthetic"]
    layout = src.info.get("layout", src.kind)
    text = (f"Images loaded from `{Path(spec).name}` ({layout} layout) with `msrgan data push` (msrgan "
            f"{msrgan.__version__}); pixel values are stored unchanged.")
    if src.skipped:
        text += f" {len(src.skipped)} unreadable file(s) were left out."
    return text, list(CHANNEL_LAYOUTS[src.channels]), []
