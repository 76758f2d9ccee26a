"""``msrgan push``: publish a pretrained model folder to the Hugging Face Hub."""

from __future__ import annotations

import sys


def register(sub) -> None:
    p = sub.add_parser(
        "push", help="upload a pretrained model folder (config.json, model.safetensors, README.md) to the Hub",
        description="Checks that DIR loads (registered class, config, weights and shapes), then uploads its "
                    "config.json, model.safetensors and README.md to the Hub repository as one commit and "
                    "prints the commit URL (the pull request's with --create-pr). The Hub is HF_ENDPOINT (default "
                    "huggingface.co); the token is "
                    "--token, else HF_TOKEN, else the stored `hf auth login` token, and is never printed.",
    )
    p.add_argument("dir", metavar="DIR", help="a folder written by save_pretrained (or msrgan train/pull)")
    p.add_argument("--repo", required=True, metavar="OWNER/NAME", help="Hub repository id; created if missing")
    p.add_argument("--private", action="store_true", default=None,
                   help="create the repository private (default: the Hub's default, public unless the "
                        "organization's default is private)")
    p.add_argument("--branch", default=None, metavar="BRANCH",
                   help="commit to this branch (default main); it must exist")
    p.add_argument("--create-pr", action="store_true", default=None,
                   help="open a pull request with the commit instead of updating the branch; prints its URL")
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
    info = zoo.push_folder(args.dir, args.repo, private=args.private, token=token, commit_message=args.message,
                           branch=args.branch, create_pr=args.create_pr)
    print(getattr(info, "pr_url", None) or info)
    return 0
