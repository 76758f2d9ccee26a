"""A small in-memory server that speaks enough of the Hugging Face Hub HTTP API for tests.

The real ``huggingface_hub`` and ``datasets`` clients run unchanged against it: create a repo, upload
files (regular and LFS), commit, list trees, download files or snapshots at any revision, and
``Dataset.push_to_hub`` / ``load_dataset`` work end to end. Standard library only (``http.server``
and ``threading``); all state lives in memory and is guarded by one lock.

Usage (what ``conftest.py`` does, at import time, *before* importing huggingface_hub/datasets/keras)::

    port = free_port()
    os.environ["HF_ENDPOINT"] = f"http://127.0.0.1:{port}"
    os.environ["HF_HUB_DISABLE_XET"] = "1"      # required, see below
    os.environ["HF_TOKEN"] = "hf_dummy"         # any token is accepted, none is checked
    os.environ["HF_HOME"] = tempfile.mkdtemp()
    ...
    hub = LocalHub(port=port).start()           # in a session fixture; hub.stop() at the end

Why at import time: ``huggingface_hub.constants`` reads ``HF_ENDPOINT`` and ``HF_HUB_DISABLE_XET`` once,
when it is first imported, and derives more values from them (``HUGGINGFACE_CO_URL_TEMPLATE``,
``HF_URL_HOSTS``, the module-level ``huggingface_hub.hf_api.api`` whose bound methods are the
top-level ``huggingface_hub.create_repo``, ``upload_folder``...). ``datasets.config`` does the same
(``HF_ENDPOINT``, ``HUB_DATASETS_URL``). If one of them was already imported with other values,
:func:`point_clients_at` sets the environment *and* patches those module attributes in place; that is
the robust way for a test module that cannot control import order. (Values derived from ``HF_HOME``,
such as the cache folders, are not patched: pass ``cache_dir=`` where it matters.)

``HF_HUB_DISABLE_XET=1`` is required: ``hf_xet`` is installed, and with it ``upload_folder`` takes the
Xet pipeline, which asks ``/api/{type}s/{id}/xet-write-token/{rev}`` and has no LFS fallback. With
Xet disabled the clients use the preupload -> LFS batch -> PUT -> commit flow served here.

What the server implements (paths as the clients send them; ``{id}`` is ``owner/name`` or ``name``,
``{p}`` is ``""`` for models, ``"datasets/"`` or ``"spaces/"``):

- ``POST /api/repos/create`` (409 with the same ``{"url"}`` body when the repo exists; owner
  ``user`` when no organization is given), ``DELETE /api/repos/delete``, ``GET /api/whoami-v2``,
  ``POST /api/validate-yaml``, ``GET /api/agent-harnesses`` (huggingface_hub fetches it for its
  user agent; an empty registry)
- ``GET /api/{type}s/{id}[/revision/{rev}]`` (repo info: ``id``, ``sha``, ``siblings``...)
- ``GET /api/{type}s/{id}/refs``, ``GET /api/{type}s/{id}/commits/{rev}``,
  ``POST|DELETE /api/{type}s/{id}/branch/{name}``, ``POST|DELETE /api/{type}s/{id}/tag/{rev|name}``
- ``PUT /api/{type}s/{id}/settings`` (``private``/``visibility``/``gated``)
- ``POST /api/{type}s/{id}/preupload/{rev}``, ``POST /api/{type}s/{id}/commit/{rev}`` (NDJSON)
- ``GET /api/{type}s/{id}/tree/{rev}[/{path}]``, ``POST /api/{type}s/{id}/paths-info/{rev}``
- ``POST /{p}{id}.git/info/lfs/objects/batch``, ``PUT /lfs-objects/{oid}``,
  ``POST /{p}{id}.git/info/lfs/objects/verify``
- ``HEAD|GET /{p}{id}/resolve/{rev}/{path}`` (``X-Repo-Commit``, ``ETag``, ``X-Linked-Etag`` and
  ``X-Linked-Size`` for LFS files, ``Range`` -> 206)

Errors carry ``X-Error-Code`` (``RepoNotFound``, ``RevisionNotFound``, ``EntryNotFound``) as the Hub
does, so the clients raise their usual exceptions. Each repo starts, like on the Hub, with one commit
holding a ``.gitattributes`` file; every commit is an immutable snapshot with a fresh 40-hex sha
(``LocalHub.commits`` lists the ``main`` history, that first commit included). Preupload answers
``lfs`` for files of 10 MiB or more, binary samples (a NUL byte) and paths matching the default or the
repo's ``.gitattributes`` LFS patterns (``*.safetensors``, ``*.parquet``...), else ``regular``; it
also returns the current ``oid`` so the client skips unchanged files. Any token is accepted (private
repos are readable by all); tokens are never logged. ``LOCALHUB_DEBUG=1`` prints one line per request
(method, path, status) to stderr; ``LocalHub.requests`` records the same.

Failures on demand, for tests of error handling (set them on the ``LocalHub`` object, reset them after):

- ``rejected_tokens``: a set of tokens; a request carrying one (``Authorization: Bearer <token>``) is
  answered ``401`` with the Hub's ``Invalid credentials in Authorization header`` message;
- ``fail_lfs_uploads``: when True, ``PUT /lfs-objects/{oid}`` is answered ``403`` (the storage refused
  the upload, as an expired pre-signed URL is), so the client's LFS upload fails.
- ``break_downloads``: a set of file names; ``GET .../resolve/{rev}/{path}`` of a file of that name
  sends half of the body, then drops the connection (a network failure during a download).
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import json
import os
import re
import secrets
import socket
import sys
import threading
import traceback
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, unquote, urlsplit

__all__ = ["LocalHub", "free_port", "point_clients_at"]

REPO_TYPES = ("model", "dataset", "space")
URL_PREFIXES = {"model": "", "dataset": "datasets/", "space": "spaces/"}
DEFAULT_NAMESPACE = "user"
LFS_SIZE_THRESHOLD = 10 * 1024 * 1024  # the Hub stores files of 10 MB and more in LFS

# Patterns the Hub's default .gitattributes sends to LFS (models and datasets, merged).
LFS_PATTERNS = (
    "*.7z *.arrow *.bin *.bz2 *.ckpt *.ftz *.gz *.h5 *.joblib *.lfs.* *.mlmodel *.model *.msgpack *.npy "
    "*.npz *.onnx *.ot *.parquet *.pb *.pickle *.pkl *.pt *.pth *.rar *.safetensors saved_model/**/* "
    "*.tar.* *.tar *.tflite *.tgz *.wasm *.xz *.zip *.zst *tfevents* *.keras *.lz4 *.mds *.tif *.tiff "
    "*.png *.jpg *.jpeg *.webp *.gif *.bmp *.mp3 *.wav *.flac *.ogg *.mp4 *.avi *.mkv"
).split()
GITATTRIBUTES = "".join(f"{p} filter=lfs diff=lfs merge=lfs -text\n" for p in LFS_PATTERNS).encode()

_SHA40 = re.compile(r"^[0-9a-f]{40}$")
_API_ACTIONS = {
    "revision", "tree", "paths-info", "preupload", "commit", "refs", "commits", "branch", "tag", "settings"
}


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago on ``host`` (bind to port 0, read it, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def point_clients_at(endpoint: str, *, disable_xet: bool = True, token: str | None = "hf_dummy") -> None:
    """Make ``huggingface_hub`` and ``datasets`` talk to ``endpoint``, even if already imported.

    Sets ``HF_ENDPOINT`` (and ``HF_HUB_DISABLE_XET``, and ``HF_TOKEN`` unless one is set) in the
    environment, then patches the values those libraries computed at import time, if they are loaded.
    """
    endpoint = endpoint.rstrip("/")
    os.environ["HF_ENDPOINT"] = endpoint
    if disable_xet:
        os.environ["HF_HUB_DISABLE_XET"] = "1"
    if token is not None and not os.environ.get("HF_TOKEN"):
        os.environ["HF_TOKEN"] = token

    constants = sys.modules.get("huggingface_hub.constants")
    if constants is not None:
        constants.ENDPOINT = endpoint
        constants.HUGGINGFACE_CO_URL_TEMPLATE = endpoint + "/{repo_id}/resolve/{revision}/{filename}"
        host = urlsplit(endpoint).hostname
        if host:
            constants.HF_URL_HOSTS = frozenset(constants.HF_URL_HOSTS | {host.lower()})
        if disable_xet:
            constants.HF_HUB_DISABLE_XET = True
    hf_api = sys.modules.get("huggingface_hub.hf_api")
    if hf_api is not None and getattr(hf_api, "api", None) is not None:
        hf_api.api.endpoint = endpoint  # the instance behind huggingface_hub.create_repo & co
    ds_config = sys.modules.get("datasets.config")
    if ds_config is not None:
        ds_config.HF_ENDPOINT = endpoint
        ds_config.HUB_DATASETS_URL = endpoint + "/datasets/{repo_id}/resolve/{revision}/{path}"


# --------------------------------------------------------------------------------------------- model


def _git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _lfs_pointer(sha256: str, size: int) -> bytes:
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n".encode()


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")


@dataclass(frozen=True)
class _Entry:
    """One file in a snapshot. Content lives in the hub's blob store under ``sha256``."""

    size: int
    sha256: str
    lfs: bool

    @property
    def oid(self) -> str:  # git blob id, as the Hub reports it (of the pointer file for LFS files)
        return _git_blob_sha1(_lfs_pointer(self.sha256, self.size)) if self.lfs else self._blob_sha1

    @property
    def etag(self) -> str:
        return self.sha256 if self.lfs else self._blob_sha1

    _blob_sha1: str = ""


@dataclass
class _Commit:
    sha: str
    parent: str | None
    files: dict[str, _Entry]
    title: str
    message: str
    date: str


@dataclass
class _Repo:
    repo_type: str
    repo_id: str
    private: bool
    created_at: str
    commits: dict[str, _Commit] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)  # every sha, in creation order
    branches: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    n_prs: int = 0
    gated: str | bool = False

    def resolve(self, rev: str) -> _Commit | None:
        if rev in self.branches:
            return self.commits[self.branches[rev]]
        if rev in self.tags:
            return self.commits[self.tags[rev]]
        return self.commits.get(rev.lower()) if _SHA40.match(rev.lower()) else None


class _HttpError(Exception):
    def __init__(self, status: int, message: str, code: str | None = None, headers: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.code, self.headers = status, message, code, headers or {}


def _not_found_repo(repo_type: str, repo_id: str) -> _HttpError:
    return _HttpError(404, f"{repo_type.capitalize()} repository {repo_id} not found", "RepoNotFound")


# ------------------------------------------------------------------------------------------- server


class LocalHub:
    """An in-memory Hugging Face Hub for tests. ``LocalHub(port=p).start()``, then ``stop()``.

    The socket is bound in ``__init__`` (so the port is held from then on); ``start`` serves it from a
    daemon thread and is idempotent. ``LocalHub.for_url(url)`` finds an instance of this process by URL,
    so a test module can reuse the hub a conftest created instead of starting a second one.
    """

    _instances: dict[str, "LocalHub"] = {}

    @classmethod
    def for_url(cls, url: str) -> "LocalHub | None":
        return cls._instances.get(url.rstrip("/"))

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self._lock = threading.RLock()
        self._repos: dict[tuple[str, str], _Repo] = {}
        self._blobs: dict[str, bytes] = {}  # sha256 hex -> content (regular and LFS files alike)
        self.requests: list[tuple[str, str, int]] = []  # (method, path, status), for debugging tests
        self.debug = bool(os.environ.get("LOCALHUB_DEBUG"))
        self.rejected_tokens: set[str] = set()  # requests with one of these tokens get a 401
        self.fail_lfs_uploads = False  # when True, LFS object uploads get a 403
        self.break_downloads: set[str] = set()  # file names whose GET /resolve sends half, then drops the connection
        hub = self

        class Handler(_Handler):
            pass

        Handler.hub = hub
        self._server = ThreadingHTTPServer((host, port), Handler)
        self._server.daemon_threads = True
        self.host, self.port = self._server.server_address[:2]
        self.url = f"http://{self.host}:{self.port}"
        self._thread: threading.Thread | None = None
        LocalHub._instances[self.url] = self

    # -- lifecycle
    def start(self) -> "LocalHub":
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._server.serve_forever, args=(0.05,), name="LocalHub", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()
        if LocalHub._instances.get(self.url) is self:
            del LocalHub._instances[self.url]

    def __enter__(self) -> "LocalHub":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- helpers for tests
    def commits(self, repo_id: str, repo_type: str = "model") -> list[str]:
        """Shas of the ``main`` history, oldest first (the first is the repo-creation commit)."""
        with self._lock:
            repo = self._repos.get((repo_type, repo_id))
            if repo is None:
                raise KeyError(f"no {repo_type} repo {repo_id!r}")
            shas, sha = [], repo.branches.get("main")
            while sha is not None:
                shas.append(sha)
                sha = repo.commits[sha].parent
            return shas[::-1]

    def repo_url(self, repo_type: str, repo_id: str) -> str:
        return f"{self.url}/{URL_PREFIXES[repo_type]}{repo_id}"

    # -- state operations (all under the lock)
    def _repo(self, repo_type: str, repo_id: str) -> _Repo:
        repo = self._repos.get((repo_type, repo_id))
        if repo is None:
            raise _not_found_repo(repo_type, repo_id)
        return repo

    def _commit_at(self, repo: _Repo, rev: str) -> _Commit:
        commit = repo.resolve(rev)
        if commit is None:
            raise _HttpError(404, f"Invalid rev id: {rev}", "RevisionNotFound")
        return commit

    def _store(self, data: bytes, lfs: bool) -> _Entry:
        sha = hashlib.sha256(data).hexdigest()
        self._blobs.setdefault(sha, data)
        return _Entry(size=len(data), sha256=sha, lfs=lfs, _blob_sha1="" if lfs else _git_blob_sha1(data))

    def _new_commit(self, repo: _Repo, parent: _Commit | None, files: dict, title: str, message: str) -> _Commit:
        sha = hashlib.sha1(secrets.token_bytes(20) + repo.repo_id.encode()).hexdigest()
        commit = _Commit(sha, parent.sha if parent else None, files, title, message, _now())
        repo.commits[sha] = commit
        repo.order.append(sha)
        return commit

    def _create_repo(self, repo_type: str, repo_id: str, private: bool) -> tuple[bool, str]:
        with self._lock:
            if (repo_type, repo_id) in self._repos:
                return False, self.repo_url(repo_type, repo_id)
            repo = _Repo(repo_type, repo_id, private, _now())
            first = self._new_commit(
                repo, None, {".gitattributes": self._store(GITATTRIBUTES, lfs=False)}, "initial commit", ""
            )
            repo.branches["main"] = first.sha
            self._repos[(repo_type, repo_id)] = repo
            return True, self.repo_url(repo_type, repo_id)

    def _lfs_patterns(self, commit: _Commit | None) -> list[str]:
        patterns = list(LFS_PATTERNS)
        entry = commit.files.get(".gitattributes") if commit else None
        if entry is not None:
            for line in self._blobs[entry.sha256].decode("utf-8", "replace").splitlines():
                parts = line.split()
                if len(parts) > 1 and "filter=lfs" in parts[1:]:
                    patterns.append(parts[0])
        return patterns

    @staticmethod
    def _is_lfs_path(path: str, patterns: list[str]) -> bool:
        name = path.rsplit("/", 1)[-1]
        for pattern in patterns:
            target = path if "/" in pattern else name
            if fnmatch.fnmatchcase(target, pattern.replace("**/", "")) or fnmatch.fnmatchcase(target, pattern):
                return True
        return False

    # tree helpers
    @staticmethod
    def _dirs(files: dict[str, _Entry]) -> set[str]:
        dirs = set()
        for path in files:
            parts = path.split("/")[:-1]
            for i in range(1, len(parts) + 1):
                dirs.add("/".join(parts[:i]))
        return dirs

    def _dir_oid(self, files: dict[str, _Entry], folder: str) -> str:
        prefix = folder + "/"
        listing = sorted(f"{p}:{e.oid}" for p, e in files.items() if p.startswith(prefix))
        return hashlib.sha1("\n".join(listing).encode()).hexdigest()

    def _last_commit(self, repo: _Repo, commit: _Commit, path: str, is_dir: bool) -> dict:
        def state(c: _Commit):
            if is_dir:
                return self._dir_oid(c.files, path)
            entry = c.files.get(path)
            return entry.oid if entry else None

        current, last = state(commit), commit
        while last.parent is not None:
            parent = repo.commits[last.parent]
            if state(parent) != current:
                break
            last = parent
        return {"id": last.sha, "title": last.title, "date": last.date}

    def _file_info(self, repo: _Repo, commit: _Commit, path: str, expand: bool) -> dict:
        entry = commit.files[path]
        info: dict = {"type": "file", "oid": entry.oid, "size": entry.size, "path": path}
        if entry.lfs:
            pointer = _lfs_pointer(entry.sha256, entry.size)
            info["lfs"] = {"oid": entry.sha256, "size": entry.size, "pointerSize": len(pointer)}
        if expand:
            info["lastCommit"] = self._last_commit(repo, commit, path, is_dir=False)
        return info

    def _dir_info(self, repo: _Repo, commit: _Commit, path: str, expand: bool) -> dict:
        info: dict = {"type": "directory", "oid": self._dir_oid(commit.files, path), "size": 0, "path": path}
        if expand:
            info["lastCommit"] = self._last_commit(repo, commit, path, is_dir=True)
        return info

    def _path_info(self, repo: _Repo, commit: _Commit, path: str, expand: bool) -> dict | None:
        if path in commit.files:
            return self._file_info(repo, commit, path, expand)
        if path in self._dirs(commit.files):
            return self._dir_info(repo, commit, path, expand)
        return None


# ------------------------------------------------------------------------------------------ handler


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "LocalHub/1.0"
    hub: LocalHub

    # quiet: no per-request lines on stderr (and never any request header)
    def log_message(self, format, *args):  # noqa: A002 - signature fixed by the base class
        pass

    # -- plumbing
    def _read_body(self) -> bytes:
        if getattr(self, "_body", None) is not None:
            return self._body
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size_line = self.rfile.readline().strip().split(b";")[0]
                size = int(size_line or b"0", 16)
                if size == 0:
                    while self.rfile.readline().strip():  # trailers up to the blank line
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            body = b"".join(chunks)
        else:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
        self._body = body
        return body

    def _send(self, status: int, body: bytes = b"", headers: dict | None = None, content_type: str | None = None):
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        for key, value in (headers or {}).items():
            self.send_header(key, str(value))
        if "Content-Length" not in (headers or {}):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)
        self._status = status

    def _json(self, obj, status: int = 200, headers: dict | None = None):
        self._send(status, json.dumps(obj).encode(), headers, "application/json; charset=utf-8")

    def _dispatch(self):
        self._body = None
        self._status = 0
        split = urlsplit(self.path)
        self.query = {k: v[-1] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
        segs = [unquote(s) for s in split.path.split("/")[1:]]
        try:
            if self.command in ("POST", "PUT", "DELETE", "PATCH"):
                self._read_body()  # always drain the body so keep-alive stays in sync
            self._check_token()
            self._route(segs)
        except _HttpError as err:
            headers = dict(err.headers)
            if err.code:
                headers["X-Error-Code"] = err.code
            headers["X-Error-Message"] = err.message.replace("\n", " ")
            self._json({"error": err.message}, err.status, headers)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as exc:  # a bug in this server: say it loudly in the reply, not on the console
            text = "".join(traceback.format_exception(exc))
            if self.hub.debug:
                print(text, file=sys.stderr)
            self._json({"error": f"LocalHub internal error: {exc!r}", "traceback": text}, 500)
        self.hub.requests.append((self.command, split.path, self._status))
        if self.hub.debug:
            print(f"[LocalHub] {self.command} {self.path} -> {self._status}", file=sys.stderr)

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = _dispatch

    def _check_token(self):
        auth = self.headers.get("Authorization") or ""
        if auth.startswith("Bearer ") and auth[len("Bearer "):] in self.hub.rejected_tokens:
            raise _HttpError(401, "Invalid credentials in Authorization header")

    def _json_body(self) -> dict:
        body = self._read_body()
        try:
            return json.loads(body or b"{}")
        except ValueError as exc:
            raise _HttpError(400, f"Invalid JSON body: {exc}") from None

    # -- routing
    def _route(self, segs: list[str]):
        m = self.command
        if segs and segs[0] == "api":
            rest = segs[1:]
            if rest == ["repos", "create"] and m == "POST":
                return self._create_repo()
            if rest == ["repos", "delete"] and m == "DELETE":
                return self._delete_repo()
            if rest == ["validate-yaml"] and m == "POST":
                return self._json({"errors": [], "warnings": []})
            if rest == ["agent-harnesses"] and m == "GET":  # fetched by huggingface_hub for its user agent
                return self._json({"standardEnvVars": [], "harnesses": {}})
            if rest and rest[0] in ("whoami-v2", "whoami") and m == "GET":
                return self._json(
                    {
                        "type": "user",
                        "id": "0" * 24,
                        "name": DEFAULT_NAMESPACE,
                        "fullname": "Local Hub user",
                        "orgs": [],
                        "auth": {"type": "access_token", "accessToken": {"displayName": "local", "role": "write"}},
                    }
                )
            if len(rest) >= 2 and rest[0] in ("models", "datasets", "spaces"):
                return self._route_api_repo(rest[0][:-1], rest[1:])
            raise _HttpError(404, f"Unknown API route /{'/'.join(segs)}")
        if segs and segs[0] == "lfs-objects" and len(segs) == 2 and m == "PUT":
            return self._lfs_put(segs[1])
        return self._route_web(segs)

    def _split_repo_id(self, repo_type: str, segs: list[str], actions: set[str]) -> tuple[str, list[str]]:
        """``owner/name/rest...`` or ``name/rest...`` (canonical repos without namespace)."""
        with self.hub._lock:
            if len(segs) == 1:
                return segs[0], []
            two = f"{segs[0]}/{segs[1]}"
            if segs[1] in actions and (repo_type, segs[0]) in self.hub._repos and (
                repo_type,
                two,
            ) not in self.hub._repos:
                return segs[0], segs[1:]
            return two, segs[2:]

    def _route_api_repo(self, repo_type: str, segs: list[str]):
        repo_id, rest = self._split_repo_id(repo_type, segs, _API_ACTIONS)
        m = self.command
        action = rest[0] if rest else None
        if action is None and m == "GET":
            return self._repo_info(repo_type, repo_id, "main")
        if action == "revision" and len(rest) >= 2 and m == "GET":
            return self._repo_info(repo_type, repo_id, "/".join(rest[1:]))
        if action == "tree" and len(rest) >= 2 and m == "GET":
            return self._tree(repo_type, repo_id, rest[1], "/".join(rest[2:]))
        if action == "paths-info" and len(rest) >= 2 and m == "POST":
            return self._paths_info(repo_type, repo_id, "/".join(rest[1:]))
        if action == "preupload" and len(rest) >= 2 and m == "POST":
            return self._preupload(repo_type, repo_id, "/".join(rest[1:]))
        if action == "commit" and len(rest) >= 2 and m == "POST":
            return self._commit(repo_type, repo_id, "/".join(rest[1:]))
        if action == "refs" and m == "GET":
            return self._refs(repo_type, repo_id)
        if action == "commits" and m == "GET":
            return self._list_commits(repo_type, repo_id, "/".join(rest[1:]) or "main")
        if action == "branch" and len(rest) >= 2 and m in ("POST", "DELETE"):
            return self._branch(repo_type, repo_id, "/".join(rest[1:]))
        if action == "tag" and len(rest) >= 2 and m in ("POST", "DELETE"):
            return self._tag(repo_type, repo_id, "/".join(rest[1:]))
        if action == "settings" and m == "PUT":
            return self._settings(repo_type, repo_id)
        with self.hub._lock:
            self.hub._repo(repo_type, repo_id)  # 404 RepoNotFound first, as the Hub does
        raise _HttpError(404, f"Unknown API route for {repo_type} {repo_id}: {'/'.join(rest)}")

    def _route_web(self, segs: list[str]):
        repo_type = "model"
        if segs and segs[0] in ("datasets", "spaces"):
            repo_type, segs = segs[0][:-1], segs[1:]
        # LFS batch API: /{id}.git/info/lfs/objects/{batch|verify}
        for i, seg in enumerate(segs[:2]):
            if seg.endswith(".git") and segs[i + 1 : i + 4] == ["info", "lfs", "objects"] and len(segs) == i + 5:
                repo_id = "/".join(segs[: i + 1])[: -len(".git")]
                if segs[i + 4] == "batch" and self.command == "POST":
                    return self._lfs_batch(repo_type, repo_id)
                if segs[i + 4] == "verify" and self.command == "POST":
                    return self._lfs_verify(repo_type, repo_id)
        repo_id, rest = self._split_repo_id(repo_type, segs, {"resolve"})
        if rest and rest[0] == "resolve" and len(rest) >= 3 and self.command in ("GET", "HEAD"):
            return self._resolve(repo_type, repo_id, rest[1], "/".join(rest[2:]))
        raise _HttpError(404, f"Unknown route {self.command} /{'/'.join(segs)}")

    # -- repos
    def _create_repo(self):
        body = self._json_body()
        name = body.get("name")
        if not name:
            raise _HttpError(400, "Missing repo name")
        repo_type = body.get("type") or "model"
        if repo_type not in REPO_TYPES:
            raise _HttpError(400, f"Invalid repo type {repo_type!r}")
        repo_id = f"{body.get('organization') or DEFAULT_NAMESPACE}/{name}"
        private = bool(body.get("private")) or body.get("visibility") in ("private", "protected")
        created, url = self.hub._create_repo(repo_type, repo_id, private)
        if created:
            return self._json({"url": url, "name": repo_id, "id": repo_id})
        return self._json({"error": "You already created this repo", "url": url}, 409)

    def _delete_repo(self):
        body = self._json_body()
        repo_type = body.get("type") or "model"
        repo_id = f"{body.get('organization') or DEFAULT_NAMESPACE}/{body.get('name')}"
        with self.hub._lock:
            self.hub._repo(repo_type, repo_id)
            del self.hub._repos[(repo_type, repo_id)]
        self._send(200)

    def _repo_info(self, repo_type: str, repo_id: str, rev: str):
        hub = self.hub
        with hub._lock:
            repo = hub._repo(repo_type, repo_id)
            commit = hub._commit_at(repo, rev)
            blobs = self.query.get("blobs", "").lower() in ("1", "true")
            siblings = []
            for path in sorted(commit.files):
                sibling: dict = {"rfilename": path}
                if blobs:
                    entry = commit.files[path]
                    sibling.update(size=entry.size, blobId=entry.oid)
                    if entry.lfs:
                        ptr = len(_lfs_pointer(entry.sha256, entry.size))
                        sibling["lfs"] = {"size": entry.size, "sha256": entry.sha256, "pointerSize": ptr}
                siblings.append(sibling)
            author = repo_id.split("/")[0] if "/" in repo_id else None
            info = {
                "_id": hashlib.sha1(f"{repo_type}/{repo_id}".encode()).hexdigest()[:24],
                "id": repo_id,
                "author": author,
                "sha": commit.sha,
                "createdAt": repo.created_at,
                "lastModified": commit.date,
                "private": repo.private,
                "gated": repo.gated,
                "disabled": False,
                "downloads": 0,
                "likes": 0,
                "tags": [],
                "siblings": siblings,
                "usedStorage": sum(e.size for e in commit.files.values()),
            }
            if repo_type == "model":
                info["modelId"] = repo_id
            if repo_type == "space":
                info["sdk"] = "static"
        self._json(info)

    def _refs(self, repo_type: str, repo_id: str):
        with self.hub._lock:
            repo = self.hub._repo(repo_type, repo_id)
            branches = [
                {"name": n, "ref": f"refs/heads/{n}", "targetCommit": s}
                for n, s in repo.branches.items()
                if not n.startswith("refs/pr/")
            ]
            tags = [{"name": n, "ref": f"refs/tags/{n}", "targetCommit": s} for n, s in repo.tags.items()]
            prs = [
                {"name": n, "ref": n, "targetCommit": s}
                for n, s in repo.branches.items()
                if n.startswith("refs/pr/")
            ]
        out = {"branches": branches, "tags": tags, "converts": []}
        if self.query.get("include_prs", "").lower() in ("1", "true"):
            out["pullRequests"] = prs
        self._json(out)

    def _list_commits(self, repo_type: str, repo_id: str, rev: str):
        with self.hub._lock:
            repo = self.hub._repo(repo_type, repo_id)
            commit = self.hub._commit_at(repo, rev)
            out = []
            while commit is not None:
                out.append(
                    {
                        "id": commit.sha,
                        "title": commit.title,
                        "message": commit.message,
                        "authors": [{"user": DEFAULT_NAMESPACE}],
                        "date": commit.date,
                    }
                )
                commit = repo.commits[commit.parent] if commit.parent else None
        self._json(out)

    def _branch(self, repo_type: str, repo_id: str, branch: str):
        with self.hub._lock:
            repo = self.hub._repo(repo_type, repo_id)
            if self.command == "DELETE":
                if branch not in repo.branches:
                    raise _HttpError(404, f"Branch {branch} not found", "RevisionNotFound")
                del repo.branches[branch]
                return self._send(200)
            body = self._json_body()
            if branch in repo.branches:
                if body.get("exist_ok") or self.query.get("exist_ok"):
                    return self._send(200)
                raise _HttpError(409, f"Reference already exists: refs/heads/{branch}")
            start = self.hub._commit_at(repo, body.get("startingPoint") or "main")
            repo.branches[branch] = start.sha
        self._send(200)

    def _tag(self, repo_type: str, repo_id: str, rev_or_tag: str):
        with self.hub._lock:
            repo = self.hub._repo(repo_type, repo_id)
            if self.command == "DELETE":
                if rev_or_tag not in repo.tags:
                    raise _HttpError(404, f"Tag {rev_or_tag} not found", "RevisionNotFound")
                del repo.tags[rev_or_tag]
                return self._send(200)
            body = self._json_body()
            commit = self.hub._commit_at(repo, rev_or_tag)
            tag = body.get("tag")
            if not tag:
                raise _HttpError(400, "Missing tag name")
            if tag in repo.tags:
                raise _HttpError(409, f"Tag {tag} already exists")
            repo.tags[tag] = commit.sha
        self._send(200)

    def _settings(self, repo_type: str, repo_id: str):
        body = self._json_body()
        with self.hub._lock:
            repo = self.hub._repo(repo_type, repo_id)
            if "private" in body:
                repo.private = bool(body["private"])
            if "visibility" in body:
                repo.private = body["visibility"] in ("private", "protected")
            if "gated" in body:
                repo.gated = body["gated"]
        self._send(200)

    # -- trees
    def _tree(self, repo_type: str, repo_id: str, rev: str, path: str):
        recursive = self.query.get("recursive", "").lower() in ("1", "true")
        expand = self.query.get("expand", "").lower() in ("1", "true")
        hub = self.hub
        with hub._lock:
            repo = hub._repo(repo_type, repo_id)
            commit = hub._commit_at(repo, rev)
            path = path.strip("/")
            dirs = hub._dirs(commit.files)
            if path and path not in dirs:
                raise _HttpError(
                    404, f"Entry not found: {path}", "EntryNotFound", {"X-Repo-Commit": commit.sha}
                )
            prefix = path + "/" if path else ""
            entries = []
            for d in sorted(dirs):
                if d.startswith(prefix) and (recursive or "/" not in d[len(prefix) :]):
                    entries.append(hub._dir_info(repo, commit, d, expand))
            for p in sorted(commit.files):
                if p.startswith(prefix) and (recursive or "/" not in p[len(prefix) :]):
                    entries.append(hub._file_info(repo, commit, p, expand))
        self._json(entries, headers={"X-Repo-Commit": commit.sha})

    def _paths_info(self, repo_type: str, repo_id: str, rev: str):
        body = self._read_body()
        ctype = self.headers.get("Content-Type", "")
        if "json" in ctype:
            data = json.loads(body or b"{}")
            paths = data.get("paths", [])
            paths = [paths] if isinstance(paths, str) else paths
            expand = data.get("expand") in (True, "true", "True", "1", 1)
        else:
            form = parse_qs(body.decode(), keep_blank_values=True)
            paths = form.get("paths", [])
            expand = form.get("expand", ["false"])[-1].lower() in ("1", "true")
        hub = self.hub
        with hub._lock:
            repo = hub._repo(repo_type, repo_id)
            commit = hub._commit_at(repo, rev)
            out = []
            for p in paths:
                info = hub._path_info(repo, commit, p.strip("/"), expand)
                if info is not None:
                    out.append(info)
        self._json(out, headers={"X-Repo-Commit": commit.sha})

    # -- uploads
    def _preupload(self, repo_type: str, repo_id: str, rev: str):
        files = self._json_body().get("files", [])
        hub = self.hub
        with hub._lock:
            repo = hub._repo(repo_type, repo_id)
            commit = repo.resolve(rev)
            if commit is None and not (self.query.get("create_pr") and rev == "main"):
                raise _HttpError(404, f"Invalid rev id: {rev}", "RevisionNotFound")
            patterns = hub._lfs_patterns(commit)
            out = []
            for f in files:
                path = f["path"]
                size = int(f.get("size") or 0)
                sample = base64.b64decode(f.get("sample") or "")
                lfs = size >= LFS_SIZE_THRESHOLD or b"\0" in sample or hub._is_lfs_path(path, patterns)
                item = {"path": path, "uploadMode": "lfs" if lfs else "regular", "shouldIgnore": False}
                existing = commit.files.get(path) if commit else None
                if existing is not None:  # lets the client skip files that did not change
                    item["oid"] = existing.sha256 if existing.lfs else existing._blob_sha1
                out.append(item)
        self._json({"files": out, "commitOid": commit.sha if commit else None})

    def _lfs_batch(self, repo_type: str, repo_id: str):
        body = self._json_body()
        hub = self.hub
        with hub._lock:
            hub._repo(repo_type, repo_id)
            objects = []
            for obj in body.get("objects", []):
                oid, size = str(obj.get("oid")), int(obj.get("size") or 0)
                item: dict = {"oid": oid, "size": size, "authenticated": True}
                if body.get("operation", "upload") == "upload":
                    if oid not in hub._blobs:
                        item["actions"] = {
                            "upload": {"href": f"{hub.url}/lfs-objects/{oid}", "expires_in": 3600},
                            "verify": {
                                "href": f"{hub.repo_url(repo_type, repo_id)}.git/info/lfs/objects/verify",
                                "expires_in": 3600,
                            },
                        }
                elif oid in hub._blobs:
                    item["actions"] = {"download": {"href": f"{hub.url}/lfs-objects/{oid}"}}
                else:
                    item["error"] = {"code": 404, "message": "Object does not exist"}
                objects.append(item)
        self._send(
            200,
            json.dumps({"transfer": "basic", "objects": objects, "hash_algo": "sha256"}).encode(),
            content_type="application/vnd.git-lfs+json",
        )

    def _lfs_put(self, oid: str):
        data = self._read_body()
        if self.hub.fail_lfs_uploads:
            raise _HttpError(403, "Request has expired (LocalHub.fail_lfs_uploads is set)")
        if hashlib.sha256(data).hexdigest() != oid:
            raise _HttpError(400, f"Uploaded content does not match oid {oid}")
        with self.hub._lock:
            self.hub._blobs.setdefault(oid, data)
        self._send(200)

    def _lfs_verify(self, repo_type: str, repo_id: str):
        body = self._json_body()
        with self.hub._lock:
            self.hub._repo(repo_type, repo_id)
            data = self.hub._blobs.get(str(body.get("oid")))
        if data is None or ("size" in body and int(body["size"]) != len(data)):
            raise _HttpError(404, f"LFS object {body.get('oid')} not found")
        self._send(200)

    def _commit(self, repo_type: str, repo_id: str, rev: str):
        lines = [json.loads(line) for line in self._read_body().splitlines() if line.strip()]
        if not lines or lines[0].get("key") != "header":
            raise _HttpError(400, "The first line of a commit must be its header")
        header = lines[0].get("value", {})
        hub = self.hub
        create_pr = self.query.get("create_pr", "").lower() in ("1", "true")
        with hub._lock:
            repo = hub._repo(repo_type, repo_id)
            if rev not in repo.branches:
                if repo.resolve(rev) is not None:
                    raise _HttpError(400, f"Cannot commit to {rev}: not a branch")
                raise _HttpError(404, f"Invalid rev id: {rev}", "RevisionNotFound")
            parent = repo.commits[repo.branches[rev]]
            wanted_parent = header.get("parentCommit")
            if wanted_parent and wanted_parent != parent.sha:
                raise _HttpError(412, "A commit has happened since. Please refresh and try again.")
            files = dict(parent.files)
            for line in lines[1:]:
                key, value = line.get("key"), line.get("value", {})
                path = str(value.get("path", "")).strip("/")
                if key == "file":
                    content = value.get("content", "")
                    raw = base64.b64decode(content) if value.get("encoding") == "base64" else content.encode()
                    files[path] = hub._store(raw, lfs=False)
                elif key == "lfsFile":
                    oid = value.get("oid")
                    data = hub._blobs.get(oid)
                    if data is None:
                        raise _HttpError(400, f"LFS object {oid} for {path} was never uploaded")
                    if "size" in value and int(value["size"]) != len(data):
                        raise _HttpError(400, f"LFS object {oid} has size {len(data)}, not {value['size']}")
                    files[path] = _Entry(size=len(data), sha256=oid, lfs=True)
                elif key == "deletedFile":
                    if files.pop(path, None) is None:
                        raise _HttpError(404, f"File to delete not found: {path}", "EntryNotFound")
                elif key == "deletedFolder":
                    prefix = path + "/" if path else ""
                    for p in [p for p in files if p.startswith(prefix)]:
                        del files[p]
                else:
                    raise _HttpError(400, f"Unsupported commit operation {key!r}")
            commit = hub._new_commit(
                repo, parent, files, header.get("summary") or "Commit", header.get("description") or ""
            )
            out = {
                "success": True,
                "commitOid": commit.sha,
                "commitUrl": f"{hub.repo_url(repo_type, repo_id)}/commit/{commit.sha}",
                "commitMessage": commit.title,
                "hookOutput": "",
            }
            if create_pr:
                repo.n_prs += 1
                pr_ref = f"refs/pr/{repo.n_prs}"
                repo.branches[pr_ref] = commit.sha
                out["pullRequestUrl"] = f"{hub.repo_url(repo_type, repo_id)}/discussions/{repo.n_prs}"
            else:
                repo.branches[rev] = commit.sha
        self._json(out)

    # -- downloads
    def _resolve(self, repo_type: str, repo_id: str, rev: str, path: str):
        hub = self.hub
        with hub._lock:
            repo = hub._repo(repo_type, repo_id)
            commit = hub._commit_at(repo, rev)
            entry = commit.files.get(path)
            if entry is None:
                raise _HttpError(404, f"Entry not found: {path}", "EntryNotFound", {"X-Repo-Commit": commit.sha})
            data = hub._blobs[entry.sha256]
        headers = {
            "X-Repo-Commit": commit.sha,
            "ETag": f'"{entry.etag}"',
            "Accept-Ranges": "bytes",
            "Content-Disposition": f"inline; filename*=UTF-8''{quote(path.rsplit('/', 1)[-1])}",
        }
        if entry.lfs:
            headers["X-Linked-Etag"] = f'"{entry.sha256}"'
            headers["X-Linked-Size"] = str(entry.size)
        status, start, end = 200, 0, len(data)
        rng = self.headers.get("Range")
        if rng:
            start, end = self._parse_range(rng, len(data))
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{len(data)}"
        headers["Content-Length"] = str(end - start)
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        self._status = status
        if self.command == "GET":
            view = memoryview(data)[start:end]
            if path.rsplit("/", 1)[-1] in hub.break_downloads:  # a network failure in mid-transfer
                self.wfile.write(view[: len(view) // 2])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            for i in range(0, len(view), 1 << 20):
                self.wfile.write(view[i : i + (1 << 20)])

    @staticmethod
    def _parse_range(header: str, size: int) -> tuple[int, int]:
        m = re.fullmatch(r"\s*bytes=(\d*)-(\d*)\s*", header)
        if not m or (m.group(1) == "" and m.group(2) == ""):
            raise _HttpError(416, f"Unsupported Range {header!r}", headers={"Content-Range": f"bytes */{size}"})
        if m.group(1) == "":  # suffix: the last N bytes
            start, end = max(0, size - int(m.group(2))), size
        else:
            start = int(m.group(1))
            end = min(size, int(m.group(2)) + 1) if m.group(2) else size
        if (start >= size and size > 0) or start > end:
            unsatisfiable = {"Content-Range": f"bytes */{size}"}
            raise _HttpError(416, f"Range {header!r} not satisfiable", headers=unsatisfiable)
        return start, end
