"""``msrgan pull``: download a model from the Hugging Face Hub into a local pretrained folder."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser(
        "pull", help="download a Hub model into a local pretrained folder",
        description="Downloads config.json, model.safetensors and README.md of a Hub repository (through the "
                    "Hub cache; with HF_HUB_OFFLINE=1 from the cache only), checks that the model loads, and "
                    "copies the files into DIR. Prints the resolved commit sha.",
    )
    p.add_argument("repo", metavar="OWNER/NAME", help="Hub repository id (hf://OWNER/NAME works too)")
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="target folder; created if missing")
    p.add_argument("--revision", default=None, help="branch, tag or commit sha (default: the main branch)")
    p.add_argument("--overwrite", action="store_true", help="replace a pretrained model already in DIR")
    p.add_argument("--force-download", action="store_true",
                   help="download again even if cached (an interrupted download leaves the cached copy usable)")
    p.add_argument("--local-files-only", action="store_true", help="use the Hub cache only, never the network")
    p.set_defaults(func=run)


def run(args) -> int:
    import zoo
    import msrgan  # noqa: F401  (registers the msrgan models)

    snap = zoo.pull_folder(args.repo, args.output, revision=args.revision, overwrite=args.overwrite,
                           force_download=args.force_download, local_files_only=args.local_files_only)
    print(f"{snap.repo_id}@{snap.commit} -> {args.output}")
    return 0
