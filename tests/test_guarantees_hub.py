"""Guarantees about secrets, the Hub and files synth did not write (issue 15), tried as a hostile user would.

Each test is one promise; every command that takes these inputs must keep it (add new commands to
the parametrizations):

- a usage error or an error message never echoes a token (``hf_...``, or whatever follows a ``--tok*``
  flag): it is shown as ``***``;
- a Hub that rejects the token (exit status 3, an input error), cannot be reached or fails an LFS
  upload (1, a runtime error) ends the command with one line ``msrgan CMD: error: ...`` naming the
  problem (no traceback, no token);
- a dead Hub with a warm cache serves the cached copy and says so once, naming the repository, the
  revision and the commit;
- ``msrgan data synth --overwrite`` replaces only the files its own manifest lists, unchanged, and
  stops before writing anything when it would replace any other file.

The Hub is the local server of ``tests/hubserver.py`` (``local_hub``); its ``rejected_tokens`` and
``fail_lfs_uploads`` switches make it fail on demand. An unreachable Hub is ``HF_ENDPOINT`` pointing at
a closed port. Commands that reach the Hub run as subprocesses, as a user runs them (the clients read
``HF_ENDPOINT`` when imported; the local server answers them from this process); for the Python API
the test sets the endpoint the imported client uses.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import secrets
import subprocess
import sys
import warnings

import numpy as np
import pytest

import msrgan  # noqa: F401  (registers the msrgan models)
import zoo
from msrgan.cli import main
from msrgan.data.io import write_image
from msrgan.errors import EXIT_INPUT, EXIT_RUNTIME, EXIT_USAGE
from tests.helpers import ROOT
from tests.hubserver import free_port

# The promises are about the command line and the Hub client, the same whatever the Keras backend.
pytestmark = pytest.mark.one_backend

TOKEN = "hf_" + secrets.token_hex(12)  # looks like a real token: "hf_" and letters/digits
MANIFEST = ".msrgan-synth.json"


def _cli(argv: list[str]) -> int:
    """``msrgan ARGV`` in-process; argparse's SystemExit is returned as the exit status."""
    try:
        return main([str(a) for a in argv])
    except SystemExit as exc:
        return exc.code


def _cli_subprocess(argv: list[str], **env) -> subprocess.CompletedProcess:
    """``msrgan ARGV`` in a fresh interpreter with extra environment variables (e.g. ``HF_ENDPOINT``)."""
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3", **env}
    return subprocess.run([sys.executable, "-m", "msrgan.cli", *map(str, argv)], capture_output=True, text=True,
                          env=full_env, cwd=str(ROOT), timeout=600)


# TensorFlow's C++ logger writes before absl is initialised, whatever TF_CPP_MIN_LOG_LEVEL says, on
# some CPUs: "I0000 00:00:17961... port.cc:153] oneDNN custom operations are on. ... round-off errors".
# Those lines are the backend's start-up notes, not the command's error.
_BACKEND_LOG = re.compile(r"^([IWEF]\d{4} [\d:.]+ +\d+ [\w.]+:\d+\] |WARNING: All log messages before absl::InitializeLog)")


def _command_lines(err: str) -> list[str]:
    """The lines of stderr the command wrote (TensorFlow's start-up log lines left out)."""
    return [line for line in err.replace("\r", "\n").splitlines() if not _BACKEND_LOG.match(line)]


def _error_line(err: str, *secrets_: str) -> str:
    """The single error line of a failed command's stderr (beside progress bars and argparse's usage line).

    Checks there is no traceback, exactly one line that says error, and that none of ``secrets_``
    appears anywhere.
    """
    assert "Traceback" not in err, err
    lines = [line for line in _command_lines(err) if "error" in line.lower()]
    assert len(lines) == 1, err
    for secret in secrets_:
        assert secret not in err and secret[3:] not in err, err
    return lines[0]


def _dead_endpoint() -> str:
    return f"http://127.0.0.1:{free_port()}"  # nothing listens there


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory):
    """A tiny pretrained generator folder (x2, 1 channel)."""
    g = zoo.create("msrgan-x4-small", num_blocks=1, filters=8, channels=1, scale=2)
    g(np.zeros((1, 8, 8, 1), "float32"))
    return g.save_pretrained(tmp_path_factory.mktemp("model") / "g")


@pytest.fixture(scope="module")
def synth_folder(tmp_path_factory):
    """A small ``data synth`` folder (3 RGB fields)."""
    out = tmp_path_factory.mktemp("data") / "hcs"
    assert _cli(["data", "synth", "--count", 3, "--size", 32, "--out", out]) == 0
    return out


def _repo(request, what: str = "") -> str:
    return f"user/guarantee-{request.node.name.replace('[', '-').replace(']', '').replace(' ', '-')}{what}"


# ------------------------------------------------------------------------------------------- secrets


@pytest.mark.parametrize("argv, says", [
    (["data", "push", "{dir}", "--repo", "a/b", "--token", TOKEN], "unrecognized arguments: --token ***"),
    (["pull", "a/b", "-o", "{dir}", "--token", TOKEN], "unrecognized arguments: --token ***"),
    (["push", "{dir}", "--repo", "a/b", "--tokn", TOKEN], "unrecognized arguments: --tokn ***"),
    (["push", "{dir}", "--repo", "a/b", f"--tokn={TOKEN}"], "unrecognized arguments: --tokn=***"),
    (["push", "{dir}", "--repo", "a/b", "--tokn", "s3cret-value-42"], "unrecognized arguments: --tokn ***"),
    (["pull", "a/b", "-o", "{dir}", TOKEN], "unrecognized arguments: hf_***"),
    (["data", "synth", "--count", TOKEN, "--out", "{dir}"], "argument --count: invalid int value: 'hf_***'"),
], ids=["data-push--token", "pull--token", "push--tokn", "push--tokn=", "push--tokn-non-hf", "pull-bare-token",
        "data-synth-subparser"])
def test_usage_errors_never_echo_a_token(argv, says, tmp_path, capfd):
    argv = [str(tmp_path) if a == "{dir}" else a for a in argv]
    assert _cli(argv) == EXIT_USAGE
    out, err = capfd.readouterr()
    line = _error_line(err, TOKEN, "s3cret-value-42")
    assert line.endswith(says) and line.startswith("msrgan")
    assert TOKEN not in out


@pytest.mark.parametrize("argv", [
    ["push", "{dir}/" + TOKEN, "--repo", "user/x"],
    ["data", "show", "{dir}/" + TOKEN, "-o", "{dir}/sheet.png"],
    ["pull", TOKEN + "/model", "-o", "{dir}/pulled"],
], ids=["push-folder", "data-show-source", "pull-repo-id"])
def test_error_messages_never_echo_a_token(argv, local_hub, tmp_path, capfd):
    argv = [a.replace("{dir}", str(tmp_path)) for a in argv]
    assert _cli(argv) == EXIT_INPUT  # a missing folder, source or repository
    out, err = capfd.readouterr()
    line = _error_line(err, TOKEN)
    assert line.startswith(f"msrgan {argv[0]}: error: ") and "hf_***" in line
    assert TOKEN not in out


# ------------------------------------------------------------------------------ the Hub's failures


def _hub_command(command: str, repo: str, model_folder, synth_folder, tmp_path) -> list:
    return {"data push": ["data", "push", synth_folder, "--repo", repo],
            "push": ["push", model_folder, "--repo", repo],
            "pull": ["pull", repo, "-o", tmp_path / "pulled"]}[command]


@pytest.mark.parametrize("command", ["data push", "push", "pull"])
def test_a_rejected_token_is_one_line(command, local_hub, model_folder, synth_folder, request, tmp_path):
    rejected = "hf_" + secrets.token_hex(12)
    repo = _repo(request)
    argv = _hub_command(command, repo, model_folder, synth_folder, tmp_path)
    local_hub.rejected_tokens.add(rejected)
    try:
        proc = _cli_subprocess(argv, HF_TOKEN=rejected)
    finally:
        local_hub.rejected_tokens.discard(rejected)
    assert proc.returncode == EXIT_INPUT, proc.stderr  # the token given is wrong: retrying will not help
    line = _error_line(proc.stderr, rejected)
    assert line.startswith(f"msrgan {argv[0]}: error: ") and repo in line
    assert "the token was rejected (401 Unauthorized" in line and local_hub.url in line
    assert not (tmp_path / "pulled").exists()
    with pytest.raises(KeyError):  # nothing was created on the Hub
        local_hub.commits(repo, "dataset" if command == "data push" else "model")


@pytest.mark.parametrize("command", ["data push", "push", "pull"])
def test_an_unreachable_hub_is_one_line_naming_the_endpoint(command, model_folder, synth_folder, request, tmp_path):
    dead = _dead_endpoint()
    argv = _hub_command(command, _repo(request), model_folder, synth_folder, tmp_path)
    proc = _cli_subprocess(argv, HF_ENDPOINT=dead, HF_TOKEN=TOKEN)
    assert proc.returncode == EXIT_RUNTIME, proc.stderr
    line = _error_line(proc.stderr, TOKEN)
    assert line.startswith(f"msrgan {argv[0]}: error: ") and dead in line
    assert "cannot connect" in line or "cannot be reached" in line
    assert not (tmp_path / "pulled").exists()


@pytest.mark.parametrize("command", ["push", "data push"])
def test_a_failed_lfs_upload_is_one_line(command, local_hub, model_folder, synth_folder, request, tmp_path):
    repo = _repo(request)
    argv = _hub_command(command, repo, model_folder, synth_folder, tmp_path)
    kind, big_file = {"push": ("model", "model.safetensors"),
                      "data push": ("dataset", "data/train-00000-of-00001.parquet")}[command]
    local_hub.fail_lfs_uploads = True
    try:
        proc = _cli_subprocess(argv)
    finally:
        local_hub.fail_lfs_uploads = False
    assert proc.returncode == EXIT_RUNTIME, proc.stderr  # the Hub refused the upload (403)
    line = _error_line(proc.stderr)
    assert line.startswith(f"msrgan {argv[0]}: error: Pushing ") and repo in line and local_hub.url in line
    assert f"Error while uploading '{big_file}'" in line and "403 Forbidden" in line
    assert len(local_hub.commits(repo, kind)) == 1  # the repository holds its initial commit only


# ------------------------------------------------------------------------- a dead Hub, a warm cache


def _published(local_hub, model_folder, repo) -> str:
    """Pushes ``model_folder`` to ``repo`` and loads it once (so it is cached); returns the commit sha."""
    zoo.push_folder(model_folder, repo)
    zoo.from_pretrained(repo)
    return local_hub.commits(repo)[-1]


def test_a_dead_hub_with_a_warm_cache_warns_once_from_python(local_hub, model_folder, request, monkeypatch):
    from huggingface_hub import constants

    repo = _repo(request)
    sha = _published(local_hub, model_folder, repo)
    dead = _dead_endpoint()
    monkeypatch.setattr(constants, "ENDPOINT", dead)  # what HF_ENDPOINT=dead gives at import
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("default")
        model = zoo.from_pretrained(repo)
        zoo.from_pretrained(repo)
    said = [str(w.message) for w in caught if "cannot be reached" in str(w.message)]
    assert len(said) == 1, [str(w.message) for w in caught]
    assert dead in said[0] and repo in said[0] and "'main'" in said[0] and sha in said[0]
    assert model.pretrained_source["commit"] == sha


def test_a_dead_hub_with_a_warm_cache_warns_from_the_cli(local_hub, model_folder, request, tmp_path):
    repo = _repo(request)
    sha = _published(local_hub, model_folder, repo)
    dead = _dead_endpoint()
    proc = _cli_subprocess(["pull", repo, "-o", tmp_path / "pulled"], HF_ENDPOINT=dead)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [line for line in _command_lines(proc.stderr) if "Hub" in line or "warning" in line.lower()]
    assert len(lines) == 1 and lines[0].startswith("warning: the Hub at " + dead), proc.stderr
    assert repo in lines[0] and "'main'" in lines[0] and sha in lines[0]
    assert proc.stdout.strip() == f"{repo}@{sha} -> {tmp_path / 'pulled'}"
    assert (tmp_path / "pulled" / "model.safetensors").read_bytes() == (model_folder / "model.safetensors").read_bytes()


# ----------------------------------------------------------------- files that synth did not write


def _synth(out, *extra, count=13, seed=0):
    return _cli(["data", "synth", "--count", count, "--size", 32, "--seed", seed, "--out", out, *extra])


def _user_image(path, value: int = 7):
    write_image(path, np.full((32, 32, 3), value, np.uint8), overwrite=True)


def _users_own_files(out):
    out.mkdir()
    _user_image(out / "05_000005.png")
    (out / "metadata.csv").write_text("file_name,label,notes\n05_000005.png,5,my own annotation\n")


def _field_replaced_by_the_user(out):
    assert _synth(out) == 0
    _user_image(out / "05_000005.png")


def _metadata_edited_by_the_user(out):
    assert _synth(out) == 0
    with open(out / "metadata.csv", "a", newline="") as f:
        csv.writer(f).writerow(["extra.png", 1, "my note", "", "", "", "", "", ""])


def _manifest_written_by_the_user(out):
    out.mkdir()
    _user_image(out / "05_000005.png")
    (out / MANIFEST).write_text("my notes, not a manifest")


def _unbalanced_label_collision(out):
    out.mkdir()
    _user_image(out / "07_000003.png")  # --unbalanced may draw any class for field 3


@pytest.mark.parametrize("prepare, names, extra", [
    (_users_own_files, "05_000005.png (and 1 more)", ()),
    (_field_replaced_by_the_user, "05_000005.png", ()),
    (_metadata_edited_by_the_user, "metadata.csv", ()),
    (_manifest_written_by_the_user, ".msrgan-synth.json (and 1 more)", ()),
    (_unbalanced_label_collision, "07_000003.png", ("--unbalanced",)),
], ids=["users-files", "field-replaced", "metadata-edited", "manifest-not-synths", "unbalanced"])
def test_synth_overwrite_stops_before_replacing_a_file_it_did_not_write(prepare, names, extra, tmp_path, capfd):
    out = tmp_path / "hcs"
    prepare(out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    capfd.readouterr()
    assert _synth(out, "--overwrite", *extra, seed=1) == EXIT_INPUT
    line = _error_line(capfd.readouterr().err)
    assert line.startswith(f"msrgan data: error: --out {out} holds {names}, which msrgan data synth did not write")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # nothing written, nothing removed


def test_synth_overwrite_replaces_only_its_own_files(tmp_path):
    out = tmp_path / "hcs"
    assert _synth(out, count=26) == 0
    manifest = json.loads((out / MANIFEST).read_text())
    assert sorted(manifest["files"]) == sorted([f"{i % 13:02d}_{i:06d}.png" for i in range(26)] + ["metadata.csv"])
    _user_image(out / "mine.png")
    (out / "notes.txt").write_text("mine")
    outside = tmp_path / "outside.txt"  # a manifest entry pointing outside the folder is never followed
    outside.write_text("keep me")
    manifest["files"]["../outside.txt"] = hashlib.sha256(b"keep me").hexdigest()
    (out / MANIFEST).write_text(json.dumps(manifest))

    assert _synth(out, "--overwrite", count=13, seed=1) == 0
    fields = sorted(p.name for p in out.glob("[0-9][0-9]_*.png"))
    assert fields == [f"{i:02d}_{i:06d}.png" for i in range(13)]  # the earlier 26 fields replaced, 13 removed
    assert (out / "notes.txt").read_text() == "mine" and (out / "mine.png").is_file()
    assert outside.read_text() == "keep me"
    manifest = json.loads((out / MANIFEST).read_text())
    assert sorted(manifest["files"]) == fields + ["metadata.csv"]
    # and again: the new manifest lets the next --overwrite run replace this run's files
    assert _synth(out, "--overwrite", count=13, seed=2) == 0
