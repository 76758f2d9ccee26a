"""Hugging Face and Keras conventions (issue 14): the ModelHubMixin arguments, the Hub's own exceptions,
provenance kept through load/save/push/pull, cards made of ModelCardData/EvalResult, datasets readable
with ``datasets`` alone, Keras-native saving, and the CLI's -q/-v and ``python -m msrgan``.

Everything runs against the local Hub server (tests/hubserver.py) with the real clients.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
from huggingface_hub import HfApi, ModelCard
from huggingface_hub.errors import (
    EntryNotFoundError,
    HfHubHTTPError,
    LocalEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

import msrgan  # noqa: F401  (registers the msrgan models)
import zoo
from msrgan.cli import main as cli
from msrgan.errors import EXIT_INPUT
from msrgan.models import Generator

TINY = dict(num_blocks=1, filters=8, channels=1, scale=2)
METADATA = {
    "training": {"data": {"spec": "synthetic", "kind": "synthetic"}, "seed": 3, "steps": 7},
    "evaluation": {"data": "synthetic", "split": "validation (held out by image)", "images": 4},
    "metrics": {"psnr": 31.5, "ssim": 0.91, "bicubic_psnr": 29.25, "bicubic_ssim": 0.875},
}


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _generator(seed: int = 1):
    keras.utils.set_random_seed(seed)
    g = zoo.create("msrgan-x4-small", **TINY)
    rng = np.random.default_rng(seed)
    for v in g.weights:
        v.assign(rng.normal(0, 0.1, v.shape).astype("float32"))
    return g


def _repo(request, suffix: str = "") -> str:
    return f"user/{request.node.name.replace('[', '-').replace(']', '')}{suffix}"


def _sections(card_text: str) -> dict[str, str]:
    """'## Title' -> text of the section, from a card body."""
    out, title = {}, None
    for line in card_text.splitlines():
        if line.startswith("## "):
            title = line[3:]
            out[title] = ""
        elif title is not None:
            out[title] += line + "\n"
    return out


@pytest.fixture
def x():
    return np.random.default_rng(5).random((1, 8, 8, 1), dtype=np.float32)


# ------------------------------------------------------------------------------- ModelHubMixin arguments

def test_from_pretrained_takes_cache_dir_force_download_and_local_files_only(local_hub, request, tmp_path, x):
    repo = _repo(request)
    g = _generator(2)
    g.push_to_hub(repo)
    cache = tmp_path / "cache"
    with pytest.raises(LocalEntryNotFoundError, match=f"local_files_only=True and {repo} is not in the Hub cache"):
        zoo.from_pretrained(repo, cache_dir=cache, local_files_only=True)
    loaded = zoo.from_pretrained(repo, cache_dir=cache)
    assert any(cache.rglob("model.safetensors"))  # downloaded into the cache asked for
    served = len(local_hub.requests)
    offline = Generator.from_pretrained(repo, cache_dir=cache, local_files_only=True)
    assert len(local_hub.requests) == served  # not one request
    np.testing.assert_array_equal(_np(offline(x)), _np(g(x)))
    before = sum(1 for m, p, _ in local_hub.requests if m == "GET" and p.endswith("/model.safetensors"))
    again = zoo.from_pretrained(repo, cache_dir=cache, force_download=True)
    after = sum(1 for m, p, _ in local_hub.requests if m == "GET" and p.endswith("/model.safetensors"))
    assert after == before + 1
    np.testing.assert_array_equal(_np(again(x)), _np(loaded(x)))
    renamed = zoo.from_pretrained(repo, cache_dir=cache, local_files_only=True, name="renamed")  # a model kwarg
    assert renamed.name == "renamed"
    with pytest.raises(TypeError, match="unexpected keyword argument.*no_such_setting"):
        zoo.from_pretrained(repo, cache_dir=cache, local_files_only=True, no_such_setting=1)


def test_missing_repo_and_revision_raise_the_hubs_own_exceptions(local_hub, request, tmp_path):
    repo = _repo(request)
    _generator(3).push_to_hub(repo)
    with pytest.raises(RepositoryNotFoundError, match="user/no-such-model") as err:
        zoo.from_pretrained("user/no-such-model", cache_dir=tmp_path)
    assert isinstance(err.value, FileNotFoundError)  # what the zoo raised before still catches it
    with pytest.raises(RevisionNotFoundError, match="has no revision 'v9'") as err:
        zoo.from_pretrained(repo, revision="v9", cache_dir=tmp_path)
    assert isinstance(err.value, FileNotFoundError) and err.value.response.status_code == 404
    with pytest.raises(RevisionNotFoundError, match="no-such-branch") as err:
        _generator(3).push_to_hub(repo, branch="no-such-branch")
    assert isinstance(err.value, HfHubHTTPError) and isinstance(err.value, ValueError)


def test_push_to_a_branch_and_as_a_pull_request(local_hub, request, x):
    repo = _repo(request)
    g1, g2, g3 = _generator(4), _generator(5), _generator(6)
    first = g1.push_to_hub(repo)
    assert first.oid == local_hub.commits(repo)[-1] and str(first).endswith(first.oid)
    api = HfApi()
    api.create_branch(repo, branch="dev")
    on_dev = g2.push_to_hub(repo, branch="dev", commit_message="dev weights")
    pr = g3.push_to_hub(repo, create_pr=True)
    assert pr.pr_url and pr.pr_num == 1
    assert local_hub.commits(repo)[-1] == first.oid  # main did not move
    for revision, model in (("main", g1), ("dev", g2), (on_dev.oid, g2), ("refs/pr/1", g3)):
        loaded = zoo.from_pretrained(repo, revision=revision)
        np.testing.assert_array_equal(_np(loaded(x)), _np(model(x)), err_msg=revision)
    assert api.list_repo_commits(repo, revision="dev")[0].title == "dev weights"


def test_private_defaults_to_none_and_patterns_reach_the_commit(local_hub, request, monkeypatch):
    import inspect

    for fn in (zoo.push_to_hub, zoo.push_folder, Generator.push_to_hub):
        assert inspect.signature(fn).parameters["private"].default is None
    seen = {}
    real = HfApi.create_repo

    def spy(self, repo_id, **kwargs):
        seen["private"] = kwargs.get("private", "absent")
        return real(self, repo_id, **kwargs)

    monkeypatch.setattr(HfApi, "create_repo", spy)
    repo = _repo(request)
    g = _generator(7)
    g.push_to_hub(repo)
    assert seen["private"] is None  # the Hub's default decides
    api = HfApi()
    api.upload_file(path_or_fileobj=b"old notes", path_in_repo="notes.txt", repo_id=repo)
    g.push_to_hub(repo, ignore_patterns="README.md", delete_patterns=["*.txt"], commit_message="weights only")
    files = set(api.list_repo_files(repo))
    assert "notes.txt" not in files and {"config.json", "model.safetensors", "README.md"} <= files
    commit = api.list_repo_commits(repo)[0]
    assert commit.title == "weights only"
    with pytest.raises(EntryNotFoundError):  # the README of the first push stays as it was
        api.hf_hub_download(repo, "notes.txt")


def test_save_pretrained_push_to_hub(local_hub, request, tmp_path, x):
    repo = _repo(request)
    g = _generator(8)
    info = g.save_pretrained(tmp_path / "g", push_to_hub=True, repo_id=repo, commit_message="saved and pushed")
    assert (tmp_path / "g" / "config.json").is_file() and info.oid == local_hub.commits(repo)[-1]
    np.testing.assert_array_equal(_np(zoo.from_pretrained(repo)(x)), _np(g(x)))
    with pytest.raises(TypeError, match="without push_to_hub=True"):
        g.save_pretrained(tmp_path / "h", branch="dev")


@pytest.mark.one_backend
def test_interrupted_force_download_leaves_the_cache_usable(local_hub, request, tmp_path):
    from zoo import hub

    repo = _repo(request)
    weights = os.urandom(4096)
    api = HfApi()
    api.create_repo(repo)
    api.upload_file(path_or_fileobj=weights, path_in_repo="model.safetensors", repo_id=repo)
    cache = tmp_path / "cache"
    first = hub.snapshot(repo, cache_dir=cache)
    local_hub.break_downloads.add("model.safetensors")
    try:
        with pytest.raises(hub.HubUnreachableError, match=f"Downloading {repo} .*cached copy, if any, is unchanged"):
            hub.snapshot(repo, cache_dir=cache, force_download=True)
    finally:
        local_hub.break_downloads.clear()
    again = hub.snapshot(repo, cache_dir=cache, local_files_only=True)
    assert again.commit == first.commit
    assert (again.folder / "model.safetensors").read_bytes() == weights


# ----------------------------------------------------------------------------------------- provenance

def test_provenance_survives_load_save_push_and_pull(local_hub, request, tmp_path):
    repo = _repo(request)
    folder = _generator(9).save_pretrained(tmp_path / "run", metadata=METADATA)
    original = json.loads((folder / "config.json").read_text())["metadata"]
    assert len(original) == 8 and set(METADATA) <= set(original)
    original_card = (folder / "README.md").read_text()

    zoo.from_pretrained(folder).push_to_hub(repo)  # load, then push
    pulled = tmp_path / "pulled"
    assert cli(["pull", repo, "-o", str(pulled)]) == 0  # pull
    assert json.loads((pulled / "config.json").read_text())["metadata"] == original
    zoo.from_pretrained(pulled).save_pretrained(tmp_path / "again")  # load, then save
    assert json.loads((tmp_path / "again" / "config.json").read_text())["metadata"] == original
    for copy in (pulled, tmp_path / "again"):
        card = (copy / "README.md").read_text()
        assert ModelCard(card).data.to_dict() == ModelCard(original_card).data.to_dict()
        assert _sections(card) == _sections(original_card)
    override = zoo.from_pretrained(pulled)
    override.save_pretrained(tmp_path / "newer", metadata={"metrics": {"psnr": 32.0}})
    meta = json.loads((tmp_path / "newer" / "config.json").read_text())["metadata"]
    assert meta["metrics"] == {"psnr": 32.0} and meta["training"] == METADATA["training"]


def test_card_data_is_model_card_data_with_separate_baseline_results(local_hub, request):
    repo = _repo(request)
    _generator(10).push_to_hub(repo, metadata=METADATA)
    card = ModelCard.load(repo)
    data = card.data
    assert data.library_name == "keras" and "msrgan" in data.tags and data.pipeline_tag == "image-to-image"
    assert data.metrics == ["psnr", "ssim"]  # the model's own, not bicubic_psnr
    own = {r.metric_type: r.metric_value for r in data.eval_results if r.metric_config is None}
    baseline = {r.metric_type: r.metric_value for r in data.eval_results if r.metric_config == "bicubic"}
    assert own == {"psnr": 31.5, "ssim": 0.91} and baseline == {"psnr": 29.25, "ssim": 0.875}
    assert {r.dataset_name for r in data.eval_results} == {
        "synthetic HCS fields (msrgan.data.synthetic), seed 3"}
    assert {r.dataset_split for r in data.eval_results} == {"validation (held out by image)"}
    assert "zoo.from_pretrained" in card.text and "library_name: keras" in card.content
    hub_data = zoo.card.metrics_from_model_index(data.to_dict())
    assert hub_data == {"psnr": 31.5, "ssim": 0.91}


def test_card_names_a_hub_dataset(tmp_path):
    meta = {"training": {"dataset": "lab/hcs-fields"}, "metrics": {"psnr": 30.0}}
    folder = _generator(11).save_pretrained(tmp_path / "g", metadata=meta)
    data = ModelCard.load(folder / "README.md").data
    assert data.datasets == ["lab/hcs-fields"]
    assert [(r.dataset_type, r.dataset_name) for r in data.eval_results] == [("lab/hcs-fields", "lab/hcs-fields")]


# --------------------------------------------------------------------------------------- Keras-native

def test_a_zoo_model_round_trips_through_keras_native_saving(tmp_path, x):
    g = _generator(12)
    path = tmp_path / "g.keras"
    g.save(path)
    back = keras.saving.load_model(path)
    assert type(back) is type(g)
    np.testing.assert_allclose(_np(back(x)), _np(g(x)), atol=1e-6)


def test_keras_hf_uri_saving_against_the_local_hub(local_hub, request, x):
    pytest.importorskip("tensorflow")  # keras checks hf:// paths with TensorFlow's file API
    repo = _repo(request, "-keras")
    g = _generator(13)
    g.save(f"hf://{repo}")
    back = keras.saving.load_model(f"hf://{repo}")
    np.testing.assert_allclose(_np(back(x)), _np(g(x)), atol=1e-6)


# ---------------------------------------------------------------------------------------------- CLI

@pytest.mark.one_backend
def test_python_dash_m_msrgan_version():
    proc = subprocess.run([sys.executable, "-m", "msrgan", "--version"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and proc.stdout.strip() == f"msrgan {msrgan.__version__}"


class _Terminal(io.StringIO):
    def isatty(self):
        return True


@pytest.mark.one_backend
@pytest.mark.parametrize("where", ["before", "after"])
def test_quiet_gives_no_progress_output(tmp_path, monkeypatch, where):
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    args = ["data", "synth", "--count", "2", "--size", "32"]

    def run(extra, out):
        err = _Terminal()
        monkeypatch.setattr(sys, "stderr", err)
        argv = (extra + args if where == "before" else args + extra) + ["--out", str(tmp_path / out)]
        assert cli(argv) == 0
        monkeypatch.undo()
        return err.getvalue()

    assert "synthesizing" in run([], "loud")  # a terminal shows the bar
    assert run(["-q"], "quiet") == ""
    monkeypatch.setenv("TQDM_DISABLE", "1")
    err = _Terminal()
    monkeypatch.setattr(sys, "stderr", err)
    assert cli(args + ["--out", str(tmp_path / "env")]) == 0
    assert err.getvalue() == ""


@pytest.mark.one_backend
def test_progress_bars_are_off_when_stderr_is_not_a_terminal(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    assert cli(["data", "synth", "--count", "2", "--size", "32", "--out", str(tmp_path / "o")]) == 0
    assert "synthesizing" not in capsys.readouterr().err


@pytest.mark.one_backend
def test_vgg19_imagenet_without_weights_or_network_says_how_to_get_them(monkeypatch):
    from keras.src.utils import file_utils

    from msrgan.models.extractors import VGG19_NOTOP_URL, load_extractor

    def offline(fname, origin=None, **kwargs):  # what Keras raises when the download fails
        raise Exception(f"URL fetch failure on {origin}: None -- [Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(file_utils, "get_file", offline)
    with pytest.raises(FileNotFoundError, match="not in the Keras cache") as err:
        load_extractor("vgg19-imagenet", channels=3)
    assert VGG19_NOTOP_URL in str(err.value) and "--content vgg19-imagenet=PATH" in str(err.value)


def test_cli_push_to_a_branch_and_as_a_pull_request(local_hub, request, tmp_path, capsys):
    repo = _repo(request)
    folders = [_generator(seed).save_pretrained(tmp_path / str(seed)) for seed in (14, 15, 16)]
    assert cli(["push", str(folders[0]), "--repo", repo]) == 0
    HfApi().create_branch(repo, branch="dev")
    capsys.readouterr()
    assert cli(["push", str(folders[1]), "--repo", repo, "--branch", "dev", "-q"]) == 0
    assert capsys.readouterr().out.strip().endswith(HfApi().list_repo_commits(repo, revision="dev")[0].commit_id)
    assert cli(["push", str(folders[2]), "--repo", repo, "--create-pr"]) == 0
    assert capsys.readouterr().out.strip().endswith("/discussions/1")
    assert cli(["push", str(folders[2]), "--repo", repo, "--branch", "nope"]) == EXIT_INPUT
    assert "branch or revision does not exist" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------ datasets

READER = textwrap.dedent("""
    import sys, numpy as np, datasets
    ds = datasets.load_dataset(sys.argv[1], split="train", cache_dir=sys.argv[2])
    want = np.load(sys.argv[3])
    for i, row in enumerate(ds):
        got = np.stack([np.asarray(row[f"channel_{c}"]) for c in range(4)])  # (C, Y, X), as documented
        assert got.dtype == np.uint16, got.dtype
        assert np.array_equal(got, want[i]), i
    assert ds.features["label"].names[ds[2]["label"]] == sys.argv[4]
    assert not [m for m in sys.modules if m.split(".")[0] in ("msrgan", "zoo", "keras")]
    print("ok", len(ds))
""")


@pytest.mark.one_backend
def test_a_pushed_4_channel_16_bit_dataset_loads_with_datasets_alone(local_hub, tmp_path):
    from msrgan.data import load_source
    from msrgan.data.hf import push_dataset, to_hf_dataset
    from msrgan.data.synthetic import CLASS_NAMES, synthesize_dataset

    images, labels = synthesize_dataset(3, seed=21, size=32, channels=4, bit_depth=16)
    assert max(int(im.max()) for im in images) > 255  # really 16-bit values
    repo = "user/plain-datasets-4ch-16bit"
    push_dataset(to_hf_dataset(images, labels), repo)
    want = np.stack([np.moveaxis(im, -1, 0) for im in images])
    np.save(tmp_path / "want.npy", want)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([sys.executable, "-c", READER, repo, str(tmp_path / "cache"), str(tmp_path / "want.npy"),
                           CLASS_NAMES[int(labels[2])]], capture_output=True, text=True, env=env, timeout=300,
                          cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.split() == ["ok", "3"]
    src = load_source(repo)  # and msrgan reads it back as (Y, X, C)
    assert all(np.array_equal(a, b) for a, b in zip(src.images, images))
