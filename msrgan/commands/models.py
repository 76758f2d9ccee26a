"""``msrgan models``: list the zoo entries and the bundled presets, or describe one."""

from __future__ import annotations

import json

from msrgan.errors import UsageError


def register(sub) -> None:
    p = sub.add_parser("models", help="list the zoo models and the pretrained presets, or describe one")
    p.add_argument("name", nargs="?", help="describe this model or preset (defaults, description, class)")
    p.add_argument("--pattern", default=None, help="shell-style filter, e.g. 'msrgan-*'")
    p.set_defaults(func=run)


def _results(preset: dict) -> str:
    grid = (preset.get("results") or {}).get("grid_mean") or {}
    if not grid:
        return "results: not recorded"
    return (f"grid mean PSNR {grid['psnr']:.2f} dB (bicubic {grid['bicubic_psnr']:.2f}), "
            f"SSIM {grid['ssim']:.3f} (bicubic {grid['bicubic_ssim']:.3f})")


def run(args) -> int:
    import zoo

    if args.name:
        if args.name in zoo.list_presets():
            info = zoo.describe_preset(args.name)
        else:
            try:
                info = zoo.describe(args.name)
            except ValueError as exc:  # not a zoo name: the command line is wrong
                raise UsageError(str(exc)) from None
        print(json.dumps(info, indent=2))
        return 0
    print("zoo models (architectures; zoo.create(name)):")
    for name in zoo.list_models(args.pattern):
        print(f"  {name:22s} {zoo.describe(name)['description']}")
    presets = zoo.list_presets(args.pattern)
    print("\npretrained presets (zoo.from_pretrained(name), msrgan upscale --model name):")
    if not presets:
        print("  (none)")
    for name in presets:
        p = zoo.describe_preset(name)
        print(f"  {name:22s} x{p.get('scale', '?')}, {p.get('channels', '?')} channel(s), {p.get('kind', '?')}: "
              f"{p['description']}\n  {'':22s} {_results(p)}")
    return 0
