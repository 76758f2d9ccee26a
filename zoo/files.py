"""Partial outputs never pass for whole ones: temporary files with one recognisable name, atomic renames.

Every writer of this project (model folders, checkpoints, images, TIFF streams, reports, training
runs) writes into a temporary file or folder beside its target and renames it into place. Their
names all start with ``PARTIAL_PREFIX`` and carry the writer's process id::

    .partial-<pid>-<target name>-<random><suffix>

so a process killed mid-write (SIGKILL, power loss) leaves something recognisable, and
``remove_stale_partials(folder)`` (called by the next writer into that folder) deletes the ones
whose process is gone, never those of a live process.

Writers use one of three helpers: ``atomic_write_bytes(path, data)`` for bytes in memory, ``with
atomic_file(path) as tmp:`` for a library that writes a file itself (TIFF, PNG, zip), ``with
atomic_folder(path) as tmp:`` for a folder (OME-Zarr, a model folder, a checkpoint). Each gives the
result the permissions a plain ``open`` / ``mkdir`` would and renames it into place only when the
block ends without an error; otherwise the partial is removed and the target is left as it was.
Outputs that share a folder with other files (a training run's OUT, an evaluation report) are
written into a partial folder inside it and published with ``move_entries(stage, folder)``: one
rename an entry, the entries they replace deleted only once all are in, everything put back on a
failure.

Example:
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> atomic_write_bytes(d / "a.txt", b"hello").read_bytes()
    b'hello'
    >>> with atomic_file(d / "b.txt") as tmp:
    ...     _ = tmp.write_text("written by a library")
    >>> sorted(p.name for p in d.iterdir())
    ['a.txt', 'b.txt']
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Iterable

PARTIAL_PREFIX = ".partial-"
CONFIG_NAME = "config.json"
"""A pretrained folder's configuration (class, architecture, metadata)."""
WEIGHTS_NAME = "model.safetensors"
"""A pretrained folder's weights (safetensors only)."""
CARD_NAME = "README.md"
"""A pretrained folder's model card."""
_PARTIAL = re.compile(r"^\.partial-(\d+)-")


def _umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


def plain_file_permissions(path) -> None:
    """Gives a file the permissions a plain ``open`` would (``0o666`` less the umask).

    For temporary files about to be renamed into place: ``tempfile.mkstemp`` creates them 0600.
    """
    os.chmod(path, 0o666 & ~_umask())


def plain_folder_permissions(path) -> None:
    """Gives a folder the permissions a plain ``mkdir`` would (``0o777`` less the umask); ``mkdtemp``
    creates it 0700."""
    os.chmod(path, 0o777 & ~_umask())


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


@contextlib.contextmanager
def atomic_file(path):
    """Yields an empty partial file beside ``path`` to write (by any library, by name); when the block
    ends without an error it gets plain permissions and is renamed onto ``path``, otherwise it is removed.

    A reader never sees a partial file, and an interrupted write leaves ``path`` as it was.

    Example:
        >>> import tempfile, pathlib
        >>> target = pathlib.Path(tempfile.mkdtemp()) / "x.txt"
        >>> with atomic_file(target) as tmp:
        ...     _ = tmp.write_text("one")
        ...     target.exists()
        False
        >>> target.read_text()
        'one'
    """
    path = Path(path)
    tmp = partial_path(path)
    try:
        yield tmp
        plain_file_permissions(tmp)
        os.replace(tmp, path)
    except BaseException:
        discard(tmp)
        raise


@contextlib.contextmanager
def atomic_folder(path):
    """Yields an empty partial folder beside ``path`` to fill; when the block ends without an error it
    gets plain permissions and replaces ``path``, otherwise it is removed.

    An existing ``path`` (a folder, or a file) is moved aside and deleted only once the new folder is
    in place; if that rename fails, it is put back.
    """
    path = Path(path)
    tmp = partial_path(path, directory=True)
    try:
        yield tmp
        plain_folder_permissions(tmp)
        _replace_with(tmp, path)
    except BaseException:
        discard(tmp)
        raise


def _replace_with(tmp: Path, path: Path) -> None:
    """Renames the finished folder ``tmp`` to ``path``; an existing ``path`` is removed only afterwards."""
    if not (path.exists() or path.is_symlink()):
        os.replace(tmp, path)
        return
    old = partial_path(path.with_name(path.name + ".replaced"), directory=True)
    os.rmdir(old)
    os.replace(path, old)
    try:
        os.replace(tmp, path)
    except BaseException:
        os.replace(old, path)
        raise
    discard(old)


def move_entries(stage, target, *, merge: bool = False, clear: Iterable[str] = ()) -> None:
    """Moves every entry of the finished folder ``stage`` into the folder ``target``, one rename each,
    then removes ``stage``: publishing outputs written into a partial folder (``partial_path(...,
    directory=True)``) into a folder that holds other files too.

    An entry of ``target`` that a new one replaces, and each entry of ``target`` named in ``clear``,
    is moved aside first and deleted only once every new entry is in place. If a rename fails (or
    the move is interrupted), the entries moved in go back into ``stage``, the earlier ones are put
    back, and ``stage`` is removed: ``target`` is left as it was. Entries of ``target`` that are
    neither replaced nor named in ``clear`` are not touched.

    Args:
        stage: The folder holding the new entries, on the file system of ``target``.
        target: The folder they go into (created when missing).
        merge: A folder of ``stage`` whose name is a folder of ``target`` too is merged into it
            entry by entry (recursively; other entries of that folder stay) instead of replacing it.
        clear: Names of ``target``'s entries to remove with the replaced ones even when ``stage``
            has no entry of that name (an earlier run's outputs that the new run does not write).

    Example:
        >>> import tempfile, pathlib
        >>> out = pathlib.Path(tempfile.mkdtemp())
        >>> _ = (out / "notes.txt").write_text("kept"), (out / "old.csv").write_text("old")
        >>> stage = partial_path(out / "report", directory=True)
        >>> _ = (stage / "new.csv").write_text("new")
        >>> move_entries(stage, out, clear=["old.csv"])
        >>> sorted(p.name for p in out.iterdir())
        ['new.csv', 'notes.txt']
    """
    stage, target = Path(stage), Path(target)
    target.mkdir(parents=True, exist_ok=True)
    aside = partial_path(target / "replaced", directory=True)
    done: list[tuple[Path, Path]] = []  # the renames made, (from, to), undone in reverse on a failure

    def rename(src: Path, dst: Path) -> None:
        os.replace(src, dst)
        done.append((src, dst))

    def move(src_dir: Path, dst_dir: Path, aside_dir: Path, clear_names) -> None:
        names = {p.name for p in src_dir.iterdir()} | {n for n in clear_names if os.path.lexists(dst_dir / n)}
        for name in sorted(names):
            src, dst, old = src_dir / name, dst_dir / name, aside_dir / name
            if merge and _is_folder(src) and _is_folder(dst):
                old.mkdir()
                move(src, dst, old, ())
                continue
            if os.path.lexists(dst):
                rename(dst, old)
            if os.path.lexists(src):
                rename(src, dst)

    try:
        move(stage, target, aside, frozenset(clear))
    except BaseException:
        restored = True
        for src, dst in reversed(done):
            try:
                os.replace(dst, src)
            except OSError:
                restored = False
        discard(stage)
        if restored:  # else what could not be put back stays in the partial folder, not deleted
            discard(aside)
        raise
    discard(aside)
    discard(stage)


def _is_folder(path: Path) -> bool:
    return path.is_dir() and not path.is_symlink()


def atomic_write_bytes(path, data: bytes) -> Path:
    """Writes ``data`` to ``path`` through a partial file in the same folder and a rename
    (``atomic_file``): a reader never sees a partial file, an interrupted write leaves ``path`` as it
    was, and the file gets the permissions a plain ``open`` would give. Returns ``path``.
    """
    path = Path(path)
    with atomic_file(path) as tmp:
        tmp.write_bytes(data)
    return path
