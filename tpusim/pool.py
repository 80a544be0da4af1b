"""The one interruptible process pool: `simulate` replications and sweep points run through it.

    for result in imap_unordered(func, items, workers):   # as each finishes, any order
        sink.write(result)

With `workers <= 1` (or one item) everything runs in this process, in order. Otherwise a
`multiprocessing` pool whose workers ignore SIGINT: Ctrl-C reaches this process only, which
terminates the workers at once (no hang, no traceback from them) and re-raises
KeyboardInterrupt; results already yielded are the caller's to keep. An error, or the caller
abandoning the iterator, terminates the workers the same way. On Linux a worker also dies when
this process is killed outright (SIGKILL: it cannot clean up), so no orphan runs on.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")


PR_SET_PDEATHSIG = 1  # Linux prctl(2): a signal sent to this process when its parent dies


def _init_worker(parent_pid: int) -> None:
    """Workers leave Ctrl-C to the parent, which terminates them; and die with the parent when
    it is killed outright (SIGKILL, the OOM killer), instead of living on as orphans."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        except (OSError, AttributeError):  # pragma: no cover - no prctl in this libc
            return
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)


def imap_unordered(func: Callable[[Any], T], items: Iterable[Any], workers: int) -> Iterator[T]:
    """`func(item)` for every item, yielded as each finishes (see the module docstring).
    `func` must be a module-level function (it is pickled to the workers)."""
    items = list(items)
    if workers <= 1 or len(items) <= 1:
        for item in items:
            yield func(item)
        return
    pool = multiprocessing.get_context().Pool(min(workers, len(items)), initializer=_init_worker,
                                                 initargs=(os.getpid(),))
    try:
        yield from pool.imap_unordered(func, items)
        pool.close()
    except BaseException:  # Ctrl-C, an error, or the caller stopped: drop what is unfinished
        pool.terminate()
        raise
    finally:
        pool.join()
