"""A training run's folder (OUT): where it is, whether it can take a run, and swapping a finished run in.

``run_folder`` finds OUT for a run's own config file; ``prepare_out`` refuses an OUT that cannot
take the run before anything is written; ``replace_run`` keeps an earlier run whole until a new one
is complete, then moves the new one in its place.
"""

from __future__ import annotations

from msrgan.errors import UsageError

# Everything a run writes into OUT; --overwrite replaces exactly these entries (other files stay).
RUN_ENTRIES = ("checkpoints", "logs", "grids", "discriminator", "training.json", "train_config.json",
               "config.json", "model.safetensors", "README.md")
RUN_MARKERS = ("config.json", "checkpoints", "training.json", "train_config.json", "logs")  # OUT holds a run


def run_folder(config_path, file_config: dict | None, out_flag) -> str | None:
    """OUT of a run: ``--out`` when given; else, for a run's own ``train_config.json``, the folder it lies in.

    A config file that records an ``out`` other than its own folder (a run copied with ``cp -r``) is
    refused unless ``--out`` says where to write: resuming through it must never write into the
    original run.
    """
    from pathlib import Path

    if out_flag is not None:
        return str(out_flag)
    recorded = (file_config or {}).get("out")
    if recorded is None:
        raise UsageError("--out is required: the folder of the trained generator, logs and checkpoints")
    folder = Path(config_path).resolve().parent
    if Path(str(recorded)).expanduser().resolve() != folder:
        raise ValueError(f"{config_path} records out={recorded!r} but lies in {folder} (a copied run?); pass "
                         f"--out {folder} to use the run in this folder, or --out {recorded} for the original")
    return str(folder)


def prepare_out(out, *, resume: bool, overwrite: bool) -> bool:
    """Refuses an OUT that cannot take this run; True when it holds an earlier run to replace (--overwrite).

    Nothing is written or removed here: the earlier run is replaced only when the new one has finished.
    """
    from msrgan.training.checkpoints import latest_checkpoint, read_checkpoint_state

    if out.exists() and not out.is_dir():
        raise FileExistsError(f"--out {out} is a file, not a folder")
    if resume:
        latest = latest_checkpoint(out / "checkpoints")
        if latest is None:
            raise FileNotFoundError(f"--resume: {out / 'checkpoints'} holds no checkpoint to continue from")
        read_checkpoint_state(latest)  # a truncated checkpoint is named before anything is written
        return False
    if not out.exists() or not any((out / n).exists() for n in RUN_MARKERS):
        return False
    if not overwrite:
        raise FileExistsError(f"{out} already holds a training run; pass --overwrite to replace it or --resume to "
                              "continue it")
    return True


def replace_run(stage, out) -> None:
    """Moves the finished run in ``stage`` into ``out`` in place of the earlier run's entries (``RUN_ENTRIES``).

    One rename an entry; the earlier run's entries are deleted only once every new one is in, and a
    failure puts them back (``zoo.files.move_entries``). Other files of ``out`` stay.
    """
    from zoo.files import move_entries

    move_entries(stage, out, clear=RUN_ENTRIES)
