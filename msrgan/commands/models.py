"""``msrgan models``: list or describe the zoo entries."""

from __future__ import annotations

import json


def register(sub) -> None:
    p = sub.add_parser("models", help="list the zoo models, or describe one")
    p.add_argument("name", nargs="?", help="describe this model (defaults, description, class)")
    p.add_argument("--pattern", default=None, help="shell-style filter, e.g. 'msrgan-*'")
    p.set_defaults(func=run)


def run(args) -> int:
    import zoo

    if args.name:
        print(json.dumps(zoo.describe(args.name), indent=2))
        return 0
    for name in zoo.list_models(args.pattern):
        print(f"{name:22s} {zoo.describe(name)['description']}")
    return 0
