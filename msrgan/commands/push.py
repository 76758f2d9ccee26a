"""``msrgan push``: publish a pretrained model folder to the Hugging Face Hub."""

from __future__ import annotations

import sys


def register(sub) -> None:
    p = sub.add_parser(
        "push", help="upload a pretrained model folder (config.json, model.safetensors, README.md) to the Hub",
        description="Checks that DIR loads (registered class, config, weights and shapes), then uploads its "
                    "config.json, model.safetensors and README.md to the Hub repository as one commit and "
                    "prints the commit URL. The Hub is HF_ENDPOINT (default huggingface.co); the token is "
                    "--token, else HF_TOKEN, else the stored `hf auth login` token, and is never printed.",
    )
    p.add_argument("dir", metavar="DIR", help="a folder written by save_pretrained (or msrgan train/pull)")
    p.add_argument("--repo", required=True, metavar="OWNER/NAME", help="Hub repository id; created if missing")
    p.add_argument("--private", action="store_true", help="create the repository private")
    p.add_argument("--token", default=None, metavar="TOKEN",
                   help="Hub token with write access; '-' reads it from stdin (preferred over a literal "
                        "token, which other users can see in the process list). Default: HF_TOKEN")
    p.add_argument("--message", default=None, help="commit message (default: 'Upload <model name>')")
    p.set_defaults(func=run)


def run(args) -> int:
    import zoo
    import msrgan  # noqa: F401  (registers the msrgan models)

    token = args.token
    if token == "-":
        token = sys.stdin.readline().strip()
        if not token:
            raise ValueError("--token -: no token on stdin")
    url = zoo.push_folder(args.dir, args.repo, private=args.private, token=token, commit_message=args.message)
    print(url)
    return 0
