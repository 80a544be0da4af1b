"""Caches that notice edited input files: the one way tpusim keys a cache on the files it read.

A function decorated with `file_cached` remembers, with each result, every input file read while
computing it (through `tpusim.inputs.load_toml`, which calls `note_read`) and a digest of the
bytes it read. A later call with equal arguments returns the remembered result only if each of
those files still holds the same bytes; otherwise it runs again. The files a result depends on
are found, not declared: a pod depends on its pod file and the chip file it names, an estimate on
its workload file and chip file, however deeply the loaders nest. A cached call made inside
another one passes its files on, so the outer result depends on them too.

    @file_cached()
    def load_pod_file(path: Path) -> Pod: ...

The check is by content (a BLAKE2 digest of the file, about 10 us for a hand-written TOML), not by
modification time alone, whose granularity lets an edit made within a few milliseconds go
unnoticed. A file whose status (inode, size, modification and change times) is as it was is not
read again if its change time was already SETTLE_S older than the clock when it was read: any
later write sets the change time to the clock (which a user cannot set back), so the status
differs. Errors are not cached. A result is only as fresh as its files: anything else it reads
is assumed constant for the life of the process.

Invariants (tested): a cached call returns what an uncached call would return after any edit of
a file it read (in the same process); a call whose files are unchanged returns the same object.
"""

from __future__ import annotations

import functools
import hashlib
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

_local = threading.local()  # .frames: the dependency sets of the cached calls now running


SETTLE_S = 2.0  # a change time this much older than the clock at the read cannot repeat


class Version(NamedTuple):
    """What a file was when it was read: its digest, its status and whether that status is
    conclusive (see the module docstring)."""

    digest: bytes | None
    status: tuple[int, int, int, int] | None
    settled: bool


def digest(data: bytes) -> bytes:
    """The content key of a file's bytes."""
    return hashlib.blake2b(data, digest_size=16).digest()


def _status(path: Path) -> tuple[int, int, int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def version_of(path: Path, data: bytes, status: tuple[int, int, int, int] | None) -> Version:
    """The version of `path` read as `data`, whose status was `status` just before the read."""
    settled = status is not None and status[3] < time.time_ns() - SETTLE_S * 1e9
    return Version(digest(data), status, settled)


def unchanged(path: Path, seen: Version) -> bool:
    """True if `path` still holds what it held when it was read as `seen`."""
    status = _status(path)
    if status is not None and status == seen.status and seen.settled:
        return True
    try:
        return digest(path.read_bytes()) == seen.digest
    except OSError:
        return seen.digest is None


def _frames() -> list[dict[Path, Version]]:
    frames = getattr(_local, "frames", None)
    if frames is None:
        frames = _local.frames = []
    return frames


def note_read(path: Path, data: bytes, status: tuple[int, int, int, int] | None = None) -> None:
    """Record that the running cached calls read `data` from `path` (`status`: `path_status`
    taken just before the read; None: the bytes are compared on every check)."""
    frames = _frames()
    if frames:
        _note(path, version_of(path, data, status))


def path_status(path: Path) -> tuple[int, int, int, int] | None:
    """The status `note_read` compares (inode, size, modification and change times in ns)."""
    return _status(path)


def _note(path: Path, seen: Version) -> None:
    for deps in _frames():
        deps.setdefault(path, seen)


def file_cached(maxsize: int = 256) -> Callable[[F], F]:
    """Decorator: cache by arguments (hashable), each result valid while the files it read are
    unchanged (see the module docstring); at most `maxsize` results (the oldest go first).
    The wrapper has `cache_clear()`."""

    def decorate(fn: F) -> F:
        entries: dict[tuple, tuple[Any, dict[Path, Version]]] = {}
        lock = threading.Lock()

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            key = (args, tuple(sorted(kwargs.items())))
            with lock:
                hit = entries.get(key)
            if hit is not None and all(unchanged(p, v) for p, v in hit[1].items()):
                for p, v in hit[1].items():
                    _note(p, v)
                return hit[0]
            deps: dict[Path, Version] = {}
            frames = _frames()
            frames.append(deps)
            try:
                value = fn(*args, **kwargs)
            finally:
                frames.pop()
            with lock:
                entries.pop(key, None)
                entries[key] = (value, deps)
                while len(entries) > maxsize:
                    del entries[next(iter(entries))]
            for p, v in deps.items():
                _note(p, v)
            return value

        wrapper.cache_clear = entries.clear  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate
