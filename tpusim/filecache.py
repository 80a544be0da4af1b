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
modification time, whose granularity lets an edit made within a few milliseconds go unnoticed.
Errors are not cached. A result is only as fresh as its files: anything else it reads is assumed
constant for the life of the process.

Invariants (tested): a cached call returns what an uncached call would return after any edit of
a file it read (in the same process); a call whose files are unchanged returns the same object.
"""

from __future__ import annotations

import functools
import hashlib
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

_local = threading.local()  # .frames: the dependency sets of the cached calls now running


def digest(data: bytes) -> bytes:
    """The content key of a file's bytes."""
    return hashlib.blake2b(data, digest_size=16).digest()


def file_digest(path: Path) -> bytes | None:
    """The digest of the file's current bytes, None when it cannot be read (gone, a directory)."""
    try:
        return digest(path.read_bytes())
    except OSError:
        return None


def _frames() -> list[dict[Path, bytes | None]]:
    frames = getattr(_local, "frames", None)
    if frames is None:
        frames = _local.frames = []
    return frames


def note_read(path: Path, key: bytes | None) -> None:
    """Record that the running cached calls read `path`, whose bytes had digest `key`."""
    for deps in _frames():
        deps.setdefault(path, key)


def file_cached(maxsize: int = 256) -> Callable[[F], F]:
    """Decorator: cache by arguments (hashable), each result valid while the files it read are
    unchanged (see the module docstring); at most `maxsize` results (the oldest go first).
    The wrapper has `cache_clear()`."""

    def decorate(fn: F) -> F:
        entries: dict[tuple, tuple[Any, dict[Path, bytes | None]]] = {}
        lock = threading.Lock()

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            key = (args, tuple(sorted(kwargs.items())))
            with lock:
                hit = entries.get(key)
            if hit is not None and all(file_digest(p) == d for p, d in hit[1].items()):
                for p, d in hit[1].items():
                    note_read(p, d)
                return hit[0]
            deps: dict[Path, bytes | None] = {}
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
            for p, d in deps.items():
                note_read(p, d)
            return value

        wrapper.cache_clear = entries.clear  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate
