"""Bundle a finished training run as a preset: weights, config and card into msrgan/pretrained/NAME,
and its entry (sha256, command, results) into msrgan/pretrained/presets.json.

The run is scored on the held-out grid (``msrgan.grid``) first; the card and the entry carry those
numbers. Only finished runs are bundled: the run folder must hold the saved generator
(``config.json`` + ``model.safetensors``, written at the end of ``msrgan train``).

Usage:
    python scripts/bundle_preset.py runs/presets/msrgan-x4-gray --name msrgan-x4-gray --kind psnr \\
        --layout "one fluorescence channel" --description "..." \\
        --command "msrgan train --config scripts/presets/msrgan-x4-gray.json --out runs/presets/msrgan-x4-gray"
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRETRAINED = ROOT / "msrgan" / "pretrained"


def _zoo_entry_for(config: dict):
    """The zoo entry whose class and defaults (other than channels and scale) the saved config has."""
    import zoo

    arch = {k: v for k, v in config["config"].items() if k not in ("name", "channels", "scale")}
    for name in zoo.list_models():
        entry = zoo.get_entry(name)
        defaults = {k: v for k, v in entry.defaults.items() if k not in ("channels", "scale")}
        if entry.class_name == config["class_name"] and all(arch.get(k) == v for k, v in defaults.items()) \
                and set(defaults) == set(arch):
            return name
    return None


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", help="finished msrgan train output folder")
    p.add_argument("--name", required=True)
    p.add_argument("--kind", required=True, choices=("psnr", "gan"))
    p.add_argument("--layout", required=True, help="channel layout, in words")
    p.add_argument("--description", required=True)
    p.add_argument("--command", required=True, help="the command that trained it")
    p.add_argument("--hub-id", default=None)
    p.add_argument("--model", default=None, help="the zoo entry of its architecture (default: the run's zoo_name)")
    p.add_argument("--count", type=int, default=6, help="grid fields per condition (default 6)")
    args = p.parse_args(argv)

    import zoo
    from msrgan import grid
    from zoo.files import CONFIG_NAME, WEIGHTS_NAME, atomic_folder, atomic_write_bytes

    run = Path(args.run)
    model = zoo.from_pretrained(run)
    config = json.loads((run / CONFIG_NAME).read_text())
    model.zoo_name = args.model or config.get("zoo_name") or _zoo_entry_for(config)
    if model.zoo_name is None:
        raise SystemExit(f"{run / CONFIG_NAME} names no zoo entry and matches none; pass --model")
    training = (config.get("metadata") or {}).get("training") or {}
    rows = grid.score_grid({"model": model}, channels=int(model.channels), count=args.count)
    bic = {r["condition"]: r for r in rows if r["method"] == "bicubic"}
    results = [{"condition": r["condition"], "psnr": r["psnr"], "ssim": r["ssim"],
                "bicubic_psnr": bic[r["condition"]]["psnr"], "bicubic_ssim": bic[r["condition"]]["ssim"],
                "images": r["images"]} for r in rows if r["method"] == "model"]
    mean = {k: sum(r[k] for r in results) / len(results) for k in ("psnr", "ssim", "bicubic_psnr", "bicubic_ssim")}
    preset = {"name": args.name, "kind": args.kind, "layout": args.layout, "command": args.command,
              "backend": training.get("backend"), "train_seconds": training.get("seconds"),
              "machine": "a 2-core CPU", "grid": results}
    metadata = {k: v for k, v in (config.get("metadata") or {}).items()
                if k not in ("task", "input_convention", "scale", "channels", "channel_names")}
    metadata.update({"preset": preset, "metrics": mean,
                     "evaluation": {"dataset": f"msrgan.grid held-out synthetic grid (seed {grid.GRID_SEED})",
                                    "split": "held-out grid, mean of 24 conditions",
                                    "images": args.count * len(results)}})
    target = PRETRAINED / args.name
    PRETRAINED.mkdir(parents=True, exist_ok=True)
    with atomic_folder(target) as stage:  # an existing preset is replaced only once the new one is complete
        model.save_pretrained(stage, metadata=metadata)
    sha = hashlib.sha256((target / WEIGHTS_NAME).read_bytes()).hexdigest()
    entries = json.loads((PRETRAINED / "presets.json").read_text()) if (PRETRAINED / "presets.json").is_file() else {}
    entries[args.name] = {
        "model": model.zoo_name, "channels": int(model.channels), "scale": int(model.scale),
        "layout": args.layout, "kind": args.kind, "description": args.description, "sha256": sha,
        "hub_id": args.hub_id, "command": args.command,
        "results": {"grid_mean": {k: round(v, 4) for k, v in mean.items()},
                    "clean": next(({k: round(v, 4) for k, v in r.items() if k != "condition"} for r in results
                                   if r["condition"] == "noise=none blur=none objects=large sampling=sharp"), None)},
    }
    text = json.dumps(dict(sorted(entries.items())), indent=2) + "\n"
    atomic_write_bytes(PRETRAINED / "presets.json", text.encode())
    print(grid.markdown_table(rows))
    print(f"bundled {args.name} into {target} (sha256 {sha})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
