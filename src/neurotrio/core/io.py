"""Atomic file writing: every output appears whole or not at all."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is fsynced and renamed onto ``path``.

    Example:
        >>> with atomic_path("out.png") as tmp:
        ...     fig.savefig(tmp, format="png")
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_parts(path)
    fd, tmp = tempfile.mkstemp(prefix=_part_prefix(path), suffix=".part", dir=path.parent)
    os.fchmod(fd, 0o666 & ~_umask())  # mkstemp makes 0600; outputs get the usual permissions
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_umask())  # again: some writers (safetensors) replace the file with a 0600 one
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)


def _part_prefix(path: Path) -> str:
    """Temp names carry the writer's host and pid, so a later writer can tell a dead writer's leftovers."""
    return f".{path.name}.{socket.gethostname()}-{os.getpid()}."


def remove_stale_parts(path: str | Path) -> list[Path]:
    """Delete temp files/folders that a killed writer of ``path`` left beside it; returns what was removed.

    Only leftovers written on this host by a process that no longer exists are removed; a live writer's
    temp (here or on another host sharing the folder) is never touched.
    """
    path = Path(path)
    host = socket.gethostname()
    removed = []
    for part in path.parent.glob(f".{_glob_escape(path.name)}.{_glob_escape(host)}-*.part"):
        pid = part.name[len(f".{path.name}.{host}-"):].split(".", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(part, ignore_errors=True) if part.is_dir() else part.unlink(missing_ok=True)
            removed.append(part)
    return removed


def _glob_escape(text: str) -> str:
    """``text`` as a literal glob pattern."""
    return "".join(f"[{c}]" if c in "*?[" else c for c in text)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode())


def write_json(path: str | Path, obj: Any) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, default=_json_default) + "\n")


def _json_default(o: Any) -> Any:
    if hasattr(o, "tolist"):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON-serialisable: {type(o).__name__}")


@contextlib.contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Yield a temporary directory; on success its files are moved into ``path`` (created if needed).

    On error nothing is added to ``path`` and ``path`` is not created, so bad input leaves no output.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_parts(path)
    tmp = Path(tempfile.mkdtemp(prefix=_part_prefix(path), suffix=".part", dir=path.parent))
    tmp.chmod(0o777 & ~_umask())
    existed = path.exists()
    try:
        yield tmp
        path.mkdir(parents=True, exist_ok=True)
        for item in tmp.iterdir():
            os.replace(item, path / item.name)
    except BaseException:
        if not existed and path.exists() and not any(path.iterdir()):
            path.rmdir()
        raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
