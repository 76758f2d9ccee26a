"""Publishing through the real huggingface_hub client against the local Hub server (tests/hubserver.py).

conftest.py points HF_ENDPOINT at the server and HF_HOME/HF_HUB_CACHE at a temporary folder before
anything imports huggingface_hub; the ``local_hub`` fixture starts the server.
"""

from __future__ import annotations

import io
import json
import logging
import secrets

import keras
import numpy as np
import pytest
from huggingface_hub import HfApi

import msrgan  # noqa: F401  (registers the msrgan models)
import zoo
from msrgan.cli import main as cli
from msrgan.errors import EXIT_INPUT
from msrgan.models import Generator
from tests.helpers import run_in_backend

TINY = dict(num_blocks=1, filters=8, channels=1, scale=2)


def _np(x):
    return keras.ops.convert_to_numpy(x)


def _generator(seed: int):
    keras.utils.set_random_seed(seed)
    g = zoo.create("msrgan-x4-small", **TINY)
    g(np.zeros((1, 8, 8, 1), "float32"))
    rng = np.random.default_rng(seed)
    for v in g.weights:  # non-trivial BatchNorm statistics and PReLU slopes: outputs depend on every tensor
        if "moving" in v.path or "alpha" in v.path:
            v.assign(rng.uniform(0.5, 1.5, v.shape).astype("float32"))
    return g


def _repo(request, suffix: str = "") -> str:
    return f"user/{request.node.name.replace('[', '-').replace(']', '')}{suffix}"


@pytest.fixture
def x():
    return np.random.default_rng(5).random((1, 8, 8, 1), dtype=np.float32)


def test_push_returns_the_commit_url_and_loads_by_id_and_uri(local_hub, request, x):
    repo = _repo(request)
    g = _generator(1)
    url = g.push_to_hub(repo, metadata={"metrics": {"psnr": 29.5}})
    head = local_hub.commits(repo)[-1]
    assert url.startswith(local_hub.url) and url.rstrip("/").endswith(head)
    for source in (repo, f"hf://{repo}"):
        loaded = zoo.from_pretrained(source)
        np.testing.assert_array_equal(_np(loaded(x)), _np(g(x)))
        assert loaded.pretrained_source == {"repo_id": repo, "revision": None, "commit": head}
    assert Generator.from_pretrained(repo).get_config() == g.get_config()
    files = sorted(s.rfilename for s in HfApi().model_info(repo).siblings)
    assert files == [".gitattributes", "README.md", "config.json", "model.safetensors"]
    # The card went through the Hub's own card parser, metrics and all.
    from huggingface_hub import ModelCard

    card = ModelCard.load(repo)
    assert card.data.library_name == "keras" and {"microscopy", "msrgan"} <= set(card.data.tags)
    assert zoo.card.metrics_from_model_index(card.data.to_dict()) == {"psnr": 29.5}


def test_revision_pinning_loads_the_first_commit_by_its_sha(local_hub, request, x):
    repo = _repo(request)
    first, second = _generator(1), _generator(2)
    url1 = first.push_to_hub(repo, commit_message="first weights")
    url2 = second.push_to_hub(repo, commit_message="second weights")
    sha1, sha2 = url1.rstrip("/").rsplit("/", 1)[-1], url2.rstrip("/").rsplit("/", 1)[-1]
    assert len(sha1) == 40 and sha1 != sha2 and local_hub.commits(repo)[-2:] == [sha1, sha2]
    y1, y2 = _np(first(x)), _np(second(x))
    assert np.max(np.abs(y1 - y2)) > 1e-3  # the two pushes really differ
    np.testing.assert_array_equal(_np(zoo.from_pretrained(repo, revision=sha1)(x)), y1)
    np.testing.assert_array_equal(_np(zoo.from_pretrained(repo)(x)), y2)
    assert zoo.from_pretrained(repo, revision=sha1).pretrained_source["commit"] == sha1
    with pytest.raises(FileNotFoundError, match=f"{repo}' has no revision 'v9'"):
        zoo.from_pretrained(repo, revision="v9")


def test_missing_repo_missing_file_and_corrupted_weights_are_clear(local_hub, request, tmp_path):
    with pytest.raises(FileNotFoundError, match="'user/never-pushed' was not found"):
        zoo.from_pretrained("user/never-pushed")

    folder = _generator(1).save_pretrained(tmp_path / "g")
    api = HfApi()
    repo = _repo(request)
    api.create_repo(repo)
    api.upload_file(path_or_fileobj=str(folder / "config.json"), path_in_repo="config.json", repo_id=repo)
    with pytest.raises(FileNotFoundError, match=f"'{repo}' .*has no model.safetensors.*config.json"):
        zoo.from_pretrained(repo)

    data = (folder / "model.safetensors").read_bytes()
    api.upload_file(path_or_fileobj=data[: len(data) - 100], path_in_repo="model.safetensors", repo_id=repo)
    with pytest.raises(ValueError, match=r"model\.safetensors is corrupted or truncated"):
        zoo.from_pretrained(repo)


def test_token_is_never_printed_or_logged(local_hub, request, tmp_path, caplog, capfd, monkeypatch):
    from huggingface_hub.utils import logging as hf_logging

    from tests import hubserver

    seen = []
    dispatch = hubserver._Handler._dispatch

    def recording(self):
        seen.append(self.headers.get("Authorization"))
        return dispatch(self)

    for verb in ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"):
        monkeypatch.setattr(hubserver._Handler, f"do_{verb}", recording)
    token = "hf_" + secrets.token_hex(16)
    bearer = f"Bearer {token}"

    def sent_token() -> bool:  # the calls since the last check sent this token (not HF_TOKEN's)
        ok = bearer in seen
        seen.clear()
        return ok

    hf_logging.set_verbosity_debug()
    caplog.set_level(logging.DEBUG)
    try:
        repo = _repo(request)
        g = _generator(3)
        url = g.push_to_hub(repo, token=token)
        assert sent_token()
        folder = _generator(8).save_pretrained(tmp_path / "g")
        assert cli(["push", str(folder), "--repo", repo, "--token", token, "--message", "from the CLI"]) == 0
        assert sent_token()
        assert cli(["push", str(tmp_path / "missing"), "--repo", repo, "--token", token]) == EXIT_INPUT
        monkeypatch.setattr("sys.stdin", io.StringIO(token + "\n"))  # --token - reads it from stdin
        assert cli(["push", str(folder), "--repo", repo, "--token", "-", "--message", "token from stdin"]) == 0
        assert sent_token()
        with pytest.raises(ValueError) as err:
            zoo.push_to_hub(g, "user/bad/repo", token=token)
        zoo.from_pretrained(repo, token=token)
        assert sent_token()
    finally:
        hf_logging.set_verbosity_warning()
    out, errs = capfd.readouterr()
    assert url.endswith(local_hub.commits(repo)[1])
    cli_commit = local_hub.commits(repo)[2]  # the second push; the third changed nothing, so made no commit
    assert [line for line in out.splitlines() if line.startswith(local_hub.url)] == [
        f"{local_hub.url}/{repo}/commit/{cli_commit}"] * 2
    assert caplog.records  # debug logging was captured, so its absence below means something
    for text in (caplog.text, out, errs, str(err.value)):
        assert token not in text and token[3:] not in text


def test_cli_push_pull_round_trip(local_hub, request, tmp_path, capsys, x):
    repo = _repo(request)
    g = _generator(4)
    folder = g.save_pretrained(tmp_path / "src", metadata={"metrics": {"ssim": 0.75}})
    assert cli(["push", str(folder), "--repo", repo, "--message", "publish tiny x2"]) == 0
    url = capsys.readouterr().out.strip()
    sha = url.rsplit("/", 1)[-1]
    assert sha == local_hub.commits(repo)[-1]
    assert [c.title for c in HfApi().list_repo_commits(repo)][0] == "publish tiny x2"

    out = tmp_path / "pulled"
    assert cli(["pull", repo, "-o", str(out)]) == 0
    assert capsys.readouterr().out.strip() == f"{repo}@{sha} -> {out}"
    for name in ("config.json", "model.safetensors", "README.md"):
        assert (out / name).read_bytes() == (folder / name).read_bytes(), name
    np.testing.assert_array_equal(_np(zoo.from_pretrained(out)(x)), _np(g(x)))

    assert cli(["pull", repo, "-o", str(out)]) == EXIT_INPUT
    assert "already holds" in capsys.readouterr().err
    assert cli(["pull", f"hf://{repo}", "-o", str(out), "--revision", sha, "--overwrite"]) == 0
    assert cli(["pull", "user/nothing-here", "-o", str(tmp_path / "x")]) == EXIT_INPUT
    assert "was not found" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()

    # A folder that does not load is never pushed.
    config = json.loads((folder / "config.json").read_text())
    config["config"]["filters"] = 4
    (folder / "config.json").write_text(json.dumps(config))
    assert cli(["push", str(folder), "--repo", repo]) == EXIT_INPUT
    assert "'head_conv/kernel'" in capsys.readouterr().err
    assert local_hub.commits(repo)[-1] == sha


def test_pushed_from_torch_loads_on_jax_and_tensorflow_and_offline_from_the_cache(local_hub, backend, tmp_path,
                                                                                  request, x):
    """Backend-independent, so it runs once: in the torch session, which pushes in-process."""
    if backend != "torch":
        pytest.skip("runs in the KERAS_BACKEND=torch session (it pushes from the torch backend in-process)")
    repo, uncached = _repo(request), _repo(request, "-never-downloaded")
    g = _generator(6)
    url = g.push_to_hub(repo)
    _generator(7).push_to_hub(uncached)
    commit = url.rsplit("/", 1)[-1]
    y = _np(g(x))
    np.testing.assert_array_equal(_np(zoo.from_pretrained(repo)(x)), y)
    np.save(tmp_path / "x.npy", x)
    def code(check_uncached: bool) -> str:
        return f"""
            import json, numpy as np, keras, zoo, msrgan
            x = np.load({str(tmp_path / 'x.npy')!r})
            out = {{"backend": keras.backend.backend()}}
            g = zoo.from_pretrained({repo!r})
            np.save({str(tmp_path)!r} + "/y_" + out["backend"] + ".npy", keras.ops.convert_to_numpy(g(x)))
            out["commit"] = g.pretrained_source["commit"]
            out["pinned"] = zoo.from_pretrained("hf://" + {repo!r}, revision={commit!r}).pretrained_source["commit"]
            if {check_uncached!r}:
                try:
                    zoo.from_pretrained({uncached!r})
                except FileNotFoundError as exc:
                    out["uncached"] = str(exc)
            print(json.dumps(out))
        """

    tf = run_in_backend("tensorflow", code(False))
    jax = run_in_backend("jax", code(True), env={"HF_HUB_OFFLINE": "1"})  # read when huggingface_hub is imported
    for result in (tf, jax):
        assert result["commit"] == commit and result["pinned"] == commit
        y_other = np.load(tmp_path / f"y_{result['backend']}.npy")
        assert np.max(np.abs(y_other - y)) <= 1e-5, result["backend"]
    assert "HF_HUB_OFFLINE=1" in jax["uncached"] and uncached in jax["uncached"]
