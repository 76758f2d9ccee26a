"""The local Hub server (tests/hubserver.py) against the real huggingface_hub and datasets clients.

The environment comes first, before huggingface_hub/datasets are imported: both read ``HF_ENDPOINT``
and ``HF_HUB_DISABLE_XET`` at import time. When ``HF_ENDPOINT`` already points at
``http://127.0.0.1:PORT`` (the conftest's session hub) that hub is reused: found in-process with
``LocalHub.for_url`` (and started if it is not yet), or, if nothing serves the port, started here on
it. Otherwise this module binds its own hub on a free port. Either way ``point_clients_at`` also
patches the values computed at import time, in case another test module imported the clients first.
"""

import os
import tempfile
import urllib.error
import urllib.request

try:  # tests/ is a package (tests/__init__.py): the same module object the conftest imports
    from tests.hubserver import LocalHub, free_port, point_clients_at
except ImportError:  # pragma: no cover - tests/ itself on sys.path instead
    from hubserver import LocalHub, free_port, point_clients_at

_ENDPOINT = os.environ.get("HF_ENDPOINT", "").rstrip("/")
_OWN_HUB: LocalHub | None = None
if not _ENDPOINT.startswith("http://127.0.0.1:"):
    # Bind now (keeps the port), serve from the fixture below.
    _OWN_HUB = LocalHub(port=free_port())
    _ENDPOINT = _OWN_HUB.url
    os.environ.setdefault("HF_HOME", tempfile.mkdtemp(prefix="hf_home_"))
point_clients_at(_ENDPOINT)

import hashlib  # noqa: E402

import pytest  # noqa: E402
from huggingface_hub import (  # noqa: E402
    CommitOperationAdd,
    CommitOperationDelete,
    HfApi,
    hf_hub_download,
    snapshot_download,
)
from huggingface_hub.errors import (  # noqa: E402
    EntryNotFoundError,
    HfHubHTTPError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)


_urlopen = urllib.request.build_opener(urllib.request.ProxyHandler({})).open  # never via a proxy


def _is_serving(url: str) -> bool:
    try:
        with _urlopen(f"{url}/api/agent-harnesses", timeout=2) as r:
            return r.status == 200
    except (OSError, urllib.error.URLError):
        return False


@pytest.fixture(scope="module")
def hub(request):
    """The running ``LocalHub``: the conftest's ``local_hub`` when there is one, else this module's.

    ``None`` only if another process serves ``HF_ENDPOINT``. Stopped at the end of the module only
    when this module started it.
    """
    if _OWN_HUB is None:
        try:
            shared = request.getfixturevalue("local_hub")
        except pytest.FixtureLookupError:
            shared = LocalHub.for_url(_ENDPOINT)  # maybe created by someone, maybe not yet started
        if shared is not None and shared.url == _ENDPOINT:
            yield shared.start()
            return
    own = _OWN_HUB
    if own is None and not _is_serving(_ENDPOINT):  # HF_ENDPOINT set, but nobody serves it: serve it
        own = LocalHub(port=int(_ENDPOINT.rsplit(":", 1)[1]))
    if own is not None:
        own.start()
    assert _is_serving(_ENDPOINT), f"no Hub at {_ENDPOINT}"
    yield own
    if own is not None:
        own.stop()


@pytest.fixture
def api(hub):
    return HfApi(endpoint=_ENDPOINT)


def _repo_name(request, suffix=""):
    return f"user/{request.node.name.replace('[', '-').replace(']', '')}{suffix}"


def test_create_repo_and_exist_ok(api, request):
    repo_id = _repo_name(request)
    url = api.create_repo(repo_id)
    assert url.repo_id == repo_id and url.startswith(_ENDPOINT)
    with pytest.raises(HfHubHTTPError) as err:
        api.create_repo(repo_id)
    assert err.value.response.status_code == 409
    assert api.create_repo(repo_id, exist_ok=True) == url

    info = api.repo_info(repo_id)
    assert info.id == repo_id and len(info.sha) == 40 and int(info.sha, 16) >= 0
    assert [s.rfilename for s in info.siblings] == [".gitattributes"]  # like a fresh repo on the Hub
    assert api.repo_exists(repo_id) and not api.repo_exists("user/never-created")
    ds_url = api.create_repo(repo_id, repo_type="dataset")
    assert ds_url.repo_type == "dataset" and "/datasets/" in ds_url


def test_upload_folder_uses_lfs_and_snapshot_returns_same_bytes(api, request, tmp_path):
    repo_id = _repo_name(request)
    api.create_repo(repo_id)
    src = tmp_path / "src"
    (src / "weights").mkdir(parents=True)
    files = {
        "config.json": b'{"scale": 4, "channels": 3}\n',
        "model.safetensors": os.urandom(64 * 1024),  # LFS by extension
        "weights/big.dat": os.urandom(10 * 1024 * 1024 + 17).replace(b"\0", b"\1"),  # LFS by size only
        "notes.txt": b"plain text, stays a regular git file\n",
    }
    for name, data in files.items():
        (src / name).write_bytes(data)

    commit = api.upload_folder(repo_id=repo_id, folder_path=src, commit_message="weights")
    assert len(commit.oid) == 40 and commit.oid == api.repo_info(repo_id).sha

    tree = {f.path: f for f in api.list_repo_tree(repo_id, recursive=True)}
    assert set(tree) == set(files) | {".gitattributes", "weights"}
    for name in ("model.safetensors", "weights/big.dat"):
        assert tree[name].lfs is not None and tree[name].lfs.sha256 == hashlib.sha256(files[name]).hexdigest()
        assert tree[name].size == len(files[name])
    assert tree["config.json"].lfs is None and tree["notes.txt"].lfs is None

    folder = snapshot_download(repo_id, cache_dir=tmp_path / "cache")
    for name, data in files.items():
        assert (tmp_path / "cache").exists() and open(os.path.join(folder, name), "rb").read() == data
    assert os.path.basename(folder) == commit.oid  # the snapshot is keyed by the commit sha

    infos = api.get_paths_info(repo_id, ["config.json", "weights", "missing.txt"])
    assert [(i.path, type(i).__name__) for i in infos] == [("config.json", "RepoFile"), ("weights", "RepoFolder")]


def test_pinned_revision_keeps_old_content(hub, api, request, tmp_path):
    repo_id = _repo_name(request)
    api.create_repo(repo_id)
    v1 = {"config.json": b'{"v": 1}', "model.safetensors": b"\x00weights-v1" * 100}
    v2 = {"config.json": b'{"v": 2}', "model.safetensors": b"\x00weights-v2" * 100}
    shas = []
    for version in (v1, v2):
        ops = [CommitOperationAdd(path_in_repo=k, path_or_fileobj=v) for k, v in version.items()]
        shas.append(api.create_commit(repo_id, operations=ops, commit_message="update").oid)
    first, second = shas
    assert first != second

    old = snapshot_download(repo_id, revision=first, cache_dir=tmp_path / "c1")
    new = snapshot_download(repo_id, cache_dir=tmp_path / "c2")
    for name in v1:
        assert open(os.path.join(old, name), "rb").read() == v1[name]
        assert open(os.path.join(new, name), "rb").read() == v2[name]
    with open(hf_hub_download(repo_id, "config.json", revision=first, cache_dir=tmp_path / "c3"), "rb") as f:
        assert f.read() == v1["config.json"]

    # a stale parent_commit is refused; deleting a file leaves older snapshots intact
    with pytest.raises(HfHubHTTPError):
        api.create_commit(
            repo_id, operations=[CommitOperationDelete("config.json")], commit_message="x", parent_commit=first
        )
    api.create_commit(
        repo_id, operations=[CommitOperationDelete("config.json")], commit_message="rm", parent_commit=second
    )
    with pytest.raises(EntryNotFoundError):
        hf_hub_download(repo_id, "config.json", cache_dir=tmp_path / "c4")
    with open(hf_hub_download(repo_id, "config.json", revision=second, cache_dir=tmp_path / "c4"), "rb") as f:
        assert f.read() == v2["config.json"]

    history = [c.commit_id for c in api.list_repo_commits(repo_id)][::-1]
    assert history[1:] == [first, second, api.repo_info(repo_id).sha]
    if hub is not None:
        assert hub.commits(repo_id) == history


def test_missing_file_repo_and_revision_raise_client_errors(api, request, tmp_path):
    repo_id = _repo_name(request)
    api.create_repo(repo_id)
    with pytest.raises(EntryNotFoundError):
        hf_hub_download(repo_id, "nope.bin", cache_dir=tmp_path)
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download("user/does-not-exist", "config.json", cache_dir=tmp_path)
    with pytest.raises(RepositoryNotFoundError):
        snapshot_download("user/does-not-exist", cache_dir=tmp_path)
    with pytest.raises(RevisionNotFoundError):
        hf_hub_download(repo_id, ".gitattributes", revision="f" * 40, cache_dir=tmp_path)
    with pytest.raises(EntryNotFoundError):
        list(api.list_repo_tree(repo_id, path_in_repo="no/such/folder"))


def test_resolve_supports_range_requests(api, request):
    repo_id = _repo_name(request)
    api.create_repo(repo_id)
    data = bytes(range(256)) * 40
    api.upload_file(path_or_fileobj=data, path_in_repo="blob.bin", repo_id=repo_id)
    url = f"{_ENDPOINT}/{repo_id}/resolve/main/blob.bin"
    req = urllib.request.Request(url, headers={"Range": "bytes=100-299"})
    with _urlopen(req) as r:
        assert r.status == 206 and r.read() == data[100:300]
        assert r.headers["Content-Range"] == f"bytes 100-299/{len(data)}"
        assert r.headers["X-Linked-Etag"].strip('"') == hashlib.sha256(data).hexdigest()
        assert len(r.headers["X-Repo-Commit"]) == 40
    with _urlopen(urllib.request.Request(url, headers={"Range": "bytes=-10"})) as r:
        assert r.read() == data[-10:]


def test_dataset_push_to_hub_then_load_dataset(hub, tmp_path):
    import datasets

    data = {
        "image_id": [3, 1, 4, 1, 5],
        "label": ["nucleus", "er", "tubulin", "er", "protein"],
        "snr": [1.5, 2.0, 0.25, 3.0, 4.5],
    }
    repo_id = "user/test-hub-ds"
    datasets.Dataset.from_dict(data).push_to_hub(repo_id)
    loaded = datasets.load_dataset(repo_id, split="train", cache_dir=str(tmp_path / "ds-cache"))
    assert loaded.to_dict() == data
    files = HfApi(endpoint=_ENDPOINT).list_repo_files(repo_id, repo_type="dataset")
    assert "README.md" in files and any(f.startswith("data/train-") and f.endswith(".parquet") for f in files)


def test_point_clients_at_patches_already_imported_modules(hub):
    import datasets.config
    import huggingface_hub.constants
    import huggingface_hub.hf_api

    point_clients_at(_ENDPOINT)
    assert huggingface_hub.constants.ENDPOINT == _ENDPOINT
    assert huggingface_hub.constants.HUGGINGFACE_CO_URL_TEMPLATE.startswith(_ENDPOINT + "/")
    assert huggingface_hub.constants.HF_HUB_DISABLE_XET is True
    assert huggingface_hub.hf_api.api.endpoint == _ENDPOINT
    assert datasets.config.HF_ENDPOINT == _ENDPOINT
