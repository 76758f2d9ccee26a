"""Every Python and shell example in README.md and docs/*.md runs, so the docs cannot drift from the code.

Each fenced block tagged ``bash``/``sh``/``shell``/``console``/``python``/``py`` (and each untagged
block) must be accounted for in exactly one of two tables, by its key (below):

- ``RUN``: run, as written (``AS_WRITTEN``) or made small: ``Run(subs=...)`` replaces text in the
  block (``--count 1000`` -> ``--count 8``; each ``old`` must still be in the block, so a changed doc
  is noticed), ``before=`` is code run first in the same language (it stands for what the doc leaves
  to the reader: ``generator``, ``lr_batch``...), and ``why`` says why a block is not run as written;
- ``SKIP``: not run, with the reason (``bash scripts/test.sh`` is this suite; a diagram is no code).

A block's key is its first non-blank line, stripped; when two blocks of one document share that
line, the following lines are added (joined with ``" // "``) until the keys differ.
``test_every_doc_block_is_accounted_for`` (fast) fails on a block that is in neither table and on a
table entry that no longer matches a block; its message gives the key to add. Tagged code in other
languages (``json``, ``yaml``, ``text``...) is not an example and is not checked.

``test_doc_examples_run[<doc>]`` (slow: the commands train, push and upscale, made small) runs each
document's blocks in document order in one subprocess, so later blocks use what earlier ones made
(``runs/minivgg19`` before ``--content minivgg19=runs/minivgg19``): Python blocks share one
interpreter and namespace, as a reader's session would; each shell block runs in ``bash -e -o
pipefail``. The working directory is a temporary folder, where ``prepare_<doc>`` below first writes
the inputs a reader is assumed to have (``acquisitions/``, ``runs/demo/msrgan``...); ``scripts/``
is a link to the repository's and ``docs/`` a copy. Nothing is written in the repository (the
shell scripts of ``scripts/``, which ``cd`` there, are refused by the table check). Hub examples
run against the local test server (``local_hub``; ``HF_ENDPOINT`` points at it, see
``conftest.py``), where the repositories the docs read (``lab/msrgan-x4``, ``owner/hcs-dataset``...)
are pushed first. JAX keeps compiled code in a cache that the many short processes share
(``jax_cache`` below).

Select the slow part with ``pytest tests/test_docs_examples.py -k examples_run`` (one document:
``-k "examples_run and README"``), the table check alone with ``-k accounted``.

To add a block: run the fast test, copy the key it prints into ``RUN`` (``AS_WRITTEN`` when it runs
here quickly as written) or ``SKIP`` (with the reason), and give a new document a ``prepare``
function in ``PREPARE`` if its examples read files the reader is assumed to have.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Callable

import pytest

from tests.helpers import ROOT

DOCS = ("README.md", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md")))
SHELL = {"bash", "sh", "shell", "console"}
PYTHON = {"python", "py"}
UNTAGGED = ""


@dataclasses.dataclass(frozen=True)
class Run:
    """How a block is run: text replacements, code run before it, and why (when not as written)."""

    subs: tuple[tuple[str, str], ...] = ()
    before: str = ""
    why: str = ""


AS_WRITTEN = Run()

# Flags that make a GAN run small: tiny networks, 16-pixel patches, 2 steps per phase. JIT is the
# test's choice per backend ($DOCS_JIT): XLA on TensorFlow compiles longer than 2 steps take eagerly.
TINY_GAN = ("--count 4 --patch-size 16 --val-size 16 --batch-size 2 --steps-per-epoch 2 "
            "--generator msrgan-x4-small --generator-option num_blocks=1 --generator-option filters=8 "
            "--discriminator-filters 8 --discriminator-dense 16 --jit-compile $DOCS_JIT --verbose 0")
# ... and a classifier: 32-pixel crops, width 1/16, 2 steps.
TINY_CLASSIFIER = "--crop 32 --width 0.0625 --steps 2 --batch-size 4 --jit-compile $DOCS_JIT --verbose 0"
DOCS_JIT = {"tensorflow": "off"}  # else auto (JAX: XLA, whose compiled code the cache keeps; torch: eager)
NO_IMAGENET = ("the ImageNet VGG19 weights cannot be downloaded here: random weights (=none) on a shallow tap "
               "run the same code path")

RUN: dict[tuple[str, str], Run] = {
    # ---------------------------------------------------------------------------------- README.md
    ("README.md", "msrgan upscale docs/example_cells.tif -o upscaled/   # x4 with the default preset: no training, "
                  "no download"): AS_WRITTEN,
    ("README.md", "KERAS_BACKEND=jax msrgan models"): Run(
        subs=(("KERAS_BACKEND=tensorflow bash scripts/demo.sh", ": the demo is not run here"),),
        why="the demo is minutes of training (see SKIP for the quick-start block)"),
    ("README.md", "import zoo, msrgan"): AS_WRITTEN,
    ("README.md", "# 1. the microscopy feature extractor: miniVGG19 on 13 protein-localization classes"): Run(
        subs=(("--count 520 --size 128 --out runs/minivgg19",
               f"--count 26 --size 32 {TINY_CLASSIFIER} --out runs/minivgg19"),
              ("--pretrain-steps 1000 --gan-steps 2000 --out runs/x4",
               f"--pretrain-steps 2 --gan-steps 2 --size 32 {TINY_GAN} --out runs/x4"),
              ("--content vgg19-imagenet --out runs/x4-imagenet",
               f"--content vgg19-imagenet=none --content-layers block2_conv2 --pretrain-steps 1 --gan-steps 1 "
               f"{TINY_GAN} --out runs/x4-imagenet")),
        why="smaller counts; " + NO_IMAGENET),
    ("README.md", "msrgan data synth --count 52 --size 128 --channels 4 --bit-depth 16 --seed 0 "
                  "--out data/hcs_demo"): Run(
        subs=(("--count 52 --size 128", "--count 13 --size 32"),), why="smaller counts"),
    ("README.md", "msrgan upscale acquisitions/ -o upscaled/ --model runs/demo/msrgan --channels 1,3,0 --suffix .tif"):
        AS_WRITTEN,
    ("README.md", "msrgan evaluate --model runs/demo/msrgan --data synthetic --count 20 --seed 1000 "
                  "-o runs/demo/eval"): Run(
        subs=(("--count 20", "--count 2 --size 64"), ("--count 12", "--count 2 --size 64")), why="smaller counts"),
    ("README.md", "export HF_TOKEN=hf_...                      # write token (never printed or logged)"): AS_WRITTEN,
    ("README.md", 'url = generator.push_to_hub("lab/msrgan-x4")          # returns the commit URL'): Run(
        before='import zoo, msrgan\ngenerator = zoo.from_pretrained("runs/demo/msrgan")\n',
        why="`generator` is the reader's trained generator"),
    ("README.md", "KERAS_BACKEND=jax python -c '"): AS_WRITTEN,
    # ---------------------------------------------------------------------------- docs/architecture.md
    ("docs/architecture.md", "import keras, numpy as np, zoo"): AS_WRITTEN,
    ("docs/architecture.md", "import numpy as np"): AS_WRITTEN,
    ("docs/architecture.md", "from msrgan.models.extractors import ImageNetVGG19Features, load_extractor, "
                             "register_extractor"): AS_WRITTEN,
    ("docs/architecture.md", "import argparse"): AS_WRITTEN,
    ("docs/architecture.md", "from pathlib import Path"): AS_WRITTEN,
    # ------------------------------------------------------------------------------ docs/benchmarks.md
    ("docs/benchmarks.md", "import zoo"): Run(
        before=("import numpy as np\n"
                "lr_batch = np.random.default_rng(0).random((2, 16, 16, 3), dtype=np.float32)\n"
                "image = np.random.default_rng(1).integers(0, 256, (40, 40, 3), dtype=np.uint8)\n"),
        why="`lr_batch` and `image` are the reader's"),
    # ------------------------------------------------------------------------------------ docs/data.md
    ("docs/data.md", "from msrgan.data import load_source"): Run(
        subs=(("count=130, size=256", "count=13, size=32"),), why="smaller counts"),
    ("docs/data.md", "# 52 synthetic fields, 4 channels, 16 bit, as 00_000000.tif ... 12_000051.tif "
                     "+ metadata.csv"): Run(
        subs=(("--count 52 --size 128", "--count 13 --size 32"),), why="smaller counts"),
    ("docs/data.md", 'load_source("cyto", pattern="{label}_{id}_{channel}.tif", channel_order=["dapi", "tub", "er", '
                     '"prot"])'): AS_WRITTEN,
    ("docs/data.md", 'msrgan data show cyto -o sheet.png --pattern "{label}_{id}_{channel}.tif" --channel-order '
                     'dapi,tub,er,prot'): Run(
        subs=(("-o sheet.png", "-o cyto_sheet.png"),),
        why="the page's first `data show` already wrote sheet.png (the examples are alternatives)"),
    ("docs/data.md", "from msrgan.data import PatchDataset, load_source"): Run(
        subs=(("count=130, size=256", "count=4, size=64"), ("patch_size=96", "patch_size=32"),
              ("batch_size=16", "batch_size=2"), ("steps_per_epoch=100", "steps_per_epoch=2"),
              ("epochs=10", "epochs=1")),
        before=('import zoo, msrgan\nmodel = zoo.create("msrgan-x4-small", num_blocks=1, filters=8)\n'
                'model.compile(optimizer="adam", loss="mse")\n'),
        why="smaller counts; `model` is the reader's"),
    ("docs/data.md", "from msrgan.data.hf import to_hf_dataset, push_dataset, decode_image"): AS_WRITTEN,
    ("docs/data.md", "import numpy as np"): AS_WRITTEN,
    ("docs/data.md", "from msrgan.data.hf.stream import open_hf_stream"): AS_WRITTEN,
    # ------------------------------------------------------------------------------- docs/inference.md
    ("docs/inference.md", "import msrgan"): AS_WRITTEN,
    ("docs/inference.md", "msrgan upscale acquisitions/ -o upscaled/ --model runs/demo/msrgan --channels 1,3,0"): Run(
        subs=(("-o upscaled/ --model owner/msrgan-x4", "-o upscaled-w1/ --model owner/msrgan-x4"),),
        why="the two commands are alternatives: the second would find the first's outputs"),
    ("docs/inference.md", "msrgan evaluate --model runs/demo/msrgan --data synthetic --count 20 --seed 1000 -o "
                          "runs/demo/eval"): Run(
        subs=(("--count 20", "--count 2 --size 64"), ("--count 12", "--count 2 --size 64")), why="smaller counts"),
    ("docs/inference.md", "msrgan upscale zstack.tif -o upscaled/"): AS_WRITTEN,
    ("docs/inference.md", "msrgan upscale cells.ome.tif -o upscaled/"): AS_WRITTEN,
    ("docs/inference.md", "msrgan export bioimageio msrgan-x4-gray -o msrgan-x4-gray.zip"): Run(
        subs=(("-o msrgan-x4-gray.zip", "-o msrgan-x4-gray.zip --no-test"),),
        why="bioimageio.core's test run is tests/test_bioimageio.py's; bioimageio.spec still validates here"),
    ("docs/inference.md", "msrgan evaluate --model msrgan-x4-gray --lr pairs/lr --hr pairs/hr -o eval/pairs"):
        AS_WRITTEN,
    # ------------------------------------------------------------------------------ docs/publishing.md
    ("docs/publishing.md", "import zoo, msrgan // g = zoo.create(\"msrgan-x4-small\")            # or the generator "
                           "you trained"): AS_WRITTEN,
    ("docs/publishing.md", "import zoo, msrgan // g = zoo.from_pretrained(\"models/x4-small\")              # a local "
                           "folder"): Run(
        subs=(('revision="3f2a..."', 'revision=g.pretrained_source["commit"]'),), why="a real commit sha"),
    ("docs/publishing.md", "KERAS_BACKEND=jax python -c 'import zoo, msrgan; "
                           "g = zoo.from_pretrained(\"lab/msrgan-x4\"); print(g.scale)'"): Run(
        subs=(("KERAS_BACKEND=torch python ...",
               "KERAS_BACKEND=torch python -c 'import zoo, msrgan; g = zoo.from_pretrained(\"lab/msrgan-x4\"); "
               "print(g.scale)'"),),
        why="`python ...` stands for the line above"),
    ("docs/publishing.md", 'url = g.push_to_hub("lab/msrgan-x4", metadata={...}, '
                           'commit_message="x4, 20k steps")'): Run(
        subs=(("metadata={...}", 'metadata={"metrics": {"psnr": 31.2}}'),), why="`{...}` stands for the metadata"),
    ("docs/publishing.md", 'msrgan push models/x4-small --repo lab/msrgan-x4 [--private] [--message "x4, 20k steps"]'):
        Run(subs=(('[--private] [--message "x4, 20k steps"]', '--private --message "x4, 20k steps"'),
                  ("[--revision SHA_OR_TAG] [--overwrite]", "--revision main")),
            why="[...] marks optional flags"),
    ("docs/publishing.md", "import zoo, msrgan // from huggingface_hub.errors import RepositoryNotFoundError, "
                           "RevisionNotFoundError"): AS_WRITTEN,
    ("docs/publishing.md", "python -m msrgan push models/x4-small --repo lab/msrgan-x4 --create-pr -q   "
                           "# prints the PR's URL"): AS_WRITTEN,
    ("docs/publishing.md", "import keras, zoo, msrgan"): AS_WRITTEN,
    # -------------------------------------------------------------------------------- docs/training.md
    ("docs/training.md", "msrgan train-classifier --data synthetic --count 1300 --size 64 --width 0.125 --steps 500 "
                         "--out runs/minivgg19"): Run(
        subs=(("--count 1300 --size 64 --width 0.125 --steps 500", f"--count 26 --size 32 {TINY_CLASSIFIER}"),
              ("--data /data/cyto2017/ --size 128", f"--data cyto2017/ --size 128 {TINY_CLASSIFIER}"),
              ("--data lab/hcs-fields --out", f"--data lab/hcs-fields {TINY_CLASSIFIER} --out")),
        why="smaller counts; /data/cyto2017/ is the reader's folder (made in cyto2017/)"),
    ("docs/training.md", "msrgan train --data synthetic --content minivgg19=runs/minivgg19 \\"): Run(
        subs=(("--pretrain-steps 1000 --gan-steps 2000 --out runs/x4",
               f"--pretrain-steps 2 --gan-steps 2 --size 32 {TINY_GAN} --out runs/x4"),
              ("msrgan train --data my_hcs_folder/ --content vgg19-imagenet=/models/vgg19_notop.h5 "
               "--out runs/x4-imagenet",
               ": not run: needs a VGG19 weights file")),
        why="smaller counts; the line with a local VGG19 weights file (which the tests cannot provide) is "
            "README's ImageNet line, run there with random weights"),
}

SKIP: dict[tuple[str, str], str] = {
    ("README.md", "bash scripts/demo.sh     # the main job on the embedded synthetic data (sets up .venv on "
                  "first run)"):
        "demo.sh trains for minutes with a fixed configuration (scripts/demo.py has no size options) and writes "
        "runs/demo in the repository; test.sh is this test suite. Their commands are the ones run below",
    ("README.md", "python -m venv .venv && source .venv/bin/activate"):
        "installs packages from PyPI (no network here); the suite runs in the environment it makes",
    ("README.md", "python scripts/benchmark.py --json out.json      # inference, training step (train_on_batch and "
                  "fit), tiling vs native PyTorch"):
        "benchmarks take minutes by design (one worker per backend plus native PyTorch); gpu_check.sh needs a GPU "
        "and runs test files of this suite. tests/test_fast.py checks the fast path's outputs",
    ("README.md", "# one host, every GPU (--batch-size is the global batch, a multiple of the device count)"):
        "launch lines for GPUs and hosts (`...` stands for a run's options); tests/test_distribute.py runs "
        "data-parallel training on CPUs on every backend (4 virtual JAX devices, 2 logical TensorFlow CPUs and 2 "
        "TensorFlow workers, torchrun --nproc_per_node 2 on gloo)",
    ("docs/training.md", "# one host with 8 GPUs; --batch-size is the global batch (8 per GPU here)"):
        "launch lines for 8 GPUs and 2 hosts (`...` stands for a run's options); tests/test_distribute.py runs "
        "the same commands on CPUs on every backend",
    ("docs/benchmarks.md", "python scripts/benchmark.py --json out.json              # all sections, ~10 min on 2 "
                           "cores"):
        "benchmarks take minutes by design (even --quick starts one worker per backend plus native PyTorch)",
    ("docs/comparison.md", "# the whole comparison: trains every model, scores them, writes this page (a finished "
                           "run is skipped)"):
        "trains four models and a classifier for about half an hour by design (and writes docs/comparison.md in the "
        "repository); tests/test_compare.py runs the same script end to end with --quick",
    ("docs/inference.md", "LR axis:  |<---- step ---->|<---- step ---->|<---- step ---->| ..."):
        "not code: a diagram",
    ("docs/inference.md", "msrgan upscale INPUT... -o OUT [--model SOURCE] [--per-channel] [--tile N] [--overlap N]"):
        "not code: the command's synopsis (its examples are run above)",
}


# ------------------------------------------------------------------------------------------ blocks

@dataclasses.dataclass
class Block:
    doc: str
    line: int
    lang: str
    code: str
    key: str = ""


_FENCE = re.compile(r"^( *)(`{3,}|~{3,})\s*([^\s`]*)[^`]*$")


def extract_blocks(doc: str, text: str | None = None) -> list[Block]:
    """The fenced code blocks of ``doc`` (a path relative to the repository) with their keys."""
    text = (ROOT / doc).read_text(encoding="utf-8") if text is None else text
    lines = text.splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, fence, lang = len(m.group(1)), m.group(2), m.group(3).lower()
        body, j = [], i + 1
        while j < len(lines) and not (lines[j].strip().startswith(fence[0] * len(fence))
                                      and not lines[j].strip().strip(fence[0])):
            body.append(lines[j][indent:] if lines[j][:indent].strip() == "" else lines[j])
            j += 1
        blocks.append(Block(doc, i + 1, lang, "\n".join(body) + "\n"))
        i = j + 1
    _assign_keys(blocks)
    return blocks


def _assign_keys(blocks: list[Block]) -> None:
    heads = [[ln.strip() for ln in b.code.splitlines() if ln.strip()] or ["(empty)"] for b in blocks]
    n = [1] * len(blocks)
    while True:
        keys = [" // ".join(h[:k]) for h, k in zip(heads, n)]
        dup = {k for k in keys if keys.count(k) > 1}
        grow = [i for i, k in enumerate(keys) if k in dup and n[i] < len(heads[i])]
        if not grow:
            break
        for i in grow:
            n[i] += 1
    for b, k in zip(blocks, keys):
        b.key = k


def is_checked(block: Block) -> bool:
    return block.lang in SHELL or block.lang in PYTHON or block.lang == UNTAGGED


def all_blocks() -> list[Block]:
    return [b for doc in DOCS for b in extract_blocks(doc) if is_checked(b)]


def console_commands(code: str) -> str:
    """The commands of a ``console`` block: ``$ `` lines and their ``\\`` continuations, no output."""
    out, cont = [], False
    for line in code.splitlines():
        if cont or line.startswith("$ "):
            out.append(line if cont else line[2:])
            cont = line.rstrip().endswith("\\")
    return "\n".join(out) + "\n"


def runnable_code(block: Block, run: Run) -> str:
    code = block.code
    for old, new in run.subs:
        if old not in code:
            raise AssertionError(f"{block.doc}:{block.line} [{block.key}]: the substitution {old!r} no longer "
                                 f"matches the block; update RUN in {Path(__file__).name}")
        code = code.replace(old, new)
    if block.lang == "console":
        code = console_commands(code)
    return (textwrap.dedent(run.before) + code) if run.before else code


def _table_problems() -> list[str]:
    problems = []
    seen = set()
    for b in all_blocks():
        k = (b.doc, b.key)
        seen.add(k)
        if k in RUN and k in SKIP:
            problems.append(f"{b.doc}:{b.line}: block {b.key!r} is both in RUN and in SKIP")
        elif k not in RUN and k not in SKIP:
            what = "untagged block (tag it, or SKIP it as not code)" if b.lang == UNTAGGED else f"{b.lang} block"
            problems.append(f"{b.doc}:{b.line}: {what} is neither run nor skipped; add its key to RUN (AS_WRITTEN or "
                            f"with substitutions) or to SKIP (with the reason):\n    ({b.doc!r}, {b.key!r})")
        elif k in RUN:
            if b.lang == UNTAGGED:
                problems.append(f"{b.doc}:{b.line}: untagged block {b.key!r} is in RUN; tag its language in the doc")
            try:
                code = runnable_code(b, RUN[k])
            except AssertionError as exc:
                problems.append(str(exc))
                continue
            if b.lang in SHELL and re.search(r"\bscripts/\S+\.sh\b", code):
                problems.append(f"{b.doc}:{b.line}: block {b.key!r} runs a scripts/*.sh script: those cd to the "
                                f"repository (and may install into .venv); SKIP the block or substitute the line")
    for k in sorted((set(RUN) | set(SKIP)) - seen):
        problems.append(f"table entry {k!r} matches no block (the doc changed?); update or remove it")
    return problems


def test_every_doc_block_is_accounted_for():
    problems = _table_problems()
    assert not problems, "\n".join(problems)


def test_block_extraction_and_keys():
    text = textwrap.dedent("""\
        ```bash
        msrgan models
        ```
        text
          ```python
          import zoo

          zoo.create("a")
          ```
        ```python
        import zoo
        zoo.create("b")
        ```
        ```
        a | b
        ```
        ```json
        {"a": 1}
        ```
        ```console
        $ msrgan models \\
            --help
        usage: ...
        ```
        """)
    blocks = extract_blocks("x.md", text)
    assert [(b.lang, b.key) for b in blocks] == [
        ("bash", "msrgan models"), ("python", 'import zoo // zoo.create("a")'),
        ("python", 'import zoo // zoo.create("b")'), ("", "a | b"), ("json", '{"a": 1}'),
        ("console", "$ msrgan models \\"),
    ]
    assert blocks[1].code == 'import zoo\n\nzoo.create("a")\n'
    assert [is_checked(b) for b in blocks] == [True, True, True, True, False, True]
    assert console_commands(blocks[5].code) == "msrgan models \\\n    --help\n"
    with pytest.raises(AssertionError, match="no longer matches"):
        runnable_code(blocks[0], Run(subs=(("--count 5", "--count 1"),)))
    assert runnable_code(blocks[0], Run(subs=(("models", "models --help"),), before="set -x\n")) == \
        "set -x\nmsrgan models --help\n"


# ---------------------------------------------------------------------------- inputs of the examples

def _write_fields(folder: Path, count: int, *, size: int = 32, channels: int = 3, bit_depth: int = 8,
                  suffix: str = ".png", names: list[str] | None = None, seed: int = 7) -> None:
    """``count`` synthetic fields in the CYTO2017 layout (``NN_<index>``), or under ``names``."""
    from msrgan.data.io import write_image
    from msrgan.data.synthetic import synthesize_dataset

    images, labels = synthesize_dataset(count, seed=seed, size=size, channels=channels, bit_depth=bit_depth)
    folder.mkdir(parents=True, exist_ok=True)
    for i, (image, label) in enumerate(zip(images, labels)):
        name = names[i] if names else f"{label:02d}_{i:06d}{suffix}"
        write_image(folder / name, image)


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory) -> dict[str, Path]:
    """Tiny generators (RGB and 4-channel) in the pretrained format: stand-ins for trained ones."""
    import keras

    import zoo

    root = tmp_path_factory.mktemp("docs-models")
    out = {}
    for name, channels in (("rgb", 3), ("cyto4", 4)):
        keras.utils.set_random_seed(0)
        g = zoo.create("msrgan-x4-small", num_blocks=1, filters=8, channels=channels)
        out[name] = g.save_pretrained(root / name)
    return out


@pytest.fixture(scope="session")
def hub_inputs(local_hub, tiny_models) -> None:
    """The Hub repositories the docs read before any example pushes them."""
    import datasets

    import zoo
    from msrgan.data.hf import push_dataset, to_hf_dataset
    from msrgan.data.synthetic import synthesize_dataset

    bars = datasets.is_progress_bar_enabled()
    datasets.disable_progress_bars()
    zoo.push_folder(tiny_models["rgb"], "lab/msrgan-x4")
    zoo.push_folder(tiny_models["cyto4"], "owner/msrgan-x4")
    for repo, count, size, channels in (("owner/hcs-dataset", 13, 32, 3), ("lab/hcs-fields", 26, 32, 3),
                                        ("owner/cyto2017-hr", 2, 64, 4)):
        images, labels = synthesize_dataset(count, seed=3, size=size, channels=channels, bit_depth=16)
        push_dataset(to_hf_dataset(images, labels, progress=False), repo, generation="tests/test_docs_examples.py")
    if bars:
        datasets.enable_progress_bars()


def prepare_readme(work: Path, models: dict[str, Path]) -> None:
    shutil.copytree(models["rgb"], work / "runs/demo/msrgan")
    _write_fields(work / "acquisitions", 2, channels=4, bit_depth=16, names=["field1.tif", "field2.tif"])
    _write_fields(work / "my_hcs_folder", 6)


def prepare_benchmarks(work: Path, models: dict[str, Path]) -> None:
    shutil.copytree(models["rgb"], work / "runs/demo/msrgan")


def prepare_data(work: Path, models: dict[str, Path]) -> None:
    import tifffile

    from msrgan.data.synthetic import synthesize_dataset

    _write_fields(work / "path/to/folder", 13)
    images, labels = synthesize_dataset(2, seed=5, size=32, channels=4, bit_depth=16)
    (work / "cyto").mkdir()
    for i, (image, label) in enumerate(zip(images, labels)):  # CYTO2017: one TIFF per channel
        for c, channel in enumerate(("dapi", "tub", "er", "prot")):
            tifffile.imwrite(work / "cyto" / f"{label:02d}_{i:04d}_{channel}.tif", image[..., c])
    for i, (image, cls) in enumerate(zip(images, ("nucleoli", "Golgi apparatus"))):
        (work / "plates" / cls).mkdir(parents=True)
        for c in range(3):
            tifffile.imwrite(work / "plates" / cls / f"{i:04d}_c{c}.tif", image[..., c])


def prepare_inference(work: Path, models: dict[str, Path]) -> None:
    shutil.copytree(models["rgb"], work / "runs/demo/msrgan")
    _write_fields(work / "acquisitions", 2, channels=4, bit_depth=16, names=["field1.tif", "field2_w1.tif"])
    _write_fields(work, 1, channels=4, bit_depth=16, names=["plate1_A01_field3.tif"])
    _write_stacks(work)


def _write_stacks(work: Path) -> None:
    """An ImageJ z-stack, an OME-TIFF and real LR/HR pairs (block means as the LR acquisitions)."""
    import numpy as np
    import tifffile

    from msrgan.data.io import write_image
    from msrgan.data.synthetic import synthesize_dataset

    planes = np.stack([im[..., 0] for im in synthesize_dataset(3, seed=3, size=32, channels=1, bit_depth=16)[0]])
    tifffile.imwrite(work / "zstack.tif", planes, imagej=True, resolution=(1 / 0.65, 1 / 0.65),
                     metadata={"axes": "ZYX", "unit": "um", "spacing": 2.0})
    tifffile.imwrite(work / "cells.ome.tif", planes[:2, None].repeat(2, axis=1), ome=True,
                     metadata={"axes": "ZCYX", "PhysicalSizeX": 0.65, "PhysicalSizeY": 0.65,
                               "Channel": {"Name": ["DAPI", "GFP"]}})
    for i, hr in enumerate(synthesize_dataset(2, seed=4, size=64, channels=1, bit_depth=16)[0]):
        write_image(work / "pairs" / "hr" / f"field{i}.tif", hr)
        lr = hr.reshape(16, 4, 16, 4).mean(axis=(1, 3)).astype(np.uint16)
        write_image(work / "pairs" / "lr" / f"field{i}.tif", lr)


def prepare_training(work: Path, models: dict[str, Path]) -> None:
    _write_fields(work / "cyto2017", 26)


PREPARE: dict[str, Callable[[Path, dict], None]] = {
    "README.md": prepare_readme,
    "docs/benchmarks.md": prepare_benchmarks,
    "docs/data.md": prepare_data,
    "docs/inference.md": prepare_inference,
    "docs/training.md": prepare_training,
}

# Runs the steps of one document in order (see the module docstring); prints one line per block.
DRIVER = r'''
import json, subprocess, sys, time, traceback
steps = json.load(open(sys.argv[1]))
ns = {"__name__": "__main__"}
times = []
for s in steps:
    where = f"{s['doc']}:{s['line']} [{s['key'][:70]}]"
    print(f"==> {where}", flush=True)
    t = time.time()
    if s["lang"] == "python":
        try:
            exec(compile(s["code"], f"<{s['doc']}:{s['line']}>", "exec"), ns)
            ok = True
        except BaseException:
            traceback.print_exc()
            ok = False
    else:
        ok = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", s["code"]]).returncode == 0
    times.append([where, round(time.time() - t, 1)])
    sys.stdout.flush(); sys.stderr.flush()
    if not ok:
        print(f"FAILED BLOCK: {where}", flush=True)
        sys.exit(1)
json.dump(times, open(sys.argv[2], "w"))
'''


@pytest.fixture(scope="session")
def jax_cache() -> dict[str, str]:
    """A JAX compilation cache shared by every process the examples start, and kept between sessions.

    The same kernels recur in every short process (variable initializers, the tiny train steps):
    with the cache a rerun spends about half the time. It lives in the system's temporary folder
    (``$TMPDIR/msrgan-tests-jax-cache``); JAX keys entries by program, version and device, so a
    stale entry is never used. ``JAX_COMPILATION_CACHE_DIR`` set by the caller wins.
    """
    folder = os.environ.get("JAX_COMPILATION_CACHE_DIR") or os.path.join(tempfile.gettempdir(),
                                                                          "msrgan-tests-jax-cache")
    return {"JAX_COMPILATION_CACHE_DIR": folder, "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
            "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0"}


def _runnable_docs() -> list[str]:
    return [doc for doc in DOCS if any((b.doc, b.key) in RUN for b in extract_blocks(doc) if is_checked(b))]


@pytest.mark.parametrize("doc", _runnable_docs())
def test_doc_examples_run(doc, tmp_path, backend, tiny_models, hub_inputs, jax_cache):
    # Deliberate skip off JAX: the examples are commands and library calls whose backend behaviour the
    # rest of the suite covers on every backend; running them once (4-7 min) keeps CI within its budget.
    if backend != "jax":
        pytest.skip("the documentation examples run once, in the KERAS_BACKEND=jax session")
    problems = [p for p in _table_problems() if p.startswith(doc + ":") or repr(doc) in p]
    assert not problems, "\n".join(problems)
    work = tmp_path / "work"
    work.mkdir()
    (work / "scripts").symlink_to(ROOT / "scripts", target_is_directory=True)  # read, never written
    shutil.copytree(ROOT / "docs", work / "docs")  # examples read docs/example_cells.tif; a copy, in case one writes
    if doc in PREPARE:
        PREPARE[doc](work, tiny_models)
    steps = [{"doc": b.doc, "line": b.line, "key": b.key, "lang": "python" if b.lang in PYTHON else "shell",
              "code": runnable_code(b, RUN[(b.doc, b.key)])}
             for b in extract_blocks(doc) if is_checked(b) and (b.doc, b.key) in RUN]
    (tmp_path / "steps.json").write_text(json.dumps(steps))
    env = {**os.environ, **jax_cache, "KERAS_BACKEND": backend, "DOCS_JIT": DOCS_JIT.get(backend, "auto"),
           "PYTHONPATH": str(ROOT), "MPLBACKEND": "Agg",
           "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")]),
           "HF_HUB_DISABLE_PROGRESS_BARS": "1", "TQDM_DISABLE": "1", "PYTHONUNBUFFERED": "1"}
    t = time.time()
    proc = subprocess.run([sys.executable, "-c", DRIVER, str(tmp_path / "steps.json"), str(tmp_path / "times.json")],
                          cwd=work, env=env, capture_output=True, text=True, timeout=1800)
    output = proc.stdout + proc.stderr
    if proc.returncode != 0:
        failed = re.findall(r"FAILED BLOCK: (.*)", proc.stdout)
        pytest.fail(f"{failed[0] if failed else doc}: example failed (exit {proc.returncode}):\n{output[-6000:]}")
    times = json.loads((tmp_path / "times.json").read_text())
    print(f"{doc}: {time.time() - t:.0f} s on {backend}; " + "; ".join(f"{w}: {s} s" for w, s in times))
