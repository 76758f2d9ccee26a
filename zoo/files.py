"""Partial outputs never pass for whole ones: temporary files with one recognisable name, atomic renames.

Every writer of this project (model folders, checkpoints, images, TIFF streams, reports, training
runs) writes into a temporary file or folder beside its target and renames it into place. Their
names all start with ``PARTIAL_PREFIX`` and carry the writer's process id::

    .partial-<pid>-<target name>-<random><suffix>

so a process killed mid-write (SIGKILL, power loss) leaves something recognisable, and
``remove_stale_partials(folder)`` (called by the next writer into that folder) deletes the ones
whose process is gone, never those of a live process.

Example:
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> atomic_write_bytes(d / "a.txt", b"hello").read_bytes()
    b'hello'
    >>> sorted(p.name for p in d.iterdir())
    ['a.txt']
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

PARTIAL_PREFIX = ".partial-"
CONFIG_NAME = "config.json"
"""A pretrained folder's configuration (class, architecture, metadata)."""
WEIGHTS_NAME = "model.safetensors"
"""A pretrained folder's weights (safetensors only)."""
CARD_NAME = "README.md"
"""A pretrained folder's model card."""
_PARTIAL = re.compile(r"^\.partial-(\d+)-")


def plain_file_permissions(path) -> None:
    """Gives a file the permissions a plain ``open`` would (``0o666`` less the umask).

    For temporary files about to be renamed into place: ``tempfile.mkstemp`` creates them 0600.
    """
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(path, 0o666 & ~umask)


def partial_path(target, *, directory: bool = False) -> Path:
    """Creates (empty) and returns a temporary file, or folder, beside ``target`` for writing it.

    Its name is ``.partial-<pid>-<target name>-<random><suffix>`` (see the module documentation);
    the parent folder is created when missing, and stale partials there are removed first.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_partials(target.parent)
    prefix = f"{PARTIAL_PREFIX}{os.getpid()}-{target.name}-"
    if directory:
        return Path(tempfile.mkdtemp(dir=target.parent, prefix=prefix))
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=prefix, suffix=target.suffix)
    os.close(fd)
    return Path(tmp)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # a live process of another user
        return True
    return True


def remove_stale_partials(folder) -> list[Path]:
    """Deletes the partial files and folders in ``folder`` whose writing process no longer runs.

    Returns:
        The paths removed.
    """
    removed = []
    try:
        entries = list(Path(folder).iterdir())
    except (FileNotFoundError, NotADirectoryError, PermissionError):
        return removed
    for entry in entries:
        m = _PARTIAL.match(entry.name)
        if m is None or _alive(int(m.group(1))):
            continue
        try:
            shutil.rmtree(entry) if entry.is_dir() and not entry.is_symlink() else entry.unlink()
            removed.append(entry)
        except OSError:
            pass
    return removed


def discard(path) -> None:
    """Removes a partial file or folder if it exists (for ``except`` clauses)."""
    path = Path(path)
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink()


def atomic_write_bytes(path, data: bytes) -> Path:
    """Writes ``data`` to ``path`` through a partial file in the same folder and a rename.

    A reader never sees a partial file, an interrupted write leaves ``path`` as it was (and no
    temporary file), and the file gets the permissions a plain ``open`` would give (``mkstemp``
    creates 0600). Returns ``path``.
    """
    path = Path(path)
    tmp = partial_path(path)
    try:
        tmp.write_bytes(data)
        plain_file_permissions(tmp)
        os.replace(tmp, path)
    except BaseException:
        discard(tmp)
        raise
    return path
